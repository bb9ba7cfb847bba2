// One invocation of a PROVIDER=asg CodePipeline job: the one flow (core/flow.h) on the engine's
// Executor with AsgProvider (adapters/asg/asg_provider.h), its record carried from invocation to
// invocation in the continuation token (adapters/asg/asg_token.h). It ends with exactly one
// report: success (GreenIdentifier, GreenGroup and the CodeDeploy DeploymentId as output
// variables), failure (the deployment's error, after its clean-up or rollback), or a hand-over
// once the invocation nears its end (the reserve before it, at most a third of the invocation).
//
// Invariants:
// 1. The GreenIdentifier comes from the job id, so a job delivered again without its token
//    (an invocation that died before it reported) finds the green group it made and creates
//    none twice.
// 2. Every wait of the run (the provider's polls, keep_blue, the health gate's spacing) ends
//    before the invocation does: the run hands over and the next invocation carries on.
// 3. No manual step waits on a Lambda: PROMOTION=manual is refused here (nobody can reach the
//    function to promote), naming the server as the way to run it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/asg/asg_ports.h"
#include "adapters/elastigroup/elastigroup_executor.h"

namespace bluegreen::lambda {

using OpenAsgCloud = std::function<Result<std::unique_ptr<asg::AsgCloud>>()>;

elastigroup::RunOutcome run_asg_job(const std::string& job_id, const DeploymentSpec& spec,
                                    const std::optional<std::string>& continuation_token,
                                    const OpenAsgCloud& open_cloud,
                                    elastigroup::ElastigroupPorts& ports,
                                    const elastigroup::CloudRunOptions& options,
                                    TimePoint must_end_by);

}  // namespace bluegreen::lambda
