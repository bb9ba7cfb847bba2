// Forwarder: serves one client connection. For each request it reads the route once, picks an
// instance of that fleet (UpstreamPool), and moves the request and its response between the
// two connections, rewriting only hop-by-hop headers. It keeps both sides alive between
// requests, turns failures into 502/503/504 answers that name the fleet, retries a GET or
// HEAD once on another instance when connecting fails, and turns an upgraded exchange
// (WebSocket) into a two-way tunnel that a drain can close with a Close frame.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>

#include "proxy/routing_policy.h"
#include "proxy/worker.h"

namespace bluegreen::proxy {

// The open client connections of one listener (see ProxyOptions::max_connections).
struct ConnectionCount {
  std::atomic<std::size_t> open{0};
};

// One counted connection: taken when the connection is accepted, given back once its socket
// is closed (so that the count never understates the descriptors held).
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<ConnectionCount> count) : count_(std::move(count)) {
    if (count_) count_->open.fetch_add(1, std::memory_order_relaxed);
  }
  ConnectionSlot(ConnectionSlot&&) = default;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (count_) count_->open.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<ConnectionCount> count_;
};

// Takes over `client` (a socket on `worker`'s io_context) and serves it on that worker until
// either side closes it; `slot` is given back after the socket is closed. Call from any thread.
void serve_connection(Worker& worker, boost::asio::ip::tcp::socket client, Listener listener,
                      ConnectionSlot slot);

}  // namespace bluegreen::proxy
