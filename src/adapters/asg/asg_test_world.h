// An AWS account in memory for AsgProvider's tests: Auto Scaling groups that launch instances
// from a launch template, target groups whose targets pass their health check after a number
// of reads (or never, for an instance marked sick), a deregistration delay that really keeps
// a detached target draining, CodeDeploy deployments that move along with the clock, and EC2
// status checks. Each call does what it asks: a delete terminates the group's instances, a
// detach deregisters them, a create of a name in use is refused.
//
// `serving_violations` collects every moment a call left a target group that served before
// with no healthy target: the user-visible meaning of "nothing that may serve is removed".
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/asg/asg_ports.h"
#include "core/clock.h"
#include "core/spec.h"

namespace bluegreen::asg::testing {

// A PROVIDER=asg spec for the group "web", with `extra` keys (",\"KEY\":\"value\"…") added
// and TIMEOUT 900 unless they say otherwise.
inline DeploymentSpec asg_spec(const std::string& extra = "") {
  auto spec = parse_spec(std::string_view(
      R"({"PROVIDER":"asg","GROUP_ID":"web","APP_NAME":"app","DEPLOYMENT_GROUP":"dg",)"
      R"("S3_BUCKET":"b","S3_KEY":"app.zip","S3_BUNDLE":"zip")" +
      (extra.find("\"TIMEOUT\"") == std::string::npos ? std::string(R"(,"TIMEOUT":"900")")
                                                      : std::string()) +
      extra + "}"));
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

inline aws::AwsError aws_error(std::string operation, ErrorKind kind, std::string code,
                               std::string message) {
  aws::AwsError e;
  e.kind = kind;
  e.service = "autoscaling";
  e.operation = std::move(operation);
  e.code = std::move(code);
  e.message = std::move(message);
  e.http_status = 400;
  return e;
}

struct World {
  explicit World(Clock& clock) : clock(clock) {}

  Clock& clock;
  mutable std::mutex mutex;

  struct Target {
    std::string state;  // initial | healthy | draining
    int reads = 0;      // health reads since it was registered
    TimePoint draining_until;
  };
  struct TargetGroup {
    Duration deregistration_delay = std::chrono::seconds(5);
    std::map<std::string, Target> targets;
  };
  struct Group {
    AutoScalingGroup g;
    bool deleted = false;
  };
  struct Deployment {
    aws::CreateDeploymentRequest request;
    std::vector<std::string> targets;
    TimePoint created;
    bool stopped = false;
  };

  // Knobs.
  int reads_until_healthy = 2;  // health reads before a target is healthy
  std::set<std::string> sick;   // instances that never pass a health check
  Duration codedeploy_takes = std::chrono::seconds(60);
  std::string codedeploy_fails_at;  // lifecycle event that fails, empty: none
  // How much sooner the targets' lifecycle events end than the deployment's status says so.
  Duration codedeploy_targets_ahead{0};
  Duration status_checks_after = std::chrono::seconds(20);
  bool instances_never_in_service = false;
  // AWS answering an error (throttling, a 5xx, AccessDenied): `fault` is asked before each
  // call, by the name `calls` records it with; an error it gives is the answer and the call
  // does nothing. `lost_answer` is asked after a call that changes something did it: an error
  // it gives is an answer that never came back (a timeout after the request arrived).
  std::function<std::optional<aws::AwsError>(const std::string& call)> fault;
  std::function<std::optional<aws::AwsError>(const std::string& call)> lost_answer;

  std::map<std::string, Group> groups;
  std::map<std::string, TargetGroup> target_groups;
  std::map<std::string, TimePoint> launched_at;  // instance -> launch time
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> instance_tags;
  std::set<std::string> terminated;
  std::map<std::string, Deployment> deployments;
  std::string last_attempt;
  std::vector<std::string> calls;  // "CreateAutoScalingGroup web-1a2b3c4d", …
  std::vector<std::string> serving_violations;
  std::set<std::string> served;  // target groups that had a healthy target
  int next_instance = 1;

  // The account before the first deployment: group "web" with two instances in "main".
  void seed(const std::string& name = "web", int instances = 2) {
    target_groups[kMain];
    target_groups[kPreview];
    Group blue;
    blue.g.name = name;
    blue.g.launch_template = {"lt-0abc", "web-template", "$Latest"};
    blue.g.min_size = 1;
    blue.g.max_size = 4;
    blue.g.desired_capacity = instances;
    blue.g.vpc_zone_identifier = "subnet-1,subnet-2";
    blue.g.target_group_arns = {kMain};
    for (int i = 0; i < instances; ++i) {
      std::string id = launch();
      blue.g.instances.push_back({id, "InService", "Healthy"});
      target_groups[kMain].targets[id] = Target{"healthy", 99, {}};
    }
    groups[name] = blue;
    served.insert(kMain);
  }

  static constexpr const char* kMain =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-main/0123456789abcdef";
  static constexpr const char* kPreview =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-preview/"
      "fedcba9876543210";

  std::string launch() {
    std::string id = fmt::format("i-{:017x}", next_instance++);
    launched_at[id] = clock.now();
    return id;
  }

  // Auto Scaling replacing an instance of `group` (a failed health check, a Spot interruption,
  // a rebalance): the old one leaves the group's target groups and is terminated, a new one is
  // launched from the group, tagged as the group propagates, InService and registered.
  std::string replace_instance(const std::string& group, const std::string& old_id) {
    auto& g = groups.at(group).g;
    std::erase_if(g.instances, [&](const GroupInstance& i) { return i.id == old_id; });
    terminated.insert(old_id);
    for (auto& [arn, tg] : target_groups) tg.targets.erase(old_id);
    std::string id = launch();
    g.instances.push_back({id, "InService", "Healthy"});
    std::vector<std::pair<std::string, std::string>> tags(g.tags.begin(), g.tags.end());
    std::erase_if(tags, [](const auto& t) { return t.first == "bluegreen:group"; });
    instance_tags[id] = tags;
    for (const auto& arn : g.target_group_arns) register_in(arn, {g.instances.back()});
    check_serving("Auto Scaling replaced " + old_id);
    return id;
  }

  const Group* live(const std::string& name) const {
    auto it = groups.find(name);
    return it == groups.end() || it->second.deleted ? nullptr : &it->second;
  }

  // Records a call; the error `fault` answers it with, if any.
  std::optional<aws::AwsError> called(const std::string& call) {
    calls.push_back(call);
    return fault ? fault(call) : std::nullopt;
  }
  // The answer of a call that did what it asked.
  std::expected<void, aws::AwsError> answered(const std::string& call) {
    if (lost_answer) {
      if (auto e = lost_answer(call)) return std::unexpected(*e);
    }
    return {};
  }

  int healthy_in(const TargetGroup& tg) const {
    return static_cast<int>(std::ranges::count_if(
        tg.targets, [](const auto& t) { return t.second.state == "healthy"; }));
  }

  // After every call that changes something: a target group that served still has a
  // healthy target.
  void check_serving(const std::string& call) {
    for (const auto& [arn, tg] : target_groups) {
      if (healthy_in(tg) > 0) {
        served.insert(arn);
      } else if (served.contains(arn) && arn != kPreview) {
        serving_violations.push_back(fmt::format("{} left {} with no healthy target", call, arn));
      }
    }
  }

  void register_in(const std::string& arn, const std::vector<GroupInstance>& instances) {
    auto& tg = target_groups[arn];
    for (const auto& i : instances) {
      auto it = tg.targets.find(i.id);
      if (it == tg.targets.end() || it->second.state == "draining") {
        tg.targets[i.id] = Target{"initial", 0, {}};
      }
    }
  }

  void deregister_from(const std::string& arn, const std::vector<GroupInstance>& instances) {
    auto& tg = target_groups[arn];
    for (const auto& i : instances) {
      auto it = tg.targets.find(i.id);
      if (it == tg.targets.end() || it->second.state == "draining") continue;
      it->second.state = "draining";
      it->second.draining_until = clock.now() + tg.deregistration_delay;
    }
  }

  // Lifecycle of CodeDeploy's deployment `d` now: its status and its targets' events.
  std::string status_of(const Deployment& d, Duration ahead = Duration{0}) const {
    if (d.stopped) return "Stopped";
    if (clock.now() + ahead < d.created + codedeploy_takes) return "InProgress";
    return codedeploy_fails_at.empty() ? "Succeeded" : "Failed";
  }
};

inline const std::vector<std::string>& lifecycle() {
  static const std::vector<std::string> events = {
      "ApplicationStop", "DownloadBundle",   "BeforeInstall",  "Install",
      "AfterInstall",    "ApplicationStart", "ValidateService"};
  return events;
}

// AsgCloud on a World.
class FakeAsgCloud final : public AsgCloud {
 public:
  explicit FakeAsgCloud(World& world) : w_(world) {}

  AwsResult<std::vector<AutoScalingGroup>> groups_tagged(const std::string& key,
                                                         const std::string& value,
                                                         TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DescribeAutoScalingGroups tag:" + key;
    if (auto e = w_.called(call)) return std::unexpected(*e);
    std::vector<AutoScalingGroup> out;
    for (const auto& [name, group] : w_.groups) {
      auto it = group.g.tags.find(key);
      if (!group.deleted && it != group.g.tags.end() && it->second == value) {
        out.push_back(group.g);
      }
    }
    return out;
  }

  AwsResult<std::optional<AutoScalingGroup>> group_named(const std::string& name,
                                                         TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DescribeAutoScalingGroups " + name;
    if (auto e = w_.called(call)) return std::unexpected(*e);
    const auto* group = w_.live(name);
    if (group == nullptr) return std::optional<AutoScalingGroup>{};
    return group->g;
  }

  AwsResult<void> create_group(const NewGroup& request, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "CreateAutoScalingGroup " + request.name;
    if (auto e = w_.called(call)) return std::unexpected(*e);
    if (w_.live(request.name) != nullptr) {
      return std::unexpected(aws_error("CreateAutoScalingGroup", ErrorKind::conflict,
                                       "AlreadyExists",
                                       "AutoScalingGroup by this name already exists"));
    }
    World::Group group;
    group.g.name = request.name;
    group.g.launch_template = request.launch_template;
    group.g.min_size = request.min_size;
    group.g.max_size = request.max_size;
    group.g.desired_capacity = request.desired_capacity;
    group.g.vpc_zone_identifier = request.vpc_zone_identifier;
    group.g.target_group_arns = request.target_group_arns;
    for (const auto& [k, v] : request.tags) group.g.tags[k] = v;
    for (int i = 0; i < request.desired_capacity; ++i) {
      std::string id = w_.launch();
      group.g.instances.push_back(
          {id, w_.instances_never_in_service ? "Pending" : "InService", "Healthy"});
      w_.instance_tags[id] = request.tags;
    }
    for (const auto& arn : request.target_group_arns) w_.register_in(arn, group.g.instances);
    w_.groups[request.name] = group;
    return w_.answered(call);
  }

  AwsResult<void> tag_group(const std::string& name, const std::string& key,
                            const std::string& value, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = fmt::format("CreateOrUpdateTags {} {}={}", name, key, value);
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.groups.find(name);
    if (it == w_.groups.end() || it->second.deleted) return not_found("CreateOrUpdateTags", name);
    it->second.g.tags[key] = value;
    return w_.answered(call);
  }

  AwsResult<void> delete_group(const std::string& name, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DeleteAutoScalingGroup " + name;
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.groups.find(name);
    if (it == w_.groups.end() || it->second.deleted) return {};
    it->second.deleted = true;
    for (const auto& i : it->second.g.instances) {
      w_.terminated.insert(i.id);
      for (auto& [arn, tg] : w_.target_groups) tg.targets.erase(i.id);
    }
    w_.check_serving("DeleteAutoScalingGroup " + name);
    return w_.answered(call);
  }

  AwsResult<void> attach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = fmt::format("AttachLoadBalancerTargetGroups {}", name);
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.groups.find(name);
    if (it == w_.groups.end() || it->second.deleted) {
      return not_found("AttachLoadBalancerTargetGroups", name);
    }
    for (const auto& arn : arns) {
      auto& list = it->second.g.target_group_arns;
      if (std::ranges::find(list, arn) == list.end()) list.push_back(arn);
      w_.register_in(arn, it->second.g.instances);
    }
    return w_.answered(call);
  }

  AwsResult<void> detach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = fmt::format("DetachLoadBalancerTargetGroups {}", name);
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.groups.find(name);
    if (it == w_.groups.end() || it->second.deleted) {
      return not_found("DetachLoadBalancerTargetGroups", name);
    }
    for (const auto& arn : arns) {
      std::erase(it->second.g.target_group_arns, arn);
      w_.deregister_from(arn, it->second.g.instances);
    }
    w_.check_serving("DetachLoadBalancerTargetGroups " + name);
    return w_.answered(call);
  }

