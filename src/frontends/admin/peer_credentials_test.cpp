#include "frontends/admin/peer_credentials.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace bluegreen::admin {
namespace {

// A loopback connection made by this process: listener, client, accepted end.
struct Connection {
  int listener = -1;
  int client = -1;
  int accepted = -1;
  sockaddr_storage local{};  // the accepted socket's own address
  sockaddr_storage peer{};   // its peer, the client's address

  sockaddr_storage listening{};  // the listener's address

  explicit Connection(int family) {
    listener = ::socket(family, SOCK_STREAM, 0);
    sockaddr_storage address{};
    socklen_t size = 0;
    if (family == AF_INET) {
      auto& v4 = reinterpret_cast<sockaddr_in&>(address);
      v4.sin_family = AF_INET;
      v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      size = sizeof v4;
    } else {
      auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
      v6.sin6_family = AF_INET6;
      v6.sin6_addr = in6addr_loopback;
      size = sizeof v6;
    }
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      return;
    }
    listening = address;
    client = ::socket(family, SOCK_STREAM, 0);
    if (::connect(client, reinterpret_cast<sockaddr*>(&address), size) != 0) return;
    accepted = ::accept(listener, nullptr, nullptr);
    socklen_t local_size = sizeof local;
    socklen_t peer_size = sizeof peer;
    ::getsockname(accepted, reinterpret_cast<sockaddr*>(&local), &local_size);
    ::getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &peer_size);
  }
  ~Connection() {
    for (int fd : {accepted, client, listener}) {
      if (fd >= 0) ::close(fd);
    }
  }
};

TEST(PeerCredentials, NamesTheUserOfTheClientSocket) {
  for (int family : {AF_INET, AF_INET6}) {
    Connection connection(family);
    if (family == AF_INET6 && connection.accepted < 0) continue;  // no IPv6 loopback here
    ASSERT_GE(connection.accepted, 0);
    EXPECT_EQ(peer_uid(connection.local, connection.peer), ::geteuid()) << family;
    EXPECT_EQ(peer_uid_from_proc(connection.local, connection.peer), ::geteuid()) << family;
  }
}

TEST(PeerCredentials, NoAnswerForASocketThatDoesNotExist) {
  Connection connection(AF_INET);
  ASSERT_GE(connection.accepted, 0);
  auto peer = connection.peer;
  auto& v4 = reinterpret_cast<sockaddr_in&>(peer);
  v4.sin_port = htons(static_cast<std::uint16_t>(ntohs(v4.sin_port) ^ 1));
  EXPECT_EQ(peer_uid(connection.local, peer), std::nullopt);
  EXPECT_EQ(peer_uid_from_proc(connection.local, peer), std::nullopt);
}

TEST(PeerCredentials, OnlyALiveSocketHeldByAProcessHasAnOwner) {
  EXPECT_EQ(connected_owner({65534, 77, TCP_ESTABLISHED}), 65534U);
  EXPECT_EQ(connected_owner({65534, 77, TCP_FIN_WAIT2}), 65534U);  // half-closed, still held
  EXPECT_EQ(connected_owner({65534, 77, TCP_CLOSE_WAIT}), 65534U);
  // What the kernel reports for a client that has already closed: uid 0, inode 0.
  EXPECT_EQ(connected_owner({0, 0, TCP_TIME_WAIT}), std::nullopt);
  EXPECT_EQ(connected_owner({0, 0, TCP_FIN_WAIT2}), std::nullopt);
  EXPECT_EQ(connected_owner({0, 0, TCP_ESTABLISHED}), std::nullopt);
  EXPECT_EQ(connected_owner({0, 77, TCP_TIME_WAIT}), std::nullopt);
  EXPECT_EQ(connected_owner({0, 77, TCP_LISTEN}), std::nullopt);
  EXPECT_EQ(connected_owner({0, 77, TCP_SYN_RECV}), std::nullopt);
}

TEST(PeerCredentials, AClientThatClosedItsSocketIsNobody) {
  Connection connection(AF_INET);
  ASSERT_GE(connection.accepted, 0);
  ::close(connection.client);  // orphaned in FIN_WAIT2: the kernel says uid 0, inode 0
  connection.client = -1;
  EXPECT_EQ(peer_uid(connection.local, connection.peer), std::nullopt);
  EXPECT_EQ(peer_uid_from_proc(connection.local, connection.peer), std::nullopt);
  ::close(connection.accepted);  // the client's end goes to TIME_WAIT
  connection.accepted = -1;
  EXPECT_EQ(peer_uid(connection.local, connection.peer), std::nullopt);
  EXPECT_EQ(peer_uid_from_proc(connection.local, connection.peer), std::nullopt);
}

TEST(PeerCredentials, AHalfClosedClientKeepsItsUser) {
  Connection connection(AF_INET);
  ASSERT_GE(connection.accepted, 0);
  ASSERT_EQ(::shutdown(connection.client, SHUT_WR), 0);
  EXPECT_EQ(peer_uid(connection.local, connection.peer), ::geteuid());
  EXPECT_EQ(peer_uid_from_proc(connection.local, connection.peer), ::geteuid());
}

TEST(PeerCredentials, NamesTheUserOfAListener) {
  Connection connection(AF_INET);
  ASSERT_GE(connection.accepted, 0);
  std::vector<std::uint32_t> mine{static_cast<std::uint32_t>(::geteuid())};
  EXPECT_EQ(listener_uids(connection.listening), mine);
  EXPECT_EQ(listener_uids_from_proc(connection.listening), mine);
  auto port = std::to_string(ntohs(reinterpret_cast<sockaddr_in&>(connection.listening).sin_port));
  auto held = "held by a process of user " + user_name_of(::geteuid());
  EXPECT_EQ(listener_holders("127.0.0.1:" + port).rfind(held, 0), 0U);
  EXPECT_EQ(listener_holders("0.0.0.0:" + port).rfind(held, 0), 0U);  // any address on the port
  ::close(connection.listener);
  connection.listener = -1;
  EXPECT_EQ(listener_holders("127.0.0.1:" + port), "");
  EXPECT_EQ(listener_uids(connection.listening), std::vector<std::uint32_t>{});
  EXPECT_EQ(listener_uids_from_proc(connection.listening), std::vector<std::uint32_t>{});
}

}  // namespace
}  // namespace bluegreen::admin
