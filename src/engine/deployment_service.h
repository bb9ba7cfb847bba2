// DeploymentService: what `bluegreen server` does, without HTTP. It owns the local groups
// (one traffic switch each, listening on the group's LISTEN), starts deployments on worker
// threads (one Executor each), passes promote and rollback requests to them, answers
// questions from the journal, and brings everything back after a restart.
//
// Rules it enforces:
// - One deployment per group at a time: a second gets a conflict error naming the running one.
// - A group name means one group on a server: a local group and a cloud group (PROVIDER
//   elastigroup, asg), or the cloud groups of two providers, never share it. A deployment whose
//   GROUP_ID names a group of another kind (running a deployment, or served by one) is refused
//   as a conflict naming that group, so status, history, promote and rollback by group always
//   mean one thing. A cloud deployment a restart cannot resume (its cloud is out of reach) keeps
//   its group, name and lock, until a later start resumes it. A GROUP_ID that prints like
//   another (white space at either end, a control character) is refused as invalid input.
// - A group exists once a fleet serves it or a deployment of it runs: status() lists no other,
//   and a deployment refused before it started (LISTEN or PREVIEW_LISTEN unusable) leaves no
//   group behind, nor a listener it opened. A group's first deployment that ends without a
//   fleet serving (failed, rolled back) closes the group's listeners as it ends, and a restart
//   does not bring the group back (nor deploy that revision again), even when it failed after
//   its switch.
// - A group keeps its LISTEN address while a fleet serves on it.
// - After a restart: the serving fleet of each group is re-adopted and routed again; a
//   deployment that was running is resumed (the state machine decides whether it carries on
//   or cleans up, told which fleet the journal says is routed); instances on disk that
//   nobody wants are terminated; a group whose serving fleet is gone (the server stopped its
//   instances, or the machine rebooted) is restored by deploying the same revision again,
//   once its LISTEN is bound; until then status() shows the group with its listener's error.
//
// Invariant: a restart never terminates a fleet that was serving before it, and restores its
// address.
// - Each group's bound LISTEN address (the port actually bound, also for LISTEN port 0) is
//   recorded when its listener opens, before any switch, and a restart listens there again.
// - A LISTEN that cannot be bound at restart (another process holds the port) keeps its
//   fleet: the instances are adopted and keep running, status() reports "listener … not
//   bound yet: …; retrying", the bind is retried with backoff, and once it succeeds the
//   fleet is routed again and a deployment interrupted on that group resumes.
// - Instances on disk whose fleet the journal has no record of mean the journal is not the
//   one that launched them (deleted, replaced): recover() fails and terminates nothing; so
//   does a journal that cannot be read.
// - Instances the journal names (serving fleets, running deployments) whose directories are
//   missing while processes of theirs still run (FleetRecovery::live_processes; for local
//   instances frontends/server/untracked_instances.h: the PID-namespace holder "bg-<id>" or
//   the BLUEGREEN_INSTANCE_ID marker) mean the directories were moved or deleted behind the
//   server's back: recover() fails naming them and their pids, and starts and terminates
//   nothing, instead of restoring the group beside a fleet nothing would end.
// - The executor never lets the journal say "before the switch" while green serves (see
//   engine/executor.h), so resuming from the last durable step never undoes a switch.
//
// Cloud groups (PROVIDER=elastigroup, adapters/elastigroup/elastigroup_provider.h: Spot launches
// and retires the fleets; PROVIDER=asg, adapters/asg/asg_provider.h: Auto Scaling groups and
// their target groups; CodeDeploy installs for both), so the server opens no listener and
// routes nothing for them; it runs their deployments through the same flow and executor as
// local ones, with
// the provider ServiceDeps::providers opens with the clouds of its own environment,
// journals the record (the provider's state in it) after every request and holds the group's
// one-deployment lock. A literal API_TOKEN lives only in the spec the deployment was started
// with (to_json(spec) stores "***"). After a restart a running cloud deployment resumes from its
// journaled state (the flow adopts its own Spot and CodeDeploy deployments, so none is created
// twice); one whose literal API_TOKEN was lost with the process ends failed, saying so. shutdown()
// and abandon() stop cloud deployments without ending them, so the next start resumes them. Cloud
// instances are never looked for on this machine, adopted or terminated by recover() or
// shutdown(). Promote and rollback reach a cloud deployment whose traffic the flow moves
// (PROVIDER=asg); PROVIDER=elastigroup moves its own and refuses them.
//
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "engine/executor.h"
#include "engine/live_log.h"

