#include "adapters/asg/asg_provider.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/overloaded.h"
#include "core/text.h"
#include "engine/ids.h"

namespace bluegreen::asg {

namespace {

using nlohmann::json;

constexpr Duration kStopCheck = std::chrono::milliseconds(200);
constexpr std::string_view kInstallDone = "Succeeded";

bool codedeploy_ended(const std::string& status) {
  return status == "Succeeded" || status == "Failed" || status == "Stopped";
}

aws::RevisionLocation location_of(const RevisionSource& revision) {
  if (const auto* s3 = std::get_if<S3Revision>(&revision)) {
    return aws::S3Location{s3->bucket, s3->key, s3->bundle, "", ""};
  }
  const auto& github = std::get<GitHubRevision>(revision);
  return aws::GitHubLocation{github.repository, github.commit};
}

bool targets_tag(const aws::DeploymentInfo& d, const std::string& green_identifier) {
  return std::ranges::any_of(d.target_tag_filters, [&](const aws::TagFilter& f) {
    return f.key == kGreenIdentifierTag && f.value == green_identifier;
  });
}

// The port, with what a busy or briefly unreachable AWS answers (throttling, 5xx, no answer)
// tried again: at most kAttempts times, a second apart and twice as long each time, never past
// the call's own deadline. Every call but CreateDeployment is safe to repeat (a create that did
// go through answers AlreadyExists, which the provider takes as its own); a repeated
// CreateDeployment would install twice, so its failure is the provider's to resolve (it looks
// for its own deployment before it creates one).
class RetryingCloud final : public AsgCloud {
 public:
  RetryingCloud(std::unique_ptr<AsgCloud> inner, Clock& clock)
      : inner_(std::move(inner)), clock_(clock) {}

  AwsResult<std::vector<AutoScalingGroup>> groups_tagged(const std::string& key,
                                                         const std::string& value,
                                                         TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->groups_tagged(key, value, deadline); });
  }
  AwsResult<std::optional<AutoScalingGroup>> group_named(const std::string& name,
                                                         TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->group_named(name, deadline); });
  }
  AwsResult<void> create_group(const NewGroup& group, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->create_group(group, deadline); });
  }
  AwsResult<void> tag_group(const std::string& name, const std::string& key,
                            const std::string& value, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->tag_group(name, key, value, deadline); });
  }
  AwsResult<void> delete_group(const std::string& name, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->delete_group(name, deadline); });
  }
  AwsResult<void> attach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns,
                                       TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->attach_target_groups(name, arns, deadline); });
  }
  AwsResult<void> detach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns,
                                       TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->detach_target_groups(name, arns, deadline); });
  }
  AwsResult<std::vector<TargetHealth>> target_health(const std::string& arn,
                                                     TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->target_health(arn, deadline); });
  }
  AwsResult<Duration> deregistration_delay(const std::string& arn, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->deregistration_delay(arn, deadline); });
  }
  AwsResult<std::vector<StatusCheck>> status_checks(const std::vector<std::string>& ids,
                                                    TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->status_checks(ids, deadline); });
  }
  AwsResult<std::string> create_deployment(const aws::CreateDeploymentRequest& request,
                                           TimePoint deadline) override {
    return inner_->create_deployment(request, deadline);
  }
  AwsResult<aws::DeploymentInfo> deployment(const std::string& id, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->deployment(id, deadline); });
  }
  AwsResult<std::vector<aws::DeploymentTargetInfo>> deployment_targets(
      const std::string& id, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->deployment_targets(id, deadline); });
  }
  AwsResult<std::string> last_attempted_deployment(const std::string& application,
                                                   const std::string& deployment_group,
                                                   TimePoint deadline) override {
    return retried(deadline, [&] {
      return inner_->last_attempted_deployment(application, deployment_group, deadline);
    });
  }
  AwsResult<void> stop_deployment(const std::string& id, TimePoint deadline) override {
    return retried(deadline, [&] { return inner_->stop_deployment(id, deadline); });
  }

 private:
  static constexpr int kAttempts = 4;

  template <typename Call>
  auto retried(TimePoint deadline, Call call) -> decltype(call()) {
    Duration pause = std::chrono::seconds(1);
    for (int attempt = 1;; ++attempt) {
      auto answer = call();
      if (answer || attempt >= kAttempts) return answer;
      ErrorKind kind = answer.error().kind;
      bool passing = kind == ErrorKind::throttled || kind == ErrorKind::unavailable;
      if (!passing || clock_.now() + pause >= deadline) return answer;
      clock_.sleep_for(pause);
      pause *= 2;
    }
  }

  std::unique_ptr<AsgCloud> inner_;
  Clock& clock_;
};

}  // namespace

std::string to_json_text(const AsgState& s) {
  json j{{"blue", s.blue_group},
         {"blue_tgs", s.blue_target_groups},
         {"green", s.green_group},
         {"green_sent", s.green_create_sent},
         {"cd", s.codedeploy_id},
         {"cd_sent", s.codedeploy_create_sent},
         {"retired", s.blue_retired},
         {"back_until", s.back_until},
         {"step", s.step}};
  return j.dump();
}

