#include "infra/process/pid_namespace.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "infra/process/process.h"
#include "infra/process/process_test_support.h"
#include "infra/process/socket_channel.h"

namespace bluegreen {
namespace {

using namespace testing_support;
namespace fs = std::filesystem;

std::string unique_token() {
  std::random_device random;
  return "escapee" + std::to_string(random());
}

// A script that leaves three processes behind, each escaping its starter differently: `setsid`
// with its environment cleared, a double fork that renames itself and closes its output, and
// a plain background job. All carry `token` in their command line.
std::string escaping_script(const std::string& token) {
  auto named = [&](const std::string& suffix) {
    return "/bin/bash -c 'exec -a " + token + "-" + suffix + " sleep 1000'";
  };
  return "env -i setsid " + named("setsid") + " >/dev/null 2>&1 & " + "( env -i setsid " +
         named("renamed") + " </dev/null >/dev/null 2>&1 & ) ; " + named("plain") + " & exit 0";
}

class PidNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!PidNamespace::supported(&why)) GTEST_SKIP() << "no PID namespaces here: " << why;
  }

  // Runs `script` inside `space` (and its mount namespace) to its end.
  void run_inside(const PidNamespace& space, const std::string& script) {
    auto child = Process::spawn(SpawnOptions{.argv = {"/bin/sh", "-c", script},
                                             .environment = {"PATH=/usr/bin:/bin"},
                                             .working_directory = dir_.path(),
                                             .output_path = dir_.path() / "output.log",
                                             .pid_namespace = space.namespace_fd(),
                                             .mount_namespace = space.mount_namespace_fd()});
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_TRUE(child->wait(from_now(std::chrono::seconds(30)), Duration(100)).succeeded())
        << read_text(dir_.path() / "output.log");
  }

  TempDir dir_;
};

TEST_F(PidNamespaceTest, KillingTheHolderEndsEveryProcessThatEscapedItsStarter) {
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  std::string token = unique_token();
  run_inside(*space,
             "/bin/bash -c 'exec -a " + token + "-extra sleep 1000' & " + escaping_script(token));
  ASSERT_TRUE(wait_for([&] { return processes_named(token).size() == 4; }))
      << processes_named(token).size();
  auto members = space->members();
  for (pid_t pid : processes_named(token)) {
    EXPECT_NE(std::find(members.begin(), members.end(), pid), members.end()) << pid;
  }

  ASSERT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
  EXPECT_FALSE(space->alive());
  EXPECT_EQ(processes_named(token), std::vector<pid_t>{});
  EXPECT_FALSE(process_is_alive(space->record().holder));
}

// The holder is a fork of this process: whatever environment this process started with (for
// the server: its credentials and tokens) must not be readable from it, inside or outside.
TEST_F(PidNamespaceTest, TheHolderCarriesNoneOfOurEnvironment) {
  auto ours = read_text("/proc/self/environ");
  ASSERT_NE(ours.find('='), std::string::npos) << "this test needs an environment to look for";
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  auto without_nul = [](std::string text) {
    std::erase(text, '\0');
    return text;
  };
  auto outside = read_text("/proc/" + std::to_string(space->record().holder) + "/environ");
  EXPECT_EQ(without_nul(outside), "");
  run_inside(*space, "cat /proc/1/environ > " + (dir_.path() / "inside").string());
  EXPECT_EQ(without_nul(read_text(dir_.path() / "inside")), "");
  EXPECT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
}

TEST_F(PidNamespaceTest, InsideProcSeesOnlyTheNamespaceSoPidsAgreeWithWhatKillTakes) {
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  ASSERT_GE(space->mount_namespace_fd(), 0) << "the holder could not mount its own /proc";
  run_inside(*space,
             "read -r pid rest < /proc/self/stat; echo \"self=$pid shell=$$\"; "
             "sleep 1000 & echo \"started=$!\"; "
             "echo \"init=$(cat /proc/1/comm)\"; "
             "test -d /proc/$! && kill $! && wait $!; echo \"killed=$?\"");
  std::string output = read_text(dir_.path() / "output.log");
  EXPECT_NE(output.find("self=2 shell=2\n"), std::string::npos) << output;
  EXPECT_NE(output.find("init=bg-test\n"), std::string::npos) << output;
  EXPECT_NE(output.find("killed=143\n"), std::string::npos) << output;
  // This side's /proc is untouched.
  EXPECT_TRUE(std::filesystem::exists("/proc/" + std::to_string(getpid())));
  EXPECT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
}

