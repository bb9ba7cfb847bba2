// Test support for the Elastigroup request plan's unit tests: World, a simulation of Spot, EC2,
// CodeDeploy and the secret stores behind the plan's ports, that moves with simulated time, and
// invoke(), which runs one invocation of the plan against it (each request takes 50 ms of the
// world's time; a pause moves the world's clock to its end).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "adapters/elastigroup/request_plan_run.h"

namespace bluegreen::elastigroup::flow_testing {

inline constexpr Duration kSecond = std::chrono::seconds(1);
inline constexpr Duration kMinute = 60 * kSecond;
inline constexpr Duration kNever{-1};  // World::green_ok_after: the greens never pass

// The requests World answered, as a test may look at them (World::fault, World::requests).
struct ResolveApiToken {};
struct ReadGroup {
  bool with_capacity = true;
};
struct ListSpotDeployments {};
struct CreateSpotDeployment {
  std::string green_identifier;
};
struct StopSpotDeployment {
  std::string deployment_id;
};
struct DescribeGreens {
  std::string green_identifier;
};
struct DescribeInstanceHealth {
  std::vector<std::string> instance_ids;
};
struct DetachGreens {
  std::vector<std::string> instance_ids;
};
struct TagInstances {
  std::vector<std::string> instance_ids;
  std::vector<std::pair<std::string, std::string>> tags;
};
struct FindLastCodeDeployDeployment {};
struct GetCodeDeployDeployment {
  std::string deployment_id;
};
struct CreateCodeDeployDeployment {
  std::string tag_key;
  std::string tag_value;
};
struct ListCodeDeployTargets {
  std::string deployment_id;
};
struct GetCodeDeployTargets {
  std::string deployment_id;
  std::vector<std::string> target_ids;
};
struct StopCodeDeployDeployment {
  std::string deployment_id;
};
using Request = std::variant<ResolveApiToken, ReadGroup, ListSpotDeployments, CreateSpotDeployment,
                             StopSpotDeployment, DescribeGreens, DescribeInstanceHealth,
                             DetachGreens, TagInstances, FindLastCodeDeployDeployment,
                             GetCodeDeployDeployment, CreateCodeDeployDeployment,
                             ListCodeDeployTargets, GetCodeDeployTargets, StopCodeDeployDeployment>;

inline std::string_view request_name(const Request& request) {
  static constexpr std::array kNames = {"ResolveApiToken",
                                        "ReadGroup",
                                        "ListSpotDeployments",
                                        "CreateSpotDeployment",
                                        "StopSpotDeployment",
                                        "DescribeGreens",
                                        "DescribeInstanceHealth",
                                        "DetachGreens",
                                        "TagInstances",
                                        "FindLastCodeDeployDeployment",
                                        "GetCodeDeployDeployment",
                                        "CreateCodeDeployDeployment",
                                        "ListCodeDeployTargets",
                                        "GetCodeDeployTargets",
                                        "StopCodeDeployDeployment"};
  static_assert(kNames.size() == std::variant_size_v<Request>);
  return kNames[request.index()];
}

// A simulation of Spot, EC2 and CodeDeploy behind the plan's ports, that moves with simulated
// time. Times are offsets from the moment each thing was created. Spot
// interruptions (`interruptions`) terminate a green with EC2's reason for it, and Elastigroup
// launches a replacement, tagged or not; a CodeDeploy deployment installs on the instances
// its tag named when it was created, and fails on one reclaimed before it ended when
// `reclaimed_target_fails`.
struct World final : SpotBlueGreen, Ec2Instances, CodeDeployService, SecretSource {
  TimePoint now = from_epoch_ms(1'800'000'000'000);
  int capacity = 2;
  std::vector<std::string> group = {"i-blue1", "i-blue2"};

  Duration green_running_after = 30 * kSecond;
  Duration green_ok_after = 90 * kSecond;  // kNever: never
  Duration codedeploy_takes = 4 * kMinute;
  // CodeDeploy's deployment stays Created this long before it starts (its targets cannot be
  // listed until then: DeploymentNotStartedException).
  Duration codedeploy_starts_after = Duration{0};
  std::string codedeploy_fails_at;  // lifecycle event that fails, empty: success
  Duration detach_after = 30 * kSecond;
  bool stop_terminates_greens = true;
  bool churn = false;  // CodeDeploy's counts change at every read (a large, busy fleet)
  bool reclaimed_target_fails = true;  // a reclaimed target fails the CodeDeploy deployment

