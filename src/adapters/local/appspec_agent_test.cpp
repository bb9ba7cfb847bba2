#include "adapters/local/appspec_agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "adapters/local/instance_layout.h"
#include "adapters/local/lifecycle_events.h"
#include "adapters/local/local_test_support.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

const LifecycleContext kContext{.deployment_id = "d-TEST12345",
                                .application_name = "hello-app",
                                .deployment_group_name = "hello-group",
                                .deployment_group_id = "0b7f5e2a-1111-2222-3333-444455556666"};

// A bundle directory readable by everyone (hooks may run as nobody): appspec.yml with the given
// hooks section, and scripts at the given locations.
class TestBundle {
 public:
  TestBundle(const std::string& hooks_yaml, const std::map<std::string, std::string>& scripts,
             const std::string& extra_yaml = "") {
    fs::permissions(dir_.path(), fs::perms(0755));
    write_file(dir_.path() / "appspec.yml",
               "version: 0.0\nos: linux\n" + extra_yaml + "hooks:\n" + hooks_yaml);
    for (const auto& [location, body] : scripts) write_script(dir_.path() / location, body);
  }
  Bundle bundle(std::map<std::string, std::string> environment = {}) const {
    return Bundle{.root = dir_.path(), .description = "test bundle", .environment = environment};
  }
  const fs::path& path() const { return dir_.path(); }

 private:
  TempDir dir_{"bg-bundle"};
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(AppspecAgent, HooksSeeTheCodeDeployEnvironmentAndNothingElse) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  ASSERT_EQ(instances.size(), 1u);
  TestBundle bundle("  BeforeInstall:\n    - location: scripts/env.sh\n",
                    {{"scripts/env.sh",
                      "env | sort > \"$INSTANCE_ROOT/hook-env.txt\"\n"
                      "pwd > \"$INSTANCE_ROOT/hook-pwd.txt\"\n"}});
  setenv("AWS_SECRET_ACCESS_KEY", "server-secret-value", 1);
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto run = agent.run(bundle.bundle({{"BUNDLE_COMMIT", "0123abcd"}}), instances,
                       {"DownloadBundle", "BeforeInstall"}, kContext,
                       from_now(std::chrono::seconds(60)), results);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(run) << run.error().message;

  const Instance& instance = instances[0];
  std::string env = read_text(instance_layout::install_root(instance.root) / "hook-env.txt");
  for (const std::string& expected :
       {std::string("LIFECYCLE_EVENT=BeforeInstall"), std::string("DEPLOYMENT_ID=d-TEST12345"),
        std::string("APPLICATION_NAME=hello-app"), std::string("DEPLOYMENT_GROUP_NAME=hello-group"),
        "DEPLOYMENT_GROUP_ID=" + kContext.deployment_group_id,
        std::string("BUNDLE_COMMIT=0123abcd"), "PORT=" + std::to_string(instance.port),
        "INSTANCE_ROOT=" + instance_layout::install_root(instance.root).string(),
        "BLUEGREEN_INSTANCE_ID=" + instance.id}) {
    EXPECT_TRUE(has_line(env, expected)) << expected << " not in:\n" << env;
  }
  EXPECT_EQ(env.find("server-secret-value"), std::string::npos);
  EXPECT_EQ(read_text(instance_layout::install_root(instance.root) / "hook-pwd.txt"),
            instance_layout::deployment_archive(instance.root).string() + "\n");

  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].instance_id, instance.id);
  EXPECT_EQ(results[0].lifecycle_event, "BeforeInstall");
  EXPECT_EQ(results[0].script, "scripts/env.sh");
  EXPECT_EQ(results[0].exit_code, 0);
  EXPECT_FALSE(results[0].timed_out);
}