TEST_F(PidNamespaceTest, SignalMembersLetsThemExitGentlyAndSparesTheHolder) {
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  std::string token = unique_token();
  run_inside(*space, escaping_script(token));
  ASSERT_TRUE(wait_for([&] { return processes_named(token).size() == 3; }));
  EXPECT_EQ(space->signal_members(SIGTERM), 3);
  EXPECT_TRUE(wait_for([&] { return space->members().empty(); }));
  EXPECT_TRUE(space->alive());
  EXPECT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
}

TEST_F(PidNamespaceTest, ARecordFindsTheNamespaceAgainAsARestartedServerWould) {
  std::string token = unique_token();
  PidNamespace::Record record;
  {
    auto space = PidNamespace::create("bg-test");
    ASSERT_TRUE(space) << space.error().message;
    run_inside(*space, escaping_script(token));
    record = space->record();
  }  // our descriptors are gone; the namespace runs on
  ASSERT_TRUE(wait_for([&] { return processes_named(token).size() == 3; }));

  auto parsed = PidNamespace::parse(PidNamespace::format(record));
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto found = PidNamespace::open(*parsed);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->kill_all(from_now(std::chrono::seconds(10))));
  EXPECT_EQ(processes_named(token), std::vector<pid_t>{});
}

TEST_F(PidNamespaceTest, ARecordWhosePidNowBelongsToAnotherProcessIsRefused) {
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  auto wrong_start = space->record();
  wrong_start.start_time += 1;
  auto refused = PidNamespace::open(wrong_start);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::not_found);

  // Our own pid is certainly alive, and certainly not a holder.
  auto not_a_holder = space->record();
  not_a_holder.holder = getpid();
  EXPECT_FALSE(PidNamespace::open(not_a_holder));
  EXPECT_TRUE(space->alive());
  ASSERT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));

  auto after = PidNamespace::open(space->record());
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().kind, ErrorKind::not_found);
}

// A hook able to write its instance's record must not make terminate() kill the machine: a
// record naming a process of ours, with every detail right, is refused before any signal.
TEST_F(PidNamespaceTest, AForgedRecordNamingAProcessOfOursIsRefused) {
  auto child = Process::spawn(
      SpawnOptions{.argv = {"/bin/sleep", "1000"}, .environment = {"PATH=/usr/bin:/bin"}});
  ASSERT_TRUE(child) << child.error().message;
  std::string stat_text = read_text("/proc/" + std::to_string(child->pid()) + "/stat");
  std::istringstream fields(stat_text.substr(stat_text.rfind(')') + 2));
  std::string skipped;
  for (int field = 3; field < 22; ++field) fields >> skipped;
  PidNamespace::Record forged{.holder = child->pid()};
  fields >> forged.start_time;
  struct stat ours {};
  ASSERT_EQ(::stat("/proc/self/ns/pid", &ours), 0);
  forged.namespace_inode = ours.st_ino;

  auto refused = PidNamespace::open(forged);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input) << refused.error().message;
  EXPECT_TRUE(process_is_alive(child->pid()));
}

TEST_F(PidNamespaceTest, NothingStartsInANamespaceWhoseHolderIsGone) {
  auto space = PidNamespace::create("bg-test");
  ASSERT_TRUE(space) << space.error().message;
  ASSERT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
  auto child = Process::spawn(SpawnOptions{.argv = {"/bin/true"},
                                           .environment = {"PATH=/usr/bin:/bin"},
                                           .pid_namespace = space->namespace_fd()});
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find("PID namespace is gone"), std::string::npos)
      << child.error().message;
}

TEST_F(PidNamespaceTest, OpenOrCreateReusesALiveRecordAndReplacesADeadOne) {
  auto path = dir_.path() / "pid-namespace";
  auto first = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(first) << first.error().message;
  auto again = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->record().holder, first->record().holder);

  ASSERT_TRUE(first->kill_all(from_now(std::chrono::seconds(10))));
  auto replaced = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_NE(replaced->record().namespace_inode, first->record().namespace_inode);
  EXPECT_TRUE(replaced->alive());
  EXPECT_TRUE(replaced->kill_all(from_now(std::chrono::seconds(10))));
}

