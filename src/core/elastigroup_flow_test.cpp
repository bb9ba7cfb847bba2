#include "core/elastigroup_flow.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

namespace bluegreen::elastigroup {
namespace {

using ::testing::HasSubstr;

constexpr long long kSecond = 1000;
constexpr long long kMinute = 60 * kSecond;

// A pure simulation of Spot, EC2 and CodeDeploy that answers the flow's requests and moves
// with simulated time. Times are offsets from the moment each thing was created.
struct World {
  long long now = 1'800'000'000'000;
  int capacity = 2;
  std::vector<std::string> group = {"i-blue1", "i-blue2"};

  long long green_running_after = 30 * kSecond;
  long long green_ok_after = 90 * kSecond;  // -1: never
  long long codedeploy_takes = 4 * kMinute;
  std::string codedeploy_fails_at;  // lifecycle event that fails, empty: success
  long long detach_after = 30 * kSecond;
  bool stop_terminates_greens = true;

  struct Spot {
    SpotDeployment d;
    long long created = 0;
  };
  std::vector<Spot> spot;
  struct Green {
    std::string id;
    std::string tag;
    long long launched = 0;
    bool terminated = false;
  };
  std::vector<Green> greens;
  struct Cd {
    std::string id;
    std::string tag;
    long long created = 0;
    bool stopped = false;
  };
  std::vector<Cd> codedeploy;

  // Injected failures: return an error to answer a request with it.
  std::function<std::optional<CallError>(const Action&)> fault;
  std::vector<std::pair<long long, std::string>> requests;
  int spot_creates = 0, codedeploy_creates = 0;

  static constexpr std::array<const char*, 6> kEvents = {"ApplicationStop",  "DownloadBundle",
                                                         "BeforeInstall",    "AfterInstall",
                                                         "ApplicationStart", "ValidateService"};

  std::string cd_status(const Cd& cd) const {
    if (cd.stopped) return "Stopped";
    if (now < cd.created + codedeploy_takes) return "InProgress";
    return codedeploy_fails_at.empty() ? "Succeeded" : "Failed";
  }

