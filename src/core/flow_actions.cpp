// What a deployment asks for in each step, and what it would accept now: the questions the
// executor and the server put to a record. The transitions are in flow.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "core/flow.h"
#include "core/overloaded.h"

namespace bluegreen {

ProviderTraits traits_of(Provider provider) {
  switch (provider) {
    case Provider::local:
      return {};
    case Provider::elastigroup:
      return ProviderTraits{.fetches_revision = true,
                            .installs_and_gates = true,
                            .moves_traffic = true,
                            .keeps_time = true,
                            .resumes_in_place = true,
                            .prices_overlap = true};
    case Provider::asg:
      // CodeDeploy fetches and installs; the flow gates, switches target groups, keeps blue
      // and rolls back, and a restart carries on with the groups the provider saved.
      return ProviderTraits{.fetches_revision = true, .resumes_in_place = true};
  }
  return {};
}

const std::vector<std::string>& install_lifecycle_events() {
  static const std::vector<std::string> events = {"DownloadBundle",   "BeforeInstall",
                                                  "Install",          "AfterInstall",
                                                  "ApplicationStart", "ValidateService"};
  return events;
}

std::string describe(const Action& action) {
  return std::visit(
      Overloaded{
          [](const action::FetchRevision&) -> std::string { return "fetch the revision"; },
          [](const action::LaunchGreen& a) -> std::string {
            if (a.count == 0) return "launch the green fleet";
            return fmt::format("launch {} green instance(s)", a.count);
          },
          [](const action::RunHooks& a) -> std::string {
            return fmt::format("run {} on {}", fmt::join(a.lifecycle_events, ", "),
                               to_string(a.colour));
          },
          [](const action::CheckHealth&) -> std::string { return "check green's health"; },
          [](const action::Preview& a) -> std::string {
            return a.fleet_id ? "show " + *a.fleet_id + " on the preview listener"
                              : "hide the preview listener";
          },
          [](const action::Route& a) -> std::string {
            return a.percent < 100
                       ? fmt::format("route {}% of traffic to {}", a.percent, a.fleet_id)
                       : "route traffic to " + a.fleet_id;
          },
          [](const action::Drain& a) -> std::string { return "drain " + a.fleet_id; },
          [](const action::Wait&) -> std::string { return "wait"; },
          [](const action::Terminate& a) -> std::string {
            return fmt::format("terminate {}", to_string(a.colour));
          },
      },
      action);
}

std::optional<Action> next_action(const Deployment& d) {
  std::string blue_id = d.blue ? d.blue->fleet_id : std::string();
  switch (d.step) {
    case Step::fetch_revision:
      return action::FetchRevision{};
    case Step::launch_green: {
      // A provider that owns its fleets sizes them itself (Spot: the group's capacity).
      action::LaunchGreen launch{traits_of(d.spec.provider).moves_traffic ? 0 : d.spec.capacity,
                                 {}};
      launch.tags = {{"GreenIdentifier", d.green_identifier},
                     {"bluegreen:deployment-id", d.id},
                     {"bluegreen:group", d.spec.group_id}};
      return launch;
    }
    case Step::install:
      return action::RunHooks{Colour::green, install_lifecycle_events(), d.deadline};
    case Step::check_health: {
      Duration probe = std::clamp(d.spec.health_check_interval, Duration(1000), Duration(5000));
      return action::CheckHealth{d.next_check, probe};
    }
    case Step::show_preview:
      return action::Preview{d.id};
    case Step::await_promotion:
      return action::Wait{d.deadline};
    case Step::before_allow_traffic:
      return action::RunHooks{Colour::green, {"BeforeAllowTraffic"}, d.deadline};
    case Step::route_to_green:
      return action::Route{d.id, traffic_percent(d)};
    case Step::traffic_step: {
      const bool watch = d.spec.watches_traffic() && d.blue.has_value();
      if (d.spec.promotion == Promotion::manual) return action::Wait{d.deadline, watch};
      return action::Wait{d.wait_until, watch};
    }
    case Step::after_allow_traffic:
      return action::RunHooks{Colour::green, {"AfterAllowTraffic"}, d.deadline};
    case Step::before_block_traffic:
      return action::RunHooks{Colour::blue, {"BeforeBlockTraffic"}, d.wait_until};
    case Step::drain_blue:
      return action::Drain{blue_id, d.wait_until};
    case Step::after_block_traffic:
      return action::RunHooks{Colour::blue, {"AfterBlockTraffic"}, d.wait_until};
    case Step::keep_blue:
      return action::Wait{d.wait_until, d.spec.watches_traffic()};
    case Step::stop_blue:
      return action::RunHooks{Colour::blue, {"ApplicationStop"}, d.wait_until};
    case Step::terminate_blue:
      return action::Terminate{Colour::blue};
    case Step::route_to_blue:
      return action::Route{blue_id};
    case Step::hide_preview:
      return action::Preview{std::nullopt};
    case Step::drain_green:
      return action::Drain{d.id, d.wait_until};
    case Step::stop_green:
      return action::RunHooks{Colour::green, {"ApplicationStop"}, d.wait_until};
    case Step::terminate_green:
      return action::Terminate{Colour::green};
    case Step::done:
      return std::nullopt;
  }
  return std::nullopt;
}

int traffic_percent(const Deployment& d) {
  const auto& steps = d.spec.traffic_steps;
  // Without a blue fleet there is nothing to split with: green gets everything at once.
  if (steps.empty() || !d.blue) return 100;
  return steps[static_cast<std::size_t>(
      std::clamp<int>(d.traffic_step, 0, static_cast<int>(steps.size()) - 1))];
}

Result<void> can_promote(const Deployment& d) {
  if (d.finished_running()) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} has ended ({})", d.id, to_string(d.status)));
  }
  if (d.spec.promotion != Promotion::manual) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} promotes itself (PROMOTION is auto)", d.id));
  }
  if (d.step != Step::show_preview && d.step != Step::await_promotion &&
      d.step != Step::traffic_step) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} is not waiting for promotion; it is in {}", d.id,
                            to_string(d.phase)));
  }
  return {};
}

Result<void> can_roll_back(const Deployment& d) {
  if (d.finished_running()) {
    std::string hint = d.status == DeploymentStatus::succeeded && d.blue
                           ? "; its blue fleet is terminated, so deploy the earlier revision again"
                           : "";
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} has ended ({}){}", d.id, to_string(d.status), hint));
  }
  if (is_unwinding(d.step)) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} is already in {}", d.id, to_string(d.phase)));
  }
  if (traits_of(d.spec.provider).moves_traffic) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} runs on PROVIDER {}, which retires blue itself: there "
                            "is no blue fleet to roll back to",
                            d.id, to_string(d.spec.provider)));
  }
  if (d.step == Step::stop_blue || d.step == Step::terminate_blue) {
    return fail(
        ErrorKind::conflict,
        fmt::format("deployment {} is terminating blue; there is nothing to roll back to", d.id));
  }
  if (d.traffic_moved && !d.blue) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} is the first of group {}: there is no blue fleet to "
                            "roll back to",
                            d.id, d.spec.group_id));
  }
  return {};
}

}  // namespace bluegreen
