#include "frontends/dashboard/deployment_view.h"

#include <gtest/gtest.h>

namespace bluegreen::dashboard {
namespace {

using namespace std::chrono_literals;

const TimePoint kCreated = from_epoch_ms(1'700'000'000'000);

Deployment deployment_in(Step step, Phase phase, bool with_blue = true,
                         std::string promotion = "auto") {
  auto spec = parse_spec(std::string_view(
      R"({"GROUP_ID":"web","APP_NAME":"hello","DEPLOYMENT_GROUP":"dg","TIMEOUT":"300",
          "LOCAL_PATH":"/srv/hello","BLUE_TERMINATION_WAIT":"600","PROMOTION":")" +
      promotion + R"("})"));
  EXPECT_TRUE(spec) << spec.error().message;
  std::optional<BlueFleet> blue;
  if (with_blue) blue = BlueFleet{"d-blue", {}, "/bundles/d-blue"};
  Deployment d = new_deployment("d-green", *spec, "cli:ann@host", "uuid-1", kCreated, blue);
  d.step = step;
  d.phase = phase;
  d.traffic_moved = step > Step::before_allow_traffic && step != Step::done;
  return d;
}

// A cloud deployment of the group "web" as the service runs one: with the provider's saved
// progress, and a blue fleet (blue's Auto Scaling group, for PROVIDER=asg).
Deployment cloud_deployment_in(std::string_view params, Step step, Phase phase,
                               std::string flow_phase) {
  auto spec = parse_spec(params);
  EXPECT_TRUE(spec) << spec.error().message;
  Deployment d =
      new_deployment("d-green", *spec, "api:ann", "uuid-1", kCreated, BlueFleet{"asg:web", {}, {}});
  d.cloud = CloudProgress{.flow_phase = std::move(flow_phase)};
  d.step = step;
  d.phase = phase;
  d.traffic_moved = step > Step::before_allow_traffic && step != Step::done;
  return d;
}

constexpr std::string_view kAsgManual =
    R"({"PROVIDER":"asg","GROUP_ID":"web","APP_NAME":"app","DEPLOYMENT_GROUP":"dg",
        "TIMEOUT":"900","S3_BUCKET":"b","S3_KEY":"app.zip","S3_BUNDLE":"zip",
        "PROMOTION":"manual","BLUE_TERMINATION_WAIT":"600",
        "PREVIEW_TARGET_GROUP_ARN":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-preview/0123456789abcdef"})";

constexpr std::string_view kElastigroup =
    R"({"API_TOKEN":"tok-123","ACCOUNT_ID":"act-1","GROUP_ID":"sig-1","APP_NAME":"app",
        "DEPLOYMENT_GROUP":"dg","TIMEOUT":"600","S3_BUCKET":"b","S3_KEY":"app.zip",
        "S3_BUNDLE":"zip"})";

TEST(DeploymentView, InstallWaitsOnTheHooksUntilTimeout) {
  Deployment d = deployment_in(Step::install, Phase::install);
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_NE(waiting->what.find("ValidateService"), std::string::npos) << waiting->what;
  EXPECT_EQ(waiting->until, kCreated + 300s);
  EXPECT_EQ(waiting->bound, "TIMEOUT");
}

TEST(DeploymentView, InstallNamesTheHookRunningNowAndItsInstances) {
  Deployment d = deployment_in(Step::install, Phase::install);
  d.running_hooks = {
      HookResult{
          .instance_id = "i-1", .lifecycle_event = "AfterInstall", .script = "scripts/after.sh"},
      HookResult{
          .instance_id = "i-2", .lifecycle_event = "AfterInstall", .script = "scripts/after.sh"}};
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->what, "hook AfterInstall (scripts/after.sh) on i-1, i-2");
  EXPECT_EQ(waiting->bound, "TIMEOUT");
}

TEST(DeploymentView, HealthGateCarriesTheWrongPathHint) {
  Deployment d = deployment_in(Step::check_health, Phase::health_gate);
  d.green = {Instance{.id = "i-1"}};
  d.health_last = {{"i-1", "GET http://127.0.0.1:9/healthz answered 404"}};
  d.health_hint = "GET /healthz answered 404 on every green: set HEALTH_CHECK_PATH to a path";
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_NE(waiting->what.find(d.health_hint), std::string::npos) << waiting->what;
}

TEST(DeploymentView, HealthGateSaysHowManyGreensPassed) {
  Deployment d = deployment_in(Step::check_health, Phase::health_gate);
  d.green = {Instance{.id = "i-1"}, Instance{.id = "i-2"}};
  d.health_streak = {{"i-1", 2}, {"i-2", 1}};
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_NE(waiting->what.find("1 of 2 green instance(s) healthy"), std::string::npos)
      << waiting->what;
  EXPECT_NE(waiting->what.find("1 of 2 good answers"), std::string::npos) << waiting->what;
  EXPECT_EQ(waiting->bound, "TIMEOUT");
}

TEST(DeploymentView, KeepBlueCountsDownTheTerminationWait) {
  Deployment d = deployment_in(Step::keep_blue, Phase::keep_blue);
  d.wait_until = kCreated + 700s;
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->until, kCreated + 700s);
  EXPECT_EQ(waiting->bound, "BLUE_TERMINATION_WAIT");
}

TEST(DeploymentView, TerminatingHasNoDeadlineAndAnEndedDeploymentWaitsOnNothing) {
  Deployment d = deployment_in(Step::terminate_green, Phase::clean_up);
  auto waiting = waiting_on(d);
  ASSERT_TRUE(waiting);
  EXPECT_FALSE(waiting->until);
  d.step = Step::done;
  d.status = DeploymentStatus::succeeded;
  EXPECT_FALSE(waiting_on(d));
}

