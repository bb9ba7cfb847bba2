#include "adapters/elastigroup/request_plan.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "adapters/elastigroup/request_plan_test_world.h"

namespace bluegreen::elastigroup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace bluegreen::elastigroup::flow_testing;

bool logged(const Invocation& run, std::string_view event) {
  return std::ranges::any_of(run.events, [&](const DeploymentEvent& e) { return e.name == event; });
}

TEST(ElastigroupFlow, SuccessfulDeploymentReportsOutputVariables) {
  World world;
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  auto* success = std::get_if<ReportSuccess>(&run.report);
  ASSERT_NE(success, nullptr) << report_name(run.report);
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
  for (const auto& e : run.events) {
    if (e.name == "lifecycle_event" && e.fields.at("lifecycle_event") == "ValidateService" &&
        e.fields.at("status") == "Succeeded" && e.instance_id == "i-green10") {
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
  ASSERT_NE(failure, nullptr) << report_name(run.report);
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
  world.green_ok_after = kNever;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(600);
  TimePoint start = world.now;
  Invocation run = invoke(world, config);

  auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, FailureType::job_failed);
  EXPECT_THAT(failure->message, HasSubstr("TIMEOUT (600 s) passed while waiting for the green"));
  EXPECT_THAT(failure->message, HasSubstr("2 of 2 running, 0 passing"));
  EXPECT_THAT(failure->message, HasSubstr("no green instance is left running"));
  // It gave up at TIMEOUT, not long after.
  auto timed_out = std::ranges::find_if(run.events, [](auto& e) { return e.name == "failed"; });
  ASSERT_NE(timed_out, run.events.end());
  EXPECT_EQ(world.codedeploy_creates, 0);
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
  EXPECT_LE(world.now - start, 600 * kSecond + 2 * kMinute);
}

TEST(ElastigroupFlow, GreensThatSpotDoesNotRemoveAreDetached) {
  World world;
  world.green_ok_after = kNever;
  world.stop_terminates_greens = false;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(300);
  Invocation run = invoke(world, config);
  ASSERT_TRUE(std::holds_alternative<ReportFailure>(run.report));
  EXPECT_TRUE(logged(run, "greens_detached"));
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
}

// Requests in [from, to).
int requests_between(const World& world, TimePoint from, TimePoint to) {
  return static_cast<int>(std::ranges::count_if(
      world.requests, [&](const auto& r) { return r.first >= from && r.first < to; }));
}

TEST(ElastigroupFlow, ALongWaitAveragesAtMostSixRequestsAMinute) {
  // Whether nothing moves for long stretches or CodeDeploy's counts change at every read.
  for (bool churn : {false, true}) {
    World world;
    world.churn = churn;
    world.green_ok_after = 8 * kMinute;
    world.codedeploy_takes = 50 * kMinute;
    FlowConfig config = config_for();
    config.timeout = std::chrono::seconds(7200);
    TimePoint start = world.now;
    Invocation run = invoke(world, config);
    ASSERT_TRUE(std::holds_alternative<ReportSuccess>(run.report)) << report_name(run.report);
    long long minutes = (world.now - start) / kMinute;
    ASSERT_GE(minutes, 58);
    EXPECT_LE(static_cast<int>(world.requests.size()), 6 * minutes) << "churn " << churn;
    // And in every half hour of it.
    for (TimePoint from = start; from + 30 * kMinute <= world.now; from += 5 * kMinute) {
      EXPECT_LE(requests_between(world, from, from + 30 * kMinute), 6 * 30) << "churn " << churn;
    }
  }
}

TEST(ElastigroupFlow, StepsGoOutAtOnceAndPollsStartShort) {
  World world;
  world.green_running_after = 2 * kSecond;
  world.green_ok_after = 2 * kSecond;
  world.codedeploy_takes = 6 * kSecond;
  world.detach_after = Duration::zero();
  TimePoint start = world.now;
  Invocation run = invoke(world, config_for());
  ASSERT_TRUE(std::holds_alternative<ReportSuccess>(run.report)) << report_name(run.report);
  auto at = [&](std::string_view name) {
    auto it = std::ranges::find_if(world.requests, [&](auto& r) { return r.second == name; });
    EXPECT_NE(it, world.requests.end()) << name;
    return it == world.requests.end() ? Duration::zero()
                                      : std::chrono::duration_cast<Duration>(it->first - start);
  };
  // Read group -> list -> create the Spot deployment: one after the other, no pause.
  EXPECT_LT(at("CreateSpotDeployment"), 1 * kSecond);
  // The first re-poll of the greens comes about 2 s later, not 10 or 15.
  EXPECT_LE(world.requests[4].first - world.requests[3].first, 3 * kSecond);
  // Greens pass -> CodeDeploy at once.
  auto health = std::ranges::find_if(world.requests,
                                     [](auto& r) { return r.second == "DescribeInstanceHealth"; });
  ASSERT_NE(health, world.requests.end());
  EXPECT_LT(world.codedeploy[0].created - start, 10 * kSecond);
  EXPECT_LT(world.now - start, 30 * kSecond);
}

TEST(ElastigroupFlow, ContinuesAcrossInvocationsWithATokenThenSucceeds) {
  World world;
  world.green_ok_after = 6 * kMinute;
  world.codedeploy_takes = 12 * kMinute;
  FlowConfig first = config_for();
  std::optional<std::string> token;
  int invocations = 0;
  Report report;
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
  ASSERT_NE(success, nullptr) << report_name(report);
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
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(again.report)) << report_name(again.report);
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
  EXPECT_TRUE(logged(again, "spot_deployment_adopted"));
  EXPECT_TRUE(logged(again, "codedeploy_deployment_adopted"));
}

