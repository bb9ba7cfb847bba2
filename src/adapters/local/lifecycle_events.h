// The CodeDeploy lifecycle events of EC2/on-premises blue/green deployments, by name and in
// the order the agent runs them. Events the agent performs itself (DownloadBundle, Install,
// AllowTraffic, BlockTraffic, and the bookends Start and End) cannot carry hook scripts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::lifecycle {

inline constexpr std::string_view kApplicationStop = "ApplicationStop";
inline constexpr std::string_view kDownloadBundle = "DownloadBundle";
inline constexpr std::string_view kBeforeInstall = "BeforeInstall";
inline constexpr std::string_view kInstall = "Install";
inline constexpr std::string_view kAfterInstall = "AfterInstall";
inline constexpr std::string_view kApplicationStart = "ApplicationStart";
inline constexpr std::string_view kValidateService = "ValidateService";
inline constexpr std::string_view kBeforeAllowTraffic = "BeforeAllowTraffic";
inline constexpr std::string_view kAllowTraffic = "AllowTraffic";
inline constexpr std::string_view kAfterAllowTraffic = "AfterAllowTraffic";
inline constexpr std::string_view kBeforeBlockTraffic = "BeforeBlockTraffic";
inline constexpr std::string_view kBlockTraffic = "BlockTraffic";
inline constexpr std::string_view kAfterBlockTraffic = "AfterBlockTraffic";

// Installing a revision on a replacement (green) instance: DownloadBundle, BeforeInstall,
// Install, AfterInstall, ApplicationStart, ValidateService. (ApplicationStop does not run on
// an instance's first deployment, which a green's always is.)
const std::vector<std::string>& green_install_events();
// Putting an instance into service: BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic.
// Green at the switch; blue again on a rollback after the switch.
const std::vector<std::string>& allow_traffic_events();
// Taking an instance out of service: BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic.
// Blue at the switch; green on a rollback after the switch.
const std::vector<std::string>& block_traffic_events();
// Stopping the application before its instance is terminated: ApplicationStop. It runs the
// scripts of the revision installed on that instance.
const std::vector<std::string>& stop_events();

// Every event that may appear in an appspec's hooks or in an Installer call.
bool is_known_event(std::string_view event);
// Events the agent performs itself; an appspec may not attach scripts to them.
bool is_agent_event(std::string_view event);
// The events hooks may name, comma-separated, for error messages.
std::string scriptable_events_list();

}  // namespace bluegreen::lifecycle
