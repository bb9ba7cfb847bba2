#include "proxy/warm_up.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <mutex>

#include "proxy/worker.h"

namespace bluegreen::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// Between two connections one worker opens to one instance: an idle instance accepts much
// faster than this, so its backlog never holds more than a couple of them.
constexpr auto kPace = std::chrono::milliseconds(2);
// Looking again for a place at the connect cap (see UpstreamPool::begin_connect).
constexpr auto kCapLookAgain = std::chrono::milliseconds(5);

// What warm_up() waits for: openers still running, connections opened.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  std::size_t opened = 0;

  void add(int openers) {
    std::lock_guard lock(mutex);
    running += openers;
  }
  void finish(std::size_t connections) {
    std::lock_guard lock(mutex);
    --running;
    opened += connections;
    changed.notify_all();
  }
};

// Opens `count` connections to `endpoint`, one after the other, and leaves them idle in the
// pool of `worker`. Gives up on one that does not connect in `timeout`, and on the rest when the
// instance refuses.
asio::awaitable<void> open_connections(Worker& worker, std::shared_ptr<UpstreamPool> pool,
                                       std::shared_ptr<Endpoint> endpoint, std::size_t count,
                                       std::chrono::milliseconds timeout,
                                       std::shared_ptr<Progress> progress) {
  const std::size_t index = worker.index();
  std::size_t opened = 0;
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(worker.io());
  error_code ec;
  for (std::size_t i = 0; i < count && std::chrono::steady_clock::now() < give_up; ++i) {
    if (i > 0) {
      timer.expires_after(kPace);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (endpoint->retired.load(std::memory_order_relaxed)) break;
    if (!pool->begin_connect(*endpoint)) {
      // Requests are connecting to it: they come first.
      timer.expires_after(kCapLookAgain);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      --i;
      continue;
    }
    auto connection = std::make_unique<UpstreamConnection>(worker.io(), endpoint, *pool, index);
    if (!open_upstream_socket(*connection)) {
      pool->end_connect(index, *endpoint);
      break;  // the instance's channel answers nothing: the rest would fail too
    }
    // The timer's handler only touches the socket while the connect is still waited for.
    auto done = std::make_shared<bool>(false);
    tcp::socket* socket = &connection->socket;
    timer.expires_at(std::min(give_up, std::chrono::steady_clock::now() + timeout));
    timer.async_wait([done, socket](const error_code& timer_ec) {
      error_code ignored;
      if (!timer_ec && !*done) socket->cancel(ignored);
    });
    co_await connection->socket.async_connect(endpoint->address,
                                              asio::redirect_error(asio::use_awaitable, ec));
    *done = true;
    timer.cancel();
    pool->end_connect(index, *endpoint);
    if (ec) {
      if (ec != asio::error::operation_aborted) break;  // refused: the rest would be too
      continue;
    }
    connection->socket.set_option(tcp::no_delay(true), ec);
    pool->put_idle(index, std::move(connection), monotonic_ns());
    ++opened;
  }
  progress->finish(opened);
}

}  // namespace

std::size_t warm_up(const std::vector<Worker*>& workers, const std::shared_ptr<UpstreamPool>& pool,
                    const std::shared_ptr<UpstreamPool>& like, std::chrono::milliseconds timeout) {
  if (!pool || !like || pool == like) return 0;
  auto progress = std::make_shared<Progress>();
  const auto started = std::chrono::steady_clock::now();
  for (Worker* worker : workers) {
    progress->add(1);
    asio::post(worker->io(), [worker, pool, like, timeout, progress] {
      const std::size_t index = worker->index();
      std::vector<std::shared_ptr<Endpoint>> endpoints;
      const std::int64_t now = monotonic_ns();
      for (auto& endpoint : pool->endpoints())
        if (endpoint->out_until_ns.load(std::memory_order_relaxed) <= now)
          endpoints.push_back(endpoint);
      // A client connection uses one instance connection at a time: more than the worker's
      // clients would only sit idle (and be counted, and warmed again, at the next switch).
      const long long open = like->counters(index).connections.load(std::memory_order_relaxed);
      const std::size_t serving =
          std::min(static_cast<std::size_t>(std::max(0LL, open)), worker->session_count());
      if (!endpoints.empty() && serving > 0) {
        const std::size_t each = (serving + endpoints.size() - 1) / endpoints.size();
        for (auto& endpoint : endpoints) {
          const std::size_t have = pool->idle_count(index, *endpoint);
          if (have >= each) continue;
          progress->add(1);
          asio::co_spawn(worker->io(),
                         open_connections(*worker, pool, endpoint, each - have, timeout, progress),
                         asio::detached);
        }
      }
      progress->finish(0);
    });
  }
  std::unique_lock lock(progress->mutex);
  progress->changed.wait_until(lock, started + timeout + kPace,
                               [&progress] { return progress->running == 0; });
  return progress->opened;
}

}  // namespace bluegreen::proxy
