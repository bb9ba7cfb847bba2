#include "engine/deployment_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/flow.h"
#include "engine/fakes.h"
#include "temp_dir.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

using testing::TempDir;

// An installer that holds every run until released, so a deployment stays in install.
class HeldInstaller final : public Installer, public Gate {
 public:
  Result<void> run(const Bundle&, const std::vector<Instance>&, const std::vector<std::string>&,
                   const LifecycleContext&, TimePoint, std::vector<HookResult>&) override {
    hold();
    return {};
  }
};

DeploymentSpec spec(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json params = {
      {"TIMEOUT", "60"}, {"LISTEN", "127.0.0.1:18080"}, {"BLUE_TERMINATION_WAIT", "5"}};
  params.update(overrides);
  return test_spec(params);
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { open_service(); }

  void open_service(Installer* installer = nullptr) {
    service_.reset();  // a new server on the same journal, as a restart reads the same file
    ServiceDeps deps{fleet_,
                     FleetRecovery{[this](const std::vector<Instance>& i) { fleet_.adopt(i); },
                                   [this] { return recorded_ ? *recorded_ : fleet_.list(); },
                                   [this](const std::vector<std::string>& ids) {
                                     std::map<std::string, std::vector<pid_t>> found;
                                     for (const auto& id : ids) {
                                       auto it = processes_.find(id);
                                       if (it != processes_.end()) found.insert(*it);
                                     }
                                     return found;
                                   }},
                     fetcher_,
                     installer ? *installer : installer_,
                     probe_,
                     clock_,
                     *journal_,
                     log_,
                     [this](const std::string& listen) -> Result<std::unique_ptr<GroupTraffic>> {
                       ++opened_;
                       opened_addresses_.push_back(listen);
                       if (port_taken_) {
                         return fail(ErrorKind::unavailable, "bind: Address already in use");
                       }
                       // Port 0 binds wherever the OS says, as a real listener does.
                       std::string bound = listen;
                       if (bound.ends_with(":0")) {
                         bound =
                             bound.substr(0, bound.size() - 1) + std::to_string(40000 + opened_);
                       }
                       return std::make_unique<FakeGroupTraffic>(traffic_, bound);
                     },
                     dir_.path() / "bundles"};
    deps.namespaces_unavailable = namespaces_unavailable_;
    service_ = std::make_unique<DeploymentService>(deps);
  }

  Deployment deploy_and_wait(DeploymentSpec s = spec()) {
    auto started = service_->start_deployment(std::move(s), "test");
    EXPECT_TRUE(started) << started.error().message;
    service_->wait_idle();
    return *service_->deployment(started->id);
  }

  TempDir dir_;
  FakeClock clock_;
  FakeFleet fleet_;
  FakeFetcher fetcher_;
  FakeInstaller installer_;
  FakeHealthProbe probe_;
  FakeTraffic traffic_;
  LiveLog log_;
  std::optional<std::vector<Instance>> recorded_;        // instances on disk; unset: the fleet's
  std::map<std::string, std::vector<pid_t>> processes_;  // live processes by instance id
  int opened_ = 0;
  std::vector<std::string> opened_addresses_;
  std::atomic<bool> port_taken_ = false;
  std::optional<std::string> namespaces_unavailable_;  // why this "server" cannot make them
  std::unique_ptr<MemoryJournal> journal_ = std::make_unique<MemoryJournal>();
  std::unique_ptr<DeploymentService> service_;
};

TEST_F(ServiceTest, ADeploymentRunsToTheEndAndItsGroupServesIt) {
  auto d = deploy_and_wait();
  EXPECT_EQ(d.status, DeploymentStatus::succeeded);
  auto groups = service_->status();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].listen, "127.0.0.1:18080");
  EXPECT_EQ(groups[0].routed_fleet, d.id);
  EXPECT_EQ(groups[0].instances.size(), 2u);
  EXPECT_FALSE(groups[0].running);
  EXPECT_EQ(service_->deployments()->size(), 1u);
  EXPECT_FALSE(service_->events(d.id)->empty());
  EXPECT_EQ(service_->deployment("d-nope").error().kind, ErrorKind::not_found);

  auto second = deploy_and_wait();
  ASSERT_TRUE(second.blue);
  EXPECT_EQ(second.blue->fleet_id, d.id) << "the serving fleet is the next deployment's blue";
  EXPECT_EQ(opened_, 1) << "one listener per group";
}

TEST_F(ServiceTest, OneDeploymentPerGroupAtATime) {
  HeldInstaller held;
  open_service(&held);
  auto first = service_->start_deployment(spec(), "test");
  ASSERT_TRUE(first);
  held.wait_until_held();

  auto second = service_->start_deployment(spec(), "test");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_NE(second.error().message.find(first->id), std::string::npos);
  EXPECT_NE(second.error().message.find("install"), std::string::npos);

  auto other_group = spec();
  other_group.group_id = "api";
  other_group.listen = "127.0.0.1:18081";
  EXPECT_TRUE(service_->start_deployment(other_group, "test")) << "other groups are free";
  held.release();
  service_->wait_idle();
}

