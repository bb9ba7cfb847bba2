// Retries with exponential backoff and full jitter, bounded by attempts and by a deadline.
//
// The n-th retry waits a random time in [0, min(max_delay, base_delay * 2^(n-1))], or at least
// what the server asked for (Spot's X-RateLimit-Reset). No retry starts when its wait would end
// at or after the caller's deadline: the last failure is returned instead. Time passes only
// through the Clock, so tests with a FakeClock never sleep.
//
// The attempt function builds and sends a fresh request each time, so AWS requests are
// re-signed (new X-Amz-Date) on every retry.
#pragma once

#include <algorithm>
#include <expected>
#include <functional>
#include <string>

#include "core/clock.h"

namespace bluegreen {

struct RetryPolicy {
  int max_attempts = 5;  // including the first
  Duration base_delay{500};
  Duration max_delay{20'000};
  // Uniform random number in [0, 1). Empty: a per-thread generator seeded from the OS.
  std::function<double()> random;
};

// What the caller's classifier says about one failure.
struct RetryDecision {
  bool retry = false;
  Duration minimum_wait{0};  // the server's own "try again after"
  std::string reason;        // for RetryNotice, e.g. "ThrottlingException (HTTP 400)"
};

// Told before each wait, so the caller can log it. Holds no request data.
struct RetryNotice {
  int failed_attempt = 0;  // 1 for the first attempt
  int max_attempts = 0;
  Duration wait{0};
  std::string reason;
};
using RetryObserver = std::function<void(const RetryNotice&)>;

// The full-jitter wait before retry number `retry` (1 = the first retry).
Duration backoff_delay(const RetryPolicy& policy, int retry);

// Calls `attempt(n)` (n = 1, 2, ...) until it succeeds, `classify` says not to retry, the
// attempts are used up, or the next wait would pass `deadline`. Returns the last result.
template <typename T, typename E, typename Attempt, typename Classify>
std::expected<T, E> retry_with_backoff(Clock& clock, const RetryPolicy& policy, TimePoint deadline,
                                       Attempt&& attempt, Classify&& classify,
                                       const RetryObserver& observer = {}) {
  for (int number = 1;; ++number) {
    std::expected<T, E> result = attempt(number);
    if (result) return result;
    if (number >= policy.max_attempts) return result;
    const RetryDecision decision = classify(result.error());
    if (!decision.retry) return result;
    const Duration wait = std::max(backoff_delay(policy, number), decision.minimum_wait);
    if (clock.now() + wait >= deadline) return result;
    if (observer) observer(RetryNotice{number, policy.max_attempts, wait, decision.reason});
    clock.sleep_for(wait);
  }
}

}  // namespace bluegreen
