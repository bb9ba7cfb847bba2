// How the proxy and the health probe reach a local instance, from its Instance::host and port:
// with Isolation::none a loopback port; with namespaces the instance's own veth address and
// APP_PORT, or, where the server cannot make a veth pair (it is not root), the sockets the
// instance's holder creates in its network namespace and hands the server through its socket
// channel (infra/process/socket_channel.h): `host` is then kSocketChannelHost followed by the
// channel's path, and each socket is connected to 127.0.0.1:port, the instance's own loopback.
#pragma once

#include <string>
#include <string_view>

#include "core/instance.h"

namespace bluegreen {

inline constexpr std::string_view kSocketChannelHost = "channel:";

// The socket channel an instance is reached through; empty when it is reached at the address
// `host` names.
std::string socket_channel_of(const Instance& instance);
// How an instance is reached, for people: "namespace sockets" or "<host>:<port>".
std::string reached_at(const Instance& instance);

}  // namespace bluegreen
