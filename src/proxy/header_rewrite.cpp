#include "proxy/header_rewrite.h"

#include <array>

namespace bluegreen::proxy {
namespace {

// Calls `f` with each element of a comma-separated header value, trimmed.
template <typename F>
void for_each_option(std::string_view value, F&& f) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

bool always_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 16:
      return iequals(name, "proxy-connection");
    case 19:
      return iequals(name, "proxy-authorization");
    default:
      return false;
  }
}

// The body passes unchanged, so whatever frames it must reach the other side.
bool framing_header(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "host");
}

// True when a Connection header among `headers` names `name`. Most messages have no
// Connection header or one with a single option, so a scan costs less than building a set.
bool named_by_connection(const std::vector<Header>& headers, std::string_view name) {
  bool named = false;
  for (const Header& h : headers) {
    if (!iequals(h.name, "connection")) continue;
    for_each_option(h.value, [&](std::string_view option) {
      if (iequals(option, name)) named = true;
    });
  }
  return named;
}

bool has_connection_header(const std::vector<Header>& headers) {
  for (const Header& h : headers)
    if (iequals(h.name, "connection")) return true;
  return false;
}

// Whether a header stays on its connection. `keep_upgrade`: a real protocol switch.
bool stays_on_connection(const std::vector<Header>& headers, bool any_connection,
                         std::string_view name, bool keep_upgrade) {
  if (keep_upgrade && iequals(name, "upgrade")) return false;
  if (always_hop_by_hop(name)) return true;
  return any_connection && !framing_header(name) && named_by_connection(headers, name);
}

enum class Forwarding { none, for_address, host, proto, forwarded };

Forwarding forwarding_header(std::string_view name) {
  if (iequals(name, "x-forwarded-for")) return Forwarding::for_address;
  if (iequals(name, "x-forwarded-host")) return Forwarding::host;
  if (iequals(name, "x-forwarded-proto")) return Forwarding::proto;
  if (iequals(name, "forwarded")) return Forwarding::forwarded;
  return Forwarding::none;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

void build_request_head(const RequestHead& request, const ForwardingContext& context,
                        std::string& out) {
  out.clear();
  const bool absolute = !request.authority.empty();
  out.append(request.method).append(" ");
  if (absolute) {
    if (request.path_and_query.empty() || request.path_and_query.front() != '/') out.append("/");
    out.append(request.path_and_query);
  } else {
    out.append(request.target);
  }
  out.append(" HTTP/1.1\r\n");

  const bool any_connection = has_connection_header(request.headers);
  std::string_view host;
  std::string forwarded_for;  // the trusted chain, joined
  bool sent_host = false;
  bool sent_proto = false;
  for (const Header& h : request.headers) {
    if (stays_on_connection(request.headers, any_connection, h.name, request.upgrade)) continue;
    // 100-continue is answered by the proxy itself (see the forwarder).
    if (request.expect_continue && iequals(h.name, "expect")) continue;
    if (iequals(h.name, "host")) {
      host = absolute ? request.authority : h.value;
      append_header(out, h.name, host);
      continue;
    }
    const Forwarding kind = forwarding_header(h.name);
    if (kind != Forwarding::none) {
      if (!context.peer_trusted) continue;
      if (kind == Forwarding::for_address) {
        if (!forwarded_for.empty()) forwarded_for.append(", ");
        forwarded_for.append(h.value);
        continue;
      }
      sent_host = sent_host || kind == Forwarding::host;
      sent_proto = sent_proto || kind == Forwarding::proto;
    }
    append_header(out, h.name, h.value);
  }
  if (absolute && host.empty()) {  // an HTTP/1.0 request may come without Host
    host = request.authority;
    append_header(out, "Host", host);
  }
  if (request.upgrade) out.append("Connection: upgrade\r\n");
  if (context.add_forwarded && !context.peer_address.empty()) {
    if (!forwarded_for.empty()) forwarded_for.append(", ");
    forwarded_for.append(context.peer_address);
  }
  if (!forwarded_for.empty()) append_header(out, "X-Forwarded-For", forwarded_for);
  if (context.add_forwarded) {
    if (!sent_host && !host.empty()) append_header(out, "X-Forwarded-Host", host);
    if (!sent_proto) append_header(out, "X-Forwarded-Proto", "http");
  }
  out.append("\r\n");
}

void build_response_head(const ResponseHead& response, bool close_client, int client_minor,
                         std::string& out) {
  out.clear();
  const std::array<char, 3> status = {static_cast<char>('0' + response.status / 100),
                                      static_cast<char>('0' + response.status / 10 % 10),
                                      static_cast<char>('0' + response.status % 10)};
  out.append("HTTP/1.1 ").append(status.data(), 3).append(" ").append(response.reason);
  out.append("\r\n");
  const bool switching = response.status == 101;
  const bool any_connection = has_connection_header(response.headers);
  for (const Header& h : response.headers) {
    if (stays_on_connection(response.headers, any_connection, h.name, switching)) continue;
    append_header(out, h.name, h.value);
  }
  if (switching) {
    out.append("Connection: upgrade\r\n");
  } else if (close_client) {
    out.append("Connection: close\r\n");
  } else if (client_minor == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

}  // namespace bluegreen::proxy
