// The moves of the Elastigroup request plan: each phase's requests, when to wait, when to give
// up, and the words of every report.
#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/request_plan_run.h"

namespace bluegreen::elastigroup {
namespace {

using detail::holds;
using detail::whole_seconds;

// EC2 does not know the instance (yet, or any more).
bool unknown_instance(const Error& error) {
  return error.code.starts_with("InvalidInstanceID");
}

// CodeDeploy reads at most 25 targets per BatchGetDeploymentTargets.
constexpr std::size_t kTargetBatch = 25;
// While waiting, the Spot deployment is checked every this many rounds.
constexpr int kSpotCheckEvery = 3;
// How many rounds cleanup gives Spot to remove the greens before detaching them itself.
constexpr int kRoundsBeforeDetach = 2;

// `text` without the full stop it may end with, so that sentences can be joined with ". ".
std::string sentence(std::string text) {
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return text;
}

struct Overview {
  long long total = 0, succeeded = 0;
};

// The counts part of FlowState::codedeploy_overview ("status/pending/inprogress/succeeded/…").
Overview parse_overview(const std::string& overview) {
  Overview out;
  std::vector<long long> numbers;
  std::size_t pos = overview.find('/');
  while (pos != std::string::npos) {
    std::size_t next = overview.find('/', pos + 1);
    numbers.push_back(std::atoll(overview.substr(pos + 1, next - pos - 1).c_str()));
    pos = next;
  }
  for (auto n : numbers) out.total += n;
  if (numbers.size() >= 3) out.succeeded = numbers[2];
  if (numbers.size() >= 6) out.total -= numbers[5];  // Ready instances are also counted above
  return out;
}

}  // namespace

void RequestPlan::enter(Stage stage) {
  s_.stage = stage;
  s_.round = 0;
  s_.poll_interval = Duration::zero();
  s_.round_changed = false;
}

void RequestPlan::move() {
  if (!c_.token_reference.empty() && !s_.api_token_ready) return resolve_token();
  if (s_.stage == Stage::stopping) return stop_move();
  if (now_ >= s_.deadline && !s_.final_look) return timed_out();
  switch (s_.stage) {
    case Stage::read_group:
      return read_group();
    case Stage::find_spot:
      return find_spot();
    case Stage::create_spot:
      return create_spot();
    case Stage::wait_greens:
      return greens_round();
    case Stage::find_codedeploy:
      return find_codedeploy();
    case Stage::create_codedeploy:
      return create_codedeploy();
    case Stage::follow:
      return follow_round();
    case Stage::wait_blue_detached:
      return blue_round();
    case Stage::stopping:
    case Stage::done:
      break;
  }
  finish(ReportFailure{FailureType::job_failed, "internal error: no next step",
                       s_.codedeploy_deployment_id});
}

void RequestPlan::read_group() {
  auto group = ask("group", [&] { return ports_.spot.read_group(access_, true); });
  if (group) group_read(**group);
}

void RequestPlan::find_spot() {
  auto list = ask("spot_list", [&] { return ports_.spot.list_deployments(access_); });
  if (list) spot_listed(**list);
}

void RequestPlan::create_spot() {
  SpotBlueGreenRequest request{s_.green_identifier,
                               std::max(1LL, whole_seconds(s_.deadline - now_)), c_.app_name,
                               c_.deployment_group};
  auto created =
      ask("spot_create", [&] { return ports_.spot.create_deployment(access_, request); });
  if (!created) return;
  s_.spot_deployment_id = (*created)->id;
  if (s_.greens_since == TimePoint{}) s_.greens_since = now_;
  log(EventKind::info, "spot_deployment_created",
      fmt::format("Spot B/G deployment {} created: greens will be tagged GreenIdentifier={}",
                  (*created)->id, s_.green_identifier));
  enter(Stage::wait_greens);
}

void RequestPlan::greens_round() {
  const bool checks_now = s_.round % kSpotCheckEvery == kSpotCheckEvery - 1;
  bool changed = false;
  if (!look_at_greens("greens", &changed)) return;
  const std::vector<std::string>& live = s_.green_ids;
  if (changed) {
    log(EventKind::info, "greens",
        fmt::format("{} green instance(s) tagged GreenIdentifier={}, {} running (expecting {})",
                    live.size(), s_.green_identifier, s_.greens_running, s_.target_capacity));
    s_.round_changed = true;
  }
  bool all_running = !live.empty() && s_.greens_running == static_cast<int>(live.size()) &&
                     s_.greens_running >= s_.target_capacity;
  // The group: every round while a replacement is awaited, else now and then (a blue that
  // left early is reported).
  bool look_at_group = wants_replacement() || checks_now;
  if (all_running) {
    // EC2 may not know a green yet: it is looked at again next round.
    auto health = ask(
        "health", [&] { return ports_.ec2.describe_health(s_.green_ids); }, unknown_instance);
    if (!health) return;
    if (*health && health_read(**health)) {
      if (!greens_ready()) return;
      look_at_group = false;  // a replacement to tag went away: the next round looks again
    }
  }
  if (look_at_group) {
    auto group = ask("group_look", [&] { return ports_.spot.read_group(access_, false); });
    if (!group || !group_looked((*group)->instance_ids)) return;
  }
  if (checks_now) {
    if (!check_spot()) return;
  }
  end_round();
}

void RequestPlan::find_codedeploy() {
  auto last = ask("cd_last", [&] {
    return ports_.codedeploy.last_attempted_deployment(c_.app_name, c_.deployment_group);
  });
  if (!last) return;
  if (!**last) return no_codedeploy_of_ours();
  const std::string candidate = ***last;
  auto read = ask("cd_last_get", [&] { return ports_.codedeploy.get_deployment(candidate); });
  if (read) candidate_read(**read);
}

void RequestPlan::create_codedeploy() {
  const std::string& gid = s_.green_identifier;
  CodeDeployRequest request{
      c_.app_name,
      c_.deployment_group,
      c_.revision_source,
      install_tag_key(),
      install_tag_value(),
      s_.install_round == 0
          ? fmt::format("bluegreen: CodePipeline job {}, GreenIdentifier={}", s_.original_job_id,
                        gid)
          : fmt::format("bluegreen: CodePipeline job {}, GreenIdentifier={}, install {} after "
                        "spot interruptions ({}={})",
                        s_.original_job_id, gid, s_.install_round + 1, install_tag_key(),
                        install_tag_value())};
  auto created = ask("cd_create", [&] { return ports_.codedeploy.create_deployment(request); });
  if (!created) return;
  const std::string& id = **created;
  s_.codedeploy_deployment_id = id;
  if (!s_.replacements_only) s_.main_codedeploy_id = id;
  log(EventKind::info, "codedeploy_deployment_created",
      fmt::format("CodeDeploy deployment {} created for {} on instances tagged {}={}", id,
                  c_.revision, install_tag_key(), install_tag_value()));
  enter(Stage::follow);
}

void RequestPlan::follow_round() {
  const bool checks_now = s_.round % kSpotCheckEvery == kSpotCheckEvery - 1;
  const std::string id = s_.codedeploy_deployment_id;
  auto read = ask("cd_get", [&] { return ports_.codedeploy.get_deployment(id); });
  if (!read) return;
  if (codedeploy_read(**read)) {
    // CodeDeploy cannot list the targets of a deployment that has not started yet.
    auto targets = ask(
        "cd_targets", [&] { return ports_.codedeploy.list_targets(id); },
        [](const Error& e) { return e.code == "DeploymentNotStartedException"; });
    if (!targets) return;
    std::vector<std::string> pending;
    if (*targets) pending = **targets;
    for (const auto& target : pending) detail::add_once(s_.installed_ids, target);
    for (std::size_t at = 0; at < pending.size(); at += kTargetBatch) {
      std::vector<std::string> batch(pending.begin() + static_cast<std::ptrdiff_t>(at),
                                     pending.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                           pending.size(), at + kTargetBatch)));
      // The targets only feed the per-instance lines of the log: a batch that fails for a
      // while is left to the next round's read, after the pause of a retry.
      auto batch_read = ask(
          "cd_target_batch", [&] { return ports_.codedeploy.get_targets(id, batch); },
          detail::is_transient);
      if (!batch_read) return;
      if (!*batch_read) {
        if (!retry_later(batch_read->error(), s_.stage)) return;
        continue;
      }
      for (const auto& target : **batch_read) log_target(target);
    }
  }
  // The greens are looked at in every round, and once more when CodeDeploy has ended: an
  // instance that failed may have been reclaimed.
  bool changed = false;
  if (!look_at_greens("greens", &changed)) return;
  if (changed) s_.round_changed = true;
  if (s_.codedeploy_terminal) return install_ended();
  if (checks_now) {
    auto group = ask("group_look", [&] { return ports_.spot.read_group(access_, false); });
    if (!group || !group_looked((*group)->instance_ids)) return;
    if (!s_.spot_deployment_id.empty()) {
      if (!check_spot()) return;
    }
  }
  end_round();
}

