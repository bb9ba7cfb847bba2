// URL pieces and RFC 3986 percent-encoding, as HTTP requests and AWS signing need them.
// Pure functions; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace bluegreen::http {

// Percent-encodes every byte except the RFC 3986 unreserved characters `A-Za-z0-9-_.~`
// (and `/` when `keep_slash`), with upper-case hex digits: "a b/c" -> "a%20b%2Fc".
std::string uri_encode(std::string_view text, bool keep_slash = false);

// Decodes %XX sequences; a malformed sequence is kept as it is. `+` stays `+`.
std::string uri_decode(std::string_view text);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "k1=v1&k2=v2" with keys and values uri_encode()d, in the given order.
std::string encode_query(const QueryParams& params);

// Splits "a=1&b=&c" into decoded pairs ({"a","1"},{"b",""},{"c",""}).
QueryParams decode_query(std::string_view query);

struct Url {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // lower case; an IPv6 literal keeps its brackets
  int port = 0;        // the explicit port, or the scheme's default (80/443)
  bool explicit_port = false;
  std::string path;   // as written (already encoded), "" when the URL has none
  std::string query;  // as written, without '?'

  // host, plus ":port" unless the port is the scheme's default: the Host header's value.
  std::string authority() const;
  // scheme://authority, without path: "https://s3.us-east-1.amazonaws.com".
  std::string origin() const;
};

// Parses an absolute http(s) URL. Errors: invalid_input naming what is wrong (no scheme,
// unsupported scheme, no host, bad port). User information ("user:pass@") is refused so that a
// credential never hides in a URL.
Result<Url> parse_url(std::string_view url);

// The URL without its query string, for messages: "https://host/path".
std::string describe_url(std::string_view url);

}  // namespace bluegreen::http
