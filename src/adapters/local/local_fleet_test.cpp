#include "adapters/local/local_fleet.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "adapters/local/appspec_agent.h"
#include "adapters/local/instance_host.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/instance_network.h"
#include "adapters/local/local_test_support.h"
#include "infra/process/marked_processes.h"
#include "infra/process/pid_namespace.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

TEST(LocalFleet, LaunchGivesEachInstanceAnIdADirectoryAPortAndTags) {
  TestFleet fleet;
  auto instances = fleet.launch(3, "d-fleet1");
  ASSERT_EQ(instances.size(), 3u);
  std::set<std::string> ids;
  std::set<int> ports;
  for (const auto& instance : instances) {
    EXPECT_TRUE(std::regex_match(instance.id, std::regex("i-[0-9a-f]{8}"))) << instance.id;
    EXPECT_EQ(instance.fleet_id, "d-fleet1");
    EXPECT_EQ(instance.host, "127.0.0.1");
    EXPECT_GT(instance.port, 0);
    EXPECT_EQ(instance.root, fleet.state_dir() / "instances" / instance.id);
    EXPECT_TRUE(fs::is_directory(instance.root));
    EXPECT_EQ(instance.tags.at("GreenIdentifier"), "green-d-fleet1");
    EXPECT_EQ(instance.state, InstanceState::pending);
    ids.insert(instance.id);
    ports.insert(instance.port);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ports.size(), 3u);
  EXPECT_EQ(fleet.fleet().list().size(), 3u);
}

// ISOLATION=namespaces: each instance is reached on its own end of its own veth pair, at
// APP_PORT; no two instances share a /30, and terminate gives it back with the pair.
TEST(LocalFleet, NamespacedInstancesGetTheirOwnAddressWhichTerminateGivesBack) {
  std::string why;
  if (!instance_hosts_supported(&why)) GTEST_SKIP() << "no namespaces here: " << why;
  TestFleet fleet;
  auto launched = fleet.fleet().launch(LaunchRequest{
      .fleet_id = "d-own", .count = 2, .isolation = Isolation::namespaces, .app_port = 3000});
  ASSERT_TRUE(launched) << launched.error().message;
  ASSERT_EQ(launched->size(), 2u);
  std::set<std::string> hosts;
  for (const auto& instance : *launched) {
    EXPECT_EQ(instance.isolation, Isolation::namespaces);
    EXPECT_EQ(instance.port, 3000);
    auto address = address_of_instance(instance.host);
    ASSERT_TRUE(address) << instance.host << " is not an address the server allocates";
    EXPECT_TRUE(fs::exists("/sys/class/net/" + address->machine_interface));
    hosts.insert(instance.host);
  }
  EXPECT_EQ(hosts.size(), 2u);
  // A restarted server reads the same from the records.
  LocalFleet after(LocalFleetOptions{fleet.state_dir()});
  for (const auto& recorded : after.recorded_instances()) {
    EXPECT_EQ(recorded.isolation, Isolation::namespaces);
    EXPECT_TRUE(hosts.contains(recorded.host));
  }
  std::vector<std::string> ids;
  for (const auto& instance : *launched) ids.push_back(instance.id);
  ASSERT_TRUE(fleet.fleet().terminate(ids));
  EXPECT_TRUE(fs::is_empty(fleet.state_dir() / "addresses"));
  for (const auto& instance : *launched) {
    EXPECT_FALSE(
        fs::exists("/sys/class/net/" + address_of_instance(instance.host)->machine_interface));
  }
}

TEST(LocalFleet, RejectsAnEmptyLaunch) {
  TestFleet fleet;
  auto launched = fleet.fleet().launch(LaunchRequest{.fleet_id = "d-1", .count = 0});
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().kind, ErrorKind::invalid_input);
}

