// LocalFleet: instances as directories and processes on this machine (a Fleet).
//
// launch() gives each instance an id ("i-" + 8 hex digits), its own directory
// <state_dir>/instances/<id> (layout in instance_layout.h), the request's tags (GreenIdentifier
// among them) and where it is reached, by its isolation (LaunchRequest::isolation):
//   none        a free loopback port (the OS picks one: bind 127.0.0.1:0), 127.0.0.1
//   namespaces  its own /30 and veth pair (instance_network.h): host is the instance's end of
//               the pair, port the request's APP_PORT; its namespaces are made by its first
//               event after DownloadBundle (instance_host.h)
// It starts no process: the agent's hooks do, each marked with BLUEGREEN_INSTANCE_ID=<id>.
//
// Invariant: traffic goes only to addresses the server made: an instance's host and port are
// set here and kept in its record (0600, the server's), never taken from anything a hook or a
// bundle writes.
//
// Invariant: every process a hook starts dies with its instance, whatever it does to its
// environment, session, process group, parent, name or descriptors. terminate() guarantees it
// in one of two modes, chosen per machine:
//   contained  (the server may create PID namespaces: root, CAP_SYS_ADMIN) - the first hook of
//              an instance creates a PID namespace for it (infra/process/pid_namespace.h) and
//              records its holder (pid, start time, namespace inode) in <root>/pid-namespace;
//              every hook of the instance starts inside it, as its `runas` user, and so does
//              everything those hooks start (setsid, double forks and `env -u` included: no
//              process can leave a PID namespace). A record that names no live holder (its
//              holder was killed, or the file was replaced) makes the next hook create a new
//              namespace, appended to the record, never replacing it: terminate() re-reads
//              every namespace the instance has had (the file, and this process's memory of
//              it), checks that each holder is still the process recorded, sends SIGTERM to
//              every process of each, waits up to kill_grace, then kills the holders, which
//              makes the kernel kill whatever is left, and waits until they are gone. Hooks also
//              get the namespace's own /proc (a mount namespace of the holder's), so $$, $!,
//              ps, pgrep and kill agree inside, and the pids a hook can name are its
//              instance's only. This is containment, not a sandbox: a hook running as the
//              server's user (root) can leave that /proc (umount -l) and do whatever root can.
//              With ISOLATION=none files, users and the network are shared; with namespaces
//              the holder is the instance's host (instance_host.h) and terminate() also
//              removes its veth pair and gives back its /30 (on a server that is not root,
//              it first removes the instance's installed files from inside the instance's
//              user namespace, where its users' files are removable). The
//              holder outlives a server restart (a killed server leaves its instances
//              running); the record is how the next server finds it.
//              Why a PID namespace rather than a cgroup: it needs nothing but CAP_SYS_ADMIN,
//              works the same on cgroup v1, v2 and hybrid machines, and does not write into
//              a hierarchy that systemd owns (where a cgroup needs a delegated subtree).
//   marked     (fallback, where namespaces are refused: a server without root) - the marker
//              sweep of infra/process/marked_processes.h: processes carrying the instance's
//              BLUEGREEN_INSTANCE_ID, or sharing a session or process group with one that
//              does. A process that both clears its environment and leaves every marked
//              session escapes it.
// Both modes run on every terminate(): the sweep also ends marked processes of instances a
// server without containment started. Because both the record and the mark live outside this
// object, terminate() works for ids this fleet never saw, for example after a restart.
// Limits: a process that asks something outside the instance to start a program for it (cron,
// systemd-run, a login over ssh) is not the instance's; pids a contained hook writes down (pid
// files) count in its namespace, not in the machine's `ps`; terminate() sweeps what runs when it is
// called: call it once no installer is running hooks on those instances. It then records the
// instance as terminated and removes its files except instance.json and logs/.
//
// Invariant: terminate() empties nothing but <state_dir>/instances/<id> (less its record and
// logs): a record whose id or root names anything else is ignored (recorded_instances() does
// not list it), since terminating by a forged record must not empty another directory.
//
// The fleet writes each instance's record to <root>/instance.json; after a restart the server
// either adopts the instances its journal knows (adopt) or reads what the disk knows
// (recorded_instances) and terminates what it does not want.
//
// Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>

#include "engine/ports.h"
#include "infra/process/pid_namespace.h"

namespace bluegreen {

struct LocalFleetOptions {
  std::filesystem::path state_dir;     // instances live in <state_dir>/instances/<id>
  Duration kill_grace{5000};           // SIGTERM to SIGKILL when terminating
  Duration terminate_timeout{30'000};  // how long terminate() may take in all
};

class LocalFleet final : public Fleet {
 public:
  explicit LocalFleet(LocalFleetOptions options);

  // Errors: invalid_input (count < 1, no fleet id), internal (directory or port trouble).
  Result<std::vector<Instance>> launch(const LaunchRequest& request) override;
  // The instances not terminated, ordered by id.
  std::vector<Instance> list() const override;
  // Error timeout (naming the survivors) if processes remain after terminate_timeout.
  Result<void> terminate(const std::vector<std::string>& instance_ids) override;

  // Takes back instances a previous server launched, as its journal recorded them; terminated
  // ones are ignored. Their ports are not handed out again while they live.
  void adopt(const std::vector<Instance>& instances);
  // Changes the state list() reports for an instance (running, healthy, ...); unknown ids are
  // ignored. The record on disk follows.
  void set_state(const std::string& instance_id, InstanceState state);
  // Every instance whose record under state_dir is not terminated, whether or not this fleet
  // knows it: what a restarted server finds on disk.
  std::vector<Instance> recorded_instances() const;

 private:
  Result<Instance> create_instance(const LaunchRequest& request);
  Result<int> free_port() const;
  // Where `space` (of instance `id`) has its own user namespace (a server that is not root):
  // removes the instance's install root from inside it, while it lives, since files its users
  // own are no longer this server's to remove.
  void remove_files_of_own_users(const PidNamespace& space, const std::string& id,
                                 TimePoint deadline) const;

  LocalFleetOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Instance> instances_;  // live ones, by id
};

}  // namespace bluegreen
