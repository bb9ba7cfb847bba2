// Fault injection for the local flow: pass-through wrappers around the fake ports forward every
// call and override one to fail the way the real thing fails. Each case checks what a user
// would notice (docs/faults.md): the deployment ends in a definite state, blue serves when it
// failed, no green is left, and the cause is reported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "engine/executor_test_world.h"

namespace bluegreen {
namespace {

using ::testing::HasSubstr;

// Answers through the real probe, except for the instances `fails` picks, whose check fails
// with `cause` (a green whose process died: nothing listens on its port any more).
class FaultyProbe final : public HealthProbe {
 public:
  FaultyProbe(HealthProbe& real, std::function<bool(const Instance&, int check)> fails,
              std::string cause)
      : real_(real), fails_(std::move(fails)), cause_(std::move(cause)) {}
  Result<void> check(const Instance& instance, const std::string& path,
                     TimePoint deadline) override {
    int check = checks_++;
    if (fails_(instance, check)) return fail(ErrorKind::unavailable, cause_);
    return real_.check(instance, path, deadline);
  }

 private:
  HealthProbe& real_;
  std::function<bool(const Instance&, int)> fails_;
  std::string cause_;
  std::atomic<int> checks_ = 0;
};

// Stores through the real journal until the disk "fills up": from then on every write fails
// as a write to a full disk does.
class FullDiskJournal final : public JournalWrapper {
 public:
  FullDiskJournal(Journal& real, int writes_before_full)
      : JournalWrapper(real), left_(writes_before_full) {}
  Result<void> save(const Deployment& deployment) override {
    if (full()) return disk_full();
    return JournalWrapper::save(deployment);
  }
  Result<void> append(const DeploymentEvent& event) override {
    if (full()) return disk_full();
    return JournalWrapper::append(event);
  }
  Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) override {
    if (full()) return disk_full();
    return JournalWrapper::set_serving(group_id, fleet_id);
  }
  Result<void> set_listener(const std::string& group_id, const std::string& address) override {
    if (full()) return disk_full();
    return JournalWrapper::set_listener(group_id, address);
  }

 private:
  bool full() { return left_-- <= 0; }
  static Result<void> disk_full() {
    return fail(ErrorKind::unavailable, "database or disk is full (No space left on device)");
  }
  int left_;
};

class ExecutorFaultsTest : public ::testing::Test, protected ExecutorTestWorld {
 protected:
  // test_spec() with a short BLUE_TERMINATION_WAIT.
  static DeploymentSpec spec(nlohmann::json overrides = nlohmann::json::object()) {
    overrides["BLUE_TERMINATION_WAIT"] = "5";
    return test_spec(overrides);
  }

  Deployment deploy(HealthProbe& health, Journal& journal_port, DeploymentSpec s) {
    Executor executor(ports(installer, health, journal_port), bundles.path());
    return executor.run(new_test_deployment(std::move(s), serving_blue()), inbox);
  }

  std::set<std::string> live_fleets() const {
    std::set<std::string> out;
    for (const auto& instance : fleet.list()) out.insert(instance.fleet_id);
    return out;
  }

  bool reported(const std::string& words) const {
    return std::ranges::any_of(sink.events(), [&](const DeploymentEvent& e) {
      return e.message.find(words) != std::string::npos;
    });
  }
};

TEST_F(ExecutorFaultsTest, AGreenThatDiesDuringTheHealthGateFailsTheDeploymentBlueServes) {
  // The second green answers twice, then its process is gone.
  std::string victim;
  int answered = 0;
  FaultyProbe dying(
      probe,
      [&](const Instance& instance, int) {
        if (victim.empty() && instance.fleet_id != "d-blue") victim = instance.id;
        return instance.id == victim && ++answered > 2;
      },
      "connection refused");
  auto d = deploy(dying, journal, spec({{"HEALTHY_THRESHOLD", "5"}}));
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error.has_value());
  EXPECT_THAT(d.error->message, HasSubstr("connection refused"));
  EXPECT_THAT(d.error->message, HasSubstr(victim));
  EXPECT_EQ(traffic.routed_fleet(), "d-blue");
  EXPECT_EQ(live_fleets(), std::set<std::string>{"d-blue"});
}

