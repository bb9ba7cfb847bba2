// Spot interruptions during a PROVIDER=elastigroup deployment (request_plan.h, "Spot
// interruptions"): EC2 reclaims a green while the greens launch, while they install, and after
// CodeDeploy's success; Elastigroup's replacement comes tagged, untagged, or not at all.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/elastigroup/request_plan.h"
#include "adapters/elastigroup/request_plan_test_world.h"

namespace bluegreen::elastigroup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace bluegreen::elastigroup::flow_testing;

std::vector<const DeploymentEvent*> named(const Invocation& run, std::string_view name) {
  std::vector<const DeploymentEvent*> out;
  for (const auto& e : run.events) {
    if (e.name == name) out.push_back(&e);
  }
  return out;
}

int requests_of(const World& world, std::string_view action) {
  return static_cast<int>(std::ranges::count_if(
      world.requests, [&](const auto& request) { return request.second == action; }));
}

// Nothing that removes instances or stops a deployment went out.
void expect_nothing_removed(const World& world) {
  for (const char* action : {"DetachGreens", "StopSpotDeployment", "StopCodeDeployDeployment"}) {
    EXPECT_EQ(requests_of(world, action), 0) << action;
  }
}

const ReportSuccess& success_of(const Invocation& run) {
  const auto* success = std::get_if<ReportSuccess>(&run.report);
  if (success == nullptr) {
    const auto* failure = std::get_if<ReportFailure>(&run.report);
    ADD_FAILURE() << report_name(run.report) << ": " << (failure ? failure->message : "");
    static const ReportSuccess none;
    return none;
  }
  return *success;
}

TEST(SpotInterruption, AGreenReclaimedWhileLaunchingIsNamedAndItsReplacementJoinsTheInstall) {
  World world;
  world.interruptions.push_back({.at = world.now + 10 * kSecond, .green = 0});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  auto reclaimed = named(run, "green_reclaimed");
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0]->kind, EventKind::warning);
  EXPECT_EQ(reclaimed[0]->instance_id, "i-green10");
  EXPECT_THAT(reclaimed[0]->message, HasSubstr("green i-green10 was reclaimed by a spot "
                                               "interruption at 2027-01-15T"));
  EXPECT_THAT(reclaimed[0]->message, HasSubstr("waiting for Elastigroup's replacement"));
  // One install, on the survivor and the replacement: a full green fleet.
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_EQ(world.codedeploy[0].tag, config.green_identifier);
  EXPECT_EQ(world.codedeploy[0].targets, (std::vector<std::string>{"i-green11", "i-repl2"}));
  EXPECT_THAT(success.details.summary, HasSubstr("to 2 green instance(s)"));
  EXPECT_THAT(success.details.summary, HasSubstr("Spot interruptions: i-green10 was reclaimed"));
  EXPECT_EQ(success.output_variables.at("ReclaimedInstances"), "i-green10");
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AGreenEndedForAnotherReasonBeforeTheFlowSawItRunIsReplacedToo) {
  World world;
  // Gone a moment after its launch, before the flow first looks at the greens.
  world.interruptions.push_back({.at = world.now + 100 * std::chrono::milliseconds(1),
                                 .green = 1,
                                 .spot_tags_replacement = false,
                                 .reason = "Server.InternalError"});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  auto reclaimed = named(run, "green_reclaimed");
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_THAT(reclaimed[0]->message,
              HasSubstr("green i-green11 was terminated at 2027-01-15T08:00:00"));
  EXPECT_THAT(reclaimed[0]->message, HasSubstr("without this deployment asking (EC2 state "
                                               "terminated, Server.InternalError)"));
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_EQ(world.codedeploy[0].targets, (std::vector<std::string>{"i-green10", "i-repl2"}));
  EXPECT_THAT(success.details.summary, HasSubstr("to 2 green instance(s)"));
}

