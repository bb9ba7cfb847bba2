#include "frontends/dashboard/admin_access.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

// The filter, taking its request by value (the filter itself may set its principal).
std::function<std::optional<HttpResponse>(HttpRequest)> filter_for(const std::string& address,
                                                                   const Secret& token,
                                                                   const LocalGrants& grants = {}) {
  auto filter = admin_access_filter(address, token, login_page, grants);
  EXPECT_TRUE(filter) << filter.error().message;
  if (!filter) {
    return [](HttpRequest) { return std::optional<HttpResponse>(HttpResponse::json(500, "{}")); };
  }
  return [filter = *filter](HttpRequest r) { return filter(r); };
}

// A request from this process's own user (the user a server started here runs as).
HttpRequest request(std::string method, std::string path,
                    std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers = std::move(headers);
  r.peer_uid = ::geteuid();
  return r;
}

HttpRequest from_uid(std::uint32_t uid, std::string method, std::string path) {
  auto r = request(std::move(method), std::move(path), {{"host", "127.0.0.1:7070"}});
  r.peer_uid = uid;
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

TEST(AdminAccess, OnLoopbackOnlyTheServersUserAndRootAreServedAndNamed) {
  auto filter = admin_access_filter("127.0.0.1:7070", Secret(), login_page);
  ASSERT_TRUE(filter);
  auto own = from_uid(::geteuid(), "POST", "/api/deployments");
  own.headers["x-bluegreen-started-by"] = "someone-else";
  EXPECT_FALSE((*filter)(own));
  EXPECT_EQ(own.principal, user_name(::geteuid()));
  auto root = from_uid(0, "GET", "/api/status");
  EXPECT_FALSE((*filter)(root));
  EXPECT_EQ(root.principal, "root");

  std::uint32_t stranger = ::geteuid() == 65534 ? 65533 : 65534;
  for (auto [method, path] :
       {std::pair{"GET", "/api/status"}, std::pair{"POST", "/api/shutdown"},
        std::pair{"GET", "/metrics"}, std::pair{"GET", "/"}, std::pair{"GET", "/api/health"},
        std::pair{"GET", kEventStreamPath}}) {
    auto refused = filter_for("127.0.0.1:7070", Secret())(from_uid(stranger, method, path));
    ASSERT_TRUE(refused) << method << " " << path;
    EXPECT_EQ(refused->status, 403);
    EXPECT_NE(refused->body.find("--allow-user " + user_name(stranger)), std::string::npos)
        << refused->body;
  }
  auto unknown = request("GET", "/api/status", {{"host", "127.0.0.1:7070"}});
  unknown.peer_uid.reset();
  auto refused = (*filter)(unknown);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
}

TEST(AdminAccess, GrantedUsersAndGroupsAreServed) {
  std::uint32_t stranger = ::geteuid() == 65534 ? 65533 : 65534;
  auto by_user = filter_for("127.0.0.1:7070", Secret(), {.users = {user_name(65534)}});
  EXPECT_FALSE(by_user(from_uid(65534, "POST", "/api/rollback")));
  // Root's primary group is root (gid 0): granting it lets in root, and no stranger.
  auto by_group = filter_for("127.0.0.1:7070", Secret(), {.groups = {"root"}});
  EXPECT_FALSE(by_group(from_uid(0, "GET", "/api/status")));
  EXPECT_TRUE(by_group(from_uid(stranger, "GET", "/api/status")));

  auto unknown_user =
      admin_access_filter("127.0.0.1:7070", Secret(), login_page, {.users = {"no-such-user-x"}});
  ASSERT_FALSE(unknown_user);
  EXPECT_NE(unknown_user.error().message.find("no-such-user-x"), std::string::npos);
  auto with_token =
      admin_access_filter("127.0.0.1:7070", kToken, login_page, {.users = {user_name(65534)}});
  ASSERT_FALSE(with_token);
  EXPECT_EQ(with_token.error().kind, ErrorKind::invalid_input);
}

TEST(AdminAccess, ARequestWithTheTokenIsMadeByToken) {
  auto filter = admin_access_filter("0.0.0.0:7070", kToken, login_page);
  ASSERT_TRUE(filter);
  auto r = request("POST", "/api/deployments", {{"authorization", "Bearer " + kToken.reveal()}});
  r.headers["x-bluegreen-started-by"] = "admin";
  EXPECT_FALSE((*filter)(r));
  EXPECT_EQ(r.principal, "token");
}

}  // namespace
}  // namespace bluegreen::dashboard
