#include "frontends/dashboard/admin_access.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

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

}  // namespace

bool is_loopback_address(const std::string& address) {
  return is_loopback_host(host_part(address));
}

Result<admin::Filter> admin_access_filter(const std::string& admin_address, const Secret& token,
                                          std::function<HttpResponse()> login_page) {
  if (!token.empty()) {
    if (token.reveal().size() < kMinimumTokenLength) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("the admin token (--admin-token or BLUEGREEN_ADMIN_TOKEN) must be at "
                              "least {} characters long",
                              kMinimumTokenLength));
    }
    return admin::Filter([token, login_page = std::move(login_page)](
                             const HttpRequest& request) -> std::optional<HttpResponse> {
      if (same_secret(offered_token(request), token)) return std::nullopt;
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
  return admin::Filter([](const HttpRequest& request) -> std::optional<HttpResponse> {
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
    return std::nullopt;
  });
}

}  // namespace bluegreen::dashboard
