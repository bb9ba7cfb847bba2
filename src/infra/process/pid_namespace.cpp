#include "infra/process/pid_namespace.h"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "infra/process/file_text.h"
#include "infra/process/forget_environment.h"
#include "infra/process/socket_channel.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int error) {
  return std::strerror(error);
}

struct StatFields {
  char state = '?';
  std::uint64_t start_time = 0;
};

// /proc/<pid>/stat: "pid (comm) state ..."; comm may hold anything, so parse from the last ')'.
// The start time is field 22, the 20th after the command.
bool read_stat(pid_t pid, StatFields& fields) {
  std::string stat = file_text_or_empty("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(stat.substr(close + 1));
  in >> fields.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field) in >> skipped;
  in >> fields.start_time;
  return static_cast<bool>(in);
}

std::uint64_t namespace_inode_of(pid_t pid) {
  struct stat info {};
  std::string link = "/proc/" + std::to_string(pid) + "/ns/pid";
  if (stat(link.c_str(), &info) != 0) return 0;
  return info.st_ino;
}

// Whether `pid` is pid 1 of a PID namespace other than ours: the last NSpid entry of its
// status (its pid in its own namespace) is 1, and its namespace is not the one we live in.
bool is_init_of_child_namespace(pid_t pid, std::uint64_t namespace_inode) {
  struct stat ours {};
  if (stat("/proc/self/ns/pid", &ours) != 0 || ours.st_ino == namespace_inode) return false;
  std::istringstream status(file_text_or_empty("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    std::vector<long> pids;
    for (long value; fields >> value;) pids.push_back(value);
    return pids.size() >= 2 && pids.back() == 1;
  }
  return false;
}

int pidfd_open(pid_t pid) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// What the holder tells its creator once it is ready: whether it has its own /proc, and
// which part of its HostView failed (kViewDone when none did).
struct HolderReport {
  char own_proc = 0;
  int failed_step = 0;  // >= 0: that mount step; < 0: one of the steps below
  int error = 0;
};
constexpr int kViewDone = -1, kUnshare = -2, kReadOnlyHost = -3, kHostname = -4, kLoopback = -5,
              kOwnProc = -6;

// mount_setattr(2) with AT_RECURSIVE: the whole tree below `path` read-only in one call (the
// header <linux/mount.h> clashes with <sys/mount.h> on older C libraries).
int make_tree_read_only(const char* path) {
  struct {
    std::uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attributes{0x00000001 /* MOUNT_ATTR_RDONLY */, 0, 0, 0};
  constexpr unsigned kAtRecursive = 0x8000;
#ifdef SYS_mount_setattr
  return static_cast<int>(
      syscall(SYS_mount_setattr, AT_FDCWD, path, kAtRecursive, &attributes, sizeof attributes));
#else
  errno = ENOSYS;
  return -1;
#endif
}

// Remounts the bind at `target` with `flags`. In a user namespace the kernel refuses to clear
// what the mount was locked with (nosuid, nodev, noexec, its atime mode, from the machine's
// mount): then the mount's own flags are kept.
int remount(const char* target, unsigned long flags) {
  if (mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) == 0) return 0;
  struct statvfs current {};
  if (errno != EPERM || statvfs(target, &current) != 0) return -1;
  constexpr std::pair<unsigned long, unsigned long> kKept[] = {
      {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
      {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}};
  for (auto [kept, flag] : kKept) {
    if ((current.f_flag & kept) != 0) flags |= flag;
  }
  return mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | flags, nullptr);
}

int run_mount_step(const MountStep& step) {
  const char* target = step.target.c_str();
  const char* source = step.source.c_str();
  switch (step.kind) {
    case MountStep::Kind::directory:
      return mkdir(target, step.mode) == 0 || errno == EEXIST ? 0 : -1;
    case MountStep::Kind::file: {
      int fd = ::open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, step.mode);
      if (fd < 0) return errno == EEXIST || errno == EISDIR ? 0 : -1;
      close(fd);
      return 0;
    }
    case MountStep::Kind::symlink:
      return ::symlink(source, target) == 0 || errno == EEXIST ? 0 : -1;
    case MountStep::Kind::bind:
      // A bind keeps the source mount's read-only flag (the whole host is read-only by now):
      // remounting the bind alone makes it writable.
      if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
      return remount(target, MS_NOSUID | MS_NODEV);
    case MountStep::Kind::bind_read_only:
      if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return -1;
      return remount(target, MS_RDONLY);
    case MountStep::Kind::tmpfs:
      return mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, source);
    case MountStep::Kind::read_only:
      return remount(target, MS_RDONLY | MS_NOSUID | MS_NODEV);
    case MountStep::Kind::detach:
      return umount2(target, MNT_DETACH);
  }
  errno = EINVAL;
  return -1;
}

