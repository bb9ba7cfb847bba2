// Ports: the narrow interfaces through which the engine touches the world. Each has a real
// implementation in src/adapters (or src/proxy) and a fake for tests. The engine never
// includes an adapter header; the frontends wire real implementations in.
//
// Colours are roles within one deployment: blue is the fleet that served when the deployment
// started, green the fleet it creates. A fleet is named by the id of the deployment that
// created it, so after a successful deployment the green fleet is simply the fleet that serves,
// and it is the blue of the next deployment.
//
// Colour, InstanceState, Instance and HookResult live in core/instance.h (the deployment
// record holds them) and are part of this header's vocabulary.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/deployment.h"
#include "core/error.h"
#include "core/instance.h"
#include "core/spec.h"

namespace bluegreen {

struct LaunchRequest {
  std::string fleet_id;
  int count = 1;
  std::map<std::string, std::string> tags;
  // How the instances run (the deployment's resolved ISOLATION) and, with namespaces, the
  // port their app listens on inside each (APP_PORT).
  Isolation isolation = Isolation::none;
  int app_port = 80;
};

// Launches, lists and terminates instances.
class Fleet {
 public:
  virtual ~Fleet() = default;
  virtual Result<std::vector<Instance>> launch(const LaunchRequest& request) = 0;
  virtual std::vector<Instance> list() const = 0;
  // Stops every process of each instance, including ones its hooks detached, and removes it
  // from list(). Terminating an unknown or terminated instance succeeds.
  virtual Result<void> terminate(const std::vector<std::string>& instance_ids) = 0;
};

// Where a revision was unpacked on this machine; `root` holds appspec.yml.
struct Bundle {
  std::filesystem::path root;
  std::string description;  // what was fetched, for logs ("local:/path", "s3://b/k (zip)")
  // What the CodeDeploy agent tells hooks about the revision's origin, set by the fetcher:
  // BUNDLE_BUCKET, BUNDLE_KEY, BUNDLE_VERSION, BUNDLE_ETAG (S3); BUNDLE_COMMIT (GitHub, git).
  std::map<std::string, std::string> environment;
};

// Fetches a revision and unpacks it into `destination` (an empty directory it owns).
class RevisionFetcher {
 public:
  virtual ~RevisionFetcher() = default;
  virtual Result<Bundle> fetch(const RevisionSource& revision,
                               const std::filesystem::path& destination, TimePoint deadline) = 0;
};

struct LifecycleContext {
  std::string deployment_id;
  std::string application_name;
  std::string deployment_group_name;
  std::string deployment_group_id;
  // When set, called as each hook script starts (`ended` false: only the instance, event and
  // script are known) and again with its result as it ends, from the installer's threads
  // (possibly several at once). It must return quickly.
  std::function<void(const HookResult& hook, bool ended)> on_hook;
};

// Runs appspec.yml lifecycle events on instances, as the CodeDeploy agent would.
class Installer {
 public:
  virtual ~Installer() = default;
  // Runs `events` in order on each instance (instances may run in parallel). Stops at the
  // first failing hook; the error names the event, the instance and the output tail. Every
  // hook result, passed or failed, is appended to `results`.
  virtual Result<void> run(const Bundle& bundle, const std::vector<Instance>& instances,
                           const std::vector<std::string>& events, const LifecycleContext& context,
                           TimePoint deadline, std::vector<HookResult>& results) = 0;
};

// One HTTP health check of one instance. Thread-safe: the health gate probes instances in
// parallel.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  // Succeeds on a 2xx answer to GET `path` before `deadline`; otherwise says what it saw.
  // A message about an answer other than 2xx ends with "answered <status>", one about a
  // connection nothing accepted with "connection refused" (the health gate tells a wrong
  // HEALTH_CHECK_PATH or PORT by them).
  virtual Result<void> check(const Instance& instance, const std::string& path,
                             TimePoint deadline) = 0;
};

struct FleetTraffic {
  std::string fleet_id;
  long long active_connections = 0;  // client connections currently bound to this fleet
  long long active_requests = 0;     // requests in flight
  long long requests_total = 0;
  long long errors_total = 0;
  // Answers of the fleet's instances with a 5xx status (errors_total counts the proxy's own
  // 502/503/504 and broken transfers instead).
  long long server_errors_total = 0;
  // Waits for an instance's answer (a response head, from the end of the request) begun and
  // ended (answered or failed). Waits begun by one moment and not ended by a later one have
  // gone unanswered for all the time between: a fleet that hangs shows there, not in the
  // latency histogram.
  long long answer_waits_total = 0;
  long long answer_waits_ended_total = 0;
  // How long requests took, from the request head to the end of the answer, as a histogram:
  // latency_counts[i] counts requests that took at most kLatencyBounds[i] seconds (and more
  // than the bound before it); the last count is for the slower ones.
  static constexpr std::array<double, 11> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};
  std::array<long long, kLatencyBounds.size() + 1> latency_counts{};
  double latency_seconds_sum = 0;
};

