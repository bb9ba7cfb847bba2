// InstanceHost: a local instance as a lightweight host (ISOLATION=namespaces), so that a bundle
// written for EC2 runs unchanged: its hooks `cd /home/ec2-user/app`, listen on a fixed port,
// `runas: ubuntu`, write pid files under /var/run and ask `hostname`.
//
// The instance's host is its PID namespace holder (infra/process/pid_namespace.h) made with a
// HostView: the holder's own mount, network, UTS and IPC namespaces; where the server is not root
// (no CAP_SYS_ADMIN; unprivileged user namespaces allowed), also its own user namespace, which
// owns the others (instance_host_support()). It is made at the instance's
// first event after DownloadBundle (its first hook, or Install), from the revision's appspec,
// and lives until terminate() (local_fleet.h); every hook of the instance joins all of its
// namespaces.
//
// What an instance can see and touch (invariants; instance_host_test.cpp and
// tests/local/test_isolation.py try to break each):
// 1. Files. The machine's file system, read-only: a hook (even as root) that writes to /usr,
//    /etc or any path of the machine fails with EROFS. The view is the machine's mounts as
//    they were when the instance's host was made: a mount the machine makes later (below a
//    shared mount too) does not appear in it. Writable, and the instance's alone:
//      - each appspec `files` destination and the home of each user the instance's hooks run
//        as (/root for root) that the instance adds or that lies below /home (a system account
//        of this machine, such as daemon or nobody, keeps its home as the machine has it),
//        bind-mounted from <dir>/root/<path> (instance_layout.h) at the absolute path the
//        appspec names; Install copies into the same directories, so hooks find the files at
//        /home/ec2-user/app, /opt/app, /var/www/html. A destination whose
//        parent does not exist on the machine gets it on a read-only tmpfs of the instance
//        that shows the machine's entries of the nearest existing parent (read-only) beside it;
//      - its own empty /tmp, /var/tmp, /run (so /var/run) and /dev/shm (tmpfs, gone with it);
//      - its bundle copy at kArchiveInView (the hooks' working directory);
//      - /etc/passwd, /etc/group, /etc/hosts, /etc/hostname and /etc/machine-id (with
//        /var/lib/dbus/machine-id) are the instance's own files (read-only), where the
//        machine has them; its machine id is random, made once.
//    Nothing outside the instance's directory <state_dir>/instances/<id> is written on the
//    machine. <state_dir>/instances is an empty read-only directory in the view: no instance
//    reads another's files (the users instances add share uids), and a destination there is
//    refused. A destination under /tmp, /var/tmp, /run, /proc, /sys or /dev, or "/" itself, is
//    refused, naming it, before anything runs, and so is one above a path the view provides
//    (/etc, /var, /opt: it would hide /etc/passwd, /var/tmp, the bundle copy).
// 2. Network. Its own network namespace: its own loopback (two instances may both listen on
//    0.0.0.0:8080) and one veth pair to this machine on a /30 the server allocated
//    (instance_network.h). It reaches this machine's x.x.x.1 of that pair and nothing else; the
//    proxy and the health probe reach it at its x.x.x.2 on APP_PORT. Where the server cannot
//    make veth pairs (it is not root), the namespace has only its loopback and reaches nothing
//    of this machine: the holder hands the server new TCP sockets of the namespace through the
//    instance's socket channel (infra/process/socket_channel.h, instance_layout.h), and the
//    proxy and the health probe connect them to 127.0.0.1:APP_PORT, the instance's own
//    loopback (Instance::host names the channel: core/instance_reach.h).
// 3. Processes. Its own PID namespace: every process a hook starts, however it detaches
//    (double fork, setsid, a cleared environment), dies with the instance, and it sees only
//    its own processes in /proc. Its own IPC namespace: the System V message queues, shared
//    memory and semaphores (and POSIX message queues) it makes are its own, and those of this
//    machine and of other instances are out of its reach.
// 4. Users. The users its appspec names exist in its /etc/passwd view (instance_accounts.h),
//    never on the machine; hooks run as them with their uid, their gid and their home. With its
//    own user namespace (a server that is not root), the server's uid and gid are root there,
//    and, where the server's user has subordinate ranges (/etc/subuid, /etc/subgid), the ids of
//    the users the instance adds are mapped to the first kInstanceIdsMapped of them (newuidmap):
//    those users' files on this machine belong to ids of that range, never to the server or to
//    another account; the owners `permissions` and homes name are set from inside that
//    namespace, and terminate() removes what they wrote from inside it. Every other id of this
//    machine shows as nobody/nogroup. An appspec whose runas user, permissions owner or group
//    is none of those (without ranges: anyone but root; with them: an account of this machine
//    such as daemon) is refused before anything runs, naming the user and the way out (a
//    subordinate range, or a server run as root).
// 5. Hostname. `hostname` and `uname -n` answer the instance id (its own UTS namespace), and
//    so does /etc/hostname where this machine has one; its /etc/hosts is this machine's without
//    this machine's name, and its own name on 127.0.1.1.
// This is containment, not a sandbox against root: a hook running as root holds
// CAP_SYS_ADMIN (on the machine, or in the instance's user namespace) and could remount what it
// sees, and then act as the server's user; bundles are trusted like the CodeDeploy agent trusts
// them (docs/security.md).
//
// Thread-safe for different instances; one instance's events run on one thread.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "adapters/local/appspec.h"
#include "adapters/local/instance_accounts.h"
#include "core/instance.h"
#include "infra/process/pid_namespace.h"

