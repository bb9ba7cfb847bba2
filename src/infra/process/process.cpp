#include "infra/process/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <thread>
#include <utility>

#include "infra/process/bounded_log.h"
#include "infra/process/descriptor.h"
#include "infra/process/forget_environment.h"
#include "infra/process/growing_pause.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// What the child was doing when it failed before exec, reported through the error pipe.
enum class ChildStep : int {
  namespaces,
  mount_namespace,
  working_directory,
  output,
  groups,
  user,
  exec
};

std::string_view describe(ChildStep step) {
  switch (step) {
    case ChildStep::namespaces:
      return "cannot enter its instance's network or UTS namespace";
    case ChildStep::mount_namespace:
      return "cannot enter its mount namespace";
    case ChildStep::working_directory:
      return "cannot enter its working directory";
    case ChildStep::output:
      return "cannot redirect its output";
    case ChildStep::groups:
      return "cannot set its groups";
    case ChildStep::user:
      return "cannot switch to its user";
    case ChildStep::exec:
      return "cannot execute";
  }
  return "cannot start";
}

struct ChildFailure {
  ChildStep step;
  int error;
};

UserAccount account_from(const passwd& entry) {
  return UserAccount{entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir,
                     entry.pw_shell ? entry.pw_shell : ""};
}

std::string find_variable(const std::vector<std::string>& environment, std::string_view name) {
  for (const auto& entry : environment) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      return entry.substr(name.size() + 1);
    }
  }
  return {};
}