// A traffic step: `percent` of the new requests (and so of new connections) go to `fleet_id`,
// the rest to the routed fleet.
struct TrafficSplit {
  std::string fleet_id;
  int percent = 0;  // 1..99
};

// The traffic switch (the built-in proxy).
class Traffic {
 public:
  virtual ~Traffic() = default;
  // Makes a fleet's instances known (replacing any earlier list for that fleet).
  virtual void register_fleet(const std::string& fleet_id,
                              const std::vector<Instance>& instances) = 0;
  virtual void remove_fleet(const std::string& fleet_id) = 0;
  // Atomically routes every request that starts after this call to `fleet_id`.
  virtual void route(const std::string& fleet_id) = 0;
  // Called just before route(fleet_id): the switch may prepare (open connections to the
  // fleet's instances) so that the first requests after it do not wait. May block briefly.
  virtual void warm(const std::string& /*fleet_id*/) {}
  // The fleet served on the preview listener (none: the preview listener answers 503).
  virtual void preview(std::optional<std::string> fleet_id) = 0;
  virtual std::optional<std::string> routed_fleet() const = 0;
  // Sends `split.percent` of every request that starts after this call to `split.fleet_id`
  // and the rest to routed_fleet(). Each request draws on its own, so a keep-alive
  // connection's next request follows the current weights; a stream (WebSocket, SSE) stays on
  // the fleet it started on. route() ends the split (every new request to one fleet).
  virtual void split(const TrafficSplit& split) = 0;
  // The split in effect; none when every new request goes to routed_fleet().
  virtual std::optional<TrafficSplit> traffic_split() const = 0;
  // Waits until `fleet_id` holds no request or connection, or `deadline`; then closes what is
  // left. Returns how many connections had to be closed at the deadline.
  virtual int drain(const std::string& fleet_id, TimePoint deadline) = 0;
  virtual std::vector<FleetTraffic> stats() const = 0;
};

// Persists deployments, so that history, the serving fleet of each group and deployments
// interrupted by a restart survive the server. The executor writes through it from the
// deployment's worker thread; the deployment service (engine/deployment_service.h) reads it
// back to answer questions and to recover after a restart. Implementations are thread-safe.
class Journal {
 public:
  virtual ~Journal() = default;
  // Stores the whole record (replacing the earlier one with the same id), atomically.
  virtual Result<void> save(const Deployment& deployment) = 0;
  // Appends one line of the deployment's log.
  virtual Result<void> append(const DeploymentEvent& event) = 0;
  // Records which fleet now receives the group's traffic.
  virtual Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) = 0;
  // Records the address a group's LISTEN is bound to (the port actually bound, also for
  // port 0), so that a restart listens where the service was.
  virtual Result<void> set_listener(const std::string& group_id, const std::string& address) = 0;

  // Every deployment, newest first (by creation time, then by when it was first saved);
  // `group` limits them to one group.
  virtual Result<std::vector<Deployment>> deployments(const std::string& group = "") const = 0;
  // The last record saved with this id; none when there is none.
  virtual Result<std::optional<Deployment>> deployment(const std::string& id) const = 0;
  // Deployments whose last record says they were still running, newest first.
  virtual Result<std::vector<Deployment>> running() const = 0;
  // The log of one deployment, oldest first.
  virtual Result<std::vector<DeploymentEvent>> events(const std::string& deployment_id) const = 0;
  // group id -> the fleet that receives its traffic.
  virtual Result<std::map<std::string, std::string>> serving() const = 0;
  // group id -> its bound LISTEN address.
  virtual Result<std::map<std::string, std::string>> listeners() const = 0;
};

// Passes every call on to another journal; a test or hook derives from it and overrides
// the calls it changes (a write that fails as on a full disk).
class JournalWrapper : public Journal {
 public:
  explicit JournalWrapper(Journal& target) : target_(target) {}
  Result<void> save(const Deployment& deployment) override { return target_.save(deployment); }
  Result<void> append(const DeploymentEvent& event) override { return target_.append(event); }
  Result<void> set_serving(const std::string& group_id, const std::string& fleet_id) override {
    return target_.set_serving(group_id, fleet_id);
  }
  Result<void> set_listener(const std::string& group_id, const std::string& address) override {
    return target_.set_listener(group_id, address);
  }
  Result<std::vector<Deployment>> deployments(const std::string& group = "") const override {
    return target_.deployments(group);
  }
  Result<std::optional<Deployment>> deployment(const std::string& id) const override {
    return target_.deployment(id);
  }
  Result<std::vector<Deployment>> running() const override { return target_.running(); }
  Result<std::vector<DeploymentEvent>> events(const std::string& deployment_id) const override {
    return target_.events(deployment_id);
  }
  Result<std::map<std::string, std::string>> serving() const override { return target_.serving(); }
  Result<std::map<std::string, std::string>> listeners() const override {
    return target_.listeners();
  }

 private:
  Journal& target_;
};

// Receives what a deployment does as it happens: each event, and the record after each step
// (for live views). Called from the deployment's worker thread; must not block for long.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void publish(const DeploymentEvent& event) = 0;
  virtual void update(const Deployment& deployment) = 0;
};

}  // namespace bluegreen