  // EC2 reclaims green number `green` (in launch order) at `at`; Elastigroup launches a
  // replacement `replace_after` later (never when `replace` is false), which carries the
  // deployment's tags when `spot_tags_replacement`.
  struct Interruption {
    TimePoint at;
    std::size_t green = 0;
    bool replace = true;
    bool spot_tags_replacement = true;
    Duration replace_after = 20 * kSecond;
    std::string reason = std::string(kSpotInterruption);  // EC2's state reason
    bool done = false;
  };
  std::vector<Interruption> interruptions;
  // A blue instance EC2 reclaims at a moment (it leaves the group).
  std::vector<std::pair<TimePoint, std::string>> blue_interruptions;

  struct Spot {
    SpotDeployment d;
    TimePoint created;
  };
  std::vector<Spot> spot;
  struct Green {
    std::string id;
    std::string tag;  // GreenIdentifier; empty: untagged
    TimePoint launched;
    bool terminated = false;
    std::string reason;           // EC2's state reason once terminated
    TimePoint reclaimed_at;       // when a spot interruption took it
    std::string replacement_tag;  // GreenReplacement
  };
  std::vector<Green> greens;
  struct Cd {
    std::string id;
    std::string tag;  // the value of its tag filter
    TimePoint created;
    bool stopped = false;
    std::string tag_key = "GreenIdentifier";
    std::vector<std::string> targets;  // the instances the tag named at the create
  };
  std::vector<Cd> codedeploy;

  // Injected failures: return an error to answer a request with it.
  std::function<std::optional<Error>(const Request&)> fault;
  std::vector<std::pair<TimePoint, std::string>> requests;
  int spot_creates = 0, codedeploy_creates = 0;

  static constexpr std::array<const char*, 6> kEvents = {"ApplicationStop",  "DownloadBundle",
                                                         "BeforeInstall",    "AfterInstall",
                                                         "ApplicationStart", "ValidateService"};

  const Green* green(const std::string& id) const {
    for (const auto& g : greens) {
      if (g.id == id) return &g;
    }
    return nullptr;
  }

  TimePoint started(const Cd& cd) const { return cd.created + codedeploy_starts_after; }
  TimePoint ends(const Cd& cd) const { return started(cd) + codedeploy_takes; }

  // A target of `cd` reclaimed before `cd` ended.
  bool target_reclaimed(const Cd& cd, const std::string& id) const {
    const Green* g = green(id);
    return g != nullptr && g->terminated && g->reclaimed_at != TimePoint{} &&
           g->reclaimed_at < ends(cd);
  }

  bool any_target_reclaimed(const Cd& cd) const {
    return std::ranges::any_of(cd.targets,
                               [&](const std::string& id) { return target_reclaimed(cd, id); });
  }

  std::string cd_status(const Cd& cd) const {
    if (cd.stopped) return "Stopped";
    if (now < started(cd)) return "Created";
    if (now < ends(cd)) return "InProgress";
    if (reclaimed_target_fails && any_target_reclaimed(cd)) return "Failed";
    return codedeploy_fails_at.empty() ? "Succeeded" : "Failed";
  }

  bool active(const Cd& cd) const {
    std::string status = cd_status(cd);
    return status == "Created" || status == "InProgress";
  }

  std::vector<LifecycleEvent> events_of(const Cd& cd) const {
    Duration step = codedeploy_takes / static_cast<int>(kEvents.size());
    std::vector<LifecycleEvent> out;
    bool failed = false;
    for (std::size_t i = 0; i < kEvents.size(); ++i) {
      LifecycleEvent e{kEvents[i], "Pending"};
      TimePoint done_at = started(cd) + step * static_cast<int>(i + 1);
      if (failed) {
        e.status = "Skipped";
      } else if (now >= done_at) {
        e.status = "Succeeded";
        if (codedeploy_fails_at == kEvents[i]) {
          e.status = "Failed";
          e.error_code = "ScriptFailed";
          e.script_name = "scripts/validate.sh";
          e.message =
              "Script at specified location: scripts/validate.sh run as user root failed "
              "with exit code 1";
          e.log_tail = "[stdout]checking\n[stderr]curl: (7) connection refused\n";
          failed = true;
        }
      } else if (now >= done_at - step) {
        e.status = "InProgress";
      }
      out.push_back(e);
    }
    return out;
  }

  std::vector<Green*> live_greens(const std::string& tag) {
    std::vector<Green*> out;
    for (auto& g : greens) {
      if (g.tag == tag && !g.terminated) out.push_back(&g);
    }
    return out;
  }

