#include "core/flow.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/overloaded.h"

namespace bluegreen {
namespace {

// Blue's BlockTraffic hooks are not bounded by TIMEOUT (green already serves); appspec
// timeouts bound each hook, and this bounds the lot (CodeDeploy's longest hook timeout).
constexpr Duration kBlueHookBound = std::chrono::hours(1);

// Adapters stop their work a little before a deadline, so that nothing they started outlives
// it (the appspec agent leaves time to kill a hook's process group). A timeout this close to
// the deployment's deadline is the deadline's doing.
constexpr Duration kDeadlineMargin = std::chrono::seconds(6);

bool is_timeout(const InputEvent& event) {
  const auto* failed = std::get_if<input::Failed>(&event);
  return failed && failed->error.kind == ErrorKind::timeout;
}

Phase phase_of(Step step) {
  switch (step) {
    case Step::fetch_revision:
      return Phase::fetch_revision;
    case Step::launch_green:
      return Phase::launch_green;
    case Step::install:
      return Phase::install;
    case Step::check_health:
      return Phase::health_gate;
    case Step::show_preview:
    case Step::await_promotion:
      return Phase::await_promotion;
    case Step::before_allow_traffic:
    case Step::route_to_green:
    case Step::traffic_step:
    case Step::after_allow_traffic:
      return Phase::allow_traffic;
    case Step::before_block_traffic:
    case Step::drain_blue:
    case Step::after_block_traffic:
      return Phase::block_traffic;
    case Step::keep_blue:
      return Phase::keep_blue;
    case Step::stop_blue:
    case Step::terminate_blue:
      return Phase::terminate_blue;
    default:
      return Phase::clean_up;  // the unwinding steps; the caller picks clean_up/roll_back
  }
}

// "answered 404" -> 404; 0 for any other answer.
int answered_status(const std::string& answer) {
  constexpr std::string_view kPrefix = "answered ";
  if (!answer.starts_with(kPrefix)) return 0;
  try {
    return std::stoi(answer.substr(kPrefix.size()));
  } catch (const std::exception&) {
    return 0;
  }
}

// A 4xx that a wrong path explains. 408, 425 and 429 say "not now" (a service still starting,
// or rate limiting its probes): the path is right, and TIMEOUT bounds the wait.
bool is_client_error(const std::string& answer) {
  int status = answered_status(answer);
  return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429;
}

// The wrong answer every green gave this round, if they all gave the same one that a wrong
// HEALTH_CHECK_PATH or PORT explains (a 4xx, a refused connection); empty otherwise.
std::string common_wrong_answer(const std::vector<Instance>& green,
                                const std::vector<HealthCheck>& checks) {
  std::string common;
  for (const auto& instance : green) {
    auto it = std::ranges::find(checks, instance.id, &HealthCheck::instance_id);
    if (it == checks.end() || it->healthy || it->answer.empty()) return "";
    if (!common.empty() && common != it->answer) return "";
    common = it->answer;
  }
  if (!is_client_error(common) && common != "connection refused") return "";
  return common;
}

std::string wrong_answer_hint(const DeploymentSpec& spec, const std::string& answer) {
  const std::string& path = spec.health_check_path;
  if (is_client_error(answer)) {
    return fmt::format(
        "GET {} {} on every green: set HEALTH_CHECK_PATH to a path your service answers with 2xx",
        path, answer);
  }
  if (spec.isolation == Isolation::namespaces) {
    return fmt::format(
        "GET {}: connection refused on every green: the service must listen on port {} "
        "(APP_PORT, also given to hooks as PORT) on every address of its instance (0.0.0.0), not "
        "only on 127.0.0.1, and ApplicationStart must leave it running",
        path, app_port_of(spec));
  }
  return fmt::format(
      "GET {}: connection refused on every green: the service must listen on 127.0.0.1:$PORT "
      "(PORT is set for every hook), and ApplicationStart must leave it running",
      path);
}

class Machine {
 public:
  Machine(Deployment deployment, TimePoint at)
      : d_(std::move(deployment)), at_(at), t_(traits_of(d_.spec.provider)) {}

  Transition finish() {
    auto action = next_action(d_);
    return Transition{std::move(d_), std::move(action), std::move(events_)};
  }

