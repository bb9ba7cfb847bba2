// Worker: one event loop on one thread, and the client connections it runs. Requests on a
// worker touch only that worker's state (its pool slots, its copy of the routes), so the hot
// path takes no lock. The control plane (Proxy) reaches a worker only through the "any
// thread" methods below, which post work to its loop.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <future>
#include <limits>
#include <list>
#include <memory>
#include <thread>

#include "proxy/address_set.h"
#include "proxy/proxy_options.h"
#include "proxy/routing_policy.h"

namespace bluegreen::proxy {

// A client connection as its worker sees it: something with a deadline that can be closed.
class Session {
 public:
  virtual ~Session() = default;
  // The deadline passed (a timeout of the current phase): give up on what is waited for.
  virtual void on_deadline() = 0;
  // True while a request (or tunnel) of this connection is in flight on `pool`.
  virtual bool bound_to(const UpstreamPool& pool) const = 0;
  // Close now: a drain deadline passed or the proxy stops. WebSockets get a Close frame.
  virtual void force_close() = 0;

  // Monotonic ns (see monotonic_ns()); on_deadline() runs soon after it passes.
  std::int64_t deadline_ns = std::numeric_limits<std::int64_t>::max();

 private:
  friend class Worker;
  std::list<Session*>::iterator position_;
};

class Worker {
 public:
  Worker(std::size_t index, const ProxyOptions& options, const AddressSet& trusted_proxies,
         RoutingPolicy& policy);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  boost::asio::io_context& io() { return io_; }
  std::size_t index() const { return index_; }
  const ProxyOptions& options() const { return options_; }
  const AddressSet& trusted_proxies() const { return trusted_proxies_; }
  // Client connections this worker serves (any thread; a moment's count).
  std::size_t session_count() const { return session_count_.load(std::memory_order_relaxed); }

  // ---- This worker's thread only. ----
  // The current routes; re-read from the policy only when it changed.
  const std::shared_ptr<const Routes>& routes();
  // A uniform draw in 0..99 that picks a request's side of a split (Routes::pick).
  int draw_percent();
  void add(Session& session);
  void remove(Session& session);

  // ---- Any thread except this worker's. ----
  void start();
  // Closes idle upstream connections of every pool that no listener routes to any more.
  void close_idle_unrouted();
  // Force-closes the connections bound to `pool`, closes its idle connections, and returns
  // how many client connections were closed. Blocks until the worker has done it.
  int force_close(const std::shared_ptr<UpstreamPool>& pool);
  // Closes every connection, stops the loop and joins the thread.
  void shutdown();
  // Runs `f` on this worker's thread and returns its result (a default value if the worker
  // is not running).
  template <typename F>
  auto call(F&& f) -> decltype(f());

 private:
  void run_loop();
  void schedule_sweep();

  const std::size_t index_;
  const ProxyOptions& options_;
  const AddressSet& trusted_proxies_;
  RoutingPolicy& policy_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer sweep_timer_;
  std::shared_ptr<const Routes> routes_;
  std::uint64_t routes_generation_ = ~std::uint64_t{0};
  std::uint64_t draw_state_;  // xorshift64 state, never 0
  std::list<Session*> sessions_;
  std::atomic<std::size_t> session_count_{0};
  std::thread thread_;
  bool stopping_ = false;
};

template <typename F>
auto Worker::call(F&& f) -> decltype(f()) {
  using R = decltype(f());
  if (!thread_.joinable() || io_.stopped()) return R{};
  std::packaged_task<R()> task(std::forward<F>(f));
  std::future<R> result = task.get_future();
  boost::asio::post(io_, [&task] { task(); });
  return result.get();
}

}  // namespace bluegreen::proxy