namespace bluegreen {

// A group's traffic switch as the server needs it: the Traffic port plus its listeners.
class GroupTraffic {
 public:
  virtual ~GroupTraffic() = default;
  virtual Traffic& traffic() = 0;
  virtual std::string address() const = 0;  // the bound LISTEN address
  // Opens (or moves) the preview listener; returns its bound address.
  virtual Result<std::string> listen_preview(const std::string& address) = 0;
  virtual std::optional<std::string> preview_address() const = 0;
  // How error answers name a fleet ("no healthy instance in the green fleet d-…").
  virtual void label(const std::string& fleet_id, const std::string& label) = 0;
  virtual void stop() = 0;
};

using OpenGroupTraffic =
    std::function<Result<std::unique_ptr<GroupTraffic>>(const std::string& listen)>;

// What a restarted server needs from the fleet beyond the Fleet port.
struct FleetRecovery {
  std::function<void(const std::vector<Instance>&)> adopt;  // take back known instances
  std::function<std::vector<Instance>()> recorded;          // every live instance on disk
  // For each of the given instance ids that still has live processes, their pids (ids
  // without any are absent). Unset: the fleet leaves no process behind its instances.
  std::function<std::map<std::string, std::vector<pid_t>>(const std::vector<std::string>&)>
      live_processes = nullptr;
};

struct ServiceDeps {
  Fleet& fleet;
  FleetRecovery recovery;
  RevisionFetcher& fetcher;
  Installer& installer;
  HealthProbe& probe;
  Clock& clock;
  Journal& journal;
  LiveLog& log;
  OpenGroupTraffic open_traffic;
  std::filesystem::path bundles_dir;
  // Test hook (crash_hook.h): the server kills itself when a deployment enters this phase.
  std::optional<Phase> crash_at_phase = std::nullopt;
  // Test hook (crash_hook.h): a deployment's journal writes fail from this phase on.
  std::optional<Phase> journal_full_at_phase = std::nullopt;
  // Providers that own their fleets (PROVIDER=elastigroup, asg), opened for each run with the
  // server's own credentials. Unset: the server refuses such deployments.
  ProviderSource* providers = nullptr;
  // Why this server cannot create the namespaces of ISOLATION=namespaces (local instances then
  // run with ISOLATION=none); nothing when it can.
  std::optional<std::string> namespaces_unavailable = std::nullopt;
  // A server answers its admin API while recover() reads the journal back: until recover() has
  // run, start_deployment() refuses (unavailable), so that a request arriving then cannot start
  // a second deployment of a group whose interrupted one is about to resume. False: a service
  // with nothing to recover starts deployments at once.
  bool recover_first = false;
};

// Names a deployment: by id, or the running (else latest) deployment of a group, or, with
// neither, the only running deployment.
struct Selector {
  std::string deployment_id;
  std::string group;
};

struct GroupStatus {
  std::string group;
  // A cloud group (PROVIDER=elastigroup, asg): no listener or switch here; `serving` is its last
  // deployment that succeeded, `instances` the greens the cloud launched (of the running
  // deployment, else of that one).
  bool cloud = false;
  Provider provider = Provider::local;  // a cloud group's: its deployments' PROVIDER
  std::string listen;
  // Set while LISTEN cannot be bound: "listener 127.0.0.1:8080 not bound yet: …; retrying".
  std::optional<std::string> listen_error;
  std::optional<std::string> preview_listen;
  std::optional<std::string> routed_fleet;  // where the service's requests go now
  std::optional<Deployment> serving;        // the deployment whose fleet serves
  std::optional<Deployment> running;        // the deployment in progress, if any
  std::vector<Instance> instances;          // live instances of every fleet of the group
  std::vector<FleetTraffic> traffic;
  std::optional<TrafficSplit> split;  // a traffic step in effect: this share to another fleet
  // Percent of new requests each fleet gets now: the routed fleet 100, or 100 minus the split
  // and the split's fleet its percent.
  std::vector<std::pair<std::string, int>> weights() const {
    std::vector<std::pair<std::string, int>> out;
    if (!routed_fleet) return out;
    if (split && split->fleet_id != *routed_fleet) {
      out.emplace_back(*routed_fleet, 100 - split->percent);
      out.emplace_back(split->fleet_id, split->percent);
    } else {
      out.emplace_back(*routed_fleet, 100);
    }
    return out;
  }
};

// The error code (Error::code, and "code" in the admin API's error answer) of the refusal a
// server gives while it has not yet resumed the deployments it was running (recover_first):
// a client may ask again in a moment.
inline constexpr std::string_view kStartingCode = "starting";
// The error code of the conflict a deployment gets when its GROUP_ID names a group of another
// kind (local against cloud, or another cloud provider's): unlike a running deployment's
// conflict, waiting does not end it.
inline constexpr std::string_view kNameTakenCode = "group_name_taken";

class DeploymentService {
 public:
  explicit DeploymentService(ServiceDeps deps);
  // Waits for running deployments to end. After abandon() the process must exit instead
  // (std::_Exit), since the abandoned workers still use the service.
  ~DeploymentService();
  DeploymentService(const DeploymentService&) = delete;
  DeploymentService& operator=(const DeploymentService&) = delete;