  void start() {
    begin_phase(Phase::validate);
    if (t_.moves_traffic) {
      // The provider knows the serving fleet (its group's instances); the record names the
      // greens it will launch.
      advance(t_.fetches_revision ? Step::launch_green : Step::fetch_revision,
              fmt::format("parameters valid; GreenIdentifier={}", d_.green_identifier));
      return;
    }
    if (!d_.blue && t_.resumes_in_place) {
      // A cloud provider finds the serving group itself when it launches green from it.
      advance(t_.fetches_revision ? Step::launch_green : Step::fetch_revision,
              fmt::format("parameters valid; GreenIdentifier={}; blue is the group serving {}, "
                          "found as green launches",
                          d_.green_identifier, d_.spec.group_id));
      return;
    }
    std::string blue =
        d_.blue ? fmt::format("blue is fleet {} ({} instances)", d_.blue->fleet_id,
                              d_.blue->instances.size())
                : fmt::format("no blue fleet: first deployment of group {}", d_.spec.group_id);
    advance(t_.fetches_revision ? Step::launch_green : Step::fetch_revision,
            fmt::format("parameters valid; {}", blue));
  }

  void apply(const InputEvent& event) {
    if (d_.finished_running()) {
      if (!std::holds_alternative<input::Resume>(event)) warn("the deployment has already ended");
      return;
    }
    bool exempt = std::holds_alternative<input::Start>(event) ||
                  std::holds_alternative<input::Resume>(event) ||
                  std::holds_alternative<input::RollbackRequested>(event) ||
                  std::holds_alternative<input::TrafficTripped>(event);
    bool out_of_time =
        at_ >= d_.deadline || (is_timeout(event) && at_ + kDeadlineMargin >= d_.deadline);
    if (!exempt && !t_.keeps_time && bounded_by_deadline(d_.step) && out_of_time) {
      std::string cause = fmt::format("TIMEOUT of {} passed during {}",
                                      seconds_text(d_.spec.timeout), to_string(d_.phase));
      if (const auto* failed = std::get_if<input::Failed>(&event)) {
        record_hooks(failed->results, failed->reported);
        cause += ": " + failed->error.message;
      } else if (d_.phase == Phase::health_gate && !d_.health_last.empty()) {
        cause += ": " + health_story();
      } else if (d_.step == Step::await_promotion ||
                 (d_.step == Step::traffic_step && d_.spec.promotion == Promotion::manual)) {
        cause += " (nobody ran `promote`)";
      }
      unwind(Error{ErrorKind::timeout, cause}, PhaseOutcome::failed);
      return;
    }
    std::visit(Overloaded{
                   [&](const input::Start&) { start(); },
                   [&](const input::Resume& e) { on_resume(e); },
                   [&](const input::RevisionFetched& e) { on_fetched(e); },
                   [&](const input::GreenLaunched& e) { on_launched(e); },
                   [&](const input::HooksRan& e) { on_hooks(e); },
                   [&](const input::HealthChecked& e) { on_health(e); },
                   [&](const input::ActionDone& e) { on_done(e); },
                   [&](const input::Drained& e) { on_drained(e); },
                   [&](const input::WaitEnded&) { on_wait_ended(); },
                   [&](const input::Failed& e) { on_failed(e); },
                   [&](const input::PromoteRequested& e) { on_promote(e); },
                   [&](const input::RollbackRequested& e) { on_rollback(e); },
                   [&](const input::TrafficTripped& e) { on_tripped(e); },
                   [&](const input::Suspended&) { unexpected(); },
               },
               event);
  }

 private:
  void emit(EventKind kind, std::string message, std::string instance_id = {}) {
    events_.push_back(
        DeploymentEvent{d_.id, at_, d_.phase, kind, std::move(message), std::move(instance_id)});
  }
  void warn(std::string message) {
    d_.warnings.push_back(message);
    emit(EventKind::warning, std::move(message));
  }
  void unexpected() {
    emit(EventKind::warning,
         fmt::format("ignored a result that does not belong to step {}", to_string(d_.step)));
  }

  void begin_phase(Phase phase) {
    d_.phase = phase;
    d_.phases.push_back(PhaseRecord{phase, at_, std::nullopt, PhaseOutcome::running, ""});
    emit(EventKind::phase_started, std::string(to_string(phase)));
  }

