// DeploymentService with PROVIDER=elastigroup deployments (the cloud rules of
// deployment_service.h): one per group, shown as a cloud group, never promoted or rolled back,
// resumed by recover() without a second Spot or CodeDeploy deployment, stopped (not ended) by
// shutdown(), and never touching this machine's fleet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "adapters/elastigroup/elastigroup_fakes.h"
#include "engine/deployment_service.h"
#include "engine/fakes.h"
#include "engine/provider.h"

namespace bluegreen {
namespace {

namespace eg = elastigroup;
using ::testing::HasSubstr;

constexpr const char* kGroup = "sig-12345678";

DeploymentSpec cloud_spec(const std::string& token = "ssm:/spot/token") {
  auto spec = parse_spec(std::string_view(R"({"API_TOKEN":")" + token + R"(",
    "ACCOUNT_ID":"act-12345678","GROUP_ID":"sig-12345678","APP_NAME":"app",
    "DEPLOYMENT_GROUP":"dg","TIMEOUT":"1800","S3_BUCKET":"b","S3_KEY":"app.zip",
    "S3_BUNDLE":"zip"})"));
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

DeploymentSpec asg_spec() {
  auto spec = parse_spec(std::string_view(R"({"PROVIDER":"asg","GROUP_ID":"sig-12345678",
    "APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":"900","S3_BUCKET":"b","S3_KEY":"app.zip",
    "S3_BUNDLE":"zip"})"));
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

// PROVIDER=asg as far as the service sees it: every run finds no Auto Scaling group and ends.
class NoAutoScalingGroups final : public ProviderSource {
 public:
  Result<void> check(const DeploymentSpec&) const override { return {}; }
  std::string green_identifier(const DeploymentSpec&, const std::string& id) const override {
    return "g-" + id;
  }
  Result<std::unique_ptr<FleetProvider>> open(const Deployment&, bool, EventSink&) override {
    return std::make_unique<Missing>();
  }

 private:
  class Missing final : public FleetProvider {
    static InputEvent gone() {
      return input::Failed{Error{ErrorKind::not_found, "no Auto Scaling group"}, {}, false, true};
    }
    InputEvent launch_green(ProviderCall&, const action::LaunchGreen&) override { return gone(); }
    InputEvent run_hooks(ProviderCall&, const action::RunHooks&) override { return gone(); }
    InputEvent move_traffic(ProviderCall&, const action::Route&) override { return gone(); }
    InputEvent retire_blue(ProviderCall&) override { return gone(); }
    InputEvent clean_up(ProviderCall&) override { return gone(); }
  };
};

// Spot, with every call held until released: a deployment stays running while a test looks.
class HeldSpot final : public eg::SpotBlueGreen, public Gate {
 public:
  explicit HeldSpot(eg::SpotBlueGreen& inner) : inner_(inner) {}
  Result<eg::SpotGroup> read_group(const eg::SpotAccess& a, bool c) override {
    hold();
    return inner_.read_group(a, c);
  }
  Result<std::vector<eg::SpotDeployment>> list_deployments(const eg::SpotAccess& a) override {
    hold();
    return inner_.list_deployments(a);
  }
  Result<eg::SpotDeployment> create_deployment(const eg::SpotAccess& a,
                                               const eg::SpotBlueGreenRequest& r) override {
    hold();
    return inner_.create_deployment(a, r);
  }
  Result<void> stop_deployment(const eg::SpotAccess& a, const std::string& id) override {
    hold();
    return inner_.stop_deployment(a, id);
  }
  Result<void> detach_and_terminate(const eg::SpotAccess& a,
                                    const std::vector<std::string>& ids) override {
    hold();
    return inner_.detach_and_terminate(a, ids);
  }
  Result<eg::SpotCosts> group_costs(const eg::SpotAccess& a, TimePoint from,
                                    TimePoint to) override {
    hold();
    return inner_.group_costs(a, from, to);
  }

 private:
  eg::SpotBlueGreen& inner_;
};

class CloudServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cloud_.secrets["ssm:/spot/token"] = Secret("tok-from-ssm");
    open_service();
  }
  void TearDown() override {
    spot_.release();
    resumed_spot_.release();
    if (service_) service_->wait_idle();
  }

  void open_service(bool held = true) {
    open_service_with([this, held]() -> Result<std::unique_ptr<eg::CloudConnection>> {
      return std::make_unique<eg::FakeCloudConnection>(cloud_, clock_, held ? &spot_ : nullptr);
    });
  }

  // Starts an Elastigroup deployment of kGroup and runs `check` while Spot holds it, then once
  // it has succeeded (its group serving). Its id is `started_id_`.
  void check_while_it_runs_and_once_it_serves(const std::function<void(const char*)>& check) {
    auto cloud = service_->start_deployment(cloud_spec(), "alice");
    ASSERT_TRUE(cloud) << cloud.error().message;
    started_id_ = cloud->id;
    spot_.wait_until_held();
    check("while the Elastigroup deployment runs");

    spot_.release();
    service_->wait_idle();
    ASSERT_EQ(service_->deployment(cloud->id)->status, DeploymentStatus::succeeded);
    check("once the Elastigroup serves");
  }

  // A deployment started, then the server shut down while Spot held its first call: the
  // journal keeps it running.
  Result<Deployment> start_and_shut_down() {
    auto started = service_->start_deployment(cloud_spec(), "alice");
    if (!started) return started;
    spot_.wait_until_held();
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      spot_.release();
    });
    service_->shutdown();
    releaser.join();
    return started;
  }

