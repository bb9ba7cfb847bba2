#include "adapters/elastigroup/request_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/request_plan_stepper.h"

namespace bluegreen::elastigroup {
namespace detail {
namespace {

bool is_live(const Ec2Instance& instance) {
  return instance.state != "terminated" && instance.state != "shutting-down" &&
         instance.state != "stopped";
}

bool codedeploy_terminal(const std::string& status) {
  return status == "Succeeded" || status == "Failed" || status == "Stopped";
}

// The last non-empty line of a script's log tail.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  auto newline = text.rfind('\n');
  return std::string(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

// What a request was for, in words, for failure messages.
std::string_view purpose(std::string_view awaiting) {
  if (awaiting == "group") return "reading the Elastigroup (GROUP_ID)";
  if (awaiting == "spot_list" || awaiting == "spot_check") {
    return "reading the group's Spot B/G deployments";
  }
  if (awaiting == "spot_create") return "creating the Spot B/G deployment";
  if (awaiting == "greens" || awaiting == "cleanup_greens") {
    return "describing the green instances in EC2";
  }
  if (awaiting == "health") return "reading the green instances' EC2 status checks";
  if (awaiting == "cd_last" || awaiting == "cd_last_get") {
    return "reading the CodeDeploy deployment group (APP_NAME, DEPLOYMENT_GROUP)";
  }
  if (awaiting == "cd_create") return "creating the CodeDeploy deployment";
  if (awaiting == "cd_get" || awaiting == "cd_targets" || awaiting == "cd_target_batch") {
    return "following the CodeDeploy deployment";
  }
  if (awaiting == "cd_stop") return "stopping the CodeDeploy deployment";
  if (awaiting == "cleanup_cd_get") return "reading the CodeDeploy deployment";
  if (awaiting == "spot_stop") return "stopping the Spot B/G deployment";
  if (awaiting == "detach") return "detaching the green instances";
  if (awaiting == "tag_replacement" || awaiting == "tag_for_install") {
    return "tagging the replacement green instances in EC2";
  }
  return "calling the cloud";
}

// What to check, for each kind of failure.
std::string_view hint(FailureType type, std::string_view awaiting) {
  switch (type) {
    case FailureType::permission_error:
      return awaiting.starts_with("spot") || awaiting == "group" || awaiting == "detach"
                 ? "check API_TOKEN and ACCOUNT_ID: the Spot token must have access to the group"
                 : "the function's role is not allowed to do this: compare it with "
                   "deploy/iam-policy.json";
    case FailureType::revision_unavailable:
      return "check S3_BUCKET/S3_KEY/S3_BUNDLE or GITHUB_REPO/COMMIT_ID";
    case FailureType::configuration_error:
      if (awaiting == "group") return "check GROUP_ID and ACCOUNT_ID";
      if (awaiting.starts_with("spot")) {
        return "check the group's CodeDeploy integration, APP_NAME and DEPLOYMENT_GROUP";
      }
      return "check APP_NAME and DEPLOYMENT_GROUP";
    case FailureType::job_failed:
    case FailureType::system_unavailable:
      return "see the function's log for the request that failed";
  }
  return "";
}

// What a failed cleanup step leaves behind, and what the user should do about it; empty when
// it leaves nothing.
std::string cleanup_step_failed(const FlowState& s, const FlowConfig& c, std::string_view what,
                                std::string_view detail) {
  if (what == "cd_stop") {
    return fmt::format(
        "the CodeDeploy deployment {} could not be stopped ({}); stop it in the CodeDeploy "
        "console",
        s.codedeploy_deployment_id, detail);
  }
  if (what == "spot_stop") {
    return fmt::format(
        "the Spot B/G deployment {} could not be stopped ({}); stop it in the Spot console "
        "(Elastigroup {}, CodeDeploy B/G tab)",
        s.spot_deployment_id, detail, c.group_id);
  }
  if (what == "resolve") {
    if (s.spot_deployment_id.empty()) return {};  // nothing was started on the Spot side
    return fmt::format(
        "API_TOKEN reference {} could not be resolved ({}), so the Spot B/G deployment {} could "
        "not be stopped; stop it in the Spot console (Elastigroup {}, CodeDeploy B/G tab)",
        c.token_reference, detail, s.spot_deployment_id, c.group_id);
  }
  if (what == "detach") {
    return fmt::format("green instance(s) {} could not be detached from the Elastigroup ({})",
                       fmt::join(s.green_ids, ", "), detail);
  }
  if (what == "cleanup_greens") {
    return fmt::format(
        "whether green instances are left could not be checked ({}); look in EC2 for instances "
        "tagged GreenIdentifier={} and terminate them",
        detail, s.green_identifier);
  }
  return fmt::format("{} failed ({})", purpose(what), detail);
}

}  // namespace

Decision Stepper::on(const EventBody& body) {
  if (s_.phase == Phase::done) {
    return finish(ReportFailure{FailureType::job_failed, "internal error: event after the report",
                                s_.codedeploy_deployment_id});
  }
  if (!std::holds_alternative<Started>(body) && !std::holds_alternative<Woke>(body) &&
      !std::holds_alternative<InvocationEnding>(body) && !std::holds_alternative<Abandoned>(body)) {
    s_.last_request = now_;
    ++s_.requests;
  }
  return std::visit([this](const auto& e) { return handle(e); }, body);
}

Decision Stepper::handle(const Started& e) {
  if (e.continuation_token) {
    auto restored = from_token(*e.continuation_token);
    if (!restored) {
      return finish(ReportFailure{
          FailureType::job_failed,
          fmt::format("the continuation token could not be read ({}); the deployment's state "
                      "is unknown: check the Elastigroup's CodeDeploy B/G tab and CodeDeploy "
                      "before running the stage again",
                      restored.error().message)});
    }
    s_ = *restored;
    s_.round_step = 0;
    log(EventKind::info, "resumed",
        fmt::format("resuming job {} in phase {}", s_.original_job_id, to_string(s_.phase)));
    // A state saved just before a create cannot tell whether the create went out and was
    // answered after it (the process may have died in between): look for it before creating.
    if (s_.phase == Phase::create_spot) return enter(Phase::find_spot);
    if (s_.phase == Phase::create_codedeploy) return enter(Phase::find_codedeploy);
    return advance();
  }
  s_ = FlowState{};
  s_.original_job_id = c_.job_id;
  s_.green_identifier = c_.green_identifier;
  s_.started = now_;
  s_.deadline = now_ + c_.timeout;
  s_.phase = Phase::read_group;
  log(EventKind::info, "started",
      fmt::format("blue/green deployment of {} to Elastigroup {} (TIMEOUT {} s)", c_.revision,
                  c_.group_id, whole_seconds(c_.timeout)),
      {{"green_identifier", s_.green_identifier}});
  return advance();
}

Decision Stepper::handle(const TokenResolved& /*event*/) {
  s_.api_token_ready = true;
  return advance();
}

Decision Stepper::handle(const GroupRead& e) {
  s_.transient_failures = 0;
  if (s_.phase == Phase::read_group) {
    s_.target_capacity = e.target_capacity;
    s_.blue_count = static_cast<int>(e.instance_ids.size());
    s_.blue_ids = e.instance_ids;
    std::ranges::sort(s_.blue_ids);
    if (e.target_capacity <= 0) {
      return fail(FailureType::configuration_error,
                  fmt::format("Elastigroup {} (GROUP_ID) has target capacity {}: there is no "
                              "instance to deploy to; raise the group's capacity",
                              c_.group_id, e.target_capacity));
    }
    log(EventKind::info, "group_read",
        fmt::format("group {}: target capacity {}, {} blue instance(s)", c_.group_id,
                    e.target_capacity, e.instance_ids.size()));
    return enter(Phase::find_spot);
  }
  if (s_.phase != Phase::wait_blue_detached) return group_looked(e.instance_ids);
  s_.group_instance_ids = e.instance_ids;
  return next_step(1);
}

Decision Stepper::handle(const SpotDeploymentsListed& e) {
  s_.transient_failures = 0;
  const SpotDeployment* ours = nullptr;
  for (const auto& d : e.deployments) {
    if ((!s_.spot_deployment_id.empty() && d.id == s_.spot_deployment_id) ||
        (!d.green_identifier.empty() && d.green_identifier == s_.green_identifier)) {
      ours = &d;
      break;
    }
  }
  if (s_.phase == Phase::find_spot) {
    if (ours == nullptr) return enter(Phase::create_spot);
    s_.spot_deployment_id = ours->id;
    if (s_.greens_since == TimePoint{}) s_.greens_since = now_;
    log(EventKind::info, "spot_deployment_adopted",
        fmt::format("this job's Spot B/G deployment {} exists already (state {}, status {}); "
                    "following it instead of starting another",
                    ours->id, ours->state, ours->status));
    switch (classify(*ours)) {
      case SpotProgress::failed:
        return spot_failed(*ours);
      case SpotProgress::finished:
        s_.spot_finished = true;
        return enter(Phase::find_codedeploy);
      case SpotProgress::running:
        // CodeDeploy may have finished on its greens already (an earlier delivery got that
        // far): ask before anything else, so that nothing this delivery does removes them.
        s_.adopted_spot = true;
        return enter(Phase::find_codedeploy);
    }
  }
  // A check while waiting.
  if (ours != nullptr) {
    log_spot_state(*ours);
    if (classify(*ours) == SpotProgress::failed) return spot_failed(*ours);
    if (classify(*ours) == SpotProgress::finished) s_.spot_finished = true;
  }
  return after_spot_check();
}

Decision Stepper::handle(const SpotDeploymentCreated& e) {
  s_.transient_failures = 0;
  s_.spot_deployment_id = e.deployment.id;
  if (s_.greens_since == TimePoint{}) s_.greens_since = now_;
  log(EventKind::info, "spot_deployment_created",
      fmt::format("Spot B/G deployment {} created: greens will be tagged GreenIdentifier={}",
                  e.deployment.id, s_.green_identifier));
  return enter(Phase::wait_greens);
}

Decision Stepper::handle(const GreensDescribed& e) {
  s_.transient_failures = 0;
  // A tagged instance is never blue: a delivery that joined a deployment under way read the
  // greens with the group.
  std::erase_if(s_.blue_ids, [&](const std::string& id) {
    return std::ranges::any_of(e.instances, [&](const Ec2Instance& i) { return i.id == id; });
  });
  std::vector<std::string> live, running;
  for (const auto& instance : e.instances) {
    if (!is_live(instance)) continue;
    live.push_back(instance.id);
    if (instance.state == "running") running.push_back(instance.id);
  }
  std::ranges::sort(live);
  std::ranges::sort(running);
  bool changed = live != s_.green_ids || static_cast<int>(running.size()) != s_.greens_running;
  // Greens going away while cleanup removes them are expected; at any other time they were
  // taken from the deployment.
  bool within_limit = s_.phase == Phase::stopping || note_reclaimed(e.instances);
  s_.green_ids = live;
  s_.greens_running = static_cast<int>(running.size());
  if (s_.phase == Phase::stopping) return cleanup_greens_seen();
  if (!within_limit) {
    return fail(FailureType::job_failed,
                fmt::format("{} green instance(s) were taken by spot interruptions during this "
                            "deployment, more than the fleet's {}: {}. The spot market of this "
                            "group is too volatile to deploy on now; try again later or widen "
                            "the group's instance types",
                            s_.reclaimed.size(), s_.target_capacity, reclaimed_words()));
  }
  if (s_.phase == Phase::wait_blue_detached) return blue_detached_check();
  if (s_.phase == Phase::follow) {
    if (changed) s_.round_changed = true;
    return s_.codedeploy_terminal ? install_ended() : next_step(4);
  }

  if (changed) {
    log(EventKind::info, "greens",
        fmt::format("{} green instance(s) tagged GreenIdentifier={}, {} running (expecting {})",
                    live.size(), s_.green_identifier, running.size(), s_.target_capacity));
    s_.round_changed = true;
  }
  bool all_running = !live.empty() && running.size() == live.size() &&
                     static_cast<int>(running.size()) >= s_.target_capacity;
  return next_step(all_running ? 1 : 2);
}

Decision Stepper::handle(const InstanceHealthDescribed& e) {
  s_.transient_failures = 0;
  int passing = 0;
  for (const auto& h : e.instances) {
    if (h.system_ok && h.instance_ok && holds(s_.green_ids, h.id)) {
      ++passing;
    }
  }
  if (passing != s_.greens_passing) {
    s_.round_changed = true;
    log(EventKind::info, "green_status_checks",
        fmt::format("{} of {} green instance(s) pass EC2 status checks", passing,
                    s_.green_ids.size()));
  }
  s_.greens_passing = passing;
  if (passing >= s_.target_capacity && passing == static_cast<int>(s_.green_ids.size())) {
    return greens_ready();
  }
  return next_step(2);
}

Decision Stepper::handle(const LastCodeDeployDeployment& e) {
  s_.transient_failures = 0;
  if (!e.deployment_id) return no_codedeploy_of_ours();
  s_.codedeploy_candidate = *e.deployment_id;
  return next_step(1);
}

Decision Stepper::handle(const CodeDeployDeploymentRead& e) {
  s_.transient_failures = 0;
  const auto& d = e.deployment;
  if (s_.phase == Phase::stopping) {  // cleanup_cd_get: a stop was refused as completed
    s_.codedeploy_recheck = false;
    s_.codedeploy_status = d.status;
    s_.codedeploy_terminal = codedeploy_terminal(d.status);
    if (d.status == "Succeeded") {
      s_.greens_serving = true;
      log(EventKind::warning, "codedeploy_succeeded",
          fmt::format("CodeDeploy deployment {} had already succeeded on the greens: they are "
                      "left serving",
                      d.id));
    } else if (!s_.codedeploy_terminal) {
      s_.codedeploy_stop_sent = false;  // it is still going after all: stop it
    }
    return advance();
  }
  if (s_.phase == Phase::find_codedeploy) {
    // Ours: an install of this job, not one of an earlier round, and in a round of our own,
    // that round's.
    int round = 0;
    bool ours =
        installs_for(d, s_.green_identifier, &round) && !holds(s_.earlier_codedeploy_ids, d.id);
    if (ours && s_.install_round > 0) ours = holds(d.green_tag_values, install_tag_value());
    if (!ours) return no_codedeploy_of_ours();
    if (round > 0 && s_.install_round == 0) {
      // A delivery that joins a replacement round: such a round exists only once the install
      // on every green succeeded, so the greens serve.
      s_.greens_serving = true;
      s_.replacements_only = true;
      s_.install_round = round;
    }
    s_.adopted_spot = false;
    if (d.status == "Succeeded") s_.greens_serving = true;
    s_.codedeploy_deployment_id = d.id;
    if (!s_.replacements_only) s_.main_codedeploy_id = d.id;
    log(EventKind::info, "codedeploy_deployment_adopted",
        fmt::format("CodeDeploy deployment {} of this job exists already ({}); following it", d.id,
                    d.status));
    return enter(Phase::follow);
  }
  // follow
  std::string overview = fmt::format("{}/{}/{}/{}/{}/{}/{}", d.status, d.pending, d.in_progress,
                                     d.succeeded, d.failed, d.skipped, d.ready);
  bool changed = overview != s_.codedeploy_overview;
  if (d.status != s_.codedeploy_status) {
    log(d.status == "Failed" || d.status == "Stopped" ? EventKind::error : EventKind::info,
        "codedeploy_status",
        fmt::format("CodeDeploy deployment {} is {}: {} succeeded, {} in progress, {} pending, "
                    "{} failed",
                    d.id, d.status, d.succeeded, d.in_progress, d.pending, d.failed));
  }
  s_.codedeploy_status = d.status;
  s_.codedeploy_overview = overview;
  s_.codedeploy_terminal = codedeploy_terminal(d.status);
  if (d.status == "Succeeded") s_.greens_serving = true;
  if (!d.error_code.empty() || !d.error_message.empty()) {
    s_.codedeploy_error = fmt::format("{}: {}", d.error_code, d.error_message);
  }
  if (changed) s_.round_changed = true;
  // Read the targets whenever something moved, and always at the end (for the final
  // lifecycle events and, on failure, the event that failed).
  if (changed || s_.codedeploy_terminal) return next_step(1);
  return next_step(3);
}

Decision Stepper::handle(const CodeDeployCreated& e) {
  s_.transient_failures = 0;
  s_.codedeploy_deployment_id = e.deployment_id;
  if (!s_.replacements_only) s_.main_codedeploy_id = e.deployment_id;
  log(EventKind::info, "codedeploy_deployment_created",
      fmt::format("CodeDeploy deployment {} created for {} on instances tagged {}={}",
                  e.deployment_id, c_.revision, install_tag_key(), install_tag_value()));
  return enter(Phase::follow);
}

Decision Stepper::handle(const CodeDeployTargetsListed& e) {
  s_.transient_failures = 0;
  s_.pending_target_ids = e.target_ids;
  for (const auto& id : e.target_ids) add_once(s_.installed_ids, id);
  return next_step(2);
}

Decision Stepper::handle(const CodeDeployTargetsRead& e) {
  s_.transient_failures = 0;
  for (const auto& target : e.targets) log_target(target);
  return next_step(2);
}

Decision Stepper::handle(const Done& /*event*/) {
  s_.transient_failures = 0;
  if (s_.awaiting == "cd_stop") {
    s_.codedeploy_stop_sent = true;
    log(EventKind::info, "codedeploy_stopped",
        fmt::format("CodeDeploy deployment {} stopped with rollback", s_.codedeploy_deployment_id));
  } else if (s_.awaiting == "spot_stop") {
    s_.spot_stop_sent = true;
    log(EventKind::info, "spot_deployment_stopped",
        fmt::format("Spot B/G deployment {} stopped", s_.spot_deployment_id));
  } else if (s_.awaiting == "detach") {
    s_.detach_sent = true;
    log(EventKind::info, "greens_detached",
        fmt::format("green instance(s) {} detached and terminated", fmt::join(s_.green_ids, ",")));
  } else if (s_.awaiting == "tag_replacement") {
    s_.round_changed = true;
    return next_step(3);  // the next look at the greens finds it
  } else if (s_.awaiting == "tag_for_install") {
    return enter(Phase::find_codedeploy);
  }
  return advance();
}

Decision Stepper::handle(const Woke& /*event*/) {
  if (s_.awaiting == "round") {
    ++s_.round;
    s_.round_step = 0;
  }
  return advance();
}

Decision Stepper::handle(const Abandoned& e) {
  if (s_.phase == Phase::stopping) return advance();
  return fail(FailureType::job_failed, e.reason);
}

Decision Stepper::handle(const InvocationEnding& /*event*/) {
  std::string token = to_token(s_);
  log(EventKind::info, "continuing",
      fmt::format("handing over to the next invocation in phase {}", to_string(s_.phase)));
  return finish(ReportProgress{details(), std::move(token)});
}

void Stepper::log_target(const InstanceTarget& target) {
  if (target.status == "Failed") add_once(s_.failed_targets, target.instance_id);
  const auto& events = target.events;
  int latest = -1;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    if (events[i].status != "Pending") latest = i;
  }
  if (latest < 0) return;
  std::string& seen = s_.instance_progress[target.instance_id];
  int previous = -1;
  std::string previous_status;
  if (auto colon = seen.find(':'); colon != std::string::npos) {
    std::string name = seen.substr(0, colon);
    previous_status = seen.substr(colon + 1);
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      if (events[i].name == name) previous = i;
    }
  }
  for (int i = std::max(previous, 0); i <= latest; ++i) {
    const LifecycleEvent& event = events[i];
    if (event.status == "Pending") continue;
    if (i == previous && event.status == previous_status) continue;
    bool failed = event.status == "Failed";
    std::map<std::string, std::string> fields{{"instance", target.instance_id},
                                              {"lifecycle_event", event.name},
                                              {"status", event.status}};
    std::string message = fmt::format("{} {} on {}", event.name, event.status, target.instance_id);
    if (failed) {
      std::string tail = last_line(event.log_tail);
      std::string why =
          fmt::format("{}{}{}{}{}", event.error_code, event.script_name.empty() ? "" : ": ",
                      event.script_name, event.message.empty() ? "" : ": ", event.message);
      if (!tail.empty()) why += fmt::format("; log tail: {}", tail);
      message += fmt::format(" ({})", why);
      fields["error_code"] = event.error_code;
      add_once(s_.failed_targets, target.instance_id);
      if (s_.failed_lifecycle.empty()) {
        s_.failed_lifecycle =
            clip(fmt::format("{} failed on {} ({})", event.name, target.instance_id, why), 600);
      }
    }
    log(failed ? EventKind::error : EventKind::info, "lifecycle_event", message, fields);
  }
  seen = fmt::format("{}:{}", events[latest].name, events[latest].status);
}

void Stepper::log_spot_state(const SpotDeployment& deployment) {
  std::string state = fmt::format("{}/{}", deployment.state, deployment.status);
  if (state == s_.spot_state) return;
  s_.spot_state = state;
  log(EventKind::info, "spot_state",
      fmt::format("Spot B/G deployment {}: state {}, status {}", deployment.id, deployment.state,
                  deployment.status));
}

Decision Stepper::handle(const CallFailed& e) {
  const Error& error = e.error;
  std::string what = s_.awaiting;
  std::string detail =
      error.code.empty() ? error.message : fmt::format("{}: {}", error.code, error.message);
  if (s_.phase == Phase::stopping) {
    // Cleanup retries what may pass later, until its grace is over, and otherwise goes on
    // (each step is given up once): what it could not do is told in the report.
    if (is_transient(error) && now_ < s_.cleanup_deadline) {
      return retry_later(error, Phase::stopping);
    }
    s_.transient_failures = 0;
    if (what == "cd_stop" && error.code == "DeploymentAlreadyCompletedException") {
      // It ended while we were stopping it, maybe with success: read it before touching
      // anything on the Spot side.
      s_.codedeploy_stop_sent = true;
      s_.codedeploy_recheck = true;
      return advance();
    }
    if (what == "cleanup_cd_get") {
      // Whether the greens serve is unknown: they are left alone (see the header).
      s_.codedeploy_recheck = false;
      s_.greens_serving = true;
      add_cleanup_note(fmt::format(
          "CodeDeploy deployment {} had already completed and could not be read ({}); the "
          "green instances tagged GreenIdentifier={} were left as they are: if it did not "
          "succeed, stop the Spot B/G deployment {} in the Spot console",
          s_.codedeploy_deployment_id, detail, s_.green_identifier, s_.spot_deployment_id));
      return advance();
    }
    if (what == "cd_stop") s_.codedeploy_stop_sent = true;
    if (what == "spot_stop") s_.spot_stop_sent = true;
    if (what == "detach") s_.detach_sent = true;
    if (what == "resolve") {
      // Without the Spot token nothing can be stopped on the Spot side.
      s_.api_token_ready = true;
      s_.spot_stop_sent = s_.detach_sent = true;
      s_.spot_out_of_reach = true;
    }
    std::string note = error.code == "DeploymentAlreadyCompletedException"
                           ? std::string()
                           : cleanup_step_failed(s_, c_, what, detail);
    if (!note.empty()) {
      add_cleanup_note(note);
      log(EventKind::warning, "cleanup_step_failed", note);
    }
    if (what == "cleanup_greens") return report_failure();
    return advance();
  }
  if (what == "resolve") {
    if (is_transient(error)) return retry_later(error, s_.phase);
    // Cleanup cannot call Spot without the token; EC2 can still tell whether greens remain.
    s_.api_token_ready = true;
    s_.spot_stop_sent = s_.detach_sent = true;
    s_.spot_out_of_reach = true;
    add_cleanup_note(cleanup_step_failed(s_, c_, what, detail));
    FailureType type = failure_type_of(error);
    if (type != FailureType::permission_error) type = FailureType::configuration_error;
    return fail(
        type,
        fmt::format("API_TOKEN reference {} could not be resolved ({}); check that "
                    "it exists and that the AWS identity this runs with (the Lambda function's "
                    "role, the server's or the CLI's credentials) may read it",
                    c_.token_reference, detail));
  }
  if (what == "spot_create" && (error.kind == ErrorKind::conflict || is_transient(error))) {
    // It may have been created after all, or by a second delivery of this job: look again.
    return retry_later(error, Phase::find_spot);
  }
  if (what == "cd_create" && (error.code == "DeploymentLimitExceededException" ||
                              error.kind == ErrorKind::conflict || is_transient(error))) {
    return retry_later(error, Phase::find_codedeploy);
  }
  if (what == "cd_targets" && error.code == "DeploymentNotStartedException") {
    s_.pending_target_ids.clear();
    return next_step(2);
  }
  if (what == "health" && error.code.starts_with("InvalidInstanceID")) {
    return next_step(2);  // EC2 does not know the instance yet: look again next round
  }
  if ((what == "tag_replacement" || what == "tag_for_install") &&
      error.code.starts_with("InvalidInstanceID")) {
    return next_step(3);  // it went away meanwhile: the next round looks again
  }
  if (is_transient(error)) return retry_later(error, s_.phase);
  FailureType type = failure_type_of(error);
  return fail(type, fmt::format("{} failed: {}; {}", purpose(what), detail, hint(type, what)));
}

}  // namespace detail

Decision step(const FlowConfig& config, FlowState& state, const Event& event) {
  return detail::Stepper(config, state, event.now).on(event.body);
}

}  // namespace bluegreen::elastigroup