  void end_phase(PhaseOutcome outcome, std::string message) {
    if (d_.phases.empty() || d_.phases.back().ended) return;
    auto& record = d_.phases.back();
    record.ended = at_;
    record.outcome = outcome;
    record.message = message;
    emit(EventKind::phase_ended, message.empty()
                                     ? std::string(to_string(outcome))
                                     : fmt::format("{}: {}", to_string(outcome), message));
  }

  // Enters `next` on the happy path; `summary` closes the current phase when `next` is in
  // another one.
  void advance(Step next, std::string summary) {
    if (next == Step::done) {
      end_phase(PhaseOutcome::passed, std::move(summary));
      finish_with(DeploymentStatus::succeeded);
      return;
    }
    if (phase_for(next) != d_.phase || d_.phases.empty()) {
      end_phase(PhaseOutcome::passed, std::move(summary));
      begin_phase(phase_for(next));
    }
    enter(next);
  }

  // The phase a step belongs to. A provider that moves traffic itself does so within its
  // install (CodeDeploy's AllowTraffic is one of its lifecycle events): the flow's confirmation
  // of the switch is part of that phase.
  Phase phase_for(Step step) const {
    if (t_.moves_traffic && step == Step::route_to_green) return Phase::install;
    return phase_of(step);
  }

  void enter(Step next) {
    d_.step = next;
    switch (next) {
      case Step::check_health:
        d_.next_check = at_;
        d_.health_streak.clear();
        break;
      case Step::route_to_green:
        d_.traffic_moved = true;
        break;
      case Step::before_block_traffic:
      case Step::after_block_traffic:
      case Step::stop_blue:
      case Step::stop_green:
        d_.wait_until = at_ + kBlueHookBound;
        break;
      case Step::drain_blue:
      case Step::drain_green:
        d_.wait_until = at_ + d_.spec.drain_timeout;
        break;
      case Step::keep_blue:
        d_.wait_until = at_ + d_.spec.blue_termination_wait;
        break;
      case Step::traffic_step:
        d_.wait_until = at_ + d_.spec.step_wait;
        // TIMEOUT bounds the work until green serves, not the waits asked for between steps.
        if (d_.spec.promotion == Promotion::automatic) d_.deadline += d_.spec.step_wait;
        break;
      default:
        break;
    }
  }

  void finish_with(DeploymentStatus status) {
    d_.step = Step::done;
    d_.status = status;
    d_.finished = at_;
    // A provider that prices its own overlap (from the cloud's bill) has set it; any other has
    // only the record to go by.
    if (!t_.prices_overlap && !d_.cost) d_.cost = overlap_cost(d_, at_);
  }

  Step after(Step step) const {
    switch (step) {
      case Step::fetch_revision:
        return Step::launch_green;
      case Step::launch_green:
        return Step::install;
      case Step::install:
        return t_.installs_and_gates ? Step::route_to_green : Step::check_health;
      case Step::check_health:
        return d_.spec.promotion == Promotion::manual ? Step::show_preview
                                                      : Step::before_allow_traffic;
      case Step::show_preview:
        return d_.promoted_by.empty() ? Step::await_promotion : Step::before_allow_traffic;
      case Step::await_promotion:
        return Step::before_allow_traffic;
      case Step::before_allow_traffic:
        return Step::route_to_green;
      case Step::route_to_green:
        return t_.moves_traffic ? Step::terminate_blue : Step::after_allow_traffic;
      case Step::after_allow_traffic:
        return d_.blue ? Step::before_block_traffic : Step::done;
      case Step::before_block_traffic:
        return Step::drain_blue;
      case Step::drain_blue:
        return Step::after_block_traffic;
      case Step::after_block_traffic:
        return Step::keep_blue;
      case Step::keep_blue:
        return Step::stop_blue;
      case Step::stop_blue:
        return Step::terminate_blue;
      default:
        return Step::done;
    }
  }

  // The unwinding steps in order, each only when it has something to undo.
  Step next_unwinding(std::optional<Step> current) const {
    const std::pair<Step, bool> plan[] = {
        {Step::route_to_blue, d_.traffic_moved && d_.blue.has_value()},
        {Step::hide_preview, d_.preview_shown},
        {Step::drain_green, d_.traffic_moved},
        {Step::stop_green, !d_.green.empty() && !t_.installs_and_gates},
        {Step::terminate_green, true},
    };
    bool passed_current = !current;
    for (auto [step, needed] : plan) {
      if (passed_current && needed) return step;
      if (current && step == *current) passed_current = true;
    }
    return Step::done;
  }

