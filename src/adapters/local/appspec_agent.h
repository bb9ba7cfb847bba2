// AppspecAgent: the built-in CodeDeploy agent of the local provider (an Installer). It runs
// the lifecycle events it is given on each instance, honouring the bundle's appspec.yml the
// way the CodeDeploy agent does:
//   DownloadBundle  copies the bundle into <root>/deployment-archive (see instance_layout.h);
//                   every later event on that instance reads the appspec and runs scripts from
//                   that copy, so ApplicationStop and the BlockTraffic events of an older
//                   instance use the revision it was installed with, whatever bundle is passed.
//                   Without a copy (no DownloadBundle yet) the passed bundle is used.
//   Install         copies `files` below the instance's install root (<root>/root, where
//                   appspec `/` lands) and applies `permissions` (install_files.h); the agent's
//                   own state beside it is out of their reach (instance_layout.h). A namespaced
//                   instance (ISOLATION=namespaces) gets its host first (instance_host.h): its
//                   hooks see those files at the appspec's absolute paths, and owners and
//                   groups are its own users.
//   AllowTraffic, BlockTraffic  nothing to do here: the engine moves traffic.
//   any other event runs its hook scripts in order, each in its own session and process group
//                   inside the instance's PID namespace where the machine allows one
//                   (local_fleet.h; with ISOLATION=namespaces inside every namespace of its
//                   host, from kArchiveInView), as its `runas` user, in the bundle directory, with
//                   the environment below, output to <root>/logs/<Event>-<n>.log. The log keeps the
//                   last `log_limit_bytes` (1 MiB) of output, after a line such as
//                   "[… 98.9 MiB of earlier output dropped]"; the HookResult's output tail
//                   starts with that line too. Logs are opened and read only as regular files,
//                   never through a link (the agent may be root).
// Hook environment: LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME, DEPLOYMENT_GROUP_NAME,
// DEPLOYMENT_GROUP_ID, the bundle's BUNDLE_* variables, PORT (the instance's port; APP_PORT with
// ISOLATION=namespaces), INSTANCE_ROOT (its install root, <root>/root; "/" with namespaces, where
// the appspec's paths are the instance's own), BLUEGREEN_ISOLATION (none or namespaces),
// BLUEGREEN_INSTANCE_ID (its id; the fleet uses it to find the instance's processes),
// HOME/USER/LOGNAME of the user it runs as, and the variables of this process named in
// `inherited_variables` (PATH, locale); nothing else, so no credential of the server reaches a
// hook.
//
// Timeouts: a script gets its appspec timeout; one event gets at most 3600 s in total; nothing
// runs past the deadline passed to run(). A script past its time has its whole process group
// killed (SIGTERM, then SIGKILL after `kill_grace`).
//
// Thread-safe: run() may be called concurrently; instances of one call run in parallel, one
// thread each. The first failure on any instance stops the others (their running scripts are
// killed) and is the error run() returns.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/ports.h"

namespace bluegreen {

struct AppspecAgentOptions {
  Duration kill_grace{5000};
  std::size_t output_tail_bytes = 4096;  // CodeDeploy reports up to 4 KB of a script's log
  // What a hook's log file keeps: the last log_limit_bytes of its output (and of what its
  // daemons print later), after a line counting what was dropped.
  std::size_t log_limit_bytes = 1024 * 1024;
  std::vector<std::string> inherited_variables = {"PATH",     "LANG", "LC_ALL",
                                                  "LC_CTYPE", "TZ",   "TMPDIR"};
};

class AppspecAgent final : public Installer {
 public:
  explicit AppspecAgent(AppspecAgentOptions options = {});

  // Errors: invalid_input (an unknown event, a bad or missing appspec.yml, a missing script),
  // failed (a script exited non-zero, or could not start), timeout (a script passed its
  // timeout or the deadline), conflict (Install found a file with DISALLOW),
  // permission_denied (runas without root). The message names the instance, the event and the
  // script, and ends with the tail of the script's output.
  Result<void> run(const Bundle& bundle, const std::vector<Instance>& instances,
                   const std::vector<std::string>& events, const LifecycleContext& context,
                   TimePoint deadline, std::vector<HookResult>& results) override;

 private:
  AppspecAgentOptions options_;
};

}  // namespace bluegreen
