// Who is on the other end of a loopback TCP connection: the user id that owns the client's
// socket, as the kernel records it. The admin address uses it to know which local user asks
// (frontends/dashboard/admin_access.h) without any credential from the client.
//
// The kernel is asked by the connection's 4-tuple (sock_diag over netlink, the interface
// `ss` uses; /proc/net/tcp and /proc/net/tcp6 when netlink is unavailable). Only the client's
// own socket has the client's address as its local end, so the answer cannot be forged by
// the client; a peer on another machine has no such socket here and gets no answer.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>

namespace bluegreen::admin {

// The uid owning the socket whose local end is `peer` and remote end is `local` (both the
// accepted connection's addresses, AF_INET or AF_INET6). nullopt when the kernel knows no such
// socket (the peer is remote, or has already closed).
std::optional<std::uint32_t> peer_uid(const sockaddr_storage& local, const sockaddr_storage& peer);

// The same from /proc/net/tcp{,6} alone (what peer_uid falls back to).
std::optional<std::uint32_t> peer_uid_from_proc(const sockaddr_storage& local,
                                                const sockaddr_storage& peer);

}  // namespace bluegreen::admin
