#include "core/clock.h"

#include <thread>

namespace bluegreen {

TimePoint SystemClock::now() const { return std::chrono::system_clock::now(); }

void SystemClock::sleep_until(TimePoint until) { std::this_thread::sleep_until(until); }

TimePoint FakeClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void FakeClock::sleep_until(TimePoint until) {
  std::lock_guard lock(mutex_);
  if (until > now_) now_ = until;
}

void FakeClock::advance(Duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
}

long long to_epoch_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TimePoint from_epoch_ms(long long ms) { return TimePoint{} + std::chrono::milliseconds(ms); }

}  // namespace bluegreen
