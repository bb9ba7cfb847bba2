// PidNamespace: a group of processes the kernel keeps together, whatever they do to their
// environment, session, process group, parent or name.
//
// A PidNamespace is a new PID namespace whose pid 1 is a small holder process forked from this
// one (it only reaps orphans; it keeps no descriptor of ours and blocks every signal). Children
// spawned with SpawnOptions::pid_namespace start inside it, and so does everything they start:
// a process cannot leave a PID namespace (setns only enters descendants), and a double fork or
// `setsid` only re-parents it to the holder. Killing the holder makes the kernel kill every
// process in the namespace (including nested namespaces) before the holder itself is gone, so
// "the holder has exited" means "nothing of the group runs".
//
// The holder also makes a mount namespace whose /proc is the PID namespace's own (mounts of the
// machine still propagate into it unless its HostView is read-only, none out of it). Children that
// join it too (SpawnOptions::mount_namespace) see only their group in /proc, so `ps`, `pgrep` and
// `kill` agree with the pids they are given ($$, $!). Without a HostView, the network, files and
// users are shared; with one the holder also makes its own UTS, network and IPC namespaces and
// changes its mount namespace as the view says, before anything joins it, so no member ever
// sees the machine's view.
//
// The holder outlives this process: a restarted process finds it again from its Record (pid,
// start time, namespace inode), written to disk by whoever created it, and open() checks all
// three before anything is signalled, so a recycled pid is never killed.
//
// Needs CAP_SYS_ADMIN (root), except for a holder whose HostView has own_users: that one is
// made with its own user namespace too (unprivileged user namespaces, where the machine allows
// them), in which this process's uid and gid are root and the only ids; its other namespaces
// belong to that user namespace, and whoever joins them joins it first
// (SpawnOptions::user_namespace). supported() says whether this machine allows a plain one;
// where it does not (an unprivileged server, a container without the capability), callers fall
// back to marked_processes.h.
//
// Thread-safe: create() and spawning into a namespace change only the calling thread's
// namespace for children, and restore it before returning.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace bluegreen {

// One change the holder makes to its mount namespace (HostView), with system calls only.
struct MountStep {
  enum class Kind {
    directory,       // mkdir target (mode); one that exists is fine
    file,            // an empty file at target, as a mount point for a file; existing is fine
    symlink,         // target becomes a symbolic link to source
    bind,            // source (with what is mounted below it) at target, writable
    bind_read_only,  // source (with what is mounted below it) at target, read-only
    tmpfs,           // an empty tmpfs at target; source holds its mount options ("mode=1777")
    read_only,       // the mount at target becomes read-only (not what is below it)
    detach,          // the mount at target goes (lazily)
  };
  Kind kind = Kind::directory;
  std::string target;
  std::string source;
  unsigned mode = 0755;
};

// Ids `inside` .. inside+count-1 of a user namespace are `outside` .. of this machine.
struct IdRange {
  unsigned inside = 0, outside = 0, count = 0;
};

// What a holder makes of its namespaces before any member starts, beyond its own /proc: a
// lightweight host (adapters/local/instance_host.h decides the contents).
struct HostView {
  std::string hostname;         // its own UTS namespace with this hostname
  bool own_network = false;     // its own network namespace; only loopback, up
  bool own_ipc = false;         // its own IPC namespace: System V objects, POSIX queues
  bool read_only_host = false;  // every mount it inherits becomes read-only, first, and
                                // none of the machine's later mounts propagates into it
  bool own_users = false;       // its own user namespace (see above): for a process
                                // without CAP_SYS_ADMIN
  // >= 0: a listening Unix socket (socket_channel.h) the holder keeps and serves for its whole
  // life: each connection it accepts gets one new TCP socket of the holder's network namespace
  // and is closed. The caller keeps its own descriptor (and may close it once create() is done).
  int socket_channel = -1;
  // With own_users: ids mapped besides root (this process's), from this process's subordinate
  // ranges (/etc/subuid, /etc/subgid) through newuidmap and newgidmap. None: root is the only
  // id there, and setgroups is denied.
  std::vector<IdRange> more_uids, more_gids;
  std::vector<MountStep> mounts;  // then these, in order; a failing one fails create()
};

class PidNamespace {
 public:
  // What identifies a holder across restarts of this process.
  struct Record {
    pid_t holder = 0;
    std::uint64_t start_time = 0;       // /proc/<pid>/stat field 22 (clock ticks since boot)
    std::uint64_t namespace_inode = 0;  // inode of /proc/<pid>/ns/pid
  };

  // Whether this process may create PID namespaces (tried once, then remembered); when not,
  // `why` (if given) says what refused it.
  static bool supported(std::string* why = nullptr);
  // Whether this process may also give holders a HostView (own mount, network and UTS
  // namespaces, the machine read-only): tried once, then remembered.
  static bool supports_host_views(std::string* why = nullptr);
  // Whether this process may give holders a HostView with own_users (a user namespace of
  // their own): tried once, then remembered.
  static bool supports_user_host_views(std::string* why = nullptr);

