// ElastigroupExecutor: runs the Elastigroup + CodeDeploy flow (core/elastigroup_flow.h) for
// one CodePipeline job, performing each decision through the ports and feeding the answer
// back. It owns no state between runs: a run starts from the job (and its continuation
// token) and ends with exactly one report to the PipelineReporter.
//
// Time: every wait goes through the injected Clock. A run must be over by `must_end_by` (the
// Lambda deadline); `Options::reserve` before it the executor stops starting requests and
// hands the state over as a continuation token instead. The CLI and the server pass
// TimePoint::max() and so never continue; their requests still end by the flow's deadline
// (TIMEOUT, or the end of cleanup's grace), so a cloud that accepts requests and never answers
// cannot hold a deployment long past its TIMEOUT.
//
// Secrets: the Spot token (given, or resolved from its reference) goes only to Spot. An error
// answer that quotes it back has it replaced by "***" before the flow sees the error, so no
// log line, failure message or continuation token holds it.
//
// Not thread-safe; one run at a time per executor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "engine/elastigroup_ports.h"

namespace bluegreen::elastigroup {

struct ElastigroupPorts {
  SpotBlueGreen& spot;
  Ec2Instances& ec2;
  CodeDeployService& codedeploy;
  PipelineReporter& reporter;
  SecretSource& secrets;
  EventSink& events;  // the flow's events, with where the deployment stands (see publish())
  Clock& clock;
  CallBudget& budget;
};

struct ElastigroupJob {
  std::string job_id;  // CodePipeline.job.id
  // The UserParameters as parse_spec read them where they entered (the Lambda's event, the
  // CLI's --params, the admin API): a rejected spec is reported as a configuration error
  // before any cloud call.
  Result<DeploymentSpec> spec;
  std::optional<std::string> continuation_token;
};

// The clouds behind the ports, opened once per run (each run has its own CallBudget): the
// server opens one for each deployment it runs. Its ports live as long as it does.
class CloudConnection {
 public:
  virtual ~CloudConnection() = default;
  virtual ElastigroupPorts ports(EventSink& events, PipelineReporter& reporter) = 0;
};
using OpenCloud = std::function<Result<std::unique_ptr<CloudConnection>>()>;

enum class RunOutcome {
  succeeded,         // PutJobSuccessResult sent: the deployment is done
  failed,            // PutJobFailureResult sent (parameters, permissions or the deployment)
  continued,         // progress and a continuation token sent: CodePipeline invokes again
  already_reported,  // CodePipeline already had this job's result (a repeated delivery)
  report_failed,     // the result could not be delivered; the caller should fail the
                     // invocation so that Lambda delivers the job again (the flow resumes)
};
std::string_view to_string(RunOutcome outcome);

class ElastigroupExecutor {
 public:
  struct Options {
    // Stop this long before `must_end_by` and continue in the next invocation; at most a
    // third of the invocation, so that a short invocation still gets work done.
    Duration reserve = std::chrono::seconds(30);
    // Flow pacing (see FlowConfig); unset keeps the flow's defaults.
    std::optional<Duration> request_spacing;
    std::optional<Duration> poll_interval;
    std::optional<Duration> max_poll_interval;
    std::optional<Duration> cleanup_grace;
    // Attempts to deliver a report that fails with a retryable error.
    int report_attempts = 4;
    // Called after every step with the state the flow is in, before its next action is
    // performed (the server journals it: to_token(state) resumes the flow after a crash).
    std::function<void(const FlowState& state, const Action& next)> checkpoint;
    // When it becomes true the run ends as at `must_end_by`: the state is handed over as a
    // continuation token (a server that shuts down resumes the flow at its next start).
    // Waits notice it within kStopCheck.
    const std::atomic<bool>* stop = nullptr;
  };
  static constexpr Duration kStopCheck = std::chrono::milliseconds(200);

  ElastigroupExecutor(ElastigroupPorts ports, Options options);

  RunOutcome run(const ElastigroupJob& job, TimePoint must_end_by);

 private:
  EventBody perform(const Action& action, const FlowConfig& config, const DeploymentSpec& spec);
  RunOutcome deliver(const std::string& job_id, const Action& report, TimePoint must_end_by,
                     const FlowState& state);
  // Publishes the flow's events with where the deployment stands in their fields: job_id,
  // original_job_id (when it differs), green_identifier, spot_deployment_id and
  // codedeploy_deployment_id when known. `flow_phase` overrides the events' own when not empty.
  void publish(std::vector<DeploymentEvent> events, const FlowState& state,
               const std::string& job_id, std::string_view flow_phase = {});
  // One event of the executor's own (a report sent, a report retried), in the state's phase.
  void publish(EventKind level, std::string name, std::string message, const FlowState& state,
               const std::string& job_id, std::string_view flow_phase = {});

  ElastigroupPorts ports_;
  Options options_;
  SpotAccess spot_access_;
};

}  // namespace bluegreen::elastigroup