  // Reads the journal back after a start; see the rules above. Problems with one group are
  // logged and do not stop the others. Errors (nothing is terminated then): unavailable (the
  // journal cannot be read), failed (live instances of fleets the journal has no record of, or
  // live processes of instances the journal names whose directories are missing).
  Result<void> recover();

  // Validates the request against the group and starts the deployment on a worker thread;
  // returns its first record. Errors: unavailable (ServiceDeps::recover_first, and recover()
  // has not run yet), conflict (a deployment of the group runs, or its GROUP_ID names a group
  // of another kind), invalid_input (a GROUP_ID that prints like another; a provider this
  // server does not run; LISTEN or PREVIEW_LISTEN unusable; a PROVIDER elastigroup spec the
  // Elastigroup provider refuses, naming the key). A refused request leaves nothing in the
  // journal.
  Result<Deployment> start_deployment(DeploymentSpec spec, std::string started_by);
  Result<Deployment> promote(const Selector& selector, const std::string& by);
  Result<Deployment> roll_back(const Selector& selector, const std::string& by);
  // Whether a flow of this server runs the deployment now, so that promote() and roll_back()
  // can reach it. False for one that ended, one that resumes once its LISTEN is bound, and a
  // cloud one a restart could not resume: its record says running, and both refuse it.
  bool takes_requests(const std::string& deployment_id) const;

  Result<Deployment> deployment(const std::string& id) const;
  Result<std::vector<Deployment>> deployments(const std::string& group = "") const;
  Result<std::vector<DeploymentEvent>> events(const std::string& deployment_id) const;
  std::vector<GroupStatus> status() const;

  // Blocks until no deployment runs (tests and shutdown use it).
  void wait_idle();
  // Ends everything: rolls back running deployments, waits for them, terminates every
  // instance of every group (recorded, so the next start restores the serving revision)
  // and stops the switches. Returns how many instances were terminated.
  int shutdown();
  // Stops the switches and lets running deployments go without waiting for them; the
  // journal lets the next start resume them. For a process about to exit.
  void abandon();

 private:
  struct Running {
    std::string deployment_id;
    std::shared_ptr<Inbox> inbox;
  };
  struct Resumable {
    Deployment deployment;
    std::optional<std::string> routed_fleet;
  };
  struct Group {
    std::string id;
    std::unique_ptr<GroupTraffic> traffic;
    std::string pending_listen;        // while traffic is null: the LISTEN being retried
    std::string listen_error;          // why it could not be bound the last time
    std::optional<BlueFleet> serving;  // the fleet that serves when no deployment runs
    std::optional<Running> running;
    std::optional<Resumable> deferred;  // resumed once the listener is bound
    // A restart's restore of a group whose serving fleet is gone, started once the listener is
    // bound (unless a deployment of the group starts first).
    std::optional<Deployment> restore;
  };