TEST(AppspecAgent, RunsTheGreenLifecycleInOrderOnEveryInstance) {
  TestFleet fleet;
  auto instances = fleet.launch(2);
  const std::string record = "echo \"$LIFECYCLE_EVENT\" >> \"$INSTANCE_ROOT/order.txt\"\n";
  TestBundle bundle(
      "  BeforeInstall:\n    - location: scripts/record.sh\n"
      "  AfterInstall:\n    - location: scripts/record.sh\n"
      "  ApplicationStart:\n    - location: scripts/record.sh\n"
      "  ValidateService:\n    - location: scripts/record.sh\n"
      "  ApplicationStop:\n    - location: scripts/stop.sh\n",
      {{"scripts/record.sh", record}, {"scripts/stop.sh", "echo installed-revision-stop\n"}},
      "files:\n  - source: app\n    destination: /opt/app\n");
  write_file(bundle.path() / "app/index.html", "version 1\n");
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto run = agent.run(bundle.bundle(), instances, lifecycle::green_install_events(), kContext,
                       from_now(std::chrono::seconds(60)), results);
  ASSERT_TRUE(run) << run.error().message;
  for (const auto& instance : instances) {
    EXPECT_EQ(read_text(instance_layout::install_root(instance.root) / "order.txt"),
              "BeforeInstall\nAfterInstall\nApplicationStart\nValidateService\n");
    EXPECT_EQ(read_text(instance_layout::install_root(instance.root) / "opt/app/index.html"),
              "version 1\n");
  }
  EXPECT_EQ(results.size(), 8u);

  // ApplicationStop runs the scripts of the revision the instance was installed with.
  write_script(bundle.path() / "scripts/stop.sh", "echo newer-revision-stop\n");
  results.clear();
  ASSERT_TRUE(agent.run(bundle.bundle(), {instances[0]}, lifecycle::stop_events(), kContext,
                        from_now(std::chrono::seconds(60)), results));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].output_tail, "installed-revision-stop\n");
}

TEST(AppspecAgent, KillsAHookGroupAtItsTimeoutAndNamesIt) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  TestBundle bundle("  BeforeInstall:\n    - location: scripts/slow.sh\n      timeout: 1\n",
                    {{"scripts/slow.sh",
                      "echo slow hook started\n"
                      "/bin/bash -c 'touch \"$INSTANCE_ROOT/child.started\"; "
                      "exec -a \"slow-child-$BLUEGREEN_INSTANCE_ID\" sleep 1000' &\n"
                      "sleep 1000\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent(AppspecAgentOptions{.kill_grace = Duration(200)});
  auto run = agent.run(bundle.bundle(), instances, {"DownloadBundle", "BeforeInstall"}, kContext,
                       from_now(std::chrono::seconds(60)), results);
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, ErrorKind::timeout);
  const std::string& message = run.error().message;
  EXPECT_NE(message.find("BeforeInstall hook scripts/slow.sh on instance " + instances[0].id),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("timed out after 1 s"), std::string::npos) << message;
  EXPECT_NE(message.find("slow hook started"), std::string::npos) << message;
  EXPECT_TRUE(fs::exists(instance_layout::install_root(instances[0].root) / "child.started"));
  EXPECT_EQ(processes_named("slow-child-" + instances[0].id), std::vector<pid_t>{});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].timed_out);
  EXPECT_EQ(results[0].exit_code, -1);
}

TEST(AppspecAgent, AFailingValidateServiceReportsTheEventAndItsOutput) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  TestBundle bundle("  ValidateService:\n    - location: scripts/validate.sh\n",
                    {{"scripts/validate.sh",
                      "echo checking health\n"
                      "echo 'GET /healthz answered 503' >&2\n"
                      "exit 1\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto run = agent.run(bundle.bundle(), instances, {"DownloadBundle", "ValidateService"}, kContext,
                       from_now(std::chrono::seconds(60)), results);
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().kind, ErrorKind::failed);
  const std::string& message = run.error().message;
  EXPECT_NE(message.find("ValidateService hook scripts/validate.sh"), std::string::npos) << message;
  EXPECT_NE(message.find("exit status 1"), std::string::npos) << message;
  EXPECT_NE(message.find("checking health\nGET /healthz answered 503"), std::string::npos)
      << message;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].exit_code, 1);
  EXPECT_EQ(read_text(instance_layout::logs(instances[0].root) / "ValidateService-1.log"),
            results[0].output_tail);
}

TEST(AppspecAgent, TheFirstFailureStopsTheOtherInstances) {
  TestFleet fleet;
  auto instances = fleet.launch(2);
  TestBundle bundle(
      "  AfterInstall:\n    - location: scripts/one_fails.sh\n",
      {{"scripts/one_fails.sh", "if [ \"$BLUEGREEN_INSTANCE_ID\" = \"" + instances[0].id +
                                    "\" ]; then echo broken; exit 3; fi\n"
                                    "exec sleep 1000\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent(AppspecAgentOptions{.kill_grace = Duration(200)});
  auto run = agent.run(bundle.bundle(), instances, {"AfterInstall"}, kContext,
                       from_now(std::chrono::seconds(60)), results);
  ASSERT_FALSE(run);
  EXPECT_NE(
      run.error().message.find("on instance " + instances[0].id + " failed with exit status 3"),
      std::string::npos)
      << run.error().message;
  // The other instance's hook was either killed while it slept or never started: no result
  // says it passed.
  ASSERT_GE(results.size(), 1u);
  for (const auto& result : results) EXPECT_NE(result.exit_code, 0) << result.instance_id;
}

TEST(AppspecAgent, RejectsUnknownEventsAndBadAppSpecs) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  TestBundle bundle("  BeforeInstall:\n    - location: scripts/missing.sh\n", {});
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto unknown = agent.run(bundle.bundle(), instances, {"Deploy"}, kContext,
                           from_now(std::chrono::seconds(60)), results);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::invalid_input);
  auto missing = agent.run(bundle.bundle(), instances, {"DownloadBundle", "BeforeInstall"},
                           kContext, from_now(std::chrono::seconds(60)), results);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("scripts/missing.sh is missing"), std::string::npos)
      << missing.error().message;
}

