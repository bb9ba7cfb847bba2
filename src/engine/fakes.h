// In-memory fakes of every port, for tests of the engine and of whatever drives it. They do
// what the real thing would do in the simplest way that a test can observe and steer
// (knobs below each class). All are thread-safe. None sleeps: time moves only through the
// FakeClock a test hands in.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/deployment_service.h"
#include "engine/ports.h"

namespace bluegreen {

// A valid local DeploymentSpec for tests: group "web", application "hello", deployment
// group "dg", TIMEOUT 30, LOCAL_PATH /srv/hello, HEALTH_CHECK_INTERVAL 1,
// BLUE_TERMINATION_WAIT 60; `overrides` (UserParameters keys) replace or add to these.
DeploymentSpec test_spec(const nlohmann::json& overrides = nlohmann::json::object());

class FakeFleet : public Fleet {
 public:
  Result<std::vector<Instance>> launch(const LaunchRequest& request) override;
  std::vector<Instance> list() const override;
  Result<void> terminate(const std::vector<std::string>& instance_ids) override;

  // Makes instances known as if launched earlier (a restarted server re-adopting them).
  void adopt(const std::vector<Instance>& instances);
  std::vector<std::string> terminated() const;

  // Knobs.
  void fail_launches(std::optional<Error> error);
  // The next launch starts this many instances and then fails, as a half-done launch would.
  void fail_launch_after(int started);

 private:
  mutable std::mutex mutex_;
  int next_id_ = 1;
  std::map<std::string, Instance> live_;
  std::vector<std::string> terminated_;
  std::optional<Error> launch_error_;
  std::optional<int> fail_after_;
};

class FakeFetcher : public RevisionFetcher {
 public:
  Result<Bundle> fetch(const RevisionSource& revision, const std::filesystem::path& destination,
                       TimePoint deadline) override;
  void fail_with(std::optional<Error> error);
  int calls() const;

 private:
  mutable std::mutex mutex_;
  std::optional<Error> error_;
  int calls_ = 0;
};

class FakeInstaller : public Installer {
 public:
  // Each hook takes `hook_duration` on `clock` (if given), so tests can run past deadlines.
  explicit FakeInstaller(FakeClock* clock = nullptr, Duration hook_duration = Duration(0))
      : clock_(clock), hook_duration_(hook_duration) {}

  Result<void> run(const Bundle& bundle, const std::vector<Instance>& instances,
                   const std::vector<std::string>& events, const LifecycleContext& context,
                   TimePoint deadline, std::vector<HookResult>& results) override;

  // "instance:event" for every hook run, in order.
  std::vector<std::string> ran() const;
  // Makes `event` fail (exit 1, or killed at its timeout) on every instance.
  void fail_event(std::string event, bool time_out = false);

 private:
  mutable std::mutex mutex_;
  FakeClock* clock_;
  Duration hook_duration_;
  std::vector<std::string> ran_;
  std::string fail_event_;
  bool time_out_ = false;
};

class FakeHealthProbe : public HealthProbe {
 public:
  Result<void> check(const Instance& instance, const std::string& path,
                     TimePoint deadline) override;
  // The instance answers unhealthy this many times before it turns healthy; -1: never.
  void unhealthy_for(const std::string& instance_id, int checks);
  void all_unhealthy(bool unhealthy);
  int checks() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> unhealthy_left_;
  bool all_unhealthy_ = false;
  int checks_ = 0;
};

class FakeTraffic : public Traffic {
 public:
  void register_fleet(const std::string& fleet_id, const std::vector<Instance>& instances) override;
  void remove_fleet(const std::string& fleet_id) override;
  void route(const std::string& fleet_id) override;
  void preview(std::optional<std::string> fleet_id) override;
  std::optional<std::string> routed_fleet() const override;
  void split(const TrafficSplit& split) override;
  std::optional<TrafficSplit> traffic_split() const override;
  int drain(const std::string& fleet_id, TimePoint deadline) override;
  std::vector<FleetTraffic> stats() const override;

