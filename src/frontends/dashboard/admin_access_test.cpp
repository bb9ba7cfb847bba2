#include "frontends/dashboard/admin_access.h"

#include <gtest/gtest.h>

#include "frontends/dashboard/event_stream.h"

namespace bluegreen::dashboard {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;

const Secret kToken("0123456789abcdef-token");

HttpResponse login_page() {
  HttpResponse page;
  page.content_type = "text/html; charset=utf-8";
  page.body = "<!doctype html>the page";
  return page;
}

admin::Filter filter_for(const std::string& address, const Secret& token) {
  auto filter = admin_access_filter(address, token, login_page);
  EXPECT_TRUE(filter) << filter.error().message;
  return filter ? *filter : admin::Filter([](const HttpRequest&) {
    return std::optional<HttpResponse>(HttpResponse::json(500, "{}"));
  });
}

HttpRequest request(std::string method, std::string path,
                    std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

TEST(AdminAccess, LoopbackAddresses) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1:7070"));
  EXPECT_TRUE(is_loopback_address("127.8.9.1:0"));
  EXPECT_TRUE(is_loopback_address("localhost:7070"));
  EXPECT_TRUE(is_loopback_address("[::1]:7070"));
  EXPECT_FALSE(is_loopback_address("0.0.0.0:7070"));
  EXPECT_FALSE(is_loopback_address("[::]:7070"));
  EXPECT_FALSE(is_loopback_address("192.168.1.20:7070"));
}

TEST(AdminAccess, AnAddressOtherMachinesReachNeedsAToken) {
  auto refused = admin_access_filter("0.0.0.0:7070", Secret(), login_page);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(refused.error().message.find("BLUEGREEN_ADMIN_TOKEN"), std::string::npos);
  EXPECT_NE(refused.error().message.find("0.0.0.0:7070"), std::string::npos);
}

TEST(AdminAccess, AShortTokenIsRefusedWithoutShowingIt) {
  auto refused = admin_access_filter("0.0.0.0:7070", Secret("hunter2"), login_page);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find("hunter2"), std::string::npos);
}

TEST(AdminAccess, WithATokenEveryRequestMustCarryIt) {
  auto filter = filter_for("0.0.0.0:7070", kToken);
  for (auto [method, path] : {std::pair{"GET", "/api/status"}, std::pair{"POST", "/api/rollback"},
                              std::pair{"GET", "/metrics"}, std::pair{"GET", "/"}}) {
    auto answer = filter(request(method, path));
    ASSERT_TRUE(answer) << method << " " << path;
    EXPECT_EQ(answer->status, 401);
    EXPECT_EQ(answer->body.find(kToken.reveal()), std::string::npos);
  }
  EXPECT_FALSE(
      filter(request("POST", "/api/rollback", {{"authorization", "Bearer " + kToken.reveal()}})));
  auto wrong =
      filter(request("GET", "/api/status", {{"authorization", "Bearer 0123456789abcdef-tokeN"}}));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

TEST(AdminAccess, TheTokenInTheQueryCountsOnlyForTheEventStream) {
  auto filter = filter_for("0.0.0.0:7070", kToken);
  auto stream = request("GET", kEventStreamPath);
  stream.query["token"] = kToken.reveal();
  EXPECT_FALSE(filter(stream));
  auto other = request("GET", "/api/status");
  other.query["token"] = kToken.reveal();
  EXPECT_TRUE(filter(other));
}

TEST(AdminAccess, ABrowserWithoutTheTokenGetsThePageThatAsksForIt) {
  auto filter = filter_for("0.0.0.0:7070", kToken);
  auto answer = filter(request("GET", "/deployments/d-1", {{"accept", "text/html,*/*"}}));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 401);
  EXPECT_EQ(answer->body, "<!doctype html>the page");
  auto api = filter(request("GET", "/api/status", {{"accept", "application/json"}}));
  ASSERT_TRUE(api);
  EXPECT_NE(api->body.find("\"unauthorized\""), std::string::npos);
}

TEST(AdminAccess, LoopbackWithoutATokenAnswersOnlyLoopbackNamesAndSameOriginChanges) {
  auto filter = filter_for("127.0.0.1:7070", Secret());
  EXPECT_FALSE(filter(request("GET", "/api/status", {{"host", "127.0.0.1:7070"}})));
  EXPECT_FALSE(filter(request("GET", "/api/status", {{"host", "localhost:7070"}})));
  EXPECT_FALSE(filter(request("POST", "/api/rollback",
                              {{"host", "127.0.0.1:7070"}, {"origin", "http://127.0.0.1:7070"}})));
  auto rebound = filter(request("GET", "/api/status", {{"host", "evil.example:7070"}}));
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  auto cross_site = filter(request(
      "POST", "/api/rollback", {{"host", "127.0.0.1:7070"}, {"origin", "https://evil.example"}}));
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403);
}

}  // namespace
}  // namespace bluegreen::dashboard
