// DeploymentCost: what a deployment cost while its blue and green fleets ran together (the
// overlap): how long, on how many instances, and, for a PROVIDER=elastigroup deployment, what
// Spot charged for the group over that window against what the same running hours would have
// cost on demand. It is plain data in the Deployment record, set once when the deployment ends:
// by the flow (finish, core/flow.h) for a local or PROVIDER=asg deployment, from the record
// (overlap_cost below; no money: no bill is read); by the Elastigroup provider, from Spot's
// costs of the group (adapters/elastigroup/elastigroup_cost.h).
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"

namespace bluegreen {

struct Deployment;

struct DeploymentCost {
  Duration overlap{0};  // blue and green both ran this long; 0 when they never ran together
  int instances = 0;    // the instances that ran together: blue's and green's
  // overlap × instances. For a cloud deployment it is counted from the instances the flow saw,
  // not read from Spot's bill.
  double instance_seconds = 0;
  // PROVIDER=elastigroup, when Spot had costs for the window, in USD: the group's spot cost
  // (Spot's costs.actual) and the same running hours at on-demand prices (costs.potential).
  // A local deployment (it costs no money) and a PROVIDER=asg one (no bill is read) have none.
  std::optional<double> spot_usd;
  std::optional<double> on_demand_usd;
  // Why a cloud deployment's money is unknown, in words ("Spot has no costs for this window
  // yet: …", "could not read Spot's costs: …"); empty when known, and for a local deployment.
  std::string note;

  // on_demand - spot, when both are known.
  std::optional<double> saving_usd() const;
  // The saving as a percentage of the on-demand cost, when that is above zero.
  std::optional<double> saving_percent() const;
};

// The overlap of a deployment that ends at `ended`, from its record: from the start of its
// launch_green phase (its greens were launched then) until `ended` (blue terminated, or the
// greens removed), on blue's and green's instances. Zero when there was no blue fleet to run
// beside green; none when the deployment ended before launching greens.
std::optional<DeploymentCost> overlap_cost(const Deployment& deployment, TimePoint ended);

// US dollars as the cost is shown and sent to CodePipeline: four decimals ("0.0123"), or six
// for an amount above zero that four would show as "0.0000".
std::string usd_text(double usd);

// The cost in one line, for people: the CLI, `history`, the dashboard, CodePipeline's summary.
//   "blue and green ran together for 12 min 30 s on 4 instance(s) (0.83 instance-hours): spot
//    $0.0123, on demand $0.0456, saved $0.0333 (73%)"
//   "... (0.83 instance-hours); Spot has no costs for this window yet: ..."
//   "blue and green ran together for 4.2 s on 3 instance(s): 12.6 instance-seconds"  (local)
std::string describe(const DeploymentCost& cost);

}  // namespace bluegreen