void RequestPlan::blue_round() {
  auto group = ask("group", [&] { return ports_.spot.read_group(access_, false); });
  if (!group) return;
  s_.group_instance_ids = (*group)->instance_ids;
  bool changed = false;
  if (!look_at_greens("greens", &changed)) return;
  blue_detached_check();
  if (!s_.spot_deployment_id.empty()) {
    if (!check_spot()) return;
  }
  after_spot_check();
}

void RequestPlan::stop_move() {
  // Never remove what may serve: once CodeDeploy succeeded on the greens, nothing is stopped.
  if (s_.greens_serving) return report_failure();
  const std::string& codedeploy = s_.codedeploy_deployment_id;
  if (!codedeploy.empty() && !s_.codedeploy_terminal && !s_.codedeploy_stop_sent) {
    auto stopped = ask("cd_stop", [&] {
      return ports_.codedeploy.stop_deployment(codedeploy, /*auto_rollback=*/true);
    });
    if (!stopped) return;
    s_.codedeploy_stop_sent = true;
    log(EventKind::info, "codedeploy_stopped",
        fmt::format("CodeDeploy deployment {} stopped with rollback", codedeploy));
    return;
  }
  if (s_.codedeploy_recheck) {
    auto read = ask("cleanup_cd_get", [&] { return ports_.codedeploy.get_deployment(codedeploy); });
    if (read) cleanup_codedeploy_read(**read);
    return;
  }
  const std::string& spot = s_.spot_deployment_id;
  if (!spot.empty() && !s_.spot_ended && !s_.spot_stop_sent) {
    auto stopped = ask("spot_stop", [&] { return ports_.spot.stop_deployment(access_, spot); });
    if (!stopped) return;
    s_.spot_stop_sent = true;
    log(EventKind::info, "spot_deployment_stopped",
        fmt::format("Spot B/G deployment {} stopped", spot));
    return;
  }
  if (spot.empty() && s_.green_ids.empty()) return report_failure();
  bool changed = false;
  if (!look_at_greens("cleanup_greens", &changed)) return;
  cleanup_greens_seen();
}

