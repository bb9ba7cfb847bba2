// DeploymentService with PROVIDER=elastigroup deployments (the cloud rules of
// deployment_service.h): one per group, shown as a cloud group, never promoted or rolled back,
// resumed by recover() without a second Spot or CodeDeploy deployment, stopped (not ended) by
// shutdown(), and never touching this machine's fleet.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "adapters/elastigroup/elastigroup_fakes.h"
#include "engine/deployment_service.h"
#include "engine/fakes.h"

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
                       return std::make_unique<FakeGroupTraffic>(traffic_, listen);
                     },
                     "/nonexistent/bundles"};
    providers_ =
        std::make_unique<eg::ElastigroupProviders>(std::move(open_cloud), eg::CloudRunOptions{});
    deps.providers = providers_.get();
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
  bool recover_first_ = false;  // as `bluegreen server` runs it
  std::unique_ptr<eg::ElastigroupProviders> providers_;
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
  auto cloud = service_->start_deployment(cloud_spec(), "alice");
  ASSERT_TRUE(cloud) << cloud.error().message;
  spot_.wait_until_held();
  refused("while the cloud deployment runs");

  spot_.release();
  service_->wait_idle();
  ASSERT_EQ(service_->deployment(cloud->id)->status, DeploymentStatus::succeeded);
  refused("once the cloud group serves");

  open_service(/*held=*/false);
  ASSERT_TRUE(service_->recover());
  refused("after a restart");
  EXPECT_EQ(service_->deployments()->size(), 1u);
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
