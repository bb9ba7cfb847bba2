#include "proxy/worker.h"

#include <sched.h>

#include <chrono>

namespace bluegreen::proxy {
namespace {
// Deadlines are checked this often: timeouts are seconds long, so a coarse sweep is precise
// enough and costs nothing per request (no timer per operation).
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// A worker with a steady stream of ready events never blocks, so the kernel only switches to
// another runnable thread on its CPU (often the other worker) at a scheduler tick: that
// thread's connections then wait milliseconds. Yielding after this much uninterrupted work
// bounds the wait; with nothing else runnable on the CPU the yield returns at once.
constexpr auto kMaxUninterruptedRun = std::chrono::microseconds(500);
// Handlers run between two looks at the clock.
constexpr unsigned kHandlersPerClockCheck = 32;
}  // namespace

Worker::Worker(std::size_t index, const ProxyOptions& options, const AddressSet& trusted_proxies,
               RoutingPolicy& policy)
    : index_(index),
      options_(options),
      trusted_proxies_(trusted_proxies),
      policy_(policy),
      work_(io_.get_executor()),
      sweep_timer_(io_),
      draw_state_(0x9E3779B97F4A7C15ull ^ (static_cast<std::uint64_t>(monotonic_ns()) +
                                           (index + 1) * 0xBF58476D1CE4E5B9ull)) {
  if (draw_state_ == 0) draw_state_ = 1;
}

int Worker::draw_percent() {
  draw_state_ ^= draw_state_ << 13;
  draw_state_ ^= draw_state_ >> 7;
  draw_state_ ^= draw_state_ << 17;
  // The high bits are the well-mixed ones; the modulo bias of 2^32 % 100 is negligible.
  return static_cast<int>((draw_state_ >> 32) % 100);
}

Worker::~Worker() {
  shutdown();
}

const std::shared_ptr<const Routes>& Worker::routes() {
  std::uint64_t generation = policy_.generation();
  if (generation != routes_generation_) {
    routes_ = policy_.snapshot();
    routes_generation_ = generation;
  }
  return routes_;
}

void Worker::add(Session& session) {
  session.position_ = sessions_.insert(sessions_.end(), &session);
  session_count_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove(Session& session) {
  sessions_.erase(session.position_);
  session_count_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::start() {
  schedule_sweep();
  thread_ = std::thread([this] { run_loop(); });
}

void Worker::run_loop() {
  using Clock = std::chrono::steady_clock;
  // run_one() blocks while there is nothing to do; poll_one() runs what is ready (looking
  // for I/O events without waiting) until the loop is idle again.
  while (io_.run_one() > 0) {
    Clock::time_point running_since = Clock::now();
    unsigned handlers = 0;
    while (io_.poll_one() > 0) {
      if (++handlers % kHandlersPerClockCheck != 0) continue;
      const Clock::time_point now = Clock::now();
      if (now - running_since < kMaxUninterruptedRun) continue;
      sched_yield();
      running_since = Clock::now();
    }
  }
}

void Worker::schedule_sweep() {
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    const std::int64_t now = monotonic_ns();
    // on_deadline() may not remove the session from the list (it only cancels operations),
    // so iterating while calling it is safe.
    for (Session* session : sessions_) {
      if (session->deadline_ns <= now) {
        session->deadline_ns = std::numeric_limits<std::int64_t>::max();
        session->on_deadline();
      }
    }
    schedule_sweep();
  });
}

void Worker::close_idle_unrouted() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    const auto& current = routes();
    for (const auto& pool : policy_.pools())
      if (!current->serves(pool.get())) pool->close_idle(index_);
  });
}

int Worker::force_close(const std::shared_ptr<UpstreamPool>& pool) {
  return call([this, &pool] {
    int closed = 0;
    // force_close() only closes sockets; sessions leave the list later, from their coroutine.
    for (Session* session : sessions_) {
      if (session->bound_to(*pool)) {
        session->force_close();
        ++closed;
      }
    }
    pool->close_idle(index_);
    return closed;
  });
}

void Worker::shutdown() {
  if (!thread_.joinable()) return;
  call([this] {
    stopping_ = true;
    sweep_timer_.cancel();
    for (Session* session : sessions_) session->force_close();
    for (const auto& pool : policy_.pools()) pool->close_idle(index_);
    return 0;
  });
  work_.reset();
  // Sessions end as their operations complete with errors; give them a moment, then stop.
  for (int i = 0; i < 200 && session_count_.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  io_.stop();
  thread_.join();
  routes_.reset();
}

}  // namespace bluegreen::proxy