  std::optional<std::string> previewed_fleet() const;
  std::vector<std::string> routes() const;  // every route() and split() call, in order
                                            // (a split as "<fleet>@<percent>")
  std::set<std::string> fleets() const;     // registered fleets
  // Connections a drain of this fleet finds still open at its deadline.
  void stuck_connections(int count);
  // What stats() reports: `counters(n)` for its n-th call (from 0), instead of zeros.
  void report_stats(std::function<std::vector<FleetTraffic>(int)> counters);

 private:
  mutable std::mutex mutex_;
  std::optional<std::string> routed_;
  std::optional<std::string> preview_;
  std::vector<std::string> routes_;
  std::optional<TrafficSplit> split_;
  std::function<std::vector<FleetTraffic>(int)> counters_;
  mutable int stats_calls_ = 0;
  std::map<std::string, std::vector<Instance>> fleets_;
  int stuck_ = 0;
};

// A group's listener as DeploymentService sees it, over a FakeTraffic: `listen` is the address
// it reports as bound; the preview listener opens wherever it is asked.
class FakeGroupTraffic final : public GroupTraffic {
 public:
  FakeGroupTraffic(FakeTraffic& traffic, std::string listen)
      : traffic_(traffic), listen_(std::move(listen)) {}
  Traffic& traffic() override { return traffic_; }
  std::string address() const override { return listen_; }
  Result<std::string> listen_preview(const std::string& address) override {
    preview_ = address;
    return address;
  }
  std::optional<std::string> preview_address() const override { return preview_; }
  void label(const std::string&, const std::string&) override {}
  void stop() override {}

 private:
  FakeTraffic& traffic_;
  std::string listen_;
  std::optional<std::string> preview_;
};

// Keeps every record, event, serving fleet and listener address in memory and answers the
// reads from them as a real journal does from its file (order included). A test that
// "restarts" keeps the same MemoryJournal; one that loses the journal makes a new one.
class MemoryJournal : public Journal {
 public:
  Result<void> save(const Deployment& deployment) override;
  Result<void> append(const DeploymentEvent& event) override;
  Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) override;
  Result<void> set_listener(const std::string& group_id, const std::string& address) override;

  Result<std::vector<Deployment>> deployments(const std::string& group = "") const override;
  Result<std::optional<Deployment>> deployment(const std::string& id) const override;
  Result<std::vector<Deployment>> running() const override;
  Result<std::vector<DeploymentEvent>> events(const std::string& deployment_id) const override;
  Result<std::map<std::string, std::string>> serving() const override;
  Result<std::map<std::string, std::string>> listeners() const override;

  std::optional<Deployment> saved(const std::string& deployment_id) const;
  // Every event of every deployment, in the order appended.
  std::vector<DeploymentEvent> events() const;
  std::optional<std::string> serving(const std::string& group_id) const;
  int saves() const;

 private:
  struct Stored {
    Deployment deployment;
    int first_saved;  // order of first saves: the journal's tie-break between equal times
  };
  // Those `keep` accepts, newest first. mutex_ held.
  std::vector<Deployment> newest_first(const std::function<bool(const Deployment&)>& keep) const;

  mutable std::mutex mutex_;
  std::map<std::string, Stored> deployments_;
  std::vector<DeploymentEvent> events_;
  std::map<std::string, std::string> serving_;
  std::map<std::string, std::string> listeners_;
  int saves_ = 0;
};

class RecordingSink : public EventSink {
 public:
  void publish(const DeploymentEvent& event) override;
  void update(const Deployment& deployment) override;
  std::vector<DeploymentEvent> events() const;
  int updates() const;
  // Called (outside the lock) with every record, e.g. to post a request at a given phase.
  void on_update(std::function<void(const Deployment&)> callback);

 private:
  mutable std::mutex mutex_;
  std::vector<DeploymentEvent> events_;
  int updates_ = 0;
  std::function<void(const Deployment&)> on_update_;
};

// Holds every caller of hold() until release(), so that a test can look at a deployment while
// it waits inside a port: a port's fake or wrapper derives from it and holds in its calls.
class Gate {
 public:
  void hold();             // blocks until release() (at once after it)
  void wait_until_held();  // blocks until some call is held
  void release();          // lets every held and later call go on

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool released_ = false;
};

}  // namespace bluegreen