  std::vector<LifecycleEvent> events_of(const Cd& cd) const {
    long long step = codedeploy_takes / static_cast<long long>(kEvents.size());
    std::vector<LifecycleEvent> out;
    bool failed = false;
    for (std::size_t i = 0; i < kEvents.size(); ++i) {
      LifecycleEvent e{kEvents[i], "Pending"};
      long long done_at = cd.created + step * static_cast<long long>(i + 1);
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
    // Spot detaches blue once CodeDeploy succeeded on our greens.
    for (auto& s : spot) {
      if (classify(s.d) != SpotProgress::running) continue;
      for (auto& cd : codedeploy) {
        if (cd.tag == s.d.green_identifier && cd_status(cd) == "Succeeded" &&
            now >= cd.created + codedeploy_takes + detach_after) {
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
        out.instances.push_back({g.id, state});
      }
      return out;
    }
    if (auto* health = std::get_if<DescribeInstanceHealth>(&action)) {
      EXPECT_FALSE(health->instance_ids.empty());
      InstanceHealthDescribed out;
      for (auto& g : greens) {
        if (std::ranges::find(health->instance_ids, g.id) == health->instance_ids.end()) continue;
        bool ok = green_ok_after >= 0 && now >= g.launched + green_ok_after;
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
        int live = static_cast<int>(live_greens(cd.tag).size());
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
        return CodeDeployDeploymentRead{d};
      }
      return CallFailed{{ErrorKind::not_found, "DeploymentDoesNotExistException", "no such"}};
    }
    if (auto* create = std::get_if<CreateCodeDeployDeployment>(&action)) {
      ++codedeploy_creates;
      for (auto& cd : codedeploy) {
        if (cd_status(cd) == "InProgress") {
          return CallFailed{{ErrorKind::conflict, "DeploymentLimitExceededException",
                             fmt::format("The Deployment Group already has an active Deployment "
                                         "'{}'",
                                         cd.id)}};
        }
      }
      codedeploy.push_back(
          {fmt::format("d-{}", codedeploy.size() + 1), create->green_identifier, now});
      return CodeDeployCreated{codedeploy.back().id};
    }
    if (auto* list = std::get_if<ListCodeDeployTargets>(&action)) {
      CodeDeployTargetsListed out;
      for (auto& cd : codedeploy) {
        if (cd.id != list->deployment_id) continue;
        for (auto* g : live_greens(cd.tag)) out.target_ids.push_back(g->id);
      }
      return out;
    }
    if (auto* get = std::get_if<GetCodeDeployTargets>(&action)) {
      EXPECT_LE(get->target_ids.size(), 25u);
      CodeDeployTargetsRead out;
      for (auto& cd : codedeploy) {
        if (cd.id != get->deployment_id) continue;
        for (const auto& id : get->target_ids) {
          out.targets.push_back({id, cd_status(cd), events_of(cd)});
        }
      }
      return out;
    }
    if (auto* stop = std::get_if<StopCodeDeployDeployment>(&action)) {
      for (auto& cd : codedeploy) {
        if (cd.id == stop->deployment_id) cd.stopped = true;
      }
      return Done{};
    }
    ADD_FAILURE() << "unexpected action " << action_name(action);
    return Woke{};
  }
};

struct Invocation {
  Action report;
  std::vector<LogEntry> logs;
};

FlowConfig config_for(std::string job_id = "11111111-2222-3333-4444-555555555555") {
  FlowConfig c;
  c.green_identifier = green_identifier_for_job(job_id);
  c.job_id = std::move(job_id);
  c.group_id = "sig-1234abcd";
  c.app_name = "app";
  c.deployment_group = "dg";
  c.timeout_seconds = 1800;
  c.revision = "s3://bucket/app.zip (zip)";
  return c;
}

// Runs one invocation against the world until it reports. The invocation ends (and hands
// over a token) when the world's clock reaches `invocation_end`.
Invocation invoke(World& world, const FlowConfig& config,
                  std::optional<std::string> token = std::nullopt,
                  long long invocation_end = std::numeric_limits<long long>::max()) {
  FlowState state;
  Invocation out;
  Decision d = step(config, state, Event{world.now, Started{token}});
  for (int guard = 0; guard < 100'000; ++guard) {
    for (auto& entry : d.logs) out.logs.push_back(entry);
    if (is_report(d.next)) {
      out.report = d.next;
      return out;
    }
    EventBody body;
    if (auto* wait = std::get_if<Wait>(&d.next)) {
      EXPECT_GE(wait->until_ms, world.now);
      if (wait->until_ms >= invocation_end) {
        body = InvocationEnding{};
      } else {
        world.now = wait->until_ms;
        body = Woke{};
      }
    } else if (world.now >= invocation_end) {
      body = InvocationEnding{};
    } else {
      world.now += 50;  // each request takes a little time
      body = world.answer(d.next);
    }
    d = step(config, state, Event{world.now, body});
  }
  ADD_FAILURE() << "the flow did not report";
  return out;
}

bool logged(const Invocation& run, std::string_view event) {
  return std::ranges::any_of(run.logs, [&](const LogEntry& e) { return e.event == event; });
}

TEST(ElastigroupFlow, SuccessfulDeploymentReportsOutputVariables) {
  World world;
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  auto* success = std::get_if<ReportSuccess>(&run.report);
  ASSERT_NE(success, nullptr) << action_name(run.report);
  EXPECT_EQ(success->output_variables.at("GreenIdentifier"), config.green_identifier);
  EXPECT_EQ(success->output_variables.at("DeploymentId"), "d-1");
  EXPECT_EQ(success->output_variables.at("SpotDeploymentId"), "cdbg-1");
  EXPECT_EQ(success->details.external_execution_id, "d-1");
  EXPECT_EQ(success->details.percent_complete, 100);
  EXPECT_THAT(success->details.summary, HasSubstr("detached the blue instances"));
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
  EXPECT_EQ(world.group, (std::vector<std::string>{}));  // only greens remain
  EXPECT_TRUE(logged(run, "greens_ready"));
  EXPECT_TRUE(logged(run, "blue_detached"));
}

TEST(ElastigroupFlow, CodeDeployIsCreatedOnlyAfterGreensPassStatusChecks) {
  World world;
  world.green_ok_after = 5 * kMinute;
  FlowConfig config = config_for();
  invoke(world, config);
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_GE(world.codedeploy[0].created, world.greens[0].launched + 5 * kMinute);
  EXPECT_EQ(world.codedeploy[0].tag, config.green_identifier);
}

TEST(ElastigroupFlow, LogsEachLifecycleEventOncePerInstance) {
  World world;
  Invocation run = invoke(world, config_for());
  int validate = 0;
  for (const auto& e : run.logs) {
    if (e.event == "lifecycle_event" && e.fields.at("lifecycle_event") == "ValidateService" &&
        e.fields.at("status") == "Succeeded" && e.fields.at("instance") == "i-green10") {
      ++validate;
    }
  }
  EXPECT_EQ(validate, 1);
}

TEST(ElastigroupFlow, CodeDeployFailureNamesTheLifecycleEventAndStopsSpot) {
  World world;
  world.codedeploy_fails_at = "ValidateService";
  Invocation run = invoke(world, config_for());

  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr) << action_name(run.report);
  EXPECT_EQ(failure->type, FailureType::job_failed);
  EXPECT_THAT(failure->message, HasSubstr("ValidateService failed on i-green1"));
  EXPECT_THAT(failure->message, HasSubstr("scripts/validate.sh"));
  EXPECT_THAT(failure->message, HasSubstr("connection refused"));
  EXPECT_EQ(failure->external_execution_id, "d-1");
  EXPECT_EQ(world.spot[0].d.state, "STOPPED");
  EXPECT_TRUE(world.live_greens(world.spot[0].d.green_identifier).empty());
  EXPECT_EQ(world.group, (std::vector<std::string>{"i-blue1", "i-blue2"}));
}

TEST(ElastigroupFlow, GreensNeverReadyFailAtTimeoutWithNothingLeftRunning) {
  World world;
  world.green_ok_after = -1;
  FlowConfig config = config_for();
  config.timeout_seconds = 600;
  long long start = world.now;
  Invocation run = invoke(world, config);

  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::job_failed);
  EXPECT_THAT(failure->message, HasSubstr("TIMEOUT (600 s) passed while waiting for the green"));
  EXPECT_THAT(failure->message, HasSubstr("2 of 2 running, 0 passing"));
  EXPECT_THAT(failure->message, HasSubstr("no green instance is left running"));
  // It gave up at TIMEOUT, not long after.
  auto timed_out = std::ranges::find_if(run.logs, [](auto& e) { return e.event == "failed"; });
  ASSERT_NE(timed_out, run.logs.end());
  EXPECT_EQ(world.codedeploy_creates, 0);
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
  EXPECT_LE(world.now - start, 600 * kSecond + 2 * kMinute);
}

TEST(ElastigroupFlow, GreensThatSpotDoesNotRemoveAreDetached) {
  World world;
  world.green_ok_after = -1;
  world.stop_terminates_greens = false;
  FlowConfig config = config_for();
  config.timeout_seconds = 300;
  Invocation run = invoke(world, config);
  ASSERT_TRUE(std::holds_alternative<ReportFailure>(run.report));
  EXPECT_TRUE(logged(run, "greens_detached"));
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
}

TEST(ElastigroupFlow, WaitingMakesAtMostSixRequestsAMinute) {
  World world;
  world.green_ok_after = 8 * kMinute;
  world.codedeploy_takes = 20 * kMinute;
  invoke(world, config_for());
  ASSERT_GT(world.requests.size(), 10u);
  // Over any sliding minute, no more than 6 requests.
  for (std::size_t i = 0; i < world.requests.size(); ++i) {
    int in_minute = 0;
    for (std::size_t j = i; j < world.requests.size(); ++j) {
      if (world.requests[j].first < world.requests[i].first + kMinute) ++in_minute;
    }
    EXPECT_LE(in_minute, 6) << "at request " << i << " " << world.requests[i].second;
  }
  // Backoff: late in the long wait, polls are further apart than at its start.
  EXPECT_LT(world.requests.size(), 150u);
}

TEST(ElastigroupFlow, ContinuesAcrossInvocationsWithATokenThenSucceeds) {
  World world;
  world.green_ok_after = 6 * kMinute;
  world.codedeploy_takes = 12 * kMinute;
  FlowConfig first = config_for();
  std::optional<std::string> token;
  int invocations = 0;
  Action report;
  while (invocations < 20) {
    ++invocations;
    // Each continuation is a new CodePipeline job id; the token carries the original.
    FlowConfig config =
        invocations == 1
            ? first
            : config_for(fmt::format("99999999-0000-0000-0000-00000000000{}", invocations % 10));
    Invocation run = invoke(world, config, token, world.now + 5 * kMinute);
    report = run.report;
    if (auto* progress = std::get_if<ReportProgress>(&report)) {
      EXPECT_LE(progress->continuation_token.size(), kMaxTokenLength);
      EXPECT_FALSE(progress->details.summary.empty());
      token = progress->continuation_token;
      world.now += 30 * kSecond;  // CodePipeline re-invokes about 30 s later
      continue;
    }
    break;
  }
  EXPECT_GE(invocations, 3);
  auto* success = std::get_if<ReportSuccess>(&report);
  ASSERT_NE(success, nullptr) << action_name(report);
  EXPECT_EQ(success->output_variables.at("GreenIdentifier"), first.green_identifier);
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
}

TEST(ElastigroupFlow, SecondDeliveryOfAJobJoinsTheFirstDeployment) {
  World world;
  FlowConfig config = config_for();
  // The first delivery dies (no report) right after starting CodeDeploy.
  invoke(world, config, std::nullopt, world.now + 3 * kMinute);
  ASSERT_EQ(world.spot_creates, 1);
  ASSERT_EQ(world.codedeploy_creates, 1);
  // Delivered again, from scratch.
  Invocation again = invoke(world, config);
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(again.report)) << action_name(again.report);
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
  EXPECT_TRUE(logged(again, "spot_deployment_adopted"));
  EXPECT_TRUE(logged(again, "codedeploy_deployment_adopted"));
}

TEST(ElastigroupFlow, DeliveryAfterTheJobFinishedStartsNothing) {
  World world;
  FlowConfig config = config_for();
  ASSERT_TRUE(std::holds_alternative<ReportSuccess>(invoke(world, config).report));
  // Another job deployed meanwhile, so CodeDeploy's last deployment is not ours.
  world.codedeploy.push_back({"d-other", "someone-else", world.now - 10 * kMinute});
  Invocation again = invoke(world, config);
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(again.report));
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
}

