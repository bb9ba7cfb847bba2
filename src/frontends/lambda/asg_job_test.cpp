// A PROVIDER=asg CodePipeline job over several invocations (asg_job.h), on an AWS account in
// memory (adapters/asg/asg_test_world.h) and a fake CodePipeline that keeps the reports.
#include "frontends/lambda/asg_job.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "adapters/asg/asg_provider.h"
#include "adapters/asg/asg_test_world.h"
#include "adapters/asg/asg_token.h"
#include "adapters/elastigroup/elastigroup_fakes.h"

namespace bluegreen::lambda {
namespace {

namespace eg = elastigroup;
using asg::testing::asg_spec;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class AsgJobTest : public ::testing::Test {
 protected:
  void SetUp() override { world_.seed(); }

  OpenAsgCloud opener() {
    return [this]() -> Result<std::unique_ptr<asg::AsgCloud>> {
      return std::make_unique<asg::testing::FakeAsgCloud>(world_);
    };
  }

  // One invocation of five minutes. CodePipeline gives a continued job a new id.
  eg::RunOutcome invoke(const DeploymentSpec& spec, const std::optional<std::string>& token,
                        const std::string& job_id = "job-1") {
    eg::CloudRunOptions options;
    eg::FakeCloudConnection connection(fake_, clock_);
    auto ports = connection.ports(fake_, fake_);
    return run_asg_job(job_id, spec, token, opener(), ports, options,
                       clock_.now() + std::chrono::minutes(5));
  }

  // Invokes until the job has a final result; the number of invocations.
  int run_to_the_end(const DeploymentSpec& spec, int most = 50) {
    std::optional<std::string> token;
    for (int i = 1; i <= most; ++i) {
      auto outcome = invoke(spec, token, i == 1 ? "job-1" : fmt::format("job-1-{}", i));
      if (outcome != eg::RunOutcome::continued) return i;
      auto progress = std::get<eg::ReportProgress>(last_report());
      EXPECT_LE(progress.continuation_token.size(), asg::kMaxAsgTokenLength);
      token = progress.continuation_token;
      clock_.advance(std::chrono::seconds(5));  // CodePipeline invokes again
    }
    ADD_FAILURE() << "the job never ended";
    return most;
  }

  eg::Report last_report() const { return fake_.reports().back().report; }

  FakeClock clock_;
  asg::testing::World world_{clock_};
  eg::FakeElastigroupCloud fake_{clock_};
};

TEST_F(AsgJobTest, AJobLongerThanAnInvocationCarriesOnFromItsTokenAndSucceeds) {
  // Keeping blue for 20 minutes takes several five-minute invocations.
  int invocations = run_to_the_end(asg_spec(R"(,"BLUE_TERMINATION_WAIT":"1200")"));

  EXPECT_GE(invocations, 5);
  auto report = last_report();
  const auto* success = std::get_if<eg::ReportSuccess>(&report);
  ASSERT_NE(success, nullptr);
  const std::string green = asg::green_group_name("web", eg::green_identifier_for_job("job-1"));
  EXPECT_EQ(success->output_variables.at("GreenGroup"), green);
  EXPECT_EQ(success->output_variables.at("GreenIdentifier"), eg::green_identifier_for_job("job-1"));
  EXPECT_EQ(success->output_variables.at("DeploymentId"), world_.last_attempt);
  EXPECT_EQ(std::ranges::count(world_.calls, "CreateAutoScalingGroup " + green), 1);
  EXPECT_EQ(world_.deployments.size(), 1u);
  EXPECT_TRUE(world_.groups.at("web").deleted);
  EXPECT_EQ(world_.groups.at(green).g.tags.at("bluegreen:group"), "web");
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgJobTest, AJobDeliveredAgainWithoutItsTokenFindsItsGreensAndCreatesNothingTwice) {
  // The first invocation ran and its report never reached CodePipeline, which delivers the
  // job again.
  fake_.fail_next("pipeline.progress", Error{ErrorKind::invalid_input, "refused", "Refused"});
  auto spec = asg_spec(R"(,"BLUE_TERMINATION_WAIT":"1200")");
  ASSERT_EQ(invoke(spec, std::nullopt), eg::RunOutcome::report_failed);
  run_to_the_end(spec);

  auto report = last_report();
  const auto* success = std::get_if<eg::ReportSuccess>(&report);
  const auto* failure = std::get_if<eg::ReportFailure>(&report);
  ASSERT_NE(success, nullptr) << (failure ? failure->message : "");
  const std::string green = asg::green_group_name("web", eg::green_identifier_for_job("job-1"));
  EXPECT_EQ(std::ranges::count(world_.calls, "CreateAutoScalingGroup " + green), 1);
  EXPECT_EQ(world_.deployments.size(), 1u);
}

TEST_F(AsgJobTest, TimeoutCountsFromTheJobsStartAcrossInvocations) {
  world_.codedeploy_takes = std::chrono::hours(3);
  run_to_the_end(asg_spec(R"(,"TIMEOUT":"1200")"));

  auto report = last_report();
  const auto* failure = std::get_if<eg::ReportFailure>(&report);
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->message, HasSubstr("TIMEOUT of 1200 s passed during install"));
  EXPECT_EQ(failure->type, eg::FailureType::job_failed);
  const std::string green = asg::green_group_name("web", eg::green_identifier_for_job("job-1"));
  EXPECT_TRUE(world_.groups.at(green).deleted);
  EXPECT_FALSE(world_.groups.at("web").deleted);
}

TEST_F(AsgJobTest, ManualPromotionIsRefusedBeforeAnythingStarts) {
  EXPECT_EQ(invoke(asg_spec(R"(,"PROMOTION":"manual")"), std::nullopt), eg::RunOutcome::failed);
  auto report = last_report();
  const auto* failure = std::get_if<eg::ReportFailure>(&report);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->type, eg::FailureType::configuration_error);
  EXPECT_THAT(failure->message, HasSubstr("PROMOTION=manual"));
  EXPECT_THAT(failure->message, HasSubstr("bluegreen server"));
  EXPECT_THAT(world_.calls, IsEmpty());
}