void RequestPlan::detach_greens() {
  auto detached =
      ask("detach", [&] { return ports_.spot.detach_and_terminate(access_, s_.green_ids); });
  if (!detached) return;
  s_.detach_sent = true;
  log(EventKind::info, "greens_detached",
      fmt::format("green instance(s) {} detached and terminated", fmt::join(s_.green_ids, ",")));
}

void RequestPlan::cleanup_greens_seen() {
  if (s_.green_ids.empty()) {
    log(EventKind::info, "greens_gone", "no green instance is left running");
    return report_failure();
  }
  bool may_detach = !s_.detach_sent && !s_.spot_deployment_id.empty() && !s_.greens_serving;
  // Without the Spot token nothing removes them: waiting out the grace would only delay the
  // report (and hold the group).
  if (now_ >= s_.cleanup_deadline || s_.spot_out_of_reach) {
    // Greens left running cost money: one last attempt to detach them, even past the grace.
    if (may_detach) return detach_greens();
    add_cleanup_note(
        fmt::format("green instance(s) {} were still running when cleanup ended; terminate them "
                    "in EC2 (or detach them from the Elastigroup) if they are still there",
                    fmt::join(s_.green_ids, ", ")));
    return report_failure();
  }
  if (may_detach && s_.round >= kRoundsBeforeDetach) return detach_greens();
  end_round();
}

void RequestPlan::blue_detached_check() {
  // Blue is what was in the group when the deployment began; without that list (a token that
  // had to drop it), whatever in the group is not a green. An instance that is neither (a
  // replacement, of a green or of a blue) is told apart by Spot finishing.
  auto green = [&](const std::string& id) {
    return holds(s_.green_ids, id) || holds(s_.installed_ids, id);
  };
  std::vector<std::string> blue_left, unknown;
  for (const auto& id : s_.group_instance_ids) {
    if (green(id)) continue;
    if (s_.blue_ids.empty() || std::ranges::binary_search(s_.blue_ids, id)) {
      blue_left.push_back(id);
    } else {
      unknown.push_back(id);
    }
  }
  std::ranges::sort(blue_left);
  s_.group_instance_ids = blue_left;
  s_.group_unknown_ids = unknown;
  s_.blue_known = true;
  if (blue_left.empty()) {
    log(EventKind::info, "blue_detached", "the blue instances have left the Elastigroup");
  } else if (s_.round == 0 || s_.round_changed) {
    log(EventKind::info, "waiting_blue_detach",
        fmt::format("waiting for Spot to detach blue instance(s) {}", fmt::join(blue_left, ",")));
  }
}

bool RequestPlan::blue_gone() const {
  return s_.blue_known && s_.group_instance_ids.empty() &&
         (s_.group_unknown_ids.empty() || s_.spot_finished);
}

void RequestPlan::after_spot_check() {
  if (s_.stage == Stage::wait_blue_detached) {
    if (blue_gone()) return succeed();
    if (s_.final_look)
      return report_pending(fmt::format("TIMEOUT ({} s) passed", whole_seconds(c_.timeout)));
  }
  return end_round();
}

void RequestPlan::no_codedeploy_of_ours() {
  if (s_.install_round > 0) return enter(Stage::create_codedeploy);
  if (s_.adopted_spot && !s_.spot_finished) {
    s_.adopted_spot = false;
    return enter(Stage::wait_greens);
  }
  if (s_.spot_finished) {
    log(EventKind::info, "already_finished",
        "Spot had already finished this job's deployment; checking that blue is detached");
    return enter(Stage::wait_blue_detached);
  }
  return enter(Stage::create_codedeploy);
}