Result<AsgState> asg_state_from(const std::string& text) {
  AsgState s;
  if (text.empty()) return s;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorKind::internal, "the saved PROVIDER=asg state is not a JSON object");
  }
  try {
    s.blue_group = j.value("blue", "");
    s.blue_target_groups = j.value("blue_tgs", std::vector<std::string>{});
    s.green_group = j.value("green", "");
    s.green_create_sent = j.value("green_sent", false);
    s.codedeploy_id = j.value("cd", "");
    s.codedeploy_create_sent = j.value("cd_sent", false);
    s.blue_retired = j.value("retired", false);
    s.back_until = j.value("back_until", 0LL);
    s.step = j.value("step", "");
  } catch (const json::exception& e) {
    return fail(ErrorKind::internal, fmt::format("the saved PROVIDER=asg state: {}", e.what()));
  }
  return s;
}

std::string green_group_name(const std::string& group_id, const std::string& green_identifier) {
  return fmt::format("{}-{}", group_id, green_identifier.substr(0, 8));
}

// One call of the provider: the record, the saved state, and the waits between polls.
class AsgProvider::Run {
 public:
  Run(AsgProvider& provider, ProviderCall& call, std::string step)
      : cloud_(*provider.cloud_),
        clock_(provider.clock_),
        pacing_(provider.pacing_),
        call_(call),
        d_(call.deployment),
        s_(provider.load(call.deployment)) {
    s_.step = std::move(step);
    save();
  }

  // -- launch_green ------------------------------------------------------------------------
  InputEvent launch() {
    auto blue = find_blue();
    if (!blue) return failed(blue.error());
    s_.green_group = green_group_name(d_.spec.group_id, d_.green_identifier);
    auto ours = blue->tags.find(std::string(kGreenIdentifierTag));
    if (blue->name == s_.green_group ||
        (ours != blue->tags.end() && ours->second == d_.green_identifier)) {
      // This deployment ran to its end before (a job delivered again after its report was
      // lost): its green serves. Nothing is launched, nothing is moved.
      s_.green_group = blue->name;
      s_.blue_group = blue->name;
      save();
      return failed(Error{ErrorKind::conflict,
                          fmt::format("Auto Scaling group {}, this deployment's green, already "
                                      "serves {}: the deployment ran to its end before; nothing "
                                      "was changed",
                                      blue->name, d_.spec.group_id)});
    }
    record_blue(*blue);
    auto green = cloud_.group_named(s_.green_group, request_deadline());
    if (!green) return failed(green.error());
    if (!*green) {
      if (auto created = create_green(*blue); !created) return failed(created.error());
    } else {
      note("green_group_adopted",
           fmt::format("Auto Scaling group {} exists already (made by this deployment before a "
                       "restart); waiting for it",
                       s_.green_group));
      if (s_.blue_target_groups.empty()) s_.blue_target_groups = service_target_groups(**green);
      save();
    }
    return wait_green_ready();
  }

  // -- run_hooks: the install --------------------------------------------------------------
  InputEvent install(const action::RunHooks& hooks) {
    // A create whose answer was not saved, or a run that lost its state (a job delivered again
    // without its token): CodeDeploy's last attempt on the deployment group is ours when it
    // targets our GreenIdentifier.
    if (s_.codedeploy_id.empty()) {
      auto adopted = adopt_codedeploy();
      if (!adopted) return failed(adopted.error());
    }
    if (s_.codedeploy_id.empty()) {
      s_.codedeploy_create_sent = true;
      save();
      aws::CreateDeploymentRequest request;
      request.application_name = d_.spec.app_name;
      request.deployment_group_name = d_.spec.deployment_group;
      request.revision = location_of(d_.spec.revision);
      request.target_tag_filters = {
          aws::TagFilter{std::string(kGreenIdentifierTag), d_.green_identifier}};
      request.description = fmt::format("bluegreen: deployment {} of group {}, GreenIdentifier={}",
                                        d_.id, d_.spec.group_id, d_.green_identifier);
      auto id = cloud_.create_deployment(request, request_deadline());
      if (!id) {
        return failed(Error(id.error()).with_context("CodeDeploy CreateDeployment"), {});
      }
      s_.codedeploy_id = *id;
      if (!d_.cloud) d_.cloud = CloudProgress{};
      d_.cloud->codedeploy_deployment_id = *id;
      save();
      note("codedeploy_deployment_created",
           fmt::format("CodeDeploy deployment {} created for {} on the instances tagged {}={}", *id,
                       d_.revision.empty() ? "the revision" : d_.revision, kGreenIdentifierTag,
                       d_.green_identifier));
    }
    return follow_install(hooks.deadline);
  }

  // -- gate_health -------------------------------------------------------------------------
  InputEvent gate() {
    input::HealthChecked out;
    if (!d_.spec.preview_target_group_arn.empty()) {
      out.gate = "passed the preview target group's health check";
      auto health = cloud_.target_health(d_.spec.preview_target_group_arn, request_deadline());
      if (!health) return failed(Error(health.error()).with_context("DescribeTargetHealth"));
      for (const auto& instance : d_.green) {
        HealthCheck check{instance.id, false, "", ""};
        auto it = std::ranges::find(*health, instance.id, &TargetHealth::id);
        if (it == health->end()) {
          check.detail = "not registered in the preview target group yet";
        } else if (it->state == "healthy") {
          check.healthy = true;
        } else {
          check.detail = fmt::format("{} in the preview target group{}{}", it->state,
                                     it->reason.empty() ? "" : ": " + it->reason,
                                     it->description.empty() ? "" : " (" + it->description + ")");
        }
        out.checks.push_back(std::move(check));
      }
      return out;
    }
    out.gate = "passed their EC2 status checks";
    std::vector<std::string> ids;
    for (const auto& instance : d_.green) ids.push_back(instance.id);
    auto checks = cloud_.status_checks(ids, request_deadline());
    if (!checks) return failed(Error(checks.error()).with_context("DescribeInstanceStatus"));
    for (const auto& instance : d_.green) {
      HealthCheck check{instance.id, false, "", ""};
      auto it = std::ranges::find(*checks, instance.id, &StatusCheck::id);
      check.healthy = it != checks->end() && it->passed;
      if (!check.healthy) {
        check.detail = it == checks->end() ? "no status checks yet"
                                           : fmt::format("{}, status checks not passed", it->state);
      }
      out.checks.push_back(std::move(check));
    }
    return out;
  }

