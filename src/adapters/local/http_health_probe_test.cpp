#include "adapters/local/http_health_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

using testing_support::from_now;

// A loopback listener on a port the OS picks. With an answer it serves one connection with
// that answer; without one it accepts nothing (connections wait in the backlog).
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer = "") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(fd_, 4) != 0) {
      throw std::runtime_error(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
    }
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (!answer.empty()) {
      thread_ = std::thread([this, answer] {
        int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        char buffer[2048];
        std::string request;
        while (request.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = recv(client, buffer, sizeof buffer, 0);
          if (n <= 0) break;
          request.append(buffer, static_cast<std::size_t>(n));
        }
        request_ = request;
        send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
        close(client);
      });
    }
  }
  ~OneShotServer() {
    shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  Instance instance() const { return Instance{.id = "i-probe", .port = port_}; }
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(HttpHealthProbe, A2xxAnswerIsHealthy) {
  OneShotServer server("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  HttpHealthProbe probe;
  auto result = probe.check(server.instance(), "/healthz", from_now(std::chrono::seconds(10)));
  EXPECT_TRUE(result) << result.error().message;
  std::string request = server.request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:"), std::string::npos);
}

TEST(HttpHealthProbe, OtherStatusesSayWhichOne) {
  OneShotServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  HttpHealthProbe probe;
  auto result = probe.check(server.instance(), "/healthz", from_now(std::chrono::seconds(10)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::failed);
  EXPECT_NE(result.error().message.find("answered 503"), std::string::npos)
      << result.error().message;
}

TEST(HttpHealthProbe, ARefusedConnectionIsUnavailable) {
  Instance closed;
  {
    OneShotServer server;
    closed = server.instance();
  }
  HttpHealthProbe probe;
  auto result = probe.check(closed, "/healthz", from_now(std::chrono::seconds(10)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::unavailable);
  EXPECT_NE(result.error().message.find("connection refused"), std::string::npos)
      << result.error().message;
}

TEST(HttpHealthProbe, ASilentServerTimesOutAtTheDeadline) {
  OneShotServer server;  // accepts into the backlog, never answers
  HttpHealthProbe probe;
  auto result = probe.check(server.instance(), "/healthz", from_now(Duration(100)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::timeout);
  EXPECT_NE(result.error().message.find("timed out"), std::string::npos) << result.error().message;
}

TEST(HttpHealthProbe, GarbageIsNotHealthy) {
  OneShotServer server("SSH-2.0-OpenSSH_9.2\r\n");
  HttpHealthProbe probe;
  auto result = probe.check(server.instance(), "/", from_now(std::chrono::seconds(10)));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("not HTTP"), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace bluegreen
