// DeploymentService: what `bluegreen server` does, without HTTP. It owns the local groups
// (one traffic switch each, listening on the group's LISTEN), starts deployments on worker
// threads (one Executor each), passes promote and rollback requests to them, answers
// questions from the journal, and brings everything back after a restart.
//
// Rules it enforces:
// - One deployment per group at a time: a second gets a conflict error naming the running one.
// - A group keeps its LISTEN address while a fleet serves on it.
// - After a restart: the serving fleet of each group is re-adopted and routed again; a
//   deployment that was running is resumed (the state machine decides whether it carries on
//   or cleans up); instances on disk that nobody wants are terminated; a group whose serving
//   fleet is gone (the server stopped its instances, or the machine rebooted) is restored by
//   deploying the same revision again.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/store/sqlite_journal.h"
#include "engine/executor.h"
#include "frontends/server/live_log.h"

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
};

struct ServiceDeps {
  Fleet& fleet;
  FleetRecovery recovery;
  RevisionFetcher& fetcher;
  Installer& installer;
  HealthProbe& probe;
  Clock& clock;
  SqliteJournal& journal;
  LiveLog& log;
  OpenGroupTraffic open_traffic;
  std::filesystem::path bundles_dir;
  // Test hook (crash_hook.h): the server kills itself when a deployment enters this phase.
  std::optional<Phase> crash_at_phase = std::nullopt;
};

// Names a deployment: by id, or the running (else latest) deployment of a group, or, with
// neither, the only running deployment.
struct Selector {
  std::string deployment_id;
  std::string group;
};

struct GroupStatus {
  std::string group;
  std::string listen;
  std::optional<std::string> preview_listen;
  std::optional<std::string> routed_fleet;  // where the service's requests go now
  std::optional<Deployment> serving;        // the deployment whose fleet serves
  std::optional<Deployment> running;        // the deployment in progress, if any
  std::vector<Instance> instances;          // live instances of every fleet of the group
  std::vector<FleetTraffic> traffic;
};

class DeploymentService {
 public:
  explicit DeploymentService(ServiceDeps deps);
  // Waits for running deployments to end. After abandon() the process must exit instead
  // (std::_Exit), since the abandoned workers still use the service.
  ~DeploymentService();
  DeploymentService(const DeploymentService&) = delete;
  DeploymentService& operator=(const DeploymentService&) = delete;

  // Reads the journal back after a start; see the rules above. Problems with one group are
  // logged and do not stop the others.
  void recover();

  // Validates the request against the group and starts the deployment on a worker thread;
  // returns its first record. Errors: conflict (a deployment of the group runs), invalid_input
  // (a provider this server does not run; LISTEN or PREVIEW_LISTEN unusable).
  Result<Deployment> start_deployment(DeploymentSpec spec, std::string started_by);
  Result<Deployment> promote(const Selector& selector, const std::string& by);
  Result<Deployment> roll_back(const Selector& selector, const std::string& by);

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
  struct Group {
    std::string id;
    std::unique_ptr<GroupTraffic> traffic;
    std::optional<BlueFleet> serving;  // the fleet that serves when no deployment runs
    std::optional<Running> running;
  };

  Result<Group*> group_for(const DeploymentSpec& spec);  // mutex_ held
  Result<Deployment> select(const Selector& selector) const;
  std::shared_ptr<Inbox> inbox_of(const std::string& deployment_id) const;
  // Posts `request` to the selected deployment if `acted_on_now` says it would act on it.
  Result<Deployment> pass_on(const Selector& selector, InputEvent request,
                             Result<void> (*acted_on_now)(const Deployment&));
  void launch_worker(Deployment deployment, bool resume);
  void finished(const Deployment& deployment);

  ServiceDeps deps_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::map<std::string, Group> groups_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;  // finished ones are joined when the next one starts
  int running_count_ = 0;
};

}  // namespace bluegreen
