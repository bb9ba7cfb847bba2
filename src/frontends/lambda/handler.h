// The function's handler: what `bootstrap` does with one invocation. CodePipelineHandler reads
// the CodePipeline job from the event and runs its deployment (PROVIDER=elastigroup: Spot and
// CodeDeploy; PROVIDER=asg: Auto Scaling, target groups and CodeDeploy, see asg_job.h) until
// the flow reports or the invocation's deadline nears (then the flow hands over with a
// continuation token).
//
// The invocation succeeds whenever CodePipeline was told something, including a failed
// deployment: the pipeline learns of failures through PutJobFailureResult, never through a
// crashed function. It fails (so that Lambda delivers the job again, and the flow resumes
// idempotently) only when no result could be delivered, or when the event is not a
// CodePipeline job at all.
#pragma once

#include <string>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "frontends/lambda/asg_job.h"
#include "frontends/lambda/runtime_api.h"

namespace bluegreen::lambda {

struct HandlerResult {
  bool ok = true;
  std::string body;    // the response payload when ok
  RuntimeError error;  // when not ok
};

class InvocationHandler {
 public:
  virtual ~InvocationHandler() = default;
  // Never throws.
  virtual HandlerResult handle(const Invocation& invocation) = 0;
};

// The handler names a custom runtime accepts in _HANDLER: the seed's "bluegreen.lambda_handler"
// (and "bluegreen"). Empty is accepted too (a local run without _HANDLER).
bool is_known_handler(std::string_view name);

class CodePipelineHandler final : public InvocationHandler {
 public:
  // `open_asg` opens the AWS calls of a PROVIDER=asg job (asg_job.h); none: such a job fails
  // naming what is missing.
  CodePipelineHandler(elastigroup::ElastigroupPorts ports,
                      elastigroup::ElastigroupExecutor::Options options,
                      OpenAsgCloud open_asg = nullptr);
  HandlerResult handle(const Invocation& invocation) override;

 private:
  elastigroup::ElastigroupPorts ports_;
  elastigroup::ElastigroupExecutor::Options options_;
  OpenAsgCloud open_asg_;
};

}  // namespace bluegreen::lambda