TEST(SpotInterruption, AReplacementSpotDidNotTagIsTaggedWithTheDeploymentsGreenIdentifier) {
  World world;
  world.interruptions.push_back(
      {.at = world.now + 40 * kSecond, .green = 1, .spot_tags_replacement = false});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  success_of(run);
  EXPECT_EQ(requests_of(world, "TagInstances"), 1);
  ASSERT_EQ(world.greens.size(), 3u);
  EXPECT_EQ(world.greens[2].tag, config.green_identifier);  // tagged by the flow
  ASSERT_FALSE(named(run, "replacement_tagged").empty());
  EXPECT_THAT(named(run, "replacement_tagged")[0]->message, HasSubstr("i-repl2"));
  ASSERT_EQ(world.codedeploy.size(), 1u);
  EXPECT_EQ(world.codedeploy[0].targets, (std::vector<std::string>{"i-green10", "i-repl2"}));
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AGreenReclaimedDuringAnInstallThatSucceededGetsTheRevisionOnItsReplacement) {
  World world;
  world.reclaimed_target_fails = false;  // CodeDeploy succeeds on the instances that remain
  // CodeDeploy starts once the greens pass (about 90 s) and takes 4 minutes.
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 0});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  EXPECT_EQ(world.codedeploy[0].tag_key, "GreenIdentifier");
  // The second install targets the replacement alone, by a tag of its own.
  EXPECT_EQ(world.codedeploy[1].tag_key, "GreenReplacement");
  EXPECT_EQ(world.codedeploy[1].tag, config.green_identifier + "-r1");
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-repl2"}));
  EXPECT_GT(world.codedeploy[1].created, world.interruptions[0].at);
  EXPECT_EQ(success.output_variables.at("DeploymentId"), "d-1");
  EXPECT_THAT(success.details.summary, HasSubstr("CodeDeploy deployment d-1 succeeded, the "
                                                 "replacements were installed by d-2"));
  EXPECT_THAT(success.details.summary, HasSubstr("the green fleet is whole"));
  EXPECT_FALSE(named(run, "replacing_greens").empty());
  expect_nothing_removed(world);
}

TEST(SpotInterruption, SpotDetachingBlueWhileAReplacementIsAwaitedIsNotABlueLostEarly) {
  World world;
  world.reclaimed_target_fails = false;
  // Reclaimed during the install; the replacement comes untagged long after CodeDeploy's
  // success, when Spot has detached blue (as it does once CodeDeploy succeeded).
  world.interruptions.push_back({.at = world.now + 3 * kMinute,
                                 .green = 0,
                                 .spot_tags_replacement = false,
                                 .replace_after = 5 * kMinute});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-repl2"}));
  EXPECT_THAT(success.details.summary, HasSubstr("the green fleet is whole"));
  EXPECT_THAT(named(run, "blue_left_early"), ::testing::IsEmpty());
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AnInstallThatFailedOnlyOnAReclaimedGreenIsMadeAgainOnEveryGreen) {
  World world;  // the reclaimed instance fails CodeDeploy's deployment
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 1});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  EXPECT_EQ(world.cd_status(world.codedeploy[0]), "Failed");
  EXPECT_EQ(world.codedeploy[1].tag_key, "GreenIdentifier");
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-green10", "i-repl2"}));
  EXPECT_EQ(world.cd_status(world.codedeploy[1]), "Succeeded");
  EXPECT_THAT(named(run, "replacing_greens").at(0)->message, HasSubstr("every green again"));
  // The deployment's install is the one that succeeded on every green.
  EXPECT_EQ(success.output_variables.at("DeploymentId"), "d-2");
  EXPECT_THAT(success.details.summary, HasSubstr("d-2 succeeded (after d-1 failed on reclaimed "
                                                 "instances)"));
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AGreenReclaimedBeforeCodeDeployStartedIsNoRevisionFailureEither) {
  World world;  // the green goes while CodeDeploy's deployment is still Created
  world.codedeploy_starts_after = 3 * kMinute;
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 1});
  Invocation run = invoke(world, config_for());

  const ReportSuccess& success = success_of(run);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  ASSERT_LT(world.codedeploy[0].created, world.interruptions[0].at);
  ASSERT_GT(world.started(world.codedeploy[0]), world.interruptions[0].at);
  EXPECT_EQ(world.cd_status(world.codedeploy[0]), "Failed");
  EXPECT_EQ(world.cd_status(world.codedeploy[1]), "Succeeded");
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-green10", "i-repl2"}));
  EXPECT_EQ(success.output_variables.at("DeploymentId"), "d-2");
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AnInstallThatFailedOnAGreenThatWasNotReclaimedIsTheRevisionsFailure) {
  World world;
  world.codedeploy_fails_at = "ValidateService";  // the revision fails on every green
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 1});
  Invocation run = invoke(world, config_for());

  const auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr) << report_name(run.report);
  EXPECT_THAT(failure->message, HasSubstr("ValidateService failed on i-green10"));
  EXPECT_EQ(world.codedeploy.size(), 1u);  // not installed again
  EXPECT_TRUE(world.live_greens(config_for().green_identifier).empty());
  EXPECT_EQ(world.group, (std::vector<std::string>{"i-blue1", "i-blue2"}));
}

