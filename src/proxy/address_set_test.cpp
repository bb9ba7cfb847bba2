#include "proxy/address_set.h"

#include <gtest/gtest.h>

namespace bluegreen::proxy {
namespace {

boost::asio::ip::address ip(const char* text) {
  return boost::asio::ip::make_address(text);
}

TEST(AddressSet, MatchesAddressesAndNetworks) {
  auto set = AddressSet::parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_TRUE(set->contains(ip("10.200.3.4")));
  EXPECT_TRUE(set->contains(ip("192.168.1.7")));
  EXPECT_TRUE(set->contains(ip("::ffff:10.1.1.1")));  // an IPv4 peer on a dual-stack socket
  EXPECT_TRUE(set->contains(ip("fd12::1")));
  EXPECT_FALSE(set->contains(ip("11.0.0.1")));
  EXPECT_FALSE(set->contains(ip("192.168.1.8")));
  EXPECT_FALSE(set->contains(ip("fe80::1")));
  EXPECT_FALSE(set->contains(ip("::a00:1")));  // not 10.0.0.1 (that is ::ffff:a00:1)
}

TEST(AddressSet, EmptyTrustsNobody) {
  auto set = AddressSet::parse({});
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->contains(ip("127.0.0.1")));
}

TEST(AddressSet, RefusesWhatIsNotANetwork) {
  for (const char* entry : {"localhost", "10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.1/x", ""}) {
    auto set = AddressSet::parse({entry});
    ASSERT_FALSE(set) << entry;
    EXPECT_EQ(set.error().kind, ErrorKind::invalid_input);
  }
}

}  // namespace
}  // namespace bluegreen::proxy