void RequestPlan::install_ended() {
  const std::string& id = s_.codedeploy_deployment_id;
  // Every install round after the first answers an interruption: there are never more of them
  // than greens reclaimed.
  bool may_repeat =
      !s_.reclaimed.empty() && s_.install_round < static_cast<int>(s_.reclaimed.size());
  if (s_.codedeploy_status == "Succeeded") {
    log(EventKind::info, "codedeploy_succeeded",
        fmt::format("CodeDeploy deployment {} succeeded on the greens", id));
    if (may_repeat && static_cast<int>(serving_greens().size()) < s_.target_capacity) {
      return start_replacement_round(true);
    }
    return enter(Stage::wait_blue_detached);
  }
  // Failed only on targets reclaimed: the revision is not to blame, install again. CodeDeploy
  // targets running instances only, so its targets were reclaimed while it ran (perhaps before
  // it started and its targets could be listed).
  bool reclaimed_only =
      s_.codedeploy_status == "Failed" && may_repeat && !s_.failed_targets.empty() &&
      std::ranges::all_of(s_.failed_targets,
                          [&](const std::string& t) { return s_.reclaimed.contains(t); });
  if (reclaimed_only) return start_replacement_round(s_.greens_serving);
  bool revision_missing = s_.codedeploy_error.starts_with("REVISION_MISSING") ||
                          s_.codedeploy_error.starts_with("INVALID_REVISION");
  std::string cause = s_.failed_lifecycle.empty()
                          ? std::string("no lifecycle event failed on the green instances")
                          : fmt::format("lifecycle event {}", s_.failed_lifecycle);
  std::string says = s_.codedeploy_error.empty()
                         ? ""
                         : fmt::format(" CodeDeploy says {}.", sentence(s_.codedeploy_error));
  std::string check =
      revision_missing
          ? "Check that the revision exists (S3_BUCKET/S3_KEY or GITHUB_REPO/COMMIT_ID)."
      : s_.failed_lifecycle.empty() ? "Check the deployment in the CodeDeploy console."
                                    : "Check that hook's script and its log on the instance "
                                      "(/opt/codedeploy-agent/deployment-root/…/logs/scripts.log)";
  return fail(revision_missing ? FailureType::revision_unavailable : FailureType::job_failed,
              fmt::format("CodeDeploy deployment {} {}: {}.{} {}", id, s_.codedeploy_status, cause,
                          says, check));
}

void RequestPlan::end_round() {
  if (s_.round_changed || s_.poll_interval == Duration::zero()) {
    s_.poll_interval = c_.poll_interval;
  } else {
    s_.poll_interval = std::min(c_.max_poll_interval, s_.poll_interval * 3 / 2);
  }
  s_.round_changed = false;
  TimePoint due = now_ + s_.poll_interval;
  // However often things change, a long wait averages one request per request_spacing.
  int beyond_burst = s_.requests + 1 - c_.request_burst;
  if (beyond_burst > 0) {
    TimePoint paced = s_.started + beyond_burst * c_.request_spacing;
    due = std::max(due, paced);
  }
  if (pause(due)) ++s_.round;
}

void RequestPlan::spot_failed(const SpotDeployment& deployment) {
  s_.spot_ended = true;
  return fail(
      FailureType::job_failed,
      fmt::format("Spot B/G deployment {} ended in state {} (status {}) during {}; check "
                  "the Elastigroup's CodeDeploy B/G tab and its log",
                  deployment.id, deployment.state.empty() ? "?" : deployment.state,
                  deployment.status.empty() ? "?" : deployment.status, to_string(s_.stage)));
}

bool RequestPlan::retry_later(const Error& error, Stage resume_in) {
  ++s_.transient_failures;
  std::string detail =
      error.code.empty() ? error.message : fmt::format("{}: {}", error.code, error.message);
  s_.last_transient_error = clip(detail, 300);
  s_.unreachable = error.kind == ErrorKind::unavailable || error.kind == ErrorKind::timeout;
  // Past the deadline a retry would have no time to wait and would come at once, again and
  // again: the deployment has run out of time instead.
  if (s_.stage != Stage::stopping && now_ >= s_.deadline) {
    timed_out();
    return false;
  }
  bool same = resume_in == s_.stage;
  if (!same) {
    s_.stage = resume_in;
    s_.round = 0;
  }
  int doublings = std::min(s_.transient_failures - 1, 8);
  Duration backoff = std::min(c_.max_poll_interval, c_.poll_interval * (1 << doublings));
  log(EventKind::warning, "retrying",
      fmt::format("{} (attempt {}); trying again in {:.1f} s", s_.last_transient_error,
                  s_.transient_failures, std::chrono::duration<double>(backoff).count()),
      {{"code", error.code}});
  return pause(now_ + backoff) && same;
}

void RequestPlan::fail(FailureType type, const std::string& message) {
  s_.failure = PendingFailure{type, clip(message, 1500)};
  log(EventKind::error, "failed", s_.failure->message,
      {{"failure_type", std::string(to_string(type))}});
  // Never remove what may serve: no cleanup once CodeDeploy succeeded on the greens.
  if (s_.greens_serving) return report_failure();
  s_.cleanup_deadline = now_ + c_.cleanup_grace;
  s_.transient_failures = 0;  // cleanup's retries back off from the start
  return enter(Stage::stopping);
}

