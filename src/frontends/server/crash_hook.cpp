#include "frontends/server/crash_hook.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace bluegreen {

std::optional<Phase> crash_phase_from_environment(std::string* unknown) {
  const char* value = std::getenv(kCrashAtVariable);
  if (value == nullptr || *value == '\0') return std::nullopt;
  auto phase = phase_from_string(value);
  if (!phase && unknown) *unknown = value;
  return phase;
}

void CrashAtPhase::publish(const DeploymentEvent& event) {
  inner_.publish(event);
}

void CrashAtPhase::update(const Deployment& deployment) {
  inner_.update(deployment);
  if (deployment.status == DeploymentStatus::running && deployment.phase == phase_) {
    // SIGKILL rather than exit(): no destructor, no flush, no handler runs, as in a real kill.
    ::kill(::getpid(), SIGKILL);
  }
}

}  // namespace bluegreen
