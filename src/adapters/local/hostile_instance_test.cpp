// Attacks on the agent's own state through an instance: appspec `files`/`permissions` and
// runas hooks must not reach the record, the logs or the bundle copy (instance_layout.h), and
// a fleet never empties a directory a forged record names (local_fleet.h).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/local/appspec_agent.h"
#include "adapters/local/install_files.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/local_fleet.h"
#include "adapters/local/local_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

LifecycleContext context() {
  return LifecycleContext{.deployment_id = "d-HOSTILE001",
                          .application_name = "a",
                          .deployment_group_name = "g",
                          .deployment_group_id = "id"};
}

AppSpec spec(const std::string& yaml) {
  auto parsed = parse_appspec("version: 0.0\nos: linux\n" + yaml);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return parsed.value_or(AppSpec{});
}

bool runas_possible() {
  return ::geteuid() == 0;
}

// The appspec that gives a runas user everything appspec `/` names.
constexpr const char* kGiveEverythingToNobody =
    "permissions:\n  - object: /\n    pattern: \"**\"\n    owner: nobody\n";

Result<void> run_agent(const fs::path& bundle, const std::vector<Instance>& instances,
                       const std::vector<std::string>& events, std::vector<HookResult>& results) {
  AppspecAgent agent;
  return agent.run(Bundle{.root = bundle, .description = "b"}, instances, events, context(),
                   from_now(std::chrono::seconds(60)), results);
}

TEST(HostileInstance, RunasHookCannotRedirectTheAgentLog) {
  if (!runas_possible()) GTEST_SKIP() << "runas needs root";
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  TempDir outside("hi-agentlog");
  fs::path victim = outside.path() / "root-only";
  write_file(victim, "original\n", fs::perms(0600));
  TempDir bundle("hi-agentlog-bundle");
  fs::permissions(bundle.path(), fs::perms(0755));
  write_file(bundle.path() / "appspec.yml",
             std::string("version: 0.0\nos: linux\n") +
                 "files:\n  - source: app\n    destination: /opt/app\n" + kGiveEverythingToNobody +
                 "hooks:\n  AfterInstall:\n    - location: plant.sh\n      runas: nobody\n"
                 "  ApplicationStart:\n    - location: ok.sh\n");
  write_file(bundle.path() / "app/index.html", "v1\n");
  // Tries every place the agent's log could be reached from.
  write_script(bundle.path() / "plant.sh",
               "for d in \"$INSTANCE_ROOT/logs\" \"$INSTANCE_ROOT/../logs\"; do\n"
               "  ln -sfn " +
                   victim.string() +
                   " \"$d/agent.log\" 2>/dev/null\n"
                   "done\nexit 0\n");
  write_script(bundle.path() / "ok.sh", "exit 0\n");
  std::vector<HookResult> results;
  auto run = run_agent(bundle.path(), instances,
                       {"DownloadBundle", "Install", "AfterInstall", "ApplicationStart"}, results);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(read_text(victim), "original\n");
  EXPECT_FALSE(fs::is_symlink(instance_layout::logs(instances[0].root) / "agent.log"));
  EXPECT_NE(
      read_text(instance_layout::logs(instances[0].root) / "agent.log").find("ApplicationStart"),
      std::string::npos);
}

TEST(HostileInstance, RunasHookCannotReadRootFilesThroughItsLog) {
  if (!runas_possible()) GTEST_SKIP() << "runas needs root";
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  TempDir secret_dir("hi-steal");
  fs::path secret = secret_dir.path() / "secret";
  write_file(secret, "TOP-SECRET-LINE\n", fs::perms(0600));
  TempDir bundle("hi-steal-bundle");
  fs::permissions(bundle.path(), fs::perms(0755));
  write_file(bundle.path() / "appspec.yml",
             std::string("version: 0.0\nos: linux\n") + kGiveEverythingToNobody +
                 "hooks:\n  AfterInstall:\n    - location: steal.sh\n      runas: nobody\n");
  write_script(bundle.path() / "steal.sh",
               "for d in \"$INSTANCE_ROOT/logs\" \"$INSTANCE_ROOT/../logs\"; do\n"
               "  for f in \"$d\"/AfterInstall-*.log; do\n"
               "    rm -f \"$f\" 2>/dev/null && ln -s " +
                   secret.string() +
                   " \"$f\"\n"
                   "  done\ndone\necho hook-said-this\n");
  std::vector<HookResult> results;
  auto run =
      run_agent(bundle.path(), instances, {"DownloadBundle", "Install", "AfterInstall"}, results);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results.back().output_tail.find("TOP-SECRET"), std::string::npos);
  EXPECT_NE(results.back().output_tail.find("hook-said-this"), std::string::npos);
}