// The state a server journals before every request, as saved just before the first
// `Create`; that request then goes out and is answered, and the process dies before the next
// save.
template <typename Create>
std::string saved_before_a_create_that_went_out(World& world, const FlowConfig& config) {
  std::string saved, at_create;
  bool sent = false;
  world.fault = [&](const Request& request) -> std::optional<Error> {
    if (std::holds_alternative<Create>(request) && !sent) {
      sent = true;
      at_create = saved;
    }
    return std::nullopt;
  };
  invoke(world, config, std::nullopt, TimePoint::max(), [&](const FlowState& state) {
    if (sent) return false;  // the process died
    saved = to_token(state);
    return true;
  });
  world.fault = nullptr;
  EXPECT_TRUE(sent) << "the flow never made the request";
  return at_create;
}

TEST(ElastigroupFlow, AStateSavedBeforeACreateLooksForItOnResume) {
  struct Case {
    std::string (*saved)(World&, const FlowConfig&);
    Duration restart;     // how long the server is down
    const char* adopted;  // what the resumed flow logs
  };
  // Spot's create: its deployment still runs at the restart (the world accepts a second).
  // CodeDeploy's: the restart takes longer than CodeDeploy, which then accepts a second one.
  for (const Case& c :
       {Case{&saved_before_a_create_that_went_out<CreateSpotDeployment>, 2 * kMinute,
             "spot_deployment_adopted"},
        Case{&saved_before_a_create_that_went_out<CreateCodeDeployDeployment>,
             World{}.codedeploy_takes + kMinute, "codedeploy_deployment_adopted"}}) {
    World world;
    FlowConfig config = config_for();
    auto saved = c.saved(world, config);
    world.now += c.restart;
    Invocation resumed = invoke(world, config, saved);
    EXPECT_TRUE(std::holds_alternative<ReportSuccess>(resumed.report))
        << c.adopted << ": " << report_name(resumed.report);
    EXPECT_EQ(world.spot_creates, 1) << c.adopted;
    EXPECT_EQ(world.codedeploy_creates, 1) << c.adopted;
    EXPECT_TRUE(logged(resumed, c.adopted));
  }
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<CreateCodeDeployDeployment>(a) && !raced) {
      raced = true;
      world.codedeploy.push_back({"d-twin", config.green_identifier, world.now});
      return Error{ErrorKind::conflict, "active", "DeploymentLimitExceededException"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config);
  auto* success = std::get_if<ReportSuccess>(&run.report);
  ASSERT_NE(success, nullptr) << report_name(run.report);
  EXPECT_EQ(success->output_variables.at("DeploymentId"), "d-twin");
  EXPECT_EQ(world.codedeploy.size(), 1u);
}

