// ElastigroupExecutor: runs one CodePipeline job (or a CLI run) of a PROVIDER=elastigroup
// deployment. The deployment goes through the one flow (core/flow.h) on the engine's Executor,
// with ElastigroupProvider (engine/elastigroup_provider.h) performing its steps; the job's
// continuation token is that run's journal: the provider's saved state, from which the next
// invocation resumes the step it was in. A run starts from the job (and its token) and ends
// with exactly one report to the PipelineReporter: the plan's success or failure, or its
// hand-over (a continuation token, at most kMaxTokenLength characters).
//
// Time: every wait goes through the injected Clock. A run must be over by `must_end_by` (the
// Lambda deadline); `Options::reserve` before it the provider stops starting requests and
// hands its state over as a continuation token instead. The CLI passes TimePoint::max() and so
// never continues; its requests still end by the plan's deadline (TIMEOUT, or the end of
// cleanup's grace), so a cloud that accepts requests and never answers cannot hold a
// deployment long past its TIMEOUT.
//
// Secrets: see engine/elastigroup_provider.h. No log line, failure message or continuation
// token holds the Spot token.
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
#include "engine/elastigroup_provider.h"

namespace bluegreen::elastigroup {

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
  using Options = CloudRunOptions;

  ElastigroupExecutor(ElastigroupPorts ports, Options options);

  RunOutcome run(const ElastigroupJob& job, TimePoint must_end_by);

 private:
  RunOutcome deliver(const std::string& job_id, const Action& report, TimePoint must_end_by,
                     const ElastigroupProvider& provider);
  // One event of the executor's own (a report sent, a report retried).
  void publish(EventKind level, std::string name, std::string message,
               const ElastigroupProvider& provider, bluegreen::Phase phase);

  ElastigroupPorts ports_;
  Options options_;
};

}  // namespace bluegreen::elastigroup

namespace bluegreen {

// A PROVIDER=elastigroup deployment run by the server: the one flow on the Executor, with
// ElastigroupProvider and the Journal as its memory, and the Deployment record as what users
// see of it (status, history, the dashboard). The record shows the flow's phases (validate,
// launch_green, install, allow_traffic, terminate_blue; clean_up after a failure before the
// switch), the green instances Spot launched (tag GreenIdentifier=<the record's>), the Spot
// and CodeDeploy deployment ids and the plan's state (`cloud`), and every line of the plan's
// log as an event (CodeDeploy lifecycle events per instance among them). A lifecycle event
// that ended is also a hook result.
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
//    deployment that succeeded on the greens; everything else is the flow's own decision
//    (core/flow.h invariant 4).
// 4. A run asked to stop (CloudRunOptions::stop) ends with the record still running and the
//    plan's state saved: the next start resumes it.
enum class CloudStart {
  fresh,          // the deployment was just created: its spec holds the token it was given
  after_restart,  // resumed from the journal: a literal API_TOKEN is lost
};

struct CloudRunPorts {
  elastigroup::CloudConnection& cloud;
  Journal& journal;
  EventSink& sink;
  Clock& clock;
};

// Runs `deployment` (from its start, or from where its record stands) until it ends or the
// run is asked to stop; returns the last record, which the journal holds too.
Deployment run_cloud_deployment(const CloudRunPorts& ports, Deployment deployment,
                                const elastigroup::CloudRunOptions& options, CloudStart start);

}  // namespace bluegreen
