#include "proxy/address_set.h"

#include <charconv>

namespace bluegreen::proxy {
namespace {

namespace ip = boost::asio::ip;

ip::address_v6::bytes_type as_v6_bytes(const ip::address& address) {
  if (address.is_v4()) return ip::make_address_v6(ip::v4_mapped, address.to_v4()).to_bytes();
  return address.to_v6().to_bytes();
}

bool same_prefix(const ip::address_v6::bytes_type& a, const ip::address_v6::bytes_type& b,
                 unsigned prefix) {
  for (unsigned i = 0; i < 16 && prefix > 0; ++i) {
    const unsigned bits = prefix >= 8 ? 8 : prefix;
    const auto mask = static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
    prefix -= bits;
  }
  return true;
}

}  // namespace

Result<AddressSet> AddressSet::parse(const std::vector<std::string>& entries) {
  AddressSet set;
  for (const std::string& entry : entries) {
    const std::size_t slash = entry.find('/');
    boost::system::error_code ec;
    ip::address address = ip::make_address(entry.substr(0, slash), ec);
    if (ec) {
      return fail(ErrorKind::invalid_input,
                  "trusted proxy '" + entry + "' is not an IP address or address/prefix");
    }
    const unsigned width = address.is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (slash != std::string::npos) {
      const char* begin = entry.data() + slash + 1;
      const char* end = entry.data() + entry.size();
      auto [stop, error] = std::from_chars(begin, end, prefix);
      if (error != std::errc() || stop != end || begin == end || prefix > width) {
        return fail(ErrorKind::invalid_input,
                    "trusted proxy '" + entry + "' has an invalid prefix length");
      }
    }
    Network network;
    network.bytes = as_v6_bytes(address);
    network.prefix = address.is_v4() ? prefix + 96 : prefix;
    set.networks_.push_back(network);
  }
  return set;
}

bool AddressSet::contains(const ip::address& address) const {
  ip::address plain = address;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    plain = ip::make_address_v4(ip::v4_mapped, address.to_v6());
  const auto bytes = as_v6_bytes(plain);
  for (const Network& network : networks_)
    if (same_prefix(bytes, network.bytes, network.prefix)) return true;
  return false;
}

}  // namespace bluegreen::proxy