namespace bluegreen {

// Where an instance's bundle copy appears inside it, as the CodeDeploy agent keeps it.
inline constexpr const char* kArchiveInView =
    "/opt/codedeploy-agent/deployment-root/deployment-archive";

// How many ids of the users an instance adds a server that is not root maps, at most.
inline constexpr unsigned long kInstanceIdsMapped = 65536;

// How this server makes instance hosts, decided once (the first call tries).
struct HostSupport {
  enum class Network {
    none,     // it cannot make them: ISOLATION=none only; `why` says what refused them
    veth,     // a veth pair on a /30 (instance_network.h): root, or CAP_SYS_ADMIN and
              // CAP_NET_ADMIN
    sockets,  // the instance's socket channel (invariant 2): no veth pairs here
  };
  Network network = Network::none;
  // The holder has its own user namespace, where the server's uid and gid are root and the
  // only ids (invariant 4): a server without CAP_SYS_ADMIN, where unprivileged user namespaces
  // are allowed.
  bool own_users = false;
  // With own_users: what holders map besides root, through newuidmap and newgidmap, from the
  // subordinate ranges of the server's user (/etc/subuid, /etc/subgid): the ids of the users
  // instances add (kFirstInstanceId up, at most kInstanceIdsMapped). Empty when it has none:
  // root is then the only user an instance has.
  std::vector<IdRange> more_uids, more_gids;
  std::string why;
};
const HostSupport& instance_host_support();
// Whether this server can make instance hosts (instance_host_support()); when not, `why` (if
// given) says what refused it.
bool instance_hosts_supported(std::string* why = nullptr);

// What the instance's view is made of, from its appspec: the writable directories (target in
// the instance, source on the machine) and the users its hooks run as. Errors: invalid_input
// naming a destination the view cannot hold (see invariant 1).
struct ViewPlan {
  struct Writable {
    std::filesystem::path target;  // absolute, inside the instance
    std::filesystem::path source;  // on this machine, in the instance's directory
  };
  // From the appspec: its files destinations, /var/log and the bundle copy (open_or_create_host
  // adds the users' homes, then keeps only the outermost of nested ones).
  std::vector<Writable> writable;
  std::set<std::string> users;   // every runas user and permission owner
  std::set<std::string> groups;  // every permission group
};
Result<ViewPlan> plan_view(const Instance& instance, const AppSpec& spec,
                           const std::filesystem::path& bundle_dir);

// The instance's host: its live holder, else a new one made from `spec`'s plan, its accounts,
// directories and network (veth pair on its allocated /30, Instance::host, or its socket
// channel). Errors: invalid_input (plan_view; a user other than root where the holder has its
// own user namespace), failed (the network: connect_instance), internal (the view could not be
// made: the step and why), permission_denied (no namespaces here).
Result<PidNamespace> open_or_create_host(const Instance& instance, const AppSpec& spec,
                                         const std::filesystem::path& bundle_dir);

// Where the instance's host has its own user namespace (a server that is not root): gives the
// homes of its users their owners, from inside that namespace. After Install, which this server
// could no longer do in a home it no longer owns (a root server does it when it makes the host).
void own_homes_after_install(const Instance& instance, const AppSpec& spec,
                             const std::filesystem::path& bundle_dir, const PidNamespace& host);

// The accounts an instance's view shows (prepared by open_or_create_host).
InstanceAccounts instance_accounts(const Instance& instance);

}  // namespace bluegreen