  // A new server on the same journal (as a restart reads the same file).
  void open_service_with(eg::OpenCloud open_cloud) {
    service_.reset();
    ServiceDeps deps{fleet_,
                     FleetRecovery{[this](const std::vector<Instance>& i) { fleet_.adopt(i); },
                                   [this] { return fleet_.list(); },
                                   [](const std::vector<std::string>&) {
                                     return std::map<std::string, std::vector<pid_t>>{};
                                   }},
                     fetcher_, installer_, probe_, clock_, journal_, log_,
                     // Only a local group opens a listener.
                     [this](const std::string& listen) -> Result<std::unique_ptr<GroupTraffic>> {
                       if (listen_taken_) return fail(ErrorKind::unavailable, "in use");
                       return std::make_unique<FakeGroupTraffic>(traffic_, listen);
                     },
                     "/nonexistent/bundles"};
    providers_ =
        std::make_unique<eg::ElastigroupProviders>(std::move(open_cloud), eg::CloudRunOptions{});
    sources_ = std::make_unique<ProviderSources>();
    sources_->add(Provider::elastigroup, *providers_);
    sources_->add(Provider::asg, asg_);
    deps.providers = sources_.get();
    deps.recover_first = recover_first_;
    service_ = std::make_unique<DeploymentService>(deps);
  }

  FakeClock clock_;
  eg::FakeElastigroupCloud cloud_{clock_};
  HeldSpot spot_{cloud_};
  HeldSpot resumed_spot_{cloud_};  // Spot as a restarted service sees it
  FakeFleet fleet_;
  FakeFetcher fetcher_;
  FakeInstaller installer_;
  FakeHealthProbe probe_;
  FakeTraffic traffic_;
  MemoryJournal journal_;
  LiveLog log_;
  bool recover_first_ = false;              // as `bluegreen server` runs it
  std::string started_id_;                  // check_while_it_runs_and_once_it_serves's deployment
  std::atomic<bool> listen_taken_ = false;  // another process holds every LISTEN
  std::unique_ptr<eg::ElastigroupProviders> providers_;
  NoAutoScalingGroups asg_;
  std::unique_ptr<ProviderSources> sources_;
  std::unique_ptr<DeploymentService> service_;
};

