#include "engine/elastigroup_deployment.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/elastigroup_standalone.h"

namespace bluegreen {
namespace {

namespace eg = elastigroup;

constexpr const char* kGreenTag = "GreenIdentifier";

std::string field(const DeploymentEvent& event, const std::string& key) {
  auto it = event.fields.find(key);
  return it == event.fields.end() ? std::string() : it->second;
}

Step step_of(Phase phase) {
  switch (phase) {
    case Phase::launch_green:
      return Step::launch_green;
    case Phase::install:
      return Step::install;
    case Phase::terminate_blue:
      return Step::terminate_blue;
    case Phase::clean_up:
      return Step::terminate_green;
    default:
      return Step::fetch_revision;
  }
}

// The record of one run: the flow's log becomes the deployment's events, its state after each
// step the record's phase, greens, ids and token. Used from the run's thread only.
class CloudRecord final : public EventSink {
 public:
  CloudRecord(const CloudRunPorts& ports, Deployment deployment)
      : ports_(ports), d_(std::move(deployment)) {
    if (!d_.cloud) d_.cloud = CloudProgress{};
    if (d_.phases.empty()) enter(Phase::validate, PhaseOutcome::passed, "");
  }

  const Deployment& deployment() const { return d_; }

  void publish(const DeploymentEvent& event) override {
    // The executor's "reported" events name CodePipeline calls that a server run never makes.
    if (event.name == "reported") return;
    DeploymentEvent ours = event;
    ours.deployment_id = d_.id;
    if (!eg::phase_from_string(field(event, "flow_phase"))) ours.phase = d_.phase;
    emit(ours);
    if (event.name == "lifecycle_event") {
      std::string status = field(event, "status");
      if (status == "Succeeded" || status == "Failed") {
        d_.hooks.push_back(HookResult{event.instance_id, field(event, "lifecycle_event"), "",
                                      status == "Succeeded" ? 0 : 1, false,
                                      status == "Failed" ? event.message : "", 0});
      }
    }
  }
  void update(const Deployment& /*deployment*/) override {}  // the record is this run's own

  // After every step: where the flow stands, saved before its next request goes out.
  void checkpoint(const eg::FlowState& state) {
    // A reported flow is done; its token would resume nothing. The one before it stays.
    if (state.phase == eg::Phase::done) return;
    auto& cloud = *d_.cloud;
    cloud.flow_phase = std::string(eg::to_string(state.phase));
    cloud.spot_deployment_id = state.spot_deployment_id;
    cloud.codedeploy_deployment_id = state.codedeploy_deployment_id;
    cloud.token = eg::to_token(state);
    serving_ = state.greens_serving;
    note_greens(state);
    Phase next = eg::user_phase(state.phase);
    if (d_.phase != next) {
      bool failing = next == Phase::clean_up;
      std::string why = failing && state.failure ? state.failure->message : passed_note(state);
      enter(next, failing ? PhaseOutcome::failed : PhaseOutcome::passed, why);
    }
    save();
  }

  // The run was asked to stop: the flow's own hand-over token is where the next start resumes.
  void handed_over(const std::string& token) {
    if (!token.empty()) d_.cloud->token = token;
    save();
  }

  // The flow reported: the deployment ends.
  void finish(const eg::StandaloneResult& result) {
    bool succeeded = result.outcome == eg::RunOutcome::succeeded;
    close(succeeded ? PhaseOutcome::passed : PhaseOutcome::failed, result.message);
    d_.status = succeeded ? DeploymentStatus::succeeded : DeploymentStatus::failed;
    d_.step = Step::done;
    d_.finished = ports_.clock.now();
    if (!result.deployment_id.empty()) d_.cloud->codedeploy_deployment_id = result.deployment_id;
    if (!succeeded) {
      bool invalid = result.failure_type == eg::FailureType::configuration_error;
      d_.error = Error{invalid ? ErrorKind::invalid_input : ErrorKind::failed, result.message};
      // Cleanup detached the greens unless they may serve (the flow says what is left).
      if (!serving_) {
        for (auto& green : d_.green) green.state = InstanceState::terminated;
      }
    }
    emit(d_.phase, succeeded ? EventKind::info : EventKind::error,
         fmt::format("deployment {}: {}", succeeded ? "succeeded" : "failed", result.message));
    save();
  }

