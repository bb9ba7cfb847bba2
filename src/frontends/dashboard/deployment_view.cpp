#include "frontends/dashboard/deployment_view.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/deployment_json.h"
#include "core/flow.h"

namespace bluegreen::dashboard {
namespace {

using nlohmann::json;

// The steps the deployment's TIMEOUT bounds: everything until green serves.
bool bounded_by_timeout(Step step) {
  return step <= Step::after_allow_traffic;
}

std::string health_progress(const Deployment& d) {
  int healthy = 0;
  int weakest = d.spec.healthy_threshold;
  for (const auto& instance : d.green) {
    auto it = d.health_streak.find(instance.id);
    int streak = it == d.health_streak.end() ? 0 : it->second;
    if (streak >= d.spec.healthy_threshold) ++healthy;
    weakest = std::min(weakest, streak);
  }
  std::string text = fmt::format(
      "health checks: {} of {} green instance(s) healthy; {} of {} good answers in a row so far",
      healthy, d.green.size(), weakest, d.spec.healthy_threshold);
  if (!d.health_hint.empty()) {
    text += ". " + d.health_hint;
  } else if (!d.health_last.empty()) {
    const auto& [instance, seen] = *d.health_last.begin();
    text += fmt::format(" (last problem, {}: {})", instance, seen);
  }
  return text;
}

// "ApplicationStart (scripts/start.sh) on d-1-1, d-1-2": the hooks running now, each with
// the instances it runs on.
std::string running_hooks_text(const Deployment& d) {
  std::vector<std::pair<std::string, std::vector<std::string>>> hooks;
  for (const auto& hook : d.running_hooks) {
    std::string name = fmt::format("{} ({})", hook.lifecycle_event, hook.script);
    auto it = std::ranges::find(hooks, name, &decltype(hooks)::value_type::first);
    if (it == hooks.end()) it = hooks.insert(hooks.end(), {name, {}});
    it->second.push_back(hook.instance_id);
  }
  std::vector<std::string> parts;
  for (const auto& [name, instances] : hooks) {
    parts.push_back(fmt::format("{} on {}", name, fmt::join(instances, ", ")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

// The steps PROVIDER=asg spends a while on in AWS (Auto Scaling groups, CodeDeploy, target
// groups); the provider's stage (Deployment::cloud) says where it stands within them. In the
// others the flow waits on itself: the health gate's count, promotion, keep_blue.
bool auto_scaling_works_in(Step step) {
  switch (step) {
    case Step::launch_green:
    case Step::install:
    case Step::show_preview:
    case Step::route_to_green:
    case Step::drain_blue:
    case Step::terminate_blue:
    case Step::route_to_blue:
    case Step::hide_preview:
    case Step::drain_green:
    case Step::terminate_green:
      return true;
    default:
      return false;
  }
}

// "launch the green fleet (EC2 Auto Scaling provider, stage launch_green)".
std::string with_auto_scaling_stage(const Deployment& d, const std::string& what) {
  const CloudProgress progress = d.cloud.value_or(CloudProgress{});
  std::string text = fmt::format("{} (EC2 Auto Scaling provider, stage {}", what,
                                 progress.flow_phase.empty() ? "starting" : progress.flow_phase);
  if (d.step == Step::install && !progress.codedeploy_deployment_id.empty()) {
    text += ", CodeDeploy deployment " + progress.codedeploy_deployment_id;
  }
  return text + ")";
}

std::string awaiting_promotion(const Deployment& d) {
  if (d.spec.provider != Provider::asg) {
    return "promotion: green is on the preview listener until someone promotes it";
  }
  return d.spec.preview_target_group_arn.empty()
             ? "promotion: green serves nothing until someone promotes it"
             : "promotion: green is in the preview target group until someone promotes it";
}

}  // namespace

std::optional<Waiting> waiting_on(const Deployment& d) {
  if (d.finished_running()) return std::nullopt;
  if (traits_of(d.spec.provider).moves_traffic) {
    // The Elastigroup request plan decides within the step; its phase says what it waits on.
    const bool started = d.cloud && !d.cloud->flow_phase.empty();
    return Waiting{fmt::format("Elastigroup flow: {}", started ? d.cloud->flow_phase : "starting"),
                   d.deadline, "TIMEOUT"};
  }
  auto action = next_action(d);
  if (!action) return std::nullopt;
  Waiting waiting{describe(*action), std::nullopt, ""};
  if (!d.running_hooks.empty()) waiting.what = "hook " + running_hooks_text(d);
  if (d.spec.provider == Provider::asg && auto_scaling_works_in(d.step)) {
    waiting.what = with_auto_scaling_stage(d, waiting.what);
  }
  switch (d.step) {
    case Step::check_health:
      waiting.what = health_progress(d);
      break;
    case Step::await_promotion:
      waiting.what = awaiting_promotion(d);
      break;
    case Step::keep_blue:
      waiting.what = "keep blue, so a rollback switches back at once";
      waiting.until = d.wait_until;
      waiting.bound = "BLUE_TERMINATION_WAIT";
      return waiting;
    case Step::drain_blue:
    case Step::drain_green:
      waiting.until = d.wait_until;
      waiting.bound = "DRAIN_TIMEOUT";
      return waiting;
    case Step::before_block_traffic:
    case Step::after_block_traffic:
    case Step::stop_blue:
    case Step::stop_green:
      waiting.until = d.wait_until;
      waiting.bound = "hook limit";
      return waiting;
    default:
      break;
  }
  if (bounded_by_timeout(d.step)) {
    waiting.until = d.deadline;
    waiting.bound = "TIMEOUT";
  }
  return waiting;
}

json deployment_view_json(const Deployment& d, TimePoint now, bool takes_requests) {
  json view = to_json(d);
  if (auto waiting = waiting_on(d)) {
    view["waitingOn"] = {{"what", waiting->what},
                         {"until", waiting->until ? json(to_iso8601(*waiting->until)) : json()},
                         {"bound", waiting->bound}};
  } else {
    view["waitingOn"] = nullptr;
  }
  // Where Spot and CodeDeploy move the traffic (PROVIDER=elastigroup), the service takes no
  // promote or rollback (DeploymentService::pass_on); where the flow moves it, it takes both
  // while a flow of the server runs it.
  const bool offered = takes_requests && !traits_of(d.spec.provider).moves_traffic;
  bool may_roll_back = offered && can_roll_back(d).has_value();
  view["actions"] = {{"promote", offered && can_promote(d).has_value()},
                     {"rollback", may_roll_back && d.traffic_moved},
                     {"abort", may_roll_back && !d.traffic_moved}};
  view["serverTime"] = to_iso8601(now);
  return view;
}

}  // namespace bluegreen::dashboard