// A runas hook given everything beneath INSTANCE_ROOT still finds the logs directory out of
// reach: it is the server user's and beside the install root.
TEST(HostileInstance, PermissionsOnSlashDoNotGiveAwayTheAgentsState) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  TempDir bundle("hi-perm-bundle");
  write_file(bundle.path() / "appspec.yml", "version: 0.0\n");
  fs::path root = instances[0].root;
  auto report = install_files(spec(kGiveEverythingToNobody), bundle.path(),
                              instance_layout::install_root(root));
  ASSERT_TRUE(report) << report.error().message;
  struct stat info {};
  for (const auto& path : {instance_layout::logs(root), instance_layout::record(root), root}) {
    ASSERT_EQ(::stat(path.c_str(), &info), 0) << path;
    EXPECT_EQ(info.st_uid, ::geteuid()) << path;
    EXPECT_EQ(info.st_mode & 0022, 0u) << path;
  }
}

// appspec `files` cannot replace the fleet's record, even with OVERWRITE and a destination
// that names it.
TEST(HostileInstance, FilesCannotReplaceTheFleetRecord) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  fs::path root = instances[0].root;
  std::string original = read_text(instance_layout::record(root));
  TempDir bundle("hi-record");
  write_file(bundle.path() / "meta/instance.json", "{\"id\": \"i-forged\", \"root\": \"/etc\"}\n");
  std::vector<HookResult> results;
  write_file(bundle.path() / "appspec.yml",
             "version: 0.0\nos: linux\nfiles:\n  - source: meta/instance.json\n"
             "    destination: /\nfile_exists_behavior: OVERWRITE\n");
  auto run = run_agent(bundle.path(), instances, {"DownloadBundle", "Install"}, results);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(read_text(instance_layout::record(root)), original);
  EXPECT_TRUE(fs::exists(instance_layout::install_root(root) / "instance.json"));
}

// A bundle copied to a destination named like the bundle copy does not copy into itself.
TEST(HostileInstance, DestinationNamedLikeTheBundleCopyDoesNotRecurse) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  TempDir bundle("hi-recurse");
  write_file(bundle.path() / "appspec.yml",
             "version: 0.0\nos: linux\nfiles:\n  - source: /\n"
             "    destination: /deployment-archive/s\n");
  write_file(bundle.path() / "big", std::string(1 << 12, 'x'));
  std::vector<HookResult> results;
  auto run = run_agent(bundle.path(), instances, {"DownloadBundle", "Install"}, results);
  ASSERT_TRUE(run) << run.error().message;
  fs::path copy = instance_layout::deployment_archive(instances[0].root);
  EXPECT_FALSE(fs::exists(copy / "s"));
  EXPECT_EQ(
      read_text(instance_layout::install_root(instances[0].root) / "deployment-archive/s/big"),
      std::string(1 << 12, 'x'));
}

// A record whose root names another directory: a fleet that did not launch the instance (as
// after a restart) neither lists it nor empties that directory.
TEST(HostileInstance, ForgedRecordDoesNotMakeTerminateEmptyAnotherDirectory) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  fs::path root = instances[0].root;
  std::string original = read_text(instance_layout::record(root));
  TempDir victim("hi-victim");
  write_file(victim.path() / "precious", "data\n");
  std::string forged = original;
  auto at = forged.find(root.string());
  ASSERT_NE(at, std::string::npos);
  forged.replace(at, root.string().size(), victim.path().string());
  write_file(instance_layout::record(root), forged);
  LocalFleet restarted(
      LocalFleetOptions{.state_dir = fleet.state_dir(), .kill_grace = Duration(500)});
  for (const auto& listed : restarted.recorded_instances()) EXPECT_NE(listed.id, instances[0].id);
  auto ended = restarted.terminate({instances[0].id});
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(read_text(victim.path() / "precious"), "data\n");
  write_file(instance_layout::record(root), original);
}

}  // namespace
}  // namespace bluegreen