 private:
  std::string passed_note(const eg::FlowState& state) const {
    switch (d_.phase) {
      case Phase::validate:
        return fmt::format("GreenIdentifier={}", d_.green_identifier);
      case Phase::launch_green:
        return fmt::format("{} green instance(s) pass their status checks (Spot B/G {})",
                           state.greens_passing, state.spot_deployment_id);
      case Phase::install:
        return fmt::format("CodeDeploy deployment {} {}", state.codedeploy_deployment_id,
                           state.codedeploy_status);
      default:
        return "";
    }
  }

  void note_greens(const eg::FlowState& state) {
    for (const auto& id : state.green_ids) {
      auto known = std::ranges::find(d_.green, id, &Instance::id);
      if (known == d_.green.end()) {
        Instance green;
        green.id = id;
        green.fleet_id = d_.id;
        green.host.clear();
        green.tags[kGreenTag] = state.green_identifier;
        d_.green.push_back(std::move(green));
        known = d_.green.end() - 1;
      }
      known->state = state.greens_serving ? InstanceState::healthy : InstanceState::running;
    }
    // Greens the flow no longer sees have gone (detached by cleanup, or replaced by Spot).
    if (state.phase == eg::Phase::stopping || state.phase == eg::Phase::wait_greens) {
      for (auto& green : d_.green) {
        if (std::ranges::find(state.green_ids, green.id) == state.green_ids.end()) {
          green.state = InstanceState::terminated;
        }
      }
    }
  }

  void close(PhaseOutcome outcome, const std::string& message) {
    if (d_.phases.empty() || d_.phases.back().ended) return;
    auto& current = d_.phases.back();
    current.ended = ports_.clock.now();
    current.outcome = outcome;
    current.message = message;
    emit(current.phase, EventKind::phase_ended,
         fmt::format("{} {}{}{}", to_string(current.phase), to_string(outcome),
                     message.empty() ? "" : ": ", message));
  }

  void enter(Phase phase, PhaseOutcome previous, const std::string& message) {
    close(previous, message);
    d_.phase = phase;
    d_.step = step_of(phase);
    d_.phases.push_back(
        PhaseRecord{phase, ports_.clock.now(), std::nullopt, PhaseOutcome::running, ""});
    emit(phase, EventKind::phase_started, fmt::format("{} started", to_string(phase)));
  }

  void emit(Phase phase, EventKind kind, const std::string& message) {
    emit(DeploymentEvent{d_.id, ports_.clock.now(), phase, kind, message, "", "", {}});
  }
  void emit(const DeploymentEvent& event) {
    if (auto appended = ports_.journal.append(event); !appended) warn(appended.error());
    ports_.sink.publish(event);
  }

  void save() {
    if (auto saved = ports_.journal.save(d_); !saved) warn(saved.error());
    ports_.sink.update(d_);
  }

  // A journal that cannot be written loses the resume point, not the run: said once.
  void warn(const Error& error) {
    if (journal_warned_) return;
    journal_warned_ = true;
    d_.warnings.push_back("journal: " + error.message +
                          "; a restart may not be able to resume this deployment");
  }

