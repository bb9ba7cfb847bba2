#include "adapters/aws/json_fields.h"

#include <charconv>

#include "infra/aws/aws_time.h"

namespace bluegreen::aws {

namespace {

const nlohmann::json* find(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto found = object.find(key);
  return found == object.end() ? nullptr : &*found;
}

}  // namespace

std::string text_at(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json* value = find(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
}

long long integer_at(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return 0;
  if (value->is_number()) return value->get<long long>();
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    long long number = 0;
    std::from_chars(text.data(), text.data() + text.size(), number);
    return number;
  }
  return 0;
}

const nlohmann::json& member_at(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json kNothing;
  const nlohmann::json* value = find(object, key);
  return value == nullptr ? kNothing : *value;
}

std::optional<TimePoint> time_at(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number()) {
    const double seconds = value->get<double>();
    return TimePoint{} + std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
  }
  if (value->is_string()) return parse_iso8601(value->get<std::string>());
  return std::nullopt;
}

}  // namespace bluegreen::aws
