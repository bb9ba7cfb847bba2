// Test hook for crash-safety tests: makes `bluegreen server` die as if killed (SIGKILL) the
// moment one of its deployments enters a named phase, after the journal has recorded that
// phase and before the phase's first action runs.
//
//   BLUEGREEN_TEST_CRASH_AT=<phase>   e.g. launch_green, health_gate, keep_blue, clean_up
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

// The phase named by BLUEGREEN_TEST_CRASH_AT, if the variable is set to a phase's name.
// `unknown` receives the value when it names no phase.
std::optional<Phase> crash_phase_from_environment(std::string* unknown = nullptr);

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
