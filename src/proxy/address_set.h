// AddressSet: a set of IP networks ("10.0.0.7", "10.0.0.0/8", "::1", "fd00::/8"), the form in
// which the operator names the trusted proxies whose X-Forwarded-* headers the proxy keeps.
// Immutable after parse(); safe to read from any thread.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace bluegreen::proxy {

class AddressSet {
 public:
  // Fails (invalid_input, naming the entry) on anything that is not an IP address or an
  // address/prefix-length network.
  static Result<AddressSet> parse(const std::vector<std::string>& entries);

  // True when `address` lies in one of the networks. An IPv4-mapped IPv6 address
  // (::ffff:10.0.0.7) is compared as the IPv4 address it carries.
  bool contains(const boost::asio::ip::address& address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    boost::asio::ip::address_v6::bytes_type bytes{};  // IPv4 as IPv4-mapped IPv6
    unsigned prefix = 128;                            // over the 128 bits above
  };
  std::vector<Network> networks_;
};

}  // namespace bluegreen::proxy
