// The Elastigroup flow's pacing, from optional environment variables (the Lambda function and
// `bluegreen deploy` with PROVIDER=elastigroup read the same ones):
//
//   BLUEGREEN_POLL_SECONDS     least time between two cloud requests while waiting
//                              (default 10: at most 6 requests a minute); polling rounds
//                              start 1.5 times and grow to 6 times this apart
//   BLUEGREEN_RESERVE_SECONDS  how long before an invocation's deadline the flow stops and
//                              hands over with a continuation token (default 30)
//   BLUEGREEN_CLEANUP_SECONDS  after a failure, how long cleanup may wait for the greens to
//                              go away (default 300)
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "engine/elastigroup_executor.h"

namespace bluegreen::elastigroup {

using GetEnv = std::function<std::optional<std::string>(const char* name)>;

// The process environment.
std::optional<std::string> process_getenv(const char* name);

// Sets in `options` what the variables above say. Errors are invalid_input and name the
// variable.
Result<void> apply_pacing_environment(const GetEnv& getenv, ElastigroupExecutor::Options& options);

}  // namespace bluegreen::elastigroup