TEST_F(ServiceTest, PromoteReachesTheDeploymentWaitingForIt) {
  EXPECT_FALSE(service_->promote(Selector{"", "api"}, "me")) << "no such group";
  // The fake clock lets a wait end at once, so the promotion is asked for the moment the
  // deployment starts waiting (on its worker thread, as a person would, only faster).
  std::optional<Result<Deployment>> promoted;
  auto subscription = log_.subscribe([&](const DeploymentEvent*, const Deployment* d) {
    if (d && d->step == Step::await_promotion && !promoted) {
      promoted = service_->promote(Selector{}, "alice");
    }
  });
  auto started = service_->start_deployment(spec({{"PROMOTION", "manual"}}), "test");
  ASSERT_TRUE(started);
  service_->wait_idle();
  ASSERT_TRUE(promoted && *promoted);
  auto d = *service_->deployment(started->id);
  EXPECT_EQ(d.status, DeploymentStatus::succeeded);
  EXPECT_EQ(d.promoted_by, "alice");
}

TEST_F(ServiceTest, RollbackOfAnEndedDeploymentSaysWhatToDoInstead) {
  deploy_and_wait();
  deploy_and_wait();
  auto refused = service_->roll_back(Selector{"", "web"}, "me");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::conflict);
  EXPECT_NE(refused.error().message.find("deploy the earlier revision"), std::string::npos);
}

TEST_F(ServiceTest, AGroupKeepsItsAddressWhileAFleetServes) {
  deploy_and_wait();
  auto moved = spec();
  moved.listen = "127.0.0.1:19999";
  auto refused = service_->start_deployment(moved, "test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(refused.error().message.find("LISTEN"), std::string::npos);
}

// A group is known by its name; one that prints like another is refused before anything starts.
TEST_F(ServiceTest, AGroupIdThatPrintsLikeAnotherIsRefused) {
  deploy_and_wait();
  for (const char* name : {" web", "web ", "web\n", "we\tb"}) {
    auto look_alike = spec();
    look_alike.group_id = name;
    look_alike.listen = "127.0.0.1:18081";
    auto refused = service_->start_deployment(look_alike, "test");
    ASSERT_FALSE(refused) << name;
    EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(refused.error().message.find("GROUP_ID"), std::string::npos) << name;
  }
  EXPECT_EQ(service_->deployments()->size(), 1u);
  EXPECT_EQ(service_->status().size(), 1u);
  EXPECT_EQ(opened_, 1);
}

TEST_F(ServiceTest, OnlyTheLocalProviderRunsHere) {
  auto cloud = spec();
  cloud.provider = Provider::elastigroup;
  auto refused = service_->start_deployment(cloud, "test");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("PROVIDER"), std::string::npos);
}

// ISOLATION is decided when a deployment starts, from what this server can do, and kept in
// its spec; what cannot run is refused before any instance is launched.
TEST_F(ServiceTest, IsolationIsDecidedBeforeAnythingStarts) {
  auto isolated = deploy_and_wait();
  EXPECT_EQ(isolated.spec.isolation, Isolation::namespaces) << "the default where possible";
  for (const auto& instance : isolated.green) EXPECT_EQ(instance.isolation, Isolation::namespaces);

  namespaces_unavailable_ = "unshare: Operation not permitted";
  open_service();
  auto launched_before = fleet_.list().size();
  auto wanted = service_->start_deployment(spec({{"ISOLATION", "namespaces"}}), "test");
  ASSERT_FALSE(wanted);
  EXPECT_NE(wanted.error().message.find(
                "this server cannot create namespaces (unshare: Operation not permitted)"),
            std::string::npos)
      << wanted.error().message;
  auto shared_port = service_->start_deployment(spec({{"APP_PORT", "8080"}}), "test");
  ASSERT_FALSE(shared_port);
  EXPECT_NE(shared_port.error().message.find("APP_PORT 8080 needs ISOLATION=namespaces"),
            std::string::npos);
  EXPECT_EQ(fleet_.list().size(), launched_before) << "nothing launched for a refused spec";

  auto shared = deploy_and_wait();
  EXPECT_EQ(shared.spec.isolation, Isolation::none);
  for (const auto& instance : shared.green) EXPECT_EQ(instance.isolation, Isolation::none);
}