int bring_loopback_up() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  int result = ioctl(fd, SIOCGIFFLAGS, &request);
  if (result == 0) {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
    result = ioctl(fd, SIOCSIFFLAGS, &request);
  }
  int error = errno;
  close(fd);
  errno = error;
  return result;
}

// Makes the holder's view (its namespaces are new); returns kViewDone or the failed step.
int make_view(const HostView& view) {
  int flags = (view.hostname.empty() ? 0 : CLONE_NEWUTS) | (view.own_network ? CLONE_NEWNET : 0) |
              (view.own_ipc ? CLONE_NEWIPC : 0);
  if (flags != 0 && unshare(flags) != 0) return kUnshare;
  // A mount the machine makes later would arrive writable: the host view follows none.
  if (view.read_only_host && (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
                              make_tree_read_only("/") != 0)) {
    return kReadOnlyHost;
  }
  for (std::size_t i = 0; i < view.mounts.size(); ++i) {
    if (run_mount_step(view.mounts[i]) != 0) return static_cast<int>(i);
  }
  if (!view.hostname.empty() && sethostname(view.hostname.data(), view.hostname.size()) != 0) {
    return kHostname;
  }
  if (view.own_network && bring_loopback_up() != 0) return kLoopback;
  return kViewDone;
}

// Hands one new TCP socket of this network namespace to whoever connected to `channel`, then
// closes the connection; nothing waits on the connection (it never blocks the holder).
void hand_out_socket(int channel) {
  int client = accept4(channel, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (client < 0) return;
  int handed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  send_socket(client, handed);
  if (handed >= 0) close(handed);
  close(client);
}

// The holder's loop with a socket channel: it reaps orphans as they exit (SIGCHLD through a
// signalfd) and serves the channel. System calls only; never returns.
[[noreturn]] void serve_channel(int channel, const sigset_t& child) {
  int children = signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK);
  while (true) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    pollfd ready[2] = {{channel, POLLIN, 0}, {children, POLLIN, 0}};
    int count = poll(ready, children >= 0 ? 2 : 1, 1000);
    if (count <= 0) continue;
    if (ready[1].revents != 0) {
      signalfd_siginfo info;
      while (read(children, &info, sizeof info) > 0) {
      }
    }
    if (ready[0].revents & POLLIN) hand_out_socket(channel);
  }
}

// The holder: pid 1 of the namespace. It runs in a child forked from a multithreaded process,
// so it makes only system calls (no allocation, no locks) and never returns. It first gives
// the namespace its own mount namespace with a /proc of its own, so that what runs inside sees
// the pids it can signal, and makes the `view` when there is one; `ready` gets a HolderReport
// saying how that went (a view that failed ends the holder).
[[noreturn]] void be_holder(const char* name, int ready, const HostView* view, int mapped) {
  // In its own user namespace it waits until its creator has mapped its ids there.
  if (mapped >= 0) {
    char byte = 0;
    while (read(mapped, &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte != 1) _exit(1);
  }
  // Hooks read /proc/1/environ of their namespace: the server's credentials must not be there.
  forget_environment();
  // A server without privilege opens the namespaces of /proc/<holder>/ns only while the holder
  // is dumpable (also after a restart): hooks, which run with the server's uid there, may then
  // read its memory, a copy of the server's (docs/security.md).
  if (mapped >= 0) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  setsid();
  [[maybe_unused]] int ignored = chdir("/");
  prctl(PR_SET_NAME, name, 0, 0, 0);
  HolderReport report;
  // MS_SLAVE: mounts made on the machine still appear inside; mounts made inside stay there.
  bool own_mounts =
      unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) == 0;
  report.failed_step = view == nullptr ? kViewDone : own_mounts ? make_view(*view) : kUnshare;
  report.error = errno;
  report.own_proc = own_mounts && report.failed_step == kViewDone &&
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
  if (view != nullptr && report.failed_step == kViewDone && !report.own_proc) {
    report.failed_step = kOwnProc;
    report.error = errno;
  }
  ignored = static_cast<int>(write(ready, &report, sizeof report));
  if (report.failed_step != kViewDone) _exit(1);
  // Nothing of ours stays open in it (a listening socket held here would outlive the server),
  // but the socket channel it serves.
  int channel = view != nullptr ? view->socket_channel : -1;
  if (channel >= 0) {
    if (channel > 0) close_range(0, static_cast<unsigned>(channel) - 1, 0);
    close_range(static_cast<unsigned>(channel) + 1, ~0U, 0);
  } else {
    close_range(0, ~0U, 0);
  }
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  if (channel >= 0) serve_channel(channel, child);
  timespec second{1, 0};
  while (true) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    siginfo_t info;
    sigtimedwait(&child, &info, &second);
  }
}

