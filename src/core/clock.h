// Clock: the only way the engine learns the time or waits. Real code uses SystemClock;
// tests use FakeClock, which moves only when told to, so no unit test sleeps.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365 * 50))
      : now_(start) {}
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

// UTC with milliseconds, "2024-05-01T12:00:00.123Z": how times appear in JSON answers.
std::string to_iso8601(TimePoint t);
// A duration as people read it in messages: "30 s", "0.5 s" (one decimal when not whole).
std::string seconds_text(Duration d);
// Reads what to_iso8601 writes (the fraction is optional); nullopt for anything else.
std::optional<TimePoint> from_iso8601(std::string_view text);

}  // namespace bluegreen