TEST_F(AsgJobTest, AnUnreadableTokenFailsTheJobSayingSo) {
  EXPECT_EQ(invoke(asg_spec(), std::string("{\"p\":\"asg\",\"v\":1}")), eg::RunOutcome::failed);
  auto report = last_report();
  const auto* failure = std::get_if<eg::ReportFailure>(&report);
  ASSERT_NE(failure, nullptr);
  EXPECT_THAT(failure->message, HasSubstr("continuation token"));
  EXPECT_THAT(world_.calls, IsEmpty());
}

TEST(AsgToken, ARecordRoundTripsAndStaysWithinCodePipelinesLimitForALargeFleet) {
  FakeClock clock;
  auto spec = asg_spec();
  Deployment d =
      new_deployment("job-1", spec, "codepipeline", "1a2b3c4d-aaaa", clock.now(), std::nullopt);
  d.step = Step::keep_blue;
  d.phase = Phase::keep_blue;
  d.phases = {PhaseRecord{Phase::keep_blue, clock.now(), std::nullopt, PhaseOutcome::running, ""}};
  d.traffic_moved = true;
  d.wait_until = clock.now() + std::chrono::minutes(10);
  d.cloud = CloudProgress{};
  d.cloud->token = R"({"blue":"web","green":"web-1a2b3c4d","cd":"d-000000001"})";
  BlueFleet blue{"asg:web", {}, {}};
  for (int i = 0; i < 80; ++i) {
    Instance g;
    g.id = fmt::format("i-{:017x}", i);
    d.green.push_back(g);
    d.health_streak[g.id] = 2;
    Instance b;
    b.id = fmt::format("i-{:017x}", 1000 + i);
    blue.instances.push_back(b);
  }
  d.blue = blue;

  std::string token = asg::to_asg_token(d);
  EXPECT_LE(token.size(), asg::kMaxAsgTokenLength);
  Deployment back =
      new_deployment("job-1", spec, "codepipeline", "other", clock.now(), std::nullopt);
  ASSERT_TRUE(asg::resume_from_asg_token(back, token));
  EXPECT_EQ(back.step, Step::keep_blue);
  EXPECT_EQ(back.green_identifier, "1a2b3c4d-aaaa");
  EXPECT_TRUE(back.traffic_moved);
  EXPECT_EQ(back.wait_until, d.wait_until);
  EXPECT_EQ(back.deadline, d.deadline);
  EXPECT_EQ(back.green.size(), 80u);
  EXPECT_EQ(back.cloud->token, d.cloud->token);
  ASSERT_TRUE(back.blue);
  EXPECT_EQ(back.blue->fleet_id, "asg:web");
}

