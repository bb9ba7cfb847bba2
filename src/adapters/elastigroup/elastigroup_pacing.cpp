#include "adapters/elastigroup/elastigroup_pacing.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace bluegreen::elastigroup {
namespace {

Result<std::optional<Duration>> seconds(const GetEnv& getenv, const char* name) {
  auto text = getenv(name);
  if (!text || text->empty()) return std::optional<Duration>{};
  double value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || !std::isfinite(value) ||
      value < 0 || value > 86400) {
    return fail(
        ErrorKind::invalid_input,
        fmt::format("{} must be a number of seconds between 0 and 86400, got \"{}\"", name, *text));
  }
  return std::optional<Duration>{Duration(static_cast<long long>(std::llround(value * 1000)))};
}

}  // namespace

std::optional<std::string> process_getenv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<void> apply_pacing_environment(const GetEnv& getenv, ElastigroupExecutor::Options& options) {
  auto poll = seconds(getenv, "BLUEGREEN_POLL_SECONDS");
  if (!poll) return std::unexpected(poll.error());
  if (*poll) {
    auto first = **poll;
    options.poll_interval = first;
    options.max_poll_interval = first * 30;
    options.request_spacing = first * 6;
  }
  auto reserve = seconds(getenv, "BLUEGREEN_RESERVE_SECONDS");
  if (!reserve) return std::unexpected(reserve.error());
  if (*reserve) options.reserve = **reserve;
  auto cleanup = seconds(getenv, "BLUEGREEN_CLEANUP_SECONDS");
  if (!cleanup) return std::unexpected(cleanup.error());
  if (*cleanup) options.cleanup_grace = **cleanup;
  return {};
}

}  // namespace bluegreen::elastigroup