TEST_F(ExecutorFaultsTest, AFlappingHealthCheckNeverCountsAsHealthy) {
  // Every other check fails: never HEALTHY_THRESHOLD (3) successes in a row.
  FaultyProbe flapping(
      probe, [](const Instance&, int check) { return (check / 2) % 2 == 1; }, "HTTP 503");
  auto d = deploy(flapping, journal, spec({{"HEALTHY_THRESHOLD", "3"}}));
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error.has_value());
  EXPECT_THAT(d.error->message, HasSubstr("not healthy"));
  EXPECT_EQ(traffic.routed_fleet(), "d-blue");
  EXPECT_EQ(live_fleets(), std::set<std::string>{"d-blue"});
}

TEST_F(ExecutorFaultsTest, AFlappingHealthCheckPassesOnceItHoldsForTheThreshold) {
  // Flaps for the first six checks, then stays healthy: passes after 2 clean rounds.
  FaultyProbe settling(
      probe, [](const Instance&, int check) { return check < 6 && check % 4 < 2; }, "HTTP 503");
  auto d = deploy(settling, journal, spec({{"HEALTHY_THRESHOLD", "2"}}));
  EXPECT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_EQ(traffic.routed_fleet(), d.id);
}

TEST_F(ExecutorFaultsTest, AFullDiskEndsTheDeploymentInADefiniteReportedState) {
  for (int writes : {0, 3, 10, 25, 60}) {
    SCOPED_TRACE(writes);
    MemoryJournal real;
    FullDiskJournal full(real, writes);
    auto d = deploy(probe, full, spec());
    EXPECT_NE(d.status, DeploymentStatus::running);
    EXPECT_TRUE(reported("No space left on device"));
    // Exactly one fleet lives and it is the one that serves.
    auto routed = traffic.routed_fleet();
    ASSERT_TRUE(routed.has_value());
    EXPECT_EQ(live_fleets(), std::set<std::string>{*routed});
    EXPECT_EQ(*routed, d.status == DeploymentStatus::succeeded ? d.id : "d-blue");
    // Next round starts from a clean group.
    for (const auto& instance : fleet.list()) (void)fleet.terminate({instance.id});
  }
}

TEST_F(ExecutorFaultsTest, ARestartAfterAFullDiskKeepsTheFleetThatServed) {
  // The disk fills after `writes` journal writes, at every point of a deployment in turn
  // (one that runs to the end, and one rolled back on request after the switch). Then the
  // server restarts: a new switch routes what the durable record says serves, and the
  // deployment, when the record says it was running, resumes from its last durable step.
  // Whatever served before the restart serves after it, and it is the only fleet left.
  bool roll_back_at_keep_blue = false;
  sink.on_update([&](const Deployment& d) {
    if (roll_back_at_keep_blue && d.phase == Phase::keep_blue) {
      inbox.post(input::RollbackRequested{"test"});
    }
  });
  for (int test = 0; test < 2 * 46; ++test) {
    roll_back_at_keep_blue = test % 2 == 1;
    int writes = 2 * (test / 2);
    SCOPED_TRACE(::testing::Message()
                 << writes << " writes, roll back: " << roll_back_at_keep_blue);
    MemoryJournal real;
    auto blue = serving_blue();
    ASSERT_TRUE(real.set_serving("web", "d-blue"));
    FullDiskJournal full(real, writes);
    Executor executor(ports(installer, probe, full), bundles.path());
    auto d = executor.run(new_test_deployment(spec(), blue), inbox);
    roll_back_at_keep_blue = false;
    while (inbox.take()) {
    }
    ASSERT_EQ(d.spec.group_id, "web");
    auto served = traffic.routed_fleet();
    ASSERT_TRUE(served.has_value());

    FakeTraffic restarted;
    auto routed = real.serving("web");
    if (routed) {
      std::vector<Instance> instances;
      for (const auto& instance : fleet.list()) {
        if (instance.fleet_id == *routed) instances.push_back(instance);
      }
      restarted.register_fleet(*routed, instances);
      restarted.route(*routed);
    }
    auto record = real.saved(d.id);
    if (record && record->status == DeploymentStatus::running) {
      Executor again(ExecutorPorts{fleet, fetcher, installer, probe, restarted, clock, real, sink},
                     bundles.path());
      auto resumed = again.resume(*record, inbox, routed);
      EXPECT_NE(resumed.status, DeploymentStatus::running);
    }
    EXPECT_EQ(restarted.routed_fleet(), served);
    EXPECT_EQ(live_fleets(), std::set<std::string>{*served});
    for (const auto& instance : fleet.list()) (void)fleet.terminate({instance.id});
  }
}

}  // namespace
}  // namespace bluegreen
