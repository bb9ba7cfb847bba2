// Test hooks for crash-safety tests.
//
//   BLUEGREEN_TEST_CRASH_AT=<phase>   e.g. launch_green, health_gate, keep_blue, clean_up
//     makes `bluegreen server` die as if killed (SIGKILL) the moment one of its deployments
//     enters a named phase, after the journal has recorded that phase and before the phase's
//     first action runs.
//   BLUEGREEN_TEST_JOURNAL_FULL_AT=<phase>
//     makes every journal write of a deployment fail as on a full disk from the moment it
//     enters the phase (the record entering it is the first write lost), so that a restart
//     finds what a disk that filled up at that point leaves behind.
//
// It exists only so that tests can stop the server at every phase boundary in turn; nothing
// else sets the variable, and an unset or unknown value leaves the server as it is (an
// unknown value is reported once in the server's log). The hook wraps the deployment's
// EventSink: the executor calls update() right after it saved the record, so the journal is
// exactly what a real crash at that point would leave behind.
#pragma once

#include <optional>
#include <string>

#include "engine/ports.h"

namespace bluegreen {

inline constexpr const char* kCrashAtVariable = "BLUEGREEN_TEST_CRASH_AT";
inline constexpr const char* kJournalFullAtVariable = "BLUEGREEN_TEST_JOURNAL_FULL_AT";

// The phase named by the variable (BLUEGREEN_TEST_CRASH_AT unless told), if it is set to a
// phase's name. `unknown` receives the value when it names no phase.
std::optional<Phase> crash_phase_from_environment(std::string* unknown = nullptr,
                                                  const char* variable = kCrashAtVariable);

// Forwards every call to `inner` until a running deployment's record arrives in `phase`;
// from then on every write fails with "database or disk is full" (reads still answer). One
// per deployment.
class JournalFullAtPhase final : public JournalWrapper {
 public:
  JournalFullAtPhase(Journal& inner, Phase phase) : JournalWrapper(inner), phase_(phase) {}
  Result<void> save(const Deployment& deployment) override;
  Result<void> append(const DeploymentEvent& event) override;
  Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) override;
  Result<void> set_listener(const std::string& group_id, const std::string& address) override;

 private:
  Phase phase_;
  bool full_ = false;
};

// Forwards everything to `inner`; kills the process (SIGKILL to itself) when a running
// deployment's record arrives in `phase`.
class CrashAtPhase final : public EventSink {
 public:
  CrashAtPhase(EventSink& inner, Phase phase) : inner_(inner), phase_(phase) {}
  void publish(const DeploymentEvent& event) override;
  void update(const Deployment& deployment) override;

 private:
  EventSink& inner_;
  Phase phase_;
};

}  // namespace bluegreen
