// The proxy against real loopback backends: what a user of the service would notice during a
// blue/green switch. No timing assertions: every wait is a bounded loop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "proxy/http_parser.h"
#include "proxy/proxy.h"
#include "test_http.h"

namespace bluegreen::proxy {
namespace {

using testing::instance_at;
using testing::Response;
using testing::TestBackend;
using testing::TestClient;

// A port on which nothing listens: connections to it are refused.
int closed_port() {
  TestBackend probe("closed");
  return probe.port();
}

// The request head the backend received for `request` (which must carry X-Echo-Head: 1), and
// the response head the client received.
struct Echo {
  std::string backend_saw;
  std::string client_got;
};
std::optional<Echo> echo(TestClient& client, const std::string& request) {
  if (!client.send_raw(request)) return std::nullopt;
  auto response = client.read_response();
  if (!response || response->status != 200) return std::nullopt;
  return Echo{response->body, response->head};
}

// How often `line` ("Name: value", matched without regard to case in the name) is in `head`.
int count_lines(const std::string& head, const std::string& line) {
  int count = 0;
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    if (head.size() - pos >= line.size() &&
        iequals(std::string_view(head).substr(pos, line.size()), line) &&
        head.compare(pos + line.size(), 2, "\r\n") == 0)
      ++count;
  }
  return count;
}

// True when a header named `name` is in `head`.
bool has_header(const std::string& head, const std::string& name) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    if (head.size() - pos > name.size() &&
        iequals(std::string_view(head).substr(pos, name.size()), name) &&
        head[pos + name.size()] == ':')
      return true;
  }
  return false;
}

struct Fixture : ::testing::Test {
  TestBackend blue{"blue"};
  TestBackend green{"green"};
  FakeClock clock;
  std::unique_ptr<Proxy> proxy;

  void start(ProxyOptions options = {}) {
    auto started = Proxy::start(options, &clock);
    ASSERT_TRUE(started) << started.error().message;
    proxy = std::move(*started);
    proxy->register_fleet("d-blue", {instance_at("i-blue", blue.port())});
    proxy->register_fleet("d-green", {instance_at("i-green", green.port())});
    proxy->label_fleet("d-blue", "blue");
    proxy->label_fleet("d-green", "green");
    proxy->route("d-blue");
  }

  // The fake clock lets drain() reach its deadline at once; a request whose answer the client
  // already read may still be finishing on its worker. Wait (bounded) for that first.
  void wait_for_no_request_on(const std::string& fleet_id) {
    for (int i = 0; i < 2000 && traffic_of(fleet_id).active_requests > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // Sends `request` on a new connection: the proxy must answer `status` and close, and the
  // backend must see nothing of it.
  void expect_refused(std::string_view request, int status) {
    const long long backend_requests = blue.requests();
    TestClient client(proxy->port());
    ASSERT_TRUE(client.send_raw(request));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, status) << request;
    EXPECT_TRUE(client.at_eof());
    EXPECT_EQ(blue.requests(), backend_requests);
  }

  FleetTraffic traffic_of(const std::string& fleet_id) {
    for (const auto& t : proxy->stats())
      if (t.fleet_id == fleet_id) return t;
    return {};
  }
};

// 64 keep-alive clients request without pause while traffic moves to green and back to blue.
// Every answer must be a 200, and every request that starts after a switch returned must
// reach the fleet switched to.
TEST_F(Fixture, SwitchAndRollbackUnderKeepAliveLoadLoseNoRequest) {
  start();
  constexpr int kClients = 64;
  // Even phases are stable (a request started in one must reach that phase's fleet); odd
  // phases are the moments a switch is under way, when either fleet is a correct answer.
  enum Phase { blue_serves, switching, green_serves, rolling_back, blue_again, kPhases };
  const std::array<std::string, kPhases> expected = {"blue", "", "green", "", "blue"};
  std::atomic<int> phase{blue_serves};
  std::atomic<bool> stop{false};
  std::atomic<long long> failures{0};
  std::atomic<long long> wrong_fleet{0};
  std::array<std::atomic<int>, kPhases> clients_served_in{};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      TestClient client(proxy->port());
      int last_counted = -1;
      for (int i = 0; i < 200000 && !stop; ++i) {
        const int started_in = phase.load();
        std::optional<Response> response = client.get("/");
        if (!response || response->status != 200) {
          ++failures;
          return;
        }
        // A request that overlapped a phase change may be answered by either fleet.
        const std::string& want = phase.load() == started_in ? expected[started_in] : "";
        if (want.empty() ? (response->body != "blue" && response->body != "green")
                         : response->body != want) {
          if (++wrong_fleet < 5)
            ADD_FAILURE() << "phase " << started_in << " got " << response->body;
        } else if (started_in != last_counted) {
          last_counted = started_in;
          ++clients_served_in[started_in];
        }
      }
    });
  }
  auto all_clients_served_in = [&](int p) {
    for (int i = 0; i < 3000 && clients_served_in[p] < kClients && failures == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return clients_served_in[p].load();
  };

  EXPECT_EQ(all_clients_served_in(blue_serves), kClients);
  phase = switching;
  proxy->route("d-green");
  phase = green_serves;
  EXPECT_EQ(all_clients_served_in(green_serves), kClients);
  wait_for_no_request_on("d-blue");
  EXPECT_EQ(proxy->drain("d-blue", clock.now() + std::chrono::seconds(30)), 0);
  phase = rolling_back;
  proxy->route("d-blue");
  phase = blue_again;
  EXPECT_EQ(all_clients_served_in(blue_again), kClients);
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures, 0);
  EXPECT_EQ(wrong_fleet, 0);
  EXPECT_EQ(proxy->routed_fleet(), "d-blue");
  EXPECT_EQ(traffic_of("d-blue").errors_total + traffic_of("d-green").errors_total, 0);
}

