// Socket channel: how a process reaches the network namespace of an instance host it cannot
// enter (a server without CAP_SYS_ADMIN in the machine's namespaces). A socket belongs for its
// whole life to the network namespace it was created in, so the instance's holder
// (pid_namespace.h, HostView::socket_channel) creates fresh TCP sockets in its namespace and
// hands them over a Unix socket; this process then connects one to 127.0.0.1:<port>, which is
// the instance's own loopback.
//
// Invariants:
// - The channel is a Unix socket file (mode 0600) this process binds in a directory only it
//   can reach, so no other local user connects to it; the instance's view does not show that
//   directory.
// - socket_from_channel() returns only a new IPv4 TCP socket (never bound: not connected, not
//   connecting, not listening), so whatever answers on the channel cannot make its caller talk
//   to anything but the address it connects that socket to, inside the namespace the socket
//   came from.
//
// Thread-safe: no shared state.
#pragma once

#include <chrono>
#include <filesystem>

#include "core/error.h"

namespace bluegreen {

// Binds and listens on a Unix socket at `path` (a stale file there is replaced; its directory
// must be one only this process's user can reach), mode 0600, non-blocking, close-on-exec. Works
// for a path longer than a socket address holds. Errors: internal naming the path and the cause.
Result<int> open_socket_channel(const std::filesystem::path& path);

// Hands `fd` over `connection` as socket_from_channel() takes it; with `fd` < 0, one byte and no
// descriptor (what is served could not be made). System calls only, never blocking: safe in a
// child forked from a multithreaded process. Returns whether it was sent.
bool send_socket(int connection, int fd);

// A new TCP socket of the channel's namespace, close-on-exec (the caller owns it). Errors:
// unavailable when nothing serves the channel (its instance is gone) or it answers no socket
// within `timeout`; failed when what it handed over is not a new IPv4 TCP socket.
Result<int> socket_from_channel(
    const std::filesystem::path& path,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

}  // namespace bluegreen
