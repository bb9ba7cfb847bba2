#include "infra/aws/environment.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace bluegreen::aws {

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Environment map_environment(std::map<std::string, std::string, std::less<>> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
}

bool env_flag(const Environment& env, std::string_view name) {
  auto value = env(name);
  if (!value) return false;
  std::ranges::transform(*value, value->begin(), [](unsigned char c) { return std::tolower(c); });
  return *value == "true" || *value == "1" || *value == "yes";
}

}  // namespace bluegreen::aws
