// Clock: the only way the engine learns the time or waits. Real code uses SystemClock;
// tests use FakeClock, which moves only when told to, so no unit test sleeps.
#pragma once

#include <chrono>
#include <mutex>

namespace bluegreen {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Blocks until `until` (or returns at once if it has passed).
  virtual void sleep_until(TimePoint until) = 0;
  void sleep_for(Duration d) { sleep_until(now() + d); }
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  void sleep_until(TimePoint until) override;
};

// Thread-safe. sleep_until advances the fake time instead of waiting.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365 * 50)) : now_(start) {}
  TimePoint now() const override;
  void sleep_until(TimePoint until) override;
  void advance(Duration d);

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
};

// Milliseconds since the Unix epoch, the timestamp format of events and journals.
long long to_epoch_ms(TimePoint t);
TimePoint from_epoch_ms(long long ms);

}  // namespace bluegreen
