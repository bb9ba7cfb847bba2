// A switch the application does not feel: warm connections before it, a cap on connections
// being opened to one instance, and idempotent requests retried on another instance when
// connecting fails. Real loopback sockets; every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/proxy.h"
#include "test_http.h"

namespace bluegreen::proxy {
namespace {

using testing::instance_at;
using testing::TestBackend;
using testing::TestClient;

std::unique_ptr<Proxy> start_proxy(const ProxyOptions& options) {
  auto started = Proxy::start(options);
  EXPECT_TRUE(started) << started.error().message;
  return started ? std::move(*started) : nullptr;
}

int closed_port() {
  TestBackend probe("closed");
  return probe.port();
}

TEST(SwitchWarmUp, FirstRequestsAfterTheSwitchUseConnectionsAcceptedBeforeIt) {
  TestBackend blue("blue");
  TestBackend green("green");
  auto proxy = start_proxy({});
  ASSERT_TRUE(proxy);
  proxy->register_fleet("d-blue", {instance_at("i-blue", blue.port())});
  proxy->register_fleet("d-green", {instance_at("i-green", green.port())});
  proxy->route("d-blue");

  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy->port()));
    auto response = clients.back()->get("/");
    ASSERT_TRUE(response);
    ASSERT_EQ(response->body, "blue");
  }
  ASSERT_EQ(green.accepted(), 0);
  long long blue_connections = 0;
  for (const auto& traffic : proxy->stats())
    if (traffic.fleet_id == "d-blue") blue_connections = traffic.active_connections;
  ASSERT_GE(blue_connections, 1);

  proxy->warm("d-green");
  // As many connections as blue holds are open, and accepted by green, before any request
  // goes there (the backend's accept loop may take a moment to count the last one).
  const auto warmed = static_cast<long long>(proxy->warmed_connections());
  EXPECT_EQ(warmed, blue_connections);
  for (int i = 0; i < 400 && green.accepted() < warmed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const long long accepted_before_switch = green.accepted();
  EXPECT_EQ(accepted_before_switch, warmed);
  EXPECT_EQ(green.requests(), 0);

  proxy->route("d-green");
  for (auto& client : clients) {
    auto response = client->get("/");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "green");
  }
  // Every request after the switch went over a connection accepted before it.
  EXPECT_EQ(green.accepted(), accepted_before_switch);
  EXPECT_EQ(green.requests(), 6);
}

TEST(SwitchWarmUp, EveryInstanceOfTheNewFleetIsWarmed) {
  TestBackend blue("blue");
  TestBackend green_a("green-a");
  TestBackend green_b("green-b");
  auto proxy = start_proxy({});
  ASSERT_TRUE(proxy);
  proxy->register_fleet("d-blue", {instance_at("i-blue", blue.port())});
  proxy->register_fleet("d-green", {instance_at("i-green-a", green_a.port()),
                                    instance_at("i-green-b", green_b.port())});
  proxy->route("d-blue");
  TestClient client(proxy->port());
  ASSERT_TRUE(client.get("/"));

  proxy->warm("d-green");
  for (int i = 0; i < 400 && (green_a.accepted() == 0 || green_b.accepted() == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(green_a.accepted(), 1);
  EXPECT_GE(green_b.accepted(), 1);
  // Warming the fleet that already serves does nothing.
  const long long blue_accepted = blue.accepted();
  proxy->warm("d-blue");
  EXPECT_EQ(blue.accepted(), blue_accepted);
}

// Sockets of this process in SYN_SENT towards 127.0.0.1:`port` (connections being opened).
int syn_sent_to(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  int count = 0;
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "02" && remote.size() > 5 && remote.substr(remote.size() - 5) == wanted) ++count;
  }
  return count;
}

// A listener that never accepts, with its accept queue full: the kernel drops further SYNs, as
// it does for a busy instance with a short listen backlog.
struct FullListener {
  int fd = -1;
  int port = 0;
  std::vector<int> fillers;
  FullListener() {
    auto listener = testing::listen_on_loopback(0);
    fd = listener.fd;
    port = listener.port;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    for (int i = 0; i < 3; ++i) {
      int filler = ::socket(AF_INET, SOCK_STREAM, 0);
      ::fcntl(filler, F_SETFL, O_NONBLOCK);
      // Non-blocking: the connect is in progress (EINPROGRESS) or queued; either fills the
      // backlog, which is all a filler is for.
      (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
      fillers.push_back(filler);
    }
  }
  ~FullListener() {
    for (int filler : fillers) ::close(filler);
    ::close(fd);
  }
};

TEST(SwitchWarmUp, ConnectionsBeingOpenedToOneInstanceAreCapped) {
  FullListener busy;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int before = syn_sent_to(busy.port);  // the fillers beyond the queue
  ProxyOptions options;
  options.max_connects_per_instance = 3;
  options.connect_timeout = std::chrono::milliseconds(1500);
  auto proxy = start_proxy(options);
  ASSERT_TRUE(proxy);
  proxy->register_fleet("d-busy", {instance_at("i-busy", busy.port)});
  proxy->route("d-busy");

  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  std::atomic<int> ended{0};
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&proxy, &answered, &ended] {
      TestClient client(proxy->port());
      if (client.get("/")) ++answered;
      ++ended;
    });
  }
  // Sampled for as long as the clients wait (each for its connect timeout), however slowly a
  // loaded machine starts them; at most 30 s.
  int most = 0;
  for (int i = 0; i < 3000 && ended.load() < 10; ++i) {
    most = std::max(most, syn_sent_to(busy.port) - before);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& t : clients) t.join();
  EXPECT_GE(most, 1);              // the proxy did try to connect
  EXPECT_LE(most, 3);              // but never more than the cap at once, for ten requests
  EXPECT_EQ(answered.load(), 10);  // each got an answer (502) instead of hanging
}

