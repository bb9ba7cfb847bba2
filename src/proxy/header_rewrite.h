// Header rewriting: the heads the proxy sends on, built from the heads it parsed. Pure
// functions over parsed heads; the forwarder moves the bytes.
//
// Invariants (each has a test in tests/proxy/proxy_integration_test.cpp):
// - Hop-by-hop headers never cross the proxy, in either direction: Connection, Keep-Alive,
//   Proxy-Connection, TE, Upgrade (kept for a real protocol switch), Proxy-Authorization
//   (credentials meant for a proxy), and every header a Connection header names (RFC 9110
//   section 7.6.1). Content-Length, Transfer-Encoding and Host are never removed that way:
//   the body passes unchanged, so the instance must frame it exactly as the proxy did.
// - X-Forwarded-For ends with the address of the peer that connected to the proxy. What the
//   client sent as X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and Forwarded
//   reaches the instance only when that peer is a trusted proxy; otherwise the proxy's own
//   values replace them.
// - An absolute-form target ("GET http://shop.test/a?b") reaches the instance in origin form
//   ("GET /a?b") with Host set to the target's authority (RFC 9112 section 3.2.2).
#pragma once

#include <string>
#include <string_view>

#include "proxy/http_parser.h"

namespace bluegreen::proxy {

struct ForwardingContext {
  std::string_view peer_address;  // the connected peer's IP address; empty if unknown
  bool peer_trusted = false;      // the peer is a configured trusted proxy
  bool add_forwarded = true;      // add X-Forwarded-For/-Host/-Proto (ProxyOptions)
};

// The head to send to the instance for `request`, in `out` (cleared first). 100-continue
// expectations are left out: the proxy answers them itself.
void build_request_head(const RequestHead& request, const ForwardingContext& context,
                        std::string& out);

// The head to send to the client for `response` (a 101 keeps its Upgrade header).
// `close_client` adds Connection: close; an HTTP/1.0 client (`client_minor` 0) whose
// connection stays open is told so with Connection: keep-alive.
void build_response_head(const ResponseHead& response, bool close_client, int client_minor,
                         std::string& out);

}  // namespace bluegreen::proxy