TEST_F(CloudServiceTest, OneDeploymentPerCloudGroupAndItShowsAsACloudGroup) {
  auto first = service_->start_deployment(cloud_spec(), "alice");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->green_identifier, eg::green_identifier_for_job(first->id));
  spot_.wait_until_held();

  auto second = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_THAT(second.error().message, HasSubstr(first->id));

  // Spot and CodeDeploy move the traffic: nothing to promote or roll back.
  auto rollback = service_->roll_back(Selector{first->id, ""}, "carol");
  ASSERT_FALSE(rollback);
  EXPECT_THAT(rollback.error().message, HasSubstr("promote and rollback do not apply"));

  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].cloud);
  EXPECT_EQ(status[0].group, kGroup);
  ASSERT_TRUE(status[0].running);
  EXPECT_EQ(status[0].running->id, first->id);

  spot_.release();
  service_->wait_idle();
  auto done = service_->deployment(first->id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, DeploymentStatus::succeeded) << (done->error ? done->error->message : "");
  status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  ASSERT_TRUE(status[0].serving);
  EXPECT_EQ(status[0].serving->id, first->id);
  ASSERT_EQ(status[0].instances.size(), 2u);
  for (const auto& green : status[0].instances) {
    EXPECT_EQ(green.tags.at("GreenIdentifier"), first->green_identifier);
  }
  // A restart shows the group as it was.
  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].cloud);
  ASSERT_TRUE(status[0].serving);
  EXPECT_EQ(status[0].serving->id, first->id);
  // The group takes its next deployment.
  EXPECT_TRUE(service_->start_deployment(cloud_spec(), "bob"));
  service_->wait_idle();
  // Nothing of it touched this machine's fleet.
  EXPECT_TRUE(fleet_.terminated().empty());
  EXPECT_TRUE(fleet_.list().empty());
}

// A local group served under the name a cloud deployment asks for: the cloud deployment is
// refused, naming the local group, and nothing is recorded or created.
TEST_F(CloudServiceTest, ACloudDeploymentIsRefusedTheNameOfALocalGroup) {
  auto local = service_->start_deployment(
      test_spec({{"GROUP_ID", kGroup}, {"LISTEN", "127.0.0.1:18080"}, {"TIMEOUT", "60"}}), "alice");
  ASSERT_TRUE(local) << local.error().message;
  service_->wait_idle();
  ASSERT_EQ(service_->deployment(local->id)->status, DeploymentStatus::succeeded);

  auto cloud = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_FALSE(cloud);
  EXPECT_EQ(cloud.error().kind, ErrorKind::conflict);
  EXPECT_THAT(cloud.error().message, HasSubstr("GROUP_ID sig-12345678"));
  EXPECT_THAT(cloud.error().message,
              HasSubstr("a local group (PROVIDER=local, LISTEN 127.0.0.1:18080)"));
  EXPECT_EQ(service_->deployments()->size(), 1u);
  EXPECT_EQ(cloud_.count("spot.create"), 0);
  EXPECT_EQ(cloud_.count("spot.read_group"), 0);
  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_FALSE(status[0].cloud);
}

// A cloud group's name is refused to a local deployment while its deployment runs, once it
// serves, and after a restart.
TEST_F(CloudServiceTest, ALocalDeploymentIsRefusedTheNameOfACloudGroup) {
  auto local_spec = [] {
    return test_spec({{"GROUP_ID", kGroup}, {"LISTEN", "127.0.0.1:18080"}, {"TIMEOUT", "60"}});
  };
  auto refused = [&](const char* when) {
    auto local = service_->start_deployment(local_spec(), "bob");
    ASSERT_FALSE(local) << when;
    EXPECT_EQ(local.error().kind, ErrorKind::conflict) << when;
    EXPECT_THAT(local.error().message,
                HasSubstr("the Elastigroup sig-12345678 (PROVIDER=elastigroup)"))
        << when;
    EXPECT_TRUE(fleet_.list().empty()) << when;
    EXPECT_TRUE(traffic_.fleets().empty()) << when;
  };
  check_while_it_runs_and_once_it_serves(refused);
  if (HasFatalFailure()) return;

  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  refused("after a restart");
  EXPECT_EQ(service_->deployments()->size(), 1u);
}

// An Auto Scaling group may be named like an Elastigroup's id; on one server the name still means
// one group: the other provider's deployment is refused, naming the group, while the first runs
// and once it serves, and the group stays the Elastigroup it was.
TEST_F(CloudServiceTest, ACloudDeploymentIsRefusedTheNameOfTheOtherProvidersGroup) {
  auto refused = [&](const char* when) {
    auto asg = service_->start_deployment(asg_spec(), "bob");
    ASSERT_FALSE(asg) << when;
    EXPECT_EQ(asg.error().kind, ErrorKind::conflict) << when;
    EXPECT_EQ(asg.error().code, kNameTakenCode) << when;  // waiting does not end it
    EXPECT_THAT(asg.error().message,
                HasSubstr("the Elastigroup sig-12345678 (PROVIDER=elastigroup)"))
        << when;
    EXPECT_EQ(service_->deployments()->size(), 1u) << when;
  };
  check_while_it_runs_and_once_it_serves(refused);
  if (HasFatalFailure()) return;
  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].provider, Provider::elastigroup);
  ASSERT_TRUE(status[0].serving);
  EXPECT_EQ(status[0].serving->id, started_id_);
}

