// Where things live inside a local instance's directory (its `root`), shared by the fleet that
// creates instances and the agent that installs revisions on them:
//   <root>/instance.json        the fleet's record of the instance
//   <root>/deployment-archive/  the bundle as DownloadBundle copied it; hooks run from here
//   <root>/logs/                one log per hook run (<Event>-<n>.log) and agent.log
//   <root>/pid-namespace        the record of the instance's PID namespace, when it has one
//   <root>/<anything else>      appspec destinations: /opt/app lands in <root>/opt/app
#pragma once

#include <filesystem>
#include <string_view>

namespace bluegreen::instance_layout {

// Every process of an instance starts with <kMarkerVariable>=<instance id> in its environment;
// where the instance has no PID namespace, the fleet finds and ends them by it
// (infra/process/marked_processes.h; see local_fleet.h).
inline constexpr std::string_view kMarkerVariable = "BLUEGREEN_INSTANCE_ID";

inline std::filesystem::path record(const std::filesystem::path& root) {
  return root / "instance.json";
}
inline std::filesystem::path deployment_archive(const std::filesystem::path& root) {
  return root / "deployment-archive";
}
// Where the holder of the instance's PID namespace is recorded (infra/process/pid_namespace.h).
inline std::filesystem::path pid_namespace(const std::filesystem::path& root) {
  return root / "pid-namespace";
}
inline std::filesystem::path logs(const std::filesystem::path& root) {
  return root / "logs";
}

}  // namespace bluegreen::instance_layout