  // -- preview -----------------------------------------------------------------------------
  InputEvent preview(const action::Preview& preview) {
    const std::string& arn = d_.spec.preview_target_group_arn;
    if (arn.empty()) return input::ActionDone{"no PREVIEW_TARGET_GROUP_ARN: nothing to show"};
    if (preview.fleet_id) {
      auto attached = cloud_.attach_target_groups(s_.green_group, {arn}, request_deadline());
      if (!attached) return failed(attached.error());
      return input::ActionDone{fmt::format(
          "green group {} is reachable through the preview target group {}", s_.green_group, arn)};
    }
    auto green = cloud_.group_named(s_.green_group, request_deadline());
    if (!green) return failed(green.error());
    if (*green &&
        std::ranges::find((*green)->target_group_arns, arn) != (*green)->target_group_arns.end()) {
      auto detached = cloud_.detach_target_groups(s_.green_group, {arn}, request_deadline());
      if (!detached && detached.error().kind != ErrorKind::not_found) {
        return failed(detached.error());
      }
    }
    return input::ActionDone{
        fmt::format("green group {} left the preview target group", s_.green_group)};
  }

  // -- move_traffic ------------------------------------------------------------------------
  InputEvent route(const action::Route& route) {
    bool to_green = route.fleet_id == d_.id;
    const std::string& joining = to_green ? s_.green_group : s_.blue_group;
    const std::string& leaving = to_green ? s_.blue_group : s_.green_group;
    if (joining == leaving) {
      return failed(
          Error{ErrorKind::internal,
                fmt::format("group {} is both blue and green: nothing is moved", joining)});
    }
    if (to_green) {
      if (auto strangers = uninstalled_greens(); !strangers) return *strangers.error();
    }
    if (s_.blue_target_groups.empty()) {
      return failed(Error{ErrorKind::invalid_input,
                          fmt::format("blue group {} is in no target group: there is no traffic "
                                      "to move (attach it to its load balancer's target group)",
                                      s_.blue_group)});
    }
    auto attached = cloud_.attach_target_groups(joining, s_.blue_target_groups, request_deadline());
    if (!attached) return failed(attached.error());
    note(to_green ? "green_attached" : "blue_attached",
         fmt::format("group {} attached to {}", joining, fmt::join(s_.blue_target_groups, ", ")));
    // Invariant 1: the leaving group stays until the joining one is healthy in every one.
    // The way back is bounded once, not afresh at each run (a Lambda's run is shorter).
    if (!to_green && s_.back_until == 0) {
      s_.back_until = to_epoch_ms(clock_.now() + kBlueBackBound);
      save();
    }
    TimePoint until = to_green ? d_.deadline : from_epoch_ms(s_.back_until);
    auto healthy = wait_healthy_everywhere(joining, until);
    if (!healthy) return *healthy.error();
    // Auto Scaling may have replaced a green meanwhile: none serves without the revision.
    if (to_green) {
      if (auto strangers = uninstalled_greens(); !strangers) return *strangers.error();
    }
    auto leaving_group = cloud_.group_named(leaving, request_deadline());
    if (!leaving_group) return failed(leaving_group.error());
    std::vector<std::string> still_in;
    if (*leaving_group) {
      for (const auto& arn : (*leaving_group)->target_group_arns) {
        if (std::ranges::find(s_.blue_target_groups, arn) != s_.blue_target_groups.end()) {
          still_in.push_back(arn);
        }
      }
    }
    if (!still_in.empty()) {
      auto detached = cloud_.detach_target_groups(leaving, still_in, request_deadline());
      if (!detached) return failed(detached.error());
    }
    // Green serves through the service's target groups now: the preview one is for the next
    // green alone.
    const std::string& preview = d_.spec.preview_target_group_arn;
    auto joined = cloud_.group_named(joining, request_deadline());
    if (!joined) return failed(joined.error());
    if (to_green && !preview.empty() && *joined &&
        std::ranges::find((*joined)->target_group_arns, preview) !=
            (*joined)->target_group_arns.end()) {
      auto left = cloud_.detach_target_groups(s_.green_group, {preview}, request_deadline());
      if (!left && left.error().kind != ErrorKind::not_found) return failed(left.error());
    }
    return input::ActionDone{fmt::format("group {} is healthy in {}; group {} detached from {}",
                                         joining, fmt::join(s_.blue_target_groups, ", "), leaving,
                                         s_.blue_target_groups.size() == 1 ? "it" : "them")};
  }