TEST(ElastigroupFlow, ConcurrentCreateLosesToTheActiveDeploymentAndAdoptsIt) {
  World world;
  FlowConfig config = config_for();
  // Another delivery of this job creates CodeDeploy between our check and our create.
  bool raced = false;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<CreateCodeDeployDeployment>(a) && !raced) {
      raced = true;
      world.codedeploy.push_back({"d-twin", config.green_identifier, world.now});
      return CallError{ErrorKind::conflict, "DeploymentLimitExceededException", "active"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config);
  auto* success = std::get_if<ReportSuccess>(&run.report);
  ASSERT_NE(success, nullptr) << action_name(run.report);
  EXPECT_EQ(success->output_variables.at("DeploymentId"), "d-twin");
  EXPECT_EQ(world.codedeploy.size(), 1u);
}

TEST(ElastigroupFlow, ThrottlingIsRetriedAfterAWait) {
  World world;
  int throttled = 0;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<ReadGroup>(a) && throttled < 2) {
      ++throttled;
      return CallError{ErrorKind::throttled, "429", "Too Many Requests"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(run.report));
  ASSERT_GE(world.requests.size(), 3u);
  EXPECT_GE(world.requests[2].first - world.requests[1].first, 10 * kSecond);
  EXPECT_TRUE(logged(run, "retrying"));
}