// -- Attacks.

TEST_F(AsgJobTest, AJobDeliveredAgainAfterItSucceededLeavesItsGreenServing) {
  // The first invocation does the whole deployment; its success report is lost, and
  // CodePipeline delivers the job again without a token.
  fake_.fail_next("pipeline.success", Error{ErrorKind::invalid_input, "refused", "Refused"});
  auto spec = asg_spec(R"(,"BLUE_TERMINATION_WAIT":"10","DRAIN_TIMEOUT":"10")");
  ASSERT_EQ(invoke(spec, std::nullopt), eg::RunOutcome::report_failed);
  const std::string green = asg::green_group_name("web", eg::green_identifier_for_job("job-1"));
  ASSERT_TRUE(world_.groups.at("web").deleted);
  ASSERT_EQ(world_.groups.at(green).g.tags.at("bluegreen:group"), "web");

  run_to_the_end(spec);

  EXPECT_THAT(world_.serving_violations, IsEmpty());
  EXPECT_FALSE(world_.groups.at(green).deleted) << "the job deleted the group that serves";
  // CodePipeline learns that the job succeeded, as it did.
  auto report = last_report();
  const auto* success = std::get_if<eg::ReportSuccess>(&report);
  ASSERT_NE(success, nullptr);
  EXPECT_THAT(success->details.summary, HasSubstr("already serves web"));
}

TEST_F(AsgJobTest, ARollbackWaitingForABlueThatNeverComesBackEndsAcrossInvocations) {
  // The switch fails after blue left (every detach of green is throttled, retries included),
  // and blue's instances never pass again: the way back to blue is bounded by kBlueBackBound.
  const std::string green = asg::green_group_name("web", eg::green_identifier_for_job("job-1"));
  int detaches = 0;
  world_.fault = [&](const std::string& call) -> std::optional<aws::AwsError> {
    if (call != "DetachLoadBalancerTargetGroups " + green) return std::nullopt;
    ++detaches;
    for (const auto& i : world_.groups.at("web").g.instances) world_.sick.insert(i.id);
    return asg::testing::aws_error("DetachLoadBalancerTargetGroups", ErrorKind::throttled,
                                   "Throttling", "Rate exceeded");
  };
  auto spec = asg_spec(std::string(R"(,"PREVIEW_TARGET_GROUP_ARN":")") +
                       asg::testing::World::kPreview + R"(")");
  int invocations = run_to_the_end(spec, 40);

  auto report = last_report();
  const auto* progress = std::get_if<eg::ReportProgress>(&report);
  EXPECT_LT(invocations, 40) << "still handing over: "
                             << (progress ? progress->details.summary : std::string());
  EXPECT_GE(detaches, 1);
  EXPECT_FALSE(world_.groups.at(green).deleted);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgJobTest, ATokenNamingTheServingGroupAsGreenNeverGetsItDeleted) {
  // A continuation token whose saved provider state names blue's group as green, in clean_up.
  using nlohmann::json;
  const auto ms = [&](Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               (clock_.now() + d).time_since_epoch())
        .count();
  };
  json token{{"v", 1},
             {"p", "asg"},
             {"gid", eg::green_identifier_for_job("job-1")},
             {"c", ms(Duration(0))},
             {"dl", ms(std::chrono::minutes(30))},
             {"st", "terminate_green"},
             {"ph", "clean_up"},
             {"ps", ms(Duration(0))},
             {"wu", ms(Duration(0))},
             {"nc", ms(Duration(0))},
             {"tm", false},
             {"pv", false},
             {"g", json::array()},
             {"a", R"({"blue":"web-old","green":"web"})"}};
  invoke(asg_spec(), token.dump(), "job-1-2");

  EXPECT_FALSE(world_.groups.at("web").deleted) << "the serving group was deleted";
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

}  // namespace
}  // namespace bluegreen::lambda
