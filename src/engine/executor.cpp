#include "engine/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "core/overloaded.h"
#include "engine/local_provider.h"
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

// Steps whose record must be durable before their action runs: up to and including the
// switch, a deployment the journal cannot follow stops while blue still serves.
bool before_the_switch(Step step) {
  return !is_unwinding(step) && step <= Step::route_to_green;
}

// Waits between retries of a journal write that failed after the switch (1.5 s in all): long
// enough for a busy database, short enough not to hold a deployment on a full disk.
// How often a wait of a provider's run looks whether the run must end (server shutdown).
constexpr Duration kRunEndCheck = std::chrono::milliseconds(200);
constexpr Duration kJournalRetries[] = {Duration{100}, Duration{200}, Duration{400}, Duration{800}};

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
    : owned_(std::make_unique<LocalProvider>(
          LocalPorts{ports.fleet, ports.fetcher, ports.installer, ports.probe, ports.traffic},
          ports.clock, std::move(bundles_dir))),
      provider_(owned_.get()),
      clock_(ports.clock),
      journal_(ports.journal),
      sink_(ports.sink) {}

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
  auto runs = [&](const std::string& fleet_id) { return provider_->fleet_runs(fleet_id); };
  if (routed_fleet && !runs(*routed_fleet)) {
    std::string other =
        *routed_fleet == deployment.id ? fleet_of(deployment, Colour::blue) : deployment.id;
    if (!other.empty() && runs(other)) routed_fleet = other;
  }
  return drive(
      step(std::move(deployment), Input{clock_.now(), input::Resume{std::move(routed_fleet)}}),
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
      sink_.publish(DeploymentEvent{event.deployment_id, event.at, event.phase, EventKind::warning,
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
  sink_.publish(DeploymentEvent{deployment.id, clock_.now(), deployment.phase, EventKind::warning,
                                std::move(message), ""});
}

InputEvent Executor::perform(Deployment& d, const Action& action, Inbox& inbox) {
  bool journal_warned = false;
  ProviderCall call{d,
                    [&](const DeploymentEvent& event) {
                      sink_.publish(event);
                      if (auto appended = journal_.append(event); !appended) {
                        warn(d, "journal: " + appended.error().message);
                      }
                    },
                    [&] {
                      // A record that cannot be saved costs the resume point, not the run: said
                      // once.
                      if (auto saved = journal_.save(d); !saved && !journal_warned) {
                        journal_warned = true;
                        warn(d, "journal: could not save the deployment: " + saved.error().message +
                                    "; a restart may not be able to resume it");
                      }
                      sink_.update(d);
                    },
                    [&](const Deployment& live) { sink_.update(live); },
                    provider_run_.must_end_by,
                    provider_run_.stop};
  FleetProvider& provider = *provider_;
  return std::visit(
      Overloaded{
          [&](const action::FetchRevision&) { return provider.fetch_revision(call); },
          [&](const action::LaunchGreen& launch) { return provider.launch_green(call, launch); },
          [&](const action::RunHooks& hooks) { return provider.run_hooks(call, hooks); },
          [&](const action::CheckHealth& check) -> InputEvent {
            if (auto request = wait_for_request(inbox, check.not_before)) return *request;
            return provider.gate_health(call, check);
          },
          [&](const action::Preview& preview) { return provider.preview(call, preview); },
          [&](const action::Route& route) -> InputEvent {
            const bool to_green = route.fleet_id == d.id;
            // A step below 100 is not recorded as green serving: a restart during it rolls
            // back to blue, which still gets most of the traffic. A provider that moves
            // traffic itself keeps no serving fleet here.
            if (!traits_of(d.spec.provider).moves_traffic && (!to_green || route.percent >= 100)) {
              // Recorded before the switch: a restart that finds green named here keeps it.
              auto write = [&] { return journal_.set_serving(d.spec.group_id, route.fleet_id); };
              auto saved = retried(d, write, write());
              if (!saved) {
                if (to_green) {
                  return failed(saved.error().with_context(
                      "journal: cannot record that green serves, so traffic stays on blue"));
                }
                warn(d, "journal: could not record the serving fleet: " + saved.error().message);
              }
            }
            return provider.move_traffic(call, route);
          },
          [&](const action::Drain& drain) { return provider.drain(call, drain); },
          [&](const action::Wait& wait) -> InputEvent {
            if (wait.watch_traffic) return watched_wait(d, wait, inbox);
            if (auto request = wait_for_request(inbox, wait.until)) return *request;
            return input::WaitEnded{};
          },
          [&](const action::Terminate& terminate_action) -> InputEvent {
            return terminate_action.colour == Colour::blue ? provider.retire_blue(call)
                                                           : provider.clean_up(call);
          },
      },
      action);
}

std::optional<InputEvent> Executor::wait_for_request(Inbox& inbox, TimePoint until) {
  const auto* stop = provider_run_.stop;
  const TimePoint end = provider_run_.must_end_by;
  if (stop == nullptr && end == TimePoint::max()) return inbox.wait_until(clock_, until);
  for (;;) {
    const TimePoint now = clock_.now();
    if ((stop != nullptr && stop->load()) || now >= end) return input::Suspended{};
    if (now >= until) return std::nullopt;
    if (auto request = inbox.wait_until(clock_, std::min({until, end, now + kRunEndCheck}))) {
      return request;
    }
  }
}

InputEvent Executor::watched_wait(const Deployment& d, const action::Wait& wait, Inbox& inbox) {
  TrafficWatch watch(d.spec, fleet_of(d, Colour::blue), d.id);
  for (;;) {
    if (auto tripped = watch.sample(provider_->traffic(), clock_.now())) {
      return input::TrafficTripped{std::move(*tripped)};
    }
    const TimePoint now = clock_.now();
    if (now >= wait.until) return input::WaitEnded{};
    if (auto request = inbox.wait_until(clock_, std::min(wait.until, now + kWatchInterval))) {
      return *request;
    }
  }
}

}  // namespace bluegreen