Result<std::string> resolve_program(const std::string& program,
                                    const std::vector<std::string>& environment) {
  if (program.find('/') != std::string::npos) return program;
  std::string path = find_variable(environment, "PATH");
  if (path.empty() && getenv("PATH") != nullptr) path = getenv("PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = std::min(path.find(':', start), path.size());
    fs::path candidate = fs::path(path.substr(start, end - start)) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return fail(ErrorKind::invalid_input, "program not found on PATH: " + program);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

struct Credentials {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

Result<std::optional<Credentials>> credentials_for(const std::optional<std::string>& run_as,
                                                   const std::optional<UserAccount>& account,
                                                   bool own_user_namespace) {
  if (own_user_namespace) {
    // The child is root there; another account of that namespace is its to switch to.
    if (!account || (account->uid == 0 && account->gid == 0)) return std::nullopt;
    return Credentials{account->uid, account->gid, {account->gid}};
  }
  if (account) {
    if (account->uid == geteuid() && account->gid == getegid()) return std::nullopt;
    if (geteuid() != 0) {
      return fail(ErrorKind::permission_denied,
                  "running as user " + account->name + " needs this server to run as root");
    }
    return Credentials{account->uid, account->gid, {account->gid}};
  }
  if (!run_as || run_as->empty()) return std::nullopt;
  auto user = lookup_user(*run_as);
  if (!user) return std::unexpected(user.error());
  if (user->uid == geteuid()) return std::nullopt;
  if (geteuid() != 0) {
    return fail(ErrorKind::permission_denied,
                "running as user " + *run_as +
                    " needs this server to run as root (it runs as uid " +
                    std::to_string(geteuid()) + ")");
  }
  int count = 64;
  std::vector<gid_t> groups(count);
  while (getgrouplist(user->name.c_str(), user->gid, groups.data(), &count) < 0) {
    groups.resize(count);
  }
  groups.resize(count);
  return Credentials{user->uid, user->gid, std::move(groups)};
}

[[noreturn]] void child_fail(int error_pipe, ChildStep step) {
  ChildFailure failure{step, errno};
  [[maybe_unused]] auto written = write(error_pipe, &failure, sizeof failure);
  _exit(127);
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void become_child(const char* program, char* const* argv, char* const* envp,
                               const char* working_directory, const std::vector<int>& namespaces,
                               int mount_namespace, int input_fd, int output_fd,
                               const std::optional<Credentials>& credentials,
                               rlim_t file_size_limit, int error_pipe, bool relayed) {
  // A relayed child stays in its relay's session and process group (see relay()).
  if (!relayed) setsid();
  if (file_size_limit > 0) {
    rlimit limit{.rlim_cur = file_size_limit, .rlim_max = file_size_limit};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) child_fail(error_pipe, ChildStep::output);
  }
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number != SIGKILL && signal_number != SIGSTOP) signal(signal_number, SIG_DFL);
  }
  // Allowed here and not in the parent: this process has one thread.
  for (int space : namespaces) {
    if (setns(space, 0) != 0) child_fail(error_pipe, ChildStep::namespaces);
  }
  if (mount_namespace >= 0 && setns(mount_namespace, CLONE_NEWNS) != 0) {
    child_fail(error_pipe, ChildStep::mount_namespace);
  }
  if (working_directory[0] != '\0' && chdir(working_directory) != 0) {
    child_fail(error_pipe, ChildStep::working_directory);
  }
  if (dup2(input_fd, STDIN_FILENO) < 0 || dup2(output_fd, STDOUT_FILENO) < 0 ||
      dup2(output_fd, STDERR_FILENO) < 0) {
    child_fail(error_pipe, ChildStep::output);
  }
  if (credentials) {
    if (setgroups(credentials->groups.size(), credentials->groups.data()) != 0) {
      child_fail(error_pipe, ChildStep::groups);
    }
    if (setgid(credentials->gid) != 0) child_fail(error_pipe, ChildStep::user);
    if (setuid(credentials->uid) != 0) child_fail(error_pipe, ChildStep::user);
  }
  // Set after the credentials change, which clears it.
  if (relayed && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(error_pipe, ChildStep::user);
  // Descriptors other threads opened without O_CLOEXEC (sockets, files) must not leak into
  // hook scripts; the error pipe is close-on-exec already.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  // ETXTBSY: a sibling thread of the parent may be writing a script (an instance's bundle
  // copy) at the moment another fork inherited that file's descriptor; the window closes as
  // soon as that other child execs, so a short retry is enough. nanosleep is signal-safe.
  for (int attempt = 0; attempt < 100; ++attempt) {
    execve(program, argv, envp);
    if (errno != ETXTBSY) break;
    timespec pause{0, 10'000'000};
    nanosleep(&pause, nullptr);
  }
  child_fail(error_pipe, ChildStep::exec);
}

// Enters `user_namespace`, then makes `pid_namespace` the one of this process's next child.
// For a child of ours (one thread): this process cannot enter a user namespace. -1 on failure.
int enter_user_namespace(int user_namespace, int pid_namespace) {
  if (setns(user_namespace, CLONE_NEWUSER) != 0) return -1;
  return setns(pid_namespace, CLONE_NEWPID);
}

// The relay of a child whose namespaces belong to a user namespace (SpawnOptions::user_namespace):
// it leads the session and process group, enters the namespaces, forks the child into them and
// ends as the child ended. What the group is sent (SIGTERM at a deadline) is for the child: the
// relay ignores it; SIGKILL ends both (the child dies with its relay). Only async-signal-safe
// calls: it runs in a child of a multithreaded process.
template <typename BecomeChild>
[[noreturn]] void relay(int user_namespace, int pid_namespace, int error_pipe, BecomeChild become) {
  setsid();
  if (enter_user_namespace(user_namespace, pid_namespace) != 0) {
    child_fail(error_pipe, ChildStep::namespaces);
  }
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) signal(signal_number, SIG_IGN);
  // _Fork: no fork handlers, which could wait on a lock another thread of our parent held.
  pid_t child = _Fork();
  if (child < 0) child_fail(error_pipe, ChildStep::namespaces);
  if (child == 0) become();
  close_range(0, ~0U, 0);
  prctl(PR_SET_NAME, "bg-relay", 0, 0, 0);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) _exit(127);
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int signal_number = WTERMSIG(status);
  signal(signal_number, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  kill(getpid(), signal_number);
  _exit(128 + signal_number);
}

// fork(), with the child in `pid_namespace` when that is >= 0. Entering a PID namespace
// changes where this thread's next child goes; we return to our own right after the fork, so
// only this child lands there. Returns the fork's result; errno tells why on -1.
pid_t fork_into(int pid_namespace) {
  int own = -1;
  if (pid_namespace >= 0) {
    own = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -1;
    if (setns(pid_namespace, CLONE_NEWPID) != 0) {
      int error = errno;
      close(own);
      errno = error;
      return -1;
    }
  }
  pid_t pid = fork();
  if (pid == 0 || own < 0) return pid;
  int fork_error = errno;
  if (setns(own, CLONE_NEWPID) != 0) {
    // This thread would put every later child in that namespace; nothing can repair that.
    std::fprintf(stderr, "bluegreen: cannot return to our PID namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  close(own);
  errno = fork_error;
  return pid;
}

// The output keeper: serves a pipe that outlived the child, until its last writer is gone. A
// child of a multithreaded process, so only system calls (BoundedLog makes only those).
[[noreturn]] void keep_output(int pipe_fd, BoundedLog log) {
  // It runs in the hook's PID namespace, where the hook can read its /proc/<pid>/environ.
  forget_environment();
  setsid();
  [[maybe_unused]] int ignored = chdir("/");
  prctl(PR_SET_NAME, "bg-output", 0, 0, 0);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number != SIGKILL && signal_number != SIGSTOP) signal(signal_number, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (dup2(pipe_fd, STDIN_FILENO) < 0 || dup2(log.fd(), STDOUT_FILENO) < 0) _exit(1);
  log.set_fd(STDOUT_FILENO);
  close_range(STDERR_FILENO, ~0U, 0);
  fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) & ~O_NONBLOCK);
  static char buffer[65536];
  while (true) {
    ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    log.append(buffer, static_cast<std::size_t>(got));
  }
  log.finish();
  _exit(0);
}

}  // namespace