  // mutex_ held. With `keep_pending`, a LISTEN that cannot be bound leaves the group without
  // traffic and retried in the background instead of failing.
  Result<Group*> group_for(const DeploymentSpec& spec, bool keep_pending = false);
  // mutex_ held. Starts a restart's restore of `group` (its listener bound).
  void start_restore(Group& group, Deployment restore);
  // mutex_ held. Installs a bound listener: records its address, routes the serving fleet.
  void attach(Group& group, std::unique_ptr<GroupTraffic> traffic);
  std::string address_for(const DeploymentSpec& spec) const;  // mutex_ held
  // mutex_ held. Drops a group nothing serves on and nothing deploys to, with its listener.
  void forget_if_empty(const std::string& group_id);
  static bool group_is_empty(const Group& group);
  // The group other than `except` whose listener (LISTEN, pending LISTEN or PREVIEW_LISTEN)
  // is `address`, so that a refused LISTEN names who holds it. mutex_ held.
  std::optional<std::string> group_listening_on(const std::string& address,
                                                const std::string& except) const;
  void retry_listeners(std::stop_token stop);
  void stop_retrying();
  Result<Deployment> select(const Selector& selector) const;
  std::shared_ptr<Inbox> inbox_of(const std::string& deployment_id) const;
  // Posts `request` to the selected deployment if `acted_on_now` says it would act on it.
  Result<Deployment> pass_on(const Selector& selector, InputEvent request,
                             Result<void> (*acted_on_now)(const Deployment&));
  Result<void> untracked_processes(const std::map<std::string, std::string>& serving,
                                   const std::vector<Deployment>& running,
                                   const std::map<std::string, Instance>& live) const;
  void launch_worker(Deployment deployment, bool resume,
                     std::optional<std::string> routed_fleet = std::nullopt);
  void finished(const Deployment& deployment);

  // A cloud group: its running deployment (the lock) and its last successful one.
  struct CloudGroup {
    Provider provider = Provider::elastigroup;  // its deployments' PROVIDER
    std::optional<std::string> running;
    std::optional<std::string> serving;
    std::shared_ptr<std::atomic<bool>> stop;  // asks the running flow to hand over and end
    std::shared_ptr<Inbox> inbox;             // promote and rollback requests of the running one
  };
  Result<Deployment> start_cloud_deployment(DeploymentSpec spec, std::string started_by);
  // mutex_ held.
  void launch_cloud_worker(Deployment deployment, std::shared_ptr<FleetProvider> provider,
                           bool resumed);
  void cloud_finished(const Deployment& deployment);
  void resume_cloud(Deployment deployment);  // mutex_ held
  void stop_cloud_runs();                    // mutex_ held
  // The conflict error of a deployment of `spec` whose GROUP_ID names a group of another kind
  // (local against cloud, or another cloud provider's); none when the name is free for it.
  // mutex_ held.
  std::optional<Error> name_taken(const DeploymentSpec& spec) const;
  // The conflict error of a deployment refused because `running_id` runs on `where`.
  std::unexpected<Error> busy(const std::string& running_id, const std::string& where,
                              std::string_view what_to_do) const;

  ServiceDeps deps_;
  mutable std::mutex mutex_;
  bool recovered_ = false;  // recover() has run
  std::condition_variable idle_;
  std::map<std::string, Group> groups_;
  std::map<std::string, CloudGroup> cloud_groups_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;  // finished ones are joined when the next one starts
  int running_count_ = 0;
  std::map<std::string, std::string> recorded_listeners_;  // group -> bound LISTEN address
  std::condition_variable_any retry_wake_;
  bool retrying_ = false;
  std::jthread listener_retry_;  // last: stopped before anything it uses goes away
};

}  // namespace bluegreen