  const CloudRunPorts& ports_;
  Deployment d_;
  bool serving_ = false;
  bool journal_warned_ = false;
};

// The deployment group's last attempted deployment, when it targets `green_identifier`.
std::optional<eg::CodeDeployDeployment> own_codedeploy_deployment(
    const eg::ElastigroupPorts& cloud, const std::string& green_identifier,
    const DeploymentSpec& spec) {
  auto last = cloud.codedeploy.last_attempted_deployment(spec.app_name, spec.deployment_group);
  if (!last || !*last) return std::nullopt;
  auto read = cloud.codedeploy.get_deployment(**last);
  if (!read ||
      std::ranges::find(read->green_tag_values, green_identifier) == read->green_tag_values.end()) {
    return std::nullopt;
  }
  return *read;
}

// A restarted server has no literal API_TOKEN: the journal never held it. The deployment ends
// with what can be done without Spot.
Deployment end_without_token(const CloudRunPorts& ports, CloudRecord& record,
                             const Deployment& deployment) {
  eg::CapturingReporter unused;
  eg::ElastigroupPorts cloud = ports.cloud.ports(record, unused);
  std::optional<eg::FlowState> state;
  if (deployment.cloud && !deployment.cloud->token.empty()) {
    if (auto read = eg::from_token(deployment.cloud->token)) state = *read;
  }
  std::string spot = state ? state->spot_deployment_id : "";
  std::string codedeploy = state ? state->codedeploy_deployment_id : "";
  bool serving = state && state->greens_serving;
  if (state && codedeploy.empty() &&
      (state->phase == eg::Phase::find_codedeploy ||
       state->phase == eg::Phase::create_codedeploy)) {
    // The server may have died after CodeDeploy answered a create: find ours as the flow would.
    if (auto ours = own_codedeploy_deployment(cloud, state->green_identifier, deployment.spec)) {
      codedeploy = state->codedeploy_deployment_id = ours->id;
      serving = state->greens_serving = ours->status == "Succeeded";
    }
  }
  std::string done;
  if (!codedeploy.empty() && !serving) {
    auto stopped = cloud.codedeploy.stop_deployment(codedeploy, /*auto_rollback=*/true);
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
  std::string by_hand = spot.empty()
                            ? fmt::format(
                                  "Look for a Spot B/G deployment of Elastigroup {} and for EC2 "
                                  "instances tagged GreenIdentifier={}, and stop them",
                                  deployment.spec.group_id, deployment.green_identifier)
                            : fmt::format(
                                  "Stop Spot B/G deployment {} of Elastigroup {} (it detaches the "
                                  "greens tagged GreenIdentifier={}) in the Spot console",
                                  spot, deployment.spec.group_id, deployment.green_identifier);
  eg::StandaloneResult result;
  result.outcome = eg::RunOutcome::failed;
  result.failure_type = eg::FailureType::job_failed;
  result.message = fmt::format(
      "the server restarted while this deployment ran, and its API_TOKEN was given literally: "
      "a literal token is kept only in memory, never stored, so the deployment cannot go on. "
      "{}{}; give API_TOKEN as ssm:/… or secretsmanager:… so that a restart resumes the "
      "deployment",
      done, by_hand);
  if (state) {
    record.checkpoint(*state);  // the record shows where it stood
    result.deployment_id = state->codedeploy_deployment_id;
  }
  record.finish(result);
  return record.deployment();
}

}  // namespace

Deployment run_cloud_deployment(const CloudRunPorts& ports, Deployment deployment,
                                eg::ElastigroupExecutor::Options options, CloudStart start) {
  CloudRecord record(ports, deployment);
  bool resumed = deployment.cloud && !deployment.cloud->token.empty();
  if (start == CloudStart::after_restart &&
      !is_secret_reference(deployment.spec.api_token.reveal())) {
    return end_without_token(ports, record, deployment);
  }
  eg::CapturingReporter reporter;
  eg::ElastigroupPorts cloud = ports.cloud.ports(record, reporter);
  options.checkpoint = [&record](const eg::FlowState& state, const eg::Action&) {
    record.checkpoint(state);
  };
  eg::ElastigroupExecutor executor(cloud, options);
  std::optional<std::string> token;
  if (resumed) token = deployment.cloud->token;
  eg::RunOutcome outcome =
      executor.run(eg::ElastigroupJob{deployment.id, deployment.spec, token}, TimePoint::max());
  if (outcome == eg::RunOutcome::continued) {
    // Stopped (the server shuts down): the next start resumes from the hand-over.
    auto report = reporter.report();
    const auto* progress = report ? std::get_if<eg::ReportProgress>(&*report) : nullptr;
    record.handed_over(progress ? progress->continuation_token : "");
    return record.deployment();
  }
  record.finish(eg::result_of(reporter.report()));
  return record.deployment();
}

}  // namespace bluegreen