std::string describe_view_failure(const HostView& view, const HolderReport& report) {
  std::string why = ": " + errno_text(report.error);
  switch (report.failed_step) {
    case kUnshare:
      return "cannot create its mount, network, UTS or IPC namespace" + why;
    case kReadOnlyHost:
      return "cannot make this machine's file system read-only in it" + why;
    case kHostname:
      return "cannot set its hostname" + why;
    case kLoopback:
      return "cannot bring up its loopback interface" + why;
    case kOwnProc:
      return "cannot mount its own /proc" + why;
    default:
      break;
  }
  const auto& step = view.mounts.at(static_cast<std::size_t>(report.failed_step));
  return "cannot prepare " + step.target + (step.source.empty() ? "" : " from " + step.source) +
         why;
}

// A descriptor of `pid`'s namespace of `kind` ("net", "uts") when it is not ours, else -1.
int own_namespace_of(pid_t pid, const char* kind) {
  struct stat ours {
  }, theirs{};
  int fd = ::open(("/proc/" + std::to_string(pid) + "/ns/" + kind).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (stat((std::string("/proc/self/ns/") + kind).c_str(), &ours) != 0 || fstat(fd, &theirs) != 0 ||
      ours.st_ino == theirs.st_ino) {
    close(fd);
    return -1;
  }
  return fd;
}

// A descriptor of `pid`'s mount namespace when it is not ours (it has its own /proc), else -1.
int own_mount_namespace_of(pid_t pid) {
  return own_namespace_of(pid, "mnt");
}

}  // namespace

namespace {

// Whether a holder (with `view`, when given) can be made here, tried once per kind.
bool probe_once(std::once_flag& once, bool& allowed, std::string& reason, const HostView* view,
                std::string* why) {
  std::call_once(once, [&] {
    auto probe = PidNamespace::create("bluegreen-probe", view);
    if (probe) {
      allowed = true;
      (void)probe->kill_all(std::chrono::system_clock::now() + std::chrono::seconds(5));
    } else {
      reason = probe.error().message;
    }
  });
  if (why != nullptr) *why = reason;
  return allowed;
}

}  // namespace

bool PidNamespace::supported(std::string* why) {
  static std::once_flag once;
  static bool allowed = false;
  static std::string reason;
  return probe_once(once, allowed, reason, nullptr, why);
}

bool PidNamespace::supports_host_views(std::string* why) {
  static std::once_flag once;
  static bool allowed = false;
  static std::string reason;
  static const HostView view{
      .hostname = "bluegreen-probe", .own_network = true, .own_ipc = true, .read_only_host = true};
  return probe_once(once, allowed, reason, &view, why);
}

bool PidNamespace::supports_user_host_views(std::string* why) {
  static std::once_flag once;
  static bool allowed = false;
  static std::string reason;
  static const HostView view{.hostname = "bluegreen-probe",
                             .own_network = true,
                             .own_ipc = true,
                             .read_only_host = true,
                             .own_users = true};
  return probe_once(once, allowed, reason, &view, why);
}

