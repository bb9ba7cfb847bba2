// The one flow with a provider that does its steps itself (PROVIDER=elastigroup): which
// actions it asks for, and the invariants of core/flow.h's "Providers" (4: nothing that may
// serve is removed; 5: a restart carries on in place; 6: the provider's clean-up account is the
// error). The local provider's flow is in flow_test.cpp.
#include <gtest/gtest.h>

#include "core/flow.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

DeploymentSpec cloud_spec() {
  auto spec = parse_spec(std::string_view(
      R"({"API_TOKEN":"ssm:/spot/token","ACCOUNT_ID":"act-12345678","GROUP_ID":"sig-12345678",
          "APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":"600","S3_BUCKET":"b",
          "S3_KEY":"app.zip","S3_BUNDLE":"zip"})"));
  EXPECT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->provider, Provider::elastigroup);
  return *spec;
}

Instance green(std::string id) {
  Instance i;
  i.id = std::move(id);
  i.fleet_id = "d-cloud";
  i.state = InstanceState::running;
  return i;
}

class CloudWalk {
 public:
  CloudWalk() {
    t_ = start(new_deployment("d-cloud", cloud_spec(), "test", "gid-1", now_, std::nullopt), now_);
  }
  const Transition& feed(InputEvent event, Duration later = 1s) {
    now_ += later;
    for (const auto& e : t_.events) log_.push_back(e);
    t_ = step(t_.deployment, Input{now_, std::move(event)});
    for (const auto& e : t_.events) log_.push_back(e);
    return t_;
  }
  // The action asked for now, in words ("terminate green"); "nothing" once ended.
  std::string asks() const { return t_.action ? describe(*t_.action) : "nothing"; }
  const Deployment& d() const { return t_.deployment; }
  std::vector<Phase> phases() const {
    std::vector<Phase> out;
    for (const auto& p : d().phases) out.push_back(p.phase);
    return out;
  }
  void launched() { feed(input::GreenLaunched{{green("i-1"), green("i-2")}, "2 greens"}); }
  void installed() { feed(input::HooksRan{{}, true, "CodeDeploy deployment d-1 Succeeded"}); }

  TimePoint now_{std::chrono::hours(1000)};
  Transition t_;
  std::vector<DeploymentEvent> log_;
};

TEST(ProviderFlow, AProviderThatOwnsItsFleetsIsAskedForItsStepsOnlyInOrder) {
  CloudWalk w;
  // No fetch: CodeDeploy fetches the revision.
  EXPECT_EQ(w.d().phase, Phase::launch_green);
  EXPECT_EQ(w.asks(), "launch the green fleet");
  w.launched();
  EXPECT_EQ(w.d().green.size(), 2u);
  EXPECT_EQ(w.asks(), "run " + std::string("DownloadBundle, BeforeInstall, Install, AfterInstall, "
                                           "ApplicationStart, ValidateService on green"));
  w.installed();
  // No health gate of the flow's own, no traffic hook: the provider confirms the switch.
  EXPECT_EQ(w.d().step, Step::route_to_green);
  EXPECT_EQ(w.d().phase, Phase::install);  // CodeDeploy's AllowTraffic is part of its install
  EXPECT_EQ(w.asks(), "route traffic to d-cloud");
  EXPECT_TRUE(w.d().traffic_moved);
  w.feed(input::ActionDone{"Spot routes the group's traffic to them"});
  // No drain, no keep_blue: the provider retires blue, with or without a blue fleet on record.
  EXPECT_EQ(w.d().phase, Phase::terminate_blue);
  EXPECT_EQ(w.asks(), "terminate blue");
  w.feed(input::ActionDone{"blue has left"});
  EXPECT_EQ(w.d().status, DeploymentStatus::succeeded);
  EXPECT_EQ(w.phases(), (std::vector<Phase>{Phase::validate, Phase::launch_green, Phase::install,
                                            Phase::terminate_blue}));
  EXPECT_EQ(w.d().phases.back().message, "blue has left");
  for (const auto& green : w.d().green) EXPECT_EQ(green.state, InstanceState::healthy);
}

