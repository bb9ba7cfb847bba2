// Where things live inside a local instance's directory (Instance::root,
// <state_dir>/instances/<id>), shared by the fleet that creates instances and the agent that
// installs revisions on them:
//   <dir>/instance.json        the fleet's record of the instance
//   <dir>/deployment-archive/  the bundle as DownloadBundle copied it; hooks run from here
//   <dir>/logs/                one log per hook run (<Event>-<n>.log) and agent.log
//   <dir>/pid-namespace        the record of the instance's PID namespace, when it has one
//   <dir>/root/                the instance's install root: what appspec `/` names, what
//                              INSTANCE_ROOT names for hooks; /opt/app lands in <dir>/root/opt/app
//
// Invariant: the agent's own state (record, logs, bundle copy, namespace record) lies beside
// the install root, never beneath it, so no appspec `files`/`permissions` entry and no link a
// hook (of any runas user) makes beneath the install root can name, replace or redirect it. The
// instance directory and everything the agent keeps in it belong to the server's user and are
// not writable by others.
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
// What appspec `/` and INSTANCE_ROOT name for this instance.
inline std::filesystem::path install_root(const std::filesystem::path& root) {
  return root / "root";
}
inline std::filesystem::path logs(const std::filesystem::path& root) {
  return root / "logs";
}

}  // namespace bluegreen::instance_layout