  // Leaves the happy path: records why, then walks the unwinding steps.
  void unwind(Error cause, PhaseOutcome outcome, bool cleaned_up = false) {
    emit(outcome == PhaseOutcome::failed ? EventKind::error : EventKind::info, cause.message);
    end_phase(outcome, cause.message);
    d_.error = std::move(cause);
    if ((d_.traffic_moved && t_.moves_traffic) || cleaned_up) {
      // Invariant 4: the greens may serve and blue may be gone; nothing is undone. Or the
      // provider has already cleaned up what it could.
      finish_with(DeploymentStatus::failed);
      return;
    }
    begin_phase(d_.traffic_moved ? Phase::roll_back : Phase::clean_up);
    continue_unwinding(std::nullopt);
  }

  void continue_unwinding(std::optional<Step> current) {
    Step next = next_unwinding(current);
    if (next != Step::done) {
      enter(next);
      return;
    }
    std::string summary =
        !clean_up_detail_.empty()
            ? clean_up_detail_
            : (d_.traffic_moved && d_.blue
                   ? "traffic is back on blue; green terminated"
                   : (d_.blue ? "green terminated; blue kept serving" : "green terminated"));
    end_phase(PhaseOutcome::passed, summary);
    finish_with(d_.rollback_by.empty() ? DeploymentStatus::failed : DeploymentStatus::rolled_back);
  }

  // `reported`: the executor logged each result as the hook ended; only the record keeps it.
  void record_hooks(const std::vector<HookResult>& results, bool reported = false) {
    for (const auto& hook : results) {
      d_.hooks.push_back(hook);
      if (reported) continue;
      emit(hook_passed(hook) ? EventKind::info : EventKind::error, hook_outcome_text(hook),
           hook.instance_id);
    }
  }

  void set_state(std::vector<Instance>& instances, InstanceState state) {
    for (auto& instance : instances) instance.state = state;
  }

  void on_resume(const input::Resume& e) {
    if (t_.resumes_in_place) {
      // Invariant 5: the provider's saved state says what exists; the step carries on. A
      // deployment that had not started yet starts now.
      if (d_.phases.empty()) return start();
      emit(EventKind::info,
           fmt::format("resuming step {} from the provider's saved state", to_string(d_.step)));
      return;
    }
    emit(EventKind::info, fmt::format("the server restarted during step {}", to_string(d_.step)));
    bool green_routed = (d_.step == Step::route_to_green || d_.step == Step::after_allow_traffic) &&
                        e.routed_fleet == d_.id;
    if (green_routed) {
      // Undoing a switch the record says was made would put traffic on a blue that may
      // already be gone; green is healthy and serves, so the step is repeated instead.
      emit(EventKind::info, "the record says green serves; carrying on");
      // TIMEOUT bounds the time until green serves, which it already does: a restart long
      // after the deadline must not turn into a roll back to a blue that may be gone.
      d_.deadline = std::max(d_.deadline, at_ + d_.spec.timeout);
      return;
    }
    bool blue_routed_after_switch = !bounded_by_deadline(d_.step) && !is_unwinding(d_.step) &&
                                    d_.blue && e.routed_fleet == d_.blue->fleet_id;
    if (blue_routed_after_switch) {
      // Green is no longer what serves (its roll back went further than the record): going on
      // would stop the only fleet left.
      unwind(Error{ErrorKind::failed,
                   fmt::format("interrupted: the server restarted during {} and blue serves",
                               to_string(d_.phase))},
             PhaseOutcome::stopped);
      return;
    }
    if (bounded_by_deadline(d_.step)) {
      unwind(Error{ErrorKind::failed,
                   fmt::format("interrupted: the server restarted during {}", to_string(d_.phase))},
             PhaseOutcome::stopped);
    }
    // Later steps repeat their action: green already serves, and each of them is safe to redo.
  }

