// How `bootstrap` is configured: the Lambda environment, and optional tuning variables.
//
//   AWS_LAMBDA_RUNTIME_API     host:port of the Runtime API (set by Lambda; required)
//   _HANDLER                   must be bluegreen.lambda_handler (the seed's name) or empty
//   BLUEGREEN_POLL_SECONDS, BLUEGREEN_RESERVE_SECONDS, BLUEGREEN_CLEANUP_SECONDS
//                              the flow's pacing (adapters/elastigroup/elastigroup_pacing.h)
#pragma once

#include <string>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "adapters/elastigroup/elastigroup_pacing.h"
#include "core/error.h"

namespace bluegreen::lambda {

struct LambdaSettings {
  std::string runtime_api;
  std::string handler;
  elastigroup::ElastigroupExecutor::Options options;
};

using elastigroup::GetEnv;
using elastigroup::process_getenv;

// Errors are invalid_input and name the variable.
Result<LambdaSettings> settings_from_environment(const GetEnv& getenv);

}  // namespace bluegreen::lambda
