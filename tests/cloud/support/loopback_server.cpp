#include "loopback_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace bluegreen::testing {

namespace {

std::string reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool send_all(int socket, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(socket, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<std::string> ReceivedRequest::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), key.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

std::string ReceivedRequest::path() const {
  return target.substr(0, target.find('?'));
}

std::string ReceivedRequest::query() const {
  const auto question = target.find('?');
  return question == std::string::npos ? "" : target.substr(question + 1);
}

CannedResponse json_response(int status, const std::string& body) {
  return CannedResponse{status, {{"Content-Type", "application/json"}}, body, false};
}

LoopbackServer::LoopbackServer(Handler handler) : handler_(std::move(handler)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 64) != 0) {
    ::close(listener_);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

LoopbackServer::~LoopbackServer() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  ::close(listener_);
  {
    std::lock_guard lock(mutex_);
    for (int socket : sockets_) ::shutdown(socket, SHUT_RDWR);
  }
  for (auto& thread : threads_) thread.join();
  // Sockets are closed only here, after every thread is done with them, so a descriptor
  // number is never reused while a thread still holds it.
  for (int socket : sockets_) ::close(socket);
}

std::string LoopbackServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::vector<ReceivedRequest> LoopbackServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void LoopbackServer::accept_loop() {
  while (!stopping_) {
    const int socket = ::accept(listener_, nullptr, nullptr);
    if (socket < 0) {
      if (stopping_) return;
      continue;
    }
    const int connection = ++connections_;
    std::lock_guard lock(mutex_);
    sockets_.push_back(socket);
    threads_.emplace_back([this, socket, connection] { serve(socket, connection); });
  }
}

void LoopbackServer::serve(int socket, int connection) {
  std::string buffer;
  char chunk[16384];
  auto read_more = [&]() {
    const ssize_t n = ::recv(socket, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  while (!stopping_) {
    std::size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return;
    }
    ReceivedRequest request;
    request.connection = connection;
    const std::string head = buffer.substr(0, header_end);
    buffer.erase(0, header_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto first_space = request_line.find(' ');
    const auto second_space = request_line.find(' ', first_space + 1);
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, second_space - first_space - 1);
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      request.headers.emplace_back(line.substr(0, colon), value);
    }
    std::size_t content_length = 0;
    if (auto length = request.header("Content-Length")) content_length = std::stoul(*length);
    while (buffer.size() < content_length) {
      if (!read_more()) return;
    }
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    const CannedResponse answer = handler_(request);
    if (answer.drop_connection) {
      ::shutdown(socket, SHUT_RDWR);
      return;
    }
    std::string out =
        "HTTP/1.1 " + std::to_string(answer.status) + " " + reason(answer.status) + "\r\n";
    bool has_length = false;
    for (const auto& [name, value] : answer.headers) {
      out += name + ": " + value + "\r\n";
      if (::strcasecmp(name.c_str(), "Content-Length") == 0) has_length = true;
    }
    if (!has_length) out += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n";
    out += "\r\n";
    if (request.method != "HEAD") out += answer.body;
    if (!send_all(socket, out)) return;
  }
}

}  // namespace bluegreen::testing