TEST_F(Fixture, DrainedFleetKeepsNoConnections) {
  start();
  TestClient client(proxy->port());
  ASSERT_EQ(client.get("/")->body, "blue");
  EXPECT_GE(traffic_of("d-blue").active_connections, 1);  // pooled keep-alive connection
  proxy->route("d-green");
  wait_for_no_request_on("d-blue");
  EXPECT_EQ(proxy->drain("d-blue", clock.now() + std::chrono::seconds(30)), 0);
  EXPECT_EQ(traffic_of("d-blue").active_connections, 0);
  EXPECT_EQ(client.get("/")->body, "green");  // same client connection, next request
}

// A WebSocket opened on blue stays on blue after the switch, until the drain deadline; then the
// client gets a Close frame 1001 and the connection ends.
TEST_F(Fixture, WebSocketStaysOnBlueUntilTheDrainDeadlineThenClosesCleanly) {
  start();
  TestClient socket(proxy->port());
  ASSERT_TRUE(socket.websocket_handshake("/ws"));
  ASSERT_TRUE(socket.send_text_frame("before"));
  auto echo = socket.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload, "blue:before");

  proxy->route("d-green");
  TestClient http(proxy->port());
  EXPECT_EQ(http.get("/")->body, "green");
  ASSERT_TRUE(socket.send_text_frame("after"));
  echo = socket.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->payload, "blue:after");
  EXPECT_EQ(traffic_of("d-blue").active_requests, 1);
  EXPECT_GE(traffic_of("d-blue").active_connections, 1);

  // The fake clock makes the drain deadline pass without waiting for it.
  EXPECT_EQ(proxy->drain("d-blue", clock.now() + std::chrono::seconds(30)), 1);
  auto close = socket.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, 0x8);
  ASSERT_GE(close->payload.size(), 2u);
  EXPECT_EQ((static_cast<unsigned char>(close->payload[0]) << 8) |
                static_cast<unsigned char>(close->payload[1]),
            1001);
  EXPECT_TRUE(socket.at_eof());
  EXPECT_EQ(http.get("/")->body, "green");
}

TEST_F(Fixture, PreviewListenerReachesGreenWhileMainReachesBlue) {
  start();
  auto preview_port = proxy->listen_preview("127.0.0.1:0");
  ASSERT_TRUE(preview_port) << preview_port.error().message;
  TestClient preview(*preview_port);
  auto before = preview.get("/");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 503);  // no preview fleet yet
  proxy->preview("d-green");
  TestClient main(proxy->port());
  EXPECT_EQ(main.get("/")->body, "blue");
  EXPECT_EQ(preview.get("/")->body, "green");
  EXPECT_EQ(main.get("/")->body, "blue");
  proxy->stop_preview();
  EXPECT_FALSE(proxy->preview_port());
}

TEST_F(Fixture, ConflictingContentLengthAndTransferEncodingIsRejected) {
  start();
  expect_refused(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
      400);
}

TEST_F(Fixture, DuplicateContentLengthIsRejected) {
  start();
  expect_refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                 400);
}