TEST(ElastigroupFlow, ThrottlingIsRetriedAfterAWait) {
  World world;
  int throttled = 0;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<ReadGroup>(a) && throttled < 2) {
      ++throttled;
      return Error{ErrorKind::throttled, "Too Many Requests", "429"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(run.report));
  ASSERT_GE(world.requests.size(), 3u);
  // Waits of about 2 s, then 4 s.
  EXPECT_GE(world.requests[1].first - world.requests[0].first, 2 * kSecond);
  EXPECT_GE(world.requests[2].first - world.requests[1].first, 4 * kSecond);
  EXPECT_TRUE(logged(run, "retrying"));
}

TEST(ElastigroupFlow, AccessDeniedIsAPermissionError) {
  World world;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<DescribeGreens>(a)) {
      return Error{ErrorKind::permission_denied, "not authorized to perform: ec2:DescribeInstances",
                   "UnauthorizedOperation"};
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<CreateCodeDeployDeployment>(a)) {
      return Error{ErrorKind::invalid_input,
                   "The named revision does not exist with the applicationName",
                   "RevisionDoesNotExistException"};
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<ReadGroup>(a)) {
      return Error{ErrorKind::not_found, "Group does not exist", "GROUP_DOESNT_EXIST"};
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<StopSpotDeployment>(a) && throttled++ == 0) {
      return Error{ErrorKind::throttled, "Too Many Requests", "429"};
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
  config.timeout = std::chrono::seconds(900);
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
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<ResolveApiToken>(a)) {
      return Error{ErrorKind::not_found, "parameter not found", "ParameterNotFound"};
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

TEST(ElastigroupFlow, ATargetBatchThatKeepsFailingCostsOnlyItsLifecycleLines) {
  // The targets only feed the per-instance lines of the log: a batch that cannot be read is
  // given up after one pause, in every round, and the deployment goes on.
  World world;
  world.fault = [](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<GetCodeDeployTargets>(a)) {
      return Error{ErrorKind::unavailable, "503 Service Unavailable"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  ASSERT_TRUE(std::holds_alternative<ReportSuccess>(run.report)) << report_name(run.report);
  EXPECT_FALSE(logged(run, "lifecycle_event"));
  auto count = [&](std::string_view name) {
    return std::ranges::count_if(world.requests, [&](const auto& r) { return r.second == name; });
  };
  EXPECT_GT(count("GetCodeDeployTargets"), 0);
  EXPECT_EQ(count("GetCodeDeployTargets"), count("ListCodeDeployTargets"));
}

TEST(ElastigroupFlow, ASpotTokenThatAnAnswerQuotesBackReachesNoEventAndNoReport) {
  auto quoting = [](ErrorKind kind) {
    return Error{kind, "the request was: Authorization: Bearer spot-token", "spot-token"};
  };
  auto expect_hidden = [](const Invocation& run) {
    for (const auto& e : run.events) {
      EXPECT_THAT(e.message, Not(HasSubstr("spot-token"))) << e.name;
      for (const auto& [key, value] : e.fields) {
        EXPECT_THAT(value, Not(HasSubstr("spot-token"))) << e.name << " " << key;
      }
    }
    if (const auto* failure = std::get_if<ReportFailure>(&run.report)) {
      EXPECT_THAT(failure->message, Not(HasSubstr("spot-token")));
    }
  };
  // Every kind of request fails once, retryably (the target batch's failure is the plan's
  // own to deal with), then answers.
  World world;
  std::set<std::string> failed_once;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (!failed_once.insert(std::string(request_name(a))).second) return std::nullopt;
    return quoting(ErrorKind::unavailable);
  };
  Invocation run = invoke(world, config_for());
  ASSERT_TRUE(std::holds_alternative<ReportSuccess>(run.report)) << report_name(run.report);
  EXPECT_TRUE(failed_once.contains("GetCodeDeployTargets"));
  EXPECT_TRUE(logged(run, "retrying"));
  expect_hidden(run);
  // A refusal fails the deployment; cleanup's own requests are refused too.
  World refusing;
  refusing.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<DescribeGreens>(a) ||
        std::holds_alternative<StopSpotDeployment>(a)) {
      return quoting(ErrorKind::permission_denied);
    }
    return std::nullopt;
  };
  Invocation failed = invoke(refusing, config_for());
  ASSERT_TRUE(std::holds_alternative<ReportFailure>(failed.report)) << report_name(failed.report);
  EXPECT_THAT(std::get<ReportFailure>(failed.report).message, HasSubstr("***"));
  expect_hidden(failed);
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