void RequestPlan::add_cleanup_note(const std::string& note) {
  if (note.empty()) return;
  s_.cleanup_note = clip(s_.cleanup_note.empty() ? note : s_.cleanup_note + "; " + note, 600);
}

void RequestPlan::timed_out() {
  std::string limit = fmt::format("TIMEOUT ({} s) passed", whole_seconds(c_.timeout));
  std::string last = s_.last_transient_error.empty()
                         ? ""
                         : fmt::format(" (last error: {})", s_.last_transient_error);
  // The clouds were unreachable up to the deadline: an outage, as CodePipeline calls it.
  FailureType type = s_.transient_failures > 0 && s_.unreachable ? FailureType::system_unavailable
                                                                 : FailureType::job_failed;
  if (s_.greens_serving && s_.stage != Stage::wait_blue_detached) {
    s_.stage = Stage::wait_blue_detached;
    s_.round = 0;
  }
  switch (s_.stage) {
    case Stage::wait_greens:
      if (!s_.reclaimed.empty()) {
        return fail(type, fmt::format("{} while waiting for Elastigroup to replace reclaimed "
                                      "green instance(s): {}. No replacement was ready in time "
                                      "({} of {} running, {} passing EC2 status checks{})",
                                      limit, reclaimed_words(), s_.greens_running,
                                      s_.target_capacity, s_.greens_passing, last));
      }
      return fail(type,
                  fmt::format("{} while waiting for the green instances tagged GreenIdentifier={}: "
                              "{} of {} running, {} passing EC2 status checks{}. Check the "
                              "Elastigroup's log for launch errors and the instances' status "
                              "checks in EC2",
                              limit, s_.green_identifier, s_.greens_running, s_.target_capacity,
                              s_.greens_passing, last));
    case Stage::follow: {
      std::string where = s_.failed_lifecycle.empty()
                              ? std::string()
                              : fmt::format("; lifecycle event {}", s_.failed_lifecycle);
      std::string latest;
      for (const auto& [instance, progress] : s_.instance_progress) {
        latest +=
            fmt::format("{}{} at {}", latest.empty() ? "; last seen: " : ", ", instance, progress);
      }
      return fail(
          type, fmt::format("{} while CodeDeploy deployment {} was {}{}{}{}. Check its lifecycle "
                            "events in the CodeDeploy console",
                            limit, s_.codedeploy_deployment_id, s_.codedeploy_status, where, latest,
                            last));
    }
    case Stage::wait_blue_detached:
      if (!s_.final_look) {
        // One last look before saying what is pending: Spot may have finished meanwhile.
        s_.final_look = true;
        s_.blue_known = false;
        s_.group_instance_ids.clear();
        log(EventKind::info, "final_look",
            "TIMEOUT passed: looking once more whether Spot has detached the blue instances");
        return;
      }
      return report_pending(limit);
    default:
      return fail(type, fmt::format("{} during {}{}", limit, to_string(s_.stage), last));
  }
}

void RequestPlan::report_pending(const std::string& limit) {
  if (blue_gone()) return succeed();  // blue has left
  std::string spot_state =
      s_.spot_state.empty() ? "" : fmt::format(" (last seen {})", s_.spot_state);
  std::vector<std::string> attached = s_.group_instance_ids;
  attached.insert(attached.end(), s_.group_unknown_ids.begin(), s_.group_unknown_ids.end());
  std::string blue =
      s_.blue_known
          ? fmt::format("still has blue instance(s) {} attached", fmt::join(attached, ", "))
          : fmt::format("could not be checked for blue instances still attached{}",
                        s_.last_transient_error.empty()
                            ? std::string()
                            : fmt::format(" (last error: {})", s_.last_transient_error));
  std::string message = fmt::format(
      "{} before Spot finished: CodeDeploy deployment {} succeeded on the green instance(s) "
      "tagged GreenIdentifier={}, but Spot B/G deployment {}{} {}. {}",
      limit, s_.codedeploy_deployment_id, s_.green_identifier, s_.spot_deployment_id, spot_state,
      blue, serving_note());
  FailureType type = s_.transient_failures > 0 && s_.unreachable ? FailureType::system_unavailable
                                                                 : FailureType::job_failed;
  log(EventKind::error, "reporting_failure", message,
      {{"failure_type", std::string(to_string(type))}});
  return finish(ReportFailure{type, clip(message, 5000), s_.codedeploy_deployment_id});
}

std::string RequestPlan::serving_note() const {
  return fmt::format(
      "Nothing was stopped, detached or terminated: the greens{} keep serving and both fleets "
      "are left as they are. Follow Spot B/G deployment {} in the CodeDeploy B/G tab of "
      "Elastigroup {}: when it finishes, blue is detached; if it fails or stalls, detach the "
      "blue instances (not the greens) from the group yourself",
      s_.green_ids.empty() ? "" : fmt::format(" ({})", fmt::join(s_.green_ids, ", ")),
      s_.spot_deployment_id.empty() ? "(unknown)" : s_.spot_deployment_id, c_.group_id);
}