UserAccount current_user() {
  uid_t uid = geteuid();
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return account_from(entry);
  }
  return UserAccount{std::to_string(uid), uid, getegid(), "/", "/bin/sh"};
}

Result<UserAccount> lookup_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return fail(ErrorKind::not_found, "no such user: " + name);
  }
  return account_from(entry);
}

// The pipe a child with an output_limit writes to, and the log it fills.
struct Process::BoundedOutput {
  Descriptor pipe;  // read end, non-blocking; -1 once at end-of-file or handed to a keeper
  Descriptor file;
  BoundedLog log;
  int pid_namespace;
  int user_namespace;
  std::vector<char> buffer = std::vector<char>(65536);

  BoundedOutput(int pipe_fd, int file_fd, std::size_t limit, std::uint64_t existing,
                int pid_namespace, int user_namespace)
      : pipe(pipe_fd),
        file(file_fd),
        log(file_fd, limit, existing),
        pid_namespace(pid_namespace),
        user_namespace(user_namespace) {}
};

Result<Process> Process::spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return fail(ErrorKind::invalid_input, "no program to run");
  auto program = resolve_program(options.argv.front(), options.environment);
  if (!program) return std::unexpected(program.error());
  const bool relayed = options.user_namespace >= 0 && options.pid_namespace >= 0;
  auto credentials = credentials_for(options.run_as, options.run_as_account, relayed);
  if (!credentials) return std::unexpected(credentials.error());

  bool bounded = options.output_limit > 0 && !options.output_path.empty();
  Descriptor input(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const char* output_name = options.output_path.empty() ? "/dev/null" : options.output_path.c_str();
  int output_flags =
      (bounded ? O_RDWR | O_CREAT | O_CLOEXEC : O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC) |
      (options.output_path.empty() ? 0 : O_NOFOLLOW) | (options.output_exclusive ? O_EXCL : 0);
  Descriptor output(open(output_name, output_flags, 0640));
  if (input.get() < 0 || output.get() < 0) {
    return fail(ErrorKind::failed, std::string("cannot open output file ") + output_name + ": " +
                                       std::strerror(errno));
  }
  struct stat output_info {};
  if (!options.output_path.empty() &&
      (fstat(output.get(), &output_info) != 0 || !S_ISREG(output_info.st_mode))) {
    return fail(ErrorKind::failed,
                std::string("cannot open output file ") + output_name + ": not a regular file");
  }
  std::unique_ptr<BoundedOutput> captured;
  Descriptor child_output(-1);
  if (bounded) {
    int output_pipe[2];
    if (pipe2(output_pipe, O_CLOEXEC) != 0) {
      return fail(ErrorKind::internal, std::string("pipe: ") + std::strerror(errno));
    }
    fcntl(output_pipe[0], F_SETFL, O_NONBLOCK);
    struct stat existing {};
    fstat(output.get(), &existing);
    captured = std::make_unique<BoundedOutput>(
        output_pipe[0], output.release(), options.output_limit,
        static_cast<std::uint64_t>(existing.st_size), options.pid_namespace,
        relayed ? options.user_namespace : -1);
    child_output.reset(output_pipe[1]);
  }
  int child_output_fd = bounded ? child_output.get() : output.get();
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::internal, std::string("pipe: ") + std::strerror(errno));
  }
  Descriptor error_read(pipe_fds[0]), error_write(pipe_fds[1]);

  std::vector<std::string> argv_copy = options.argv, env_copy = options.environment;
  std::vector<char*> argv = c_strings(argv_copy), envp = c_strings(env_copy);
  std::string working_directory = options.working_directory.string();

  pid_t pid = relayed ? fork() : fork_into(options.pid_namespace);
  int fork_error = errno;
  if (pid < 0 && options.pid_namespace >= 0 && fork_error == ENOMEM) {
    return fail(ErrorKind::failed,
                options.argv.front() + ": its PID namespace is gone (its first process exited)");
  }
  if (pid < 0 && options.pid_namespace >= 0) {
    return fail(ErrorKind::failed, options.argv.front() + ": cannot start in its PID namespace: " +
                                       std::strerror(fork_error));
  }
  if (pid < 0) return fail(ErrorKind::internal, std::string("fork: ") + std::strerror(fork_error));
  if (pid == 0) {
    auto become = [&] {
      become_child(program->c_str(), argv.data(), envp.data(), working_directory.c_str(),
                   options.namespaces, options.mount_namespace, input.get(), child_output_fd,
                   *credentials, static_cast<rlim_t>(options.file_size_limit), error_write.get(),
                   relayed);
    };
    if (relayed) relay(options.user_namespace, options.pid_namespace, error_write.get(), become);
    become();
  }
  error_write.reset();
  child_output.reset();
  ChildFailure failure{};
  ssize_t got;
  do {
    got = read(error_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    waitpid(pid, &status, 0);
    return fail(ErrorKind::failed, options.argv.front() + ": " +
                                       std::string(describe(failure.step)) + ": " +
                                       std::strerror(failure.error));
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return Process(pid, pidfd, std::move(captured));
}

Process::Process(pid_t pid, int pidfd, std::unique_ptr<BoundedOutput> output)
    : pid_(pid), pidfd_(pidfd), output_(std::move(output)) {}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      reaped_(std::exchange(other.reaped_, true)),
      output_(std::move(other.output_)),
      output_dropped_(other.output_dropped_) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    reaped_ = std::exchange(other.reaped_, true);
    output_ = std::move(other.output_);
    output_dropped_ = other.output_dropped_;
  }
  return *this;
}