TEST_F(ServiceTest, ARestartReadoptsTheServingFleetAndStopsOrphans) {
  auto d = deploy_and_wait();
  // A fleet the journal knows, whose instance outlived its deployment's end.
  auto gone = d;
  gone.id = "d-gone";
  gone.status = DeploymentStatus::failed;
  ASSERT_TRUE(journal_->save(gone));
  auto orphan = fleet_.launch(LaunchRequest{"d-gone", 1, {}});
  open_service();  // a new server on the same journal and machine
  traffic_.route("nothing");
  ASSERT_TRUE(service_->recover());

  auto groups = service_->status();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].routed_fleet, d.id);
  EXPECT_EQ(groups[0].instances.size(), 2u);
  auto terminated = fleet_.terminated();
  EXPECT_NE(std::ranges::find(terminated, orphan->front().id), terminated.end());
  EXPECT_EQ(service_->deployments()->size(), 2u) << "history survives";
}

TEST_F(ServiceTest, ARestartWithTheServingFleetGoneDeploysItsRevisionAgain) {
  auto d = deploy_and_wait();
  recorded_ = std::vector<Instance>{};  // the machine rebooted: no instance survived
  open_service();
  ASSERT_TRUE(service_->recover());
  service_->wait_idle();

  auto history = *service_->deployments();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].status, DeploymentStatus::succeeded);
  EXPECT_NE(history[0].started_by.find(d.id), std::string::npos);
  EXPECT_EQ(traffic_.routed_fleet(), history[0].id);
}

TEST_F(ServiceTest, ARestartWhileAnotherProcessHoldsTheListenPortKeepsTheFleetAndBindsLater) {
  auto d = deploy_and_wait();
  open_service();
  traffic_.route("nothing");
  port_taken_ = true;
  ASSERT_TRUE(service_->recover());

  auto groups = service_->status();
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_TRUE(groups[0].listen_error.has_value());
  EXPECT_NE(groups[0].listen_error->find("listener 127.0.0.1:18080 not bound yet"),
            std::string::npos)
      << *groups[0].listen_error;
  EXPECT_NE(groups[0].listen_error->find("Address already in use"), std::string::npos);
  EXPECT_EQ(groups[0].instances.size(), 2u);
  EXPECT_TRUE(fleet_.terminated().empty()) << "the serving fleet keeps running";
  auto refused = service_->start_deployment(spec(), "test");
  EXPECT_FALSE(refused) << "the port is still taken";

  port_taken_ = false;
  for (int i = 0; i < 200 && service_->status()[0].listen_error; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  groups = service_->status();
  EXPECT_FALSE(groups[0].listen_error.has_value());
  EXPECT_EQ(groups[0].listen, "127.0.0.1:18080");
  EXPECT_EQ(groups[0].routed_fleet, d.id);
  EXPECT_TRUE(fleet_.terminated().empty());
}

TEST_F(ServiceTest, ARestartOnAJournalThatDoesNotKnowTheLiveInstancesStopsNothing) {
  deploy_and_wait();
  service_.reset();
  journal_ = std::make_unique<MemoryJournal>();  // journal.db deleted
  open_service();  // a journal created afresh beside the instances of the old one
  auto recovered = service_->recover();
  ASSERT_FALSE(recovered);
  EXPECT_NE(recovered.error().message.find("no record of fleet"), std::string::npos)
      << recovered.error().message;
  EXPECT_TRUE(fleet_.terminated().empty());
  EXPECT_EQ(fleet_.list().size(), 2u);
}

TEST_F(ServiceTest, ARestartWhoseServingInstancesLostTheirDirectoriesButRunStartsNothing) {
  auto d = deploy_and_wait();
  ASSERT_EQ(d.green.size(), 2u);
  recorded_ = std::vector<Instance>{};  // instances/ moved away while the server was down
  processes_[d.green[0].id] = {4242, 4243};
  open_service();
  auto recovered = service_->recover();
  ASSERT_FALSE(recovered);
  EXPECT_EQ(recovered.error().kind, ErrorKind::failed);
  EXPECT_NE(recovered.error().message.find(d.green[0].id + " (pid 4242, 4243)"), std::string::npos)
      << recovered.error().message;
  EXPECT_EQ(recovered.error().message.find(d.green[1].id), std::string::npos)
      << "an instance without processes is not named";
  EXPECT_TRUE(fleet_.terminated().empty());
  EXPECT_EQ(service_->deployments()->size(), 1u) << "the group is not restored beside them";
  EXPECT_EQ(opened_, 1) << "no listener opened";
}

TEST_F(ServiceTest, AGroupOnPortZeroComesBackOnThePortItHad) {
  auto d = deploy_and_wait(spec({{"LISTEN", "127.0.0.1:0"}}));
  auto before = service_->status()[0].listen;
  EXPECT_NE(before, "127.0.0.1:0");
  open_service();
  ASSERT_TRUE(service_->recover());
  EXPECT_EQ(opened_addresses_.back(), before);
  EXPECT_EQ(service_->status()[0].listen, before);
  EXPECT_EQ(service_->status()[0].routed_fleet, d.id);
}

}  // namespace
}  // namespace bluegreen