  // Starts a holder in a new PID namespace; `name` becomes its command name (≤ 15 bytes kept).
  // With a `view`, the holder also makes it (hostname, network, mounts), or exits: then
  // create() fails with internal naming the step. Errors: permission_denied (no
  // CAP_SYS_ADMIN), internal (fork or namespace trouble).
  static Result<PidNamespace> create(const std::string& name, const HostView* view = nullptr);
  // Finds a holder again. Errors: not_found when it is gone or its pid now belongs to another
  // process (then nothing of its namespace runs any more); invalid_input when the record names
  // a process that is not the first of a PID namespace below ours (a forged record: nothing
  // is signalled).
  static Result<PidNamespace> open(const Record& record);

  PidNamespace(PidNamespace&& other) noexcept;
  PidNamespace& operator=(PidNamespace&& other) noexcept;
  PidNamespace(const PidNamespace&) = delete;
  PidNamespace& operator=(const PidNamespace&) = delete;
  ~PidNamespace();  // closes descriptors only: the namespace keeps running

  const Record& record() const { return record_; }
  // A descriptor of the namespace, for SpawnOptions::pid_namespace. Valid while this lives.
  int namespace_fd() const { return namespace_fd_; }
  // A descriptor of the holder's mount namespace, whose /proc shows this PID namespace, for
  // SpawnOptions::mount_namespace; -1 when the holder could not make one.
  int mount_namespace_fd() const { return mount_fd_; }
  // Descriptors of the holder's network, UTS and IPC namespaces when they are its own (it was
  // made with a HostView), network first, for SpawnOptions::namespaces; empty otherwise. Valid
  // while this lives.
  std::vector<int> host_namespace_fds() const;
  // A descriptor of the holder's user namespace when it is its own (HostView::own_users), for
  // SpawnOptions::user_namespace; -1 otherwise.
  int user_namespace_fd() const { return user_fd_; }
  // Whether the holder still runs (the namespace still accepts new processes).
  bool alive() const;

  // Live processes in the namespace other than the holder (pids as this process sees them).
  std::vector<pid_t> members() const;
  // Sends `signal` (and SIGCONT) to every member; returns how many it signalled.
  int signal_members(int signal) const;
  // Kills the holder and with it every process of the namespace, and waits until the holder
  // is gone. Error timeout, naming the holder, when it is still there at `deadline`.
  Result<void> kill_all(TimePoint deadline);

  // The record as one line of text, and back. Errors: invalid_input for a malformed line.
  static std::string format(const Record& record);
  static Result<Record> parse(const std::string& text);

 private:
  PidNamespace(Record record, int pidfd, int namespace_fd)
      : record_(record), pidfd_(pidfd), namespace_fd_(namespace_fd) {}
  void close_descriptors();

  Record record_;
  int pidfd_ = -1;
  int namespace_fd_ = -1;
  int mount_fd_ = -1;
  int network_fd_ = -1;
  int uts_fd_ = -1;
  int ipc_fd_ = -1;
  int user_fd_ = -1;
};

// A change of owner that this process may make only from inside a user namespace it owns (a
// holder's, HostView::own_users): `fd` (O_PATH is enough) gets `uid` and `gid` as that
// namespace names them.
struct OwnerChange {
  int fd = -1;
  uid_t uid = 0;
  gid_t gid = 0;
};
// Makes `changes`, in order, from inside `user_namespace` (a child forked from this process
// enters it). Errors: failed, with the index of the first change refused and why, in the
// message (the rest are not made).
Result<void> change_owners_in(int user_namespace, const std::vector<OwnerChange>& changes);

// A record file lists every namespace its owner (an instance) has had, one record a line,
// oldest first; this process also remembers each namespace it created or found for a path.
//
// Invariant: a namespace, once recorded for a path, is found by open_recorded_pid_namespaces()
// for as long as its holder lives, even when the file was since replaced, emptied or spoiled
// (then from this process's memory; after a restart only from the file): a record that no
// longer names a live holder never makes a namespace with running processes forgotten.

// Every namespace recorded at `path` (the file's well-formed lines and what this process
// remembers for it) whose holder lives, each checked by PidNamespace::open(); empty when none.
std::vector<PidNamespace> open_recorded_pid_namespaces(const std::filesystem::path& path);

// The newest live namespace recorded at `path` (preferring those this process made or found),
// else a new one (made with `view` when given; `*created` then says it is new). The file is
// then rewritten (atomically, mode 0600) to list every live one, the new one last. Serialised
// within this process. Errors as in create(), internal when a new namespace cannot be
// recorded (it is then killed).
Result<PidNamespace> open_or_create_pid_namespace(const std::filesystem::path& path,
                                                  const std::string& name,
                                                  const HostView* view = nullptr,
                                                  bool* created = nullptr);

}  // namespace bluegreen
