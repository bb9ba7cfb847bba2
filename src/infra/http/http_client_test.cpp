#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "infra/http/beast_http_client.h"
#include "infra/http/curl_http_client.h"
#include "loopback_server.h"
#include "temp_dir.h"

namespace bluegreen::http {
namespace {

using testing::CannedResponse;
using testing::LoopbackServer;
using testing::read_file;
using testing::ReceivedRequest;
using testing::TempDir;

// Proxy variables of the machine running the tests must not reroute loopback requests.
// Every case runs against both transports: the contract is HttpClient's, not libcurl's.
template <class Client>
class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY",
                             "all_proxy", "NO_PROXY", "no_proxy"}) {
      ::unsetenv(name);
    }
  }
  Client client_;
};
using Clients = ::testing::Types<CurlHttpClient, BeastHttpClient>;
TYPED_TEST_SUITE(HttpClientTest, Clients);

TYPED_TEST(HttpClientTest, SendsMethodHeadersAndBodyAndReadsTheAnswer) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{201, {{"X-Answer", "  yes  "}}, "created", false};
  });
  Request request{.method = "PUT",
                  .url = server.url() + "/things/a%20b?x=1",
                  .headers = {{"Content-Type", "application/json"}, {"X-Empty", ""}},
                  .body = R"({"k":1})"};
  auto response = this->client_.send(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "created");
  EXPECT_EQ(response->header("x-answer"), "yes");

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/things/a%20b?x=1");
  EXPECT_EQ(seen[0].body, R"({"k":1})");
  EXPECT_EQ(seen[0].header("Content-Type"), "application/json");
  EXPECT_EQ(seen[0].header("X-Empty"), "");
  EXPECT_EQ(seen[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_FALSE(seen[0].header("Expect"));
}

TYPED_TEST(HttpClientTest, ErrorStatusesAreAnswersNotFailures) {
  LoopbackServer server([](const ReceivedRequest&) {
    return testing::json_response(503, R"({"__type":"ServiceUnavailable"})");
  });
  auto response = this->client_.send({.url = server.url() + "/"});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_FALSE(response->ok());
}

TYPED_TEST(HttpClientTest, ReusesTheConnectionForSequentialRequests) {
  LoopbackServer server([](const ReceivedRequest&) { return CannedResponse{200, {}, "x", false}; });
  for (int i = 0; i < 3; ++i) {
    auto response = this->client_.send({.method = "POST", .url = server.url() + "/", .body = "b"});
    ASSERT_TRUE(response);
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TYPED_TEST(HttpClientTest, AFreshConnectionRequestNeitherReusesNorKeepsOne) {
  LoopbackServer server([](const ReceivedRequest&) { return CannedResponse{200, {}, "x", false}; });
  ASSERT_TRUE(this->client_.send({.url = server.url() + "/a"}));
  ASSERT_TRUE(this->client_.send(
      {.method = "POST", .url = server.url() + "/create", .fresh_connection = true}));
  ASSERT_TRUE(this->client_.send({.url = server.url() + "/b"}));
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].connection, 1);
  EXPECT_EQ(seen[1].connection, 2);
  EXPECT_EQ(seen[2].connection, 1);
}

// A kept-alive connection the server closed before answering: the request never reached it,
// so it goes out again on a new connection and the caller sees the answer.
TYPED_TEST(HttpClientTest, AKeptAliveConnectionClosedBeforeTheAnswerIsReplacedOnce) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](const ReceivedRequest&) {
    return ++calls == 2 ? CannedResponse{.drop_connection = true}
                        : CannedResponse{200, {}, "x", false};
  });
  ASSERT_TRUE(this->client_.send({.url = server.url() + "/a"}));
  auto second = this->client_.send({.url = server.url() + "/b"});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body, "x");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].connection, 1);
  EXPECT_EQ(seen[2].connection, 2);
  EXPECT_EQ(seen[2].target, "/b");
}

TYPED_TEST(HttpClientTest, HeadReadsHeadersWithoutABody) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{200, {{"Content-Length", "42"}, {"ETag", "\"abc\""}}, "", false};
  });
  auto response = this->client_.send({.method = "HEAD", .url = server.url() + "/obj"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->header("ETag"), "\"abc\"");
  EXPECT_EQ(server.requests().at(0).method, "HEAD");
}

TYPED_TEST(HttpClientTest, StreamsASuccessfulDownloadToTheFile) {
  const std::string content(300'000, 'z');
  LoopbackServer server([&](const ReceivedRequest&) {
    return CannedResponse{200, {}, content, false};
  });
  TempDir dir;
  const auto target = dir.path() / "bundle.zip";
  auto response = this->client_.send({.url = server.url() + "/b", .download_to = target});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->downloaded_bytes, content.size());
  EXPECT_TRUE(response->body.empty());
  EXPECT_EQ(read_file(target), content);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "bundle.zip.part"));
}

