#include "infra/aws/aws_time.h"

#include <cstdio>
#include <ctime>

namespace bluegreen::aws {

namespace {

std::tm to_utc(TimePoint time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return utc;
}

std::string format(TimePoint time, const char* pattern) {
  const std::tm utc = to_utc(time);
  char buffer[32];
  const std::size_t length = std::strftime(buffer, sizeof buffer, pattern, &utc);
  return std::string(buffer, length);
}

bool read_digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string format_amz_date(TimePoint time) {
  return format(time, "%Y%m%dT%H%M%SZ");
}

std::string format_iso8601(TimePoint time) {
  return format(time, "%Y-%m-%dT%H:%M:%SZ");
}

std::optional<TimePoint> parse_iso8601(std::string_view text) {
  std::tm parts{};
  int year, month, day, hour, minute, second;
  if (!read_digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::chrono::milliseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    int scale = 100;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += std::chrono::milliseconds((text[at] - '0') * scale);
      scale /= 10;
      ++at;
    }
  }
  int offset_minutes = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int offset_hours, offset_mins;
    const std::size_t minutes_at = (at + 3 < text.size() && text[at + 3] == ':') ? at + 4 : at + 3;
    if (!read_digits(text, at + 1, 2, offset_hours) ||
        !read_digits(text, minutes_at, 2, offset_mins)) {
      return std::nullopt;
    }
    offset_minutes = (offset_hours * 60 + offset_mins) * (text[at] == '-' ? -1 : 1);
    at = minutes_at + 2;
  }
  if (at != text.size()) return std::nullopt;
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  const std::time_t seconds = ::timegm(&parts);
  return std::chrono::system_clock::from_time_t(seconds) + fraction -
         std::chrono::minutes(offset_minutes);
}

}  // namespace bluegreen::aws
