#include "infra/process/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using namespace testing_support;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

SpawnOptions shell(const std::string& script, const TempDir& dir) {
  return SpawnOptions{.argv = {"/bin/sh", "-c", script},
                      .environment = {"PATH=/usr/bin:/bin"},
                      .working_directory = dir.path(),
                      .output_path = dir.path() / "output.log"};
}

TEST(Process, CapturesBothStreamsAndTheExitStatus) {
  TempDir dir;
  auto child = Process::spawn(shell("echo to-out; echo to-err >&2; exit 3", dir));
  ASSERT_TRUE(child) << child.error().message;
  auto status = child->wait(from_now(seconds(30)), Duration(100));
  EXPECT_EQ(status.kind, ExitKind::exited);
  EXPECT_EQ(status.code, 3);
  EXPECT_FALSE(status.succeeded());
  EXPECT_EQ(read_text(dir.path() / "output.log"), "to-out\nto-err\n");
}

TEST(Process, GivesExactlyTheEnvironmentAndDirectoryAsked) {
  TempDir dir;
  setenv("BLUEGREEN_TEST_LEAK", "leaked", 1);
  auto options = shell("echo \"$GREETING|${BLUEGREEN_TEST_LEAK:-unset}|$(pwd)\"", dir);
  options.environment.push_back("GREETING=hi");
  auto child = Process::spawn(options);
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(seconds(30)), Duration(100)).succeeded());
  EXPECT_EQ(read_text(dir.path() / "output.log"),
            "hi|unset|" + fs::canonical(dir.path()).string() + "\n");
  unsetenv("BLUEGREEN_TEST_LEAK");
}

TEST(Process, LeadsItsOwnSessionAndProcessGroup) {
  TempDir dir;
  auto child = Process::spawn(shell("echo started; exec sleep 1000", dir));
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_EQ(getpgid(child->pid()), child->pid());
  EXPECT_EQ(getsid(child->pid()), child->pid());
  EXPECT_NE(getpgid(child->pid()), getpgid(0));
}

TEST(Process, KillsTheWholeGroupAtTheDeadline) {
  TempDir dir;
  auto child = Process::spawn(shell("sleep 1000 & echo $! > background.pid; sleep 1000", dir));
  ASSERT_TRUE(child) << child.error().message;
  ASSERT_TRUE(wait_for_file(dir.path() / "background.pid"));
  pid_t background = std::atoi(read_text(dir.path() / "background.pid").c_str());
  ASSERT_GT(background, 0);
  auto status = child->wait(from_now(Duration(200)), Duration(100));
  EXPECT_EQ(status.kind, ExitKind::timed_out);
  EXPECT_FALSE(process_is_alive(child->pid()));
  EXPECT_FALSE(process_is_alive(background));
}

TEST(Process, KillsWhatIgnoresSigtermAfterTheGrace) {
  TempDir dir;
  auto child =
      Process::spawn(shell("trap '' TERM; echo ready > ready; while :; do sleep 0.05; done", dir));
  ASSERT_TRUE(child) << child.error().message;
  ASSERT_TRUE(wait_for_file(dir.path() / "ready"));
  auto status = child->wait(from_now(Duration(50)), Duration(100));
  EXPECT_EQ(status.kind, ExitKind::timed_out);
  EXPECT_FALSE(process_is_alive(child->pid()));
}

TEST(Process, StopsWhenCancelled) {
  TempDir dir;
  auto child = Process::spawn(shell("exec sleep 1000", dir));
  ASSERT_TRUE(child) << child.error().message;
  std::atomic<bool> cancel{true};
  EXPECT_EQ(child->wait(from_now(seconds(600)), Duration(100), &cancel).kind, ExitKind::cancelled);
  EXPECT_FALSE(process_is_alive(child->pid()));
}

TEST(Process, DestroyingARunningProcessKillsIt) {
  TempDir dir;
  pid_t pid = 0;
  {
    auto child = Process::spawn(shell("exec sleep 1000", dir));
    ASSERT_TRUE(child) << child.error().message;
    pid = child->pid();
  }
  EXPECT_FALSE(process_is_alive(pid));
}

TEST(Process, ReportsAProgramThatCannotStart) {
  TempDir dir;
  auto missing = Process::spawn(SpawnOptions{.argv = {"no-such-program-xyz"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no-such-program-xyz"), std::string::npos);

  auto options = shell("true", dir);
  options.working_directory = dir.path() / "absent";
  auto no_directory = Process::spawn(options);
  ASSERT_FALSE(no_directory);
  EXPECT_NE(no_directory.error().message.find("working directory"), std::string::npos)
      << no_directory.error().message;
}

TEST(Process, RunsAsAnotherUserWhenRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  auto options = shell("id -u; id -g", dir);
  options.run_as = "nobody";
  auto child = Process::spawn(options);
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(seconds(30)), Duration(100)).succeeded());
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody);
  EXPECT_EQ(read_text(dir.path() / "output.log"),
            std::to_string(nobody->uid) + "\n" + std::to_string(nobody->gid) + "\n");
}

