// The one shape of a structured log line, shared by the Lambda's flow log
// (adapters/elastigroup/elastigroup_log.h) and the server's deployment log (engine/live_log.h):
// a JSON object on one line with "time" (UTC, ISO 8601 with milliseconds), "level" (info,
// warning, error) and the record's own fields. Log collectors (CloudWatch Logs Insights, Loki,
// jq) read it without configuration.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/deployment.h"

namespace bluegreen {

// `fields` is an object; "time" and "level" overwrite keys of the same name. Invalid UTF-8
// (from a hook's output, a service's message) is replaced, so every line can be written.
std::string json_log_line(TimePoint time, std::string_view level, nlohmann::json fields);

// The level of an event's line: "error", "warning", or "info" for every other kind.
std::string_view log_level(EventKind kind);

}  // namespace bluegreen
