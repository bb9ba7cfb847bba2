#include "engine/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "core/overloaded.h"
#include "engine/traffic_watch.h"

namespace bluegreen {
namespace {

// How often a waiting deployment looks for promote and rollback requests: small enough that
// a rollback during keep_blue feels instant, large enough to cost nothing.
constexpr Duration kInboxSlice{20};

// How often a watched wait samples the proxy's counters: a trip restores blue within this.
constexpr Duration kWatchInterval{250};

input::Failed failed(Error error, std::vector<HookResult> results = {}) {
  return input::Failed{std::move(error), std::move(results)};
}

const std::vector<Instance>& instances_of(const Deployment& d, Colour colour) {
  static const std::vector<Instance> none;
  if (colour == Colour::green) return d.green;
  return d.blue ? d.blue->instances : none;
}

// Steps whose record must be durable before their action runs: up to and including the
// switch, a deployment the journal cannot follow stops while blue still serves.
bool before_the_switch(Step step) {
  return !is_unwinding(step) && step <= Step::route_to_green;
}

// Waits between retries of a journal write that failed after the switch (1.5 s in all): long
// enough for a busy database, short enough not to hold a deployment on a full disk.
constexpr Duration kJournalRetries[] = {Duration{100}, Duration{200}, Duration{400}, Duration{800}};

std::string fleet_of(const Deployment& d, Colour colour) {
  if (colour == Colour::green) return d.id;
  return d.blue ? d.blue->fleet_id : std::string();
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

void Inbox::post(InputEvent request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(request));
}

std::optional<InputEvent> Inbox::take() {
  std::lock_guard lock(mutex_);
  if (requests_.empty()) return std::nullopt;
  InputEvent request = std::move(requests_.front());
  requests_.pop_front();
  return request;
}

std::optional<InputEvent> Inbox::wait_until(Clock& clock, TimePoint until) {
  for (;;) {
    if (auto request = take()) return request;
    TimePoint now = clock.now();
    if (now >= until) return std::nullopt;
    clock.sleep_until(std::min(until, now + kInboxSlice));
  }
}

Executor::Executor(ExecutorPorts ports, std::filesystem::path bundles_dir)
    : local_(ports),
      clock_(ports.clock),
      journal_(ports.journal),
      sink_(ports.sink),
      bundles_dir_(std::move(bundles_dir)) {}

Executor::Executor(FleetProvider& provider, Clock& clock, Journal& journal, EventSink& sink,
                   ProviderRun run)
    : provider_(&provider), provider_run_(run), clock_(clock), journal_(journal), sink_(sink) {}

Deployment Executor::run(Deployment deployment, Inbox& inbox) {
  return drive(start(std::move(deployment), clock_.now()), inbox);
}

Deployment Executor::resume(Deployment deployment, Inbox& inbox,
                            std::optional<std::string> routed_fleet) {
  // The record may name a fleet none of whose instances is left (a roll back went further
  // than the journal could follow); the deployment's other fleet, if it runs, is what serves.
  auto runs = [&](const std::string& fleet_id) {
    if (!local_) return true;  // a provider's fleets are its own to find again
    return std::ranges::any_of(local().fleet.list(),
                               [&](const Instance& i) { return i.fleet_id == fleet_id; });
  };
  if (routed_fleet && !runs(*routed_fleet)) {
    std::string other =
        *routed_fleet == deployment.id ? fleet_of(deployment, Colour::blue) : deployment.id;
    if (!other.empty() && runs(other)) routed_fleet = other;
  }
  return drive(step(std::move(deployment),
                    Input{clock_.now(), input::Resume{std::move(routed_fleet)}}),
               inbox);
}

Deployment Executor::drive(Transition transition, Inbox& inbox) {
  for (;;) {
    auto durable = record(transition);
    if (!transition.action) return std::move(transition.deployment);
    InputEvent outcome;
    if (!durable && before_the_switch(transition.deployment.step)) {
      // A restart would read an older step than the one about to run; before the switch
      // that only costs this deployment, after it the restart could undo a switch whose blue
      // is gone. So the deployment stops here and blue keeps serving.
      outcome = failed(durable.error().with_context(
          "journal: the deployment cannot be recorded, so it stops before the switch"));
    } else if (auto request = inbox.take()) {
      outcome = std::move(*request);
    } else {
      outcome = perform(transition.deployment, *transition.action, inbox);
      // The provider saved its state; the step carries on at the next start.
      if (std::holds_alternative<input::Suspended>(outcome)) {
        return std::move(transition.deployment);
      }
    }
    transition = step(std::move(transition.deployment), Input{clock_.now(), outcome});
  }
}

Result<void> Executor::record(const Transition& transition) {
  for (const auto& event : transition.events) {
    sink_.publish(event);
    if (auto appended = journal_.append(event); !appended) {
      // The record below still carries the state; a lost log line is not worth failing for.
      sink_.publish(DeploymentEvent{event.deployment_id, event.at, event.phase,
                                          EventKind::warning,
                                          "journal: " + appended.error().message, ""});
    }
  }
  const Deployment& d = transition.deployment;
  auto saved = journal_.save(d);
  if (!saved && d.traffic_moved && !before_the_switch(d.step) && transition.action) {
    saved = retried(
        d, [&] { return journal_.save(d); }, saved);
  }
  if (!saved) warn(d, "journal: could not save the deployment: " + saved.error().message);
  sink_.update(d);
  return saved;
}

Result<void> Executor::retried(const Deployment& d, const std::function<Result<void>()>& write,
                               Result<void> first) {
  Result<void> result = std::move(first);
  for (Duration pause : kJournalRetries) {
    if (result) break;
    warn(d, fmt::format("journal: {}; retrying in {} ms", result.error().message, pause.count()));
    clock_.sleep_for(pause);
    result = write();
  }
  return result;
}

void Executor::warn(const Deployment& deployment, std::string message) {
  sink_.publish(DeploymentEvent{deployment.id, clock_.now(), deployment.phase,
                                      EventKind::warning, std::move(message), ""});
}

InputEvent Executor::perform_by_provider(Deployment& d, const Action& action, Inbox& inbox) {
  if (provider_ == nullptr) {
    return failed(Error{ErrorKind::internal,
                        fmt::format("PROVIDER {}: no provider to run it", to_string(d.spec.provider))});
  }
  bool journal_warned = false;
  ProviderCall call{
      d,
      [&](const DeploymentEvent& event) {
        sink_.publish(event);
        if (auto appended = journal_.append(event); !appended) {
          warn(d, "journal: " + appended.error().message);
        }
      },
      [&] {
        // A record that cannot be saved costs the resume point, not the run: said once.
        if (auto saved = journal_.save(d); !saved && !journal_warned) {
          journal_warned = true;
          warn(d, "journal: could not save the deployment: " + saved.error().message +
                      "; a restart may not be able to resume it");
        }
        sink_.update(d);
      },
      provider_run_.must_end_by,
      provider_run_.stop};
  FleetProvider& provider = *provider_;
  return std::visit(
      Overloaded{
          [&](const action::LaunchGreen&) { return provider.launch_green(call); },
          [&](const action::RunHooks& hooks) -> InputEvent {
            if (hooks.colour != Colour::green || hooks.lifecycle_events != install_lifecycle_events()) {
              return failed(Error{ErrorKind::internal, "the provider runs no hook of the flow's"});
            }
            return provider.install(call);
          },
          [&](const action::Route& route) -> InputEvent {
            if (route.fleet_id != d.id) {
              return failed(Error{ErrorKind::internal, "the provider moves traffic to green only"});
            }
            return provider.move_traffic(call);
          },
          [&](const action::Terminate& terminate_action) -> InputEvent {
            return terminate_action.colour == Colour::blue ? provider.retire_blue(call)
                                                           : provider.clean_up(call);
          },
          [&](const action::Wait& wait) -> InputEvent {
            if (auto request = inbox.wait_until(clock_, wait.until)) return *request;
            return input::WaitEnded{};
          },
          [&](const auto& other) -> InputEvent {
            return failed(Error{ErrorKind::internal,
                                fmt::format("PROVIDER {} does not {}", to_string(d.spec.provider),
                                            describe(Action{other}))});
          },
      },
      action);
}

InputEvent Executor::perform(Deployment& d, const Action& action, Inbox& inbox) {
  if (!local_ || d.spec.provider != Provider::local) return perform_by_provider(d, action, inbox);
  return std::visit(
      Overloaded{
          [&](const action::FetchRevision&) -> InputEvent {
            auto destination = bundles_dir_ / d.id;
            std::error_code ec;
            std::filesystem::remove_all(destination, ec);
            std::filesystem::create_directories(destination, ec);
            if (ec) {
              return failed(
                  Error{ErrorKind::internal,
                        fmt::format("cannot create {}: {}", destination.string(), ec.message())});
            }
            auto bundle = local().fetcher.fetch(d.spec.revision, destination, d.deadline);
            if (!bundle) return failed(bundle.error().with_context("fetch revision"));
            return input::RevisionFetched{bundle->root, bundle->description};
          },
          [&](const action::LaunchGreen& launch) -> InputEvent {
            auto instances = local().fleet.launch(
                LaunchRequest{.fleet_id = d.id,
                              .count = launch.count,
                              .tags = launch.tags,
                              .isolation = d.spec.isolation.value_or(Isolation::none),
                              .app_port = app_port_of(d.spec)});
            if (!instances) return failed(instances.error().with_context("launch green"));
            return input::GreenLaunched{*instances};
          },
          [&](const action::RunHooks& hooks) -> InputEvent { return run_hooks(d, hooks); },
          [&](const action::CheckHealth& check) -> InputEvent {
            return check_health(d, check, inbox);
          },
          [&](const action::Preview& preview) -> InputEvent {
            if (preview.fleet_id) local().traffic.register_fleet(*preview.fleet_id, d.green);
            local().traffic.preview(preview.fleet_id);
            return input::ActionDone{};
          },
          [&](const action::Route& route) -> InputEvent {
            Colour colour = route.fleet_id == d.id ? Colour::green : Colour::blue;
            if (colour == Colour::green && route.percent < 100) {
              // A step below 100 is not recorded as green serving: a restart during it rolls
              // back to blue, which still gets most of the traffic.
              local().traffic.register_fleet(route.fleet_id, d.green);
              local().traffic.warm(route.fleet_id);
              local().traffic.split(TrafficSplit{route.fleet_id, route.percent});
              return input::ActionDone{};
            }
            // Recorded before the switch: a restart that finds green named here keeps it.
            auto write = [&] {
              return journal_.set_serving(d.spec.group_id, route.fleet_id);
            };
            auto saved = retried(d, write, write());
            if (!saved) {
              if (colour == Colour::green) {
                return failed(saved.error().with_context(
                    "journal: cannot record that green serves, so traffic stays on blue"));
              }
              warn(d, "journal: could not record the serving fleet: " + saved.error().message);
            }
            local().traffic.register_fleet(route.fleet_id, instances_of(d, colour));
            local().traffic.warm(route.fleet_id);
            local().traffic.route(route.fleet_id);
            return input::ActionDone{};
          },
          [&](const action::Drain& drain) -> InputEvent {
            return input::Drained{local().traffic.drain(drain.fleet_id, drain.until)};
          },
          [&](const action::Wait& wait) -> InputEvent {
            if (wait.watch_traffic) return watched_wait(d, wait, inbox);
            if (auto request = inbox.wait_until(clock_, wait.until)) return *request;
            return input::WaitEnded{};
          },
          [&](const action::Terminate& terminate_action) -> InputEvent {
            return terminate(d, terminate_action.colour);
          },
      },
      action);
}

InputEvent Executor::watched_wait(const Deployment& d, const action::Wait& wait, Inbox& inbox) {
  TrafficWatch watch(d.spec, fleet_of(d, Colour::blue), d.id);
  for (;;) {
    if (auto tripped = watch.sample(local().traffic.stats(), clock_.now())) {
      return input::TrafficTripped{std::move(*tripped)};
    }
    const TimePoint now = clock_.now();
    if (now >= wait.until) return input::WaitEnded{};
    if (auto request = inbox.wait_until(clock_, std::min(wait.until, now + kWatchInterval))) {
      return *request;
    }
  }
}

InputEvent Executor::run_hooks(const Deployment& d, const action::RunHooks& hooks) {
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
    DeploymentEvent event{d.id,
                          clock_.now(),
                          d.phase,
                          ended && !hook_passed(hook) ? EventKind::error : EventKind::info,
                          ended ? hook_outcome_text(hook) : hook_started_text(hook),
                          hook.instance_id};
    sink_.publish(event);
    if (auto appended = journal_.append(event); !appended) {
      warn(d, "journal: " + appended.error().message);
    }
    sink_.update(live);
  };
  std::vector<HookResult> results;
  auto ran = local().installer.run(bundle, instances, hooks.lifecycle_events, context,
                                  hooks.deadline, results);
  std::lock_guard lock(mutex);  // a late call of on_hook must not race the reads below
  bool all_reported = reported == results.size();
  if (!ran) {
    input::Failed outcome = failed(ran.error(), std::move(results));
    outcome.reported = all_reported;
    return outcome;
  }
  return input::HooksRan{std::move(results), all_reported};
}

InputEvent Executor::check_health(const Deployment& d, const action::CheckHealth& check,
                                  Inbox& inbox) {
  if (auto request = inbox.wait_until(clock_, check.not_before)) return *request;
  // Probes run side by side (a bounded number of threads) so that a round over a large fleet
  // costs about one probe, not one per instance.
  const TimePoint deadline = std::min(clock_.now() + check.probe_timeout, d.deadline);
  input::HealthChecked result;
  result.checks.resize(d.green.size());
  std::atomic<std::size_t> next{0};
  auto probe_some = [&] {
    for (std::size_t i = next++; i < d.green.size(); i = next++) {
      const Instance& instance = d.green[i];
      auto answer = local().probe.check(instance, d.spec.health_check_path, deadline);
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

InputEvent Executor::terminate(const Deployment& d, Colour colour) {
  std::string fleet_id = fleet_of(d, colour);
  // The record's list, and whatever the fleet knows under this fleet id: a launch that
  // failed half-way may have started instances the record never heard of.
  std::set<std::string> ids;
  for (const auto& instance : instances_of(d, colour)) ids.insert(instance.id);
  for (const auto& instance : local().fleet.list()) {
    if (instance.fleet_id == fleet_id) ids.insert(instance.id);
  }
  auto stopped = local().fleet.terminate(std::vector<std::string>(ids.begin(), ids.end()));
  local().traffic.remove_fleet(fleet_id);
  if (!stopped) {
    return failed(stopped.error().with_context(fmt::format("terminate {}", to_string(colour))));
  }
  std::error_code ec;
  if (!fleet_id.empty()) std::filesystem::remove_all(bundles_dir_ / fleet_id, ec);
  return input::ActionDone{};
}

}  // namespace bluegreen
