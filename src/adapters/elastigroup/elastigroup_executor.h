// ElastigroupExecutor: runs one CodePipeline job (or a CLI run) of a PROVIDER=elastigroup
// deployment. The deployment goes through the one flow (core/flow.h) on the engine's Executor,
// with ElastigroupProvider (adapters/elastigroup/elastigroup_provider.h) performing its steps; the
// job's continuation token is that run's journal: the provider's saved state, from which the next
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
// Secrets: see adapters/elastigroup/elastigroup_provider.h. No log line, failure message or
// continuation token holds the Spot token.
//
// Not thread-safe; one run at a time per executor.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/elastigroup/elastigroup_ports.h"
#include "adapters/elastigroup/elastigroup_provider.h"
#include "core/clock.h"
#include "engine/ports.h"

namespace bluegreen::elastigroup {

struct ElastigroupJob {
  std::string job_id;  // CodePipeline.job.id
  // The UserParameters as parse_spec read them where they entered (the Lambda's event, the
  // CLI's --params, the admin API): a rejected spec is reported as a configuration error
  // before any cloud call.
  Result<DeploymentSpec> spec;
  std::optional<std::string> continuation_token;
};

enum class RunOutcome {
  succeeded,         // PutJobSuccessResult sent: the deployment is done
  failed,            // PutJobFailureResult sent (parameters, permissions or the deployment)
  continued,         // progress and a continuation token sent: CodePipeline invokes again
  already_reported,  // CodePipeline already had this job's result (a repeated delivery)
  report_failed,     // the result could not be delivered; the caller should fail the
                     // invocation so that Lambda delivers the job again (the flow resumes)
};
std::string_view to_string(RunOutcome outcome);

// The journal of a run whose continuation token is its only memory: the provider's saved
// state travels in the token, so the record itself is kept nowhere.
class TokenJournal final : public Journal {
 public:
  Result<void> save(const Deployment& /*deployment*/) override { return {}; }
  Result<void> append(const DeploymentEvent& /*event*/) override { return {}; }
  Result<void> set_serving(const std::string&, const std::string&) override { return {}; }
  Result<void> set_listener(const std::string&, const std::string&) override { return {}; }
  Result<std::vector<Deployment>> deployments(const std::string& /*group*/) const override {
    return std::vector<Deployment>{};
  }
  Result<std::optional<Deployment>> deployment(const std::string& /*id*/) const override {
    return std::optional<Deployment>{};
  }
  Result<std::vector<Deployment>> running() const override { return std::vector<Deployment>{}; }
  Result<std::vector<DeploymentEvent>> events(const std::string& /*id*/) const override {
    return std::vector<DeploymentEvent>{};
  }
  Result<std::map<std::string, std::string>> serving() const override {
    return std::map<std::string, std::string>{};
  }
  Result<std::map<std::string, std::string>> listeners() const override {
    return std::map<std::string, std::string>{};
  }
};

// Sends `report` for `job_id` to CodePipeline, retrying what may pass (throttling, an
// unavailable endpoint) with backoff while `attempts` and the run's time last; `say` publishes
// what happened (level, event name, message).
RunOutcome deliver_report(PipelineReporter& reporter, Clock& clock, CallBudget& budget,
                          int attempts, const std::string& job_id, const Report& report,
                          TimePoint must_end_by,
                          const std::function<void(EventKind, std::string, std::string)>& say);

class ElastigroupExecutor {
 public:
  using Options = CloudRunOptions;

  ElastigroupExecutor(ElastigroupPorts ports, Options options);

  RunOutcome run(const ElastigroupJob& job, TimePoint must_end_by);

 private:
  RunOutcome deliver(const std::string& job_id, const Report& report, TimePoint must_end_by,
                     const ElastigroupProvider& provider);
  // One event of the executor's own (a report sent, a report retried).
  void publish(EventKind level, std::string name, std::string message,
               const ElastigroupProvider& provider, bluegreen::Phase phase);

  ElastigroupPorts ports_;
  Options options_;
};

}  // namespace bluegreen::elastigroup
