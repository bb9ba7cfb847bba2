#include "infra/aws/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace bluegreen {
namespace {

using Outcome = std::expected<int, std::string>;

RetryPolicy half_jitter() {
  RetryPolicy policy;
  policy.max_attempts = 4;
  policy.base_delay = Duration(100);
  policy.max_delay = Duration(250);
  policy.random = [] { return 0.5; };
  return policy;
}

RetryDecision retry_always(const std::string& why) {
  return {true, Duration{0}, why};
}

TEST(Backoff, DoublesUpToTheCapWithFullJitter) {
  const RetryPolicy policy = half_jitter();
  EXPECT_EQ(backoff_delay(policy, 1), Duration(50));
  EXPECT_EQ(backoff_delay(policy, 2), Duration(100));
  EXPECT_EQ(backoff_delay(policy, 3), Duration(125));  // capped at 250, half of it
  RetryPolicy top = policy;
  top.random = [] { return 0.0; };
  EXPECT_EQ(backoff_delay(top, 3), Duration(0));
}

TEST(Retry, RetriesUntilSuccessWaitingOnTheClock) {
  FakeClock clock;
  const TimePoint start = clock.now();
  std::vector<RetryNotice> notices;
  int calls = 0;
  Outcome result = retry_with_backoff<int, std::string>(
      clock, half_jitter(), start + std::chrono::hours(1),
      [&](int attempt) -> Outcome {
        ++calls;
        if (attempt < 3) return std::unexpected("Throttling");
        return 7;
      },
      retry_always, [&](const RetryNotice& notice) { notices.push_back(notice); });
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, 7);
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].failed_attempt, 1);
  EXPECT_EQ(notices[0].reason, "Throttling");
  EXPECT_EQ(clock.now() - start, Duration(50 + 100));
}

TEST(Retry, StopsAtMaxAttemptsAndReturnsTheLastFailure) {
  FakeClock clock;
  int calls = 0;
  Outcome result = retry_with_backoff<int, std::string>(
      clock, half_jitter(), clock.now() + std::chrono::hours(1),
      [&](int attempt) -> Outcome {
        ++calls;
        return std::unexpected("failure " + std::to_string(attempt));
      },
      retry_always);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(result.error(), "failure 4");
}

TEST(Retry, DoesNotRetryWhatTheClassifierRefuses) {
  FakeClock clock;
  int calls = 0;
  Outcome result = retry_with_backoff<int, std::string>(
      clock, half_jitter(), clock.now() + std::chrono::hours(1),
      [&](int) -> Outcome {
        ++calls;
        return std::unexpected("AccessDenied");
      },
      [](const std::string&) { return RetryDecision{}; });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(result);
}

TEST(Retry, NeverWaitsPastTheDeadline) {
  FakeClock clock;
  const TimePoint start = clock.now();
  int calls = 0;
  Outcome result = retry_with_backoff<int, std::string>(
      clock, half_jitter(), start + Duration(120),
      [&](int) -> Outcome {
        ++calls;
        return std::unexpected("503");
      },
      retry_always);
  // Waits 50 ms after the first failure; the next wait (100 ms) would end past the deadline.
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(clock.now() - start, Duration(50));
  EXPECT_FALSE(result);
}

TEST(Retry, WaitsAtLeastWhatTheServerAsked) {
  FakeClock clock;
  const TimePoint start = clock.now();
  Outcome result = retry_with_backoff<int, std::string>(
      clock, half_jitter(), start + std::chrono::hours(1),
      [&](int attempt) -> Outcome {
        if (attempt == 1) return std::unexpected("429");
        return 1;
      },
      [](const std::string&) {
        return RetryDecision{true, Duration(7000), "rate limited"};
      });
  ASSERT_TRUE(result);
  EXPECT_EQ(clock.now() - start, Duration(7000));
}

}  // namespace
}  // namespace bluegreen
