// Lenient readers for fields of AWS JSON answers: a missing field or one of another type reads
// as empty, so an answer with extra or absent optional members never fails a call.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace bluegreen::aws {

// The string at `key`, or "".
std::string text_at(const nlohmann::json& object, std::string_view key);
// The integer at `key` (a number, or a string of digits), or 0.
long long integer_at(const nlohmann::json& object, std::string_view key);
// The object or array at `key`, or an empty json value.
const nlohmann::json& member_at(const nlohmann::json& object, std::string_view key);
// A timestamp: epoch seconds with a fraction (real AWS) or an ISO 8601 string (moto).
std::optional<TimePoint> time_at(const nlohmann::json& object, std::string_view key);

}  // namespace bluegreen::aws
