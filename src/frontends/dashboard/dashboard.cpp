#include "frontends/dashboard/dashboard.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>

#include "frontends/dashboard/admin_access.h"
#include "frontends/dashboard/assets.h"
#include "frontends/dashboard/event_stream.h"

namespace bluegreen::dashboard {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;

// "'sha256-<base64>'", the CSP source that allows exactly this inline block.
std::string csp_hash(std::string_view content) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(content.data(), content.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  int length = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(size));
  return fmt::format("'sha256-{}'", std::string_view(reinterpret_cast<const char*>(encoded.data()),
                                                     static_cast<std::size_t>(length)));
}

std::string replaced(std::string text, std::string_view placeholder, std::string_view content) {
  auto at = text.find(placeholder);
  if (at != std::string::npos) text.replace(at, placeholder.size(), content);
  return text;
}

Page build_page() {
  auto style = embedded_asset("dashboard.css");
  auto script = embedded_asset("dashboard.js");
  Page page;
  page.html = replaced(replaced(std::string(embedded_asset("index.html")), "{{style}}", style),
                       "{{script}}", script);
  page.content_security_policy = fmt::format(
      "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; "
      "img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      csp_hash(script), csp_hash(style));
  return page;
}

HttpResponse page_response(int status) {
  const Page& page = dashboard_page();
  HttpResponse answer;
  answer.status = status;
  answer.content_type = "text/html; charset=utf-8";
  answer.body = page.html;
  answer.headers = {{"Content-Security-Policy", page.content_security_policy},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Referrer-Policy", "no-referrer"},
                    {"Cache-Control", "no-store"}};
  return answer;
}

}  // namespace

const Page& dashboard_page() {
  static const Page page = build_page();
  return page;
}

Result<std::unique_ptr<Dashboard>> add_dashboard(admin::Router& router, DeploymentService& service,
                                                 LiveLog& live_log,
                                                 const DashboardOptions& options) {
  auto access = admin_access_filter(
      options.admin_address, options.admin_token, [] { return page_response(401); },
      options.grants);
  if (!access) return std::unexpected(access.error());
  router.add_filter(std::move(*access));

  auto dashboard = std::make_unique<Dashboard>(service, options.traffic_sample_interval);
  router.add("GET", "/", [](const HttpRequest&) { return page_response(200); });
  router.add("GET", "/deployments/{id}", [](const HttpRequest&) { return page_response(200); });
  EventStreamOptions streams;
  streams.max_streams = options.max_event_streams;
  add_event_stream(router, service, live_log, streams);
  add_metrics(router, service, dashboard->totals());
  return dashboard;
}

}  // namespace bluegreen::dashboard