TEST(AppspecAgent, RunsHooksAsTheirRunasUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  TestFleet fleet;
  auto instances = fleet.launch(1);
  TestBundle bundle("  AfterInstall:\n    - location: scripts/whoami.sh\n      runas: nobody\n",
                    {{"scripts/whoami.sh", "id -u; echo \"$HOME $USER\"\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto run = agent.run(bundle.bundle(), instances, {"DownloadBundle", "AfterInstall"}, kContext,
                       from_now(std::chrono::seconds(60)), results);
  ASSERT_TRUE(run) << run.error().message;
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].output_tail,
            std::to_string(nobody->uid) + "\n" + nobody->home.string() + " nobody\n");
}

TEST(AppspecAgent, AHookCannotSignalAnotherInstancesProcesses) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  TestFleet fleet;
  auto instances = fleet.launch(2);
  TestBundle server_bundle(
      "  ApplicationStart:\n    - location: scripts/start.sh\n",
      {{"scripts/start.sh",
        "setsid /bin/bash -c 'exec -a \"victim-$BLUEGREEN_INSTANCE_ID\" sleep 1000' "
        ">/dev/null 2>&1 &\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent;
  ASSERT_TRUE(agent.run(server_bundle.bundle(), {instances[0]}, {"ApplicationStart"}, kContext,
                        from_now(std::chrono::seconds(60)), results));
  ASSERT_EQ(results.size(), 1u);
  std::vector<pid_t> named;
  ASSERT_TRUE(wait_for([&] {
    named = processes_named("victim-" + instances[0].id);
    return named.size() == 1;
  }));
  pid_t victim = named[0];
  ASSERT_TRUE(process_is_alive(victim));

  TestBundle attacker_bundle(
      "  ApplicationStart:\n    - location: scripts/attack.sh\n      runas: nobody\n",
      {{"scripts/attack.sh",
        "kill -KILL " + std::to_string(victim) + " 2>&1\necho \"exit=$?\"\n"}});
  results.clear();
  ASSERT_TRUE(agent.run(attacker_bundle.bundle(), {instances[1]}, {"ApplicationStart"}, kContext,
                        from_now(std::chrono::seconds(60)), results));
  ASSERT_EQ(results.size(), 1u);
  // Refused outright, or (in its own PID namespace) that pid is not even there to signal.
  const std::string& output = results[0].output_tail;
  EXPECT_TRUE(output.find("Operation not permitted") != std::string::npos ||
              output.find("No such process") != std::string::npos)
      << output;
  EXPECT_NE(output.find("exit=1"), std::string::npos) << output;
  EXPECT_TRUE(process_is_alive(victim));
}

TEST(AppspecAgent, AHookPrintingAHundredMegabytesLeavesOneMebibyteAndANote) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  TestBundle bundle("  ApplicationStart:\n    - location: scripts/loud.sh\n",
                    {{"scripts/loud.sh",
                      "head -c 100000000 /dev/zero | tr '\\0' 'x'\necho\necho the-last-line\n"}});
  std::vector<HookResult> results;
  AppspecAgent agent;
  ASSERT_TRUE(agent.run(bundle.bundle(), instances, {"ApplicationStart"}, kContext,
                        from_now(std::chrono::seconds(120)), results));
  ASSERT_EQ(results.size(), 1u);

  const std::string note = "[\xE2\x80\xA6 94.4 MiB of earlier output dropped]";
  auto log = read_text(instance_layout::logs(instances[0].root) / "ApplicationStart-1.log");
  EXPECT_EQ(log.size(), note.size() + 1 + 1024 * 1024);
  EXPECT_EQ(log.substr(0, note.size()), note);
  EXPECT_TRUE(log.ends_with("\nthe-last-line\n"));
  EXPECT_EQ(results[0].output_tail.substr(0, note.size()), note) << "shown with the output too";
  EXPECT_TRUE(results[0].output_tail.ends_with("the-last-line\n"));
  EXPECT_LE(results[0].output_tail.size(), note.size() + 1 + 4096);
}

}  // namespace
}  // namespace bluegreen
