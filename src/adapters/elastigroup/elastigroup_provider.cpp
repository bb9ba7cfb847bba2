#include "adapters/elastigroup/elastigroup_provider.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/elastigroup_cost.h"
#include "core/overloaded.h"

namespace bluegreen::elastigroup {
namespace {

constexpr const char* kGreenTag = "GreenIdentifier";

// The answer to a request: the event built from its value, or CallFailed.
template <typename T, typename Make>
EventBody answer_of(Result<T> result, Make make) {
  if (!result) return CallFailed{result.error()};
  if constexpr (std::is_void_v<T>) {
    return make();
  } else {
    return make(std::move(*result));
  }
}

// A service's answer may quote the request back, the Spot token with it (an endpoint that
// misbehaves, or a proxy in front of it): the token never reaches a message the plan keeps.
void hide(const Secret& token, Error& error) {
  const std::string& value = token.reveal();
  if (value.empty()) return;
  for (std::string* text : {&error.message, &error.code}) {
    const std::string_view redacted = Secret::kRedacted;
    for (auto at = text->find(value); at != std::string::npos;
         at = text->find(value, at + redacted.size())) {
      text->replace(at, value.size(), redacted);
    }
  }
}

// Without a run deadline (the server, the CLI) a request still ends by the plan's own: TIMEOUT,
// or the end of the cleanup grace while cleaning up. One that goes out past it (the last look
// at TIMEOUT, cleanup's last requests) gets one attempt's time.
constexpr Duration kRequestPastTheLimit = std::chrono::seconds(30);

TimePoint request_deadline(const FlowState& state, TimePoint now) {
  TimePoint limit = state.phase == Phase::stopping ? state.cleanup_deadline : state.deadline;
  return std::max(limit, now + kRequestPastTheLimit);
}

// A failure the plan reported, as the flow's error: its CodePipeline failure type is the code.
Error error_of(FailureType type, const std::string& message) {
  return Error{
      type == FailureType::configuration_error ? ErrorKind::invalid_input : ErrorKind::failed,
      message, std::string(to_string(type))};
}

std::string field(const DeploymentEvent& event, const std::string& key) {
  auto it = event.fields.find(key);
  return it == event.fields.end() ? std::string() : it->second;
}

// The greens the plan has seen, in the record: running until CodeDeploy succeeded on them,
// healthy from then on; gone once the plan no longer sees them (cleanup detached them, or
// Spot replaced them).
void note_greens(Deployment& d, const FlowState& state) {
  for (const auto& id : state.green_ids) {
    auto known = std::ranges::find(d.green, id, &Instance::id);
    if (known == d.green.end()) {
      Instance green;
      green.id = id;
      green.fleet_id = d.id;
      green.host.clear();
      green.tags[kGreenTag] = state.green_identifier;
      d.green.push_back(std::move(green));
      known = d.green.end() - 1;
    }
    known->state = state.greens_serving ? InstanceState::healthy : InstanceState::running;
  }
  if (state.phase == Phase::stopping || state.phase == Phase::wait_greens) {
    for (auto& green : d.green) {
      if (std::ranges::find(state.green_ids, green.id) == state.green_ids.end()) {
        green.state = InstanceState::terminated;
      }
    }
  }
}

// The deployment group's last attempted deployment, when it targets `green_identifier`; none
// when it does not; an error when CodeDeploy could not be asked.
Result<std::optional<CodeDeployDeployment>> own_codedeploy_deployment(
    CodeDeployService& codedeploy, const std::string& green_identifier,
    const DeploymentSpec& spec) {
  auto last = codedeploy.last_attempted_deployment(spec.app_name, spec.deployment_group);
  if (!last) return std::unexpected(last.error());
  if (!*last) return std::optional<CodeDeployDeployment>{};
  auto read = codedeploy.get_deployment(**last);
  if (!read) return std::unexpected(read.error());
  if (!installs_for(*read, green_identifier)) return std::optional<CodeDeployDeployment>{};
  return std::optional<CodeDeployDeployment>{*read};
}

}  // namespace

ElastigroupProvider::ElastigroupProvider(const ElastigroupPorts& ports, CloudRunOptions options,
                                         std::string job_id, bool token_lost)
    : ports_(ports), options_(options), job_id_(std::move(job_id)), token_lost_(token_lost) {}

ElastigroupProvider::ElastigroupProvider(std::unique_ptr<CloudConnection> cloud, EventSink& sink,
                                         CloudRunOptions options, std::string job_id,
                                         bool token_lost)
    : owned_cloud_(std::move(cloud)),
      ports_(owned_cloud_->ports(sink, no_pipeline_)),
      options_(options),
      job_id_(std::move(job_id)),
      token_lost_(token_lost) {}

ElastigroupProviders::ElastigroupProviders(OpenCloud open_cloud, CloudRunOptions options)
    : open_cloud_(std::move(open_cloud)), options_(options) {}

Result<void> ElastigroupProviders::check(const DeploymentSpec& spec) const {
  if (auto config = make_flow_config(spec, "check"); !config) {
    return std::unexpected(config.error());
  }
  return {};
}

std::string ElastigroupProviders::green_identifier(const DeploymentSpec& /*spec*/,
                                                   const std::string& deployment_id) const {
  return green_identifier_for_job(deployment_id);
}

Result<std::unique_ptr<FleetProvider>> ElastigroupProviders::open(const Deployment& deployment,
                                                                  bool resumed, EventSink& sink) {
  auto cloud = open_cloud_();
  if (!cloud) return std::unexpected(cloud.error());
  // A restarted server never had a literal token: the journal holds "***" (invariant 2).
  bool token_lost = resumed && !is_secret_reference(deployment.spec.api_token.reveal());
  return std::make_unique<ElastigroupProvider>(std::move(*cloud), sink, options_, deployment.id,
                                               token_lost);
}

InputEvent ElastigroupProvider::launch_green(ProviderCall& call,
                                             const action::LaunchGreen& /*launch*/) {
  return run(Step::launch_green, call);
}
InputEvent ElastigroupProvider::run_hooks(ProviderCall& call, const action::RunHooks& hooks) {
  if (hooks.colour != Colour::green || hooks.lifecycle_events != install_lifecycle_events()) {
    return not_done_here(call.deployment, hooks);
  }
  return run(Step::install, call);
}
InputEvent ElastigroupProvider::move_traffic(ProviderCall& call, const action::Route& route) {
  if (route.fleet_id != call.deployment.id) return not_done_here(call.deployment, route);
  return run(Step::move_traffic, call);
}
InputEvent ElastigroupProvider::retire_blue(ProviderCall& call) {
  return run(Step::retire_blue, call);
}
InputEvent ElastigroupProvider::clean_up(ProviderCall& call) {
  return run(Step::clean_up, call);
}

void ElastigroupProvider::annotate(DeploymentEvent& event) const {
  auto& fields = event.fields;
  if (!fields.contains("flow_phase")) {
    fields["flow_phase"] = state_ ? std::string(to_string(state_->phase)) : "validate";
  }
  fields["job_id"] = job_id_;
  auto put = [&fields](const char* key, const std::string& value) {
    if (!value.empty()) fields[key] = value;
  };
  if (!state_) return;
  if (state_->original_job_id != job_id_) put("original_job_id", state_->original_job_id);
  put("green_identifier", state_->green_identifier);
  put("spot_deployment_id", state_->spot_deployment_id);
  put("codedeploy_deployment_id", state_->codedeploy_deployment_id);
}

void ElastigroupProvider::publish(std::vector<DeploymentEvent> events, ProviderCall& call) {
  Deployment& d = call.deployment;
  for (auto& event : events) {
    event.deployment_id = d.id;
    event.at = ports_.clock.now();
    annotate(event);
    if (auto phase = phase_from_string(field(event, "flow_phase"))) {
      event.phase = user_phase(*phase);
    }
    if (event.name == "lifecycle_event") {
      std::string status = field(event, "status");
      if (status == "Succeeded" || status == "Failed") {
        d.hooks.push_back(HookResult{event.instance_id, field(event, "lifecycle_event"), "",
                                     status == "Succeeded" ? 0 : 1, false,
                                     status == "Failed" ? event.message : "", 0});
      }
    }
    call.publish(event);
  }
}

void ElastigroupProvider::checkpoint(ProviderCall& call) {
  const FlowState& state = *state_;
  // A reported plan is done; its token would resume nothing. The one before it stays.
  if (state.phase == Phase::done) return;
  Deployment& d = call.deployment;
  if (!d.cloud) d.cloud = CloudProgress{};
  d.cloud->flow_phase = std::string(to_string(state.phase));
  d.cloud->spot_deployment_id = state.spot_deployment_id;
  d.cloud->codedeploy_deployment_id = state.codedeploy_deployment_id;
  d.cloud->token = to_token(state);
  // Greens that may serve are recorded as such before anything else is saved (core/flow.h
  // invariant 4): a restart from this record never cleans them up.
  if (state.greens_serving) d.traffic_moved = true;
  note_greens(d, state);
  call.save();
}

std::optional<InputEvent> ElastigroupProvider::answer(Step step, const ProviderCall& call) const {
  const FlowState& s = *state_;
  const Deployment& d = call.deployment;
  if (s.phase == Phase::stopping) {
    // After the switch the flow has no clean_up step: the plan's own (it found the greens
    // never served) runs within this step, and its report is the answer.
    if (step == Step::clean_up || d.traffic_moved) return std::nullopt;
    const PendingFailure failure = s.failure.value_or(PendingFailure{});
    return input::Failed{error_of(failure.type, failure.message), {}, true};
  }
  switch (step) {
    case Step::launch_green:
      if (s.phase >= Phase::find_codedeploy && s.phase <= Phase::wait_blue_detached) {
        return input::GreenLaunched{
            d.green,
            s.spot_deployment_id.empty()
                ? fmt::format("{} green instance(s) found", d.green.size())
                : fmt::format("{} green instance(s) pass their status checks (Spot B/G {})",
                              s.greens_passing, s.spot_deployment_id)};
      }
      return std::nullopt;
    case Step::install:
      if (s.greens_serving) {
        return input::HooksRan{
            {},
            true,
            fmt::format(
                "CodeDeploy deployment {} {}",
                s.codedeploy_deployment_id.empty() ? "(earlier run)" : s.codedeploy_deployment_id,
                s.codedeploy_status.empty() ? "Succeeded" : s.codedeploy_status)};
      }
      return std::nullopt;
    case Step::move_traffic:
      if (s.greens_serving) {
        return input::ActionDone{
            "CodeDeploy's AllowTraffic passed on the greens: Spot routes the group's traffic to "
            "them"};
      }
      if (s.phase == Phase::wait_blue_detached) {
        return input::ActionDone{"Spot had already finished this job's deployment"};
      }
      return std::nullopt;
    case Step::retire_blue:
    case Step::clean_up:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<InputEvent> ElastigroupProvider::answer_report(Step step,
                                                             const ProviderCall& call) const {
  if (!report_) return std::nullopt;
  if (const auto* success = std::get_if<ReportSuccess>(&*report_)) {
    switch (step) {
      case Step::launch_green:
        return input::GreenLaunched{call.deployment.green, ""};
      case Step::install:
        return input::HooksRan{{}, true, ""};
      case Step::move_traffic:
        return input::ActionDone{};
      case Step::retire_blue:
      case Step::clean_up:
        return input::ActionDone{success->details.summary};
    }
  }
  if (const auto* failure = std::get_if<ReportFailure>(&*report_)) {
    if (step == Step::clean_up) return input::ActionDone{failure->message};
    return input::Failed{error_of(failure->type, failure->message), {}, true};
  }
  return input::Suspended{};
}

InputEvent ElastigroupProvider::run(Step step, ProviderCall& call) {
  InputEvent outcome = run_plan(step, call);
  // A plan that learnt CodeDeploy succeeded on the greens (a repeated delivery, a restart)
  // before the flow's own switch: they may serve, so the flow must not clean them up
  // (core/flow.h invariant 4).
  if (state_ && state_->greens_serving) call.deployment.traffic_moved = true;
  return outcome;
}

InputEvent ElastigroupProvider::run_plan(Step step, ProviderCall& call) {
  Deployment& d = call.deployment;
  if (!config_) {
    auto made = make_flow_config(d.spec, job_id_);
    if (!made) {
      // Bad parameters: reported before any cloud call.
      ReportFailure failure{FailureType::configuration_error,
                            fmt::format("invalid UserParameters: {}", made.error().message)};
      DeploymentEvent event;
      event.kind = EventKind::error;
      event.name = "invalid_parameters";
      event.message = failure.message;
      event.fields["flow_phase"] = "validate";
      std::vector<DeploymentEvent> events;
      events.push_back(std::move(event));
      publish(std::move(events), call);
      report_ = failure;
      return *answer_report(step, call);
    }
    config_ = *made;
    if (options_.request_spacing) config_->request_spacing = *options_.request_spacing;
    if (options_.poll_interval) config_->poll_interval = *options_.poll_interval;
    if (options_.max_poll_interval) config_->max_poll_interval = *options_.max_poll_interval;
    if (options_.cleanup_grace) config_->cleanup_grace = *options_.cleanup_grace;
    spot_access_ = SpotAccess{config_->token_reference.empty() ? d.spec.api_token : Secret(),
                              d.spec.account_id, d.spec.group_id};
  }
  if (token_lost_) return end_without_token(step, call);
  if (report_) return *answer_report(step, call);

  Clock& clock = ports_.clock;
  if (!run_bounds_) {
    bool unbounded = call.must_end_by == TimePoint::max();
    Duration reserve = options_.reserve;
    if (!unbounded) {
      // A reserve longer than a third of the run would leave it no time to do anything.
      auto third = std::chrono::duration_cast<Duration>(call.must_end_by - clock.now()) / 3;
      reserve = std::min(reserve, std::max(Duration::zero(), third));
    }
    run_bounds_.emplace(unbounded ? TimePoint::max() : call.must_end_by - reserve,
                        unbounded ? TimePoint::max() : call.must_end_by - reserve / 2);
  }
  const auto [stop_at, call_deadline] = *run_bounds_;
  // The plan's state counts in milliseconds, as its continuation token does, so that a
  // resumed run sees the same times as one that went on.
  auto now = [&clock]() -> TimePoint { return std::chrono::floor<Duration>(clock.now()); };
  auto stopping = [&] {
    return (options_.stop != nullptr && options_.stop->load()) ||
           (call.stop != nullptr && call.stop->load());
  };
  // Sleeps until `until`, or less when the run is asked to stop; true when it slept it all.
  auto sleep_until = [&](TimePoint until) {
    if (options_.stop == nullptr && call.stop == nullptr) {
      clock.sleep_until(until);
      return true;
    }
    while (!stopping() && clock.now() < until) {
      clock.sleep_until(std::min(until, clock.now() + kStopCheck));
    }
    return !stopping();
  };

  Decision decision;
  if (pending_) {
    decision = std::move(*pending_);
    pending_.reset();
  } else if (!state_) {
    state_.emplace();
    state_->original_job_id = job_id_;
    std::optional<std::string> token;
    if (d.cloud && !d.cloud->token.empty()) token = d.cloud->token;
    decision = elastigroup::step(*config_, *state_, Event{now(), Started{token}});
  } else {
    decision = elastigroup::step(*config_, *state_, Event{now(), Woke{}});
  }
  if (step == Step::clean_up && !is_report(decision.next) && state_->phase != Phase::stopping) {
    // The deployment failed outside the plan (its record could not be kept): the plan cleans
    // up as after a failure of its own, once it knows its CodeDeploy deployment.
    publish(std::move(decision.events), call);
    learn_own_codedeploy(d.spec);
    decision = elastigroup::step(
        *config_, *state_,
        Event{now(), Abandoned{d.error ? d.error->message : "the deployment failed"}});
  }
  for (;;) {
    publish(std::move(decision.events), call);
    decision.events.clear();
    if (is_report(decision.next)) {
      report_ = decision.next;
      price_overlap(call);
      if (const auto* progress = std::get_if<ReportProgress>(&*report_)) {
        // The hand-over: the next run resumes from it.
        if (!d.cloud) d.cloud = CloudProgress{};
        d.cloud->token = progress->continuation_token;
        call.save();
        return input::Suspended{};
      }
      if (std::holds_alternative<ReportFailure>(*report_) && !state_->greens_serving) {
        // What clean-up left: the greens it last saw running; the others are gone.
        for (auto& green : d.green) {
          if (std::ranges::find(state_->green_ids, green.id) == state_->green_ids.end()) {
            green.state = InstanceState::terminated;
          }
        }
        call.save();
      }
      return *answer_report(step, call);
    }
    checkpoint(call);
    if (auto done = answer(step, call)) {
      pending_ = std::move(decision);
      return *done;
    }
    EventBody body;
    if (const auto* wait = std::get_if<Wait>(&decision.next)) {
      if (wait->until >= stop_at || !sleep_until(wait->until)) {
        body = InvocationEnding{};
      } else {
        body = Woke{};
      }
    } else if (clock.now() >= stop_at || stopping()) {
      body = InvocationEnding{};
    } else {
      ports_.budget.deadline = std::min(call_deadline, request_deadline(*state_, now()));
      body = perform(decision.next, d.spec);
      if (auto* failed = std::get_if<CallFailed>(&body)) hide(spot_access_.token, failed->error);
    }
    decision = elastigroup::step(*config_, *state_, Event{now(), body});
  }
}

EventBody ElastigroupProvider::perform(const Action& action, const DeploymentSpec& spec) {
  SpotBlueGreen& spot = ports_.spot;
  CodeDeployService& codedeploy = ports_.codedeploy;
  const SpotAccess& access = spot_access_;
  const FlowConfig& config = *config_;
  return std::visit(
      Overloaded{
          [&](const ResolveApiToken&) -> EventBody {
            auto token = ports_.secrets.resolve(config.token_reference);
            if (!token) return CallFailed{token.error()};
            spot_access_.token = std::move(*token);
            return TokenResolved{};
          },
          [&](const ReadGroup& a) {
            return answer_of(
                spot.read_group(access, a.with_capacity), [](SpotGroup group) -> EventBody {
                  return GroupRead{group.target_capacity, std::move(group.instance_ids)};
                });
          },
          [&](const ListSpotDeployments&) {
            return answer_of(spot.list_deployments(access), [](auto list) -> EventBody {
              return SpotDeploymentsListed{std::move(list)};
            });
          },
          [&](const CreateSpotDeployment& a) {
            SpotBlueGreenRequest request{a.green_identifier, a.timeout_seconds, config.app_name,
                                         config.deployment_group};
            return answer_of(spot.create_deployment(access, request), [](auto d) -> EventBody {
              return SpotDeploymentCreated{std::move(d)};
            });
          },
          [&](const StopSpotDeployment& a) {
            return answer_of(spot.stop_deployment(access, a.deployment_id),
                             []() -> EventBody { return Done{}; });
          },
          [&](const DescribeGreens& a) {
            return answer_of(
                ports_.ec2.describe_tagged(kGreenTag, a.green_identifier),
                [](auto list) -> EventBody { return GreensDescribed{std::move(list)}; });
          },
          [&](const DescribeInstanceHealth& a) {
            return answer_of(
                ports_.ec2.describe_health(a.instance_ids),
                [](auto list) -> EventBody { return InstanceHealthDescribed{std::move(list)}; });
          },
          [&](const TagInstances& a) {
            return answer_of(ports_.ec2.tag_instances(a.instance_ids, a.tags),
                             []() -> EventBody { return Done{}; });
          },
          [&](const DetachGreens& a) {
            return answer_of(spot.detach_and_terminate(access, a.instance_ids),
                             []() -> EventBody { return Done{}; });
          },
          [&](const FindLastCodeDeployDeployment&) {
            return answer_of(
                codedeploy.last_attempted_deployment(config.app_name, config.deployment_group),
                [](auto id) -> EventBody { return LastCodeDeployDeployment{std::move(id)}; });
          },
          [&](const GetCodeDeployDeployment& a) {
            return answer_of(codedeploy.get_deployment(a.deployment_id), [](auto d) -> EventBody {
              return CodeDeployDeploymentRead{std::move(d)};
            });
          },
          [&](const CreateCodeDeployDeployment& a) {
            CodeDeployRequest request{config.app_name, config.deployment_group,
                                      spec.revision,   a.tag_key,
                                      a.tag_value,     a.description};
            return answer_of(
                codedeploy.create_deployment(request),
                [](std::string id) -> EventBody { return CodeDeployCreated{std::move(id)}; });
          },
          [&](const ListCodeDeployTargets& a) {
            return answer_of(codedeploy.list_targets(a.deployment_id), [](auto ids) -> EventBody {
              return CodeDeployTargetsListed{std::move(ids)};
            });
          },
          [&](const GetCodeDeployTargets& a) {
            return answer_of(codedeploy.get_targets(a.deployment_id, a.target_ids),
                             [](auto targets) -> EventBody {
                               return CodeDeployTargetsRead{std::move(targets)};
                             });
          },
          [&](const StopCodeDeployDeployment& a) {
            return answer_of(codedeploy.stop_deployment(a.deployment_id, /*auto_rollback=*/true),
                             []() -> EventBody { return Done{}; });
          },
          [&](const auto& other) -> EventBody {
            return CallFailed{{ErrorKind::internal,
                               fmt::format("{} is not a request", action_name(Action{other}))}};
          },
      },
      action);
}

InputEvent ElastigroupProvider::end_without_token(Step step, ProviderCall& call) {
  if (report_) return *answer_report(step, call);
  const Deployment& deployment = call.deployment;
  if (deployment.cloud && !deployment.cloud->token.empty()) {
    if (auto read = from_token(deployment.cloud->token)) state_ = *read;
  }
  std::optional<FlowState>& state = state_;
  std::string spot = state ? state->spot_deployment_id : "";
  std::string codedeploy = state ? state->codedeploy_deployment_id : "";
  bool serving = state && state->greens_serving;
  if (state) {
    learn_own_codedeploy(deployment.spec);
    codedeploy = state->codedeploy_deployment_id;
    serving = state->greens_serving;
  }
  std::string done;
  if (!codedeploy.empty() && !serving) {
    auto stopped = ports_.codedeploy.stop_deployment(codedeploy, /*auto_rollback=*/true);
    done = stopped
               ? fmt::format("CodeDeploy deployment {} was stopped (with rollback). ", codedeploy)
               : fmt::format("CodeDeploy deployment {} could not be stopped ({}): stop it. ",
                             codedeploy, stopped.error().message);
  } else if (!codedeploy.empty()) {
    done = fmt::format(
        "CodeDeploy deployment {} succeeded on the greens, which may serve: "
        "nothing was stopped. ",
        codedeploy);
  }
  std::string by_hand = serving ? fmt::format(
                                      "The greens tagged GreenIdentifier={} may serve: do not stop "
                                      "Spot B/G deployment {} of Elastigroup {}; when it finishes, "
                                      "blue is detached",
                                      deployment.green_identifier,
                                      spot.empty() ? "(unknown)" : spot, deployment.spec.group_id)
                        : spot.empty()
                            ? fmt::format(
                                  "Look for a Spot B/G deployment of Elastigroup {} and for EC2 "
                                  "instances tagged GreenIdentifier={}, and stop them",
                                  deployment.spec.group_id, deployment.green_identifier)
                            : fmt::format(
                                  "Stop Spot B/G deployment {} of Elastigroup {} (it detaches the "
                                  "greens tagged GreenIdentifier={}) in the Spot console",
                                  spot, deployment.spec.group_id, deployment.green_identifier);
  std::string message = fmt::format(
      "the server restarted while this deployment ran, and its API_TOKEN was given literally: "
      "a literal token is kept only in memory, never stored, so the deployment cannot go on. "
      "{}{}; give API_TOKEN as ssm:/… or secretsmanager:… so that a restart resumes the "
      "deployment",
      done, by_hand);
  if (state) checkpoint(call);  // the record shows where it stood
  report_ = ReportFailure{FailureType::job_failed, message, codedeploy};
  if (step == Step::clean_up) return input::ActionDone{message};
  // What could be done without the token is done: the flow has nothing left to clean up.
  return input::Failed{error_of(FailureType::job_failed, message), {}, true, true};
}

void ElastigroupProvider::price_overlap(ProviderCall& call) {
  if (!state_ || !report_ || !prices_overlap(*state_, *report_)) return;
  const TimePoint ended = std::chrono::floor<Duration>(ports_.clock.now());
  Result<SpotCosts> costs = std::unexpected(
      Error{ErrorKind::permission_denied, "API_TOKEN's reference could not be resolved"});
  // Without its token Spot is never called.
  if (!state_->spot_out_of_reach && !spot_access_.token.reveal().empty()) {
    ports_.budget.deadline = std::min(run_bounds_->second, ended + kCostRequestTime);
    costs = ports_.spot.group_costs(spot_access_, state_->greens_since, ended);
    if (!costs) hide(spot_access_.token, costs.error());
  }
  DeploymentCost cost = spot_overlap_cost(*state_, ended, costs);
  call.deployment.cost = cost;
  add_cost(*report_, cost);
}

void ElastigroupProvider::learn_own_codedeploy(const DeploymentSpec& spec) {
  if (!state_ || state_->greens_serving) return;
  FlowState& s = *state_;
  std::optional<CodeDeployDeployment> ours;
  if (!s.codedeploy_deployment_id.empty()) {
    if (auto read = ports_.codedeploy.get_deployment(s.codedeploy_deployment_id)) ours = *read;
  } else if (s.phase == Phase::find_codedeploy || s.phase == Phase::create_codedeploy) {
    // The run may have died after CodeDeploy answered a create: find ours as the plan would.
    auto found = own_codedeploy_deployment(ports_.codedeploy, s.green_identifier, spec);
    if (!found) {
      // Unknown is treated as serving: a CodeDeploy deployment of ours may have succeeded.
      s.greens_serving = true;
      return;
    }
    ours = *found;
  }
  if (!ours) return;
  s.codedeploy_deployment_id = ours->id;
  s.codedeploy_status = ours->status;
  int round = 0;
  // A replacement round exists only once the install on every green succeeded.
  if (ours->status == "Succeeded" ||
      (installs_for(*ours, s.green_identifier, &round) && round > 0)) {
    s.greens_serving = true;
  }
}

}  // namespace bluegreen::elastigroup