  void tick() {
    for (auto& i : interruptions) {
      if (i.done || now < i.at || i.green >= greens.size()) continue;
      Green& g = greens[i.green];
      if (g.terminated) continue;  // already gone (cleanup removed it): nothing to reclaim
      i.done = true;
      g.terminated = true;
      g.reason = i.reason;
      g.reclaimed_at = now;
    }
    for (auto& i : interruptions) {
      if (!i.done || !i.replace || now < i.at + i.replace_after) continue;
      i.replace = false;  // launched once
      greens.push_back({fmt::format("i-repl{}", greens.size()),
                        i.spot_tags_replacement ? greens[i.green].tag : std::string(),
                        i.at + i.replace_after});
    }
    for (auto& [at, id] : blue_interruptions) {
      if (now >= at) std::erase(group, id);
    }
    // Spot detaches blue once CodeDeploy succeeded on our greens.
    for (auto& s : spot) {
      if (classify(s.d) != SpotProgress::running) continue;
      for (auto& cd : codedeploy) {
        if (cd.tag == s.d.green_identifier && cd_status(cd) == "Succeeded" &&
            now >= ends(cd) + detach_after) {
          std::erase_if(group, [](const std::string& id) { return id.starts_with("i-blue"); });
          s.d.state = "FINISHED";
        }
      }
    }
  }

  // Records a request, gives `fault` its say, and moves the world to now.
  std::optional<Error> enter(const Request& request) {
    requests.emplace_back(now, std::string(request_name(request)));
    if (fault) {
      if (auto error = fault(request)) return error;
    }
    tick();
    return std::nullopt;
  }

  // SecretSource
  Result<Secret> resolve(const std::string& /*reference*/) override {
    if (auto error = enter(ResolveApiToken{})) return std::unexpected(*error);
    return Secret("resolved-spot-token");
  }

  // SpotBlueGreen
  Result<SpotGroup> read_group(const SpotAccess& /*access*/, bool with_capacity) override {
    if (auto error = enter(ReadGroup{with_capacity})) return std::unexpected(*error);
    std::vector<std::string> ids = group;
    for (auto& g : greens) {
      if (!g.terminated) ids.push_back(g.id);
    }
    return SpotGroup{capacity, ids};
  }
  Result<std::vector<SpotDeployment>> list_deployments(const SpotAccess& /*access*/) override {
    if (auto error = enter(ListSpotDeployments{})) return std::unexpected(*error);
    std::vector<SpotDeployment> out;
    for (auto& s : spot) out.push_back(s.d);
    return out;
  }
  Result<SpotDeployment> create_deployment(const SpotAccess& /*access*/,
                                           const SpotBlueGreenRequest& request) override {
    if (auto error = enter(CreateSpotDeployment{request.green_identifier})) {
      return std::unexpected(*error);
    }
    ++spot_creates;
    Spot s{{fmt::format("cdbg-{}", spot.size() + 1), "STARTING", "INITIALIZING",
            request.green_identifier},
           now};
    spot.push_back(s);
    for (int i = 0; i < capacity; ++i) {
      greens.push_back({fmt::format("i-green{}{}", spot.size(), i), request.green_identifier, now});
    }
    return s.d;
  }
  Result<void> stop_deployment(const SpotAccess& /*access*/, const std::string& id) override {
    if (auto error = enter(StopSpotDeployment{id})) return std::unexpected(*error);
    for (auto& s : spot) {
      if (s.d.id == id) {
        s.d.state = "STOPPED";
        if (stop_terminates_greens) {
          for (auto* g : live_greens(s.d.green_identifier)) g->terminated = true;
        }
      }
    }
    return {};
  }
  Result<void> detach_and_terminate(const SpotAccess& /*access*/,
                                    const std::vector<std::string>& ids) override {
    if (auto error = enter(DetachGreens{ids})) return std::unexpected(*error);
    for (auto& g : greens) {
      if (std::ranges::find(ids, g.id) != ids.end()) g.terminated = true;
    }
    return {};
  }
  Result<SpotCosts> group_costs(const SpotAccess& /*access*/, TimePoint /*from*/,
                                TimePoint /*to*/) override {
    ADD_FAILURE() << "the plan asks Spot for no costs";
    return std::unexpected(Error{ErrorKind::internal, "no costs here"});
  }

