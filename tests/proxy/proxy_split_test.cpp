// Traffic steps on the proxy: the share of requests a split sends to green, keep-alive
// connections re-balanced between requests, and streams (WebSocket, SSE) that stay on the
// colour they started on while the weights change. No timing assertions.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxy/proxy.h"
#include "test_http.h"

namespace bluegreen::proxy {
namespace {

using testing::instance_at;
using testing::TestBackend;
using testing::TestClient;

struct Split : ::testing::Test {
  TestBackend blue{"blue"};
  TestBackend green{"green"};
  std::unique_ptr<Proxy> proxy;

  void SetUp() override {
    auto started = Proxy::start(ProxyOptions{});
    ASSERT_TRUE(started) << started.error().message;
    proxy = std::move(*started);
    proxy->register_fleet("d-blue", {instance_at("i-blue", blue.port())});
    proxy->register_fleet("d-green", {instance_at("i-green", green.port())});
    proxy->route("d-blue");
  }

  // Percent of `requests` GETs answered by green, all on one keep-alive connection or each on
  // a new one; -1 when a request fails.
  double green_share(int requests, bool new_connection_each) {
    int to_green = 0;
    std::unique_ptr<TestClient> client;
    for (int i = 0; i < requests; ++i) {
      if (!client || new_connection_each) client = std::make_unique<TestClient>(proxy->port());
      auto response = client->get("/");
      if (!response || response->status != 200) return -1;
      if (response->body == "green") ++to_green;
    }
    return 100.0 * to_green / requests;
  }
};

TEST_F(Split, KeepAliveRequestsFollowTheWeightsWithinThreePoints) {
  for (int percent : {10, 50, 90}) {
    proxy->split(TrafficSplit{"d-green", percent});
    // One connection: each of its requests draws again, so it sees both colours.
    double share = green_share(10'000, false);
    EXPECT_NEAR(share, percent, 3.0) << "split " << percent;
  }
  ASSERT_TRUE(proxy->traffic_split());
  EXPECT_EQ(proxy->traffic_split()->fleet_id, "d-green");
  EXPECT_EQ(proxy->traffic_split()->percent, 90);
}

TEST_F(Split, NewConnectionsFollowTheWeightsWithinThreePoints) {
  proxy->split(TrafficSplit{"d-green", 25});
  EXPECT_NEAR(green_share(10'000, true), 25, 3.0);
}

// Rolling back a step is route(blue): every later request goes to blue, none to green.
TEST_F(Split, RouteEndsTheSplitAtOnce) {
  proxy->split(TrafficSplit{"d-green", 50});
  TestClient client(proxy->port());
  ASSERT_EQ(client.get("/")->status, 200);
  proxy->route("d-blue");
  EXPECT_FALSE(proxy->traffic_split());
  EXPECT_EQ(green_share(500, false), 0.0);
  // The same keep-alive connection, opened during the split, is on blue now.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(client.get("/")->body, "blue");
}

// A split to a fleet that is not registered sends nothing there.
TEST_F(Split, SplitToAnUnknownFleetKeepsEveryRequestOnTheRoutedFleet) {
  proxy->split(TrafficSplit{"d-nowhere", 50});
  EXPECT_EQ(green_share(200, false), 0.0);
}

struct Stream {
  std::unique_ptr<TestClient> client;
  std::string colour;
};

// Opens WebSockets (or SSE streams) at a 50% split until one is on each colour.
std::pair<Stream, Stream> one_stream_per_colour(int port, bool websocket) {
  Stream on_blue;
  Stream on_green;
  for (int i = 0; i < 64 && (!on_blue.client || !on_green.client); ++i) {
    auto client = std::make_unique<TestClient>(port);
    std::string colour;
    if (websocket) {
      if (!client->websocket_handshake("/ws") || !client->send_text_frame("hello")) continue;
      auto echo = client->read_frame();
      if (!echo) continue;
      colour = echo->payload.substr(0, echo->payload.find(':'));
    } else {
      if (!client->send_raw("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")) continue;
      if (!client->read_until("\r\n\r\n")) continue;
      auto event = client->read_until("\n\n");
      if (!event) continue;
      colour = event->find("data: green") != std::string::npos ? "green" : "blue";
    }
    Stream& slot = colour == "green" ? on_green : on_blue;
    if (!slot.client) slot = Stream{std::move(client), colour};
  }
  return {std::move(on_blue), std::move(on_green)};
}

// The colour a stream's next message comes from.
std::string next_colour(Stream& stream, bool websocket) {
  if (websocket) {
    if (!stream.client->send_text_frame("again")) return "closed";
    auto echo = stream.client->read_frame();
    return echo ? echo->payload.substr(0, echo->payload.find(':')) : "closed";
  }
  auto event = stream.client->read_until("\n\n");
  if (!event) return "closed";
  return event->find("data: green") != std::string::npos ? "green" : "blue";
}

TEST_F(Split, WebSocketsAndEventStreamsStayOnTheirColourAcrossWeightChanges) {
  for (bool websocket : {true, false}) {
    SCOPED_TRACE(websocket ? "WebSocket" : "SSE");
    proxy->split(TrafficSplit{"d-green", 50});
    auto [on_blue, on_green] = one_stream_per_colour(proxy->port(), websocket);
    ASSERT_TRUE(on_blue.client && on_green.client);

    proxy->split(TrafficSplit{"d-green", 90});
    EXPECT_EQ(next_colour(on_blue, websocket), "blue");
    EXPECT_EQ(next_colour(on_green, websocket), "green");

    proxy->route("d-green");  // the last step: every new request to green
    TestClient plain(proxy->port());
    EXPECT_EQ(plain.get("/")->body, "green");
    EXPECT_EQ(next_colour(on_blue, websocket), "blue");

    proxy->route("d-blue");  // a rollback: every new request to blue
    EXPECT_EQ(plain.get("/")->body, "blue");
    EXPECT_EQ(next_colour(on_green, websocket), "green");
    EXPECT_EQ(next_colour(on_blue, websocket), "blue");
  }
}

}  // namespace
}  // namespace bluegreen::proxy
