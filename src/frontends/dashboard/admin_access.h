// AdminAccess: who may use the admin address (the API, the dashboard, its event stream and
// /metrics). Decided once at start from the address and the token:
//
// - With a token (--admin-token, or BLUEGREEN_ADMIN_TOKEN): every request must carry it, as
//   `Authorization: Bearer <token>`; the request is then made by "token". The event stream (GET
//   kEventStreamPath) may carry it as
//   `?token=` instead, because a browser's EventSource cannot set headers. Anything else
//   answers 401. A browser asking for a page gets the page itself with the 401: it holds no
//   data, asks for the token and then sends it with every request.
// - Without a token, on a loopback address: a request is served only when
//   (a) its Host names a loopback address and, for requests that change something, its
//       Origin (if any) is that same host: a web page elsewhere cannot reach the API through
//       the user's browser (DNS rebinding, cross-site form posts); and
//   (b) the local user whose socket connected (HttpRequest::peer_uid, from the kernel) is the
//       user the server runs as, root, a user granted with --allow-user, or a member of a
//       group granted with --allow-group. The request is then made by that user's name.
//   Every other local user, and a connection whose user the kernel cannot name, is answered
//   403 on every route (API, pages, event stream, /metrics), with a message that says how the
//   operator grants access. Invariant: nothing a refused user sends changes or reveals
//   anything, and no header chooses who a request is made by.
// - Without a token, on any other address: refused at start, since anyone who can reach the
//   port could deploy and roll back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/secret.h"
#include "frontends/admin/http_server.h"

namespace bluegreen::dashboard {

// A token shorter than this is refused: it would be guessable.
inline constexpr std::size_t kMinimumTokenLength = 16;

// Whether "host:port" names a loopback host (127.0.0.0/8, ::1, localhost).
bool is_loopback_address(const std::string& address);

// Local users and groups the operator lets in besides the server's own user and root
// (`bluegreen server --allow-user NAME --allow-group NAME`), by name.
struct LocalGrants {
  std::vector<std::string> users;
  std::vector<std::string> groups;
};

// The filter that enforces the rules above for an admin address; it sets the request's
// principal. `login_page` makes what a browser asking for a page gets (the filter sets the
// status to 401). Errors (invalid_input): a non-loopback address without a token, a token that
// is too short, grants together with a token, a granted user or group that does not exist;
// the message says what to set.
Result<admin::Filter> admin_access_filter(const std::string& admin_address, const Secret& token,
                                          std::function<admin::HttpResponse()> login_page,
                                          const LocalGrants& grants = {});

// The name of a local user ("nobody"), or "uid 1234" when it has none.
std::string user_name(std::uint32_t uid);

}  // namespace bluegreen::dashboard
