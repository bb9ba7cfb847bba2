#include "frontends/cli/admin_client.h"

#include <fmt/format.h>

#include <cstdlib>

#include "frontends/cli/json_member.h"
#include "frontends/cli/server_owner.h"
#include "infra/http/curl_http_client.h"

namespace bluegreen::cli {
namespace {

// The CLI talks to its own server directly; a proxy from the environment (http_proxy) must
// not carry loopback requests.
void bypass_proxy_for_loopback() {
  std::string no_proxy;
  if (const char* current = std::getenv("NO_PROXY")) no_proxy = current;
  if (no_proxy.find("127.0.0.1") != std::string::npos) return;
  no_proxy += std::string(no_proxy.empty() ? "" : ",") + "127.0.0.1,localhost,::1";
  ::setenv("NO_PROXY", no_proxy.c_str(), 1);
  ::setenv("no_proxy", no_proxy.c_str(), 1);
}

std::string path_of(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

}  // namespace

AdminClient::AdminClient(std::string server, Secret admin_token)
    : server_(std::move(server)), admin_token_(std::move(admin_token)) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
  // "127.0.0.1:7070" is what the server prints as its address; it means plain HTTP.
  if (!server_.empty() && server_.find("://") == std::string::npos) server_ = "http://" + server_;
  bypass_proxy_for_loopback();
  http::CurlOptions options;
  options.connect_timeout = std::chrono::milliseconds(3000);
  options.total_timeout = std::chrono::milliseconds(120'000);
  http_ = std::make_unique<http::CurlHttpClient>(options);
}

AdminClient::~AdminClient() = default;

Result<nlohmann::json> AdminClient::get(const std::string& path) {
  http::Request request;
  request.method = "GET";
  request.url = server_ + path;
  return send(std::move(request));
}

Result<nlohmann::json> AdminClient::post(const std::string& path, const std::string& body) {
  http::Request request;
  request.method = "POST";
  request.url = server_ + path;
  request.body = body;
  request.headers = {{"Content-Type", "application/json"}};
  return send(std::move(request));
}

Result<nlohmann::json> AdminClient::send(http::Request request) {
  // Checked before every request: the server may have been replaced since the last one.
  if (auto owner = check_server_owner(server_); !owner) return std::unexpected(owner.error());
  if (!admin_token_.empty()) {
    http::set_header(request.headers, "Authorization", "Bearer " + admin_token_.reveal());
  }
  auto response = http_->send(request);
  if (!response) {
    return fail(ErrorKind::unavailable,
                fmt::format("cannot reach the bluegreen server at {} ({}); start one with "
                            "`bluegreen server`, or point --server or BLUEGREEN_SERVER at it",
                            server_, response.error().message));
  }
  auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (response->ok() && body.is_object()) return body;
  if (response->status == 401) {
    return fail(ErrorKind::permission_denied,
                fmt::format("the bluegreen server at {} wants its admin token{}: set "
                            "BLUEGREEN_ADMIN_TOKEN to the token it was started with",
                            server_, admin_token_.empty() ? "" : ", and this one is not it"));
  }
  if (body.is_object() && body.contains("error") && member(body, "error").is_object()) {
    const auto& error = member(body, "error");
    auto parsed = error_kind_from_string(error.value("kind", "")).value_or(ErrorKind::internal);
    return fail_with_code(parsed, error.value("code", ""),
                          error.value("message", "the server gave no reason"));
  }
  if (response->status == 403) {
    return fail(ErrorKind::permission_denied,
                fmt::format("{} {} answered HTTP 403", request.method, request.url));
  }
  // Every answer of a bluegreen server is a JSON object, its errors {"error": {...}}.
  return fail(ErrorKind::unavailable,
              fmt::format("{} is not a bluegreen server: {} {} answered HTTP {} with {}; point "
                          "--server or BLUEGREEN_SERVER at the address `bluegreen server` "
                          "printed",
                          server_, request.method, path_of(request.url), response->status,
                          body.is_discarded() ? "something that is not JSON"
                                              : "JSON that is not bluegreen's"));
}

}  // namespace bluegreen::cli
