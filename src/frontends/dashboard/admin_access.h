// AdminAccess: who may use the admin address (the API, the dashboard, its event stream and
// /metrics). Decided once at start from the address and the token:
//
// - With a token (--admin-token, or BLUEGREEN_ADMIN_TOKEN): every request must carry it, as
//   `Authorization: Bearer <token>`. The event stream (GET kEventStreamPath) may carry it as
//   `?token=` instead, because a browser's EventSource cannot set headers. Anything else
//   answers 401. A browser asking for a page gets the page itself with the 401: it holds no
//   data, asks for the token and then sends it with every request.
// - Without a token, on a loopback address: requests are served, but only when their Host
//   names a loopback address and, for requests that change something, their Origin (if any)
//   is that same host. A web page elsewhere cannot reach the API through the user's browser
//   (DNS rebinding, cross-site form posts).
// - Without a token, on any other address: refused at start, since anyone who can reach the
//   port could deploy and roll back.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"
#include "core/secret.h"
#include "frontends/server/http_server.h"

namespace bluegreen::dashboard {

// A token shorter than this is refused: it would be guessable.
inline constexpr std::size_t kMinimumTokenLength = 16;

// Whether "host:port" names a loopback host (127.0.0.0/8, ::1, localhost).
bool is_loopback_address(const std::string& address);

// The filter that enforces the rules above for an admin address. `login_page` makes what a
// browser asking for a page gets (the filter sets the status to 401). Errors (invalid_input):
// a non-loopback address without a token, or a token that is too short; the message says what
// to set.
Result<admin::Filter> admin_access_filter(const std::string& admin_address, const Secret& token,
                                          std::function<admin::HttpResponse()> login_page);

}  // namespace bluegreen::dashboard