  // -- drain -------------------------------------------------------------------------------
  InputEvent drain(const action::Drain& drain) {
    const std::string& group = drain.fleet_id == d_.id ? s_.green_group : s_.blue_group;
    auto instances = members(group);
    if (!instances) return failed(instances.error());
    Duration delay{0};
    for (const auto& arn : s_.blue_target_groups) {
      if (auto d = cloud_.deregistration_delay(arn, request_deadline()))
        delay = std::max(delay, *d);
    }
    note("draining", fmt::format("group {} drains from its target groups (deregistration delay "
                                 "{}; DRAIN_TIMEOUT {} caps it)",
                                 group, seconds_text(delay), seconds_text(d_.spec.drain_timeout)));
    Duration pause = pacing_.first;
    for (;;) {
      int still = 0;
      for (const auto& arn : s_.blue_target_groups) {
        auto health = cloud_.target_health(arn, request_deadline());
        if (!health) return failed(health.error());
        still += static_cast<int>(std::ranges::count_if(*health, [&](const TargetHealth& t) {
          return std::ranges::find(*instances, t.id) != instances->end();
        }));
      }
      if (still == 0) return input::Drained{0};
      if (clock_.now() >= drain.until) {
        note("drain_cut", fmt::format("{} target(s) of group {} were still draining at "
                                      "DRAIN_TIMEOUT; going on",
                                      still, group));
        return input::Drained{0};
      }
      if (auto stopped = pause_until(std::min(drain.until, clock_.now() + pause))) return *stopped;
      pause = next_pause(pause);
    }
  }

  // -- retire_blue -------------------------------------------------------------------------
  InputEvent retire() {
    if (s_.blue_group.empty() || s_.blue_retired) {
      return input::ActionDone{"no blue group left to delete"};
    }
    if (s_.blue_group == s_.green_group) {
      return input::ActionDone{fmt::format("group {} is green: nothing to delete", s_.green_group)};
    }
    // Invariant 3: the service tag is on green before blue goes, and off blue at once, so that
    // a blue whose delete does not go through is never taken for the serving group.
    auto tagged = cloud_.tag_group(s_.green_group, std::string(kServiceTag), d_.spec.group_id,
                                   request_deadline());
    if (!tagged) return failed(tagged.error());
    auto untagged =
        cloud_.tag_group(s_.blue_group, std::string(kServiceTag),
                         std::string(kRetiredPrefix) + d_.spec.group_id, request_deadline());
    if (!untagged) return failed(untagged.error());
    auto deleted = cloud_.delete_group(s_.blue_group, request_deadline());
    if (!deleted) {
      return input::ActionDone{fmt::format(
          "group {} now carries {}={}; blue group {} could not be deleted ({}): it is tagged "
          "{}={}{} and serves nothing: delete it by hand",
          s_.green_group, kServiceTag, d_.spec.group_id, s_.blue_group, deleted.error().describe(),
          kServiceTag, kRetiredPrefix, d_.spec.group_id)};
    }
    s_.blue_retired = true;
    save();
    return input::ActionDone{
        fmt::format("blue group {} deleted with its instances; group {} now carries {}={}",
                    s_.blue_group, s_.green_group, kServiceTag, d_.spec.group_id)};
  }

  // -- clean_up ----------------------------------------------------------------------------
  InputEvent clean_up() {
    std::vector<std::string> said;
    // A create whose answer was lost is found the way a resumed install finds it.
    if (s_.codedeploy_id.empty() && s_.codedeploy_create_sent) (void)adopt_codedeploy();
    if (!s_.codedeploy_id.empty()) {
      auto info = cloud_.deployment(s_.codedeploy_id, request_deadline());
      if (info && !codedeploy_ended(info->status)) {
        auto stopped = cloud_.stop_deployment(s_.codedeploy_id, request_deadline());
        said.push_back(stopped ? fmt::format("CodeDeploy deployment {} stopped", s_.codedeploy_id)
                               : fmt::format("CodeDeploy deployment {} could not be stopped ({})",
                                             s_.codedeploy_id, stopped.error().describe()));
      }
    }
    auto left = [&](std::string why) {
      said.push_back(fmt::format("green group {} is left as it is: {}", s_.green_group, why));
      return input::ActionDone{fmt::format("{}", fmt::join(said, "; "))};
    };
    if (!s_.green_group.empty() && s_.green_group != s_.blue_group) {
      auto found = cloud_.group_named(s_.green_group, request_deadline());
      if (!found) return left(fmt::format("it could not be read ({})", found.error().describe()));
      if (*found) {
        const auto& tags = (*found)->tags;
        auto tag = [&](std::string_view key) {
          auto it = tags.find(std::string(key));
          return it == tags.end() ? std::string() : it->second;
        };
        // Invariant 3: only a group this deployment made, and never the service's.
        if (tag(kGreenIdentifierTag) != d_.green_identifier ||
            tag(kGreenOfTag) != d_.spec.group_id || tag(kServiceTag) == d_.spec.group_id) {
          return left(fmt::format("it is not this deployment's green (tags {}={}, {}={}, {}={})",
                                  kGreenIdentifierTag, tag(kGreenIdentifierTag), kGreenOfTag,
                                  tag(kGreenOfTag), kServiceTag, tag(kServiceTag)));
        }
        // Invariant 1: green still in one of the service's target groups means the way back
        // to blue did not finish (blue never became healthy again): green may be all that
        // serves.
        std::vector<std::string> serving_in;
        for (const auto& arn : (*found)->target_group_arns) {
          if (std::ranges::find(s_.blue_target_groups, arn) != s_.blue_target_groups.end()) {
            serving_in.push_back(arn);
          }
        }
        if (!serving_in.empty()) {
          return left(fmt::format(
              "it is still in {}, where blue group {} did not become healthy again; once blue "
              "serves there, detach and delete green by hand",
              fmt::join(serving_in, ", "), s_.blue_group));
        }
        // Out of its target groups first (the preview one), so that no target of a deleted
        // instance lingers in them.
        if (!(*found)->target_group_arns.empty()) {
          auto detached = cloud_.detach_target_groups(s_.green_group, (*found)->target_group_arns,
                                                      request_deadline());
          if (!detached && detached.error().kind != ErrorKind::not_found) {
            return left(
                fmt::format("it could not leave its target groups ({}): delete it by "
                            "hand",
                            detached.error().describe()));
          }
        }
        auto deleted = cloud_.delete_group(s_.green_group, request_deadline());
        if (!deleted) {
          return left(fmt::format("it could not be deleted ({}): delete it by hand",
                                  deleted.error().describe()));
        }
        said.push_back(fmt::format("green group {} deleted with its instances", s_.green_group));
      }
    }
    said.push_back(s_.blue_group.empty()
                       ? std::string("no blue group was touched")
                       : fmt::format("blue group {} keeps serving", s_.blue_group));
    return input::ActionDone{fmt::format("{}", fmt::join(said, "; "))};
  }