// What a restarted server finds: a file listing two live namespaces (neither remembered by
// this process) gives both, and a spoiled line among them hides neither.
TEST_F(PidNamespaceTest, EveryLiveNamespaceOfARecordFileIsFound) {
  auto first = PidNamespace::create("bg-test");
  auto second = PidNamespace::create("bg-test");
  ASSERT_TRUE(first && second);
  auto path = dir_.path() / "pid-namespace";
  std::ofstream(path) << PidNamespace::format(first->record()) << "spoiled\n"
                      << PidNamespace::format(second->record());
  auto found = open_recorded_pid_namespaces(path);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].record().holder, first->record().holder);
  EXPECT_EQ(found[1].record().holder, second->record().holder);
  // Reused, not replaced: the newest live one.
  auto reused = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(reused) << reused.error().message;
  EXPECT_EQ(reused->record().holder, second->record().holder);
  EXPECT_TRUE(first->kill_all(from_now(std::chrono::seconds(10))));
  EXPECT_TRUE(second->kill_all(from_now(std::chrono::seconds(10))));
  EXPECT_TRUE(open_recorded_pid_namespaces(path).empty());
}

// A record file replaced by one that names no live holder: the namespace it forgot is still
// found (from this process's memory), reused, and listed in the file again.
TEST_F(PidNamespaceTest, AReplacedRecordFileForgetsNoLiveNamespace) {
  auto path = dir_.path() / "pid-namespace";
  auto first = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(first) << first.error().message;
  std::ofstream(path, std::ios::trunc) << "holder 999999 start 1 namespace 1\n";
  auto found = open_recorded_pid_namespaces(path);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].record().holder, first->record().holder);
  auto again = open_or_create_pid_namespace(path, "bg-test");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->record().holder, first->record().holder);
  EXPECT_EQ(read_text(path), PidNamespace::format(first->record()));
  EXPECT_TRUE(first->kill_all(from_now(std::chrono::seconds(10))));
}

TEST(PidNamespaceRecord, AMalformedRecordIsInvalidInput) {
  auto parsed = PidNamespace::parse("holder 1 start x");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_input);
}

// A HostView is made before anything joins: its hostname, its own loopback only, the machine
// read-only, and the mount steps in order (a writable bind and a private tmpfs).
TEST_F(PidNamespaceTest, AHostViewGivesMembersItsHostnameNetworkAndFiles) {
  std::filesystem::create_directories(dir_.path() / "writable");
  std::filesystem::create_directories(dir_.path() / "target");
  std::filesystem::create_directories(dir_.path() / "private");
  HostView view{
      .hostname = "i-viewtest",
      .own_network = true,
      .read_only_host = true,
      .mounts = {{MountStep::Kind::bind, (dir_.path() / "target").string(),
                  (dir_.path() / "writable").string()},
                 {MountStep::Kind::tmpfs, (dir_.path() / "private").string(), "mode=0755"}}};
  auto space = PidNamespace::create("bg-view-test", &view);
  if (!space && space.error().message.find("Operation not permitted") != std::string::npos) {
    GTEST_SKIP() << space.error().message;
  }
  ASSERT_TRUE(space) << space.error().message;
  ASSERT_EQ(space->host_namespace_fds().size(), 2u);
  fs::path out = dir_.path() / "writable" / "answers";
  auto child = Process::spawn(SpawnOptions{
      .argv = {"/bin/sh", "-c",
               "hostname > target/answers; "
               "sed -n 's/^ *\\([a-z0-9]*\\):.*/\\1/p' /proc/net/dev >> target/answers; "
               "touch machine-file 2>/dev/null || echo read-only >> target/answers; "
               "touch private/x && echo private >> target/answers"},
      .environment = {"PATH=/usr/bin:/bin"},
      .working_directory = dir_.path(),
      .pid_namespace = space->namespace_fd(),
      .mount_namespace = space->mount_namespace_fd(),
      .namespaces = space->host_namespace_fds()});
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(std::chrono::seconds(30)), Duration(100)).succeeded());
  EXPECT_EQ(read_text(out), "i-viewtest\nlo\nread-only\nprivate\n");
  EXPECT_FALSE(fs::exists(dir_.path() / "machine-file"));
  EXPECT_FALSE(fs::exists(dir_.path() / "private" / "x")) << "the tmpfs is the holder's own";
  ASSERT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
}