TEST(SpotInterruption, NoReplacementByTimeoutFailsWithThatCauseAndCleansUp) {
  World world;
  world.interruptions.push_back({.at = world.now + 10 * kSecond, .green = 0, .replace = false});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr) << report_name(run.report);
  EXPECT_THAT(failure->message, HasSubstr("TIMEOUT (1800 s) passed while waiting for Elastigroup "
                                          "to replace reclaimed green instance(s): i-green10 was "
                                          "reclaimed by a spot interruption"));
  EXPECT_THAT(failure->message, HasSubstr("blue instances keep serving"));
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
  EXPECT_EQ(world.group, (std::vector<std::string>{"i-blue1", "i-blue2"}));
  EXPECT_TRUE(world.codedeploy.empty());
}

TEST(SpotInterruption, MoreInterruptionsThanTheFleetHasInstancesFailAndCleanUp) {
  World world;
  // Green 0 goes, then its replacement (green 2), then that one's replacement (green 3).
  world.interruptions.push_back({.at = world.now + 10 * kSecond, .green = 0});
  world.interruptions.push_back({.at = world.now + 50 * kSecond, .green = 2});
  world.interruptions.push_back({.at = world.now + 90 * kSecond, .green = 3});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr) << report_name(run.report);
  EXPECT_THAT(failure->message, HasSubstr("3 green instance(s) were taken by spot interruptions "
                                          "during this deployment, more than the fleet's 2"));
  EXPECT_LT(world.now, world.spot[0].created + config.timeout);  // did not wait for TIMEOUT
  EXPECT_TRUE(world.live_greens(config.green_identifier).empty());
  EXPECT_EQ(world.group, (std::vector<std::string>{"i-blue1", "i-blue2"}));
  EXPECT_TRUE(world.codedeploy.empty());
}

TEST(SpotInterruption, AGreenReclaimedAfterCodeDeploysSuccessIsReportedAndNothingIsRemoved) {
  World world;
  world.detach_after = 10 * kMinute;  // Spot takes its time to detach blue
  // After CodeDeploy's success (about 6 minutes in); the replacement comes untagged and must
  // not be taken for a blue instance that Spot has yet to detach.
  world.interruptions.push_back(
      {.at = world.now + 8 * kMinute, .green = 0, .spot_tags_replacement = false});
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);

  const ReportSuccess& success = success_of(run);
  auto reclaimed = named(run, "green_reclaimed");
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_THAT(reclaimed[0]->message, HasSubstr("nothing is removed"));
  EXPECT_THAT(success.details.summary, HasSubstr("reduced capacity: 1 of 2 green instance(s)"));
  EXPECT_EQ(success.output_variables.at("ReclaimedInstances"), "i-green10");
  EXPECT_EQ(world.codedeploy.size(), 1u);  // no install after the switch
  EXPECT_EQ(requests_of(world, "TagInstances"), 0);
  expect_nothing_removed(world);
  EXPECT_FALSE(world.greens[1].terminated);
}