 private:
  // -- the record ---------------------------------------------------------------------------
  void save() {
    if (!d_.cloud) d_.cloud = CloudProgress{};
    d_.cloud->flow_phase = s_.step;
    d_.cloud->token = to_json_text(s_);
    call_.save();
  }

  void note(std::string name, std::string message, EventKind kind = EventKind::info,
            std::string instance = {}) {
    DeploymentEvent event{d_.id, clock_.now(),       d_.phase,
                          kind,  std::move(message), std::move(instance)};
    event.name = std::move(name);
    event.fields["flow_phase"] = s_.step;
    if (!s_.codedeploy_id.empty()) event.fields["codedeploy_deployment_id"] = s_.codedeploy_id;
    call_.publish(event);
  }

  InputEvent failed(const Error& error, std::vector<HookResult> results = {}) {
    return input::Failed{error, std::move(results), true};
  }

  // A single request's bound: the run's end, and never more than a minute.
  TimePoint request_deadline() const {
    return std::min(call_.must_end_by, clock_.now() + std::chrono::minutes(1));
  }

  Duration next_pause(Duration pause) const { return std::min(pacing_.most, pause * 3 / 2); }

  // Sleeps until `until` in short slices; the answer when the run must end meanwhile.
  std::optional<InputEvent> pause_until(TimePoint until) {
    while (clock_.now() < until) {
      if ((call_.stop != nullptr && call_.stop->load()) || clock_.now() >= call_.must_end_by) {
        return input::Suspended{};
      }
      clock_.sleep_until(std::min(until, clock_.now() + kStopCheck));
    }
    if (call_.stop != nullptr && call_.stop->load()) return input::Suspended{};
    return std::nullopt;
  }

  std::optional<InputEvent> out_of_time(std::string what) {
    if (clock_.now() < d_.deadline) return std::nullopt;
    return input::Failed{Error{ErrorKind::timeout, std::move(what)}, {}, true};
  }

  // -- blue ----------------------------------------------------------------------------------
  Result<AutoScalingGroup> find_blue() {
    if (!s_.blue_group.empty()) {
      auto known = cloud_.group_named(s_.blue_group, request_deadline());
      if (!known) return std::unexpected(Error(known.error()));
      if (*known) return **known;
      return fail(ErrorKind::not_found, fmt::format("blue group {} is gone", s_.blue_group));
    }
    const std::string& service = d_.spec.group_id;
    auto tagged = cloud_.groups_tagged(std::string(kServiceTag), service, request_deadline());
    if (!tagged) return std::unexpected(Error(tagged.error()));
    if (tagged->size() > 1) {
      std::vector<std::string> names;
      for (const auto& g : *tagged) names.push_back(g.name);
      return fail(ErrorKind::conflict,
                  fmt::format("several Auto Scaling groups are tagged {}={} ({}); one serves the "
                              "service: remove the tag from the others",
                              kServiceTag, service, fmt::join(names, ", ")));
    }
    if (tagged->size() == 1) return tagged->front();
    auto named = cloud_.group_named(service, request_deadline());
    if (!named) return std::unexpected(Error(named.error()));
    if (!*named) {
      return fail(ErrorKind::not_found,
                  fmt::format("no Auto Scaling group is tagged {}={} and none is named {}: "
                              "GROUP_ID names the serving group (or its service tag)",
                              kServiceTag, service, service));
    }
    auto adopted = cloud_.tag_group(service, std::string(kServiceTag), service, request_deadline());
    if (!adopted) return std::unexpected(Error(adopted.error()));
    note("group_adopted", fmt::format("Auto Scaling group {} serves the service from now on: "
                                      "tagged {}={}",
                                      service, kServiceTag, service));
    return **named;
  }

  void record_blue(const AutoScalingGroup& blue) {
    s_.blue_group = blue.name;
    // The service's target groups are blue's; a blue already detached (this deployment moved
    // the traffic before it lost its state) keeps those known, or green's give them below.
    auto service = service_target_groups(blue);
    if (!service.empty()) s_.blue_target_groups = std::move(service);
    BlueFleet fleet{"asg:" + blue.name, {}, {}};
    for (const auto& i : blue.instances) {
      if (i.lifecycle_state != "InService") continue;
      Instance instance;
      instance.id = i.id;
      instance.fleet_id = fleet.fleet_id;
      instance.host = "";
      instance.state = InstanceState::healthy;
      fleet.instances.push_back(std::move(instance));
    }
    d_.blue = std::move(fleet);
    save();
  }