TEST(SwitchWarmUp, IdempotentRequestWhoseConnectIsSlowGoesToAnotherInstance) {
  FullListener busy;
  TestBackend live("live");
  ProxyOptions options;
  options.worker_threads = 1;  // instances are tried in order: the busy one first
  // Far beyond the client's patience (20 s): only the short first try lets it be answered.
  options.connect_timeout = std::chrono::milliseconds(60'000);
  auto proxy = start_proxy(options);
  ASSERT_TRUE(proxy);
  proxy->register_fleet("d-green",
                        {instance_at("i-busy", busy.port), instance_at("i-live", live.port())});
  proxy->route("d-green");
  TestClient client(proxy->port());
  auto response = client.get("/");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "live");
}

// One worker, instances tried in order: the refusing one first for every request (it is not
// left out: failed_instance_retry is 0).
struct RefusedFirst : ::testing::Test {
  TestBackend live{"live"};
  std::unique_ptr<Proxy> proxy;
  void SetUp() override {
    ProxyOptions options;
    options.worker_threads = 1;
    options.failed_instance_retry = std::chrono::milliseconds(0);
    proxy = start_proxy(options);
    ASSERT_TRUE(proxy);
    proxy->register_fleet(
        "d-green", {instance_at("i-dead", closed_port()), instance_at("i-live", live.port())});
    proxy->route("d-green");
  }
  int send(const std::string& request) {
    TestClient client(proxy->port());
    if (!client.send_raw(request)) return 0;
    auto response = client.read_response(request.starts_with("HEAD"));
    return response ? response->status : 0;
  }
};

TEST_F(RefusedFirst, IdempotentRequestsAreRetriedOnAnotherInstance) {
  long long served = 0;
  for (std::string method : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}) {
    EXPECT_EQ(send(method + " /x HTTP/1.1\r\nHost: x\r\n\r\n"), 200) << method;
    EXPECT_EQ(live.requests(), ++served) << method;
  }
  // Nothing of a body was sent to the refusing instance, so a PUT with one is retried too.
  EXPECT_EQ(send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata"), 200);
  EXPECT_EQ(live.requests(), ++served);
}

TEST_F(RefusedFirst, NonIdempotentRequestIsNotRetried) {
  EXPECT_EQ(send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata"), 502);
  EXPECT_EQ(live.requests(), 0);
}

// A listener that never accepts, with room in its queue: the kernel completes the handshake and
// takes the request's bytes, and nothing ever answers.
struct SilentListener {
  int fd = -1;
  int port = 0;
  SilentListener() {
    auto listener = testing::listen_on_loopback(16);
    fd = listener.fd;
    port = listener.port;
  }
  ~SilentListener() { ::close(fd); }
};

// The wait shows in the fleet's figures while it lasts (the latency histogram only sees
// requests that ended), and ends once.
TEST(AnswerWaits, ARequestWaitingForItsAnswerIsCountedUntilItEnds) {
  SilentListener silent;
  ProxyOptions options;
  options.upstream_timeout = std::chrono::milliseconds(1500);
  auto proxy = start_proxy(options);
  ASSERT_TRUE(proxy);
  proxy->register_fleet("d-green", {instance_at("i-silent", silent.port)});
  proxy->route("d-green");
  auto waits = [&proxy] {
    for (const auto& traffic : proxy->stats())
      if (traffic.fleet_id == "d-green")
        return std::pair{traffic.answer_waits_total, traffic.answer_waits_ended_total};
    return std::pair{-1LL, -1LL};
  };

  std::thread caller([&proxy] {
    TestClient client(proxy->port());
    auto response = client.get("/");
    EXPECT_TRUE(response && response->status == 504);
  });
  for (int i = 0; i < 2000 && waits().first == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(waits(), (std::pair{1LL, 0LL})) << "waiting, not ended";
  caller.join();  // 504 after upstream_timeout
  EXPECT_EQ(waits(), (std::pair{1LL, 1LL}));
}

}  // namespace
}  // namespace bluegreen::proxy
