#include "frontends/admin/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace bluegreen::admin {
namespace {

// A connection to 127.0.0.1:port, or -1.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends raw bytes to 127.0.0.1:port and returns everything the server answers until it
// closes the connection.
std::string round_trip(int port, const std::string& request) {
  int fd = connect_to(port);
  if (fd < 0) return "connect failed";
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  ::close(fd);
  return answer;
}

std::string get(int port, const std::string& target) {
  return round_trip(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<Router>();
    router->add("GET", "/api/things/{id}", [](const HttpRequest& request) {
      return HttpResponse::json(
          200, "{\"id\":\"" + request.params.at("id") + "\",\"q\":\"" +
                   (request.query.contains("q") ? request.query.at("q") : "") + "\"}");
    });
    router->add("POST", "/api/echo",
                [](const HttpRequest& request) { return HttpResponse::json(201, request.body); });
    router->add("GET", "/api/fail", [](const HttpRequest&) {
      return HttpResponse::error(Error{ErrorKind::conflict, "busy"});
    });
    router->add("GET", "/api/stream", [](const HttpRequest&) {
      HttpResponse response;
      response.content_type = "text/event-stream";
      response.stream = [](StreamWriter& writer) {
        writer.write("data: one\n\n");
        writer.write("data: two\n\n");
      };
      return response;
    });
    auto started = HttpServer::start("127.0.0.1:0", router);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, RoutesWithPathParametersAndDecodedQueries) {
  auto answer = get(server_->port(), "/api/things/d-42?q=a%20b+c");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"({"id":"d-42","q":"a b c"})"), std::string::npos) << answer;
}

TEST_F(HttpServerTest, PostBodiesReachTheHandler) {
  auto answer = round_trip(server_->port(),
                           "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
                           "Connection: close\r\n\r\n{\"a\":1}");
  EXPECT_NE(answer.find("HTTP/1.1 201"), std::string::npos) << answer;
  EXPECT_NE(answer.find("{\"a\":1}"), std::string::npos);
}

TEST_F(HttpServerTest, UnknownPathsWrongMethodsAndErrorsGetTheirStatus) {
  EXPECT_NE(get(server_->port(), "/api/nothing").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_NE(round_trip(server_->port(),
                       "DELETE /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .find("HTTP/1.1 405"),
            std::string::npos);
  auto conflict = get(server_->port(), "/api/fail");
  EXPECT_NE(conflict.find("HTTP/1.1 409"), std::string::npos);
  EXPECT_NE(conflict.find(R"("kind":"conflict")"), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestsAreRefusedAndTheServerCarriesOn) {
  auto answer = round_trip(server_->port(), "GARBAGE\x01 / HTTP/9\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  auto too_big = round_trip(server_->port(),
                            "POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 99999999\r\n\r\n");
  EXPECT_NE(too_big.find("HTTP/1.1 400"), std::string::npos) << too_big;
  EXPECT_NE(get(server_->port(), "/api/things/1").find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(HttpServerTest, StreamsGoOutAsTheyAreWritten) {
  auto answer = get(server_->port(), "/api/stream");
  EXPECT_NE(answer.find("Content-Type: text/event-stream"), std::string::npos) << answer;
  EXPECT_NE(answer.find("data: one\n\ndata: two\n\n"), std::string::npos) << answer;
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnections) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  server_->stop();  // would hang if the idle connection's thread were not woken
  char byte;
  EXPECT_LE(::recv(fd, &byte, 1, 0), 0);
  ::close(fd);
}

TEST(HttpServerStart, AnAddressInUseIsAnErrorNamingIt) {
  auto router = std::make_shared<Router>();
  auto first = HttpServer::start("127.0.0.1:0", router);
  ASSERT_TRUE(first);
  auto address = (*first)->address();
  auto second = HttpServer::start(address, router);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::unavailable);
  EXPECT_NE(second.error().message.find(address), std::string::npos);
  EXPECT_FALSE(HttpServer::start("nonsense", router));
}

TEST(HttpServerCap, IdleConnectionsBeyondTheCapMakeRoomForNewOnes) {
  auto router = std::make_shared<Router>();
  router->add("GET", "/api/who", [](const HttpRequest& request) {
    return HttpResponse::json(200, std::to_string(request.peer_uid.value_or(4242424242U)));
  });
  auto started = HttpServer::start("127.0.0.1:0", router, {.max_connections = 4});
  ASSERT_TRUE(started) << started.error().message;
  auto& server = **started;
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(connect_to(server.port()));
  for (int fd : idle) ASSERT_GE(fd, 0);
  auto answer = get(server.port(), "/api/who");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  // The request carries the uid of the process that connected: this one.
  EXPECT_NE(answer.find("\r\n\r\n" + std::to_string(::geteuid())), std::string::npos) << answer;
  // The oldest idle connections were closed to make room.
  char byte;
  EXPECT_EQ(::recv(idle.front(), &byte, 1, 0), 0);
  for (int fd : idle) ::close(fd);
}

TEST(HttpServerCap, WhenEveryConnectionIsBusyANewOneGets503) {
  auto router = std::make_shared<Router>();
  std::atomic<bool> release{false};
  std::atomic<int> inside{0};
  router->add("GET", "/api/slow", [&](const HttpRequest&) {
    ++inside;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return HttpResponse::json(200, "{}");
  });
  auto started = HttpServer::start("127.0.0.1:0", router, {.max_connections = 2});
  ASSERT_TRUE(started) << started.error().message;
  int port = (*started)->port();
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; ++i) slow.emplace_back([port] { get(port, "/api/slow"); });
  for (int i = 0; i < 1000 && inside < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(inside, 2);
  auto refused = get(port, "/api/slow");
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("connections busy"), std::string::npos) << refused;
  release = true;
  for (auto& t : slow) t.join();
  EXPECT_FALSE(HttpServer::start("127.0.0.1:0", router, {.max_connections = 0}));
}

}  // namespace
}  // namespace bluegreen::admin
