// "Never remove what may serve" (adapters/elastigroup/request_plan.h): once CodeDeploy has
// succeeded on the greens, every way the flow can end leaves the greens serving, the Spot B/G
// deployment running and blue where Spot left it. The World's Spot terminates the greens when its
// deployment is stopped, and DetachGreens terminates what it names, so a flow that broke the
// invariant would leave no green running here.
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

bool codedeploy_succeeded(const World& world) {
  return !world.codedeploy.empty() && world.cd_status(world.codedeploy[0]) == "Succeeded";
}

// Nothing was stopped, detached or terminated: both greens run, the Spot deployment was not
// stopped, and no request to remove anything went out after CodeDeploy's success.
void expect_nothing_removed(World& world, const FlowConfig& config) {
  ASSERT_EQ(world.spot.size(), 1u);
  EXPECT_NE(world.spot[0].d.state, "STOPPED");
  EXPECT_EQ(world.live_greens(config.green_identifier).size(), 2u);
  TimePoint success_at = world.codedeploy.at(0).created + world.codedeploy_takes;
  for (const auto& [at, name] : world.requests) {
    if (at < success_at) continue;
    EXPECT_NE(name, "StopSpotDeployment");
    EXPECT_NE(name, "DetachGreens");
  }
}

const ReportFailure& failure_of(const Invocation& run) {
  static const ReportFailure none{FailureType::job_failed, "(no failure reported)", ""};
  const auto* failure = std::get_if<ReportFailure>(&run.report);
  EXPECT_NE(failure, nullptr) << report_name(run.report);
  return failure != nullptr ? *failure : none;
}

// Runs invocations of `minutes` each, CodePipeline re-invoking `gap` later, until a report.
Invocation run_in_invocations(World& world, const FlowConfig& config, long long minutes,
                              Duration gap = 30 * kSecond) {
  std::optional<std::string> token;
  for (int i = 0; i < 200; ++i) {
    Invocation run = invoke(world, config, token, world.now + minutes * kMinute);
    auto* progress = std::get_if<ReportProgress>(&run.report);
    if (progress == nullptr) return run;
    EXPECT_LE(progress->continuation_token.size(), kMaxTokenLength);
    token = progress->continuation_token;
    world.now += gap;
  }
  ADD_FAILURE() << "no report after 200 invocations";
  return {};
}

TEST(ElastigroupFlowServing, TimeoutBeforeSpotFinishesSaysWhatIsPendingAndRemovesNothing) {
  World world;
  world.detach_after = 10 * 60 * kMinute;  // Spot takes hours
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(1800);
  // In invocations of 4 minutes: the end comes in a continuation.
  Invocation run = run_in_invocations(world, config, 4);
  const ReportFailure& failure = failure_of(run);
  EXPECT_EQ(failure.type, FailureType::job_failed);
  EXPECT_THAT(failure.message, HasSubstr("TIMEOUT (1800 s) passed before Spot finished"));
  EXPECT_THAT(failure.message, HasSubstr("CodeDeploy deployment d-1 succeeded"));
  EXPECT_THAT(failure.message, HasSubstr("still has blue instance(s) i-blue1, i-blue2 attached"));
  EXPECT_THAT(failure.message, HasSubstr("cdbg-1"));
  EXPECT_THAT(failure.message, HasSubstr("Nothing was stopped, detached or terminated"));
  EXPECT_EQ(failure.external_execution_id, "d-1");
  expect_nothing_removed(world, config);
  EXPECT_EQ(world.group, (std::vector<std::string>{"i-blue1", "i-blue2"}));
}