TEST(Process, RefusesAnotherUserWithoutRoot) {
  if (geteuid() == 0) GTEST_SKIP() << "only meaningful without root";
  TempDir dir;
  auto options = shell("true", dir);
  options.run_as = "root";
  auto child = Process::spawn(options);
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(child.error().message.find("needs this server to run as root"), std::string::npos);
}

TEST(Process, ReportsAnUnknownUser) {
  TempDir dir;
  auto options = shell("true", dir);
  options.run_as = "no-such-user-xyz";
  auto child = Process::spawn(options);
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().kind, ErrorKind::not_found);
}

// The output file and the tail are never reached through a link or a fifo: whoever can write
// the log's directory must not make the caller (root, for hooks) write or read another file.
TEST(Process, NeverWritesOutputThroughALinkNorOverAnExistingFileWhenExclusive) {
  TempDir dir;
  write_file(dir.path() / "victim", "original\n");
  fs::create_symlink(dir.path() / "victim", dir.path() / "output.log");
  EXPECT_FALSE(Process::spawn(shell("echo through-the-link", dir)));
  EXPECT_EQ(read_text(dir.path() / "victim"), "original\n");
  fs::remove(dir.path() / "output.log");
  write_file(dir.path() / "output.log", "there already\n");
  auto options = shell("echo x", dir);
  options.output_exclusive = true;
  EXPECT_FALSE(Process::spawn(options));
  EXPECT_EQ(read_text(dir.path() / "output.log"), "there already\n");
}

TEST(Process, AFileSizeLimitStopsTheChildAtIt) {
  TempDir dir;
  auto options = shell("head -c 10000000 /dev/zero > big", dir);
  options.file_size_limit = 1 << 20;
  auto child = Process::spawn(options);
  ASSERT_TRUE(child) << child.error().message;
  auto status = child->wait(from_now(seconds(30)), Duration(100));
  EXPECT_FALSE(status.succeeded());
  EXPECT_LE(fs::file_size(dir.path() / "big"), 1u << 20);
}

// When a child leaves a process that still writes to its output, a keeper forked from this
// process serves the output (in the child's PID namespace, where hooks can read its environ):
// it must carry none of this process's environment.
TEST(Process, TheOutputKeeperCarriesNoneOfOurEnvironment) {
  ASSERT_NE(read_text("/proc/self/environ").find('='), std::string::npos);
  TempDir dir;
  std::string token = "keeperwriter" + std::to_string(getpid());
  auto options = shell("/bin/bash -c 'exec -a " + token + " sleep 30' & exit 0", dir);
  options.output_limit = 1 << 20;
  auto child = Process::spawn(options);
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(seconds(30)), Duration(100)).succeeded());
  pid_t keeper = 0;
  ASSERT_TRUE(wait_for([&] {
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (read_text(it->path() / "comm") != "bg-output\n") continue;
      if (fs::read_symlink(it->path() / "fd" / "1", ec) == dir.path() / "output.log") {
        keeper = static_cast<pid_t>(std::stol(it->path().filename().string()));
        return true;
      }
    }
    return false;
  }));
  std::string environment = read_text("/proc/" + std::to_string(keeper) + "/environ");
  std::erase(environment, '\0');
  EXPECT_EQ(environment, "");
  for (pid_t pid : processes_named(token)) kill(pid, SIGKILL);
}

TEST(ReadFileTail, ReadsNoLinkFifoOrDevice) {
  TempDir dir;
  write_file(dir.path() / "secret", "secret\n");
  fs::create_symlink(dir.path() / "secret", dir.path() / "link");
  EXPECT_EQ(read_file_tail(dir.path() / "link"), "");
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(read_file_tail(dir.path() / "fifo"), "");
  EXPECT_EQ(read_file_tail("/dev/zero"), "");
  EXPECT_EQ(read_file_tail(dir.path() / "secret"), "secret\n");
}

TEST(ReadFileTail, KeepsTheLastWholeLines) {
  TempDir dir;
  std::ofstream(dir.path() / "log") << "first line\nsecond line\nthird\n";
  EXPECT_EQ(read_file_tail(dir.path() / "log", 14), "third\n");
  EXPECT_EQ(read_file_tail(dir.path() / "log", 4096), "first line\nsecond line\nthird\n");
  EXPECT_EQ(read_file_tail(dir.path() / "missing"), "");
}

TEST(ReadFileTail, ReplacesBytesThatAreNotUtf8) {
  TempDir dir;
  std::ofstream(dir.path() / "log") << "caf\xc3\xa9 \xff\xfe ok\n";
  EXPECT_EQ(read_file_tail(dir.path() / "log"), "caf\xc3\xa9 ?? ok\n");
}

}  // namespace
}  // namespace bluegreen
