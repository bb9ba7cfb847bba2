// ElastigroupProvider: PROVIDER=elastigroup behind the FleetProvider port (engine/provider.h).
// Spot launches the greens and retires blue, CodeDeploy fetches the revision and installs it;
// the requests that make each step happen, in order, paced and retried, are the Elastigroup
// request plan (core/elastigroup_flow.h), which this provider performs through its ports:
//   launch_green  read_group, find_spot, create_spot, wait_greens
//   install       find_codedeploy, create_codedeploy, follow (ValidateService is the gate)
//   move_traffic  confirms that CodeDeploy's AllowTraffic passed on the greens
//   retire_blue   wait_blue_detached (Spot detaches blue)
//   clean_up      stopping: CodeDeploy and Spot stopped, greens detached, what is left named
// A plan that gets further than its step asked (a repeated delivery that finds its deployment
// already installed) answers the later steps at once. The record's `cloud` holds the plan's
// state (its continuation token) after every request, so a run resumed from the record (a
// server restart, the next Lambda invocation) carries on without creating anything twice.
//
// Secrets: the Spot token (given, or resolved from its reference) goes only to Spot. An error
// answer that quotes it back has it replaced by "***" before the plan sees the error, so no
// log line, failure message or saved state holds it. A provider made with `token_lost` (a
// server restarted with a literal API_TOKEN, which it never stores) calls nothing that needs
// it: it stops what CodeDeploy runs unless the greens may serve, and names what to stop by hand.
//
// Not thread-safe; one deployment per provider.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/elastigroup_flow.h"
#include "engine/elastigroup_ports.h"
#include "engine/provider.h"

namespace bluegreen::elastigroup {

struct ElastigroupPorts {
  SpotBlueGreen& spot;
  Ec2Instances& ec2;
  CodeDeployService& codedeploy;
  PipelineReporter& reporter;
  SecretSource& secrets;
  EventSink& events;  // the events of a run, with where the deployment stands (annotate())
  Clock& clock;
  CallBudget& budget;
};

// How a run is paced and bounded.
struct CloudRunOptions {
  // Stop this long before the run's end (ProviderCall::must_end_by) and hand over instead;
  // at most a third of the run, so that a short invocation still gets work done.
  Duration reserve = std::chrono::seconds(30);
  // Flow pacing (see FlowConfig); unset keeps the flow's defaults.
  std::optional<Duration> request_spacing;
  std::optional<Duration> poll_interval;
  std::optional<Duration> max_poll_interval;
  std::optional<Duration> cleanup_grace;
  // Attempts to deliver a report to CodePipeline that fails with a retryable error.
  int report_attempts = 4;
  // When it becomes true the run ends as at its end: its state is handed over (a server that
  // shuts down resumes the deployment at its next start). Waits notice it within kStopCheck.
  const std::atomic<bool>* stop = nullptr;
};
inline constexpr Duration kStopCheck = std::chrono::milliseconds(200);

class ElastigroupProvider final : public FleetProvider {
 public:
  // `job_id` names the run: the CodePipeline job served now, or the deployment's id outside
  // CodePipeline. The GreenIdentifier and the original job come from the record's saved state
  // when it has one, else from `job_id`.
  ElastigroupProvider(const ElastigroupPorts& ports, CloudRunOptions options, std::string job_id,
                      bool token_lost = false);

  InputEvent launch_green(ProviderCall& call, const action::LaunchGreen& launch) override;
  // The install (green, install_lifecycle_events()): CodeDeploy's whole lifecycle, its
  // ValidateService the health gate. CodeDeploy runs every other hook itself.
  InputEvent run_hooks(ProviderCall& call, const action::RunHooks& hooks) override;
  // Confirms the switch to green (CodeDeploy's AllowTraffic passed; Spot routes).
  InputEvent move_traffic(ProviderCall& call, const action::Route& route) override;
  InputEvent retire_blue(ProviderCall& call) override;
  InputEvent clean_up(ProviderCall& call) override;

  // The plan's report, once it made one: success, failure, or the hand-over (ReportProgress,
  // with the continuation token) of a run that had to end.
  const std::optional<Action>& report() const { return report_; }
  // The plan's state; none before the first call.
  const std::optional<FlowState>& state() const { return state_; }
  // Adds where the deployment stands to an event: job_id, original_job_id (when it differs),
  // green_identifier, spot_deployment_id, codedeploy_deployment_id and flow_phase (the plan's
  // phase, unless the event names its own).
  void annotate(DeploymentEvent& event) const;

 private:
  enum class Step { launch_green, install, move_traffic, retire_blue, clean_up };
  InputEvent run(Step step, ProviderCall& call);
  InputEvent run_plan(Step step, ProviderCall& call);
  // The answer to `step` once the plan has got as far as it asks, or failed; none to go on.
  std::optional<InputEvent> answer(Step step, const ProviderCall& call) const;
  std::optional<InputEvent> answer_report(Step step, const ProviderCall& call) const;
  EventBody perform(const Action& action, const DeploymentSpec& spec);
  // The plan's state into the record (saved state, ids, greens), and the record saved.
  void checkpoint(ProviderCall& call);
  void publish(std::vector<DeploymentEvent> events, ProviderCall& call);
  // A server restarted with a literal API_TOKEN: what can be done without it.
  InputEvent end_without_token(Step step, ProviderCall& call);

  ElastigroupPorts ports_;
  CloudRunOptions options_;
  std::string job_id_;
  bool token_lost_ = false;
  std::optional<FlowConfig> config_;
  std::optional<FlowState> state_;
  std::optional<Decision> pending_;  // decided but not done when the last step ended
  std::optional<Action> report_;
  SpotAccess spot_access_;
};

}  // namespace bluegreen::elastigroup