  AwsResult<std::vector<TargetHealth>> target_health(const std::string& arn, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DescribeTargetHealth";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.target_groups.find(arn);
    if (it == w_.target_groups.end()) {
      return std::unexpected(aws_error("DescribeTargetHealth", ErrorKind::not_found,
                                       "TargetGroupNotFound",
                                       "One or more target groups not found"));
    }
    std::vector<TargetHealth> out;
    for (auto t = it->second.targets.begin(); t != it->second.targets.end();) {
      auto& target = t->second;
      if (target.state == "draining" && w_.clock.now() >= target.draining_until) {
        t = it->second.targets.erase(t);
        continue;
      }
      if (target.state == "initial" && !w_.sick.contains(t->first) &&
          ++target.reads >= w_.reads_until_healthy) {
        target.state = "healthy";
      }
      TargetHealth health{t->first, target.state, "", ""};
      if (w_.sick.contains(t->first) && target.state == "initial" &&
          target.reads++ >= w_.reads_until_healthy) {
        health.state = "unhealthy";
        health.reason = "Target.ResponseCodeMismatch";
        health.description = "Health checks failed with these codes: [500]";
      }
      out.push_back(health);
      ++t;
    }
    w_.check_serving("DescribeTargetHealth");
    return out;
  }

  AwsResult<Duration> deregistration_delay(const std::string& arn, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DescribeTargetGroupAttributes";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    return w_.target_groups[arn].deregistration_delay;
  }