TEST(ElastigroupFlowServing, BlueThatLeftWhileHandedOverIsASuccessAtTimeout) {
  World world;
  world.detach_after = 12 * kMinute;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(900);
  // The first invocation ends while waiting for Spot to detach blue ...
  Invocation first = invoke(world, config, std::nullopt, world.now + 7 * kMinute);
  auto* progress = std::get_if<ReportProgress>(&first.report);
  ASSERT_NE(progress, nullptr) << report_name(first.report);
  auto state = from_token(progress->continuation_token);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->stage, Stage::wait_blue_detached);
  ASSERT_TRUE(state->greens_serving);
  // ... and the next comes after TIMEOUT, when Spot has detached blue meanwhile.
  world.now += 13 * kMinute;
  Invocation next = invoke(world, config, progress->continuation_token);
  EXPECT_TRUE(std::holds_alternative<ReportSuccess>(next.report)) << failure_of(next).message;
  expect_nothing_removed(world, config);
}

TEST(ElastigroupFlowServing, AFailedPollAfterSuccessRemovesNothing) {
  World world;
  world.detach_after = 60 * kMinute;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<ReadGroup>(a) && codedeploy_succeeded(world)) {
      return Error{ErrorKind::permission_denied, "Unauthorized", "401"};
    }
    return std::nullopt;
  };
  FlowConfig config = config_for();
  Invocation run = invoke(world, config);
  const ReportFailure& failure = failure_of(run);
  EXPECT_EQ(failure.type, FailureType::permission_error);
  EXPECT_THAT(failure.message, HasSubstr("Nothing was stopped, detached or terminated"));
  expect_nothing_removed(world, config);
}

TEST(ElastigroupFlowServing, SpotFailingOrStoppedAfterSuccessRemovesNothing) {
  for (std::string ended : {"FAILED", "STOPPED"}) {
    World world;
    world.detach_after = 60 * kMinute;
    world.fault = [&](const Request& a) -> std::optional<Error> {
      if (std::holds_alternative<ListSpotDeployments>(a) && codedeploy_succeeded(world)) {
        world.spot[0].d.state = ended;  // someone stopped it, or Spot failed it
      }
      return std::nullopt;
    };
    FlowConfig config = config_for();
    Invocation run = invoke(world, config);
    const ReportFailure& failure = failure_of(run);
    EXPECT_THAT(failure.message, HasSubstr("ended in state " + ended));
    EXPECT_THAT(failure.message, HasSubstr("Nothing was stopped, detached or terminated"));
    EXPECT_EQ(world.live_greens(config.green_identifier).size(), 2u) << ended;
    for (const auto& request : world.requests) EXPECT_NE(request.second, "DetachGreens");
  }
}

TEST(ElastigroupFlowServing, AnOutageAfterSuccessIsSystemUnavailableAndRemovesNothing) {
  World world;
  world.detach_after = 60 * kMinute;
  // From the flow's first look at blue after it read CodeDeploy's success, nothing answers.
  bool success_read = false, outage = false;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<GetCodeDeployDeployment>(a) && codedeploy_succeeded(world)) {
      success_read = true;
    }
    if (const auto* read = std::get_if<ReadGroup>(&a); read && !read->with_capacity) {
      outage = outage || success_read;
    }
    if (outage) return Error{ErrorKind::unavailable, "connection refused"};
    return std::nullopt;
  };
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(1800);
  Invocation run = invoke(world, config);
  const ReportFailure& failure = failure_of(run);
  EXPECT_EQ(failure.type, FailureType::system_unavailable);
  EXPECT_THAT(failure.message, HasSubstr("could not be checked"));
  EXPECT_THAT(failure.message, HasSubstr("connection refused"));
  expect_nothing_removed(world, config);
}

TEST(ElastigroupFlowServing, ARedeliveryAfterSuccessRemovesNothing) {
  World world;
  world.detach_after = 10 * 60 * kMinute;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(900);
  // The first delivery dies (no report) after CodeDeploy's success.
  invoke(world, config, std::nullopt, world.now + 8 * kMinute);
  ASSERT_TRUE(codedeploy_succeeded(world));
  // Delivered again from scratch; TIMEOUT passes again before Spot finishes.
  Invocation again = invoke(world, config);
  const ReportFailure& failure = failure_of(again);
  EXPECT_THAT(failure.message, HasSubstr("still has blue instance(s) i-blue1, i-blue2 attached"));
  expect_nothing_removed(world, config);
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
}

