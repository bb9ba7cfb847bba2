#include "core/instance.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bluegreen {

std::string_view to_string(Colour colour) {
  return colour == Colour::blue ? "blue" : "green";
}

std::string instance_list(const std::vector<Instance>& instances) {
  std::vector<std::string> parts;
  for (const auto& instance : instances) {
    parts.push_back(instance.port == 0 ? instance.id
                                       : fmt::format("{} (port {})", instance.id, instance.port));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string_view to_string(InstanceState state) {
  switch (state) {
    case InstanceState::pending:
      return "pending";
    case InstanceState::running:
      return "running";
    case InstanceState::healthy:
      return "healthy";
    case InstanceState::unhealthy:
      return "unhealthy";
    case InstanceState::terminated:
      return "terminated";
  }
  return "terminated";
}

InstanceState instance_state_from_string(std::string_view text) {
  for (auto state : {InstanceState::pending, InstanceState::running, InstanceState::healthy,
                     InstanceState::unhealthy}) {
    if (text == to_string(state)) return state;
  }
  return InstanceState::terminated;
}

std::string_view to_string(Isolation isolation) {
  return isolation == Isolation::namespaces ? "namespaces" : "none";
}

Isolation isolation_from_string(std::string_view text) {
  return text == "namespaces" ? Isolation::namespaces : Isolation::none;
}

}  // namespace bluegreen