void RequestPlan::report_failure() {
  PendingFailure failure = s_.failure.value_or(PendingFailure{});
  std::string message = sentence(failure.message);
  if (s_.greens_serving) {
    message += fmt::format(". {}", serving_note());
    if (!s_.cleanup_note.empty()) message += fmt::format(". Also: {}", s_.cleanup_note);
  } else if (!s_.cleanup_note.empty()) {
    message += fmt::format(". Cleanup was incomplete: {}", s_.cleanup_note);
  } else if (!s_.spot_deployment_id.empty()) {
    message +=
        ". What was started has been stopped: no green instance is left running and the "
        "blue instances keep serving";
  }
  log(EventKind::error, "reporting_failure", message);
  return finish(ReportFailure{failure.type, clip(message, 5000), s_.codedeploy_deployment_id});
}

void RequestPlan::succeed() {
  std::vector<std::string> serving = serving_greens();
  std::vector<std::string> not_installed;
  for (const auto& id : s_.green_ids) {
    if (!holds(serving, id)) not_installed.push_back(id);
  }
  if (serving.empty() && !s_.installed_ids.empty()) {
    // Blue is gone and no instance with the revision is left: nothing to call a success, and
    // nothing that may serve is removed.
    s_.greens_serving = true;
    return fail(FailureType::job_failed,
                fmt::format("Spot B/G deployment {} detached the blue instances, but every green "
                            "instance that got {} was reclaimed after CodeDeploy's success ({}){}. "
                            "Run the stage again to deploy on the group as it is now",
                            s_.spot_deployment_id, c_.revision, reclaimed_words(),
                            not_installed.empty()
                                ? std::string()
                                : fmt::format("; instance(s) {} in the group have not got it",
                                              fmt::join(not_installed, ", "))));
  }
  // The installs: those before the last one on every green failed on reclaimed instances, those
  // after it installed replacements.
  std::vector<std::string> installs = s_.earlier_codedeploy_ids;
  if (!s_.codedeploy_deployment_id.empty()) installs.push_back(s_.codedeploy_deployment_id);
  std::string main = !s_.main_codedeploy_id.empty() ? s_.main_codedeploy_id
                     : installs.empty()             ? std::string()
                                                    : installs.front();
  auto at = std::ranges::find(installs, main);
  std::vector<std::string> failed(installs.begin(), at);
  std::vector<std::string> replacements(at == installs.end() ? at : at + 1, installs.end());
  std::string summary = fmt::format(
      "Deployed {} to {} green instance(s) tagged GreenIdentifier={}: CodeDeploy deployment {} "
      "succeeded{}{} and Spot B/G deployment {} detached the blue instances",
      c_.revision, serving.size(), s_.green_identifier, main.empty() ? "(earlier run)" : main,
      failed.empty()
          ? ""
          : fmt::format(" (after {} failed on reclaimed instances)", fmt::join(failed, ", ")),
      replacements.empty()
          ? ""
          : fmt::format(", the replacements were installed by {}", fmt::join(replacements, ", ")),
      s_.spot_deployment_id);
  std::map<std::string, std::string> variables{{"GreenIdentifier", s_.green_identifier}};
  if (!s_.reclaimed.empty()) {
    std::vector<std::string> ids;
    for (const auto& [id, words] : s_.reclaimed) ids.push_back(id);
    variables["ReclaimedInstances"] = fmt::format("{}", fmt::join(ids, ","));
    summary += fmt::format(". Spot interruptions: {}", reclaimed_words());
    if (static_cast<int>(serving.size()) < s_.target_capacity) {
      summary += fmt::format("; reduced capacity: {} of {} green instance(s) serve the revision",
                             serving.size(), s_.target_capacity);
      if (!not_installed.empty()) {
        summary += fmt::format(" ({} did not get it)", fmt::join(not_installed, ", "));
      }
    } else if (installs.size() > 1) {
      summary += "; their replacements were installed, and the green fleet is whole";
    }
  }
  log(EventKind::info, "succeeded", summary);
  if (!main.empty()) variables["DeploymentId"] = main;
  if (!s_.spot_deployment_id.empty()) variables["SpotDeploymentId"] = s_.spot_deployment_id;
  return finish(ReportSuccess{
      ExecutionDetails{clip(summary, 2048), s_.codedeploy_deployment_id, 100}, variables});
}

// ---- Spot interruptions ---------------------------------------------------------------------

