// Where things live inside a local instance's directory (Instance::root,
// <state_dir>/instances/<id>), shared by the fleet that creates instances and the agent that
// installs revisions on them:
//   <dir>/instance.json        the fleet's record of the instance
//   <dir>/deployment-archive/  the bundle as DownloadBundle copied it; hooks run from here
//   <dir>/logs/                one log per hook run (<Event>-<n>.log) and agent.log
//   <dir>/pid-namespace        the record of the instance's PID namespace, when it has one
//   <dir>/accounts/            passwd, group, hosts, hostname, machine-id: a namespaced
//                              instance's /etc's
//   <dir>/stage/               mount points its holder uses while it makes its view
//   <dir>/network/channel      a namespaced instance's socket channel, where it has no veth
//                              pair (infra/process/socket_channel.h)
//   <dir>/root/                the instance's install root: what appspec `/` names, what
//                              INSTANCE_ROOT names for hooks; /opt/app lands in <dir>/root/opt/app
//                              (with ISOLATION=namespaces the instance sees it at /opt/app)
//
// Invariant: the agent's own state (record, logs, bundle copy, namespace record) lies beside
// the install root, never beneath it, so no appspec `files`/`permissions` entry and no link a
// hook (of any runas user) makes beneath the install root can name, replace or redirect it. The
// instance directory and everything the agent keeps in it belong to the server's user and are
// not writable by others.
//
// Invariant (modes): a hook with `runas` reaches, by path, exactly what the CodeDeploy agent
// would let it reach, and no other local user reads the server's state or any hook's output.
// Every other local user may be some instance's runas user, so the modes are the same for all:
//   <state_dir>/                  0711  traversed, never listed (frontends/server/server.cpp)
//   <state_dir>/<anything else>   no group/other bits: journal.db (-wal, -shm), server.lock,
//                                 bundles/ (every revision the server fetched)
//   <state_dir>/instances/        0711  traversed, never listed: ids are not handed out
//   <dir>/                        0711  traversed, never listed; 0700 for an instance with
//                                       ISOLATION=namespaces, whose hooks reach their files
//                                       through the mounts of their view, never by this path:
//                                       no other local user runs (a setuid program) or reads
//                                       anything its hooks wrote
//   <dir>/instance.json           0600
//   <dir>/pid-namespace           0600
//   <dir>/accounts/               0755, its files 0644 (passwd, group, hosts, hostname,
//                                 machine-id: what every process of a namespaced instance
//                                 reads as /etc's)
//   <dir>/stage/                  0700  empty mount points
//   <dir>/network/                0700  the socket channel (0600): only the server connects
//   <dir>/logs/                   0700  hook output may carry secrets; a hook writes only to
//                                       the descriptor the server opened for it
//   <dir>/deployment-archive/     0755, its contents as the bundle had them (scripts made
//                                 executable): the user reads and runs its hooks
//   <dir>/root/                   0755 at creation, then as the appspec's permissions leave it
// What this reveals (ISOLATION=none): a user who learns an instance's path (it is in that
// instance's command lines) can read its bundle copy and install root, as with the CodeDeploy
// agent's deployment-root; nothing else of the state directory, not even which names exist in it.
// The directories above <state_dir> must be traversable by a runas user for its hooks to run.
#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

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
// A namespaced instance's own /etc/passwd, /etc/group, /etc/hosts, /etc/hostname and
// /etc/machine-id (instance_host.h).
inline std::filesystem::path accounts(const std::filesystem::path& root) {
  return root / "accounts";
}
inline std::filesystem::path stage(const std::filesystem::path& root) {
  return root / "stage";
}
inline std::filesystem::path logs(const std::filesystem::path& root) {
  return root / "logs";
}
// Where the instance's holder hands the server sockets of its network namespace, when the
// instance has no veth pair (instance_host.h, invariant 2).
inline std::filesystem::path socket_channel(const std::filesystem::path& root) {
  return root / "network" / "channel";
}

// Gives an instance directory the modes above (what exists of it; links are left alone). Used
// when the directory is made and at every server start, so an older or altered layout is
// closed again. `namespaced`: the instance has ISOLATION=namespaces (its directory is 0700).
inline void apply_modes(const std::filesystem::path& root, bool namespaced) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto set = [&](const fs::path& path, fs::perms mode) {
    auto status = fs::symlink_status(path, ec);
    if (ec || !fs::exists(status) || fs::is_symlink(status)) return;
    fs::permissions(path, mode, fs::perm_options::replace, ec);
  };
  set(root, fs::perms(namespaced ? 0700 : 0711));
  set(record(root), fs::perms(0600));
  set(pid_namespace(root), fs::perms(0600));
  set(logs(root), fs::perms(0700));
  set(accounts(root), fs::perms(0755));
  set(stage(root), fs::perms(0700));
  set(socket_channel(root).parent_path(), fs::perms(0700));
  set(deployment_archive(root), fs::perms(0755));
}

}  // namespace bluegreen::instance_layout
