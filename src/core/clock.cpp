#include "core/clock.h"

#include <fmt/format.h>

#include <cstdio>
#include <thread>

namespace bluegreen {

TimePoint SystemClock::now() const {
  return std::chrono::system_clock::now();
}

void SystemClock::sleep_until(TimePoint until) {
  std::this_thread::sleep_until(until);
}

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

TimePoint from_epoch_ms(long long ms) {
  return TimePoint{} + std::chrono::milliseconds(ms);
}

std::string seconds_text(Duration d) {
  return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000)
                               : fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000);
}

std::string to_iso8601(TimePoint t) {
  auto ms = to_epoch_ms(t);
  auto days = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
  std::chrono::year_month_day date(days);
  long long in_day = ms - to_epoch_ms(TimePoint(days));
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), in_day / 3'600'000, in_day / 60'000 % 60,
                in_day / 1000 % 60, in_day % 1000);
  return text;
}

std::optional<TimePoint> from_iso8601(std::string_view text) {
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  int consumed = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (rest.starts_with('.')) {
    int digits = 0;
    if (std::sscanf(copy.c_str() + consumed, ".%3u%n", &millis, &digits) != 1) return std::nullopt;
    for (int i = digits; i < 4; ++i) millis *= 10;  // ".5" is 500 ms
    rest = rest.substr(static_cast<std::size_t>(digits));
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z") return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                   std::chrono::day(day)};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  auto t = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
           std::chrono::seconds(second) + std::chrono::milliseconds(millis);
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(t.time_since_epoch()));
}

}  // namespace bluegreen
