#include "engine/executor.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/executor_test_world.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

class ExecutorTest : public ::testing::Test, protected ExecutorTestWorld {
 protected:
  Deployment deploy(DeploymentSpec s, std::optional<BlueFleet> blue = std::nullopt) {
    return executor.run(new_test_deployment(std::move(s), std::move(blue)), inbox);
  }

  std::vector<std::string> live_fleets() const {
    std::vector<std::string> out;
    for (const auto& instance : fleet.list()) out.push_back(instance.fleet_id);
    return out;
  }

  Executor executor{ports(), bundles.path()};
};

TEST_F(ExecutorTest, FirstDeploymentEndsWithGreenServingAndJournaled) {
  auto d = deploy(test_spec());
  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_EQ(traffic.routed_fleet(), d.id);
  EXPECT_EQ(journal.serving("web"), d.id);
  EXPECT_EQ(journal.saved(d.id)->status, DeploymentStatus::succeeded);
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{d.id, d.id}));
  EXPECT_EQ(d.green[0].tags.at("GreenIdentifier"), d.green_identifier);

  auto ran = installer.ran();
  EXPECT_EQ(ran.front(), d.green[0].id + ":DownloadBundle");
  EXPECT_EQ(ran.back(), d.green[1].id + ":AfterAllowTraffic");
  auto started =
      std::ranges::count(sink.events(), EventKind::phase_started, &DeploymentEvent::kind);
  EXPECT_EQ(started, static_cast<long>(d.phases.size()));
  EXPECT_GT(journal.saves(), 8);
}

TEST_F(ExecutorTest, SecondDeploymentKeepsBlueForTheWaitThenTerminatesIt) {
  auto blue = serving_blue();
  auto d = deploy(test_spec(), blue);
  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{d.id, d.id}));
  EXPECT_EQ(fleet.terminated(),
            (std::vector<std::string>{blue.instances[0].id, blue.instances[1].id}));
  EXPECT_EQ(traffic.routes(), (std::vector<std::string>{"d-blue", d.id}));
  EXPECT_FALSE(traffic.fleets().contains("d-blue"));

  auto keep = std::ranges::find(d.phases, Phase::keep_blue, &PhaseRecord::phase);
  ASSERT_NE(keep, d.phases.end());
  EXPECT_GE(*keep->ended - keep->started, 60s);
  auto ran = installer.ran();
  EXPECT_NE(std::ranges::find(ran, blue.instances[0].id + ":BeforeBlockTraffic"), ran.end());
}

TEST_F(ExecutorTest, FailingValidateServiceLeavesNoGreenAndBlueServing) {
  auto blue = serving_blue();
  installer.fail_event("ValidateService");
  auto d = deploy(test_spec(), blue);

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_NE(d.error->message.find("ValidateService"), std::string::npos);
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{"d-blue", "d-blue"}));
  EXPECT_EQ(traffic.routes(), std::vector<std::string>{"d-blue"});
  EXPECT_FALSE(std::filesystem::exists(bundles.path() / d.id));
}

TEST_F(ExecutorTest, HooksRunningPastTimeoutFailTheDeploymentNamingTimeout) {
  FakeInstaller slow(&clock, 20s);
  Executor slow_executor{ports(slow, probe, journal), bundles.path()};
  auto d = slow_executor.run(
      new_deployment("d-slow", test_spec(), "test", new_uuid(), clock.now(), std::nullopt), inbox);

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->kind, ErrorKind::timeout);
  EXPECT_NE(d.error->message.find("TIMEOUT of 30 s"), std::string::npos) << d.error->message;
  EXPECT_TRUE(fleet.list().empty());
}

TEST_F(ExecutorTest, AHalfDoneLaunchIsCleanedUp) {
  fleet.fail_launch_after(1);
  auto d = deploy(test_spec());
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_TRUE(fleet.list().empty());
  EXPECT_EQ(fleet.terminated().size(), 1u);
}

TEST_F(ExecutorTest, AnUnhealthyGreenFailsBeforeTheDeadlineAndIsTerminated) {
  probe.all_unhealthy(true);
  auto d = deploy(test_spec());
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_NE(d.error->message.find("connection refused"), std::string::npos);
  EXPECT_TRUE(fleet.list().empty());
  EXPECT_GE(probe.checks(), 20);
}

TEST_F(ExecutorTest, ARevisionThatCannotBeFetchedFailsWithTheReason) {
  fetcher.fail_with(Error{ErrorKind::not_found, "/srv/hello does not exist"});
  auto d = deploy(test_spec());
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_NE(d.error->message.find("/srv/hello does not exist"), std::string::npos);
  EXPECT_TRUE(installer.ran().empty());
}

