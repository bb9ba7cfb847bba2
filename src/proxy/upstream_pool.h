// UpstreamPool: the instances of one fleet and the connections to them. It answers "which
// instance serves the next request" (round robin over the healthy ones) and keeps idle
// keep-alive connections for reuse.
//
// Health is passive: an instance that refuses a connection (or does not accept one in time)
// sits out for `failed_instance_retry`, then gets requests again. Active health checks are the
// engine's job (HealthProbe); the pool only reacts to what requests see.
//
// Threading: the proxy runs N workers, each on its own thread. The pool keeps one Slot per
// worker (idle connections, round-robin position, counters) that only that worker touches, so
// requests take no lock. set_endpoints(), stats() and idle() may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/ports.h"
#include "proxy/byte_buffer.h"

namespace bluegreen::proxy {

// Monotonic nanoseconds, coarse (a few ms): cheap enough to read on every request.
std::int64_t monotonic_ns();

struct Endpoint {
  std::string instance_id;
  boost::asio::ip::tcp::endpoint address;
  // Not empty: the instance's socket channel (infra/process/socket_channel.h); each connection
  // to `address` (its own loopback) starts from a socket the channel hands over.
  std::string socket_channel;
  std::atomic<std::int64_t> out_until_ns{0};  // passive failure: skipped until then
  std::atomic<bool> retired{false};           // no longer part of the fleet
  std::atomic<int> connecting{0};             // connections being opened (see connect cap)
};

class UpstreamPool;

// One TCP connection to one instance, with its read buffer. Owned by the request using it, or
// by the pool while idle. Counted in its fleet's active connections for its whole life.
class UpstreamConnection {
 public:
  UpstreamConnection(boost::asio::io_context& io, std::shared_ptr<Endpoint> endpoint,
                     UpstreamPool& pool, std::size_t worker);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  boost::asio::ip::tcp::socket socket;
  std::shared_ptr<Endpoint> endpoint;
  ByteBuffer buffer;
  bool reused = false;             // has carried an earlier request
  std::int64_t idle_since_ns = 0;  // when it went back to the pool

 private:
  UpstreamPool& pool_;
  std::size_t worker_;
};

struct PoolOptions {
  std::size_t workers = 1;
  std::chrono::milliseconds failed_instance_retry{2000};
  std::size_t max_idle_per_worker = 512;
  // Connections being opened to one instance at once, by all workers together (at least 1).
  std::size_t max_connects_per_instance = 4;
};

// Per-worker counters (a worker's own cache line, so updates do not contend); stats() sums
// them from any thread.
struct alignas(64) FleetCounters {
  std::atomic<long long> connections{0};
  std::atomic<long long> active_requests{0};
  std::atomic<long long> requests_total{0};
  std::atomic<long long> errors_total{0};
  std::atomic<long long> server_errors_total{0};  // see FleetTraffic::server_errors_total
  std::atomic<long long> answer_waits_total{0};   // see FleetTraffic::answer_waits_total
  std::atomic<long long> answer_waits_ended_total{0};
  // See FleetTraffic::latency_counts.
  std::array<std::atomic<long long>, FleetTraffic::kLatencyBounds.size() + 1> latency_counts{};
  std::atomic<long long> latency_micros_sum{0};
};
inline void bump(std::atomic<long long>& counter, long long delta = 1) {
  counter.fetch_add(delta, std::memory_order_relaxed);
}
// Counts one request that took `elapsed` in the latency histogram.
void observe_latency(FleetCounters& counters, std::chrono::steady_clock::duration elapsed);

// Before connecting `connection` to its endpoint's address: gives it a socket from the
// endpoint's socket channel when it has one. False when the channel gave none (the instance is
// gone or did not answer): a failed connection.
bool open_upstream_socket(UpstreamConnection& connection);

class UpstreamPool {
 public:
  UpstreamPool(std::string fleet_id, const PoolOptions& options);
  ~UpstreamPool();
  const std::string& fleet_id() const { return fleet_id_; }

  // Any thread. Replaces the instance list. Endpoints still listed keep their state (pass
  // the same shared objects); the others are retired and their idle connections closed.
  void set_endpoints(std::vector<std::shared_ptr<Endpoint>> endpoints);
  std::vector<std::shared_ptr<Endpoint>> endpoints() const;
  FleetTraffic stats() const;
  // True when no request is in flight and no connection is open.
  bool idle() const;

  // ---- Worker side: call only from worker `worker`'s thread. ----
  // The next healthy instance in round-robin order, skipping `exclude`; null when none.
  std::shared_ptr<Endpoint> pick(std::size_t worker, std::int64_t now_ns,
                                 const Endpoint* exclude = nullptr);
  // Takes out instance `endpoint` for a while after a failed connection attempt.
  void mark_failed(Endpoint& endpoint, std::int64_t now_ns) const;
  // An idle connection to `endpoint` that still looks open, or null.
  std::unique_ptr<UpstreamConnection> take_idle(std::size_t worker, const Endpoint& endpoint,
                                                std::int64_t now_ns);
  // Keeps a connection for reuse (closes it if the pool is full or its instance retired).
  void put_idle(std::size_t worker, std::unique_ptr<UpstreamConnection> connection,
                std::int64_t now_ns);
  void close_idle(std::size_t worker);
  FleetCounters& counters(std::size_t worker) { return slots_[worker].counters; }
  // Idle connections to `endpoint` this worker keeps.
  std::size_t idle_count(std::size_t worker, const Endpoint& endpoint) const;

  // Connect cap: true (and counted) when fewer than max_connects_per_instance connections to
  // `endpoint` are being opened; end_connect() gives the place back. A burst of new
  // connections then reaches an instance a few at a time instead of overflowing its listen
  // backlog (where a dropped SYN costs the client a 1 s retransmit).
  bool begin_connect(Endpoint& endpoint) const;
  void end_connect(std::size_t worker, Endpoint& endpoint);
  // Waiting at the cap: `timer` is cancelled (its wait ends early) when this worker finishes
  // a connect or puts a connection back idle. Waits ended by the other workers are not
  // signalled: waiters also look again when the timer expires. stop_waiting() before the
  // timer dies.
  void wait_for_connection(std::size_t worker, boost::asio::steady_timer& timer);
  void stop_waiting(std::size_t worker, boost::asio::steady_timer& timer);

 private:
  using EndpointList = std::vector<std::shared_ptr<Endpoint>>;
  struct alignas(64) Slot {
    FleetCounters counters;
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    std::vector<boost::asio::steady_timer*> waiting;  // requests waiting at the connect cap
    std::shared_ptr<const EndpointList> endpoints;    // this worker's copy of the list
    std::uint64_t generation = ~std::uint64_t{0};
    std::size_t next = 0;
  };
  const EndpointList& current(Slot& slot);
  void wake(Slot& slot);

  const std::string fleet_id_;
  const PoolOptions options_;
  std::vector<Slot> slots_;
  mutable std::mutex mutex_;
  std::shared_ptr<const EndpointList> endpoints_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace bluegreen::proxy
