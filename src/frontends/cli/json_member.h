// Reading what the server answered: a member of a JSON object, or null when the object (or
// what should have been one) lacks it. nlohmann's const operator[] must not be asked for a
// missing key, and an answer from another version of the server, or from something that is not
// a bluegreen server at all, may lack any key.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace bluegreen::cli {

inline const nlohmann::json& member(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

}  // namespace bluegreen::cli
