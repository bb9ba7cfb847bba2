// Whether the CLI may send a request to the server address it was given. A loopback address
// is a port any local user can bind while the server is down; what the CLI sends there carries
// deploy parameters (which may hold secrets) and BLUEGREEN_ADMIN_TOKEN. So before anything is
// sent to a loopback address, the kernel is asked who owns the socket LISTENING there
// (frontends/admin/peer_credentials.h).
//
// Invariant: the CLI sends nothing to a loopback address unless every socket listening there
// belongs to the CLI's own user, to root, or to the user BLUEGREEN_SERVER_USER names (for a
// granted user whose server runs as another account). Any other owner is refused naming it
// (permission_denied, exit 3). An address that is not loopback is not checked (the server
// there is on another machine; use a token and TLS for it).
//
// What remains: between this check and the connection the listener could change owner only if
// the server stopped within that instant and another user bound the port at once.
#pragma once

#include <string>

#include "core/error.h"

namespace bluegreen::cli {

// ok when `server_url` ("http://127.0.0.1:7070") may be sent requests; permission_denied naming
// the owner when another user listens there; unavailable when nothing listens there.
Result<void> check_server_owner(const std::string& server_url);

}  // namespace bluegreen::cli
