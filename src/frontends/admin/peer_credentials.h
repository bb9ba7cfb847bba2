// Who is on the other end of a loopback TCP connection, and who serves a loopback address: the
// user id that owns a socket, as the kernel records it. The admin address uses it to know which
// local user asks (frontends/dashboard/admin_access.h) without any credential from the client;
// the CLI uses it to know who listens at the server address before it sends anything there
// (frontends/cli/server_owner.h); the group status uses it to name who holds a LISTEN port.
//
// The kernel is asked by the connection's 4-tuple (sock_diag over netlink, the interface
// `ss` uses; /proc/net/tcp and /proc/net/tcp6 when netlink is unavailable). Only the client's
// own socket has the client's address as its local end, so the answer cannot be forged by
// the client; a peer on another machine has no such socket here and gets no answer.
//
// Invariant: an owner is only ever taken from a LIVE socket HELD BY A PROCESS: its inode is
// not 0 (a process has it open) and its state is a connected one (ESTABLISHED, or one that a
// process still holding the socket reaches by closing one direction: FIN_WAIT1, FIN_WAIT2,
// CLOSE_WAIT, CLOSING, LAST_ACK), or LISTEN for a listener. A socket its process has closed
// (orphaned in FIN_WAIT*, or TIME_WAIT) is reported by the kernel with uid 0 and inode 0:
// taking that answer would make any client that sends its request and closes at once pass for
// root. Such a socket, like one the kernel does not know, has no owner (nullopt), and the
// admin address refuses it as it refuses an unknown user (403).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::admin {

// One socket as the kernel describes it (inet_diag_msg, or one line of /proc/net/tcp).
struct SocketRecord {
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;  // 0: no process holds the socket any more
  std::uint8_t state = 0;   // TCP_ESTABLISHED, TCP_LISTEN, ... (netinet/tcp.h)
};

// The uid of `record` when it is a live connected socket held by a process (see the invariant
// above); nullopt otherwise.
std::optional<std::uint32_t> connected_owner(const SocketRecord& record);

// The uid owning the socket whose local end is `peer` and remote end is `local` (both the
// accepted connection's addresses, AF_INET or AF_INET6). nullopt when the kernel knows no live
// socket held by a process there (the peer is remote, or has already closed its end).
std::optional<std::uint32_t> peer_uid(const sockaddr_storage& local, const sockaddr_storage& peer);

// The same from /proc/net/tcp{,6} alone (what peer_uid falls back to).
std::optional<std::uint32_t> peer_uid_from_proc(const sockaddr_storage& local,
                                                const sockaddr_storage& peer);

// The uids owning the sockets in LISTEN that a connection to `address` (AF_INET or AF_INET6,
// with its port) can reach: bound to that address, to the wildcard address of its family, or
// (for IPv4) to the IPv6 wildcard or the v4-mapped address. Empty when nothing listens there;
// nullopt when the kernel could not be asked.
std::optional<std::vector<std::uint32_t>> listener_uids(const sockaddr_storage& address);

// The same from /proc/net/tcp{,6} alone (what listener_uids falls back to).
std::optional<std::vector<std::uint32_t>> listener_uids_from_proc(const sockaddr_storage& address);

// "held by a process of user nobody (uid 65534)" when something listens at `host_port`
// ("127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080": any listener on that port); "" when nothing
// does, or it cannot be told.
std::string listener_holders(const std::string& host_port);

// The account name of `uid`, or "uid N" when it has none.
std::string user_name_of(std::uint32_t uid);

}  // namespace bluegreen::admin