// A cloud deployment the restarted server cannot resume (its cloud is out of reach) still runs as
// far as the journal knows: its group keeps its name and its lock until a start resumes it.
TEST_F(CloudServiceTest, ACloudDeploymentThatCannotResumeKeepsItsGroupUntilItDoes) {
  auto started = start_and_shut_down();
  ASSERT_TRUE(started);
  // Spot is out of reach while the server starts, and back a moment later.
  int opened = 0;
  open_service_with([&]() -> Result<std::unique_ptr<eg::CloudConnection>> {
    if (opened++ == 0) return fail(ErrorKind::unavailable, "Spot is unreachable");
    return std::make_unique<eg::FakeCloudConnection>(cloud_, clock_, nullptr);
  });
  ASSERT_TRUE(service_->recover());

  auto local = service_->start_deployment(
      test_spec({{"GROUP_ID", kGroup}, {"LISTEN", "127.0.0.1:18080"}, {"TIMEOUT", "60"}}), "bob");
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().code, kNameTakenCode);
  EXPECT_THAT(local.error().message, HasSubstr("the Elastigroup sig-12345678"));
  auto second = service_->start_deployment(cloud_spec(), "carol");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_THAT(second.error().message, HasSubstr(started->id));
  EXPECT_THAT(second.error().message, HasSubstr("it resumes when the server starts again"));
  auto asg = service_->start_deployment(asg_spec(), "bob");
  ASSERT_FALSE(asg);
  EXPECT_EQ(asg.error().code, kNameTakenCode);
  EXPECT_TRUE(fleet_.list().empty());
  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].cloud);
  ASSERT_TRUE(status[0].running);
  EXPECT_EQ(status[0].running->id, started->id);

  // The next start reaches Spot and finishes it; nothing else ever ran under the name.
  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  service_->wait_idle();
  EXPECT_EQ(service_->deployment(started->id)->status, DeploymentStatus::succeeded);
  EXPECT_EQ(service_->deployments()->size(), 1u);
  status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].cloud);
}

// A first local deployment that failed after its switch leaves nothing serving and frees its
// name; a restart neither deploys its revision again nor brings the local group back beside the
// cloud group that took the name.
TEST_F(CloudServiceTest, AFailedFirstLocalDeploymentIsNotBroughtBackByARestart) {
  installer_.fail_event("AfterAllowTraffic");
  auto local = service_->start_deployment(
      test_spec({{"GROUP_ID", kGroup}, {"LISTEN", "127.0.0.1:18080"}, {"TIMEOUT", "60"}}), "alice");
  ASSERT_TRUE(local) << local.error().message;
  service_->wait_idle();
  auto failed = service_->deployment(local->id);
  ASSERT_EQ(failed->status, DeploymentStatus::failed);
  ASSERT_TRUE(failed->traffic_moved);
  EXPECT_TRUE(service_->status().empty());

  auto cloud = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_TRUE(cloud) << cloud.error().message;
  spot_.release();
  service_->wait_idle();
  ASSERT_EQ(service_->deployment(cloud->id)->status, DeploymentStatus::succeeded);

  installer_.fail_event("");
  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  service_->wait_idle();
  EXPECT_EQ(service_->deployments()->size(), 2u);
  EXPECT_TRUE(fleet_.list().empty());
  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].cloud);
}

