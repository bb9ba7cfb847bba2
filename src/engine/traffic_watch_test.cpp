#include "engine/traffic_watch.h"

#include <gtest/gtest.h>

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

DeploymentSpec watched(std::optional<double> error_rate, std::optional<double> latency_ratio) {
  DeploymentSpec spec;
  spec.max_error_rate = error_rate;
  spec.max_latency_ratio = latency_ratio;
  spec.min_requests = 50;
  spec.rollback_window = 10s;
  return spec;
}

// `n` more requests of `seconds` each, `bad` of them 5xx answers.
void add(FleetTraffic& t, long long n, double seconds, long long bad = 0) {
  std::size_t bucket = 0;
  while (bucket < FleetTraffic::kLatencyBounds.size() &&
         seconds > FleetTraffic::kLatencyBounds[bucket])
    ++bucket;
  t.requests_total += n;
  t.answer_waits_total += n;
  t.answer_waits_ended_total += n;
  t.server_errors_total += bad;
  t.latency_counts[bucket] += n;
}

struct Watch : ::testing::Test {
  FleetTraffic blue{"d-blue"};
  FleetTraffic green{"d-green"};
  TimePoint at{};
  std::optional<std::string> tick(TrafficWatch& watch) {
    at += 1s;
    return watch.sample({blue, green}, at);
  }
};

TEST_F(Watch, ErrorRateTripsOnlyPastTheLimitAndWithEnoughRequests) {
  TrafficWatch watch(watched(5, std::nullopt), "d-blue", "d-green");
  EXPECT_FALSE(tick(watch));
  add(green, 40, 0.001, 40);  // all failed, but fewer than MIN_REQUESTS
  EXPECT_FALSE(tick(watch));
  add(green, 60, 0.001, 0);  // 40 of 100: trips
  auto tripped = tick(watch);
  ASSERT_TRUE(tripped);
  EXPECT_EQ(*tripped,
            "green answered 40 of 100 requests (40.0%) with a 5xx or a failure over the last "
            "2 s; MAX_ERROR_RATE is 5%");
}

TEST_F(Watch, ErrorsOlderThanTheWindowNoLongerCount) {
  TrafficWatch watch(watched(5, std::nullopt), "d-blue", "d-green");
  tick(watch);
  add(green, 1, 0.001, 1);
  tick(watch);
  for (int i = 0; i < 12; ++i) tick(watch);  // the failure leaves the 10 s window
  add(green, 100, 0.001, 4);                 // 4%: under the limit
  EXPECT_FALSE(tick(watch));
  green.errors_total += 2;  // the proxy's own 502s count too: 6 of 100
  EXPECT_TRUE(tick(watch));
}

TEST_F(Watch, LatencyRatioComparesP99sWhenBothServedEnough) {
  TrafficWatch watch(watched(std::nullopt, 2), "d-blue", "d-green");
  tick(watch);
  add(green, 100, 0.2);
  EXPECT_FALSE(tick(watch));  // blue served nothing (keep_blue): no comparison
  add(blue, 100, 0.001);
  auto tripped = tick(watch);
  ASSERT_TRUE(tripped);
  EXPECT_NE(tripped->find("MAX_LATENCY_RATIO is 2"), std::string::npos) << *tripped;
  EXPECT_NE(tripped->find("times blue's 5 ms"), std::string::npos) << *tripped;
}

TEST_F(Watch, TwoFastFleetsNeverTripTheLatencyRatio) {
  TrafficWatch watch(watched(std::nullopt, 1.5), "d-blue", "d-green");
  tick(watch);
  add(blue, 1000, 0.0005);
  add(green, 1000, 0.004);  // 8 times slower, but both below what the histogram tells apart
  EXPECT_FALSE(tick(watch));
}

// A green that never answers completes nothing: its waiting requests are what shows it.
TEST_F(Watch, AGreenThatHangsTripsTheLatencyRatio) {
  TrafficWatch watch(watched(std::nullopt, 2), "d-blue", "d-green");
  EXPECT_FALSE(tick(watch));
  add(blue, 100, 0.01);
  green.requests_total += 60;
  green.answer_waits_total += 60;  // sent to green, never answered
  EXPECT_FALSE(tick(watch)) << "waiting for no time at all says nothing";
  add(blue, 100, 0.01);
  auto tripped = tick(watch);
  ASSERT_TRUE(tripped) << "60 requests waited a second on green, blue answers in 10 ms";
  EXPECT_EQ(*tripped,
            "green's p99 latency 995 ms is 100.0 times blue's 10 ms over the last 2 s (60 "
            "requests on green, 200 on blue); MAX_LATENCY_RATIO is 2");
}

TEST_F(Watch, RequestsWaitingLessThanTheCompletedOnesTookChangeNothing) {
  // Both fleets take 2 s a request; green also has requests under way for a second.
  TrafficWatch watch(watched(std::nullopt, 1.2), "d-blue", "d-green");
  EXPECT_FALSE(tick(watch));
  add(green, 100, 2);
  add(blue, 100, 2);
  green.answer_waits_total += 10;
  EXPECT_FALSE(tick(watch));
  auto tripped = tick(watch);
  EXPECT_FALSE(tripped) << *tripped;
  // Once they have waited longer than any completed request took, they count.
  for (int i = 0; i < 3; ++i) tick(watch);
  tripped = tick(watch);
  ASSERT_TRUE(tripped);
  EXPECT_NE(tripped->find("(110 requests on green, 100 on blue)"), std::string::npos) << *tripped;
}

TEST(LatencyQuantile, InterpolatesWithinABucket) {
  std::array<long long, FleetTraffic::kLatencyBounds.size() + 1> counts{};
  EXPECT_EQ(latency_quantile(counts, 0.99), 0);
  counts[5] = 100;  // (0.1, 0.25]
  EXPECT_NEAR(latency_quantile(counts, 0.99), 0.1 + 0.15 * 0.99, 1e-9);
  counts.back() = 100;
  EXPECT_EQ(latency_quantile(counts, 0.99), 10);
}

}  // namespace
}  // namespace bluegreen
