#include "adapters/local/instance_host.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "adapters/local/instance_layout.h"
#include "adapters/local/local_test_support.h"
#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

AppSpec spec_installing_to(const std::string& destination) {
  auto spec = parse_appspec(
      "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: " + destination + "\n");
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

TEST(InstanceHostPlan, DestinationsTheViewCannotHoldAreRefusedNamingThem) {
  Instance instance{.id = "i-plan0001", .root = "/state/instances/i-plan0001"};
  for (std::string destination : {"/tmp/app", "/run/app", "/var/run/app", "/proc/app", "/"}) {
    auto plan = plan_view(instance, spec_installing_to(destination), "/bundle");
    ASSERT_FALSE(plan) << destination;
    EXPECT_EQ(plan.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(plan.error().message.find("files destination " + destination), std::string::npos)
        << plan.error().message;
  }
  auto plan = plan_view(instance, spec_installing_to("/opt/app"), "/bundle");
  ASSERT_TRUE(plan) << plan.error().message;
  bool installs_there = false;
  for (const auto& writable : plan->writable) {
    installs_there = installs_there || (writable.target == "/opt/app" &&
                                        writable.source == instance.root / "root" / "opt/app");
  }
  EXPECT_TRUE(installs_there) << "Install's directory is what the instance sees at /opt/app";
}

class InstanceHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!instance_hosts_supported(&why)) GTEST_SKIP() << "no namespaces here: " << why;
  }
  TestFleet fleet_;
};

// A destination whose parents the machine lacks (/srv/bg-test-<id>/www) is the instance's own
// directory at that path; the machine's entries beside it stay visible and read-only; a runas
// user the machine lacks runs with its own home; hostname answers the id.
TEST_F(InstanceHostTest, TheInstanceSeesItsDirectoriesAtTheAppspecsPathsAndNothingElseWritable) {
  auto launched = fleet_.fleet().launch(
      LaunchRequest{.fleet_id = "d-host", .count = 1, .isolation = Isolation::namespaces});
  ASSERT_TRUE(launched) << launched.error().message;
  const Instance& instance = launched->front();
  std::string missing = "/srv/bg-test-" + instance.id + "/www";
  ASSERT_FALSE(fs::exists(missing));
  auto spec = parse_appspec(
      "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: " + missing +
      "\nhooks:\n  AfterInstall:\n    - location: run.sh\n" + "      runas: bg-webuser\n");
  ASSERT_TRUE(spec) << spec.error().message;
  TempDir bundle{"bg-host-bundle"};
  fs::create_directories(bundle.path() / "app");
  auto host = open_or_create_host(instance, *spec, bundle.path());
  ASSERT_TRUE(host) << host.error().message;
  auto user = instance_accounts(instance).user("bg-webuser");
  ASSERT_TRUE(user);
  // Its destination belongs to root, as Install leaves it on EC2; its home is its own.
  fs::path out = instance.root / "root" / "home" / "bg-webuser" / "answers";
  auto child = Process::spawn(SpawnOptions{
      .argv = {"/bin/sh", "-c",
               "cd $HOME && hostname > answers && id -un >> answers && pwd >> answers && "
               "test -d " +
                   missing + " && echo destination >> answers; " + "touch " + missing +
                   "/x 2>/dev/null || echo destination-is-roots >> answers; " +
                   "touch /srv/bg-other 2>/dev/null || echo srv-read-only >> answers; " +
                   "touch /usr/bg-other 2>/dev/null || echo usr-read-only >> answers"},
      .environment = {"PATH=/usr/bin:/bin", "HOME=" + user->home.string()},
      .working_directory = "/",
      .run_as_account = *user,
      .output_path = instance.root / "logs" / "test.log",
      .pid_namespace = host->namespace_fd(),
      .mount_namespace = host->mount_namespace_fd(),
      .namespaces = host->host_namespace_fds()});
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(std::chrono::seconds(30)), Duration(100)).succeeded())
      << read_text(instance.root / "logs" / "test.log");
  EXPECT_EQ(read_text(out), instance.id + "\nbg-webuser\n/home/bg-webuser\ndestination\n" +
                                "destination-is-roots\nsrv-read-only\nusr-read-only\n");
  EXPECT_FALSE(fs::exists(fs::path(missing).parent_path())) << "nothing made on the machine";
  EXPECT_FALSE(fs::exists("/home/bg-webuser"));
  ASSERT_TRUE(fleet_.fleet().terminate({instance.id}));
}

}  // namespace
}  // namespace bluegreen
