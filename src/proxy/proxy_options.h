// ProxyOptions: the knobs of the built-in traffic switch, with defaults fit for a single host.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::proxy {

struct ProxyOptions {
  // "host:port"; port 0 lets the system choose (Proxy::port() tells which).
  std::string listen = "127.0.0.1:0";
  // A second listener that serves the preview fleet (PREVIEW_LISTEN); see Proxy::preview().
  std::optional<std::string> preview_listen;
  // Threads that run connections. Each has its own event loop and connection pools.
  int worker_threads = 2;

  // Protective limits. A head larger than max_header_bytes is answered 431.
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_headers = 100;
  // A client must send a whole request head within this time of starting it (or of
  // connecting): otherwise 408 and close. Slow clients cannot hold the proxy.
  std::chrono::milliseconds header_timeout{10'000};
  // A keep-alive client connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // Connecting to an instance; past it the instance counts as failed (another is tried for
  // GET, HEAD, OPTIONS, PUT and DELETE, else 502).
  std::chrono::milliseconds connect_timeout{3'000};
  // An idempotent request (GET, HEAD, OPTIONS, PUT, DELETE) whose connection is not
  // established within this time is sent to another instance of the fleet (or, with no other,
  // the same one with the full connect_timeout) instead of waiting for TCP's 1 s SYN
  // retransmit; the slow instance is not counted as failed.
  std::chrono::milliseconds connect_retry_after{200};
  // Connections being opened to one instance at once (see UpstreamPool::begin_connect);
  // requests past it wait for one of them or for an idle connection. At least 1.
  std::size_t max_connects_per_instance = 4;
  // From the end of the request to the response head: past it, 504.
  std::chrono::milliseconds upstream_timeout{60'000};
  // Silence on a body transfer or an upgraded (WebSocket) tunnel before it is closed.
  std::chrono::milliseconds stream_idle_timeout{300'000};
  // How long an instance that refused a connection is left out before it is tried again.
  std::chrono::milliseconds failed_instance_retry{2'000};
  // Used by stop(): how long requests in flight may take to finish.
  std::chrono::milliseconds drain_timeout{30'000};
  // Client connections one listener holds open at once. Past it the listener stops
  // accepting: new connections wait in the kernel's backlog, holding no file descriptor of
  // the server, until a connection closes. 0: the default, an eighth of the process's
  // file descriptor limit (RLIMIT_NOFILE, soft) and at least 16, so that one listener under
  // a flood of idle connections leaves descriptors to the other groups and the admin API.
  std::size_t max_connections = 0;
  // Adds X-Forwarded-For (the peer's address), X-Forwarded-Host and X-Forwarded-Proto to
  // requests. Either way, such headers from a peer that is not a trusted proxy are removed.
  bool forwarded_for = true;
  // Peers (IP addresses or address/prefix networks) whose X-Forwarded-For, X-Forwarded-Host,
  // X-Forwarded-Proto and Forwarded headers are kept: a load balancer in front of the
  // proxy. X-Forwarded-For then gets the peer's address appended.
  std::vector<std::string> trusted_proxies;
};

// The max_connections a listener gets when the option is 0 (see above).
std::size_t default_max_connections();

}  // namespace bluegreen::proxy