// A holder with its own user namespace (what a server that is not root makes) hands out
// sockets of its network through its channel: connected to 127.0.0.1, they reach a program
// listening inside it, on a port nothing of this machine listens on. A child joins the user
// namespace through a relay that passes on its exit status.
TEST_F(PidNamespaceTest, AHolderWithItsOwnUsersHandsOutSocketsOfItsNetwork) {
  fs::path channel_path = dir_.path() / "channel";
  auto channel = open_socket_channel(channel_path);
  ASSERT_TRUE(channel) << channel.error().message;
  HostView view{.hostname = "i-userstest",
                .own_network = true,
                .own_ipc = true,
                .read_only_host = true,
                .own_users = true,
                .socket_channel = *channel};
  auto space = PidNamespace::create("bg-users-test", &view);
  close(*channel);
  if (!space) GTEST_SKIP() << "no user namespaces here: " << space.error().message;
  ASSERT_GE(space->user_namespace_fd(), 0);
  auto spawn_inside = [&](const std::string& script) {
    return Process::spawn(SpawnOptions{.argv = {"/bin/sh", "-c", script},
                                       .environment = {"PATH=/usr/bin:/bin"},
                                       .working_directory = "/",
                                       .output_path = dir_.path() / "output.log",
                                       .pid_namespace = space->namespace_fd(),
                                       .mount_namespace = space->mount_namespace_fd(),
                                       .namespaces = space->host_namespace_fds(),
                                       .user_namespace = space->user_namespace_fd()});
  };
  auto status = spawn_inside("[ \"$(id -u) $(hostname)\" = \"0 i-userstest\" ] && exit 3");
  ASSERT_TRUE(status) << status.error().message;
  ExitStatus exited = status->wait(from_now(std::chrono::seconds(30)), Duration(100));
  EXPECT_EQ(exited.kind, ExitKind::exited);
  EXPECT_EQ(exited.code, 3) << read_text(dir_.path() / "output.log");

  const int port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  auto server = spawn_inside(
      "exec python3 -c 'import socket\n"
      "s = socket.socket(); s.bind((\"127.0.0.1\", " +
      std::to_string(port) +
      ")); s.listen()\n"
      "while True:\n    c, _ = s.accept(); c.sendall(b\"inside\"); c.close()'");
  ASSERT_TRUE(server) << server.error().message;
  sockaddr_in loopback{};
  loopback.sin_family = AF_INET;
  loopback.sin_port = htons(static_cast<std::uint16_t>(port));
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  for (int attempt = 0; attempt < 100 && answer.empty(); ++attempt) {
    auto fd = socket_from_channel(channel_path);
    ASSERT_TRUE(fd) << fd.error().message;
    if (connect(*fd, reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) == 0) {
      char buffer[16] = {};
      ssize_t got = read(*fd, buffer, sizeof buffer);
      if (got > 0) answer.assign(buffer, static_cast<std::size_t>(got));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    close(*fd);
  }
  EXPECT_EQ(answer, "inside") << read_text(dir_.path() / "output.log");
  int outside = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_NE(connect(outside, reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback), 0)
      << "port " << port << " answers on this machine's loopback too";
  close(outside);
  ASSERT_TRUE(space->kill_all(from_now(std::chrono::seconds(10))));
  EXPECT_EQ(server->wait(from_now(std::chrono::seconds(10)), Duration(100)).kind,
            ExitKind::signalled);
  auto gone = socket_from_channel(channel_path, std::chrono::milliseconds(200));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::unavailable);
}

TEST_F(PidNamespaceTest, AViewThatCannotBeMadeFailsNamingTheStep) {
  HostView view{.hostname = "i-badview",
                .mounts = {{MountStep::Kind::bind, (dir_.path() / "missing-target").string(),
                            (dir_.path() / "missing-source").string()}}};
  auto space = PidNamespace::create("bg-view-test", &view);
  ASSERT_FALSE(space);
  EXPECT_NE(space.error().message.find("missing-target"), std::string::npos)
      << space.error().message;
}

}  // namespace
}  // namespace bluegreen