  // A group's target groups, the preview one excepted.
  std::vector<std::string> service_target_groups(const AutoScalingGroup& group) const {
    std::vector<std::string> out;
    for (const auto& arn : group.target_group_arns) {
      if (arn != d_.spec.preview_target_group_arn) out.push_back(arn);
    }
    return out;
  }

  // -- green ---------------------------------------------------------------------------------
  Result<void> create_green(const AutoScalingGroup& blue) {
    if (blue.launch_template.empty()) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("blue group {} launches from a launch configuration or a mixed "
                              "instances policy; PROVIDER=asg copies a launch template: give the "
                              "group one",
                              blue.name));
    }
    NewGroup green;
    green.name = s_.green_group;
    green.launch_template = blue.launch_template;
    int wanted = d_.spec.capacity > 0 ? d_.spec.capacity : blue.desired_capacity;
    green.desired_capacity = wanted;
    green.min_size = std::min(blue.min_size, wanted);
    green.max_size = std::max(blue.max_size, wanted);
    green.vpc_zone_identifier = blue.vpc_zone_identifier;
    if (green.vpc_zone_identifier.empty()) green.availability_zones = blue.availability_zones;
    if (!d_.spec.preview_target_group_arn.empty()) {
      green.target_group_arns = {d_.spec.preview_target_group_arn};
    }
    // These two tags and no other: the deploy policy lets the provider create a group so
    // tagged only (deploy/iam-policy-asg.json).
    green.tags = {{std::string(kGreenIdentifierTag), d_.green_identifier},
                  {std::string(kGreenOfTag), d_.spec.group_id}};
    if (wanted < 1) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("blue group {} wants no instance (desired capacity 0): give "
                              "CAPACITY",
                              blue.name));
    }
    // Invariant 2: saved before the request that creates it.
    s_.green_create_sent = true;
    save();
    auto created = cloud_.create_group(green, request_deadline());
    if (!created && created.error().kind != ErrorKind::conflict) {
      return std::unexpected(Error(created.error()).with_context("CreateAutoScalingGroup"));
    }
    note(
        "green_group_created",
        fmt::format(
            "Auto Scaling group {} created from {}'s launch template {} ({} "
            "instance(s){})",
            green.name, blue.name,
            blue.launch_template.name.empty() ? blue.launch_template.id : blue.launch_template.name,
            wanted,
            d_.spec.preview_target_group_arn.empty() ? ""
                                                     : ", registered in the preview target group"));
    return {};
  }

  InputEvent wait_green_ready() {
    Duration pause = pacing_.first;
    std::string last;
    for (;;) {
      auto green = cloud_.group_named(s_.green_group, request_deadline());
      if (!green) return failed(green.error());
      if (!*green) {
        return failed(
            Error{ErrorKind::not_found, fmt::format("green group {} disappeared", s_.green_group)});
      }
      int in_service = 0;
      std::vector<std::string> ids;
      for (const auto& i : (*green)->instances) {
        if (i.lifecycle_state == "InService") {
          ++in_service;
          ids.push_back(i.id);
        }
      }
      int wanted = (*green)->desired_capacity;
      int passed = 0;
      if (in_service >= wanted && wanted > 0) {
        auto checks = cloud_.status_checks(ids, request_deadline());
        if (!checks) return failed(checks.error());
        passed = static_cast<int>(std::ranges::count_if(*checks, &StatusCheck::passed));
        if (passed >= wanted) return launched(**green, ids);
      }
      std::string now = fmt::format("{} of {} instance(s) InService, {} passing status checks",
                                    in_service, wanted, passed);
      if (now != last) note("greens", fmt::format("green group {}: {}", s_.green_group, now));
      last = now;
      if (auto late = out_of_time(fmt::format("green group {}: {}", s_.green_group, now))) {
        return *late;
      }
      if (auto stopped = pause_until(std::min(d_.deadline, clock_.now() + pause))) return *stopped;
      pause = next_pause(pause);
    }
  }

  InputEvent launched(const AutoScalingGroup& green, const std::vector<std::string>& ids) {
    input::GreenLaunched out;
    for (const auto& id : ids) {
      Instance instance;
      instance.id = id;
      instance.fleet_id = d_.id;
      instance.host = "";
      instance.tags = {{std::string(kGreenIdentifierTag), d_.green_identifier}};
      instance.state = InstanceState::running;
      out.instances.push_back(std::move(instance));
    }
    out.detail = fmt::format(
        "green group {}: {} instance(s) InService and passing status "
        "checks ({})",
        green.name, ids.size(), fmt::join(ids, ", "));
    return out;
  }

  // The instances of a group now (none when it is gone).
  Result<std::vector<std::string>> members(const std::string& group) {
    auto found = cloud_.group_named(group, request_deadline());
    if (!found) return std::unexpected(Error(found.error()));
    std::vector<std::string> ids;
    if (*found) {
      for (const auto& i : (*found)->instances) ids.push_back(i.id);
    }
    return ids;
  }

  // Fails when green's group holds an instance CodeDeploy did not install (Auto Scaling
  // replaced or added it after the install): it would serve whatever the launch template boots.
  std::expected<void, std::optional<InputEvent>> uninstalled_greens() {
    auto now = members(s_.green_group);
    if (!now) return std::unexpected(failed(now.error()));
    std::vector<std::string> strangers;
    for (const auto& id : *now) {
      bool installed = std::ranges::any_of(d_.green, [&](const Instance& i) { return i.id == id; });
      if (!installed) strangers.push_back(id);
    }
    if (strangers.empty()) return {};
    return std::unexpected(failed(
        Error{ErrorKind::failed,
              fmt::format("green group {} holds instance(s) CodeDeploy did not install ({}): Auto "
                          "Scaling replaced or added them after the install, and they would serve "
                          "without the revision; traffic stays on blue",
                          s_.green_group, fmt::join(strangers, ", "))}));
  }

  // Waits until every instance of `group` is healthy in each of blue's target groups.
  std::expected<void, std::optional<InputEvent>> wait_healthy_everywhere(const std::string& group,
                                                                         TimePoint until) {
    Duration pause = pacing_.first;
    std::string last;
    for (;;) {
      auto instances = members(group);
      if (!instances) return std::unexpected(failed(instances.error()));
      std::vector<std::string> waiting;
      for (const auto& arn : s_.blue_target_groups) {
        auto health = cloud_.target_health(arn, request_deadline());
        if (!health) return std::unexpected(failed(health.error()));
        for (const auto& id : *instances) {
          auto it = std::ranges::find(*health, id, &TargetHealth::id);
          std::string state = it == health->end() ? "not registered" : it->state;
          if (state != "healthy") waiting.push_back(fmt::format("{} {} in {}", id, state, arn));
        }
      }
      if (!instances->empty() && waiting.empty()) return {};
      std::string now = instances->empty() ? fmt::format("group {} has no instance", group)
                                           : fmt::format("{}", fmt::join(waiting, "; "));
      if (now != last) note("target_health", fmt::format("waiting for group {}: {}", group, now));
      last = now;
      if (clock_.now() >= until) {
        return std::unexpected(input::Failed{
            Error{ErrorKind::timeout,
                  fmt::format("group {} did not become healthy in every target group ({}); "
                              "nothing was detached",
                              group, now)},
            {},
            true});
      }
      if (auto stopped = pause_until(std::min(until, clock_.now() + pause))) {
        return std::unexpected(*stopped);
      }
      pause = next_pause(pause);
    }
  }

  // -- CodeDeploy ----------------------------------------------------------------------------
  Result<void> adopt_codedeploy() {
    auto last = cloud_.last_attempted_deployment(d_.spec.app_name, d_.spec.deployment_group,
                                                 request_deadline());
    if (!last) return std::unexpected(Error(last.error()));
    if (last->empty()) return {};
    auto info = cloud_.deployment(*last, request_deadline());
    if (!info) return std::unexpected(Error(info.error()));
    if (!targets_tag(*info, d_.green_identifier)) return {};
    s_.codedeploy_id = *last;
    if (!d_.cloud) d_.cloud = CloudProgress{};
    d_.cloud->codedeploy_deployment_id = *last;
    save();
    note("codedeploy_deployment_adopted",
         fmt::format("CodeDeploy deployment {} of this deployment exists already ({}); following "
                     "it",
                     *last, info->status));
    return {};
  }

  InputEvent follow_install(TimePoint deadline) {
    Duration pause = pacing_.first;
    std::vector<HookResult> results;
    std::set<std::string> logged;  // instance/event/status already said
    std::string last_status;
    // The first failed event, whichever poll saw it: its target may be read before the
    // deployment's status says Failed.
    std::string failure;
    for (;;) {
      auto info = cloud_.deployment(s_.codedeploy_id, request_deadline());
      if (!info)
        return failed(Error(info.error()).with_context("CodeDeploy GetDeployment"), results);
      bool ended = codedeploy_ended(info->status);
      if (info->status != last_status) {
        note("codedeploy_status",
             fmt::format("CodeDeploy deployment {} is {}: {} succeeded, {} in progress, {} "
                         "pending, {} failed",
                         s_.codedeploy_id, info->status, info->succeeded, info->in_progress,
                         info->pending, info->failed),
             info->status == "Failed" || info->status == "Stopped" ? EventKind::error
                                                                   : EventKind::info);
        last_status = info->status;
      }
      if (info->status != "Created" && info->status != "Queued") {
        auto targets = cloud_.deployment_targets(s_.codedeploy_id, request_deadline());
        if (!targets) {
          return failed(Error(targets.error()).with_context("CodeDeploy deployment targets"),
                        results);
        }
        for (const auto& target : *targets) {
          for (const auto& event : target.lifecycle_events) {
            if (event.status != "Succeeded" && event.status != "Failed") continue;
            std::string key = fmt::format("{}/{}", target.target_id, event.name);
            if (!logged.insert(key).second) continue;
            bool ok = event.status == kInstallDone;
            HookResult hook;
            hook.instance_id = target.target_id;
            hook.lifecycle_event = event.name;
            hook.script = event.script_name;
            hook.exit_code = ok ? 0 : 1;
            hook.timed_out = event.error_code == "ScriptTimedOut";
            hook.output_tail = event.log_tail;
            if (event.start_time && event.end_time) {
              hook.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     *event.end_time - *event.start_time)
                                     .count();
            }
            std::string why = ok ? std::string()
                                 : fmt::format(" ({}{}{})", event.error_code,
                                               event.message.empty() ? "" : ": ", event.message);
            if (!ok && failure.empty()) {
              failure = fmt::format("lifecycle event {} failed on {}{}", event.name,
                                    target.target_id, why);
            }
            DeploymentEvent line{
                d_.id,
                clock_.now(),
                d_.phase,
                ok ? EventKind::info : EventKind::error,
                fmt::format("{} {} on {}{}", event.name, event.status, target.target_id, why),
                target.target_id};
            line.name = "lifecycle_event";
            line.fields = {{"instance", target.target_id},
                           {"lifecycle_event", event.name},
                           {"status", event.status},
                           {"flow_phase", s_.step},
                           {"codedeploy_deployment_id", s_.codedeploy_id}};
            call_.publish(line);
            results.push_back(std::move(hook));
          }
        }
      }
      if (info->status == kInstallDone) {
        return input::HooksRan{
            std::move(results), true,
            fmt::format("CodeDeploy deployment {} succeeded on {} instance(s) "
                        "({})",
                        s_.codedeploy_id, d_.green.size(), instance_list(d_.green))};
      }
      if (ended) {
        std::string says =
            info->error_code.empty()
                ? ""
                : fmt::format(". CodeDeploy says {}: {}", info->error_code, info->error_message);
        return input::Failed{
            Error{ErrorKind::failed,
                  fmt::format("CodeDeploy deployment {} {}: {}{}", s_.codedeploy_id, info->status,
                              failure.empty() ? "no lifecycle event failed on the green instances"
                                              : failure,
                              says)},
            std::move(results), true};
      }
      if (clock_.now() >= deadline) {
        return input::Failed{
            Error{ErrorKind::timeout, fmt::format("CodeDeploy deployment {} is still {}",
                                                  s_.codedeploy_id, info->status)},
            std::move(results), true};
      }
      if (auto stopped = pause_until(std::min(deadline, clock_.now() + pause))) return *stopped;
      pause = next_pause(pause);
    }
  }

  AsgCloud& cloud_;
  Clock& clock_;
  AsgPacing pacing_;
  ProviderCall& call_;
  Deployment& d_;
  AsgState s_;
};