TEST(ProviderFlow, AFailureBeforeTheSwitchAsksTheProviderToCleanUpAndKeepsItsAccount) {
  for (int at : {0, 1}) {  // during launch_green, during install
    CloudWalk w;
    if (at == 1) w.launched();
    w.feed(input::Failed{Error{ErrorKind::failed, "ValidateService failed on i-1", "JobFailed"}});
    EXPECT_EQ(w.d().phase, Phase::clean_up) << at;
    // The flow runs no ApplicationStop of its own: the clean-up is the provider's.
    EXPECT_EQ(w.asks(), "terminate green") << at;
    w.feed(input::ActionDone{"ValidateService failed on i-1. What was started has been stopped"});
    EXPECT_EQ(w.d().status, DeploymentStatus::failed);
    ASSERT_TRUE(w.d().error);
    EXPECT_EQ(w.d().error->message,
              "ValidateService failed on i-1. What was started has been stopped");
    EXPECT_EQ(w.d().error->code, "JobFailed");
    EXPECT_EQ(w.asks(), "nothing");
  }
}

TEST(ProviderFlow, AProviderThatAlreadyCleanedUpIsNotAskedAgain) {
  CloudWalk w;
  w.launched();
  w.feed(input::Failed{Error{ErrorKind::failed, "the token was lost; CodeDeploy d-1 stopped"},
                       {},
                       true,
                       /*cleaned_up=*/true});
  EXPECT_EQ(w.d().status, DeploymentStatus::failed);
  EXPECT_EQ(w.asks(), "nothing");
  EXPECT_EQ(w.d().phases.back().phase, Phase::install);
  EXPECT_EQ(w.d().phases.back().outcome, PhaseOutcome::failed);
}

TEST(ProviderFlow, NothingThatMayServeIsRemovedByAFailureAfterTheSwitch) {
  // Every way a deployment can fail once install succeeded: the provider's confirmation or
  // blue's retirement failing, and a restart in either step.
  for (int way = 0; way < 3; ++way) {
    CloudWalk w;
    w.launched();
    w.installed();
    if (way >= 1) w.feed(input::ActionDone{});
    if (way == 2) {
      w.feed(input::Resume{});  // carries on; the failure comes after it
      EXPECT_EQ(w.asks(), "terminate blue");
    }
    w.feed(input::Failed{
        Error{ErrorKind::failed, "TIMEOUT (600 s) passed before Spot finished", "JobFailed"}});
    EXPECT_EQ(w.d().status, DeploymentStatus::failed) << way;
    EXPECT_EQ(w.asks(), "nothing") << way;  // no clean_up: no terminate green, nothing else
    for (const auto& p : w.d().phases) EXPECT_NE(p.phase, Phase::clean_up) << way;
    for (const auto& green : w.d().green) EXPECT_NE(green.state, InstanceState::terminated);
    EXPECT_NE(w.d().error->message.find("before Spot finished"), std::string::npos);
  }
}

TEST(ProviderFlow, ARestartCarriesOnWithTheStepInProgress) {
  CloudWalk w;
  w.launched();
  w.feed(input::Resume{}, 2h);  // long after TIMEOUT, which the provider keeps
  EXPECT_EQ(w.d().status, DeploymentStatus::running);
  EXPECT_EQ(w.d().phase, Phase::install);
  EXPECT_EQ(w.asks(),
            "run DownloadBundle, BeforeInstall, Install, AfterInstall, ApplicationStart, "
            "ValidateService on green");
  bool said = false;
  for (const auto& e : w.t_.events) {
    said = said || e.message == "resuming step install from the provider's saved state";
  }
  EXPECT_TRUE(said);

  // A record saved before the deployment began (the server died right after accepting it)
  // starts it.
  Deployment fresh = new_deployment("d-cloud", cloud_spec(), "test", "gid-1", w.now_, {});
  auto t = step(fresh, Input{w.now_, input::Resume{}});
  EXPECT_EQ(t.deployment.phase, Phase::launch_green);
  ASSERT_TRUE(t.action);
  EXPECT_EQ(describe(*t.action), "launch the green fleet");
}

TEST(ProviderFlow, TheProviderKeepsTimeAndRollbackIsRefused) {
  CloudWalk w;
  // A step that answers long after TIMEOUT is the provider's to judge: the flow goes on.
  w.feed(input::GreenLaunched{{green("i-1")}, ""}, 2h);
  EXPECT_EQ(w.d().phase, Phase::install);
  EXPECT_EQ(w.d().status, DeploymentStatus::running);
  auto refused = can_roll_back(w.d());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("no blue fleet to roll back to"), std::string::npos);
  w.feed(input::RollbackRequested{"alice"});
  EXPECT_EQ(w.d().status, DeploymentStatus::running);
  EXPECT_EQ(w.d().phase, Phase::install);
}

}  // namespace
}  // namespace bluegreen