// The acceptance case: hooks that detach with setsid and with a double fork leave
// processes outside their own tree and group; terminate() must still end them all.
TEST(LocalFleet, TerminateLeavesNoProcessOfTheInstanceAlive) {
  TestFleet fleet;
  auto instances = fleet.launch(2);
  TempDir bundle_dir{"bg-bundle"};
  write_file(bundle_dir.path() / "appspec.yml",
             "version: 0.0\nos: linux\nhooks:\n"
             "  ApplicationStart:\n"
             "    - location: scripts/setsid.sh\n"
             "    - location: scripts/double_fork.sh\n");
  // Each names itself after its instance: a hook's $$ and $! count inside the instance's PID
  // namespace, so they are found from here by name.
  write_script(bundle_dir.path() / "scripts/setsid.sh",
               "setsid /bin/bash -c 'exec -a \"$BLUEGREEN_INSTANCE_ID-setsid\" sleep 1000' "
               ">/dev/null 2>&1 &\n");
  write_script(bundle_dir.path() / "scripts/double_fork.sh",
               "(/bin/bash -c 'exec -a \"$BLUEGREEN_INSTANCE_ID-forked\" sleep 1000' "
               ">/dev/null 2>&1 &)\n");
  std::vector<HookResult> results;
  AppspecAgent agent;
  ASSERT_TRUE(agent.run(Bundle{.root = bundle_dir.path()}, instances, {"ApplicationStart"},
                        LifecycleContext{.deployment_id = "d-1"},
                        from_now(std::chrono::seconds(60)), results));

  std::map<std::string, std::vector<pid_t>> pids;
  for (const auto& instance : instances) {
    ASSERT_TRUE(wait_for([&] {
      pids[instance.id] = processes_named(instance.id + "-");
      return pids[instance.id].size() == 2;
    }));
    for (pid_t pid : pids[instance.id]) EXPECT_TRUE(process_is_alive(pid));
  }

  ASSERT_TRUE(fleet.fleet().terminate({instances[0].id}));
  for (pid_t pid : pids[instances[0].id]) EXPECT_FALSE(process_is_alive(pid)) << pid;
  for (pid_t pid : pids[instances[1].id]) EXPECT_TRUE(process_is_alive(pid)) << pid;
  EXPECT_TRUE(find_marked_processes({"BLUEGREEN_INSTANCE_ID=" + instances[0].id}).empty());

  auto live = fleet.fleet().list();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, instances[1].id);
  EXPECT_TRUE(fs::exists(instance_layout::record(instances[0].root)));
  EXPECT_TRUE(fs::exists(instance_layout::logs(instances[0].root) / "ApplicationStart-1.log"));
  EXPECT_FALSE(fs::exists(instance_layout::deployment_archive(instances[0].root)));
}

// ApplicationStart that leaves, on each instance, two daemons no marker finds: the one that
// removes the instance's variable and starts its own session, and a double fork with an empty
// environment that renames itself and closes its output. Both carry `token`.
void start_escaping_daemons(const std::vector<Instance>& instances, const std::string& token) {
  TempDir bundle_dir{"bg-bundle"};
  write_file(bundle_dir.path() / "appspec.yml",
             "version: 0.0\nos: linux\nhooks:\n"
             "  ApplicationStart:\n"
             "    - location: scripts/start.sh\n");
  write_script(bundle_dir.path() / "scripts/start.sh",
               "env -u BLUEGREEN_INSTANCE_ID setsid sleep 3000." + token +
                   " &\n"
                   "( env -i setsid /bin/bash -c 'exec -a daemon-" +
                   token +
                   " sleep 3000' "
                   "</dev/null >/dev/null 2>&1 & )\n");
  std::vector<HookResult> results;
  AppspecAgent agent;
  auto run = agent.run(Bundle{.root = bundle_dir.path()}, instances, {"ApplicationStart"},
                       LifecycleContext{.deployment_id = "d-1"}, from_now(std::chrono::seconds(60)),
                       results);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_TRUE(wait_for([&] { return processes_named(token).size() == 2 * instances.size(); }))
      << processes_named(token).size();
}

std::string unique_token() {
  std::random_device random;
  return std::to_string(random() % 100'000'000 + 100'000'000);
}

TEST(LocalFleet, TerminateEndsDaemonsThatLeftTheirMarkerAndSession) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  std::string token = unique_token();
  start_escaping_daemons(instances, token);
  ASSERT_TRUE(fleet.fleet().terminate({instances[0].id}));
  EXPECT_EQ(processes_named(token), std::vector<pid_t>{});
}

