#include "engine/json_log_line.h"

namespace bluegreen {

std::string json_log_line(TimePoint time, std::string_view level, nlohmann::json fields) {
  fields["time"] = to_iso8601(time);
  fields["level"] = std::string(level);
  return fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view log_level(EventKind kind) {
  switch (kind) {
    case EventKind::error:
      return "error";
    case EventKind::warning:
      return "warning";
    default:
      return "info";
  }
}

}  // namespace bluegreen
