#include "adapters/local/http_health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/instance_reach.h"
#include "infra/process/socket_channel.h"

namespace bluegreen {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

int milliseconds_until(TimePoint deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 3'600'000));
}

// Waits until `fd` is ready for `events`; false when the deadline passed first.
bool wait_ready(int fd, short events, TimePoint deadline) {
  while (true) {
    pollfd ready{fd, events, 0};
    int left = milliseconds_until(deadline);
    int n = poll(&ready, 1, left);
    if (n > 0) return true;
    if (n == 0 || (n < 0 && errno != EINTR)) return false;
  }
}

class Check {
 public:
  Check(const Instance& instance, const std::string& path, TimePoint deadline)
      : channel_(socket_channel_of(instance)),
        host_(channel_.empty() ? instance.host : "127.0.0.1"),
        target_("GET http://" + host_ + ":" + std::to_string(instance.port) + path +
                (channel_.empty() ? "" : " (inside instance " + instance.id + ")")),
        instance_(instance),
        path_(path),
        deadline_(deadline) {}

  Result<void> run() {
    auto fd = connect_socket();
    if (!fd) return std::unexpected(fd.error());
    Socket socket(*fd);
    if (auto sent = send_request(socket.fd()); !sent) return sent;
    auto status = read_status(socket.fd());
    if (!status) return std::unexpected(status.error());
    if (*status >= 200 && *status < 300) return {};
    return fail(ErrorKind::failed, target_ + " answered " + std::to_string(*status));
  }

 private:
  Result<int> connect_socket() {
    if (!channel_.empty()) return connect_through_channel();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string port = std::to_string(instance_.port);
    if (int error = getaddrinfo(instance_.host.c_str(), port.c_str(), &hints, &found); error != 0) {
      return fail(ErrorKind::unavailable,
                  target_ + ": cannot resolve host: " + gai_strerror(error));
    }
    int fd = socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int result = fd < 0 ? -1 : connect(fd, found->ai_addr, found->ai_addrlen);
    int error = errno;
    freeaddrinfo(found);
    if (fd < 0) return fail(ErrorKind::internal, std::string("socket: ") + std::strerror(error));
    return finish_connect(fd, result, error);
  }

  // A socket the instance's holder made in its network namespace, connected to its loopback.
  Result<int> connect_through_channel() {
    auto fd = socket_from_channel(channel_);
    if (!fd) return fail(fd.error().kind, target_ + ": " + fd.error().message);
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    sockaddr_in loopback{};
    loopback.sin_family = AF_INET;
    loopback.sin_port = htons(static_cast<std::uint16_t>(instance_.port));
    loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = connect(*fd, reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback);
    return finish_connect(*fd, result, errno);
  }

  Result<int> finish_connect(int fd, int result, int error) {
    if (result != 0 && error != EINPROGRESS) {
      close(fd);
      return connection_error(error);
    }
    if (result != 0) {
      if (!wait_ready(fd, POLLOUT, deadline_)) {
        close(fd);
        return timed_out("connecting");
      }
      socklen_t length = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        close(fd);
        return connection_error(error);
      }
    }
    return fd;
  }

  Result<void> send_request(int fd) {
    std::string request = "GET " + path_ + " HTTP/1.1\r\nHost: " + host_ + ":" +
                          std::to_string(instance_.port) +
                          "\r\nUser-Agent: bluegreen-health-check\r\nAccept: */*\r\n"
                          "Connection: close\r\n\r\n";
    std::size_t sent = 0;
    while (sent < request.size()) {
      if (!wait_ready(fd, POLLOUT, deadline_)) return timed_out("sending the request");
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return connection_error(errno);
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    return {};
  }

  Result<int> read_status(int fd) {
    std::string answer;
    while (answer.find("\r\n") == std::string::npos && answer.size() < 1024) {
      if (!wait_ready(fd, POLLIN, deadline_)) return timed_out("waiting for an answer");
      char buffer[512];
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n == 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) return connection_error(errno);
      if (n > 0) answer.append(buffer, static_cast<std::size_t>(n));
    }
    // "HTTP/1.1 200 OK"
    if (answer.size() < 12 || answer.compare(0, 5, "HTTP/") != 0 || answer[8] != ' ') {
      if (answer.empty())
        return fail(ErrorKind::unavailable, target_ + ": connection closed without an answer");
      return fail(ErrorKind::failed, target_ + ": the answer is not HTTP");
    }
    std::string code = answer.substr(9, 3);
    if (code.find_first_not_of("0123456789") != std::string::npos) {
      return fail(ErrorKind::failed, target_ + ": the answer has no status code");
    }
    return std::stoi(code);
  }

  std::unexpected<Error> connection_error(int error) const {
    if (error == ECONNREFUSED)
      return fail(ErrorKind::unavailable, target_ + ": connection refused");
    return fail(ErrorKind::unavailable, target_ + ": " + std::strerror(error));
  }

  std::unexpected<Error> timed_out(const char* while_doing) const {
    return fail(ErrorKind::timeout, target_ + ": timed out " + while_doing);
  }

  std::string channel_;  // the instance's socket channel, when it has no address of its own
  std::string host_;
  std::string target_;
  const Instance& instance_;
  std::string path_;
  TimePoint deadline_;
};

}  // namespace

Result<void> HttpHealthProbe::check(const Instance& instance, const std::string& path,
                                    TimePoint deadline) {
  return Check(instance, path.empty() ? "/" : path, deadline).run();
}

}  // namespace bluegreen