  void on_fetched(const input::RevisionFetched& e) {
    if (d_.step != Step::fetch_revision) return unexpected();
    d_.green_bundle_root = e.bundle_root;
    advance(after(d_.step), e.description);
  }

  void on_launched(const input::GreenLaunched& e) {
    if (d_.step != Step::launch_green) return unexpected();
    d_.green = e.instances;
    for (const auto& instance : d_.green) {
      emit(EventKind::info,
           instance.port == 0 ? std::string("launched")
                              : fmt::format("launched on port {}", instance.port),
           instance.id);
    }
    advance(after(d_.step), !e.detail.empty() ? e.detail
                                              : fmt::format("{} instance(s): {}", d_.green.size(),
                                                            instance_list(d_.green)));
  }

  void on_hooks(const input::HooksRan& e) {
    record_hooks(e.results, e.reported);
    switch (d_.step) {
      case Step::install:
        set_state(d_.green,
                  t_.installs_and_gates ? InstanceState::healthy : InstanceState::running);
        return advance(after(d_.step), !e.detail.empty()
                                           ? e.detail
                                           : fmt::format("{} hook run(s) passed on {} instance(s)",
                                                         e.results.size(), d_.green.size()));
      case Step::before_allow_traffic:
      case Step::before_block_traffic:
        return advance(after(d_.step), "");
      case Step::after_allow_traffic:
        return advance(after(d_.step), fmt::format("green ({}) serves", d_.id));
      case Step::after_block_traffic:
        return advance(after(d_.step), "blue no longer serves");
      case Step::stop_blue:
        return advance(after(d_.step), "");
      case Step::stop_green:
        return continue_unwinding(d_.step);
      default:
        return unexpected();
    }
  }

  void on_health(const input::HealthChecked& e) {
    if (d_.step != Step::check_health) return unexpected();
    for (const auto& instance : d_.green) {
      auto it = std::ranges::find(e.checks, instance.id, &HealthCheck::instance_id);
      bool healthy = it != e.checks.end() && it->healthy;
      std::string detail = it == e.checks.end() ? "not checked" : it->detail;
      if (healthy) {
        ++d_.health_streak[instance.id];
        d_.health_last.erase(instance.id);
        continue;
      }
      d_.health_streak[instance.id] = 0;
      if (d_.health_last[instance.id] != detail) {
        emit(EventKind::info, fmt::format("not healthy yet: {}", detail), instance.id);
      }
      d_.health_last[instance.id] = detail;
    }
    if (note_wrong_answers(e)) return;
    bool all_healthy = !d_.green.empty() && std::ranges::all_of(d_.green, [&](const auto& i) {
      return d_.health_streak[i.id] >= d_.spec.healthy_threshold;
    });
    if (all_healthy) {
      set_state(d_.green, InstanceState::healthy);
      return advance(after(d_.step),
                     fmt::format("{} instance(s) {} {} time(s) in a row", d_.green.size(),
                                 e.gate.empty() ? "answered " + d_.spec.health_check_path : e.gate,
                                 d_.spec.healthy_threshold));
    }
    d_.next_check = at_ + d_.spec.health_check_interval;
    if (d_.next_check >= d_.deadline) {
      for (auto& instance : d_.green) {
        if (d_.health_last.contains(instance.id)) instance.state = InstanceState::unhealthy;
      }
      unwind(Error{ErrorKind::timeout, fmt::format("green not healthy before the TIMEOUT of {}: {}",
                                                   seconds_text(d_.spec.timeout), health_story())},
             PhaseOutcome::failed);
    }
  }

  // What the greens that are not healthy answered last, and what to change when they all gave
  // the same wrong answer. A TIMEOUT ends the wait for more rounds, so the last round's common
  // answer gets its hint even before kHealthHintRounds.
  std::string health_story() const {
    std::vector<std::string> causes;
    for (const auto& [id, detail] : d_.health_last) causes.push_back(id + ": " + detail);
    std::string hint = d_.health_hint;
    if (hint.empty() && !d_.health_same_answer.empty()) {
      hint = wrong_answer_hint(d_.spec, d_.health_same_answer);
    }
    return fmt::format("{}{}", fmt::join(causes, "; "), hint.empty() ? "" : "\n" + hint);
  }

