// ChildProcess: a helper program started by a test (a Python fake, moto, a signer script),
// in its own process group, so that destroying the object (also when the test fails) stops it
// and everything it started: SIGTERM to the group, then SIGKILL after a grace period.
//
// The child's stdin is a pipe the parent holds open; the fakes in tests/fakes exit when it
// reaches end-of-file, so they also stop when the test process dies without cleaning up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::testing {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with `extra_env` added to this process's environment.
  // Its stdout is readable through read_line(); its stderr goes to `stderr_file` (or is
  // inherited when empty). Throws std::runtime_error when it cannot start.
  ChildProcess(const std::vector<std::string>& argv,
               const std::map<std::string, std::string>& extra_env = {},
               const std::filesystem::path& stderr_file = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of stdout without its newline; nullopt at end-of-file or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Closes stdin and waits for the exit (up to `timeout`, then kills). Returns the exit code,
  // or 128 + signal.
  int finish(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  pid_t pid() const { return pid_; }

 private:
  void stop();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  std::optional<int> exit_code_;
};

struct ProcessResult {
  int exit_code = -1;
  std::string out;  // everything written to stdout
};

// Runs a program to completion (killed after `timeout`) and returns its exit code and stdout.
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(120),
                          const std::filesystem::path& stderr_file = {});

// The Python interpreter the build was configured with (BLUEGREEN_PYTHON).
std::string python();
// tests/fakes in the source tree.
std::filesystem::path fakes_dir();

}  // namespace bluegreen::testing