// A restart finds a local group's fleet gone and its LISTEN held by another process: the group
// is shown with its listener's error and keeps its name (a cloud deployment is refused it, as
// status says why), and is deployed again once the address is free.
TEST_F(CloudServiceTest, AGroupWaitingForItsListenToBeRestoredIsShownAndKeepsItsName) {
  auto local = service_->start_deployment(
      test_spec({{"GROUP_ID", kGroup}, {"LISTEN", "127.0.0.1:18080"}, {"TIMEOUT", "60"}}), "alice");
  ASSERT_TRUE(local) << local.error().message;
  service_->wait_idle();
  std::vector<std::string> ids;
  for (const auto& instance : fleet_.list()) ids.push_back(instance.id);
  ASSERT_TRUE(fleet_.terminate(ids));  // the machine rebooted
  listen_taken_ = true;
  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());

  auto status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_FALSE(status[0].cloud);
  ASSERT_TRUE(status[0].listen_error);
  EXPECT_THAT(*status[0].listen_error, HasSubstr("not bound yet"));
  auto cloud = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_FALSE(cloud);
  EXPECT_EQ(cloud.error().code, kNameTakenCode);

  listen_taken_ = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service_->deployments()->size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  service_->wait_idle();
  auto all = service_->deployments();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->front().status, DeploymentStatus::succeeded);
  EXPECT_THAT(all->front().started_by, HasSubstr("restore of " + local->id));
  status = service_->status();
  ASSERT_EQ(status.size(), 1u);
  ASSERT_TRUE(status[0].serving);
  EXPECT_EQ(status[0].serving->id, all->front().id);
  EXPECT_FALSE(status[0].listen_error);
}

TEST_F(CloudServiceTest, ShutdownStopsACloudDeploymentWithoutEndingItAndARestartResumesIt) {
  auto started = start_and_shut_down();
  ASSERT_TRUE(started);
  auto stopped = journal_.saved(started->id);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, DeploymentStatus::running);

  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  service_->wait_idle();
  auto done = service_->deployment(started->id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, DeploymentStatus::succeeded) << (done->error ? done->error->message : "");
  EXPECT_EQ(cloud_.count("spot.create"), 1);
  EXPECT_EQ(cloud_.count("codedeploy.create"), 1);
  EXPECT_TRUE(fleet_.terminated().empty());
}

TEST_F(CloudServiceTest, ASpecTheFlowRefusesIsRefusedNamingTheKeyAndNothingIsRecorded) {
  auto not_a_group = cloud_spec();
  not_a_group.group_id = "web";
  auto local_revision = cloud_spec();
  local_revision.revision = LocalRevision{"/srv/app", std::nullopt};
  for (const auto& [spec, key] :
       {std::pair{not_a_group, "GROUP_ID"}, std::pair{local_revision, "LOCAL_PATH"}}) {
    auto started = service_->start_deployment(spec, "alice");
    ASSERT_FALSE(started) << key;
    EXPECT_EQ(started.error().kind, ErrorKind::invalid_input);
    EXPECT_THAT(started.error().message, HasSubstr(key));
  }
  auto all = service_->deployments();
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(service_->status().empty());
  EXPECT_TRUE(cloud_.calls().empty());
}

TEST_F(CloudServiceTest, ARestartedServerStartsNothingBeforeItsInterruptedDeploymentResumes) {
  auto first = start_and_shut_down();
  ASSERT_TRUE(first);

  // The restarted server answers its admin API before it has read its journal back.
  recover_first_ = true;
  open_service_with([this]() -> Result<std::unique_ptr<eg::CloudConnection>> {
    return std::make_unique<eg::FakeCloudConnection>(cloud_, clock_, &resumed_spot_);
  });
  auto early = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(early.error().code, kStartingCode);  // what a client waits on (see the CLI)
  EXPECT_THAT(early.error().message, HasSubstr("try again"));
  ASSERT_TRUE(service_->recover());
  auto second = service_->start_deployment(cloud_spec(), "bob");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_THAT(second.error().message, HasSubstr(first->id));
  resumed_spot_.release();
  service_->wait_idle();
  auto all = service_->deployments();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(cloud_.count("spot.create"), 1);
}

TEST_F(CloudServiceTest, AServerThatCannotReachTheCloudsStartsNothing) {
  open_service_with([]() -> Result<std::unique_ptr<eg::CloudConnection>> {
    return fail(ErrorKind::invalid_input, "no AWS region (AWS_REGION)");
  });
  auto started = service_->start_deployment(cloud_spec(), "alice");
  ASSERT_FALSE(started);
  EXPECT_THAT(started.error().message, HasSubstr("AWS_REGION"));
  auto all = service_->deployments();
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(service_->status().empty());
}

}  // namespace
}  // namespace bluegreen