namespace {

// Forks the holder into a new PID namespace of ours (needs CAP_SYS_ADMIN). Returns its pid
// and the read end of its report pipe.
Result<std::pair<pid_t, int>> start_holder(const char* command, const HostView* view) {
  int own = ::open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own < 0) {
    return fail(ErrorKind::internal,
                "cannot open this thread's PID namespace: " + errno_text(errno));
  }
  // unshare(CLONE_NEWPID) changes only where this thread's next child goes; it is undone right
  // after the fork so that other children of this thread stay in our namespace.
  if (unshare(CLONE_NEWPID) != 0) {
    int error = errno;
    close(own);
    return fail(error == EPERM ? ErrorKind::permission_denied : ErrorKind::internal,
                "cannot create a PID namespace: " + errno_text(error));
  }
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    int error = errno;
    close(own);
    return fail(ErrorKind::internal, "pipe: " + errno_text(error));
  }
  pid_t pid = fork();
  if (pid == 0) be_holder(command, ready[1], view, -1);
  int fork_error = errno;
  close(ready[1]);
  int restored = setns(own, CLONE_NEWPID);
  int restore_error = errno;
  close(own);
  if (restored != 0) {
    // This thread would put every later child in the new namespace; nothing can repair that.
    std::fprintf(stderr, "bluegreen: cannot return to our PID namespace: %s\n",
                 errno_text(restore_error).c_str());
    std::abort();
  }
  if (pid < 0) {
    close(ready[0]);
    return fail(ErrorKind::internal,
                "cannot start a PID namespace's first process: " + errno_text(fork_error));
  }
  return std::pair{pid, ready[0]};
}

