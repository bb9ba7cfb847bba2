#include "infra/process/bounded_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "infra/process/process.h"
#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

using std::chrono::seconds;
using namespace testing_support;

std::string note_for(std::uint64_t dropped) {
  char note[80];
  return std::string(note, BoundedLog::format_note(dropped, note));
}

TEST(BoundedLog, NotesSayHowMuchWasDroppedInTheLargestFittingUnit) {
  EXPECT_EQ(note_for(1), "[\xE2\x80\xA6 1 byte of earlier output dropped]");
  EXPECT_EQ(note_for(512), "[\xE2\x80\xA6 512 bytes of earlier output dropped]");
  EXPECT_EQ(note_for(1536), "[\xE2\x80\xA6 1.5 KiB of earlier output dropped]");
  EXPECT_EQ(note_for(103'700'000), "[\xE2\x80\xA6 98.9 MiB of earlier output dropped]");
}

TEST(BoundedLog, KeepsTheNewestBytesAfterANoteCountingTheRest) {
  TempDir dir;
  auto path = dir.path() / "log";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  BoundedLog log(fd, 10);
  std::string written;
  for (int i = 0; i < 100; ++i) {
    std::string piece = std::to_string(i) + ",";
    written += piece;
    ASSERT_TRUE(log.append(piece.data(), piece.size()));
    EXPECT_LE(read_text(path).size(), 20 + 64u) << "at most 2 x limit and a note while writing";
  }
  log.finish();
  close(fd);
  std::uint64_t dropped = written.size() - 10;
  EXPECT_EQ(log.dropped(), dropped);
  EXPECT_EQ(read_text(path), note_for(dropped) + "\n" + written.substr(written.size() - 10));
}

TEST(BoundedLog, SmallOutputIsKeptAsItIs) {
  TempDir dir;
  auto path = dir.path() / "log";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BoundedLog log(fd, 1024);
  ASSERT_TRUE(log.append("hello\n", 6));
  log.finish();
  close(fd);
  EXPECT_EQ(log.dropped(), 0u);
  EXPECT_EQ(read_text(path), "hello\n");
}

SpawnOptions bounded_shell(const std::string& script, const TempDir& dir, std::size_t limit) {
  return SpawnOptions{.argv = {"/bin/sh", "-c", script},
                      .environment = {"PATH=/usr/bin:/bin"},
                      .working_directory = dir.path(),
                      .output_path = dir.path() / "output.log",
                      .output_limit = limit};
}

long peak_memory_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(ProcessBoundedOutput, AHundredMegabytesOfOutputLeaveOneMebibyteAndANote) {
  TempDir dir;
  constexpr std::size_t kLimit = 1024 * 1024;
  long memory_before = peak_memory_kib();
  auto child = Process::spawn(bounded_shell(
      "head -c 104857600 /dev/zero | tr '\\0' 'x'; echo; echo the-last-line", dir, kLimit));
  ASSERT_TRUE(child) << child.error().message;
  auto status = child->wait(from_now(seconds(120)), Duration(100));
  EXPECT_TRUE(status.succeeded());
  long memory_growth = peak_memory_kib() - memory_before;

  std::string log = read_text(dir.path() / "output.log");
  std::string note = note_for(104857600 + 15 - kLimit);
  EXPECT_EQ(note, "[\xE2\x80\xA6 99.0 MiB of earlier output dropped]");
  EXPECT_EQ(log.size(), note.size() + 1 + kLimit);
  EXPECT_EQ(log.substr(0, note.size() + 1), note + "\n");
  EXPECT_EQ(log.substr(log.size() - 14), "the-last-line\n");
  EXPECT_EQ(child->output_dropped(), 104857600 + 15 - kLimit);
  EXPECT_LT(memory_growth, 16 * 1024) << "KiB of peak memory added while the output flowed";
}

TEST(ProcessBoundedOutput, WhatADaemonPrintsAfterItsStarterExitedStillArrives) {
  TempDir dir;
  auto release = dir.path() / "release";
  auto child = Process::spawn(bounded_shell(
      "echo starter; (while [ ! -e release ]; do sleep 0.01; done; echo daemon-line) &", dir,
      1024));
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_TRUE(child->wait(from_now(seconds(30)), Duration(100)).succeeded());
  // The daemon still holds the output; it was neither killed nor blocked.
  std::ofstream(release) << "go";
  EXPECT_TRUE(wait_for([&] {
    return read_text(dir.path() / "output.log") == "starter\ndaemon-line\n";
  })) << read_text(dir.path() / "output.log");
}

}  // namespace
}  // namespace bluegreen
