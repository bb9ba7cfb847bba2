// ElastigroupProvider: PROVIDER=elastigroup behind the FleetProvider port (engine/provider.h).
// Spot launches the greens and retires blue, CodeDeploy fetches the revision and installs it;
// each port call makes the requests of the Elastigroup request plan (request_plan.h) that its
// step needs, in order, paced and retried, through the plan's ports (RequestPlan,
// request_plan_run.h, with this provider as its host: the record saved before every request):
//   launch_green  read_group, find_spot, create_spot, wait_greens
//   install       find_codedeploy, create_codedeploy, follow (ValidateService is the gate)
//   move_traffic  confirms that CodeDeploy's AllowTraffic passed on the greens
//   retire_blue   wait_blue_detached (Spot detaches blue)
//   clean_up      stopping: CodeDeploy and Spot stopped, greens detached, what is left named
// When the plan reports success or failure after its greens were launched, the provider asks
// Spot once for the group's costs over the overlap and puts what the deployment cost in the
// record and the report (elastigroup_cost.h).
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
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/elastigroup/elastigroup_ports.h"
#include "adapters/elastigroup/request_plan_run.h"
#include "core/clock.h"
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

// The clouds behind the ports, opened once per run (each run has its own CallBudget): the
// server opens one for each deployment it runs. Its ports live as long as it does.
class CloudConnection {
 public:
  virtual ~CloudConnection() = default;
  virtual ElastigroupPorts ports(EventSink& events, PipelineReporter& reporter) = 0;
};
using OpenCloud = std::function<Result<std::unique_ptr<CloudConnection>>()>;

class ElastigroupProvider final : public FleetProvider {
 public:
  // `job_id` names the run: the CodePipeline job served now, or the deployment's id outside
  // CodePipeline. The GreenIdentifier and the original job come from the record's saved state
  // when it has one, else from `job_id`.
  ElastigroupProvider(const ElastigroupPorts& ports, CloudRunOptions options, std::string job_id,
                      bool token_lost = false);
  // A provider that owns its connection to the clouds and reports to no pipeline (the server).
  ElastigroupProvider(std::unique_ptr<CloudConnection> cloud, EventSink& sink,
                      CloudRunOptions options, std::string job_id, bool token_lost);

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
  const std::optional<Report>& report() const { return report_; }
  // The plan's state; none before the first call.
  const std::optional<FlowState>& state() const { return state_; }
  // Adds where the deployment stands to an event: job_id, original_job_id (when it differs),
  // green_identifier, spot_deployment_id, codedeploy_deployment_id and flow_phase (the plan's
  // phase, unless the event names its own).
  void annotate(DeploymentEvent& event) const;

 private:
  enum class Step { launch_green, install, move_traffic, retire_blue, clean_up };
  class Host;
  InputEvent run(Step step, ProviderCall& call);
  InputEvent run_plan(Step step, ProviderCall& call);
  // The answer to `step` once the plan has got as far as it asks, or failed; none to go on.
  std::optional<InputEvent> answer(Step step, const ProviderCall& call) const;
  std::optional<InputEvent> answer_report(Step step, const ProviderCall& call) const;
  // The plan's state into the record (saved state, ids, greens), and the record saved.
  void checkpoint(ProviderCall& call);
  void publish(DeploymentEvent event, ProviderCall& call);
  // A server restarted with a literal API_TOKEN: what can be done without it.
  InputEvent end_without_token(Step step, ProviderCall& call);
  // A plan saved while it looked for (or was creating) its CodeDeploy deployment: reads the
  // deployment group's last attempt and takes it when it targets our greens, so that a
  // clean-up decided without the plan stops it, or removes nothing when it succeeded.
  void learn_own_codedeploy(const DeploymentSpec& spec);
  // Once the plan reported success or failure after its greens were launched: asks Spot for
  // the group's costs over the overlap (one request, bounded by the run), and puts the cost in
  // the record and the report (elastigroup_cost.h). A failed request only becomes the cost's
  // note: the deployment's outcome stays the plan's.
  void price_overlap(ProviderCall& call);

  // A server's run reports to no pipeline.
  class NoPipeline final : public PipelineReporter {
   public:
    Result<void> success(const std::string&, const ReportSuccess&) override { return {}; }
    Result<void> failure(const std::string&, const ReportFailure&) override { return {}; }
    Result<void> progress(const std::string&, const ReportProgress&) override { return {}; }
  };
  std::unique_ptr<CloudConnection> owned_cloud_;
  NoPipeline no_pipeline_;
  ElastigroupPorts ports_;
  CloudRunOptions options_;
  std::string job_id_;
  bool token_lost_ = false;
  std::optional<FlowConfig> config_;
  std::optional<FlowState> state_;
  std::optional<RequestPlan> plan_;  // once the first step began
  std::optional<Report> report_;
  // When the run stops starting requests and when its requests must be over, set at its first
  // step: the reserve is a third of the whole run at most, not of what is left of it.
  std::optional<std::pair<TimePoint, TimePoint>> run_bounds_;
};

// PROVIDER=elastigroup deployments run by the server: the one flow on the engine's Executor,
// with an ElastigroupProvider for each run and the server's Journal as its memory, the
// Deployment record being what users see of it (status, history, the dashboard). The record
// shows the flow's phases (validate, launch_green, install, terminate_blue; clean_up after a
// failure before the switch), the green instances Spot launched (tag
// GreenIdentifier=<the record's>), the Spot and CodeDeploy deployment ids and the plan's state
// (`cloud`), and every line of the plan's log as an event (CodeDeploy lifecycle events per
// instance among them). A lifecycle event that ended is also a hook result.
//
// Invariants:
// 1. After every request of the plan, before its next one goes out, the record is saved with
//    the plan's state. A server killed at any point resumes from a state that describes what
//    is known to exist, and the plan's idempotency (it adopts its own Spot deployment by
//    GreenIdentifier and its own CodeDeploy deployment from the deployment group's last
//    attempt) means the resumed run creates neither a second time.
// 2. No secret reaches the record, its events or the journal: a literal API_TOKEN lives only
//    in the spec the run was started with (to_json(spec) stores "***"). A run resumed after a
//    restart has lost a literal token and never calls Spot with what the journal holds: it
//    ends failed, saying why, after the clean-up that needs no Spot token (the CodeDeploy
//    deployment stopped with rollback; one whose create was answered after the last save is
//    found as the plan finds it, from the deployment group's last attempt), and names what to
//    stop by hand. A reference (ssm:, secretsmanager:) is resolved again by the resumed run.
// 3. Never remove what may serve: the lost-token clean-up does not stop a CodeDeploy
//    deployment that succeeded on the greens, and the flow is told the greens may serve
//    (core/flow.h invariant 4).
// 4. A run asked to stop (ProviderCall::stop) ends with the record still running and the
//    plan's state saved: the next start resumes it.
class ElastigroupProviders final : public ProviderSource {
 public:
  ElastigroupProviders(OpenCloud open_cloud, CloudRunOptions options);
  Result<void> check(const DeploymentSpec& spec) const override;
  std::string green_identifier(const DeploymentSpec& spec,
                               const std::string& deployment_id) const override;
  Result<std::unique_ptr<FleetProvider>> open(const Deployment& deployment, bool resumed,
                                              EventSink& sink) override;

 private:
  OpenCloud open_cloud_;
  CloudRunOptions options_;
};

}  // namespace bluegreen::elastigroup