bool RequestPlan::note_reclaimed(const std::vector<Ec2Instance>& seen) {
  auto record = [&](const std::string& id, std::string words, const std::string& reason) {
    if (s_.reclaimed.contains(id)) return;
    s_.round_changed = true;
    std::string then =
        s_.greens_serving
            ? "; nothing is removed: the other greens keep serving"
            : "; waiting for Elastigroup's replacement, which gets this deployment's revision";
    log(EventKind::warning, "green_reclaimed", fmt::format("green {} {}{}", id, words, then),
        {{"instance", id}, {"state_reason", reason}});
    s_.reclaimed[id] = clip(std::move(words), 160);
  };
  for (const auto& instance : seen) {
    // Every instance described carries our tag: one that ends, even before this flow saw it
    // run, was taken from the deployment.
    bool gone = instance.state == "terminated" || instance.state == "shutting-down";
    if (!gone) continue;
    std::string words =
        instance.state_reason == kSpotInterruption
            ? fmt::format("was reclaimed by a spot interruption at {}", to_iso8601(now_))
            : fmt::format("was terminated at {} without this deployment asking (EC2 state {}{})",
                          to_iso8601(now_), instance.state,
                          instance.state_reason.empty() ? "" : ", " + instance.state_reason);
    record(instance.id, std::move(words), instance.state_reason);
  }
  for (const auto& id : s_.green_ids) {
    bool described = std::ranges::any_of(seen, [&](const Ec2Instance& i) { return i.id == id; });
    if (!described) {
      record(id, fmt::format("is gone from EC2 since {}", to_iso8601(now_)), "");
    }
  }
  return s_.greens_serving || static_cast<int>(s_.reclaimed.size()) <= s_.target_capacity;
}

bool RequestPlan::group_looked(const std::vector<std::string>& group) {
  for (const auto& id : s_.blue_ids) {
    // Once CodeDeploy succeeded on the greens, Spot detaching blue is the deployment ending
    // (a replacement may still be installing): blue leaving then is no news.
    if (s_.greens_serving) break;
    if (holds(group, id) || holds(s_.blue_lost, id)) continue;
    s_.blue_lost.push_back(id);
    log(EventKind::warning, "blue_left_early",
        fmt::format("blue instance {} left Elastigroup {} during the deployment (a spot "
                    "interruption, or Elastigroup replaced it); blue is not acted on: the rest "
                    "of blue serves until Spot detaches it",
                    id, c_.group_id),
        {{"instance", id}});
  }
  if (s_.stage != Stage::wait_greens || !wants_replacement() || s_.blue_ids.empty()) {
    return true;
  }
  // A replacement Spot did not tag: in the group, neither blue nor one of ours.
  auto known = [&](const std::string& id) {
    return std::ranges::binary_search(s_.blue_ids, id) || holds(s_.green_ids, id) ||
           holds(s_.installed_ids, id) || s_.reclaimed.contains(id);
  };
  std::vector<std::string> untagged;
  for (const auto& id : group) {
    if (!known(id)) untagged.push_back(id);
  }
  // Only when it cannot be blue's: no blue left early (its replacement would look the same),
  // and no more newcomers than greens are missing.
  int missing = s_.target_capacity - static_cast<int>(s_.green_ids.size());
  if (!untagged.empty() && (!s_.blue_lost.empty() || static_cast<int>(untagged.size()) > missing)) {
    if (!s_.unclear_logged) {
      s_.unclear_logged = true;
      log(EventKind::warning, "replacement_unclear",
          fmt::format("{} in Elastigroup {} carries no tag, and may replace a blue instance as "
                      "well as a green: it is left alone, and the deployment waits for Spot to "
                      "tag the greens' replacements",
                      fmt::join(untagged, ", "), c_.group_id));
    }
    untagged.clear();
  }
  if (untagged.empty()) return true;
  log(EventKind::info, "replacement_tagged",
      fmt::format("Elastigroup launched {} without this deployment's tag: tagging it "
                  "GreenIdentifier={}",
                  fmt::join(untagged, ", "), s_.green_identifier));
  // One that went away meanwhile is looked at again next round.
  auto tagged = ask(
      "tag_replacement",
      [&] {
        return ports_.ec2.tag_instances(untagged, {{kGreenTag, s_.green_identifier}});
      },
      unknown_instance);
  if (!tagged) return false;
  if (*tagged) s_.round_changed = true;  // the next look at the greens finds it
  return true;
}

bool RequestPlan::greens_ready() {
  log(EventKind::info, "greens_ready",
      fmt::format("{} green instance(s) running and passing status checks", s_.green_ids.size()),
      {{"instances", fmt::format("{}", fmt::join(s_.green_ids, ","))}});
  if (!s_.replacements_only) {
    enter(Stage::find_codedeploy);
    return false;
  }
  // The greens no install has targeted (none when the targets are unknown).
  std::vector<std::string> fresh;
  for (const auto& id : s_.green_ids) {
    if (!s_.installed_ids.empty() && !holds(s_.installed_ids, id)) fresh.push_back(id);
  }
  if (fresh.empty()) {
    enter(Stage::wait_blue_detached);
    return false;
  }
  // One that went away meanwhile is looked at again next round.
  auto tagged = ask(
      "tag_for_install",
      [&] {
        return ports_.ec2.tag_instances(fresh,
                                        {{std::string(kReplacementTag), install_tag_value()}});
      },
      unknown_instance);
  if (!tagged) return false;
  if (!*tagged) return true;
  enter(Stage::find_codedeploy);
  return false;
}

