// ElastigroupCloud: the real cloud behind the Elastigroup request plan's ports, built once per
// process from the environment (AWS credentials chain and region, endpoint overrides
// AWS_ENDPOINT_URL[_<SERVICE>], SPOT_API_URL, CA bundle). The Lambda bootstrap and the CLI
// both use it; each supplies its own EventSink and, for the CLI, its own PipelineReporter.
//
// Not copyable; the ports it hands out live as long as it does.
#pragma once

#include <memory>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "adapters/elastigroup/elastigroup_standalone.h"
#include "core/clock.h"
#include "core/error.h"

namespace bluegreen::elastigroup {

class ElastigroupCloud final : public CloudConnection {
 public:
  // Errors: invalid_input when the region cannot be found (AWS_REGION) or an endpoint
  // override is malformed.
  static Result<std::unique_ptr<ElastigroupCloud>> from_environment(Clock& clock);
  ~ElastigroupCloud() override;
  ElastigroupCloud(const ElastigroupCloud&) = delete;
  ElastigroupCloud& operator=(const ElastigroupCloud&) = delete;

  // Ports that report to CodePipeline.
  ElastigroupPorts ports(EventSink& events);
  // Ports that report somewhere else (the CLI's terminal).
  ElastigroupPorts ports(EventSink& events, PipelineReporter& reporter) override;

 private:
  struct Parts;
  explicit ElastigroupCloud(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// `bluegreen deploy` with PROVIDER=elastigroup: runs the flow to its end against the real
// cloud (from the environment), publishing its events to `events`, and returns the outcome instead
// of reporting it to CodePipeline. `deployment_name` plays the job id's part: the same name joins
// the same deployment. Errors: as ElastigroupCloud::from_environment.
Result<StandaloneResult> deploy_with_elastigroup(const DeploymentSpec& spec,
                                                 const std::string& deployment_name,
                                                 EventSink& events, Clock& clock,
                                                 const ElastigroupExecutor::Options& options = {});

}  // namespace bluegreen::elastigroup
