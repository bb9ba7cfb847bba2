// How `bootstrap` is configured: the Lambda environment, and optional tuning variables.
//
//   AWS_LAMBDA_RUNTIME_API     host:port of the Runtime API (set by Lambda; required)
//   _HANDLER                   must be bluegreen.lambda_handler (the seed's name) or empty
//   BLUEGREEN_POLL_SECONDS     least time between two cloud requests while waiting
//                              (default 10: at most 6 requests a minute); polling rounds
//                              start 1.5 times and grow to 6 times this apart
//   BLUEGREEN_RESERVE_SECONDS  how long before the invocation's deadline the flow stops and
//                              hands over with a continuation token (default 30)
//   BLUEGREEN_CLEANUP_SECONDS  after a failure, how long cleanup may wait for the greens to
//                              go away (default 300)
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "engine/elastigroup_executor.h"

namespace bluegreen::lambda {

struct LambdaSettings {
  std::string runtime_api;
  std::string handler;
  elastigroup::ElastigroupExecutor::Options options;
};

using GetEnv = std::function<std::optional<std::string>(const char* name)>;

// The process environment.
std::optional<std::string> process_getenv(const char* name);

// Errors are invalid_input and name the variable.
Result<LambdaSettings> settings_from_environment(const GetEnv& getenv);

}  // namespace bluegreen::lambda