TYPED_TEST(HttpClientTest, KeepsAFailedDownloadsErrorBodyAndWritesNoFile) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{404, {}, "<Error><Code>NoSuchKey</Code></Error>", false};
  });
  TempDir dir;
  const auto target = dir.path() / "bundle.zip";
  auto response = this->client_.send({.url = server.url() + "/b", .download_to = target});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, "<Error><Code>NoSuchKey</Code></Error>");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TYPED_TEST(HttpClientTest, ADroppedConnectionIsUnavailable) {
  LoopbackServer server(
      [](const ReceivedRequest&) { return CannedResponse{.drop_connection = true}; });
  TempDir dir;
  auto response =
      this->client_.send({.url = server.url() + "/b?token=abc", .download_to = dir.path() / "f"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::unavailable);
  EXPECT_NE(response.error().message.find("GET " + server.url() + "/b"), std::string::npos);
  EXPECT_EQ(response.error().message.find("token=abc"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TYPED_TEST(HttpClientTest, ARefusedConnectionIsUnavailable) {
  int port;
  {
    LoopbackServer closed([](const ReceivedRequest&) { return CannedResponse{}; });
    port = closed.port();
  }
  auto response = this->client_.send({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::unavailable);
}

TYPED_TEST(HttpClientTest, FollowsRedirectsOnlyWhenAsked) {
  LoopbackServer target([](const ReceivedRequest&) {
    return CannedResponse{200, {}, "tarball", false};
  });
  LoopbackServer redirector([&](const ReceivedRequest&) {
    return CannedResponse{302, {{"Location", target.url() + "/codeload"}}, "", false};
  });
  auto not_followed = this->client_.send({.url = redirector.url() + "/tarball"});
  ASSERT_TRUE(not_followed);
  EXPECT_EQ(not_followed->status, 302);

  auto followed = this->client_.send({.url = redirector.url() + "/tarball",
                                      .headers = {{"Authorization", "Bearer planted-token"}},
                                      .follow_redirects = true});
  ASSERT_TRUE(followed) << followed.error().message;
  EXPECT_EQ(followed->status, 200);
  EXPECT_EQ(followed->body, "tarball");
  // The credential went to the host it was meant for, not to the redirect's target host
  // (same IP, different port: libcurl treats that as another host).
  ASSERT_EQ(target.requests().size(), 1u);
  EXPECT_FALSE(target.requests()[0].header("Authorization"));
}

TYPED_TEST(HttpClientTest, HonoursHttpProxyAndNoProxyFromTheEnvironment) {
  LoopbackServer proxy([](const ReceivedRequest&) {
    return CannedResponse{200, {}, "via proxy", false};
  });
  LoopbackServer origin([](const ReceivedRequest&) {
    return CannedResponse{200, {}, "direct", false};
  });
  ::setenv("http_proxy", proxy.url().c_str(), 1);
  auto proxied = this->client_.send({.url = origin.url() + "/p"});
  ASSERT_TRUE(proxied) << proxied.error().message;
  EXPECT_EQ(proxied->body, "via proxy");
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_EQ(proxy.requests()[0].target, origin.url() + "/p");

  ::setenv("NO_PROXY", "127.0.0.1", 1);
  auto direct = this->client_.send({.url = origin.url() + "/p"});
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->body, "direct");
  EXPECT_EQ(proxy.requests().size(), 1u);
}

TYPED_TEST(HttpClientTest, TunnelsHttpsThroughHttpsProxy) {
  LoopbackServer proxy([](const ReceivedRequest&) { return CannedResponse{403, {}, "", false}; });
  ::setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
  auto response = this->client_.send({.url = "https://codedeploy.us-east-1.amazonaws.com/"});
  ASSERT_FALSE(response);  // the proxy refused the tunnel
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_EQ(proxy.requests()[0].method, "CONNECT");
  EXPECT_EQ(proxy.requests()[0].target, "codedeploy.us-east-1.amazonaws.com:443");
}

TYPED_TEST(HttpClientTest, ATimeoutIsReportedAsTimeout) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  LoopbackServer server([released](const ReceivedRequest&) {
    released.wait();  // answers only after the client has given up
    return CannedResponse{};
  });
  auto response =
      this->client_.send({.url = server.url() + "/", .timeout = std::chrono::milliseconds(200)});
  release.set_value();
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::timeout);
}

TYPED_TEST(HttpClientTest, RefusesMalformedRequests) {
  EXPECT_EQ(this->client_.send({.url = "not a url"}).error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(this->client_.send({.method = "BREW", .url = "http://127.0.0.1:9/"}).error().kind,
            ErrorKind::invalid_input);
}

TEST(HttpHeaders, LookupIsCaseInsensitiveAndSetReplaces) {
  Headers headers{{"Content-Type", "a"}, {"x-amz-date", "1"}};
  EXPECT_EQ(find_header(headers, "content-type"), "a");
  set_header(headers, "X-Amz-Date", "2");
  EXPECT_EQ(headers.size(), 2u);
  EXPECT_EQ(find_header(headers, "x-amz-date"), "2");
  remove_header(headers, "CONTENT-TYPE");
  EXPECT_FALSE(find_header(headers, "content-type"));
}

}  // namespace
}  // namespace bluegreen::http