TEST(ElastigroupFlowServing, ASuccessCleanupDidNotSeeIsLearntBeforeRemovingAnything) {
  // CodeDeploy cannot be read until TIMEOUT, and succeeds meanwhile: the stop that cleanup
  // sends is refused as completed, and cleanup reads the deployment before touching Spot.
  World world;
  world.detach_after = 60 * kMinute;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(900);
  TimePoint deadline = world.now + 900 * kSecond;
  world.fault = [&](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<GetCodeDeployDeployment>(a) && world.now < deadline) {
      return Error{ErrorKind::unavailable, "503 Service Unavailable"};
    }
    return std::nullopt;
  };
  Invocation run = invoke(world, config);
  const ReportFailure& failure = failure_of(run);
  EXPECT_EQ(failure.type, FailureType::system_unavailable);
  EXPECT_THAT(failure.message, HasSubstr("Nothing was stopped, detached or terminated"));
  EXPECT_THAT(failure.message, Not(HasSubstr("no green instance is left running")));
  expect_nothing_removed(world, config);
}

TEST(ElastigroupFlowServing, ARedeliveryThatFindsSpotFinishedRemovesNothingWhateverFails) {
  // Spot finalises its deployment only once CodeDeploy succeeded on the greens: a delivery that
  // finds it finished knows the greens serve, even when CodeDeploy's last deployment is not ours.
  World world;
  FlowConfig config = config_for();
  ASSERT_TRUE(std::holds_alternative<ReportSuccess>(invoke(world, config).report));
  world.codedeploy.push_back({"d-other", "someone-else", world.now - 10 * kMinute});
  world.fault = [&](const Request& a) -> std::optional<Error> {
    const auto* read = std::get_if<ReadGroup>(&a);
    if (read != nullptr && !read->with_capacity) {
      return Error{ErrorKind::permission_denied, "Unauthorized", "401"};
    }
    return std::nullopt;
  };
  Invocation again = invoke(world, config);
  const ReportFailure& failure = failure_of(again);
  EXPECT_THAT(failure.message, HasSubstr("Nothing was stopped, detached or terminated"));
  EXPECT_EQ(world.spot[0].d.state, "FINISHED");
  EXPECT_EQ(world.live_greens(config.green_identifier).size(), 2u);
  EXPECT_EQ(world.spot_creates, 1);
  EXPECT_EQ(world.codedeploy_creates, 1);
}

TEST(ElastigroupFlowServing, AHandOverJustAfterTheSuccessWasReadCarriesItAndRemovesNothing) {
  World world;
  world.detach_after = 10 * 60 * kMinute;
  FlowConfig config = config_for();
  config.timeout = std::chrono::seconds(900);
  // The invocation ends at the first request after CodeDeploy's success was read, in the
  // middle of the round that read it.
  Invocation first = invoke(world, config, std::nullopt, TimePoint::max(),
                            [](const FlowState& s) { return !s.greens_serving; });
  const auto* progress = std::get_if<ReportProgress>(&first.report);
  ASSERT_NE(progress, nullptr) << report_name(first.report);
  auto state = from_token(progress->continuation_token);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->stage, Stage::follow);
  EXPECT_TRUE(state->greens_serving);
  // The next invocation comes after TIMEOUT, and Spot refuses every request.
  world.now += 20 * kMinute;
  world.fault = [](const Request& a) -> std::optional<Error> {
    if (std::holds_alternative<ReadGroup>(a) || std::holds_alternative<ListSpotDeployments>(a)) {
      return Error{ErrorKind::permission_denied, "Unauthorized", "401"};
    }
    return std::nullopt;
  };
  Invocation resumed = invoke(world, config, progress->continuation_token);
  EXPECT_THAT(failure_of(resumed).message,
              HasSubstr("Nothing was stopped, detached or terminated"));
  expect_nothing_removed(world, config);
}

}  // namespace
}  // namespace bluegreen::elastigroup