  // Tracks whether every green keeps giving the same wrong answer (see flow.h); true when
  // that ended the deployment.
  bool note_wrong_answers(const input::HealthChecked& e) {
    std::string same = common_wrong_answer(d_.green, e.checks);
    if (same != d_.health_same_answer) {
      d_.health_same_answer = same;
      d_.health_same_since = at_;
      d_.health_same_rounds = 0;
      d_.health_hint.clear();
    }
    if (same.empty()) return false;
    ++d_.health_same_rounds;
    if (d_.health_same_rounds >= kHealthHintRounds && d_.health_hint.empty()) {
      d_.health_hint = wrong_answer_hint(d_.spec, same);
      emit(EventKind::warning, d_.health_hint);
    }
    if (!is_client_error(same) || at_ - d_.health_same_since < kWrongPathWindow) return false;
    set_state(d_.green, InstanceState::unhealthy);
    unwind(
        Error{ErrorKind::failed,
              fmt::format(
                  "every green answered GET {} with {} for {}: set HEALTH_CHECK_PATH "
                  "to a path your service answers with 2xx",
                  d_.spec.health_check_path, answered_status(same),
                  seconds_text(std::chrono::duration_cast<Duration>(at_ - d_.health_same_since)))},
        PhaseOutcome::failed);
    return true;
  }

  void on_done(const input::ActionDone& e) {
    switch (d_.step) {
      case Step::show_preview:
        d_.preview_shown = true;
        emit(EventKind::info,
             e.detail.empty() ? std::string("green is on the preview listener") : e.detail);
        return advance(after(d_.step), fmt::format("promoted by {}", d_.promoted_by));
      case Step::route_to_green: {
        const int percent = traffic_percent(d_);
        if (percent < 100) {
          emit(EventKind::info,
               fmt::format("traffic step {} of {}: {}% of new requests go to green",
                           d_.traffic_step + 1, d_.spec.traffic_steps.size(), percent));
          return enter(Step::traffic_step);
        }
        emit(EventKind::info,
             e.detail.empty() ? std::string("traffic switched to green") : e.detail);
        return advance(after(d_.step), "");
      }
      case Step::terminate_blue:
        if (!d_.blue) return advance(Step::done, e.detail);
        set_state(d_.blue->instances, InstanceState::terminated);
        return advance(Step::done, e.detail.empty()
                                       ? fmt::format("terminated {}", d_.blue->fleet_id)
                                       : e.detail);
      case Step::route_to_blue:
        emit(EventKind::info, "traffic switched back to blue");
        return continue_unwinding(d_.step);
      case Step::hide_preview:
        d_.preview_shown = false;
        return continue_unwinding(d_.step);
      case Step::terminate_green:
        // A provider that owns its fleets keeps its greens' state itself (some may be left).
        if (!t_.installs_and_gates) set_state(d_.green, InstanceState::terminated);
        if (!e.detail.empty()) {
          // Invariant 6: a provider that keeps time says why it failed in its clean-up's
          // account; any other keeps the flow's cause, the account closing the phase.
          if (t_.keeps_time && d_.error) d_.error->message = e.detail;
          clean_up_detail_ = e.detail;
        }
        return continue_unwinding(d_.step);
      default:
        return unexpected();
    }
  }

  void on_drained(const input::Drained& e) {
    if (d_.step != Step::drain_blue && d_.step != Step::drain_green) return unexpected();
    std::string which = d_.step == Step::drain_blue ? "blue" : "green";
    if (e.connections_closed > 0) {
      emit(EventKind::warning,
           fmt::format("{} connection(s) still open on {} after DRAIN_TIMEOUT were closed",
                       e.connections_closed, which));
    } else {
      emit(EventKind::info, fmt::format("{} drained", which));
    }
    if (d_.step == Step::drain_green) return continue_unwinding(d_.step);
    advance(after(d_.step), "");
  }

  // The next of TRAFFIC_STEPS: STEP_WAIT passed, or `promote` (PROMOTION=manual).
  void next_traffic_step(const std::string& why) {
    emit(EventKind::info, fmt::format("{}% step held: {}", traffic_percent(d_), why));
    ++d_.traffic_step;
    enter(Step::route_to_green);
  }

