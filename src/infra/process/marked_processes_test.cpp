#include "infra/process/marked_processes.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "infra/process/file_text.h"
#include "infra/process/process.h"
#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

using namespace testing_support;

// Started with BLUEGREEN_TEST_THREAD_LEADER set, this test binary becomes, before any test
// runs, a process that ignores SIGTERM, leaves its session, and ends its first thread while a
// second one sleeps: /proc shows it as a zombie, yet it runs.
[[maybe_unused]] const bool kThreadLeader = [] {
  if (std::getenv("BLUEGREEN_TEST_THREAD_LEADER") == nullptr) return false;
  setsid();
  signal(SIGTERM, SIG_IGN);
  pthread_t sleeper;
  pthread_create(
      &sleeper, nullptr,
      [](void*) -> void* {
        for (;;) pause();
      },
      nullptr);
  // Only this thread ends (no unwinding through the static initialisers, as pthread_exit
  // would do).
  syscall(SYS_exit, 0);
  return true;
}();

std::string unique_marker() {
  std::random_device random;
  return process_marker("BLUEGREEN_TEST_OWNER", "owner-" + std::to_string(random()));
}

std::vector<pid_t> read_pids(const std::filesystem::path& file) {
  std::istringstream text(read_text(file));
  std::vector<pid_t> pids;
  for (pid_t pid; text >> pid;) pids.push_back(pid);
  return pids;
}

// Runs `script` marked with `marker` and waits for it to finish; whatever it left running in
// the background writes its pid to pids.txt first.
std::vector<pid_t> run_detaching_script(const TempDir& dir, const std::string& marker,
                                        const std::string& script, std::size_t expected_pids) {
  SpawnOptions options{.argv = {"/bin/sh", "-c", script},
                       .environment = {"PATH=/usr/bin:/bin", marker},
                       .working_directory = dir.path(),
                       .output_path = dir.path() / "output.log"};
  auto child = Process::spawn(options);
  EXPECT_TRUE(child) << child.error().message;
  if (!child) return {};
  EXPECT_TRUE(child->wait(from_now(std::chrono::seconds(30)), Duration(100)).succeeded());
  testing_support::wait_for(
      [&] { return read_pids(dir.path() / "pids.txt").size() >= expected_pids; });
  auto pids = read_pids(dir.path() / "pids.txt");
  EXPECT_EQ(pids.size(), expected_pids) << read_text(dir.path() / "output.log");
  return pids;
}

TEST(MarkedProcesses, EndsDetachedAndDoubleForkedProcesses) {
  TempDir dir;
  std::string marker = unique_marker();
  auto pids = run_detaching_script(dir, marker,
                                   "setsid sh -c 'echo $$ >> pids.txt; exec sleep 1000' & "
                                   "(sh -c 'echo $$ >> pids.txt; exec sleep 1000' &) ; "
                                   "sleep 0; exit 0",
                                   2);
  for (pid_t pid : pids) EXPECT_TRUE(process_is_alive(pid));
  auto found = find_marked_processes({marker});
  for (pid_t pid : pids) EXPECT_NE(std::find(found.begin(), found.end(), pid), found.end());

  auto killed = kill_marked_processes({marker}, Duration(500), from_now(std::chrono::seconds(10)));
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_GE(*killed, 2);
  for (pid_t pid : pids) EXPECT_FALSE(process_is_alive(pid));
  EXPECT_TRUE(find_marked_processes({marker}).empty());
}

// Starts `/bin/sh -c '<inner> & exec sleep 1000'` marked with `marker`, where `inner` runs with
// an empty environment (unmarked, in the marked session) and writes its pid to pids.txt first;
// returns that pid (0 when it did not start).
pid_t start_unmarked_in_marked_session(const TempDir& dir, const std::string& marker,
                                       const std::string& inner, std::optional<Process>& child) {
  SpawnOptions options{
      .argv = {"/bin/sh", "-c",
               "env -i /bin/sh -c 'echo $$ > pids.txt; " + inner + "' & exec sleep 1000"},
      .environment = {"PATH=/usr/bin:/bin", marker},
      .working_directory = dir.path(),
      .output_path = dir.path() / "output.log"};
  auto spawned = Process::spawn(options);
  EXPECT_TRUE(spawned) << spawned.error().message;
  if (!spawned) return 0;
  child.emplace(std::move(*spawned));
  EXPECT_TRUE(wait_for_file(dir.path() / "pids.txt"));
  auto pids = read_pids(dir.path() / "pids.txt");
  return pids.empty() ? 0 : pids.front();
}

TEST(MarkedProcesses, FindsAnUnmarkedProcessInAMarkedSession) {
  TempDir dir;
  std::string marker = unique_marker();
  std::optional<Process> child;
  pid_t unmarked = start_unmarked_in_marked_session(dir, marker, "exec sleep 1000", child);
  ASSERT_NE(unmarked, 0);
  auto found = find_marked_processes({marker});
  EXPECT_NE(std::find(found.begin(), found.end(), unmarked), found.end());
  ASSERT_TRUE(kill_marked_processes({marker}, Duration(500), from_now(std::chrono::seconds(10))));
  EXPECT_FALSE(process_is_alive(unmarked));
}

