// Running a PROVIDER=elastigroup deployment outside CodePipeline, as `bluegreen deploy` does with
// PROVIDER=elastigroup: there is no job to report to, so the report is kept and returned, the
// run is never cut short (no continuation), and a "job id" only names the deployment (the
// GreenIdentifier is derived from it: running again with the same id joins the same
// deployment instead of starting another).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "adapters/elastigroup/elastigroup_executor.h"

namespace bluegreen::elastigroup {

// A PipelineReporter that keeps the final report instead of sending it. Thread-safe.
class CapturingReporter final : public PipelineReporter {
 public:
  Result<void> success(const std::string& job_id, const ReportSuccess& report) override;
  Result<void> failure(const std::string& job_id, const ReportFailure& report) override;
  Result<void> progress(const std::string& job_id, const ReportProgress& report) override;
  std::optional<Report> report() const;

 private:
  mutable std::mutex mutex_;
  std::optional<Report> report_;
};

struct StandaloneResult {
  RunOutcome outcome = RunOutcome::failed;     // succeeded or failed
  std::optional<FailureType> failure_type;     // when failed
  std::string message;                         // the summary, or the failure message
  std::string deployment_id;                   // the CodeDeploy deployment, when there is one
  std::map<std::string, std::string> outputs;  // GreenIdentifier, DeploymentId, SpotDeploymentId
  // What the overlap cost (elastigroup_cost.h), once the deployment ended after launching greens.
  std::optional<DeploymentCost> cost;
};

// What a report action says, as a StandaloneResult (the server's record of a run uses it too).
StandaloneResult result_of(const std::optional<Report>& report);

// Runs the flow to its end with `ports` (whose reporter is ignored: the result is returned).
StandaloneResult run_standalone(const ElastigroupPorts& ports,
                                const ElastigroupExecutor::Options& options,
                                const std::string& deployment_name, const DeploymentSpec& spec);

}  // namespace bluegreen::elastigroup