TEST_F(Fixture, InvalidChunkSizeIsRejected) {
  start();
  // The head is fine and goes to blue before the body shows its error; the client still gets
  // a refusal and the connection closes.
  TestClient chunks(proxy->port());
  ASSERT_TRUE(chunks.send_raw(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"));
  auto response = chunks.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(chunks.at_eof());
}

TEST_F(Fixture, OversizeHeaderIs431) {
  ProxyOptions options;
  options.max_header_bytes = 8 * 1024;
  start(options);
  expect_refused("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n",
                 431);
}

TEST_F(Fixture, SlowRequestHeadIsAnswered408AndClosed) {
  ProxyOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  start(options);
  expect_refused("GET / HTTP/1.1\r\nHost: x\r\n", 408);  // and never the empty line
}

TEST_F(Fixture, NoHealthyInstanceIs503NamingTheFleet) {
  start();
  proxy->register_fleet("d-empty", {});
  proxy->label_fleet("d-empty", "green");
  proxy->route("d-empty");
  TestClient client(proxy->port());
  auto response = client.get("/");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_NE(response->body.find("green fleet d-empty"), std::string::npos) << response->body;
  // The connection stays usable: after routing back, the same client reaches blue.
  proxy->route("d-blue");
  EXPECT_EQ(client.get("/")->body, "blue");
}

TEST_F(Fixture, RefusedInstanceIsSkippedAndGetIsRetriedOnAnother) {
  start();
  proxy->register_fleet(
      "d-mixed", {instance_at("i-dead", closed_port()), instance_at("i-live", green.port())});
  proxy->route("d-mixed");
  TestClient client(proxy->port());
  for (int i = 0; i < 6; ++i) {
    auto response = client.get("/");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "green");
  }
}

TEST_F(Fixture, OnlyInstanceRefusingGives502ThenThe503) {
  start();
  proxy->register_fleet("d-dead", {instance_at("i-dead", closed_port())});
  proxy->label_fleet("d-dead", "green");
  proxy->route("d-dead");
  TestClient client(proxy->port());
  auto first = client.get("/");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 502);
  auto second = client.get("/");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);  // the instance sits out after refusing
  EXPECT_NE(second->body.find("green fleet d-dead"), std::string::npos) << second->body;
}