Process::~Process() {
  release();
}

void Process::release() {
  if (pid_ > 0 && !reaped_) kill_group(Duration(0));
  finish_output();
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

std::uint64_t Process::output_dropped() const {
  return output_ ? output_->log.dropped() : output_dropped_;
}

void Process::pump_output() {
  if (!output_ || output_->pipe.get() < 0) return;
  // A bounded number of reads per call, so a flood of output cannot starve the exit check.
  for (int round = 0; round < 64; ++round) {
    ssize_t got = read(output_->pipe.get(), output_->buffer.data(), output_->buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return;  // EAGAIN: nothing more for now
    if (got == 0) {       // every writer is gone
      output_->pipe.reset();
      return;
    }
    output_->log.append(output_->buffer.data(), static_cast<std::size_t>(got));
  }
}

void Process::finish_output() {
  if (!output_) return;
  while (output_->pipe.get() >= 0) {
    pollfd ready{output_->pipe.get(), POLLIN, 0};
    if (poll(&ready, 1, 0) <= 0) break;
    pump_output();
  }
  output_->log.finish();
  if (output_->pipe.get() >= 0) {
    // Something the child started still holds the pipe. A keeper (grandchild, so that nobody
    // has to reap it) serves it from now on; closing our end instead would kill that writer
    // with SIGPIPE.
    BoundedLog log = output_->log;
    int pipe_fd = output_->pipe.get();
    const int user_namespace = output_->user_namespace;
    pid_t intermediate = user_namespace >= 0 ? fork() : fork_into(output_->pid_namespace);
    if (intermediate == 0) {
      if (user_namespace >= 0 &&
          enter_user_namespace(user_namespace, output_->pid_namespace) != 0) {
        _exit(1);
      }
      if (fork() == 0) keep_output(pipe_fd, log);
      _exit(0);
    }
    if (intermediate > 0) {
      while (waitpid(intermediate, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  output_dropped_ = output_->log.dropped();
  output_.reset();
}

std::optional<int> Process::reap_within(Duration timeout) {
  if (reaped_) return std::nullopt;
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      return status;
    }
    if (done < 0 && errno != EINTR) {  // not our child any more: nothing to wait for
      reaped_ = true;
      return std::nullopt;
    }
    auto left = std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now());
    if (left <= Duration(0)) return std::nullopt;
    int output_fd = output_ ? output_->pipe.get() : -1;
    if (pidfd_ >= 0) {
      pollfd ready[2] = {{pidfd_, POLLIN, 0}, {output_fd, POLLIN, 0}};
      poll(ready, 2, static_cast<int>(std::min<long long>(left.count(), 3'600'000)));
      if (ready[1].revents != 0) pump_output();
    } else {
      pump_output();
      std::this_thread::sleep_for(std::min(left, Duration(output_fd >= 0 ? 5 : 20)));
    }
  }
}

void Process::kill_group(Duration grace) {
  kill(-pid_, SIGTERM);
  kill(-pid_, SIGCONT);  // a stopped process only acts on SIGTERM once it runs again
  auto until = std::chrono::steady_clock::now() + grace;
  // Wait for the leader first, then for the rest of the group, both within the grace period.
  GrowingPause pause;
  while (std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now());
    if (!reaped_) {
      reap_within(std::min(left, Duration(20)));
    } else if (kill(-pid_, 0) != 0) {
      break;
    } else {
      pause.sleep(left);
    }
  }
  kill(-pid_, SIGKILL);
  if (!reaped_) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
}

ExitStatus Process::wait(TimePoint deadline, Duration kill_grace, const std::atomic<bool>* cancel) {
  ExitStatus status = wait_for_exit(deadline, kill_grace, cancel);
  finish_output();
  return status;
}

ExitStatus Process::wait_for_exit(TimePoint deadline, Duration kill_grace,
                                  const std::atomic<bool>* cancel) {
  while (true) {
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::system_clock::now());
    if (cancel != nullptr && cancel->load()) {
      kill_group(kill_grace);
      return ExitStatus{ExitKind::cancelled, -1};
    }
    if (left <= Duration(0)) {
      kill_group(kill_grace);
      return ExitStatus{ExitKind::timed_out, -1};
    }
    if (auto status = reap_within(cancel != nullptr ? std::min(left, Duration(50)) : left)) {
      if (WIFSIGNALED(*status)) return ExitStatus{ExitKind::signalled, WTERMSIG(*status)};
      return ExitStatus{ExitKind::exited, WEXITSTATUS(*status)};
    }
    if (reaped_) return ExitStatus{ExitKind::lost, -1};
  }
}

namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  std::size_t length = lead < 0x80           ? 1
                       : (lead >> 5) == 0x6  ? 2
                       : (lead >> 4) == 0xE  ? 3
                       : (lead >> 3) == 0x1E ? 4
                                             : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) >> 6) != 0x2) return 0;
  }
  return length;
}

// Program output becomes part of errors and JSON answers, which must be valid UTF-8.
std::string valid_utf8(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      clean += '?';
      ++i;
    } else {
      clean.append(text.substr(i, length));
      i += length;
    }
  }
  return clean;
}

}  // namespace

std::string read_file_tail(const fs::path& path, std::size_t max_bytes) {
  // Whoever can write the file's directory must not make this read anything else.
  Descriptor in(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (in.get() < 0 || fstat(in.get(), &info) != 0 || !S_ISREG(info.st_mode)) return {};
  auto size = static_cast<std::size_t>(std::max<off_t>(info.st_size, 0));
  std::size_t start = size > max_bytes ? size - max_bytes : 0;
  std::string tail(size - start, '\0');
  ssize_t got = pread(in.get(), tail.data(), tail.size(), static_cast<off_t>(start));
  tail.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  if (start > 0) {
    auto newline = tail.find('\n');
    if (newline != std::string::npos && newline + 1 < tail.size()) tail.erase(0, newline + 1);
  }
  return valid_utf8(tail);
}

}  // namespace bluegreen
