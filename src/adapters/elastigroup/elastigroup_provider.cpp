#include "adapters/elastigroup/elastigroup_provider.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/elastigroup_cost.h"
#include "core/overloaded.h"

namespace bluegreen::elastigroup {
namespace {

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
  if (state.stage == Stage::stopping || state.stage == Stage::wait_greens) {
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
    fields["flow_phase"] = state_ ? std::string(to_string(state_->stage)) : "validate";
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

void ElastigroupProvider::publish(DeploymentEvent event, ProviderCall& call) {
  Deployment& d = call.deployment;
  event.deployment_id = d.id;
  event.at = ports_.clock.now();
  annotate(event);
  if (auto phase = stage_from_string(field(event, "flow_phase"))) {
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

void ElastigroupProvider::checkpoint(ProviderCall& call) {
  const FlowState& state = *state_;
  // A reported plan is done; its token would resume nothing. The one before it stays.
  if (state.stage == Stage::done) return;
  Deployment& d = call.deployment;
  if (!d.cloud) d.cloud = CloudProgress{};
  d.cloud->flow_phase = std::string(to_string(state.stage));
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
  if (s.stage == Stage::stopping) {
    // After the switch the flow has no clean_up step: the plan's own (it found the greens
    // never served) runs within this step, and its report is the answer.
    if (step == Step::clean_up || d.traffic_moved) return std::nullopt;
    const PendingFailure failure = s.failure.value_or(PendingFailure{});
    return input::Failed{error_of(failure.type, failure.message), {}, true};
  }
  switch (step) {
    case Step::launch_green:
      if (s.stage >= Stage::find_codedeploy && s.stage <= Stage::wait_blue_detached) {
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
      if (s.stage == Stage::wait_blue_detached) {
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

// The plan's host for one call of the provider: the record saved before every request, the
// run's bounds and stop requests, the clock.
class ElastigroupProvider::Host final : public PlanHost {
 public:
  Host(ElastigroupProvider& provider, ProviderCall& call) : p_(provider), call_(call) {}

  TimePoint now() override { return std::chrono::floor<Duration>(p_.ports_.clock.now()); }

  bool before_request(const FlowState& /*state*/, TimePoint limit) override {
    p_.checkpoint(call_);
    const auto [stop_at, call_deadline] = *p_.run_bounds_;
    if (p_.ports_.clock.now() >= stop_at || stopping()) return false;
    p_.ports_.budget.deadline = std::min(call_deadline, limit);
    return true;
  }

  bool pause_until(TimePoint until) override {
    p_.checkpoint(call_);
    Clock& clock = p_.ports_.clock;
    if (until >= p_.run_bounds_->first) return false;
    if (p_.options_.stop == nullptr && call_.stop == nullptr) {
      clock.sleep_until(until);
      return true;
    }
    // Less when the run is asked to stop.
    while (!stopping() && clock.now() < until) {
      clock.sleep_until(std::min(until, clock.now() + kStopCheck));
    }
    return !stopping();
  }

  void publish(DeploymentEvent event) override { p_.publish(std::move(event), call_); }

 private:
  bool stopping() const {
    return (p_.options_.stop != nullptr && p_.options_.stop->load()) ||
           (call_.stop != nullptr && call_.stop->load());
  }

  ElastigroupProvider& p_;
  ProviderCall& call_;
};

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
      publish(std::move(event), call);
      report_ = failure;
      return *answer_report(step, call);
    }
    config_ = *made;
    if (options_.request_spacing) config_->request_spacing = *options_.request_spacing;
    if (options_.poll_interval) config_->poll_interval = *options_.poll_interval;
    if (options_.max_poll_interval) config_->max_poll_interval = *options_.max_poll_interval;
    if (options_.cleanup_grace) config_->cleanup_grace = *options_.cleanup_grace;
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
  Host host(*this, call);
  if (!plan_) {
    state_.emplace();
    state_->original_job_id = job_id_;
    // The literal token, or none until the plan resolves the reference.
    plan_.emplace(*config_, *state_,
                  PlanPorts{ports_.spot, ports_.ec2, ports_.codedeploy, ports_.secrets},
                  SpotAccess{config_->token_reference.empty() ? d.spec.api_token : Secret(),
                             d.spec.account_id, d.spec.group_id});
    std::optional<std::string> token;
    if (d.cloud && !d.cloud->token.empty()) token = d.cloud->token;
    plan_->start(host, token);
  }
  if (step == Step::clean_up && !plan_->report() && state_->stage != Stage::stopping) {
    // The deployment failed outside the plan (its record could not be kept): the plan cleans
    // up as after a failure of its own, once it knows its CodeDeploy deployment.
    learn_own_codedeploy(d.spec);
    plan_->abandon(host, d.error ? d.error->message : "the deployment failed");
  }
  std::optional<InputEvent> done;
  plan_->go(host, [&] {
    // Saved after every move too: a move may learn that the greens serve and then report
    // without a request (the cost request that follows must not go out before it is saved).
    checkpoint(call);
    done = answer(step, call);
    return done.has_value();
  });
  if (done) return *done;
  report_ = *plan_->report();
  price_overlap(call);
  // A finished deployment's record no longer shows where its requests stood last.
  if (d.cloud && !std::holds_alternative<ReportProgress>(*report_)) {
    d.cloud->flow_phase = std::string(to_string(Stage::done));
  }
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
  if (!plan_ || !report_ || !prices_overlap(*state_, *report_)) return;
  const TimePoint ended = std::chrono::floor<Duration>(ports_.clock.now());
  Result<SpotCosts> costs = std::unexpected(
      Error{ErrorKind::permission_denied, "API_TOKEN's reference could not be resolved"});
  // Without its token Spot is never called.
  const SpotAccess& access = plan_->access();
  if (!state_->spot_out_of_reach && !access.token.reveal().empty()) {
    ports_.budget.deadline = std::min(run_bounds_->second, ended + kCostRequestTime);
    costs = ports_.spot.group_costs(access, state_->greens_since, ended);
    if (!costs) detail::hide(access.token, costs.error());
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
  } else if (s.stage == Stage::find_codedeploy || s.stage == Stage::create_codedeploy) {
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
