// The Elastigroup request plan's pacing, from optional environment variables (the Lambda function
// and `bluegreen deploy` with PROVIDER=elastigroup read the same ones):
//
//   BLUEGREEN_POLL_SECONDS     the first pause between two polls of the same thing (default
//                              2); pauses grow to 30 times this while nothing changes, and a
//                              long wait averages one request per 6 times this (12 s: five
//                              a minute). Steps that follow one another are never paced.
//   BLUEGREEN_RESERVE_SECONDS  how long before an invocation's deadline the flow stops and
//                              hands over with a continuation token (default 30, at most a
//                              third of the invocation)
//   BLUEGREEN_CLEANUP_SECONDS  after a failure, how long cleanup may wait for the greens to
//                              go away (default 300)
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "core/error.h"

namespace bluegreen::elastigroup {

using GetEnv = std::function<std::optional<std::string>(const char* name)>;

// The process environment.
std::optional<std::string> process_getenv(const char* name);

// Sets in `options` what the variables above say. Errors are invalid_input and name the
// variable.
Result<void> apply_pacing_environment(const GetEnv& getenv, ElastigroupExecutor::Options& options);

}  // namespace bluegreen::elastigroup
