// Timestamps in the formats AWS uses on the wire.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace bluegreen::aws {

// "20150830T123600Z": the X-Amz-Date header (UTC, whole seconds).
std::string format_amz_date(TimePoint time);

// "2015-08-30T12:36:00Z".
std::string format_iso8601(TimePoint time);

// Parses "2015-08-30T12:36:00Z", "2015-08-30T12:36:00.123Z" and "+00:00"/"-05:30" offsets.
std::optional<TimePoint> parse_iso8601(std::string_view text);

}  // namespace bluegreen::aws