AsgProvider::AsgProvider(std::unique_ptr<AsgCloud> cloud, Clock& clock, AsgPacing pacing)
    : cloud_(std::make_unique<RetryingCloud>(std::move(cloud), clock)),
      clock_(clock),
      pacing_(pacing) {}

AsgState AsgProvider::load(const Deployment& deployment) const {
  if (!deployment.cloud) return {};
  auto state = asg_state_from(deployment.cloud->token);
  return state ? *state : AsgState{};
}

InputEvent AsgProvider::launch_green(ProviderCall& call, const action::LaunchGreen& /*launch*/) {
  return Run(*this, call, "launch_green").launch();
}

InputEvent AsgProvider::run_hooks(ProviderCall& call, const action::RunHooks& hooks) {
  if (hooks.colour == Colour::green && hooks.lifecycle_events == install_lifecycle_events()) {
    return Run(*this, call, "install").install(hooks);
  }
  // CodeDeploy runs no traffic hook and no ApplicationStop on an in-place install: nothing of
  // the flow's own runs here either.
  return input::HooksRan{{}, true, "CodeDeploy runs these lifecycle events on no instance"};
}

InputEvent AsgProvider::gate_health(ProviderCall& call, const action::CheckHealth& /*check*/) {
  return Run(*this, call, "health_gate").gate();
}

