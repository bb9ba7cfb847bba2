#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/request_plan_run.h"

namespace bluegreen::elastigroup {
namespace {

using detail::add_once;
using detail::holds;
using detail::is_transient;
using detail::whole_seconds;

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
std::string_view purpose(std::string_view what) {
  if (what == "group") return "reading the Elastigroup (GROUP_ID)";
  if (what == "spot_list" || what == "spot_check") {
    return "reading the group's Spot B/G deployments";
  }
  if (what == "spot_create") return "creating the Spot B/G deployment";
  if (what == "greens" || what == "cleanup_greens") {
    return "describing the green instances in EC2";
  }
  if (what == "health") return "reading the green instances' EC2 status checks";
  if (what == "cd_last" || what == "cd_last_get") {
    return "reading the CodeDeploy deployment group (APP_NAME, DEPLOYMENT_GROUP)";
  }
  if (what == "cd_create") return "creating the CodeDeploy deployment";
  if (what == "cd_get" || what == "cd_targets" || what == "cd_target_batch") {
    return "following the CodeDeploy deployment";
  }
  if (what == "cd_stop") return "stopping the CodeDeploy deployment";
  if (what == "cleanup_cd_get") return "reading the CodeDeploy deployment";
  if (what == "spot_stop") return "stopping the Spot B/G deployment";
  if (what == "detach") return "detaching the green instances";
  if (what == "tag_replacement" || what == "tag_for_install") {
    return "tagging the replacement green instances in EC2";
  }
  return "calling the cloud";
}

// What to check, for each kind of failure.
std::string_view hint(FailureType type, std::string_view what) {
  switch (type) {
    case FailureType::permission_error:
      return what.starts_with("spot") || what == "group" || what == "detach"
                 ? "check API_TOKEN and ACCOUNT_ID: the Spot token must have access to the group"
                 : "the function's role is not allowed to do this: compare it with "
                   "deploy/iam-policy.json";
    case FailureType::revision_unavailable:
      return "check S3_BUCKET/S3_KEY/S3_BUNDLE or GITHUB_REPO/COMMIT_ID";
    case FailureType::configuration_error:
      if (what == "group") return "check GROUP_ID and ACCOUNT_ID";
      if (what.starts_with("spot")) {
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

// Without a run deadline (the server, the CLI) a request still ends by the plan's own: TIMEOUT,
// or the end of the cleanup grace while cleaning up. One that goes out past it (the last look
// at TIMEOUT, cleanup's last requests) gets one attempt's time.
constexpr Duration kRequestPastTheLimit = std::chrono::seconds(30);

}  // namespace

void detail::hide(const Secret& token, Error& error) {
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

RequestPlan::RequestPlan(const FlowConfig& config, FlowState& state, PlanPorts ports,
                         SpotAccess access)
    : c_(config), s_(state), ports_(ports), access_(std::move(access)) {}

void RequestPlan::start(PlanHost& host, const std::optional<std::string>& token) {
  host_ = &host;
  now_ = host.now();
  if (token) {
    auto restored = from_token(*token);
    if (!restored) {
      return finish(ReportFailure{
          FailureType::job_failed,
          fmt::format("the continuation token could not be read ({}); the deployment's state "
                      "is unknown: check the Elastigroup's CodeDeploy B/G tab and CodeDeploy "
                      "before running the stage again",
                      restored.error().message)});
    }
    s_ = *restored;
    log(EventKind::info, "resumed",
        fmt::format("resuming job {} in phase {}", s_.original_job_id, to_string(s_.stage)));
    // A state saved just before a create cannot tell whether the create went out and was
    // answered after it (the process may have died in between): look for it before creating.
    if (s_.stage == Stage::create_spot) enter(Stage::find_spot);
    if (s_.stage == Stage::create_codedeploy) enter(Stage::find_codedeploy);
    return;
  }
  s_ = FlowState{};
  s_.original_job_id = c_.job_id;
  s_.green_identifier = c_.green_identifier;
  s_.started = now_;
  s_.deadline = now_ + c_.timeout;
  s_.stage = Stage::read_group;
  log(EventKind::info, "started",
      fmt::format("blue/green deployment of {} to Elastigroup {} (TIMEOUT {} s)", c_.revision,
                  c_.group_id, whole_seconds(c_.timeout)),
      {{"green_identifier", s_.green_identifier}});
}

const std::optional<Report>& RequestPlan::go(PlanHost& host, const std::function<bool()>& reached) {
  host_ = &host;
  while (!done() && !reached()) {
    now_ = host.now();
    move();
  }
  return report_;
}

void RequestPlan::abandon(PlanHost& host, const std::string& reason) {
  host_ = &host;
  now_ = host.now();
  if (done() || s_.stage == Stage::stopping) return;
  fail(FailureType::job_failed, reason);
}

bool RequestPlan::may_send() {
  if (s_.stage != Stage::stopping && now_ >= s_.deadline && !s_.final_look) {
    timed_out();
    return false;
  }
  TimePoint limit = s_.stage == Stage::stopping ? s_.cleanup_deadline : s_.deadline;
  if (!host_->before_request(s_, std::max(limit, now_ + kRequestPastTheLimit))) {
    hand_over();
    return false;
  }
  return true;
}

void RequestPlan::answered(Error* error) {
  now_ = host_->now();
  s_.last_request = now_;
  ++s_.requests;
  if (error != nullptr) detail::hide(access_.token, *error);
}

bool RequestPlan::pause(TimePoint until) {
  until = std::max(now_, std::min(until, wait_limit()));
  if (!host_->pause_until(until)) {
    hand_over();
    return false;
  }
  now_ = host_->now();
  return true;
}

void RequestPlan::hand_over() {
  std::string token = to_token(s_);
  log(EventKind::info, "continuing",
      fmt::format("handing over to the next invocation in phase {}", to_string(s_.stage)));
  finish(ReportProgress{details(), std::move(token)});
}

void RequestPlan::resolve_token() {
  auto token = ask("resolve", [&] { return ports_.secrets.resolve(c_.token_reference); });
  if (!token) return;
  access_.token = std::move(**token);
  s_.api_token_ready = true;
}

void RequestPlan::group_read(const SpotGroup& group) {
  s_.target_capacity = group.target_capacity;
  s_.blue_count = static_cast<int>(group.instance_ids.size());
  s_.blue_ids = group.instance_ids;
  std::ranges::sort(s_.blue_ids);
  if (group.target_capacity <= 0) {
    return fail(FailureType::configuration_error,
                fmt::format("Elastigroup {} (GROUP_ID) has target capacity {}: there is no "
                            "instance to deploy to; raise the group's capacity",
                            c_.group_id, group.target_capacity));
  }
  log(EventKind::info, "group_read",
      fmt::format("group {}: target capacity {}, {} blue instance(s)", c_.group_id,
                  group.target_capacity, group.instance_ids.size()));
  enter(Stage::find_spot);
}

bool RequestPlan::is_ours(const SpotDeployment& d) const {
  return (!s_.spot_deployment_id.empty() && d.id == s_.spot_deployment_id) ||
         (!d.green_identifier.empty() && d.green_identifier == s_.green_identifier);
}

void RequestPlan::spot_listed(const std::vector<SpotDeployment>& deployments) {
  const SpotDeployment* ours = nullptr;
  for (const auto& d : deployments) {
    if (!is_ours(d)) continue;
    ours = &d;
    break;
  }
  if (ours == nullptr) return enter(Stage::create_spot);
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
      // Spot finalises its deployment only once CodeDeploy succeeded on the greens: they serve,
      // whatever CodeDeploy's last deployment is now.
      s_.spot_finished = s_.greens_serving = true;
      return enter(Stage::find_codedeploy);
    case SpotProgress::running:
      // CodeDeploy may have finished on its greens already (an earlier delivery got that
      // far): ask before anything else, so that nothing this delivery does removes them.
      s_.adopted_spot = true;
      return enter(Stage::find_codedeploy);
  }
}

bool RequestPlan::check_spot() {
  auto deployments = ask("spot_check", [&] { return ports_.spot.list_deployments(access_); });
  if (!deployments) return false;
  for (const auto& d : **deployments) {
    if (!is_ours(d)) continue;
    log_spot_state(d);
    if (classify(d) == SpotProgress::failed) {
      spot_failed(d);
      return false;
    }
    if (classify(d) == SpotProgress::finished) s_.spot_finished = s_.greens_serving = true;
    break;
  }
  return true;
}

bool RequestPlan::look_at_greens(std::string_view what, bool* changed) {
  auto described =
      ask(what, [&] { return ports_.ec2.describe_tagged(kGreenTag, s_.green_identifier); });
  if (!described) return false;
  const std::vector<Ec2Instance>& instances = **described;
  // A tagged instance is never blue: a delivery that joined a deployment under way read the
  // greens with the group.
  std::erase_if(s_.blue_ids, [&](const std::string& id) {
    return std::ranges::any_of(instances, [&](const Ec2Instance& i) { return i.id == id; });
  });
  std::vector<std::string> live, running;
  for (const auto& instance : instances) {
    if (!is_live(instance)) continue;
    live.push_back(instance.id);
    if (instance.state == "running") running.push_back(instance.id);
  }
  std::ranges::sort(live);
  std::ranges::sort(running);
  *changed = live != s_.green_ids || static_cast<int>(running.size()) != s_.greens_running;
  // Greens going away while cleanup removes them are expected; at any other time they were
  // taken from the deployment.
  bool within_limit = s_.stage == Stage::stopping || note_reclaimed(instances);
  s_.green_ids = live;
  s_.greens_running = static_cast<int>(running.size());
  if (within_limit) return true;
  fail(FailureType::job_failed,
       fmt::format("{} green instance(s) were taken by spot interruptions during this "
                   "deployment, more than the fleet's {}: {}. The spot market of this "
                   "group is too volatile to deploy on now; try again later or widen "
                   "the group's instance types",
                   s_.reclaimed.size(), s_.target_capacity, reclaimed_words()));
  return false;
}

bool RequestPlan::health_read(const std::vector<InstanceHealth>& health) {
  int passing = 0;
  for (const auto& h : health) {
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
  return passing >= s_.target_capacity && passing == static_cast<int>(s_.green_ids.size());
}

void RequestPlan::cleanup_codedeploy_read(const CodeDeployDeployment& d) {
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
}

void RequestPlan::candidate_read(const CodeDeployDeployment& d) {
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
  enter(Stage::follow);
}

bool RequestPlan::codedeploy_read(const CodeDeployDeployment& d) {
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
  return changed || s_.codedeploy_terminal;
}

void RequestPlan::log_target(const InstanceTarget& target) {
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

void RequestPlan::log_spot_state(const SpotDeployment& deployment) {
  std::string state = fmt::format("{}/{}", deployment.state, deployment.status);
  if (state == s_.spot_state) return;
  s_.spot_state = state;
  log(EventKind::info, "spot_state",
      fmt::format("Spot B/G deployment {}: state {}, status {}", deployment.id, deployment.state,
                  deployment.status));
}

bool RequestPlan::trouble(std::string_view what, const Error& error) {
  std::string detail =
      error.code.empty() ? error.message : fmt::format("{}: {}", error.code, error.message);
  if (s_.stage == Stage::stopping) {
    // Cleanup retries what may pass later, until its grace is over, and otherwise goes on
    // (each step is given up once): what it could not do is told in the report.
    if (is_transient(error) && now_ < s_.cleanup_deadline) {
      return retry_later(error, Stage::stopping);
    }
    s_.transient_failures = 0;
    if (what == "cd_stop" && error.code == "DeploymentAlreadyCompletedException") {
      // It ended while we were stopping it, maybe with success: read it before touching
      // anything on the Spot side.
      s_.codedeploy_stop_sent = true;
      s_.codedeploy_recheck = true;
      return false;
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
      return false;
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
    if (what == "cleanup_greens") report_failure();
    return false;
  }
  if (what == "resolve") {
    if (is_transient(error)) return retry_later(error, s_.stage);
    // Cleanup cannot call Spot without the token; EC2 can still tell whether greens remain.
    s_.api_token_ready = true;
    s_.spot_stop_sent = s_.detach_sent = true;
    s_.spot_out_of_reach = true;
    add_cleanup_note(cleanup_step_failed(s_, c_, what, detail));
    FailureType type = detail::failure_type_of(error);
    if (type != FailureType::permission_error) type = FailureType::configuration_error;
    fail(type, fmt::format("API_TOKEN reference {} could not be resolved ({}); check that "
                           "it exists and that the AWS identity this runs with (the Lambda "
                           "function's role, the server's or the CLI's credentials) may read it",
                           c_.token_reference, detail));
    return false;
  }
  if (what == "spot_create" && (error.kind == ErrorKind::conflict || is_transient(error))) {
    // It may have been created after all, or by a second delivery of this job: look again.
    return retry_later(error, Stage::find_spot);
  }
  if (what == "cd_create" && (error.code == "DeploymentLimitExceededException" ||
                              error.kind == ErrorKind::conflict || is_transient(error))) {
    return retry_later(error, Stage::find_codedeploy);
  }
  if (is_transient(error)) return retry_later(error, s_.stage);
  FailureType type = detail::failure_type_of(error);
  fail(type, fmt::format("{} failed: {}; {}", purpose(what), detail, hint(type, what)));
  return false;
}

}  // namespace bluegreen::elastigroup