TEST(SpotInterruption, ABlueReclaimedDuringTheDeploymentIsReportedNotActedOn) {
  World world;
  world.blue_interruptions.emplace_back(world.now + 2 * kMinute, "i-blue1");
  Invocation run = invoke(world, config_for());

  success_of(run);
  auto lost = named(run, "blue_left_early");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0]->instance_id, "i-blue1");
  EXPECT_THAT(lost[0]->message, HasSubstr("blue is not acted on"));
  EXPECT_EQ(requests_of(world, "TagInstances"), 0);
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AReplacementInstallResumesFromTheTokenWithoutInstallingTwice) {
  World world;
  world.reclaimed_target_fails = false;
  world.interruptions.push_back(
      {.at = world.now + 3 * kMinute, .green = 0, .spot_tags_replacement = false});
  FlowConfig config = config_for();
  // Invocations of 2 minutes each, as a Lambda that hands over with a continuation token.
  std::optional<std::string> token;
  Invocation run;
  int invocations = 0;
  while (invocations < 200) {
    ++invocations;
    run = invoke(world, config, token, world.now + 2 * kMinute);
    const auto* progress = std::get_if<ReportProgress>(&run.report);
    if (progress == nullptr) break;
    token = progress->continuation_token;
    world.now += 30 * kSecond;  // CodePipeline invokes again about 30 s later
  }
  EXPECT_GE(invocations, 4);
  success_of(run);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-repl2"}));
  EXPECT_EQ(requests_of(world, "CreateSpotDeployment"), 1);
  expect_nothing_removed(world);
}

TEST(SpotInterruption, AReplacementInstallCreatedAfterTheLastSaveIsAdoptedOnResume) {
  World world;
  world.reclaimed_target_fails = false;
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 0});
  FlowConfig config = config_for();
  // The state is saved before every request; the replacements' create goes out and is
  // answered, and the process dies before the next save.
  std::string saved, at_create;
  bool sent = false;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    const auto* create = std::get_if<CreateCodeDeployDeployment>(&a);
    if (create != nullptr && create->tag_key == kReplacementTag && !sent) {
      sent = true;
      at_create = saved;
    }
    return std::nullopt;
  };
  invoke(world, config, std::nullopt, TimePoint::max(), [&](const FlowState& state) {
    if (sent) return false;
    saved = to_token(state);
    return true;
  });
  ASSERT_TRUE(sent);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  world.fault = nullptr;
  world.now += kMinute;
  Invocation resumed = invoke(world, config, at_create);
  success_of(resumed);
  EXPECT_EQ(world.codedeploy.size(), 2u);  // adopted, not made twice
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-repl2"}));
  EXPECT_FALSE(named(resumed, "codedeploy_deployment_adopted").empty());
  expect_nothing_removed(world);
}

TEST(SpotInterruption, ATagThatFailsForAWhileIsMadeAgainAndTheReplacementGetsTheRevision) {
  World world;
  world.reclaimed_target_fails = false;
  world.interruptions.push_back(
      {.at = world.now + 3 * kMinute, .green = 0, .spot_tags_replacement = false});
  int refused = 0;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<TagInstances>(a) && refused < 4) {
      ++refused;
      return Error{ErrorKind::throttled, "Request limit exceeded", "RequestLimitExceeded"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config_for());
  success_of(run);
  EXPECT_EQ(refused, 4);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  EXPECT_EQ(world.codedeploy[1].targets, (std::vector<std::string>{"i-repl2"}));
  EXPECT_EQ(named(run, "replacement_tagged").size(), 1u);
  expect_nothing_removed(world);
}

