// A PROVIDER=asg deployment run as a CodePipeline job keeps no journal: between invocations
// its record lives in the job's continuation token. The token holds what the flow and the
// provider need to carry on where the last invocation stopped (the step and its phase, the
// deadline and the step's own times, whether traffic moved, the instances, the provider's
// saved state, the cause being unwound); the spec comes from the job's UserParameters again.
//
// Invariants:
// 1. A record read back from its token resumes the step it was in with the same provider state,
//    so the resumed step creates nothing twice (asg_provider.h invariant 2).
// 2. The token is at most kMaxAsgTokenLength characters (CodePipeline's limit). When a fleet
//    is too large for that, blue's instance ids go first (the provider finds blue by its group),
//    then the health streaks (the health gate counts again); the step, the times, the traffic
//    flag and the provider's state always fit.
// 3. No secret: the spec, which may hold one, is never in it.
#pragma once

#include <string>

#include "core/deployment.h"
#include "core/error.h"

namespace bluegreen::asg {

inline constexpr std::size_t kMaxAsgTokenLength = 2048;

std::string to_asg_token(const Deployment& deployment);

// Restores into `deployment` (made by new_deployment() from the job's spec) where the token's
// record stood. Errors (invalid_input) say what is wrong with the token.
Result<void> resume_from_asg_token(Deployment& deployment, const std::string& token);

// Whether a continuation token is one of PROVIDER=asg's.
bool is_asg_token(const std::string& token);

}  // namespace bluegreen::asg
