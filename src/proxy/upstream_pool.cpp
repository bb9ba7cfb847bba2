#include "proxy/upstream_pool.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "infra/process/socket_channel.h"

namespace bluegreen::proxy {

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool open_upstream_socket(UpstreamConnection& connection) {
  if (connection.endpoint->socket_channel.empty()) return true;
  auto fd = socket_from_channel(connection.endpoint->socket_channel);
  if (!fd) return false;
  boost::system::error_code ec;
  connection.socket.assign(boost::asio::ip::tcp::v4(), *fd, ec);
  if (ec) ::close(*fd);
  return !ec;
}

UpstreamConnection::UpstreamConnection(boost::asio::io_context& io,
                                       std::shared_ptr<Endpoint> target, UpstreamPool& pool,
                                       std::size_t worker)
    : socket(io), endpoint(std::move(target)), pool_(pool), worker_(worker) {
  bump(pool_.counters(worker_).connections);
}

UpstreamConnection::~UpstreamConnection() {
  bump(pool_.counters(worker_).connections, -1);
}

UpstreamPool::UpstreamPool(std::string fleet_id, const PoolOptions& options)
    : fleet_id_(std::move(fleet_id)),
      options_(options),
      slots_(options.workers),
      endpoints_(std::make_shared<EndpointList>()) {
  // Workers start at different positions so that they do not all hit the same instance.
  for (std::size_t i = 0; i < slots_.size(); ++i) slots_[i].next = i;
}

UpstreamPool::~UpstreamPool() {
  // Idle connections count against this pool; drop them while the counters still exist.
  for (auto& slot : slots_) slot.idle.clear();
}

void UpstreamPool::set_endpoints(std::vector<std::shared_ptr<Endpoint>> endpoints) {
  std::lock_guard lock(mutex_);
  for (const auto& old : *endpoints_) {
    bool kept = false;
    for (const auto& e : endpoints) kept = kept || e == old;
    if (!kept) old->retired.store(true);
  }
  endpoints_ = std::make_shared<const EndpointList>(std::move(endpoints));
  generation_.fetch_add(1, std::memory_order_release);
}

std::vector<std::shared_ptr<Endpoint>> UpstreamPool::endpoints() const {
  std::lock_guard lock(mutex_);
  return *endpoints_;
}

void observe_latency(FleetCounters& counters, std::chrono::steady_clock::duration elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  const auto& bounds = FleetTraffic::kLatencyBounds;
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  bump(counters.latency_counts[static_cast<std::size_t>(bucket)]);
  bump(counters.latency_micros_sum,
       std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
}

FleetTraffic UpstreamPool::stats() const {
  FleetTraffic traffic;
  traffic.fleet_id = fleet_id_;
  for (const auto& slot : slots_) {
    traffic.active_connections += slot.counters.connections.load(std::memory_order_relaxed);
    traffic.active_requests += slot.counters.active_requests.load(std::memory_order_relaxed);
    traffic.requests_total += slot.counters.requests_total.load(std::memory_order_relaxed);
    traffic.errors_total += slot.counters.errors_total.load(std::memory_order_relaxed);
    traffic.server_errors_total +=
        slot.counters.server_errors_total.load(std::memory_order_relaxed);
    traffic.answer_waits_total += slot.counters.answer_waits_total.load(std::memory_order_relaxed);
    traffic.answer_waits_ended_total +=
        slot.counters.answer_waits_ended_total.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < traffic.latency_counts.size(); ++i) {
      traffic.latency_counts[i] += slot.counters.latency_counts[i].load(std::memory_order_relaxed);
    }
    traffic.latency_seconds_sum +=
        static_cast<double>(slot.counters.latency_micros_sum.load(std::memory_order_relaxed)) / 1e6;
  }
  return traffic;
}

bool UpstreamPool::idle() const {
  FleetTraffic traffic = stats();
  return traffic.active_connections == 0 && traffic.active_requests == 0;
}

const UpstreamPool::EndpointList& UpstreamPool::current(Slot& slot) {
  std::uint64_t generation = generation_.load(std::memory_order_acquire);
  if (generation != slot.generation) {
    {
      std::lock_guard lock(mutex_);
      slot.endpoints = endpoints_;
    }
    slot.generation = generation;
    std::erase_if(slot.idle, [](const std::unique_ptr<UpstreamConnection>& connection) {
      return connection->endpoint->retired.load(std::memory_order_relaxed);
    });
  }
  return *slot.endpoints;
}

std::shared_ptr<Endpoint> UpstreamPool::pick(std::size_t worker, std::int64_t now_ns,
                                             const Endpoint* exclude) {
  Slot& slot = slots_[worker];
  const EndpointList& list = current(slot);
  for (std::size_t tried = 0; tried < list.size(); ++tried) {
    const auto& candidate = list[slot.next++ % list.size()];
    if (candidate.get() == exclude) continue;
    if (candidate->out_until_ns.load(std::memory_order_relaxed) > now_ns) continue;
    return candidate;
  }
  return nullptr;
}

void UpstreamPool::mark_failed(Endpoint& endpoint, std::int64_t now_ns) const {
  endpoint.out_until_ns.store(
      now_ns + std::chrono::nanoseconds(options_.failed_instance_retry).count(),
      std::memory_order_relaxed);
}

namespace {

// An idle keep-alive connection may have been closed by the server since it was last used;
// sending a request on it would fail after the fact. A non-blocking peek tells: EAGAIN means
// still open and quiet; end of file, data or an error mean it cannot carry a request.
bool still_open(UpstreamConnection& connection) {
  char byte = 0;
  ssize_t n = ::recv(connection.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Connections idle for less than this are reused without the peek: servers close idle
// connections after seconds, not microseconds, and the peek costs a system call.
constexpr std::int64_t kPeekAfterIdleNs = 200'000'000;

}  // namespace

std::unique_ptr<UpstreamConnection> UpstreamPool::take_idle(std::size_t worker,
                                                            const Endpoint& endpoint,
                                                            std::int64_t now_ns) {
  auto& idle = slots_[worker].idle;
  for (std::size_t i = idle.size(); i-- > 0;) {
    if (idle[i]->endpoint.get() != &endpoint) continue;
    std::unique_ptr<UpstreamConnection> connection = std::move(idle[i]);
    idle[i] = std::move(idle.back());
    idle.pop_back();
    if (now_ns - connection->idle_since_ns < kPeekAfterIdleNs || still_open(*connection))
      return connection;
    // Closed by the server: drop it and look for another.
  }
  return nullptr;
}

void UpstreamPool::put_idle(std::size_t worker, std::unique_ptr<UpstreamConnection> connection,
                            std::int64_t now_ns) {
  auto& idle = slots_[worker].idle;
  if (connection->endpoint->retired.load(std::memory_order_relaxed) ||
      idle.size() >= options_.max_idle_per_worker)
    return;  // the connection closes here
  connection->reused = true;
  connection->idle_since_ns = now_ns;
  idle.push_back(std::move(connection));
  wake(slots_[worker]);
}

std::size_t UpstreamPool::idle_count(std::size_t worker, const Endpoint& endpoint) const {
  std::size_t count = 0;
  for (const auto& connection : slots_[worker].idle)
    if (connection->endpoint.get() == &endpoint) ++count;
  return count;
}

bool UpstreamPool::begin_connect(Endpoint& endpoint) const {
  const int cap = static_cast<int>(std::max<std::size_t>(1, options_.max_connects_per_instance));
  int now = endpoint.connecting.load(std::memory_order_relaxed);
  while (now < cap) {
    if (endpoint.connecting.compare_exchange_weak(now, now + 1, std::memory_order_relaxed))
      return true;
  }
  return false;
}

void UpstreamPool::end_connect(std::size_t worker, Endpoint& endpoint) {
  endpoint.connecting.fetch_sub(1, std::memory_order_relaxed);
  wake(slots_[worker]);
}

void UpstreamPool::wait_for_connection(std::size_t worker, boost::asio::steady_timer& timer) {
  slots_[worker].waiting.push_back(&timer);
}

void UpstreamPool::stop_waiting(std::size_t worker, boost::asio::steady_timer& timer) {
  std::erase(slots_[worker].waiting, &timer);
}

void UpstreamPool::wake(Slot& slot) {
  // Every waiter looks again; those that still find nothing wait anew.
  for (boost::asio::steady_timer* timer : slot.waiting) timer->cancel();
  slot.waiting.clear();
}

void UpstreamPool::close_idle(std::size_t worker) {
  slots_[worker].idle.clear();
}

}  // namespace bluegreen::proxy
