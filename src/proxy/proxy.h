// Proxy: the built-in traffic switch, an HTTP/1.1 reverse proxy that implements the engine's
// Traffic port. It is three parts: RoutingPolicy (which fleet each listener serves),
// UpstreamPool (the instances of one fleet and their connections), and the forwarder (moves
// requests and responses; see forwarder.h). This class owns them and the threads.
//
// Semantics the engine can rely on:
// - route() is atomic and per request: every request that starts after it returns goes to the
//   new fleet, including the next request on a keep-alive connection; requests in flight
//   finish on the fleet they started on. Rolling back is the same call with the old fleet.
// - split() is a traffic step: each request that starts after it draws its fleet with the
//   given weights (so a keep-alive connection is re-balanced between its requests); route()
//   ends it, so rolling back a step is one atomic call that puts every new request on blue.
// - Upgraded connections (WebSocket) and long responses (SSE, chunked streams) stay on their
//   fleet until they end or drain() reaches its deadline; then they are closed (a WebSocket
//   client first receives a Close frame, 1001 "going away").
// - A fleet that no listener routes to keeps no idle connections: they close at the switch,
//   and the others as their requests end. drain() waits for that.
// - Each listener holds at most ProxyOptions::max_connections client connections; more wait
//   in the kernel's backlog and cost the server no file descriptor. A failed accept pauses
//   that listener (10 ms doubling to 1 s) instead of retrying at once. A client that sends no
//   complete request head within header_timeout (idle_timeout between requests) is closed.
// - Answers of the proxy itself: 400/431/501/505 for refused requests, 408 for slow heads,
//   502 when an instance fails, 503 when the routed fleet has no healthy instance (the body
//   names the fleet), 504 when an instance does not answer in time.
//
// Threading: start() spawns ProxyOptions::worker_threads threads. Every public method is
// thread-safe and may be called from any thread except the proxy's own workers. drain() and
// stop() block.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "engine/ports.h"
#include "proxy/address_set.h"
#include "proxy/proxy_options.h"

namespace bluegreen::proxy {

class RoutingPolicy;
class Worker;
struct ListenerSocket;

class Proxy final : public Traffic {
 public:
  // Binds the listener(s) and starts the workers. Fails (unavailable, invalid_input) when an
  // address cannot be parsed or bound. `clock` (default: the system clock) is what drain()
  // reads its deadline against and sleeps with; it must outlive the proxy.
  static Result<std::unique_ptr<Proxy>> start(const ProxyOptions& options, Clock* clock = nullptr);
  ~Proxy() override;  // stop()
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // The main listener's bound port (useful with port 0).
  int port() const;
  // Opens (or moves) the preview listener; returns its bound port.
  Result<int> listen_preview(const std::string& address);
  void stop_preview();
  std::optional<int> preview_port() const;
  // Names the fleet's role for error answers: label_fleet("d-42", "green") makes a 503 say
  // "no healthy instance in the green fleet d-42".
  void label_fleet(const std::string& fleet_id, std::string label);
  // Failed accepts (out of file descriptors or memory) since start, on every listener. Each
  // is followed by a pause (10 ms, doubling up to 1 s, back to 10 ms after a success).
  std::uint64_t accept_errors() const;
  // Stops accepting, lets requests in flight finish for up to drain_timeout, closes the rest
  // and joins the workers. Idempotent.
  void stop();

  // ---- Traffic ----
  // Instances in state terminated or unhealthy are left out; the others are used, and one
  // that refuses connections is skipped for failed_instance_retry.
  void register_fleet(const std::string& fleet_id, const std::vector<Instance>& instances) override;
  void remove_fleet(const std::string& fleet_id) override;
  void route(const std::string& fleet_id) override;
  // Opens idle keep-alive connections to the fleet's instances, as many as the fleet serving
  // now holds open, paced so that a short listen backlog takes them all; waits for them up to
  // connect_timeout. Requests after route(fleet_id) then find a connection waiting instead of
  // all connecting at once (see warm_up.h). Nothing when the fleet already serves.
  void warm(const std::string& fleet_id) override;
  // Connections opened by warm() since start.
  std::size_t warmed_connections() const { return warmed_connections_.load(); }
  void preview(std::optional<std::string> fleet_id) override;
  std::optional<std::string> routed_fleet() const override;
  void split(const TrafficSplit& split) override;
  std::optional<TrafficSplit> traffic_split() const override;
  // If a listener routes to the fleet again when the deadline comes (a rollback during the
  // drain), nothing is closed.
  int drain(const std::string& fleet_id, TimePoint deadline) override;
  std::vector<FleetTraffic> stats() const override;

 private:
  Proxy(const ProxyOptions& options, AddressSet trusted_proxies, Clock* clock);
  Result<std::shared_ptr<ListenerSocket>> open_listener(const std::string& address, int kind);

  const ProxyOptions options_;
  const AddressSet trusted_proxies_;  // parsed options_.trusted_proxies
  std::unique_ptr<Clock> own_clock_;
  Clock& clock_;
  std::unique_ptr<RoutingPolicy> policy_;  // outlives the workers (declared before them)
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex listeners_mutex_;
  std::shared_ptr<ListenerSocket> main_listener_;
  std::shared_ptr<ListenerSocket> preview_listener_;
  std::uint64_t retired_accept_errors_ = 0;  // of preview listeners closed since
  bool stopped_ = false;
  std::atomic<std::size_t> warmed_connections_{0};
};

}  // namespace bluegreen::proxy