  void on_wait_ended() {
    if (d_.step == Step::traffic_step) {
      if (d_.spec.promotion == Promotion::manual) return unexpected();
      return next_traffic_step(
          fmt::format("STEP_WAIT of {} passed", seconds_text(d_.spec.step_wait)));
    }
    if (d_.step != Step::keep_blue) return unexpected();
    advance(after(d_.step),
            fmt::format("kept blue for {}", seconds_text(d_.spec.blue_termination_wait)));
  }

  void on_failed(const input::Failed& e) {
    record_hooks(e.results, e.reported);
    // A provider that moves traffic itself fails the deployment at any step before clean-up:
    // after the switch that ends it with nothing removed (invariant 4).
    if (bounded_by_deadline(d_.step) || (t_.moves_traffic && !is_unwinding(d_.step))) {
      if (d_.step == Step::install) {
        for (auto& instance : d_.green) {
          bool failed_here = std::ranges::any_of(e.results, [&](const HookResult& hook) {
            return hook.instance_id == instance.id && (hook.exit_code != 0 || hook.timed_out);
          });
          if (failed_here) instance.state = InstanceState::unhealthy;
        }
      }
      return unwind(e.error, PhaseOutcome::failed, e.cleaned_up);
    }
    warn(fmt::format("{} ({}): {}", to_string(d_.step), to_string(e.error.kind), e.error.message));
    if (is_unwinding(d_.step)) return continue_unwinding(d_.step);
    if (d_.step == Step::done) return;
    // Blue's hooks, the drain and blue's termination cannot undo a verified green.
    std::string summary =
        d_.step == Step::terminate_blue ? "blue termination reported an error" : "";
    advance(after(d_.step), summary);
  }

  void on_promote(const input::PromoteRequested& e) {
    if (auto allowed = can_promote(d_); !allowed) return warn(allowed.error().message);
    d_.promoted_by = e.by;
    emit(EventKind::info, fmt::format("promoted by {}", e.by));
    if (d_.step == Step::await_promotion) {
      advance(after(d_.step), fmt::format("promoted by {}", e.by));
    } else if (d_.step == Step::traffic_step) {
      next_traffic_step(fmt::format("promoted by {}", e.by));
    }
  }

  void on_tripped(const input::TrafficTripped& e) {
    // Only a watched wait produces a trip; anywhere else it is stale and changes nothing.
    const bool watched = (d_.step == Step::traffic_step || d_.step == Step::keep_blue) &&
                         d_.spec.watches_traffic() && d_.blue.has_value();
    if (!watched) return unexpected();
    d_.rollback_by = "automatic rollback";
    unwind(Error{ErrorKind::failed, "automatic rollback: " + e.figures}, PhaseOutcome::failed);
  }

  void on_rollback(const input::RollbackRequested& e) {
    if (auto allowed = can_roll_back(d_); !allowed) return warn(allowed.error().message);
    d_.rollback_by = e.by;
    unwind(Error{ErrorKind::failed, fmt::format("rolled back on request of {}", e.by)},
           PhaseOutcome::stopped);
  }

  Deployment d_;
  TimePoint at_;
  ProviderTraits t_;
  std::string clean_up_detail_;  // the provider's account of its clean-up (invariant 6)
  std::vector<DeploymentEvent> events_;
};

}  // namespace

bool hook_passed(const HookResult& hook) {
  return hook.exit_code == 0 && !hook.timed_out;
}

std::string hook_outcome_text(const HookResult& hook) {
  if (hook_passed(hook)) {
    return fmt::format("{} passed in {} ms", hook.lifecycle_event, hook.duration_ms);
  }
  std::string how = hook.timed_out ? "timed out" : fmt::format("exit {}", hook.exit_code);
  return fmt::format("{} ({}) failed: {}{}{}", hook.lifecycle_event, hook.script, how,
                     hook.output_tail.empty() ? "" : "; output: ", hook.output_tail);
}

std::string hook_started_text(const HookResult& hook) {
  return fmt::format("{} ({}) started", hook.lifecycle_event, hook.script);
}

Transition start(Deployment deployment, TimePoint at) {
  Machine machine(std::move(deployment), at);
  machine.apply(input::Start{});
  return machine.finish();
}

Transition step(Deployment deployment, const Input& input) {
  Machine machine(std::move(deployment), input.at);
  machine.apply(input.event);
  return machine.finish();
}

}  // namespace bluegreen