InputEvent AsgProvider::preview(ProviderCall& call, const action::Preview& preview) {
  return Run(*this, call, "preview").preview(preview);
}

InputEvent AsgProvider::move_traffic(ProviderCall& call, const action::Route& route) {
  return Run(*this, call, route.fleet_id == call.deployment.id ? "route_to_green" : "route_to_blue")
      .route(route);
}

InputEvent AsgProvider::drain(ProviderCall& call, const action::Drain& drain) {
  return Run(*this, call, "drain").drain(drain);
}

InputEvent AsgProvider::retire_blue(ProviderCall& call) {
  return Run(*this, call, "terminate_blue").retire();
}

InputEvent AsgProvider::clean_up(ProviderCall& call) {
  return Run(*this, call, "clean_up").clean_up();
}

AsgProviders::AsgProviders(OpenCloud open_cloud, Clock& clock, AsgPacing pacing)
    : open_cloud_(std::move(open_cloud)), clock_(clock), pacing_(pacing) {}

Result<void> AsgProviders::check(const DeploymentSpec& spec) const {
  if (spec.provider != Provider::asg) {
    return fail(ErrorKind::internal, "AsgProviders runs PROVIDER=asg deployments only");
  }
  // An Auto Scaling group's name: 1-255 characters; the green one adds 9.
  if (spec.group_id.size() > 246) {
    return fail(ErrorKind::invalid_input,
                "GROUP_ID must be at most 246 characters with PROVIDER=asg (the green group's "
                "name adds 9 to it)");
  }
  return {};
}

std::string AsgProviders::green_identifier(const DeploymentSpec& /*spec*/,
                                           const std::string& /*deployment_id*/) const {
  return new_uuid();
}

Result<std::unique_ptr<FleetProvider>> AsgProviders::open(const Deployment& /*deployment*/,
                                                          bool /*resumed*/, EventSink& /*sink*/) {
  auto cloud = open_cloud_();
  if (!cloud) return std::unexpected(cloud.error());
  return std::make_unique<AsgProvider>(std::move(*cloud), clock_, pacing_);
}

}  // namespace bluegreen::asg
