// Environment: how the AWS layer reads environment variables (credentials, region, endpoint
// overrides, file locations). Production code reads the process environment; tests pass a
// map, so no test has to change the real environment.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bluegreen::aws {

// Returns the variable's value, or nullopt when it is unset or empty.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

Environment process_environment();
Environment map_environment(std::map<std::string, std::string, std::less<>> variables);

// True for "true"/"1"/"yes" (any case).
bool env_flag(const Environment& env, std::string_view name);

}  // namespace bluegreen::aws