TEST_F(ExecutorTest, RollbackWhileBlueIsKeptSwitchesBackAtOnce) {
  auto blue = serving_blue();
  sink.on_update([&](const Deployment& d) {
    if (d.step == Step::keep_blue) inbox.post(input::RollbackRequested{"alice"});
  });
  auto start = clock.now();
  auto d = deploy(test_spec(), blue);

  EXPECT_EQ(d.status, DeploymentStatus::rolled_back);
  EXPECT_EQ(traffic.routed_fleet(), "d-blue");
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{"d-blue", "d-blue"}));
  EXPECT_LT(clock.now() - start, 60s) << "did not sit out BLUE_TERMINATION_WAIT";
}

// A step is a split, never recorded as green serving; a trip of MAX_ERROR_RATE during it
// routes every request back to blue as the very next traffic change.
TEST_F(ExecutorTest, ATripDuringATrafficStepRoutesBackToBlueAndEndsRolledBack) {
  auto blue = serving_blue();
  std::string green_id;
  sink.on_update([&](const Deployment& d) { green_id = d.id; });
  traffic.report_stats([&](int call) {
    FleetTraffic green{green_id};
    if (call > 0) {  // after the first sample: 100 answers, 30 of them 5xx
      green.requests_total = 100;
      green.server_errors_total = 30;
      green.latency_counts[0] = 100;
    }
    return std::vector<FleetTraffic>{FleetTraffic{"d-blue"}, green};
  });
  auto d = deploy(test_spec({{"TRAFFIC_STEPS", "10,100"},
                             {"STEP_WAIT", "600"},
                             {"MAX_ERROR_RATE", "5"},
                             {"MIN_REQUESTS", "20"}}),
                  blue);

  EXPECT_EQ(d.status, DeploymentStatus::rolled_back);
  ASSERT_TRUE(d.error);
  EXPECT_NE(d.error->message.find("automatic rollback: green answered 30 of 100 requests (30.0%)"),
            std::string::npos)
      << d.error->message;
  EXPECT_EQ(traffic.routes(), (std::vector<std::string>{"d-blue", d.id + "@10", "d-blue"}));
  EXPECT_FALSE(traffic.traffic_split());
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{"d-blue", "d-blue"}));
}

TEST_F(ExecutorTest, TrafficStepsSplitThenSwitch) {
  auto blue = serving_blue();
  auto d = deploy(test_spec({{"TRAFFIC_STEPS", "10,50,100"}, {"STEP_WAIT", "5"}}), blue);
  EXPECT_EQ(d.status, DeploymentStatus::succeeded);
  EXPECT_EQ(traffic.routes(),
            (std::vector<std::string>{"d-blue", d.id + "@10", d.id + "@50", d.id}));
  EXPECT_FALSE(traffic.traffic_split());
}

TEST_F(ExecutorTest, ManualPromotionWaitsForThePromoteRequest) {
  sink.on_update([&](const Deployment& d) {
    if (d.step == Step::await_promotion) inbox.post(input::PromoteRequested{"alice"});
  });
  auto d = deploy(test_spec({{"PROMOTION", "manual"}, {"PREVIEW_LISTEN", "127.0.0.1:0"}}));
  EXPECT_EQ(d.status, DeploymentStatus::succeeded);
  EXPECT_EQ(d.promoted_by, "alice");
  EXPECT_EQ(traffic.previewed_fleet(), d.id);
}

TEST_F(ExecutorTest, ResumingAnInterruptedInstallCleansUpItsGreens) {
  // The record as the journal held it when the server died during install.
  auto blue = serving_blue();
  auto t = start(new_deployment("d-cut", test_spec(), "test", new_uuid(), clock.now(), blue),
                 clock.now());
  t = step(t.deployment, Input{clock.now(), input::RevisionFetched{bundles.path(), "x"}});
  auto greens = fleet.launch(LaunchRequest{"d-cut", 2, {}});
  t = step(t.deployment, Input{clock.now(), input::GreenLaunched{*greens}});
  ASSERT_EQ(t.deployment.step, Step::install);

  auto d = executor.resume(t.deployment, inbox);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_NE(d.error->message.find("restarted"), std::string::npos);
  EXPECT_EQ(live_fleets(), (std::vector<std::string>{"d-blue", "d-blue"}));
  EXPECT_EQ(traffic.routed_fleet(), "d-blue");
}

TEST(Ids, DeploymentIdsAndUuidsHaveTheirShapeAndDiffer) {
  auto id = new_deployment_id();
  EXPECT_EQ(id.size(), 14u);
  EXPECT_TRUE(id.starts_with("d-"));
  EXPECT_NE(id, new_deployment_id());
  auto uuid = new_uuid();
  ASSERT_EQ(uuid.size(), 36u);
  EXPECT_EQ(uuid[14], '4');
  EXPECT_NE(uuid, new_uuid());
}

}  // namespace
}  // namespace bluegreen
