#include "proxy/proxy.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <thread>

#include "core/instance_reach.h"
#include "proxy/forwarder.h"
#include "proxy/routing_policy.h"
#include "proxy/warm_up.h"
#include "proxy/worker.h"

namespace bluegreen::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct ListenerSocket {
  ListenerSocket(asio::io_context& io, Listener listener_kind, std::size_t cap)
      : acceptor(io), kind(listener_kind), max_connections(cap) {}
  tcp::acceptor acceptor;
  Listener kind;
  int port = 0;
  const std::size_t max_connections;
  std::shared_ptr<ConnectionCount> connections = std::make_shared<ConnectionCount>();
  std::atomic<std::uint64_t> accept_errors{0};
};

std::size_t default_max_connections() {
  rlimit limit{};
  rlim_t soft = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    soft = limit.rlim_cur;
  else if (limit.rlim_cur == RLIM_INFINITY)
    soft = rlim_t{1} << 20;
  return std::max<std::size_t>(16, static_cast<std::size_t>(soft / 8));
}

namespace {

Result<tcp::endpoint> parse_listen_address(const std::string& address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos)
    return fail(ErrorKind::invalid_input, "listen address '" + address + "' is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  int port = -1;
  auto [end, ec] =
      std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
  if (ec != std::errc() || end != address.data() + address.size() || port < 0 || port > 65535)
    return fail(ErrorKind::invalid_input, "listen address '" + address + "' has no valid port");
  error_code bad;
  auto ip = asio::ip::make_address(host, bad);
  if (bad)
    return fail(ErrorKind::invalid_input,
                "listen address '" + address + "' needs a numeric IP address or localhost");
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

// Instances name a host (usually 127.0.0.1); resolved once, when the fleet is registered.
std::optional<tcp::endpoint> resolve_instance(const Instance& instance) {
  if (instance.port <= 0 || instance.port > 65535) return std::nullopt;
  auto port = static_cast<unsigned short>(instance.port);
  // Reached through its socket channel: the address is its own loopback.
  if (!socket_channel_of(instance).empty()) {
    return tcp::endpoint(asio::ip::address_v4::loopback(), port);
  }
  error_code ec;
  auto ip = asio::ip::make_address(instance.host, ec);
  if (!ec) return tcp::endpoint(ip, port);
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(instance.host, std::to_string(port), ec);
  if (ec || results.empty()) return std::nullopt;
  for (const auto& entry : results)
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  return results.begin()->endpoint();
}

// A failed accept (out of descriptors or memory) is retried after a pause that doubles from
// the first to the last, so a lasting shortage costs a few wake-ups a second, not a core.
constexpr auto kFirstAcceptPause = std::chrono::milliseconds(10);
constexpr auto kLastAcceptPause = std::chrono::milliseconds(1000);
// At the connection cap the loop looks this often for a free slot; the connections waiting
// meanwhile sit in the kernel's backlog.
constexpr auto kFullPollInterval = std::chrono::milliseconds(10);

asio::awaitable<void> accept_loop(std::shared_ptr<ListenerSocket> listener,
                                  std::vector<Worker*> workers) {
  std::size_t next = 0;
  auto pause_length = kFirstAcceptPause;
  asio::steady_timer pause(listener->acceptor.get_executor());
  error_code ec;
  while (listener->acceptor.is_open()) {
    if (listener->connections->open.load(std::memory_order_relaxed) >= listener->max_connections) {
      pause.expires_after(kFullPollInterval);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Worker& worker = *workers[next++ % workers.size()];
    tcp::socket socket = co_await listener->acceptor.async_accept(
        worker.io(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !listener->acceptor.is_open()) co_return;
    if (ec) {
      listener->accept_errors.fetch_add(1, std::memory_order_relaxed);
      pause.expires_after(pause_length);
      pause_length = std::min(pause_length * 2, kLastAcceptPause);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    pause_length = kFirstAcceptPause;
    serve_connection(worker, std::move(socket), listener->kind,
                     ConnectionSlot(listener->connections));
  }
}

}  // namespace

Proxy::Proxy(const ProxyOptions& options, AddressSet trusted_proxies, Clock* clock)
    : options_(options),
      trusted_proxies_(std::move(trusted_proxies)),
      own_clock_(clock == nullptr ? std::make_unique<SystemClock>() : nullptr),
      clock_(clock == nullptr ? *own_clock_ : *clock) {
  PoolOptions pool_options;
  pool_options.workers = static_cast<std::size_t>(options_.worker_threads);
  pool_options.failed_instance_retry = options_.failed_instance_retry;
  pool_options.max_connects_per_instance = options_.max_connects_per_instance;
  policy_ = std::make_unique<RoutingPolicy>(pool_options);
  for (std::size_t i = 0; i < pool_options.workers; ++i)
    workers_.push_back(std::make_unique<Worker>(i, options_, trusted_proxies_, *policy_));
}

Result<std::unique_ptr<Proxy>> Proxy::start(const ProxyOptions& options, Clock* clock) {
  if (options.worker_threads < 1 || options.worker_threads > 64)
    return fail(ErrorKind::invalid_input, "worker_threads must be between 1 and 64");
  auto trusted = AddressSet::parse(options.trusted_proxies);
  if (!trusted) return std::unexpected(trusted.error());
  std::unique_ptr<Proxy> proxy(new Proxy(options, std::move(*trusted), clock));
  auto main = proxy->open_listener(options.listen, static_cast<int>(Listener::main));
  if (!main) return std::unexpected(main.error());
  proxy->main_listener_ = *main;
  for (auto& worker : proxy->workers_) worker->start();
  std::vector<Worker*> workers;
  for (auto& worker : proxy->workers_) workers.push_back(worker.get());
  asio::co_spawn(proxy->workers_[0]->io(), accept_loop(*main, workers), asio::detached);
  if (options.preview_listen) {
    auto preview = proxy->listen_preview(*options.preview_listen);
    if (!preview) return std::unexpected(preview.error());
  }
  return proxy;
}

Proxy::~Proxy() {
  stop();
}

Result<std::shared_ptr<ListenerSocket>> Proxy::open_listener(const std::string& address, int kind) {
  auto endpoint = parse_listen_address(address);
  if (!endpoint) return std::unexpected(endpoint.error());
  const std::size_t cap =
      options_.max_connections > 0 ? options_.max_connections : default_max_connections();
  auto listener =
      std::make_shared<ListenerSocket>(workers_[0]->io(), static_cast<Listener>(kind), cap);
  error_code ec;
  listener->acceptor.open(endpoint->protocol(), ec);
  if (!ec) listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener->acceptor.bind(*endpoint, ec);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorKind::unavailable, "cannot listen on " + address + ": " + ec.message());
  listener->port = listener->acceptor.local_endpoint(ec).port();
  return listener;
}

int Proxy::port() const {
  std::lock_guard lock(listeners_mutex_);
  return main_listener_ ? main_listener_->port : 0;
}

Result<int> Proxy::listen_preview(const std::string& address) {
  stop_preview();
  auto listener = open_listener(address, static_cast<int>(Listener::preview));
  if (!listener) return std::unexpected(listener.error());
  std::vector<Worker*> workers;
  for (auto& worker : workers_) workers.push_back(worker.get());
  asio::co_spawn(workers_[0]->io(), accept_loop(*listener, workers), asio::detached);
  std::lock_guard lock(listeners_mutex_);
  preview_listener_ = *listener;
  return preview_listener_->port;
}

void Proxy::stop_preview() {
  std::shared_ptr<ListenerSocket> listener;
  {
    std::lock_guard lock(listeners_mutex_);
    listener.swap(preview_listener_);
    if (listener) retired_accept_errors_ += listener->accept_errors.load();
  }
  if (!listener) return;
  // The acceptor belongs to worker 0's loop: close it there.
  workers_[0]->call([&listener] {
    error_code ignored;
    listener->acceptor.close(ignored);
    return 0;
  });
}

std::uint64_t Proxy::accept_errors() const {
  std::lock_guard lock(listeners_mutex_);
  std::uint64_t errors = retired_accept_errors_;
  for (const auto* listener : {main_listener_.get(), preview_listener_.get()})
    if (listener != nullptr) errors += listener->accept_errors.load(std::memory_order_relaxed);
  return errors;
}

std::optional<int> Proxy::preview_port() const {
  std::lock_guard lock(listeners_mutex_);
  if (!preview_listener_) return std::nullopt;
  return preview_listener_->port;
}

void Proxy::label_fleet(const std::string& fleet_id, std::string label) {
  policy_->label_fleet(fleet_id, std::move(label));
}

void Proxy::stop() {
  std::shared_ptr<ListenerSocket> main;
  {
    std::lock_guard lock(listeners_mutex_);
    if (stopped_) return;
    stopped_ = true;
    main.swap(main_listener_);
    if (main) retired_accept_errors_ += main->accept_errors.load();
  }
  stop_preview();
  if (main) {
    workers_[0]->call([&main] {
      error_code ignored;
      main->acceptor.close(ignored);
      return 0;
    });
  }
  // Requests in flight get drain_timeout to finish; idle keep-alive clients are just closed.
  const TimePoint deadline = clock_.now() + options_.drain_timeout;
  auto busy = [this] {
    for (const auto& pool : policy_->pools())
      if (pool->stats().active_requests > 0) return true;
    return false;
  };
  while (busy() && clock_.now() < deadline) clock_.sleep_for(std::chrono::milliseconds(10));
  for (auto& worker : workers_) worker->shutdown();
}

void Proxy::register_fleet(const std::string& fleet_id, const std::vector<Instance>& instances) {
  std::vector<std::shared_ptr<Endpoint>> endpoints;
  for (const Instance& instance : instances) {
    if (instance.state == InstanceState::terminated || instance.state == InstanceState::unhealthy)
      continue;
    auto address = resolve_instance(instance);
    if (!address) continue;
    auto endpoint = std::make_shared<Endpoint>();
    endpoint->instance_id = instance.id;
    endpoint->address = *address;
    endpoint->socket_channel = socket_channel_of(instance);
    endpoints.push_back(std::move(endpoint));
  }
  policy_->register_fleet(fleet_id, std::move(endpoints));
  for (auto& worker : workers_) worker->close_idle_unrouted();
}

void Proxy::remove_fleet(const std::string& fleet_id) {
  policy_->remove_fleet(fleet_id);
  for (auto& worker : workers_) worker->close_idle_unrouted();
}

void Proxy::route(const std::string& fleet_id) {
  policy_->route(Listener::main, fleet_id);
  for (auto& worker : workers_) worker->close_idle_unrouted();
}

void Proxy::warm(const std::string& fleet_id) {
  auto routed = policy_->routed_fleet(Listener::main);
  if (!routed || *routed == fleet_id) return;
  std::vector<Worker*> workers;
  for (auto& worker : workers_) workers.push_back(worker.get());
  warmed_connections_ +=
      warm_up(workers, policy_->find(fleet_id), policy_->find(*routed), options_.connect_timeout);
}

void Proxy::preview(std::optional<std::string> fleet_id) {
  policy_->route(Listener::preview, std::move(fleet_id));
  for (auto& worker : workers_) worker->close_idle_unrouted();
}

std::optional<std::string> Proxy::routed_fleet() const {
  return policy_->routed_fleet(Listener::main);
}

void Proxy::split(const TrafficSplit& split) {
  policy_->split(split.fleet_id, split.percent);
  for (auto& worker : workers_) worker->close_idle_unrouted();
}

std::optional<TrafficSplit> Proxy::traffic_split() const {
  auto split = policy_->split();
  if (!split) return std::nullopt;
  return TrafficSplit{split->first, split->second};
}

int Proxy::drain(const std::string& fleet_id, TimePoint deadline) {
  auto pool = policy_->find(fleet_id);
  if (!pool) return 0;
  for (auto& worker : workers_) worker->close_idle_unrouted();
  while (clock_.now() < deadline) {
    if (pool->idle()) return 0;
    clock_.sleep_for(std::chrono::milliseconds(5));
  }
  if (pool->idle()) return 0;
  // Routed again meanwhile (a rollback during the drain): its connections are serving now.
  if (policy_->snapshot()->serves(pool.get())) return 0;
  int closed = 0;
  for (auto& worker : workers_) closed += worker->force_close(pool);
  return closed;
}

std::vector<FleetTraffic> Proxy::stats() const {
  std::vector<FleetTraffic> result;
  for (const auto& pool : policy_->pools()) result.push_back(pool->stats());
  return result;
}

}  // namespace bluegreen::proxy