  // Ec2Instances
  Result<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                   const std::string& value) override {
    if (auto error = enter(DescribeGreens{value})) return std::unexpected(*error);
    EXPECT_EQ(key, "GreenIdentifier");
    std::vector<Ec2Instance> out;
    for (auto& g : greens) {
      if (g.tag != value) continue;
      std::string state = g.terminated                              ? "terminated"
                          : now >= g.launched + green_running_after ? "running"
                                                                    : "pending";
      out.push_back({g.id, state, g.reason});
    }
    return out;
  }
  Result<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& ids) override {
    if (auto error = enter(DescribeInstanceHealth{ids})) return std::unexpected(*error);
    EXPECT_FALSE(ids.empty());
    std::vector<InstanceHealth> out;
    for (auto& g : greens) {
      if (std::ranges::find(ids, g.id) == ids.end()) continue;
      bool ok = green_ok_after >= Duration::zero() && now >= g.launched + green_ok_after;
      out.push_back({g.id, ok, ok});
    }
    return out;
  }
  Result<void> tag_instances(
      const std::vector<std::string>& ids,
      const std::vector<std::pair<std::string, std::string>>& tags) override {
    if (auto error = enter(TagInstances{ids, tags})) return std::unexpected(*error);
    EXPECT_FALSE(ids.empty());
    for (auto& g : greens) {
      if (std::ranges::find(ids, g.id) == ids.end()) continue;
      for (const auto& [key, value] : tags) {
        if (key == "GreenIdentifier") g.tag = value;
        if (key == kReplacementTag) g.replacement_tag = value;
      }
    }
    return {};
  }

  // CodeDeployService
  Result<std::optional<std::string>> last_attempted_deployment(
      const std::string& /*application*/, const std::string& /*deployment_group*/) override {
    if (auto error = enter(FindLastCodeDeployDeployment{})) return std::unexpected(*error);
    if (codedeploy.empty()) return std::optional<std::string>{};
    return std::optional<std::string>{codedeploy.back().id};
  }
  Result<CodeDeployDeployment> get_deployment(const std::string& id) override {
    if (auto error = enter(GetCodeDeployDeployment{id})) return std::unexpected(*error);
    for (auto& cd : codedeploy) {
      if (cd.id != id) continue;
      CodeDeployDeployment d{cd.id, cd_status(cd)};
      d.green_tag_values = {cd.tag};
      int live = static_cast<int>(cd.targets.size());
      if (d.status == "Succeeded") d.succeeded = live;
      if (d.status == "InProgress") d.in_progress = live;
      if (d.status == "Failed") {
        d.failed = live;
        d.error_code = "HOOK_EXECUTION_FAILURE";
        d.error_message = "The deployment failed because a specified file already exists";
      }
      // Progress shows in the overview the way CodeDeploy moves instances along.
      d.pending = static_cast<long long>(events_of(cd).size());
      for (auto& e : events_of(cd)) d.pending -= e.status == "Pending" ? 0 : 1;
      if (churn) d.skipped = static_cast<long long>(requests.size());
      return d;
    }
    return std::unexpected(
        Error{ErrorKind::not_found, "no such", "DeploymentDoesNotExistException"});
  }
  Result<std::string> create_deployment(const CodeDeployRequest& request) override {
    if (auto error = enter(CreateCodeDeployDeployment{request.tag_key, request.tag_value})) {
      return std::unexpected(*error);
    }
    ++codedeploy_creates;
    for (auto& cd : codedeploy) {
      if (active(cd)) {
        return std::unexpected(
            Error{ErrorKind::conflict,
                  fmt::format("The Deployment Group already has an active Deployment '{}'", cd.id),
                  "DeploymentLimitExceededException"});
      }
    }
    Cd cd{fmt::format("d-{}", codedeploy.size() + 1), request.tag_value, now};
    cd.tag_key = request.tag_key;
    for (const auto& g : greens) {
      bool named = request.tag_key == kReplacementTag ? g.replacement_tag == request.tag_value
                                                      : g.tag == request.tag_value;
      if (named && !g.terminated) cd.targets.push_back(g.id);
    }
    EXPECT_FALSE(cd.targets.empty()) << "a CodeDeploy deployment with no instance to target";
    codedeploy.push_back(cd);
    return codedeploy.back().id;
  }
  Result<std::vector<std::string>> list_targets(const std::string& id) override {
    if (auto error = enter(ListCodeDeployTargets{id})) return std::unexpected(*error);
    std::vector<std::string> out;
    for (auto& cd : codedeploy) {
      if (cd.id != id) continue;
      if (cd_status(cd) == "Created") {
        return std::unexpected(Error{ErrorKind::invalid_input, "The deployment has not started.",
                                     "DeploymentNotStartedException"});
      }
      out = cd.targets;
    }
    return out;
  }
  Result<std::vector<InstanceTarget>> get_targets(const std::string& id,
                                                  const std::vector<std::string>& ids) override {
    if (auto error = enter(GetCodeDeployTargets{id, ids})) return std::unexpected(*error);
    EXPECT_LE(ids.size(), 25u);
    std::vector<InstanceTarget> out;
    for (auto& cd : codedeploy) {
      if (cd.id != id) continue;
      for (const auto& target : ids) {
        if (target_reclaimed(cd, target) && reclaimed_target_fails) {
          // The agent stopped answering: CodeDeploy fails the instance at its next event.
          std::vector<LifecycleEvent> events = events_of(cd);
          for (auto& e : events) {
            if (e.status != "Succeeded") {
              e.status = now >= ends(cd) ? "Failed" : "InProgress";
              if (e.status == "Failed") e.error_code = "AgentNotReachable";
              break;
            }
          }
          out.push_back({target, cd_status(cd) == "InProgress" ? "InProgress" : "Failed", events});
          continue;
        }
        // An instance that did its part ends Succeeded when only a reclaimed one failed.
        std::string status = cd_status(cd);
        if (status == "Failed" && codedeploy_fails_at.empty()) status = "Succeeded";
        out.push_back({target, status, events_of(cd)});
      }
    }
    return out;
  }
  Result<void> stop_deployment(const std::string& id, bool /*auto_rollback*/) override {
    if (auto error = enter(StopCodeDeployDeployment{id})) return std::unexpected(*error);
    for (auto& cd : codedeploy) {
      if (cd.id != id) continue;
      if (!active(cd)) {
        return std::unexpected(Error{ErrorKind::invalid_input,
                                     fmt::format("The deployment {} has already completed", cd.id),
                                     "DeploymentAlreadyCompletedException"});
      }
      cd.stopped = true;
    }
    return {};
  }
};