TEST(DeploymentView, BeforeTheSwitchAbortIsOfferedAndAfterItRollback) {
  auto before = deployment_view_json(deployment_in(Step::install, Phase::install), kCreated, true);
  EXPECT_EQ(before["actions"]["abort"], true);
  EXPECT_EQ(before["actions"]["rollback"], false);
  EXPECT_EQ(before["actions"]["promote"], false);

  auto after =
      deployment_view_json(deployment_in(Step::keep_blue, Phase::keep_blue), kCreated, true);
  EXPECT_EQ(after["actions"]["abort"], false);
  EXPECT_EQ(after["actions"]["rollback"], true);
  EXPECT_EQ(after["waitingOn"]["bound"], "BLUE_TERMINATION_WAIT");
  EXPECT_EQ(after["serverTime"], to_iso8601(kCreated));
}

TEST(DeploymentView, ManualPromotionOffersPromoteWhileWaiting) {
  auto view = deployment_view_json(
      deployment_in(Step::await_promotion, Phase::await_promotion, true, "manual"), kCreated, true);
  EXPECT_EQ(view["actions"]["promote"], true);
  EXPECT_EQ(view["waitingOn"]["bound"], "TIMEOUT");
}

TEST(DeploymentView, AFirstDeploymentCannotRollBackAfterTheSwitch) {
  auto view = deployment_view_json(
      deployment_in(Step::after_allow_traffic, Phase::allow_traffic, /*with_blue=*/false), kCreated,
      true);
  EXPECT_EQ(view["actions"]["rollback"], false);
  EXPECT_EQ(view["actions"]["abort"], false);
}

TEST(DeploymentView, AnAutoScalingDeploymentAwaitingPromotionOffersPromote) {
  auto view = deployment_view_json(
      cloud_deployment_in(kAsgManual, Step::await_promotion, Phase::await_promotion, "preview"),
      kCreated, true);
  EXPECT_EQ(view["actions"]["promote"], true);
  EXPECT_EQ(view["actions"]["abort"], true);
  EXPECT_EQ(view["actions"]["rollback"], false);
  std::string what = view["waitingOn"]["what"];
  EXPECT_NE(what.find("promotion"), std::string::npos) << what;
  EXPECT_NE(what.find("preview target group"), std::string::npos) << what;
  EXPECT_EQ(what.find("Elastigroup"), std::string::npos) << what;
  EXPECT_EQ(view["waitingOn"]["bound"], "TIMEOUT");
}

// A record that says running while no flow of the server runs it (a restart could not reach its
// cloud, or has not bound its LISTEN yet): the server refuses promote and rollback, so the
// dashboard offers neither, though the record is where both would apply.
TEST(DeploymentView, ADeploymentNoFlowRunsNowOffersNoAction) {
  for (const Deployment& d :
       {cloud_deployment_in(kAsgManual, Step::await_promotion, Phase::await_promotion, "preview"),
        deployment_in(Step::await_promotion, Phase::await_promotion, true, "manual"),
        deployment_in(Step::keep_blue, Phase::keep_blue)}) {
    auto view = deployment_view_json(d, kCreated, /*takes_requests=*/false);
    EXPECT_EQ(view["actions"]["promote"], false) << d.id;
    EXPECT_EQ(view["actions"]["rollback"], false) << d.id;
    EXPECT_EQ(view["actions"]["abort"], false) << d.id;
  }
}

TEST(DeploymentView, AnAutoScalingDeploymentKeepingBlueOffersRollback) {
  Deployment d = cloud_deployment_in(kAsgManual, Step::keep_blue, Phase::keep_blue, "drain");
  d.wait_until = kCreated + 700s;
  auto view = deployment_view_json(d, kCreated, true);
  EXPECT_EQ(view["actions"]["rollback"], true);
  EXPECT_EQ(view["actions"]["abort"], false);
  EXPECT_EQ(view["actions"]["promote"], false);
  EXPECT_EQ(view["waitingOn"]["bound"], "BLUE_TERMINATION_WAIT");
  EXPECT_EQ(view["waitingOn"]["until"], to_iso8601(kCreated + 700s));
}

TEST(DeploymentView, AnAutoScalingDeploymentNamesTheProvidersStage) {
  auto launching = waiting_on(
      cloud_deployment_in(kAsgManual, Step::launch_green, Phase::launch_green, "launch_green"));
  ASSERT_TRUE(launching);
  EXPECT_EQ(launching->what,
            "launch the green fleet (EC2 Auto Scaling provider, stage launch_green)");
  EXPECT_EQ(launching->bound, "TIMEOUT");

  Deployment installing = cloud_deployment_in(kAsgManual, Step::install, Phase::install, "install");
  installing.cloud->codedeploy_deployment_id = "d-CD123";
  auto waiting = waiting_on(installing);
  ASSERT_TRUE(waiting);
  EXPECT_NE(waiting->what.find("ValidateService"), std::string::npos) << waiting->what;
  EXPECT_NE(waiting->what.find("stage install, CodeDeploy deployment d-CD123"), std::string::npos)
      << waiting->what;
}

TEST(DeploymentView, AnElastigroupDeploymentFollowsSpotAndOffersNoAction) {
  for (Step step : {Step::install, Step::terminate_blue}) {
    auto view = deployment_view_json(
        cloud_deployment_in(kElastigroup, step, Phase::install, "follow"), kCreated, true);
    EXPECT_EQ(view["waitingOn"]["what"], "Elastigroup flow: follow");
    EXPECT_EQ(view["actions"]["promote"], false);
    EXPECT_EQ(view["actions"]["rollback"], false);
    EXPECT_EQ(view["actions"]["abort"], false);
  }
}

}  // namespace
}  // namespace bluegreen::dashboard
