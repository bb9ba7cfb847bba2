#include "adapters/local/lifecycle_events.h"

#include <algorithm>
#include <array>

namespace bluegreen::lifecycle {
namespace {

// In the agent's order (reference: aws-codedeploy-agent DEFAULT_ORDERED_LIFECYCLE_EVENTS,
// with the load-balancer events around it).
constexpr std::array kAllEvents = {
    kBeforeBlockTraffic, kBlockTraffic, kAfterBlockTraffic, kApplicationStop,  kDownloadBundle,
    kBeforeInstall,      kInstall,      kAfterInstall,      kApplicationStart, kValidateService,
    kBeforeAllowTraffic, kAllowTraffic, kAfterAllowTraffic,
};
constexpr std::array kAgentEvents = {
    std::string_view("Start"), kDownloadBundle, kInstall, kBlockTraffic, kAllowTraffic,
    std::string_view("End")};

template <typename... Names>
std::vector<std::string> names(Names... events) {
  return {std::string(events)...};
}

}  // namespace

const std::vector<std::string>& green_install_events() {
  static const auto events = names(kDownloadBundle, kBeforeInstall, kInstall, kAfterInstall,
                                   kApplicationStart, kValidateService);
  return events;
}

const std::vector<std::string>& allow_traffic_events() {
  static const auto events = names(kBeforeAllowTraffic, kAllowTraffic, kAfterAllowTraffic);
  return events;
}

const std::vector<std::string>& block_traffic_events() {
  static const auto events = names(kBeforeBlockTraffic, kBlockTraffic, kAfterBlockTraffic);
  return events;
}

const std::vector<std::string>& stop_events() {
  static const auto events = names(kApplicationStop);
  return events;
}

bool is_known_event(std::string_view event) {
  return std::find(kAllEvents.begin(), kAllEvents.end(), event) != kAllEvents.end();
}

bool is_agent_event(std::string_view event) {
  return std::find(kAgentEvents.begin(), kAgentEvents.end(), event) != kAgentEvents.end();
}

std::string scriptable_events_list() {
  std::string list;
  for (auto event : kAllEvents) {
    if (is_agent_event(event)) continue;
    if (!list.empty()) list += ", ";
    list += event;
  }
  return list;
}

}  // namespace bluegreen::lifecycle