  AwsResult<std::vector<StatusCheck>> status_checks(const std::vector<std::string>& ids,
                                                    TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "DescribeInstanceStatus";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    std::vector<StatusCheck> out;
    for (const auto& id : ids) {
      bool gone = w_.terminated.contains(id);
      auto launched = w_.launched_at.find(id);
      bool ok = !gone && launched != w_.launched_at.end() &&
                w_.clock.now() >= launched->second + w_.status_checks_after;
      out.push_back({id, gone ? "terminated" : "running", ok});
    }
    return out;
  }

  AwsResult<std::string> create_deployment(const aws::CreateDeploymentRequest& request,
                                           TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "CreateDeployment";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    for (const auto& [id, d] : w_.deployments) {
      std::string status = w_.status_of(d);
      if (status == "InProgress") {
        return std::unexpected(aws_error("CreateDeployment", ErrorKind::conflict,
                                         "DeploymentLimitExceededException",
                                         "The deployment group already has an active deployment"));
      }
    }
    World::Deployment d{request, {}, w_.clock.now(), false};
    for (const auto& [id, tags] : w_.instance_tags) {
      if (w_.terminated.contains(id)) continue;
      for (const auto& filter : request.target_tag_filters) {
        for (const auto& [k, v] : tags) {
          if (k == filter.key && v == filter.value) d.targets.push_back(id);
        }
      }
    }
    if (d.targets.empty()) {
      return std::unexpected(aws_error("CreateDeployment", ErrorKind::invalid_input,
                                       "DeploymentGroupDoesNotHaveInstancesException",
                                       "no instances match the tag filters"));
    }
    std::string id = fmt::format("d-{:09}", w_.deployments.size() + 1);
    w_.deployments[id] = d;
    w_.last_attempt = id;
    if (auto a = w_.answered(call); !a) return std::unexpected(a.error());
    return id;
  }

