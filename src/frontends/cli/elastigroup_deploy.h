// `bluegreen deploy` with PROVIDER=elastigroup: runs the seed's Spot Elastigroup + CodeDeploy
// flow from this process against the cloud named by the environment (AWS credentials chain,
// AWS_REGION, AWS_ENDPOINT_URL[_<SERVICE>], SPOT_API_URL), with no server and no CodePipeline.
// Progress goes to `progress`, one line per flow event (a JSON line each when `json_lines`);
// the last line written to `out` is the result object, as for the local provider.
#pragma once

#include <ostream>
#include <string>

#include "core/error.h"
#include "core/spec.h"
#include "frontends/cli/cli.h"

namespace bluegreen::cli {

// `spec` is the validated UserParameters. `deployment_name` plays the job id's
// part: running again with the same name joins the same deployment instead of starting one.
// Exit codes as for the local provider: 0 succeeded, 1 failed (what was started is stopped),
// 2 configuration error. An error: the flow could not start (the pacing variables or the
// cloud could not be set up from the environment); nothing was written to `out`.
Result<ExitCode> deploy_elastigroup(const DeploymentSpec& spec, const std::string& deployment_name,
                                    bool json_lines, std::ostream& out, std::ostream& progress);

}  // namespace bluegreen::cli
