#include "engine/local_provider.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

namespace bluegreen {
namespace {

input::Failed provider_failure(Error error, std::vector<HookResult> results = {}) {
  return input::Failed{std::move(error), std::move(results)};
}

// What a failed probe's message says the service answered, in the words the health gate
// compares (see HealthProbe::check): "answered 404", "connection refused"; empty otherwise.
std::string probe_answer(const std::string& message) {
  if (message.ends_with(": connection refused")) return "connection refused";
  auto at = message.rfind(" answered ");
  if (at == std::string::npos) return "";
  std::string answer = message.substr(at + 1);
  bool numeric = answer.size() > 9 && std::all_of(answer.begin() + 9, answer.end(), ::isdigit);
  return numeric ? answer : "";
}

}  // namespace

LocalProvider::LocalProvider(LocalPorts ports, Clock& clock, std::filesystem::path bundles_dir)
    : ports_(ports), clock_(clock), bundles_dir_(std::move(bundles_dir)) {}

InputEvent LocalProvider::fetch_revision(ProviderCall& call) {
  const Deployment& d = call.deployment;
  auto destination = bundles_dir_ / d.id;
  std::error_code ec;
  std::filesystem::remove_all(destination, ec);
  std::filesystem::create_directories(destination, ec);
  if (ec) {
    return provider_failure(
        Error{ErrorKind::internal,
              fmt::format("cannot create {}: {}", destination.string(), ec.message())});
  }
  auto bundle = ports_.fetcher.fetch(d.spec.revision, destination, d.deadline);
  if (!bundle) return provider_failure(bundle.error().with_context("fetch revision"));
  return input::RevisionFetched{bundle->root, bundle->description};
}

InputEvent LocalProvider::launch_green(ProviderCall& call, const action::LaunchGreen& launch) {
  const Deployment& d = call.deployment;
  auto instances =
      ports_.fleet.launch(LaunchRequest{.fleet_id = d.id,
                                        .count = launch.count,
                                        .tags = launch.tags,
                                        .isolation = d.spec.isolation.value_or(Isolation::none),
                                        .app_port = app_port_of(d.spec)});
  if (!instances) return provider_failure(instances.error().with_context("launch green"));
  return input::GreenLaunched{*instances, ""};
}

InputEvent LocalProvider::run_hooks(ProviderCall& call, const action::RunHooks& hooks) {
  const Deployment& d = call.deployment;
  const auto& instances = instances_of(d, hooks.colour);
  if (instances.empty()) return input::HooksRan{};
  Bundle bundle{hooks.colour == Colour::green ? d.green_bundle_root : d.blue->bundle_root,
                hooks.colour == Colour::green ? d.revision : d.blue->fleet_id};
  LifecycleContext context{d.id, d.spec.app_name, d.spec.deployment_group, d.spec.group_id, {}};
  // Each hook is logged as it starts and ends, and live views see which hooks run now, so a
  // long install shows where it stands instead of one batch of results at its end.
  std::mutex mutex;
  Deployment live = d;
  std::size_t reported = 0;
  context.on_hook = [&](const HookResult& hook, bool ended) {
    std::lock_guard lock(mutex);
    std::erase_if(live.running_hooks, [&](const HookResult& running) {
      return running.instance_id == hook.instance_id &&
             running.lifecycle_event == hook.lifecycle_event && running.script == hook.script;
    });
    if (ended) {
      live.hooks.push_back(hook);
      ++reported;
    } else {
      live.running_hooks.push_back(hook);
    }
    call.publish(DeploymentEvent{d.id, clock_.now(), d.phase,
                                 ended && !hook_passed(hook) ? EventKind::error : EventKind::info,
                                 ended ? hook_outcome_text(hook) : hook_started_text(hook),
                                 hook.instance_id});
    call.show(live);
  };
  std::vector<HookResult> results;
  auto ran = ports_.installer.run(bundle, instances, hooks.lifecycle_events, context,
                                  hooks.deadline, results);
  std::lock_guard lock(mutex);  // a late call of on_hook must not race the reads below
  bool all_reported = reported == results.size();
  if (!ran) {
    input::Failed outcome = provider_failure(ran.error(), std::move(results));
    outcome.reported = all_reported;
    return outcome;
  }
  return input::HooksRan{std::move(results), all_reported, ""};
}

InputEvent LocalProvider::gate_health(ProviderCall& call, const action::CheckHealth& check) {
  const Deployment& d = call.deployment;
  // Probes run side by side (a bounded number of threads) so that a round over a large fleet
  // costs about one probe, not one per instance.
  const TimePoint deadline = std::min(clock_.now() + check.probe_timeout, d.deadline);
  input::HealthChecked result;
  result.checks.resize(d.green.size());
  std::atomic<std::size_t> next{0};
  auto probe_some = [&] {
    for (std::size_t i = next++; i < d.green.size(); i = next++) {
      const Instance& instance = d.green[i];
      auto answer = ports_.probe.check(instance, d.spec.health_check_path, deadline);
      std::string detail = answer ? "" : answer.error().message;
      result.checks[i] = HealthCheck{instance.id, answer.has_value(), detail, probe_answer(detail)};
    }
  };
  constexpr std::size_t kMaxProbeThreads = 16;
  std::vector<std::jthread> probers;
  for (std::size_t t = 1; t < std::min(kMaxProbeThreads, d.green.size()); ++t) {
    probers.emplace_back(probe_some);
  }
  probe_some();
  probers.clear();  // joins
  return result;
}

InputEvent LocalProvider::preview(ProviderCall& call, const action::Preview& preview) {
  if (preview.fleet_id) ports_.traffic.register_fleet(*preview.fleet_id, call.deployment.green);
  ports_.traffic.preview(preview.fleet_id);
  return input::ActionDone{};
}

InputEvent LocalProvider::move_traffic(ProviderCall& call, const action::Route& route) {
  const Deployment& d = call.deployment;
  Colour colour = route.fleet_id == d.id ? Colour::green : Colour::blue;
  ports_.traffic.register_fleet(route.fleet_id, instances_of(d, colour));
  ports_.traffic.warm(route.fleet_id);
  if (colour == Colour::green && route.percent < 100) {
    ports_.traffic.split(TrafficSplit{route.fleet_id, route.percent});
  } else {
    ports_.traffic.route(route.fleet_id);
  }
  return input::ActionDone{};
}

InputEvent LocalProvider::drain(ProviderCall& /*call*/, const action::Drain& drain) {
  return input::Drained{ports_.traffic.drain(drain.fleet_id, drain.until)};
}

InputEvent LocalProvider::retire_blue(ProviderCall& call) {
  return terminate(call.deployment, Colour::blue);
}

InputEvent LocalProvider::clean_up(ProviderCall& call) {
  return terminate(call.deployment, Colour::green);
}

std::vector<FleetTraffic> LocalProvider::traffic() const {
  return ports_.traffic.stats();
}

bool LocalProvider::fleet_runs(const std::string& fleet_id) const {
  return std::ranges::any_of(ports_.fleet.list(),
                             [&](const Instance& i) { return i.fleet_id == fleet_id; });
}

InputEvent LocalProvider::terminate(const Deployment& d, Colour colour) {
  std::string fleet_id = fleet_of(d, colour);
  std::set<std::string> ids;
  for (const auto& instance : instances_of(d, colour)) ids.insert(instance.id);
  for (const auto& instance : ports_.fleet.list()) {
    if (instance.fleet_id == fleet_id) ids.insert(instance.id);
  }
  auto stopped = ports_.fleet.terminate(std::vector<std::string>(ids.begin(), ids.end()));
  ports_.traffic.remove_fleet(fleet_id);
  if (!stopped) {
    return provider_failure(
        stopped.error().with_context(fmt::format("terminate {}", to_string(colour))));
  }
  std::error_code ec;
  if (!fleet_id.empty()) std::filesystem::remove_all(bundles_dir_ / fleet_id, ec);
  return input::ActionDone{};
}

}  // namespace bluegreen
