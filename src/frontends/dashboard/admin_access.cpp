#include "frontends/dashboard/admin_access.h"

#include <fmt/format.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "frontends/dashboard/event_stream.h"

namespace bluegreen::dashboard {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;

// "127.0.0.1:7070" -> "127.0.0.1", "[::1]:7070" -> "::1", "localhost" -> "localhost".
std::string host_part(std::string_view authority) {
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    return std::string(authority.substr(1, close == authority.npos ? authority.npos : close - 1));
  }
  auto colon = authority.rfind(':');
  return std::string(authority.substr(0, colon));
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(host, ec);
  return !ec && ip.is_loopback();
}

bool same_secret(const std::string& offered, const Secret& token) {
  const std::string& expected = token.reveal();
  return offered.size() == expected.size() &&
         CRYPTO_memcmp(offered.data(), expected.data(), expected.size()) == 0;
}

std::string offered_token(const HttpRequest& request) {
  auto authorization = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      std::string_view(authorization).substr(0, kBearer.size()) == kBearer) {
    return authorization.substr(kBearer.size());
  }
  if (request.method == "GET" && request.path == kEventStreamPath) {
    if (auto it = request.query.find("token"); it != request.query.end()) return it->second;
  }
  return {};
}

bool wants_page(const HttpRequest& request) {
  return request.method == "GET" && request.header("accept").find("text/html") != std::string::npos;
}

HttpResponse refusal(int status, const std::string& kind, const std::string& message) {
  nlohmann::json body{{"error", {{"kind", kind}, {"message", message}}}};
  return HttpResponse::json(status, body.dump());
}

HttpResponse unauthorized(const HttpRequest& request,
                          const std::function<HttpResponse()>& login_page) {
  HttpResponse answer =
      wants_page(request)
          ? login_page()
          : refusal(401, "unauthorized",
                    "this admin address needs its token: send \"Authorization: Bearer <token>\" "
                    "(the server's --admin-token or BLUEGREEN_ADMIN_TOKEN)");
  answer.status = 401;
  answer.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"bluegreen\"");
  return answer;
}

bool changes_something(const HttpRequest& request) {
  return request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS";
}

struct ResolvedGrants {
  std::set<std::uint32_t> uids;  // the server's own user and root included
  std::set<std::uint32_t> gids;
};

Result<ResolvedGrants> resolve(const LocalGrants& grants) {
  ResolvedGrants resolved;
  resolved.uids = {static_cast<std::uint32_t>(::geteuid()), 0};
  std::vector<char> buffer(16384);
  for (const auto& name : grants.users) {
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("--allow-user: there is no local user named \"{}\"", name));
    }
    resolved.uids.insert(found->pw_uid);
  }
  for (const auto& name : grants.groups) {
    group entry{};
    group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("--allow-group: there is no local group named \"{}\"", name));
    }
    resolved.gids.insert(found->gr_gid);
  }
  return resolved;
}

// Asked at each request, so that a user added to a granted group is let in without a restart.
bool in_any_group(std::uint32_t uid, const std::set<std::uint32_t>& gids) {
  if (gids.empty()) return false;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return false;
  if (gids.contains(found->pw_gid)) return true;
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) return false;
  }
  groups.resize(static_cast<std::size_t>(count));
  return std::any_of(groups.begin(), groups.end(),
                     [&](gid_t gid) { return gids.contains(static_cast<std::uint32_t>(gid)); });
}

std::optional<HttpResponse> refuse_user(const HttpRequest& request) {
  if (!request.peer_uid) {
    return refusal(
        403, "permission_denied",
        "the server cannot tell which local user opened this connection (it comes "
        "from another machine, or its client closed its end before the server read "
        "it), so it refuses it; connect to the admin address from this machine, or give the "
        "server a token (BLUEGREEN_ADMIN_TOKEN) and send it");
  }
  auto name = user_name(*request.peer_uid);
  return refusal(
      403, "permission_denied",
      fmt::format("user {} (uid {}) may not use this bluegreen server, which runs as {}; the "
                  "operator can grant access by starting it with `bluegreen server "
                  "--allow-user {}` (or --allow-group GROUP for a group of users)",
                  name, *request.peer_uid, user_name(static_cast<std::uint32_t>(::geteuid())),
                  name));
}

}  // namespace

std::string user_name(std::uint32_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found &&
      found->pw_name && *found->pw_name) {
    return found->pw_name;
  }
  return fmt::format("uid {}", uid);
}

bool is_loopback_address(const std::string& address) {
  return is_loopback_host(host_part(address));
}

Result<admin::Filter> admin_access_filter(const std::string& admin_address, const Secret& token,
                                          std::function<HttpResponse()> login_page,
                                          const LocalGrants& grants) {
  if (!token.empty() && (!grants.users.empty() || !grants.groups.empty())) {
    return fail(ErrorKind::invalid_input,
                "--allow-user and --allow-group grant local users access to a server without "
                "an admin token; with a token, give those users the token instead");
  }
  if (!token.empty()) {
    if (token.reveal().size() < kMinimumTokenLength) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("the admin token (--admin-token or BLUEGREEN_ADMIN_TOKEN) must be at "
                              "least {} characters long",
                              kMinimumTokenLength));
    }
    return admin::Filter([token, login_page = std::move(login_page)](
                             HttpRequest& request) -> std::optional<HttpResponse> {
      if (same_secret(offered_token(request), token)) {
        request.principal = "token";
        return std::nullopt;
      }
      return unauthorized(request, login_page);
    });
  }
  if (!is_loopback_address(admin_address)) {
    return fail(ErrorKind::invalid_input,
                fmt::format("the admin address {} is reachable from other machines, so it needs a "
                            "token: set BLUEGREEN_ADMIN_TOKEN or pass --admin-token (at least {} "
                            "characters), or bind the admin address to 127.0.0.1",
                            admin_address, kMinimumTokenLength));
  }
  auto resolved = resolve(grants);
  if (!resolved) return std::unexpected(resolved.error());
  return admin::Filter([grants = std::move(*resolved)](
                           HttpRequest& request) -> std::optional<HttpResponse> {
    auto host = request.header("host");
    if (!host.empty() && !is_loopback_host(host_part(host))) {
      return refusal(403, "permission_denied",
                     fmt::format("the admin address answers only to loopback names, not \"{}\"; "
                                 "give the server a token to reach it by another name",
                                 host));
    }
    auto origin = request.header("origin");
    if (changes_something(request) && !origin.empty() && origin != "http://" + host) {
      return refusal(403, "permission_denied",
                     fmt::format("requests from pages of {} may not change deployments", origin));
    }
    if (!request.peer_uid || (!grants.uids.contains(*request.peer_uid) &&
                              !in_any_group(*request.peer_uid, grants.gids))) {
      return refuse_user(request);
    }
    request.principal = user_name(*request.peer_uid);
    return std::nullopt;
  });
}

}  // namespace bluegreen::dashboard
