#include "core/deployment_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/deployment.h"

namespace bluegreen {
namespace {

std::string overlap_text(Duration overlap) {
  const long long ms = overlap.count();
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000);
  if (ms < 3'600'000) return fmt::format("{} min {} s", ms / 60'000, (ms / 1000) % 60);
  return fmt::format("{} h {} min", ms / 3'600'000, (ms / 60'000) % 60);
}

}  // namespace

std::optional<double> DeploymentCost::saving_usd() const {
  if (!spot_usd || !on_demand_usd) return std::nullopt;
  return *on_demand_usd - *spot_usd;
}

std::optional<double> DeploymentCost::saving_percent() const {
  auto saving = saving_usd();
  if (!saving || *on_demand_usd <= 0) return std::nullopt;
  return *saving / *on_demand_usd * 100;
}

std::optional<DeploymentCost> overlap_cost(const Deployment& d, TimePoint ended) {
  auto launch = std::ranges::find(d.phases, Phase::launch_green, &PhaseRecord::phase);
  if (launch == d.phases.end()) return std::nullopt;
  DeploymentCost cost;
  const std::size_t blue = d.blue ? d.blue->instances.size() : 0;
  if (blue == 0 || d.green.empty() || ended <= launch->started) return cost;
  cost.overlap = std::chrono::duration_cast<Duration>(ended - launch->started);
  cost.instances = static_cast<int>(blue + d.green.size());
  cost.instance_seconds = static_cast<double>(cost.overlap.count()) / 1000 * cost.instances;
  return cost;
}

std::string usd_text(double usd) {
  if (usd > 0 && usd < 0.00005) return fmt::format("{:.6f}", usd);
  return fmt::format("{:.4f}", usd);
}

std::string describe(const DeploymentCost& cost) {
  const bool cloud = cost.spot_usd.has_value() || !cost.note.empty();
  std::string text = cost.instances == 0
                         ? std::string("blue and green never ran together")
                         : fmt::format("blue and green ran together for {} on {} instance(s)",
                                       overlap_text(cost.overlap), cost.instances);
  if (!cloud) {
    if (cost.instances > 0) text += fmt::format(": {:.1f} instance-seconds", cost.instance_seconds);
    return text;
  }
  // Hours are the unit of Spot's bill; an overlap too short to show in them is said in seconds.
  if (cost.instance_seconds >= 36) {
    text += fmt::format(" ({:.2f} instance-hours)", cost.instance_seconds / 3600);
  } else if (cost.instances > 0) {
    text += fmt::format(" ({:.1f} instance-seconds)", cost.instance_seconds);
  }
  if (cost.spot_usd) {
    text += fmt::format(": spot ${}", usd_text(*cost.spot_usd));
    if (cost.on_demand_usd) text += fmt::format(", on demand ${}", usd_text(*cost.on_demand_usd));
    if (auto saving = cost.saving_usd(); saving && *saving >= 0) {
      text += fmt::format(", saved ${}", usd_text(*saving));
      if (auto percent = cost.saving_percent()) text += fmt::format(" ({:.0f}%)", *percent);
    } else if (saving) {
      text += fmt::format(", ${} more than on demand", usd_text(-*saving));
    }
  }
  if (!cost.note.empty()) text += "; " + cost.note;
  return text;
}

}  // namespace bluegreen
