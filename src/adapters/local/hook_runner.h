// Running one appspec hook script on one local instance: its environment, its process, its
// log, its deadline, and the HookResult and Error that describe what happened. The agent
// (appspec_agent.h) decides which scripts run when; this file only runs one.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "adapters/local/appspec.h"
#include "adapters/local/appspec_agent.h"
#include "infra/process/process.h"

namespace bluegreen {

struct HookRun {
  const Instance& instance;
  const std::string& event;
  const HookScript& script;
  int index = 1;                     // position within the event, for the log's name
  std::filesystem::path bundle_dir;  // where `script.location` is found; also its directory
  const AppSpec& spec;               // the revision's appspec (a namespaced instance's view)
  const LifecycleContext& context;
  const std::map<std::string, std::string>& bundle_environment;
  TimePoint event_deadline;  // the earlier of the event's limit and the deployment's
};

// The environment a hook sees (see appspec_agent.h), as "NAME=value" entries.
// With ISOLATION=namespaces, PORT is APP_PORT and INSTANCE_ROOT is "/" (the paths the appspec
// names are the instance's own), so a bundle written for either mode runs in both.
std::vector<std::string> hook_environment(const HookRun& run, const UserAccount& user,
                                          const AppspecAgentOptions& options);

// Runs the script to its end, its timeout or `cancel`, and fills `result`. Errors as in
// AppspecAgent::run; a cancelled script is a `failed` error saying so.
Result<void> run_hook(const HookRun& run, const AppspecAgentOptions& options,
                      const std::atomic<bool>& cancel, HookResult& result);

}  // namespace bluegreen