// A spoiled namespace record (it names a holder that is gone) must not make the instance's
// namespace forgotten: the next hook joins it again, and its daemons die with the instance.
TEST(LocalFleet, TerminateEndsEveryNamespaceTheInstanceHasHad) {
  if (!PidNamespace::supported()) GTEST_SKIP() << "no PID namespaces here";
  TestFleet fleet;
  auto instances = fleet.launch(1);
  std::string first = unique_token();
  start_escaping_daemons(instances, first);
  auto record = instance_layout::pid_namespace(instances[0].root);
  write_file(record, "holder 999999 start 1 namespace 1\n");
  std::string second = unique_token();
  start_escaping_daemons(instances, second);
  std::istringstream lines(read_text(record));
  int recorded = 0;
  for (std::string line; std::getline(lines, line);) recorded += PidNamespace::parse(line) ? 1 : 0;
  EXPECT_EQ(recorded, 1) << read_text(record);

  ASSERT_TRUE(fleet.fleet().terminate({instances[0].id}));
  EXPECT_EQ(processes_named(first), std::vector<pid_t>{});
  EXPECT_EQ(processes_named(second), std::vector<pid_t>{});
}

TEST(LocalFleet, ARestartedFleetEndsDaemonsOfInstancesItNeverSaw) {
  TempDir state{"bg-fleet"};
  std::string token = unique_token();
  std::vector<Instance> instances;
  {
    LocalFleet before(LocalFleetOptions{.state_dir = state.path()});
    auto launched = before.launch(LaunchRequest{.fleet_id = "d-old", .count = 2});
    ASSERT_TRUE(launched);
    instances = *launched;
    start_escaping_daemons(instances, token);
  }
  LocalFleet after(LocalFleetOptions{.state_dir = state.path(), .kill_grace = Duration(500)});
  auto ended = after.terminate({instances[0].id, instances[1].id});
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(processes_named(token), std::vector<pid_t>{});
}

TEST(LocalFleet, TerminatingUnknownOrTerminatedInstancesSucceeds) {
  TestFleet fleet;
  auto instances = fleet.launch(1);
  EXPECT_TRUE(fleet.fleet().terminate({"i-00000000"}));
  EXPECT_TRUE(fleet.fleet().terminate({instances[0].id}));
  EXPECT_TRUE(fleet.fleet().terminate({instances[0].id}));
  EXPECT_TRUE(fleet.fleet().list().empty());
}

TEST(LocalFleet, ARestartedFleetFindsAndAdoptsItsInstances) {
  TempDir state{"bg-fleet"};
  std::vector<Instance> launched;
  {
    LocalFleet before(LocalFleetOptions{.state_dir = state.path()});
    auto instances = before.launch(
        LaunchRequest{.fleet_id = "d-old", .count = 2, .tags = {{"GreenIdentifier", "g-1"}}});
    ASSERT_TRUE(instances);
    launched = *instances;
    before.set_state(launched[0].id, InstanceState::healthy);
    ASSERT_TRUE(before.terminate({launched[1].id}));
  }
  LocalFleet after(LocalFleetOptions{.state_dir = state.path()});
  EXPECT_TRUE(after.list().empty());
  auto recorded = after.recorded_instances();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].id, launched[0].id);
  EXPECT_EQ(recorded[0].port, launched[0].port);
  EXPECT_EQ(recorded[0].state, InstanceState::healthy);
  EXPECT_EQ(recorded[0].tags.at("GreenIdentifier"), "g-1");

  after.adopt(recorded);
  ASSERT_EQ(after.list().size(), 1u);
  auto more = after.launch(LaunchRequest{.fleet_id = "d-new", .count = 1});
  ASSERT_TRUE(more);
  EXPECT_NE((*more)[0].port, launched[0].port);
  ASSERT_TRUE(after.terminate({launched[0].id, (*more)[0].id}));
  EXPECT_TRUE(after.recorded_instances().empty());
}

}  // namespace
}  // namespace bluegreen
