// Forwarder: serves one client connection. For each request it reads the route once, picks an
// instance of that fleet (UpstreamPool), and moves the request and its response between the
// two connections, rewriting only hop-by-hop headers. It keeps both sides alive between
// requests, turns failures into 502/503/504 answers that name the fleet, retries a GET or
// HEAD once on another instance when connecting fails, and turns an upgraded exchange
// (WebSocket) into a two-way tunnel that a drain can close with a Close frame.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "proxy/routing_policy.h"
#include "proxy/worker.h"

namespace bluegreen::proxy {

// Takes over `client` (a socket on `worker`'s io_context) and serves it on that worker until
// either side closes it. Call from any thread.
void serve_connection(Worker& worker, boost::asio::ip::tcp::socket client, Listener listener);

}  // namespace bluegreen::proxy
