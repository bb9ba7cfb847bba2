// Test support for the Elastigroup request plan's unit tests: World, a pure simulation of Spot, EC2
// and CodeDeploy that answers the flow's requests and moves with simulated time, and
// invoke(), which runs one invocation of the flow against it.
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

#include "adapters/elastigroup/request_plan.h"

namespace bluegreen::elastigroup::flow_testing {

inline constexpr Duration kSecond = std::chrono::seconds(1);
inline constexpr Duration kMinute = 60 * kSecond;
inline constexpr Duration kNever{-1};  // World::green_ok_after: the greens never pass

// A pure simulation of Spot, EC2 and CodeDeploy that answers the flow's requests and moves
// with simulated time. Times are offsets from the moment each thing was created. Spot
// interruptions (`interruptions`) terminate a green with EC2's reason for it, and Elastigroup
// launches a replacement, tagged or not; a CodeDeploy deployment installs on the instances
// its tag named when it was created, and fails on one reclaimed before it ended when
// `reclaimed_target_fails`.
struct World {
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
  std::function<std::optional<Error>(const Action&)> fault;
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

  EventBody answer(const Action& action) {
    requests.emplace_back(now, std::string(action_name(action)));
    if (fault) {
      if (auto error = fault(action)) return CallFailed{*error};
    }
    tick();
    if (std::holds_alternative<ResolveApiToken>(action)) return TokenResolved{};
    if (std::holds_alternative<ReadGroup>(action)) {
      std::vector<std::string> ids = group;
      for (auto& g : greens) {
        if (!g.terminated) ids.push_back(g.id);
      }
      return GroupRead{capacity, ids};
    }
    if (auto* tag = std::get_if<TagInstances>(&action)) {
      EXPECT_FALSE(tag->instance_ids.empty());
      for (auto& g : greens) {
        if (std::ranges::find(tag->instance_ids, g.id) == tag->instance_ids.end()) continue;
        for (const auto& [key, value] : tag->tags) {
          if (key == "GreenIdentifier") g.tag = value;
          if (key == kReplacementTag) g.replacement_tag = value;
        }
      }
      return Done{};
    }
    if (std::holds_alternative<ListSpotDeployments>(action)) {
      SpotDeploymentsListed out;
      for (auto& s : spot) out.deployments.push_back(s.d);
      return out;
    }
    if (auto* create = std::get_if<CreateSpotDeployment>(&action)) {
      ++spot_creates;
      Spot s{{fmt::format("cdbg-{}", spot.size() + 1), "STARTING", "INITIALIZING",
              create->green_identifier},
             now};
      spot.push_back(s);
      for (int i = 0; i < capacity; ++i) {
        greens.push_back(
            {fmt::format("i-green{}{}", spot.size(), i), create->green_identifier, now});
      }
      return SpotDeploymentCreated{s.d};
    }
    if (auto* stop = std::get_if<StopSpotDeployment>(&action)) {
      for (auto& s : spot) {
        if (s.d.id == stop->deployment_id) {
          s.d.state = "STOPPED";
          if (stop_terminates_greens) {
            for (auto* g : live_greens(s.d.green_identifier)) g->terminated = true;
          }
        }
      }
      return Done{};
    }
    if (auto* describe = std::get_if<DescribeGreens>(&action)) {
      GreensDescribed out;
      for (auto& g : greens) {
        if (g.tag != describe->green_identifier) continue;
        std::string state = g.terminated                              ? "terminated"
                            : now >= g.launched + green_running_after ? "running"
                                                                      : "pending";
        out.instances.push_back({g.id, state, g.reason});
      }
      return out;
    }
    if (auto* health = std::get_if<DescribeInstanceHealth>(&action)) {
      EXPECT_FALSE(health->instance_ids.empty());
      InstanceHealthDescribed out;
      for (auto& g : greens) {
        if (std::ranges::find(health->instance_ids, g.id) == health->instance_ids.end()) continue;
        bool ok = green_ok_after >= Duration::zero() && now >= g.launched + green_ok_after;
        out.instances.push_back({g.id, ok, ok});
      }
      return out;
    }
    if (auto* detach = std::get_if<DetachGreens>(&action)) {
      for (auto& g : greens) {
        if (std::ranges::find(detach->instance_ids, g.id) != detach->instance_ids.end()) {
          g.terminated = true;
        }
      }
      return Done{};
    }
    if (std::holds_alternative<FindLastCodeDeployDeployment>(action)) {
      if (codedeploy.empty()) return LastCodeDeployDeployment{};
      return LastCodeDeployDeployment{codedeploy.back().id};
    }
    if (auto* get = std::get_if<GetCodeDeployDeployment>(&action)) {
      for (auto& cd : codedeploy) {
        if (cd.id != get->deployment_id) continue;
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
        return CodeDeployDeploymentRead{d};
      }
      return CallFailed{{ErrorKind::not_found, "no such", "DeploymentDoesNotExistException"}};
    }
    if (auto* create = std::get_if<CreateCodeDeployDeployment>(&action)) {
      ++codedeploy_creates;
      for (auto& cd : codedeploy) {
        if (active(cd)) {
          return CallFailed{{ErrorKind::conflict,
                             fmt::format("The Deployment Group already has an active Deployment "
                                         "'{}'",
                                         cd.id),
                             "DeploymentLimitExceededException"}};
        }
      }
      Cd cd{fmt::format("d-{}", codedeploy.size() + 1), create->tag_value, now};
      cd.tag_key = create->tag_key;
      for (const auto& g : greens) {
        bool named = create->tag_key == kReplacementTag ? g.replacement_tag == create->tag_value
                                                        : g.tag == create->tag_value;
        if (named && !g.terminated) cd.targets.push_back(g.id);
      }
      EXPECT_FALSE(cd.targets.empty()) << "a CodeDeploy deployment with no instance to target";
      codedeploy.push_back(cd);
      return CodeDeployCreated{codedeploy.back().id};
    }
    if (auto* list = std::get_if<ListCodeDeployTargets>(&action)) {
      CodeDeployTargetsListed out;
      for (auto& cd : codedeploy) {
        if (cd.id != list->deployment_id) continue;
        if (cd_status(cd) == "Created") {
          return CallFailed{{ErrorKind::invalid_input, "The deployment has not started.",
                             "DeploymentNotStartedException"}};
        }
        out.target_ids = cd.targets;
      }
      return out;
    }
    if (auto* get = std::get_if<GetCodeDeployTargets>(&action)) {
      EXPECT_LE(get->target_ids.size(), 25u);
      CodeDeployTargetsRead out;
      for (auto& cd : codedeploy) {
        if (cd.id != get->deployment_id) continue;
        for (const auto& id : get->target_ids) {
          if (target_reclaimed(cd, id) && reclaimed_target_fails) {
            // The agent stopped answering: CodeDeploy fails the instance at its next event.
            std::vector<LifecycleEvent> events = events_of(cd);
            for (auto& e : events) {
              if (e.status != "Succeeded") {
                e.status = now >= ends(cd) ? "Failed" : "InProgress";
                if (e.status == "Failed") e.error_code = "AgentNotReachable";
                break;
              }
            }
            out.targets.push_back(
                {id, cd_status(cd) == "InProgress" ? "InProgress" : "Failed", events});
            continue;
          }
          // An instance that did its part ends Succeeded when only a reclaimed one failed.
          std::string status = cd_status(cd);
          if (status == "Failed" && codedeploy_fails_at.empty()) status = "Succeeded";
          out.targets.push_back({id, status, events_of(cd)});
        }
      }
      return out;
    }
    if (auto* stop = std::get_if<StopCodeDeployDeployment>(&action)) {
      for (auto& cd : codedeploy) {
        if (cd.id != stop->deployment_id) continue;
        if (!active(cd)) {
          return CallFailed{{ErrorKind::invalid_input,
                             fmt::format("The deployment {} has already completed", cd.id),
                             "DeploymentAlreadyCompletedException"}};
        }
        cd.stopped = true;
      }
      return Done{};
    }
    ADD_FAILURE() << "unexpected action " << action_name(action);
    return Woke{};
  }
};

struct Invocation {
  Action report;
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

// Runs one invocation against the world until it reports. The invocation ends (and hands
// over a token) when the world's clock reaches `invocation_end`.
inline Invocation invoke(World& world, const FlowConfig& config,
                         std::optional<std::string> token = std::nullopt,
                         TimePoint invocation_end = TimePoint::max()) {
  FlowState state;
  Invocation out;
  Decision d = step(config, state, Event{world.now, Started{token}});
  for (int guard = 0; guard < 100'000; ++guard) {
    for (auto& event : d.events) out.events.push_back(event);
    if (is_report(d.next)) {
      out.report = d.next;
      return out;
    }
    EventBody body;
    if (auto* wait = std::get_if<Wait>(&d.next)) {
      EXPECT_GE(wait->until, world.now);
      if (wait->until >= invocation_end) {
        body = InvocationEnding{};
      } else {
        world.now = wait->until;
        body = Woke{};
      }
    } else if (world.now >= invocation_end) {
      body = InvocationEnding{};
    } else {
      world.now += std::chrono::milliseconds(50);  // each request takes a little time
      body = world.answer(d.next);
    }
    d = step(config, state, Event{world.now, body});
  }
  ADD_FAILURE() << "the flow did not report";
  return out;
}

}  // namespace bluegreen::elastigroup::flow_testing
