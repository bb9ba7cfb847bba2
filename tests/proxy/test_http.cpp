#include "test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "proxy/http_parser.h"

namespace bluegreen::proxy::testing {
namespace {

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool read_more(int fd, std::string& buffer) {
  char chunk[16384];
  ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::string header_value(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return std::string(h.value);
  return {};
}

std::string websocket_accept(const std::string& key) {
  std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[64];
  int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(n));
}

std::string frame(int opcode, std::string_view payload, bool masked) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | opcode));
  const unsigned char mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(mask_bit | payload.size()));
  } else {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return out;
}

// Parses one frame from the front of `buffer`; nullopt when incomplete.
std::optional<TestClient::Frame> take_frame(std::string& buffer) {
  if (buffer.size() < 2) return std::nullopt;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(buffer[i]); };
  std::size_t length = byte(1) & 0x7f;
  std::size_t pos = 2;
  if (length == 126) {
    if (buffer.size() < 4) return std::nullopt;
    length = (std::size_t{byte(2)} << 8) | byte(3);
    pos = 4;
  } else if (length == 127) {
    return std::nullopt;  // the tests never send frames that large
  }
  const bool masked = byte(1) & 0x80;
  unsigned char key[4] = {};
  if (masked) {
    if (buffer.size() < pos + 4) return std::nullopt;
    for (int i = 0; i < 4; ++i) key[i] = byte(pos + i);
    pos += 4;
  }
  if (buffer.size() < pos + length) return std::nullopt;
  TestClient::Frame f;
  f.opcode = byte(0) & 0x0f;
  f.payload = buffer.substr(pos, length);
  if (masked)
    for (std::size_t i = 0; i < length; ++i)
      f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
  buffer.erase(0, pos + length);
  return f;
}

void set_receive_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace

std::optional<std::string> dechunk(std::string_view body, std::size_t* consumed) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    std::string_view digits = body.substr(pos, eol - pos);
    digits = digits.substr(0, digits.find(';'));
    if (digits.empty()) return std::nullopt;
    for (char c : digits) {
      int v = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (v < 0) return std::nullopt;
      size = size * 16 + static_cast<std::size_t>(v);
    }
    pos = eol + 2;
    if (size == 0) {
      std::size_t end = body.find("\r\n\r\n", pos - 2);
      if (end == std::string_view::npos) return std::nullopt;
      if (consumed != nullptr) *consumed = end + 4;
      return out;
    }
    if (body.size() < pos + size + 2) return std::nullopt;
    out.append(body.substr(pos, size));
    pos += size + 2;
  }
}

LoopbackListener listen_on_loopback(int backlog) {
  LoopbackListener listener;
  listener.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener.fd < 0 ||
      ::bind(listener.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.fd, backlog) != 0) {
    int error = errno;
    if (listener.fd >= 0) ::close(listener.fd);
    throw std::runtime_error(std::string("cannot listen on 127.0.0.1: ") + std::strerror(error));
  }
  socklen_t length = sizeof address;
  ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&address), &length);
  listener.port = ntohs(address.sin_port);
  return listener;
}

TestBackend::TestBackend(std::string name) : name_(std::move(name)) {
  auto listener = listen_on_loopback(256);
  listen_fd_ = listener.fd;
  port_ = listener.port;
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestBackend::~TestBackend() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void TestBackend::accept_loop() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stopping_) return;
      // Out of descriptors for a moment (a test that exhausts them): try again.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    ++accepted_;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestBackend::serve(int fd) {
  std::string buffer;
  RequestHead head;
  while (true) {
    ParseResult parsed;
    while ((parsed = parse_request_head(buffer, head)).status == ParseStatus::incomplete)
      if (!read_more(fd, buffer)) goto done;
    if (parsed.status != ParseStatus::complete) break;
    ++requests_;
    const bool keep_alive = head.keep_alive;
    const bool chunked_answer = !header_value(head.headers, "x-chunked-response").empty();
    const bool echo_head = !header_value(head.headers, "x-echo-head").empty();
    const std::string method(head.method);
    const std::string target(head.target);
    const std::string key = header_value(head.headers, "sec-websocket-key");
    const bool upgrade = head.upgrade;
    const BodyFraming framing = head.framing;
    const std::size_t length = head.content_length;
    const std::string raw_head = buffer.substr(0, parsed.head_size);
    buffer.erase(0, parsed.head_size);

    std::string body;
    if (framing == BodyFraming::content_length) {
      while (buffer.size() < length)
        if (!read_more(fd, buffer)) goto done;
      body = buffer.substr(0, length);
      buffer.erase(0, length);
    } else if (framing == BodyFraming::chunked) {
      std::size_t consumed = 0;
      std::optional<std::string> decoded;
      while (!(decoded = dechunk(buffer, &consumed)))
        if (!read_more(fd, buffer)) goto done;
      body = *decoded;
      buffer.erase(0, consumed);
    }

    if (method == "GET" && target == "/events") {
      // A server-sent event stream: one event every 20 ms (10 s at most) until the client
      // goes away.
      if (!write_all(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"))
        goto done;
      const std::string event = "data: " + name_ + "\n\n";
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", event.size());
      for (int i = 0; i < 500 && !stopping_; ++i) {
        if (!write_all(fd, std::string(size) + event + "\r\n")) goto done;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      goto done;
    }

    if (upgrade && target == "/ws") {
      write_all(fd,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                    websocket_accept(key) + "\r\n\r\n");
      while (true) {
        std::optional<TestClient::Frame> f;
        while (!(f = take_frame(buffer)))
          if (!read_more(fd, buffer)) goto done;
        if (f->opcode == 0x8) {
          write_all(fd, frame(0x8, f->payload.substr(0, 2), false));
          goto done;
        }
        if (!write_all(fd, frame(0x1, name_ + ":" + f->payload, false))) goto done;
      }
    }

    std::string answer = method == "GET" || method == "HEAD" ? name_ : name_ + ":" + body;
    std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
    if (echo_head) {
      answer = raw_head;
      response +=
          "Connection: keep-alive, X-Backend-Private\r\nX-Backend-Private: 1\r\n"
          "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Backend-Public: 1\r\n";
    }
    if (chunked_answer) {
      std::size_t half = answer.size() / 2;
      auto chunk = [](std::string_view data) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        return std::string(size) + std::string(data) + "\r\n";
      };
      response += "Transfer-Encoding: chunked\r\n\r\n" + chunk(answer.substr(0, half)) +
                  chunk(answer.substr(half)) + "0\r\n\r\n";
    } else {
      response += "Content-Length: " + std::to_string(answer.size()) + "\r\n\r\n";
      if (method != "HEAD") response += answer;
    }
    if (!write_all(fd, response) || !keep_alive) break;
  }
done:
  std::lock_guard lock(mutex_);
  std::erase(connections_, fd);
  ::close(fd);
}

TestClient::TestClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_receive_timeout(fd_, 20);
}

