#include "infra/aws/retry.h"

#include <random>

namespace bluegreen {

namespace {

double default_random() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

}  // namespace

Duration backoff_delay(const RetryPolicy& policy, int retry) {
  const int doublings = std::clamp(retry - 1, 0, 30);
  const double ceiling = std::min(
      static_cast<double>(policy.max_delay.count()),
      static_cast<double>(policy.base_delay.count()) * static_cast<double>(1LL << doublings));
  const double unit = policy.random ? policy.random() : default_random();
  return Duration(static_cast<Duration::rep>(ceiling * std::clamp(unit, 0.0, 1.0)));
}

}  // namespace bluegreen