  AwsResult<aws::DeploymentInfo> deployment(const std::string& id, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "GetDeployment";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    auto it = w_.deployments.find(id);
    if (it == w_.deployments.end()) {
      return std::unexpected(aws_error("GetDeployment", ErrorKind::not_found,
                                       "DeploymentDoesNotExistException", "no such deployment"));
    }
    aws::DeploymentInfo info;
    info.deployment_id = id;
    info.status = w_.status_of(it->second);
    info.target_tag_filters = it->second.request.target_tag_filters;
    auto n = static_cast<long long>(it->second.targets.size());
    if (info.status == "Succeeded") info.succeeded = n;
    if (info.status == "InProgress") info.in_progress = n;
    if (info.status == "Failed") {
      info.failed = n;
      info.error_code = "HOOK_EXECUTION_FAILURE";
      info.error_message = "The deployment failed because one or more instances failed";
    }
    return info;
  }

  AwsResult<std::vector<aws::DeploymentTargetInfo>> deployment_targets(const std::string& id,
                                                                       TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "ListDeploymentTargets";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    const auto& d = w_.deployments.at(id);
    std::string status = w_.status_of(d, w_.codedeploy_targets_ahead);
    std::vector<aws::DeploymentTargetInfo> out;
    for (const auto& target : d.targets) {
      aws::DeploymentTargetInfo info;
      info.target_id = target;
      info.status = status;
      bool failed = false;
      for (const auto& name : lifecycle()) {
        aws::LifecycleEventInfo e;
        e.name = name;
        if (status == "InProgress" || status == "Stopped") {
          e.status = "Pending";
        } else if (failed) {
          e.status = "Skipped";
        } else if (name == w_.codedeploy_fails_at) {
          e.status = "Failed";
          e.error_code = "ScriptFailed";
          e.script_name = "scripts/validate.sh";
          e.message = "Script at specified location: scripts/validate.sh failed with exit code 1";
          e.log_tail = "[stderr]curl: (7) connection refused";
          failed = true;
        } else {
          e.status = "Succeeded";
        }
        info.lifecycle_events.push_back(e);
      }
      out.push_back(info);
    }
    return out;
  }

  AwsResult<std::string> last_attempted_deployment(const std::string&, const std::string&,
                                                   TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "GetDeploymentGroup";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    return w_.last_attempt;
  }

  AwsResult<void> stop_deployment(const std::string& id, TimePoint) override {
    std::lock_guard lock(w_.mutex);
    const std::string call = "StopDeployment";
    if (auto e = w_.called(call)) return std::unexpected(*e);
    w_.deployments.at(id).stopped = true;
    return w_.answered(call);
  }

 private:
  static std::unexpected<aws::AwsError> not_found(std::string operation, const std::string& name) {
    return std::unexpected(aws_error(std::move(operation), ErrorKind::not_found, "ValidationError",
                                     fmt::format("AutoScalingGroup name not found - {}", name)));
  }

  World& w_;
};

}  // namespace bluegreen::asg::testing