struct Invocation {
  Report report;
  std::vector<DeploymentEvent> events;
};

inline FlowConfig config_for(std::string job_id = "11111111-2222-3333-4444-555555555555") {
  FlowConfig c;
  c.green_identifier = green_identifier_for_job(job_id);
  c.job_id = std::move(job_id);
  c.group_id = "sig-1234abcd";
  c.app_name = "app";
  c.deployment_group = "dg";
  c.timeout = std::chrono::seconds(1800);
  c.revision = "s3://bucket/app.zip (zip)";
  return c;
}

// The plan's host in a test: the world's clock. The invocation ends (and hands over a token)
// when the world's clock reaches `end`, or when `before` says so before a request.
class WorldHost final : public PlanHost {
 public:
  WorldHost(World& world, TimePoint end, std::vector<DeploymentEvent>& events,
            std::function<bool(const FlowState&)> before)
      : world_(world), end_(end), events_(events), before_(std::move(before)) {}

  TimePoint now() override { return world_.now; }
  bool before_request(const FlowState& state, TimePoint /*limit*/) override {
    if (++moves_ > 100'000) {
      ADD_FAILURE() << "the plan did not report";
      return false;
    }
    if (world_.now >= end_ || (before_ && !before_(state))) return false;
    world_.now += std::chrono::milliseconds(50);  // each request takes a little time
    return true;
  }
  bool pause_until(TimePoint until) override {
    EXPECT_GE(until, world_.now);
    if (until >= end_) return false;
    world_.now = until;
    return true;
  }
  void publish(DeploymentEvent event) override { events_.push_back(std::move(event)); }

 private:
  World& world_;
  TimePoint end_;
  std::vector<DeploymentEvent>& events_;
  std::function<bool(const FlowState&)> before_;
  int moves_ = 0;
};

// Runs one invocation against the world until it reports. The invocation ends (and hands
// over a token) when the world's clock reaches `invocation_end`, or when `before` (given the
// state the host would save before a request) says so.
inline Invocation invoke(World& world, const FlowConfig& config,
                         std::optional<std::string> token = std::nullopt,
                         TimePoint invocation_end = TimePoint::max(),
                         std::function<bool(const FlowState&)> before = nullptr) {
  Invocation out;
  WorldHost host(world, invocation_end, out.events, std::move(before));
  FlowState state;
  RequestPlan plan(config, state, PlanPorts{world, world, world, world},
                   SpotAccess{Secret("spot-token"), "act-12345678", config.group_id});
  plan.start(host, token);
  const auto& report = plan.go(host, [] { return false; });
  if (report) {
    out.report = *report;
  } else {
    ADD_FAILURE() << "the plan did not report";
  }
  return out;
}

}  // namespace bluegreen::elastigroup::flow_testing
