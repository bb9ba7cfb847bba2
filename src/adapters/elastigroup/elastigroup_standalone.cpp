#include "adapters/elastigroup/elastigroup_standalone.h"

namespace bluegreen::elastigroup {
namespace {

// Nothing reaches CodePipeline in a standalone run, so the executor's "reported" events
// (which name PutJob…Result) would mislead; the caller reports the outcome itself. The record
// passes by here after every step: its cost, once set, is the run's.
class WithoutPipelineReports final : public EventSink {
 public:
  explicit WithoutPipelineReports(EventSink& inner) : inner_(inner) {}
  void publish(const DeploymentEvent& event) override {
    if (event.name != "reported") inner_.publish(event);
  }
  void update(const Deployment& deployment) override {
    if (deployment.cost) cost_ = deployment.cost;
    inner_.update(deployment);
  }
  const std::optional<DeploymentCost>& cost() const { return cost_; }

 private:
  EventSink& inner_;
  std::optional<DeploymentCost> cost_;
};

}  // namespace

Result<void> CapturingReporter::success(const std::string&, const ReportSuccess& report) {
  std::lock_guard lock(mutex_);
  report_ = report;
  return {};
}

Result<void> CapturingReporter::failure(const std::string&, const ReportFailure& report) {
  std::lock_guard lock(mutex_);
  report_ = report;
  return {};
}

Result<void> CapturingReporter::progress(const std::string&, const ReportProgress& report) {
  std::lock_guard lock(mutex_);
  report_ = report;
  return {};
}

std::optional<Report> CapturingReporter::report() const {
  std::lock_guard lock(mutex_);
  return report_;
}

StandaloneResult result_of(const std::optional<Report>& report) {
  StandaloneResult result;
  if (const auto* success = report ? std::get_if<ReportSuccess>(&*report) : nullptr) {
    result.outcome = RunOutcome::succeeded;
    result.message = success->details.summary;
    result.deployment_id = success->details.external_execution_id;
    result.outputs = success->output_variables;
  } else if (const auto* failure = report ? std::get_if<ReportFailure>(&*report) : nullptr) {
    result.outcome = RunOutcome::failed;
    result.failure_type = failure->type;
    result.message = failure->message;
    result.deployment_id = failure->external_execution_id;
  } else if (report && std::holds_alternative<ReportProgress>(*report)) {
    result.outcome = RunOutcome::continued;
  }
  return result;
}

StandaloneResult run_standalone(const ElastigroupPorts& ports,
                                const ElastigroupExecutor::Options& options,
                                const std::string& deployment_name, const DeploymentSpec& spec) {
  CapturingReporter reporter;
  WithoutPipelineReports events(ports.events);
  ElastigroupPorts with_capture{ports.spot,    ports.ec2, ports.codedeploy, reporter,
                                ports.secrets, events,    ports.clock,      ports.budget};
  ElastigroupExecutor executor(with_capture, options);
  RunOutcome outcome =
      executor.run(ElastigroupJob{deployment_name, spec, std::nullopt}, TimePoint::max());
  StandaloneResult result = result_of(reporter.report());
  if (result.outcome != RunOutcome::failed) result.outcome = outcome;
  result.cost = events.cost();
  return result;
}

}  // namespace bluegreen::elastigroup