TEST(ElastigroupFlow, AccessDeniedIsAPermissionError) {
  World world;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<DescribeGreens>(a)) {
      return CallError{ErrorKind::permission_denied, "UnauthorizedOperation",
                       "not authorized to perform: ec2:DescribeInstances"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::permission_error);
  EXPECT_THAT(failure->message, HasSubstr("ec2:DescribeInstances"));
  EXPECT_THAT(failure->message, HasSubstr("deploy/iam-policy.json"));
  EXPECT_EQ(world.spot[0].d.state, "STOPPED");
}

TEST(ElastigroupFlow, MissingRevisionIsRevisionUnavailable) {
  World world;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<CreateCodeDeployDeployment>(a)) {
      return CallError{ErrorKind::invalid_input, "RevisionDoesNotExistException",
                       "The named revision does not exist with the applicationName"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::revision_unavailable);
  EXPECT_THAT(failure->message, HasSubstr("S3_BUCKET"));
  EXPECT_EQ(world.spot[0].d.state, "STOPPED");
}

TEST(ElastigroupFlow, UnknownGroupIsAConfigurationErrorNamingGroupId) {
  World world;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<ReadGroup>(a)) {
      return CallError{ErrorKind::not_found, "GROUP_DOESNT_EXIST", "Group does not exist"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::configuration_error);
  EXPECT_THAT(failure->message, HasSubstr("GROUP_ID"));
  EXPECT_EQ(world.spot_creates, 0);
}

