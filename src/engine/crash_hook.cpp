#include "engine/crash_hook.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace bluegreen {

std::optional<Phase> crash_phase_from_environment(std::string* unknown, const char* variable) {
  const char* value = std::getenv(variable);
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

namespace {
Result<void> disk_full() {
  return fail(ErrorKind::unavailable,
              "database or disk is full (BLUEGREEN_TEST_JOURNAL_FULL_AT simulates it)");
}
}  // namespace

Result<void> JournalFullAtPhase::save(const Deployment& deployment) {
  if (deployment.status == DeploymentStatus::running && deployment.phase == phase_) full_ = true;
  if (full_) return disk_full();
  return JournalWrapper::save(deployment);
}

Result<void> JournalFullAtPhase::append(const DeploymentEvent& event) {
  if (full_) return disk_full();
  return JournalWrapper::append(event);
}

Result<void> JournalFullAtPhase::set_serving(const std::string& group_id,
                                             const std::string& fleet_id) {
  if (full_) return disk_full();
  return JournalWrapper::set_serving(group_id, fleet_id);
}

Result<void> JournalFullAtPhase::set_listener(const std::string& group_id,
                                              const std::string& address) {
  if (full_) return disk_full();
  return JournalWrapper::set_listener(group_id, address);
}

}  // namespace bluegreen
