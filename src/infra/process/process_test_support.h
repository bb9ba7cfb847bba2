// Helpers for tests that run real processes: a temporary directory that removes itself, and
// ways to look at processes from the outside. Header-only; included by test files only.
#pragma once

#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "infra/process/file_text.h"

namespace bluegreen::testing_support {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "bg-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A deadline `d` from now, for calls that take one.
inline TimePoint from_now(Duration d) {
  return std::chrono::system_clock::now() + d;
}

// Empty when it cannot be read (also when the process behind a /proc entry goes meanwhile).
inline std::string read_text(const std::filesystem::path& path) {
  return file_text_or_empty(path);
}

// True while `pid` exists and is not a zombie.
inline bool process_is_alive(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

// Live processes whose command line contains `token`: found from the outside by what they were
// told to call themselves, whatever they did to their environment, session or namespace.
inline std::vector<pid_t> processes_named(const std::string& token) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    std::string command = read_text(it->path() / "cmdline");
    std::replace(command.begin(), command.end(), '\0', ' ');
    if (command.find(token) != std::string::npos && process_is_alive(pid)) found.push_back(pid);
  }
  return found;
}

// Waits (bounded, 10 s) until `condition` holds, for what child processes do on their own.
template <typename Condition>
bool wait_for(Condition condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Waits for a file a child writes once it has reached a point of interest.
inline bool wait_for_file(const std::filesystem::path& path) {
  return wait_for([&] {
    std::error_code ignored;
    return std::filesystem::file_size(path, ignored) > 0 && !ignored;
  });
}

}  // namespace bluegreen::testing_support
