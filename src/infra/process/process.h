// Process: spawning one child program and waiting for it with a deadline.
//
// The child runs in its own session (so its own process group, led by itself), with exactly
// the environment it is given, in the directory it is given, optionally as another user
// (setgid/setuid, which needs a server running as root), with standard input from /dev/null
// and standard output and error appended to one file. Programs the child leaves running in the
// background (daemons started by a hook) never keep the caller waiting for end-of-file.
//
// With an `output_limit`, the output passes through a pipe into a BoundedLog (bounded_log.h):
// the file keeps the last output_limit bytes and a note counting what was dropped, and memory
// stays bounded (one 64 KiB buffer). Once the child has exited, whatever still holds the pipe
// (a daemon it started) is served by a small keeper process forked from this one (in the
// child's PID namespace, when it has one) that goes on appending, with the same bound, until
// the last writer is gone; it outlives this process, so a restart does not cut a daemon's
// output (nor kill it with SIGPIPE).
//
// A Process owns its child: destroying one that still runs kills its process group and reaps
// it. Not thread-safe; one thread owns a Process. Spawning is safe from any thread (only
// async-signal-safe calls run between fork and exec).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace bluegreen {

struct UserAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::filesystem::path home;
  std::string shell;
};

// The account a child runs as by default: the one running this process.
UserAccount current_user();
// Looks up a local account by name. Errors: not_found.
Result<UserAccount> lookup_user(const std::string& name);

struct SpawnOptions {
  // argv[0] is a path, or a name looked up in the PATH of `environment` (or of this process
  // when `environment` has none).
  std::vector<std::string> argv;
  std::vector<std::string> environment;     // "NAME=value" entries: the child's whole environment
  std::filesystem::path working_directory;  // empty: this process's directory
  std::optional<std::string> run_as;        // a user name; empty: the current user
  // Instead of run_as: an account known elsewhere than this machine's user database (an
  // instance's own /etc/passwd view); the child runs with its uid, gid and no other group.
  std::optional<UserAccount> run_as_account;
  // stdout+stderr appended here; empty: /dev/null. Never opened through a symbolic link, and
  // only a regular file (or /dev/null) is written.
  std::filesystem::path output_path;
  // true: output_path must not exist yet (O_EXCL); spawn fails when it does.
  bool output_exclusive = false;
  // >= 0: a PID namespace descriptor (PidNamespace::namespace_fd()); the child and everything
  // it starts live in that namespace (pid_namespace.h). -1: this process's namespace.
  int pid_namespace = -1;
  // >= 0: a mount namespace descriptor (PidNamespace::mount_namespace_fd()) the child enters
  // before anything else (so its working directory is looked up there). -1: ours.
  int mount_namespace = -1;
  // Further namespace descriptors (network, UTS: PidNamespace::host_namespace_fds()) the child
  // enters before its mount namespace.
  std::vector<int> namespaces;
  // >= 0 (with a pid_namespace): the user namespace all of those belong to
  // (PidNamespace::user_namespace_fd()); the child enters it first, as root there (this
  // process's uid is root in it), and runs_as an account with that namespace's ids. This process
  // cannot enter such a PID namespace itself, so a small relay forked from it enters the user
  // namespace and forks the child: pid() is the relay's, which leads the child's process group,
  // passes on its exit status, and takes the child with it when it dies.
  int user_namespace = -1;
  // > 0 (and an output_path): keep only the last output_limit bytes of output in the file (see
  // above). 0: append everything.
  std::size_t output_limit = 0;
  // > 0: no file the child writes may grow past this many bytes (RLIMIT_FSIZE); a write past
  // it kills the child with SIGXFSZ (status `signalled`). 0: no limit of ours.
  std::uint64_t file_size_limit = 0;
};

enum class ExitKind {
  exited,     // it ended by itself; `code` is its exit status
  signalled,  // a signal we did not send ended it; `code` is the signal number
  timed_out,  // it passed its deadline; its whole process group was killed
  cancelled,  // the caller cancelled the wait; its whole process group was killed
  lost,       // its status could not be collected (SIGCHLD ignored here); treat as a failure
};

struct ExitStatus {
  ExitKind kind = ExitKind::exited;
  int code = 0;
  bool succeeded() const { return kind == ExitKind::exited && code == 0; }
};

class Process {
 public:
  // Starts the child. Errors: invalid_input (empty argv, program not found),
  // permission_denied (run_as another user without root), not_found (no such user),
  // failed (the child could not start: working directory, exec, output file, a PID namespace
  // that cannot be entered or whose holder is gone), naming the step.
  static Result<Process> spawn(const SpawnOptions& options);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }  // also its process group and session id

  // Waits until the child exits, `deadline` passes or `*cancel` becomes true (checked every
  // 50 ms). On deadline or cancel the process group gets SIGTERM, then SIGKILL after
  // `kill_grace`, and the child is reaped. Call once.
  ExitStatus wait(TimePoint deadline, Duration kill_grace,
                  const std::atomic<bool>* cancel = nullptr);

  // With an output_limit: how many bytes of output were dropped from the file so far.
  std::uint64_t output_dropped() const;

 private:
  struct BoundedOutput;
  ExitStatus wait_for_exit(TimePoint deadline, Duration kill_grace,
                           const std::atomic<bool>* cancel);
  Process(pid_t pid, int pidfd, std::unique_ptr<BoundedOutput> output);
  // Moves what the pipe holds into the log; at end-of-file closes it.
  void pump_output();
  // After the child exits: drains the pipe and hands it to a keeper if someone still writes.
  void finish_output();
  // Blocks up to `timeout` for the child to exit; reaps it and returns its status if it did.
  std::optional<int> reap_within(Duration timeout);
  void kill_group(Duration grace);
  void release();

  pid_t pid_ = -1;
  int pidfd_ = -1;  // -1 when the kernel has no pidfd_open; we poll waitpid instead
  bool reaped_ = false;
  std::unique_ptr<BoundedOutput> output_;
  std::uint64_t output_dropped_ = 0;
};

// The last `max_bytes` of a file, starting at a line boundary when one is in reach, as valid
// UTF-8 (bytes that are not become '?'); empty when the file is missing, is a symbolic link or
// is not a regular file. For showing what a failed program printed.
std::string read_file_tail(const std::filesystem::path& path, std::size_t max_bytes = 4096);

}  // namespace bluegreen