TEST_F(Fixture, ChunkedBodiesPassBothWays) {
  start();
  TestClient client(proxy->port());
  ASSERT_TRUE(
      client.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                      "chunked\r\nX-Chunked-Response: 1\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-Field: t\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(response->body, "blue:hello world");
  // And the connection goes on with a Content-Length body.
  ASSERT_TRUE(client.send_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  EXPECT_EQ(client.read_response()->body, "blue:abc");
}

TEST_F(Fixture, PipelinedRequestsAreAnsweredInOrder) {
  start();
  TestClient client(proxy->port());
  ASSERT_TRUE(client.send_raw(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naGET / HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(client.read_response()->body, "blue:a");
  EXPECT_EQ(client.read_response()->body, "blue");
  auto head = client.read_response(true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
}

TEST_F(Fixture, ExpectContinueIsAnsweredByTheProxy) {
  start();
  TestClient client(proxy->port());
  ASSERT_TRUE(client.send_raw(
      "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send_raw("hi"));
  EXPECT_EQ(client.read_response()->body, "blue:hi");
}

TEST_F(Fixture, StopClosesClientConnections) {
  start();
  TestClient client(proxy->port());
  ASSERT_EQ(client.get("/")->body, "blue");
  proxy->stop();
  EXPECT_TRUE(client.at_eof());
}

// A client cannot pose as someone else to the instances: what it sends as X-Forwarded-For
// (or X-Forwarded-Host/-Proto, Forwarded) is replaced by what the proxy saw.
TEST_F(Fixture, ForwardedForFromAnUntrustedClientIsReplacedByItsAddress) {
  start();
  TestClient client(proxy->port());
  auto seen = echo(client,
                   "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Echo-Head: 1\r\n"
                   "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Host: evil.test\r\n"
                   "X-Forwarded-Proto: https\r\nForwarded: for=203.0.113.7\r\n\r\n");
  ASSERT_TRUE(seen);
  const std::string& head = seen->backend_saw;
  EXPECT_EQ(head.find("203.0.113.7"), std::string::npos) << head;
  EXPECT_EQ(head.find("evil.test"), std::string::npos) << head;
  EXPECT_FALSE(has_header(head, "forwarded")) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-For: 127.0.0.1"), 1) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-Proto: http"), 1) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-Host: shop.test"), 1) << head;
}

// Behind a trusted load balancer the chain it reports is kept and the peer appended; its
// X-Forwarded-Proto (a TLS terminator says https) is kept too.
TEST_F(Fixture, ForwardedForFromATrustedProxyIsKeptAndThePeerAppended) {
  ProxyOptions options;
  options.trusted_proxies = {"10.0.0.0/8", "127.0.0.1"};
  start(options);
  TestClient client(proxy->port());
  auto seen = echo(client,
                   "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Echo-Head: 1\r\n"
                   "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.1.2.3\r\n"
                   "X-Forwarded-Proto: https\r\n\r\n");
  ASSERT_TRUE(seen);
  const std::string& head = seen->backend_saw;
  EXPECT_EQ(count_lines(head, "X-Forwarded-For: 203.0.113.7, 10.1.2.3, 127.0.0.1"), 1) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-Proto: https"), 1) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-Proto: http"), 0) << head;
  EXPECT_EQ(count_lines(head, "X-Forwarded-Host: shop.test"), 1) << head;
}

TEST_F(Fixture, InvalidTrustedProxyIsRefusedAtStart) {
  ProxyOptions options;
  options.trusted_proxies = {"10.0.0.0/33"};
  auto started = Proxy::start(options, &clock);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(started.error().message.find("10.0.0.0/33"), std::string::npos);
}

// Headers that describe one connection stay on it, in both directions: the fixed list of
// RFC 9110 section 7.6.1 and every header the Connection header names. The connection then
// goes on (keep-alive is the proxy's own business on each side).
TEST_F(Fixture, HopByHopHeadersAreRemovedInBothDirections) {
  start();
  TestClient client(proxy->port());
  auto seen = echo(client,
                   "GET / HTTP/1.1\r\nHost: x\r\nX-Echo-Head: 1\r\n"
                   "Connection: keep-alive, X-Client-Private\r\nX-Client-Private: 1\r\n"
                   "Keep-Alive: timeout=300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
                   "Proxy-Authorization: Basic c2VjcmV0\r\nX-Client-Public: 1\r\n\r\n");
  ASSERT_TRUE(seen);
  for (const char* name : {"x-client-private", "keep-alive", "proxy-connection", "te",
                           "proxy-authorization", "connection"})
    EXPECT_FALSE(has_header(seen->backend_saw, name)) << name << " in " << seen->backend_saw;
  EXPECT_TRUE(has_header(seen->backend_saw, "x-client-public")) << seen->backend_saw;
  for (const char* name : {"x-backend-private", "keep-alive", "proxy-connection", "connection"})
    EXPECT_FALSE(has_header(seen->client_got, name)) << name << " in " << seen->client_got;
  EXPECT_TRUE(has_header(seen->client_got, "x-backend-public")) << seen->client_got;
  EXPECT_EQ(client.get("/")->body, "blue");
}

// Naming the framing headers in Connection does not take them away from the instance: it
// would read the body as the next request.
TEST_F(Fixture, ConnectionNamingFramingHeadersKeepsTheBodyFramed) {
  start();
  TestClient client(proxy->port());
  ASSERT_TRUE(client.send_raw(
      "POST / HTTP/1.1\r\nHost: x\r\nConnection: Content-Length, Host, Transfer-Encoding\r\n"
      "Content-Length: 26\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "blue:GET /smuggled HTTP/1.1\r\n\r\n");
  EXPECT_EQ(blue.requests(), 1);
  EXPECT_EQ(client.get("/")->body, "blue");
}

// RFC 9112 section 3.2.2: an absolute-form target reaches the instance in origin form, with
// the Host taken from the target's authority.
TEST_F(Fixture, AbsoluteFormTargetIsForwardedInOriginForm) {
  start();
  TestClient client(proxy->port());
  auto seen = echo(client,
                   "GET http://Shop.test:8080/cart/items?id=1 HTTP/1.1\r\nHost: other.test\r\n"
                   "X-Echo-Head: 1\r\n\r\n");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->backend_saw.rfind("GET /cart/items?id=1 HTTP/1.1\r\n", 0), 0u)
      << seen->backend_saw;
  EXPECT_EQ(count_lines(seen->backend_saw, "Host: Shop.test:8080"), 1) << seen->backend_saw;
  EXPECT_EQ(seen->backend_saw.find("other.test"), std::string::npos) << seen->backend_saw;
  // No path: the origin form is "/", the query kept.
  seen = echo(client,
              "GET HTTPS://shop.test?q=2 HTTP/1.1\r\nHost: shop.test\r\nX-Echo-Head: 1\r\n\r\n");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->backend_saw.rfind("GET /?q=2 HTTP/1.1\r\n", 0), 0u) << seen->backend_saw;
}

TEST_F(Fixture, MalformedAbsoluteFormTargetIsRejected) {
  start();
  for (const char* target : {"http://user:pw@shop.test/", "http:///path", "http://",
                             "http://shop.test:99999/", "http://shop.test:8x/", "http://sh<op/",
                             "http://shop.test/a#fragment", "http://[::1/", "ftp://shop.test/"})
    expect_refused("GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

}  // namespace
}  // namespace bluegreen::proxy