// An unmarked process found through its marked session, which ignores SIGTERM, outlives the
// marked processes that made it found: it is still killed (after the grace, with SIGKILL).
TEST(MarkedProcesses, KillsAnUnmarkedProcessThatOutlivesItsMarkedSession) {
  TempDir dir;
  std::string marker = unique_marker();
  std::optional<Process> child;
  pid_t unmarked = start_unmarked_in_marked_session(
      dir, marker, "trap \"\" TERM; while :; do sleep 1; done", child);
  ASSERT_NE(unmarked, 0);
  auto killed = kill_marked_processes({marker}, Duration(300), from_now(std::chrono::seconds(10)));
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_FALSE(process_is_alive(unmarked));
  (void)child->wait(from_now(std::chrono::seconds(5)), Duration(100));
}

// A marked process whose first thread has ended while another runs looks like a zombie in
// /proc; it is found and killed all the same.
TEST(MarkedProcesses, KillsAProcessWhoseFirstThreadEndedWhileAnotherRuns) {
  std::string marker = unique_marker();
  auto child = Process::spawn(SpawnOptions{
      .argv = {std::filesystem::read_symlink("/proc/self/exe").string()},
      .environment = {"PATH=/usr/bin:/bin", marker, "BLUEGREEN_TEST_THREAD_LEADER=1"}});
  ASSERT_TRUE(child) << child.error().message;
  pid_t pid = child->pid();
  std::string task = "/proc/" + std::to_string(pid) + "/task";
  auto threads = [&] {
    std::error_code ec;
    auto it = std::filesystem::directory_iterator(task, ec);
    return ec ? 0L : std::distance(it, std::filesystem::directory_iterator());
  };
  // Its first thread has ended (state Z) and the second still runs.
  ASSERT_TRUE(wait_for([&] { return !process_is_alive(pid) && threads() == 2; }));
  auto found = find_marked_processes({marker});
  EXPECT_NE(std::find(found.begin(), found.end(), pid), found.end());
  auto killed = kill_marked_processes({marker}, Duration(300), from_now(std::chrono::seconds(10)));
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_GE(*killed, 1);
  EXPECT_TRUE(wait_for([&] { return threads() <= 1; })) << "a thread of it still runs";
}

TEST(MarkedProcesses, LeavesOtherOwnersAlone) {
  TempDir mine, theirs;
  std::string my_marker = unique_marker(), their_marker = unique_marker();
  run_detaching_script(mine, my_marker, "setsid sh -c 'echo $$ > pids.txt; exec sleep 1000' &", 1);
  auto their_pids = run_detaching_script(theirs, their_marker,
                                         "setsid sh -c 'echo $$ > pids.txt; exec sleep 1000' &", 1);
  ASSERT_TRUE(
      kill_marked_processes({my_marker}, Duration(500), from_now(std::chrono::seconds(10))));
  ASSERT_EQ(their_pids.size(), 1u);
  EXPECT_TRUE(process_is_alive(their_pids[0]));
  ASSERT_TRUE(
      kill_marked_processes({their_marker}, Duration(500), from_now(std::chrono::seconds(10))));
  EXPECT_FALSE(process_is_alive(their_pids[0]));
}

TEST(MarkedProcesses, NothingToKillIsSuccess) {
  auto killed =
      kill_marked_processes({unique_marker()}, Duration(0), from_now(std::chrono::seconds(1)));
  ASSERT_TRUE(killed);
  EXPECT_EQ(*killed, 0);
}

// A scan of /proc meets processes that end while it reads their files (their reads fail with
// ESRCH): they are skipped, and the scan never throws. Bounded: 300 short processes.
TEST(MarkedProcesses, AScanWhileProcessesComeAndGoNeverThrows) {
  std::string marker = unique_marker();
  std::atomic<bool> done = false;
  std::thread churn([&] {
    for (int i = 0; i < 300; ++i) {
      SpawnOptions options{.argv = {"/bin/true"}, .environment = {"PATH=/usr/bin:/bin", marker}};
      if (auto child = Process::spawn(options)) {
        (void)child->wait(from_now(std::chrono::seconds(10)), Duration(1));
      }
    }
    done = true;
  });
  int scans = 0;
  while (!done) {
    EXPECT_NO_THROW((void)find_marked_processes({marker}));
    EXPECT_NO_THROW((void)processes_named("no-such-process-name"));
    ++scans;
  }
  churn.join();
  EXPECT_GT(scans, 0);
  EXPECT_TRUE(find_marked_processes({marker}).empty());
}

TEST(FileText, ReadsAFileWholeAndADirectoryOrAMissingFileIsNoneNotAnException) {
  TempDir dir;
  std::string text(20000, 'x');
  std::ofstream(dir.path() / "file", std::ios::binary) << text;
  EXPECT_EQ(read_file_text(dir.path() / "file"), text);
  // A directory opens, and then every read fails (EISDIR): std::ifstream would throw here.
  EXPECT_EQ(read_file_text(dir.path()), std::nullopt);
  EXPECT_EQ(read_file_text(dir.path() / "missing"), std::nullopt);
  EXPECT_EQ(file_text_or_empty(dir.path()), "");
  // Nothing that could block or never end: a FIFO without a writer, a device.
  ASSERT_EQ(mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(read_file_text(dir.path() / "fifo"), std::nullopt);
  EXPECT_EQ(read_file_text("/dev/zero"), std::nullopt);
  // /proc entries are regular files.
  EXPECT_NE(file_text_or_empty("/proc/self/stat"), "");
}

}  // namespace
}  // namespace bluegreen