TestClient::~TestClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool TestClient::send_raw(std::string_view bytes) {
  return fd_ >= 0 && write_all(fd_, bytes);
}

std::optional<std::string> TestClient::read_until(std::string_view marker) {
  std::size_t at;
  while ((at = buffer_.find(marker)) == std::string::npos)
    if (!fill()) return std::nullopt;
  std::string taken = buffer_.substr(0, at + marker.size());
  buffer_.erase(0, at + marker.size());
  return taken;
}

bool TestClient::fill() {
  return fd_ >= 0 && read_more(fd_, buffer_);
}

std::optional<Response> TestClient::read_response(bool head_request) {
  ResponseHead head;
  ParseResult parsed;
  while ((parsed = parse_response_head(buffer_, head_request ? "HEAD" : "GET", head)).status ==
         ParseStatus::incomplete)
    if (!fill()) return std::nullopt;
  if (parsed.status != ParseStatus::complete) return std::nullopt;
  Response response;
  response.status = head.status;
  response.head = buffer_.substr(0, parsed.head_size);
  const BodyFraming framing = head.framing;
  const std::size_t length = head.content_length;
  buffer_.erase(0, parsed.head_size);
  if (framing == BodyFraming::content_length) {
    while (buffer_.size() < length)
      if (!fill()) return std::nullopt;
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  } else if (framing == BodyFraming::chunked) {
    std::size_t consumed = 0;
    std::optional<std::string> decoded;
    while (!(decoded = dechunk(buffer_, &consumed)))
      if (!fill()) return std::nullopt;
    response.body = *decoded;
    buffer_.erase(0, consumed);
  } else if (framing == BodyFraming::until_close) {
    while (fill()) {
    }
    response.body = std::move(buffer_);
    buffer_.clear();
  }
  return response;
}

std::optional<Response> TestClient::get(const std::string& path) {
  if (!send_raw("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n")) return std::nullopt;
  return read_response();
}

bool TestClient::websocket_handshake(const std::string& path) {
  if (!send_raw("GET " + path +
                " HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
    return false;
  ResponseHead head;
  ParseResult parsed;
  while ((parsed = parse_response_head(buffer_, "GET", head)).status == ParseStatus::incomplete)
    if (!fill()) return false;
  if (parsed.status != ParseStatus::complete || head.status != 101) return false;
  const bool accepted =
      header_value(head.headers, "sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  buffer_.erase(0, parsed.head_size);
  return accepted;
}

bool TestClient::send_text_frame(std::string_view text) {
  return send_raw(frame(0x1, text, true));
}

std::optional<TestClient::Frame> TestClient::read_frame() {
  std::optional<Frame> f;
  while (!(f = take_frame(buffer_)))
    if (!fill()) return std::nullopt;
  return f;
}

bool TestClient::at_eof() {
  if (!buffer_.empty()) return false;
  char byte = 0;
  return fd_ >= 0 && ::recv(fd_, &byte, 1, 0) == 0;
}

Instance instance_at(const std::string& id, int port) {
  Instance instance;
  instance.id = id;
  instance.port = port;
  instance.state = InstanceState::healthy;
  return instance;
}

}  // namespace bluegreen::proxy::testing
