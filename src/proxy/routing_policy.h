// RoutingPolicy: which fleet each listener serves, and the fleets the proxy knows. It decides;
// it moves no bytes and opens no sockets.
//
// A switch publishes a new immutable Routes snapshot and bumps a generation counter. Each
// worker compares the counter at the start of every request (one atomic load) and refreshes
// its copy when it moved, so a request reads its route exactly once: requests that started
// before a switch finish where they started, every later one goes to the new fleet, and
// requests take no lock. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/upstream_pool.h"

namespace bluegreen::proxy {

enum class Listener { main, preview };

// What one listener serves at one moment.
struct Route {
  std::string fleet_id;                // empty: nothing is routed here
  std::shared_ptr<UpstreamPool> pool;  // null when `fleet_id` is empty or not registered
  std::string description;             // for error answers: "green fleet d-42", "fleet d-42"
};

struct Routes {
  Route main;
  Route preview;
  // A traffic step on the main listener: `split_percent` of its requests go to `split`.
  Route split;
  int split_percent = 0;
  const Route& of(Listener listener) const { return listener == Listener::main ? main : preview; }
  // The route of one new request on `listener`, given `draw`, uniform in 0..99.
  const Route& pick(Listener listener, int draw) const {
    if (listener == Listener::main && split.pool && draw < split_percent) return split;
    return of(listener);
  }
  // True when some listener still sends new requests to `pool`.
  bool serves(const UpstreamPool* pool) const {
    return pool != nullptr &&
           (main.pool.get() == pool || preview.pool.get() == pool || split.pool.get() == pool);
  }
};

class RoutingPolicy {
 public:
  explicit RoutingPolicy(PoolOptions pool_options);

  // Creates the fleet's pool, or updates its instances if it exists.
  std::shared_ptr<UpstreamPool> register_fleet(const std::string& fleet_id,
                                               std::vector<std::shared_ptr<Endpoint>> endpoints);
  // Forgets the fleet; its pool lives on while requests still use it (see pools()).
  void remove_fleet(const std::string& fleet_id);
  // A word for error answers, e.g. "blue" or "green": "no healthy instance in the green fleet".
  void label_fleet(const std::string& fleet_id, std::string label);

  // Routing the main listener ends any split.
  void route(Listener listener, std::optional<std::string> fleet_id);
  std::optional<std::string> routed_fleet(Listener listener) const;
  // Sends `percent` (0..100) of the main listener's new requests to `fleet_id`, the rest to
  // its routed fleet; none ends the split.
  void split(std::optional<std::string> fleet_id, int percent);
  // The split fleet and its percent; none when there is no split.
  std::optional<std::pair<std::string, int>> split() const;

  // The pool of a registered fleet, or of a removed one that is still in use; null otherwise.
  std::shared_ptr<UpstreamPool> find(const std::string& fleet_id) const;
  // Registered pools and removed ones still in use.
  std::vector<std::shared_ptr<UpstreamPool>> pools() const;

  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const Routes> snapshot() const;

 private:
  void publish();  // with mutex_ held
  Route resolve(const std::optional<std::string>& fleet_id) const;

  const PoolOptions pool_options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<UpstreamPool>> fleets_;
  std::map<std::string, std::weak_ptr<UpstreamPool>> removed_;
  std::map<std::string, std::string> labels_;
  std::optional<std::string> main_fleet_;
  std::optional<std::string> preview_fleet_;
  std::optional<std::string> split_fleet_;
  int split_percent_ = 0;
  std::shared_ptr<const Routes> routes_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace bluegreen::proxy
