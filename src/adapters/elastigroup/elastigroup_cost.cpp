#include "adapters/elastigroup/elastigroup_cost.h"

#include <string>

#include "core/text.h"

namespace bluegreen::elastigroup {
namespace {

constexpr std::size_t kMaxSummary = 2048;  // CodePipeline's executionDetails.summary
constexpr std::size_t kMaxMessage = 5000;  // CodePipeline's failureDetails.message

// `text` followed by the cost line, within `limit`: the text gives way, so that the cost is
// never what CodePipeline cuts off.
std::string with_cost(const std::string& text, const DeploymentCost& cost, std::size_t limit) {
  const std::string line = "; cost: " + describe(cost);
  if (line.size() >= limit) return text;
  return std::string(utf8_prefix(text, limit - line.size())) + line;
}

}  // namespace

bool prices_overlap(const FlowState& state, const Report& report) {
  return state.greens_since != TimePoint{} && (std::holds_alternative<ReportSuccess>(report) ||
                                               std::holds_alternative<ReportFailure>(report));
}

DeploymentCost spot_overlap_cost(const FlowState& state, TimePoint ended,
                                 const Result<SpotCosts>& costs) {
  DeploymentCost cost;
  cost.overlap =
      std::max(Duration::zero(), std::chrono::duration_cast<Duration>(ended - state.greens_since));
  const int greens = std::max(state.target_capacity, static_cast<int>(state.green_ids.size()));
  cost.instances = state.blue_count + greens;
  cost.instance_seconds = static_cast<double>(cost.overlap.count()) / 1000 * cost.instances;
  if (!costs) {
    cost.note = "could not read Spot's costs: " + costs.error().message;
  } else if (costs->running_hours <= 0) {
    cost.note =
        "Spot has no costs for this window yet: they lag behind usage, by hours at times (Spot "
        "does not publish a bound)";
  } else {
    cost.spot_usd = costs->actual_usd;
    if (costs->potential_usd > 0) {
      cost.on_demand_usd = costs->potential_usd;
    } else {
      cost.note = "Spot gave no on-demand price for this window";
    }
  }
  return cost;
}

void add_cost(Report& report, const DeploymentCost& cost) {
  if (auto* success = std::get_if<ReportSuccess>(&report)) {
    success->details.summary = with_cost(success->details.summary, cost, kMaxSummary);
    if (cost.spot_usd) success->output_variables["DeploymentCost"] = usd_text(*cost.spot_usd);
    if (cost.on_demand_usd) {
      success->output_variables["OnDemandCost"] = usd_text(*cost.on_demand_usd);
    }
  } else if (auto* failure = std::get_if<ReportFailure>(&report)) {
    if (cost.spot_usd) failure->message = with_cost(failure->message, cost, kMaxMessage);
  }
}

}  // namespace bluegreen::elastigroup