// Writes `text` to /proc/<pid>/<file>. Errors: the errno.
int write_proc_file(pid_t pid, const char* file, const std::string& text) {
  int fd = ::open(("/proc/" + std::to_string(pid) + "/" + file).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t written = write(fd, text.data(), text.size());
  int error = written == static_cast<ssize_t>(text.size()) ? 0 : written < 0 ? errno : EIO;
  close(fd);
  return error;
}

// Maps root to `own` and `more` in the user namespace of `pid` with `helper` (newuidmap or
// newgidmap, which check the ranges against /etc/subuid or /etc/subgid). Empty when it did,
// else what failed.
std::string map_with_helper(const char* helper, pid_t pid, unsigned own,
                            const std::vector<IdRange>& more) {
  std::vector<std::string> argv = {helper, std::to_string(pid), "0", std::to_string(own), "1"};
  for (const auto& range : more) {
    for (unsigned value : {range.inside, range.outside, range.count})
      argv.push_back(std::to_string(value));
  }
  std::string text;
  for (const auto& word : argv) text += (text.empty() ? "" : " ") + word;
  int output[2];
  if (pipe2(output, O_CLOEXEC) != 0) return text + ": pipe: " + errno_text(errno);
  std::vector<char*> args;
  for (auto& word : argv) args.push_back(word.data());
  args.push_back(nullptr);
  char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* environment[] = {path, nullptr};
  pid_t child = fork();
  if (child == 0) {
    dup2(output[1], STDOUT_FILENO);
    dup2(output[1], STDERR_FILENO);
    execvpe(helper, args.data(), environment);
    _exit(127);
  }
  int fork_error = errno;
  close(output[1]);
  char said[512] = {};
  std::size_t got = 0;
  while (child > 0 && got < sizeof said - 1) {
    ssize_t n = read(output[0], said + got, sizeof said - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(output[0]);
  if (child < 0) return text + ": fork: " + errno_text(fork_error);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::string message(said, got);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && message.empty())
    message = std::string(helper) + " is not installed (Debian package uidmap)";
  return text + " failed" + (message.empty() ? "" : ": " + message);
}

// Starts the holder in a new user namespace and a PID namespace of that user namespace (no
// privilege needed where the machine allows user namespaces), maps this process's uid and gid
// to root there (its only ids: setgroups is denied, as the kernel requires of an unprivileged
// mapping), then lets it go on. Returns its pid and the read end of its report pipe.
Result<std::pair<pid_t, int>> start_holder_with_own_users(const char* command,
                                                          const HostView& view) {
  int ready[2], mapped[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return fail(ErrorKind::internal, "pipe: " + errno_text(errno));
  if (pipe2(mapped, O_CLOEXEC) != 0) {
    int error = errno;
    close(ready[0]);
    close(ready[1]);
    return fail(ErrorKind::internal, "pipe: " + errno_text(error));
  }
  uid_t uid = geteuid();
  gid_t gid = getegid();
  // A fork (no stack of its own) whose child starts in both new namespaces: unshare() cannot
  // give a multithreaded process a user namespace.
  long cloned = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, nullptr, nullptr,
                        nullptr, nullptr);
  if (cloned == 0) {
    close(mapped[1]);
    be_holder(command, ready[1], &view, mapped[0]);
  }
  int clone_error = errno;
  close(ready[1]);
  close(mapped[0]);
  auto pid = static_cast<pid_t>(cloned);
  if (pid < 0) {
    close(ready[0]);
    close(mapped[1]);
    return fail(clone_error == EPERM || clone_error == ENOSPC || clone_error == EUSERS
                    ? ErrorKind::permission_denied
                    : ErrorKind::internal,
                "cannot create a user namespace: " + errno_text(clone_error));
  }
  std::string failed;
  if (view.more_uids.empty() && view.more_gids.empty()) {
    int error = write_proc_file(pid, "setgroups", "deny");
    failed = error != 0 ? "setgroups" : "";
    if (error == 0) {
      error = write_proc_file(pid, "uid_map", "0 " + std::to_string(uid) + " 1\n");
      failed = error != 0 ? "uid_map" : "";
    }
    if (error == 0) {
      error = write_proc_file(pid, "gid_map", "0 " + std::to_string(gid) + " 1\n");
      failed = error != 0 ? "gid_map" : "";
    }
    if (error != 0) failed += ": " + errno_text(error);
  } else {
    failed = map_with_helper("newuidmap", pid, uid, view.more_uids);
    if (failed.empty()) failed = map_with_helper("newgidmap", pid, gid, view.more_gids);
  }
  char go = failed.empty() ? 1 : 0;
  [[maybe_unused]] ssize_t written = write(mapped[1], &go, 1);
  close(mapped[1]);
  if (!failed.empty()) {
    close(ready[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return fail(ErrorKind::internal,
                "cannot map this server's ids into its user namespace (" + failed + ")");
  }
  return std::pair{pid, ready[0]};
}

}  // namespace

Result<PidNamespace> PidNamespace::create(const std::string& name, const HostView* view) {
  char command[16] = {};
  std::strncpy(command, name.c_str(), sizeof command - 1);
  auto started = view != nullptr && view->own_users ? start_holder_with_own_users(command, *view)
                                                    : start_holder(command, view);
  if (!started) return std::unexpected(started.error());
  auto [pid, ready] = *started;
  HolderReport report{.own_proc = 0, .failed_step = kUnshare, .error = EIO};
  while (read(ready, &report, sizeof report) < 0 && errno == EINTR) {
  }
  close(ready);
  if (view != nullptr && report.failed_step != kViewDone) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return fail(ErrorKind::internal,
                "cannot make the instance's namespaces: " + describe_view_failure(*view, report));
  }
  int pidfd = pidfd_open(pid);
  int namespace_fd =
      ::open(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
  StatFields fields;
  struct stat info {};
  if (namespace_fd < 0 || !read_stat(pid, fields) || fstat(namespace_fd, &info) != 0) {
    int error = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (pidfd >= 0) close(pidfd);
    if (namespace_fd >= 0) close(namespace_fd);
    return fail(ErrorKind::internal, "cannot read the new PID namespace: " + errno_text(error));
  }
  PidNamespace created(Record{pid, fields.start_time, info.st_ino}, pidfd, namespace_fd);
  if (report.own_proc) created.mount_fd_ = own_mount_namespace_of(pid);
  created.network_fd_ = own_namespace_of(pid, "net");
  created.uts_fd_ = own_namespace_of(pid, "uts");
  created.ipc_fd_ = own_namespace_of(pid, "ipc");
  created.user_fd_ = own_namespace_of(pid, "user");
  return created;
}

Result<PidNamespace> PidNamespace::open(const Record& record) {
  auto gone = [&](const std::string& why) {
    return fail(ErrorKind::not_found, "the PID namespace of holder " +
                                          std::to_string(record.holder) + " is gone: " + why);
  };
  if (record.holder <= 1) return gone("no holder recorded");
  int pidfd = pidfd_open(record.holder);
  if (pidfd < 0 && errno == ESRCH) return gone("no such process");
  PidNamespace found(record, pidfd, -1);
  // The namespace descriptor is checked by its inode after opening, and the holder's start
  // time while the pidfd pins it, so a pid the kernel handed to another process never passes.
  found.namespace_fd_ =
      ::open(("/proc/" + std::to_string(record.holder) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info {};
  if (found.namespace_fd_ < 0 || fstat(found.namespace_fd_, &info) != 0 ||
      info.st_ino != record.namespace_inode) {
    return gone("the pid belongs to another process");
  }
  StatFields fields;
  if (!read_stat(record.holder, fields) || fields.start_time != record.start_time) {
    return gone("the pid belongs to another process");
  }
  // A record is a file a hook may be able to write: it must name the first process of a
  // namespace below ours, never a process of ours (killing its "namespace" would be ours).
  if (!is_init_of_child_namespace(record.holder, info.st_ino)) {
    return fail(ErrorKind::invalid_input, "pid " + std::to_string(record.holder) +
                                              " is not the first process of a PID namespace "
                                              "below this one; it is not touched");
  }
  if (fields.state == 'Z' || fields.state == 'X' || !found.alive()) return gone("it has exited");
  found.mount_fd_ = own_mount_namespace_of(record.holder);
  found.network_fd_ = own_namespace_of(record.holder, "net");
  found.uts_fd_ = own_namespace_of(record.holder, "uts");
  found.ipc_fd_ = own_namespace_of(record.holder, "ipc");
  found.user_fd_ = own_namespace_of(record.holder, "user");
  if (!found.alive()) return gone("it has exited");
  return found;
}

PidNamespace::PidNamespace(PidNamespace&& other) noexcept
    : record_(other.record_),
      pidfd_(std::exchange(other.pidfd_, -1)),
      namespace_fd_(std::exchange(other.namespace_fd_, -1)),
      mount_fd_(std::exchange(other.mount_fd_, -1)),
      network_fd_(std::exchange(other.network_fd_, -1)),
      uts_fd_(std::exchange(other.uts_fd_, -1)),
      ipc_fd_(std::exchange(other.ipc_fd_, -1)),
      user_fd_(std::exchange(other.user_fd_, -1)) {}

PidNamespace& PidNamespace::operator=(PidNamespace&& other) noexcept {
  if (this != &other) {
    close_descriptors();
    record_ = other.record_;
    pidfd_ = std::exchange(other.pidfd_, -1);
    namespace_fd_ = std::exchange(other.namespace_fd_, -1);
    mount_fd_ = std::exchange(other.mount_fd_, -1);
    network_fd_ = std::exchange(other.network_fd_, -1);
    uts_fd_ = std::exchange(other.uts_fd_, -1);
    ipc_fd_ = std::exchange(other.ipc_fd_, -1);
    user_fd_ = std::exchange(other.user_fd_, -1);
  }
  return *this;
}

PidNamespace::~PidNamespace() {
  close_descriptors();
}

void PidNamespace::close_descriptors() {
  if (pidfd_ >= 0) close(pidfd_);
  if (namespace_fd_ >= 0) close(namespace_fd_);
  for (int fd : {mount_fd_, network_fd_, uts_fd_, ipc_fd_, user_fd_}) {
    if (fd >= 0) close(fd);
  }
  pidfd_ = namespace_fd_ = mount_fd_ = network_fd_ = uts_fd_ = ipc_fd_ = user_fd_ = -1;
}

std::vector<int> PidNamespace::host_namespace_fds() const {
  std::vector<int> fds;
  for (int fd : {network_fd_, uts_fd_, ipc_fd_}) {
    if (fd >= 0) fds.push_back(fd);
  }
  return fds;
}

bool PidNamespace::alive() const {
  if (pidfd_ >= 0) {
    pollfd exited{pidfd_, POLLIN, 0};
    return poll(&exited, 1, 0) == 0;
  }
  StatFields fields;
  return read_stat(record_.holder, fields) && fields.start_time == record_.start_time &&
         fields.state != 'Z' && fields.state != 'X';
}

std::vector<pid_t> PidNamespace::members() const {
  std::vector<pid_t> found;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    char* end = nullptr;
    long pid = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0' || pid == record_.holder) continue;
    if (namespace_inode_of(static_cast<pid_t>(pid)) != record_.namespace_inode) continue;
    StatFields fields;
    if (!read_stat(static_cast<pid_t>(pid), fields) || fields.state == 'Z' || fields.state == 'X') {
      continue;
    }
    found.push_back(static_cast<pid_t>(pid));
  }
  return found;
}

int PidNamespace::signal_members(int signal) const {
  int signalled = 0;
  for (pid_t pid : members()) {
    if (kill(pid, signal) == 0) ++signalled;
    kill(pid, SIGCONT);
  }
  return signalled;
}

Result<void> PidNamespace::kill_all(TimePoint deadline) {
  if (pidfd_ >= 0) {
    pidfd_send_signal(pidfd_, SIGKILL);
  } else if (alive()) {
    kill(record_.holder, SIGKILL);
  }
  while (alive()) {
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::system_clock::now());
    if (left <= Duration(0)) {
      return fail(ErrorKind::timeout, "the PID namespace of holder " +
                                          std::to_string(record_.holder) +
                                          " still has processes after the kill deadline");
    }
    if (pidfd_ >= 0) {
      pollfd exited{pidfd_, POLLIN, 0};
      poll(&exited, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    } else {
      std::this_thread::sleep_for(std::min(left, Duration(10)));
    }
  }
  // Our own child until a restart re-parents it: collect it so no zombie stays behind.
  waitpid(record_.holder, nullptr, WNOHANG);
  return {};
}

std::string PidNamespace::format(const Record& record) {
  return "holder " + std::to_string(record.holder) + " start " + std::to_string(record.start_time) +
         " namespace " + std::to_string(record.namespace_inode) + "\n";
}

Result<PidNamespace::Record> PidNamespace::parse(const std::string& text) {
  std::istringstream in(text);
  std::string holder, start, space;
  Record record;
  in >> holder >> record.holder >> start >> record.start_time >> space >> record.namespace_inode;
  if (!in || holder != "holder" || start != "start" || space != "namespace" || record.holder <= 1) {
    return fail(ErrorKind::invalid_input, "not a PID namespace record: " + text.substr(0, 80));
  }
  return record;
}

namespace {

bool same_record(const PidNamespace::Record& a, const PidNamespace::Record& b) {
  return a.holder == b.holder && a.start_time == b.start_time &&
         a.namespace_inode == b.namespace_inode;
}

// Every namespace created (or found) for a record path by this process, in order: what a
// record file that was replaced or spoiled no longer says.
std::mutex remembered_mutex;
std::map<std::string, std::vector<PidNamespace::Record>>& remembered() {
  static std::map<std::string, std::vector<PidNamespace::Record>> records;
  return records;
}

void remember(const fs::path& path, const PidNamespace::Record& record) {
  auto& list = remembered()[path.string()];
  for (const auto& known : list) {
    if (same_record(known, record)) return;
  }
  list.push_back(record);
}

// The file's well-formed lines, then what this process remembers for `path` that the file
// lacks; oldest first.
std::vector<PidNamespace::Record> known_records(const fs::path& path) {
  std::vector<PidNamespace::Record> records;
  std::istringstream lines(file_text_or_empty(path.string()));
  for (std::string line; std::getline(lines, line);) {
    if (auto record = PidNamespace::parse(line)) records.push_back(*record);
  }
  for (const auto& record : remembered()[path.string()]) {
    bool listed = false;
    for (const auto& known : records) listed = listed || same_record(known, record);
    if (!listed) records.push_back(record);
  }
  return records;
}

}  // namespace

std::vector<PidNamespace> open_recorded_pid_namespaces(const fs::path& path) {
  std::lock_guard lock(remembered_mutex);
  std::vector<PidNamespace> live;
  for (const auto& record : known_records(path)) {
    if (auto opened = PidNamespace::open(record)) live.push_back(std::move(*opened));
  }
  return live;
}

namespace {

// Writes `records` to `path` (atomically, 0600) unless it already says exactly that.
Result<void> write_records(const fs::path& path, const std::vector<PidNamespace::Record>& records) {
  std::string text;
  for (const auto& record : records) text += PidNamespace::format(record);
  if (file_text_or_empty(path.string()) == text) return {};
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return fail(ErrorKind::internal, "cannot record a PID namespace in " + temporary.string());
    }
  }
  std::error_code ec;
  fs::permissions(temporary, fs::perms(0600), fs::perm_options::replace, ec);
  fs::rename(temporary, path, ec);
  if (ec) {
    return fail(ErrorKind::internal,
                "cannot record a PID namespace in " + path.string() + ": " + ec.message());
  }
  return {};
}

}  // namespace

Result<PidNamespace> open_or_create_pid_namespace(const fs::path& path, const std::string& name,
                                                  const HostView* view, bool* created_now) {
  if (created_now != nullptr) *created_now = false;
  std::lock_guard lock(remembered_mutex);
  std::vector<PidNamespace> live;
  for (const auto& record : known_records(path)) {
    if (auto opened = PidNamespace::open(record)) live.push_back(std::move(*opened));
  }
  // The newest this process made or found for `path` is preferred to what the file alone says.
  std::optional<std::size_t> newest, newest_mine;
  for (std::size_t i = 0; i < live.size(); ++i) {
    newest = i;
    for (const auto& known : remembered()[path.string()]) {
      if (same_record(known, live[i].record())) newest_mine = i;
    }
  }
  auto chosen = newest_mine ? newest_mine : newest;
  std::vector<PidNamespace::Record> listed;
  for (const auto& space : live) listed.push_back(space.record());
  if (chosen) {
    remember(path, live[*chosen].record());
    // A file that lost a live namespace lists it again; a failure to write changes nothing
    // for the running hooks, which this process remembers.
    (void)write_records(path, listed);
    return std::move(live[*chosen]);
  }
  auto created = PidNamespace::create(name, view);
  if (!created) return created;
  if (created_now != nullptr) *created_now = true;
  remember(path, created->record());
  listed.push_back(created->record());
  if (auto written = write_records(path, listed); !written) {
    (void)created->kill_all(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return std::unexpected(written.error());
  }
  return created;
}

Result<void> change_owners_in(int user_namespace, const std::vector<OwnerChange>& changes) {
  if (changes.empty()) return {};
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return fail(ErrorKind::internal, "pipe: " + errno_text(errno));
  }
  // The child only makes system calls: it is a fork of a multithreaded process.
  pid_t child = fork();
  if (child == 0) {
    int refused[2] = {-1, 0};
    if (setns(user_namespace, CLONE_NEWUSER) != 0) {
      refused[1] = errno;
    } else {
      for (std::size_t i = 0; i < changes.size() && refused[0] < 0; ++i) {
        const auto& change = changes[i];
        if (fchownat(change.fd, "", change.uid, change.gid, AT_EMPTY_PATH) != 0) {
          refused[0] = static_cast<int>(i);
          refused[1] = errno;
        }
      }
    }
    if (refused[1] != 0) {
      [[maybe_unused]] ssize_t written = write(report[1], refused, sizeof refused);
    }
    _exit(refused[1] != 0 ? 1 : 0);
  }
  int fork_error = errno;
  close(report[1]);
  int refused[2] = {-1, 0};
  ssize_t got = -1;
  while (child > 0 && (got = read(report[0], refused, sizeof refused)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (child < 0) return fail(ErrorKind::internal, "fork: " + errno_text(fork_error));
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == 0) return {};
  if (got != static_cast<ssize_t>(sizeof refused)) {
    return fail(ErrorKind::failed, "cannot change owners in the user namespace: its helper died");
  }
  if (refused[0] < 0) {
    return fail(ErrorKind::failed,
                "cannot enter the user namespace to change owners: " + errno_text(refused[1]));
  }
  return fail(ErrorKind::failed, "change of owner " + std::to_string(refused[0]) +
                                     " refused in the user namespace: " + errno_text(refused[1]));
}

}  // namespace bluegreen
