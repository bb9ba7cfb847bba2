// Host name resolution for the HTTP client, without glibc's NSS: a numeric address (IPv4 or
// IPv6 literal) is used as it is, anything else goes through c-ares, which reads /etc/hosts
// and /etc/resolv.conf itself. A statically linked binary (the Lambda bootstrap) can therefore
// resolve names in an image whose shared libraries it does not load, and a numeric host needs
// no file at all.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"

namespace bluegreen::http {

// The addresses of `host` (brackets of an IPv6 literal allowed) with `port`, in the order the
// resolver gives them. Errors: unavailable naming the host and the resolver's cause (no such
// name, no answer); timeout when `deadline` passed first.
Result<std::vector<boost::asio::ip::tcp::endpoint>> resolve_host(
    const std::string& host, int port, std::chrono::steady_clock::time_point deadline);

}  // namespace bluegreen::http