TEST(ElastigroupFlow, SpotFailingTheDeploymentStopsCodeDeploy) {
  World world;
  world.codedeploy_takes = 30 * kMinute;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<GetCodeDeployTargets>(a) && !world.spot.empty()) {
      world.spot[0].d.state = "FAILED";
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->message, HasSubstr("cdbg-1 ended in state FAILED"));
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_TRUE(world.codedeploy[0].stopped);
}

TEST(ElastigroupFlow, CleanupRetriesAThrottledStop) {
  World world;
  world.codedeploy_fails_at = "ValidateService";
  int throttled = 0;
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<StopSpotDeployment>(a) && throttled++ == 0) {
      return CallError{ErrorKind::throttled, "429", "Too Many Requests"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(world.spot[0].d.state, "STOPPED");
  EXPECT_THAT(failure->message, ::testing::Not(HasSubstr("Cleanup was incomplete")));
}

TEST(ElastigroupFlow, TimeoutWhileFollowingStopsCodeDeployAndSaysWhereItWas) {
  World world;
  world.codedeploy_takes = 60 * kMinute;
  FlowConfig config = config_for();
  config.timeout_seconds = 900;
  Invocation run = invoke(world, config);
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->message, HasSubstr("TIMEOUT (900 s) passed while CodeDeploy deployment d-1 "
                                          "was InProgress"));
  EXPECT_THAT(failure->message, HasSubstr("i-green10 at"));
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_TRUE(world.codedeploy[0].stopped);
  EXPECT_EQ(world.spot[0].d.state, "STOPPED");
}

TEST(ElastigroupFlow, ReferenceTokenIsResolvedFirstInEveryInvocation) {
  World world;
  FlowConfig config = config_for();
  config.token_reference = "ssm:/spot/token";
  Invocation run = invoke(world, config, std::nullopt, world.now + 2 * kMinute);
  ASSERT_TRUE(std::holds_alternative<ReportProgress>(run.report));
  EXPECT_EQ(world.requests.front().second, "ResolveApiToken");
  world.requests.clear();
  invoke(world, config, std::get<ReportProgress>(run.report).continuation_token);
  EXPECT_EQ(world.requests.front().second, "ResolveApiToken");
}

TEST(ElastigroupFlow, UnresolvableReferenceIsAConfigurationErrorBeforeSpot) {
  World world;
  FlowConfig config = config_for();
  config.token_reference = "ssm:/spot/token";
  world.fault = [&](const Action& a) -> std::optional<CallError> {
    if (std::holds_alternative<ResolveApiToken>(a)) {
      return CallError{ErrorKind::not_found, "ParameterNotFound", "parameter not found"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config);
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::configuration_error);
  EXPECT_THAT(failure->message, HasSubstr("API_TOKEN reference ssm:/spot/token"));
  EXPECT_EQ(world.requests.size(), 1u);
}

TEST(ElastigroupFlow, UnreadableTokenFailsTheJob) {
  World world;
  Invocation run = invoke(world, config_for(), std::string("{not json"));
  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->message, HasSubstr("continuation token could not be read"));
  EXPECT_TRUE(world.requests.empty());
}

}  // namespace
}  // namespace bluegreen::elastigroup