TEST(SpotInterruption, ADeliveryThatJoinsAReplacementInstallKnowsTheGreensServe) {
  World world;
  world.reclaimed_target_fails = false;
  world.detach_after = 30 * kMinute;
  world.interruptions.push_back({.at = world.now + 3 * kMinute, .green = 0});
  FlowConfig config = config_for();
  // The first delivery dies while the replacement's install (GreenReplacement) runs.
  invoke(world, config, std::nullopt, world.now + 8 * kMinute);
  ASSERT_EQ(world.codedeploy.size(), 2u);
  ASSERT_EQ(world.codedeploy[1].tag_key, "GreenReplacement");
  // The same job again, from scratch; every read of a later install is refused.
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (const auto* get = std::get_if<GetCodeDeployDeployment>(&a);
        get && get->deployment_id > "d-2") {
      return Error{ErrorKind::permission_denied, "denied", "AccessDeniedException"};
    }
    return std::nullopt;
  };
  invoke(world, config);
  EXPECT_EQ(world.codedeploy.size(), 2u);  // no install on the serving greens again
  expect_nothing_removed(world);
  EXPECT_EQ(world.live_greens(config.green_identifier).size(), 2u);
}

TEST(SpotInterruption, ARepeatedDeliveryAfterARecoveredInterruptionInstallsNothingMore) {
  World world;
  world.interruptions.push_back({.at = world.now + 10 * kSecond, .green = 0});
  FlowConfig config = config_for();
  success_of(invoke(world, config));
  success_of(invoke(world, config));  // the job delivered again
  EXPECT_EQ(world.codedeploy.size(), 1u);
  EXPECT_EQ(requests_of(world, "TagInstances"), 0);
  expect_nothing_removed(world);
}

TEST(SpotInterruption, EveryInstalledGreenReclaimedAfterTheSwitchIsNotASuccess) {
  World world;
  world.detach_after = 10 * kMinute;
  world.interruptions.push_back({.at = world.now + 8 * kMinute, .green = 0});
  world.interruptions.push_back({.at = world.now + 8 * kMinute, .green = 1});
  Invocation run = invoke(world, config_for());

  const auto* failure = std::get_if<ReportFailure>(&run.report);
  ASSERT_NE(failure, nullptr) << report_name(run.report);
  EXPECT_THAT(failure->message, HasSubstr("every green instance that got"));
  EXPECT_THAT(failure->message, HasSubstr("i-repl2"));  // in the group without the revision
  expect_nothing_removed(world);
  EXPECT_EQ(world.codedeploy.size(), 1u);
}

TEST(SpotInterruption, AnUntaggedNewcomerIsNotTaggedWhenItMayReplaceABlue) {
  World world;
  world.interruptions.push_back({.at = world.now + 10 * kSecond,
                                 .green = 0,
                                 .spot_tags_replacement = false,
                                 .replace_after = 5 * kMinute});
  world.blue_interruptions.emplace_back(world.now + 20 * kSecond, "i-blue1");
  TimePoint t0 = world.now;
  bool added = false;
  std::vector<std::string> tagged;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (!added && world.now >= t0 + 40 * kSecond) {
      world.group.push_back("i-blue9");  // Elastigroup's replacement of the blue
      added = true;
    }
    if (const auto* tag = std::get_if<TagInstances>(&a)) {
      tagged.insert(tagged.end(), tag->instance_ids.begin(), tag->instance_ids.end());
    }
    return std::nullopt;
  };
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(600);
  Invocation run = invoke(world, config);
  EXPECT_THAT(tagged, Not(::testing::Contains("i-blue9")));
  EXPECT_FALSE(named(run, "replacement_unclear").empty());
}

TEST(SpotInterruption, BlueIsNotDetachedWhileANewcomerStaysAndSpotHasNotFinished) {
  World world;
  world.capacity = 1;
  world.group = {"i-blue1"};
  world.detach_after = 20 * kMinute;
  TimePoint t0 = world.now;
  bool added = false;
  world.blue_interruptions.emplace_back(t0 + kMinute, "i-blue1");
  world.fault = [&](const Request&) -> std::optional<Error> {
    if (!added && world.now >= t0 + 2 * kMinute) {
      world.group.push_back("i-blue9");
      added = true;
    }
    return std::nullopt;
  };
  success_of(invoke(world, config_for()));
  EXPECT_EQ(world.spot[0].d.state, "FINISHED");  // Spot had finished before the success
}

}  // namespace
}  // namespace bluegreen::elastigroup