void RequestPlan::start_replacement_round(bool only) {
  s_.earlier_codedeploy_ids.push_back(s_.codedeploy_deployment_id);
  s_.codedeploy_deployment_id.clear();
  s_.codedeploy_status.clear();
  s_.codedeploy_overview.clear();
  s_.codedeploy_error.clear();
  s_.codedeploy_terminal = false;
  s_.failed_lifecycle.clear();
  s_.failed_targets.clear();
  ++s_.install_round;
  s_.replacements_only = only;
  log(EventKind::info, "replacing_greens",
      fmt::format("green instance(s) were reclaimed during the install ({}); waiting for "
                  "Elastigroup's replacements, then installing {} on {}",
                  reclaimed_words(), c_.revision,
                  only ? "the replacements alone" : "every green again"));
  return enter(Stage::wait_greens);
}

std::vector<std::string> RequestPlan::serving_greens() const {
  if (s_.installed_ids.empty()) return s_.green_ids;
  std::vector<std::string> out;
  for (const auto& id : s_.green_ids) {
    if (holds(s_.installed_ids, id)) out.push_back(id);
  }
  return out;
}

bool RequestPlan::wants_replacement() const {
  return !s_.reclaimed.empty() && static_cast<int>(s_.green_ids.size()) < s_.target_capacity;
}

std::string RequestPlan::install_tag_key() const {
  return s_.replacements_only ? std::string(kReplacementTag) : "GreenIdentifier";
}

std::string RequestPlan::install_tag_value() const {
  return s_.replacements_only ? fmt::format("{}-r{}", s_.green_identifier, s_.install_round)
                              : s_.green_identifier;
}

std::string RequestPlan::reclaimed_words() const {
  std::vector<std::string> parts;
  for (const auto& [id, words] : s_.reclaimed) parts.push_back(fmt::format("{} {}", id, words));
  return clip(fmt::format("{}", fmt::join(parts, "; ")), 600);
}

ExecutionDetails RequestPlan::details() const {
  ExecutionDetails d;
  d.external_execution_id = s_.codedeploy_deployment_id;
  switch (s_.stage) {
    case Stage::read_group:
    case Stage::find_spot:
    case Stage::create_spot:
      d.summary = fmt::format("Starting the Spot B/G deployment on Elastigroup {}", c_.group_id);
      d.percent_complete = 5;
      break;
    case Stage::wait_greens: {
      int target = std::max(1, s_.target_capacity);
      d.summary = fmt::format(
          "Waiting for green instances (GreenIdentifier={}): {} of {} running, {} passing status "
          "checks",
          s_.green_identifier, s_.greens_running, target, s_.greens_passing);
      d.percent_complete = 10 + 20 * std::min(s_.greens_passing, target) / target;
      break;
    }
    case Stage::find_codedeploy:
    case Stage::create_codedeploy:
      d.summary = fmt::format("Starting the CodeDeploy deployment of {}", c_.revision);
      d.percent_complete = 35;
      break;
    case Stage::follow: {
      Overview o = parse_overview(s_.codedeploy_overview);
      d.summary =
          fmt::format("CodeDeploy deployment {} is {}: {} of {} instance(s) done",
                      s_.codedeploy_deployment_id, s_.codedeploy_status, o.succeeded, o.total);
      d.percent_complete =
          40 + static_cast<int>(o.total > 0 ? 50 * std::min(o.succeeded, o.total) / o.total : 0);
      break;
    }
    case Stage::wait_blue_detached:
      d.summary = fmt::format(
          "CodeDeploy deployment {} succeeded; waiting for Spot to detach the "
          "blue instances",
          s_.codedeploy_deployment_id);
      d.percent_complete = 92;
      break;
    case Stage::stopping:
    case Stage::done:
      d.summary = fmt::format("Failed, cleaning up: {}",
                              s_.failure ? s_.failure->message : std::string("unknown"));
      d.percent_complete = 95;
      break;
  }
  d.summary = clip(d.summary, 2048);
  return d;
}

TimePoint RequestPlan::wait_limit() const {
  return s_.stage == Stage::stopping ? s_.cleanup_deadline : s_.deadline;
}

void RequestPlan::finish(Report report) {
  s_.stage = Stage::done;
  report_ = std::move(report);
}

void RequestPlan::log(EventKind level, std::string event, std::string message,
                      std::map<std::string, std::string> fields) {
  DeploymentEvent out;
  out.at = now_;
  out.phase = user_phase(s_.stage);
  out.kind = level;
  out.message = std::move(message);
  out.name = std::move(event);
  if (auto instance = fields.find("instance"); instance != fields.end()) {
    out.instance_id = std::move(instance->second);
    fields.erase(instance);
  }
  out.fields = std::move(fields);
  out.fields["flow_phase"] = std::string(to_string(s_.stage));
  host_->publish(std::move(out));
}

}  // namespace bluegreen::elastigroup
