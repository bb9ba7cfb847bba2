// The cost of a PROVIDER=elastigroup deployment: how long blue and green ran together (the
// overlap, from the plan's greens_since to its report) and what Spot says the group cost over
// that window (its costs' `actual`) against the same running hours on demand (`potential`),
// as a DeploymentCost (core/deployment_cost.h) and as part of the plan's report.
// ElastigroupProvider asks Spot once, when the plan reports; these functions only decide.
//
// Spot's costs lag behind usage: a window Spot has nothing for yet (no items, or zero running
// hours) gives no money and a note that says so, never a zero. A failed request gives a note
// naming its cause; it never changes the deployment's outcome.
#pragma once

#include <optional>

#include "adapters/elastigroup/elastigroup_ports.h"
#include "adapters/elastigroup/request_plan.h"
#include "core/deployment_cost.h"

namespace bluegreen::elastigroup {

// How long the one costs request may take; a run that must end sooner gives it less.
inline constexpr Duration kCostRequestTime = std::chrono::seconds(15);

// What the plan's report leads to: the overlap began (greens_since is set) and the report is
// a success or a failure (a hand-over prices nothing: the deployment goes on).
bool prices_overlap(const FlowState& state, const Report& report);

// The overlap's cost from Spot's answer for [state.greens_since, ended]: the instances that ran
// together are blue's (state.blue_count) and the greens (the target capacity, or as many as
// were seen). `costs` is Spot's answer or why there is none (its message shown as is: the
// caller has taken any secret out).
DeploymentCost spot_overlap_cost(const FlowState& state, TimePoint ended,
                                 const Result<SpotCosts>& costs);

// The cost in the report CodePipeline gets: a success's summary ends with the cost line
// (within CodePipeline's 2048 characters) and, when Spot had costs, it sets the output
// variables DeploymentCost and OnDemandCost (USD, "0.0123"); a failure's message ends with the
// cost line when the money is known. A hand-over is left as it is.
void add_cost(Report& report, const DeploymentCost& cost);

}  // namespace bluegreen::elastigroup
