#include "adapters/aws/cloud_revision_fetcher.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"
#include "child_process.h"
#include "infra/http/curl_http_client.h"
#include "loopback_server.h"
#include "temp_dir.h"

namespace bluegreen::aws {
namespace {

using testing::CannedResponse;
using testing::LoopbackServer;
using testing::ReceivedRequest;
using testing::TempDir;

// A gzip'd tar of `top`/appspec.yml and `top`/scripts/start.sh, as GitHub serves them.
std::string make_tarball(const TempDir& dir, const std::string& top) {
  testing::write_file(dir.path() / "src" / top / "appspec.yml", "version: 0.0\nos: linux\n");
  testing::write_file(dir.path() / "src" / top / "scripts" / "start.sh", "#!/bin/sh\n");
  const auto archive = dir.path() / "bundle.tgz";
  const auto result = testing::run_process(
      {"tar", "-czf", archive.string(), "-C", (dir.path() / "src").string(), top});
  EXPECT_EQ(result.exit_code, 0);
  return testing::read_file(archive);
}

class CloudRevisionFetcherTest : public ::testing::Test, protected ClientTestBase {
 protected:
  TempDir work_;
  TempDir destination_{"bg-bundle"};
};

TEST_F(CloudRevisionFetcherTest, S3BundleIsDownloadedUnpackedAndDescribed) {
  http_.answer(200, make_tarball(work_, "."), {{"ETag", "\"e1\""}, {"x-amz-version-id", "v3"}});
  CloudRevisionFetcher fetcher(context());
  auto bundle = fetcher.fetch(S3Revision{"bkt", "releases/app.tgz", BundleType::tgz},
                              destination_.path(), deadline());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->root, destination_.path());
  EXPECT_TRUE(std::filesystem::exists(destination_.path() / "appspec.yml"));
  EXPECT_TRUE(std::filesystem::exists(destination_.path() / "scripts" / "start.sh"));
  EXPECT_EQ(bundle->description, "s3://bkt/releases/app.tgz (tgz)");
  EXPECT_EQ(bundle->environment.at("BUNDLE_BUCKET"), "bkt");
  EXPECT_EQ(bundle->environment.at("BUNDLE_KEY"), "releases/app.tgz");
  EXPECT_EQ(bundle->environment.at("BUNDLE_ETAG"), "e1");
  EXPECT_EQ(bundle->environment.at("BUNDLE_VERSION"), "v3");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(destination_.path()))
    ++entries;
  EXPECT_EQ(entries, 2);  // appspec.yml and scripts/: the download is gone
}

TEST_F(CloudRevisionFetcherTest, S3AppSpecOnlyRevisionBecomesAppspecYml) {
  http_.answer(200, "version: 0.0\n");
  auto bundle = CloudRevisionFetcher(context()).fetch(
      S3Revision{"bkt", "appspec.yaml", BundleType::yaml}, destination_.path(), deadline());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(testing::read_file(destination_.path() / "appspec.yml"), "version: 0.0\n");
}

TEST_F(CloudRevisionFetcherTest, S3FailureNamesTheRevisionAndCodeAndLeavesNothing) {
  http_.answer(
      403,
      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
      "does not match the signature you provided.</Message></Error>");
  auto bundle = CloudRevisionFetcher(context()).fetch(S3Revision{"bkt", "app.zip", BundleType::zip},
                                                      destination_.path(), deadline());
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(bundle.error().message.find(
                "fetching s3://bkt/app.zip (zip): s3 GetObject: SignatureDoesNotMatch"),
            std::string::npos);
  EXPECT_EQ(bundle.error().message.find("planted-secret-value"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(destination_.path()));
}

TEST_F(CloudRevisionFetcherTest, RefusesACorruptArchive) {
  http_.answer(200, "this is not a zip");
  auto bundle = CloudRevisionFetcher(context()).fetch(S3Revision{"bkt", "app.zip", BundleType::zip},
                                                      destination_.path(), deadline());
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_TRUE(std::filesystem::is_empty(destination_.path()));
}

TEST(GitHubTarballUrl, ValidatesRepositoryAndCommit) {
  EXPECT_EQ(*github_tarball_url("https://api.github.com/", {"octo/app", "abc123"}),
            "https://api.github.com/repos/octo/app/tarball/abc123");
  EXPECT_FALSE(github_tarball_url("https://api.github.com", {"octo", "abc"}));
  EXPECT_FALSE(github_tarball_url("https://api.github.com", {"octo/app/x", "abc"}));
  EXPECT_FALSE(github_tarball_url("https://api.github.com", {"../x", "abc"}));
  EXPECT_FALSE(github_tarball_url("https://api.github.com", {"octo/app", "a b"}));
  EXPECT_FALSE(github_tarball_url("https://api.github.com", {"octo/app", ""}));
}

class GitHubFetchTest : public ::testing::Test {
 protected:
  AwsContext context(const std::string& api_url, const std::string& token) {
    std::map<std::string, std::string, std::less<>> env{{"GITHUB_API_URL", api_url}};
    if (!token.empty()) env["GITHUB_TOKEN"] = token;
    AwsContext context{http_, credentials_, clock_, "us-east-1", map_environment(env)};
    context.retry.random = [] { return 0.0; };
    return context;
  }
  http::CurlHttpClient http_;
  FakeClock clock_;
  StaticCredentialsProvider credentials_{AwsCredentials{}};
  TempDir work_;
  TempDir destination_{"bg-bundle"};
};

TEST_F(GitHubFetchTest, FollowsTheRedirectWithTheTokenOnlyForTheApi) {
  const std::string tarball = make_tarball(work_, "octo-app-abc1234");
  LoopbackServer codeload([&](const ReceivedRequest&) {
    return CannedResponse{200, {}, tarball, false};
  });
  LoopbackServer api([&](const ReceivedRequest& request) {
    if (request.target != "/repos/octo/app/tarball/abc1234" ||
        request.header("Authorization") != "Bearer planted-github-token" ||
        !request.header("User-Agent")) {
      return CannedResponse{404, {}, "", false};
    }
    return CannedResponse{
        302, {{"Location", codeload.url() + "/legacy.tar.gz/abc1234"}}, "", false};
  });
  auto bundle = CloudRevisionFetcher(context(api.url(), "planted-github-token"))
                    .fetch(GitHubRevision{"octo/app", "abc1234"}, destination_.path(),
                           clock_.now() + std::chrono::minutes(1));
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->root, destination_.path() / "octo-app-abc1234");
  EXPECT_TRUE(std::filesystem::exists(bundle->root / "appspec.yml"));
  EXPECT_EQ(bundle->environment.at("BUNDLE_COMMIT"), "abc1234");
  ASSERT_EQ(codeload.requests().size(), 1u);
  EXPECT_FALSE(codeload.requests()[0].header("Authorization"));
}

TEST_F(GitHubFetchTest, RetriesServerErrorsAndReportsMissingRepositories) {
  const std::string tarball = make_tarball(work_, "octo-app-1");
  int calls = 0;
  LoopbackServer api([&](const ReceivedRequest& request) {
    if (request.target.find("/missing/") != std::string::npos)
      return CannedResponse{404, {}, "", false};
    if (++calls == 1) return CannedResponse{502, {}, "bad gateway", false};
    if (calls == 2) return CannedResponse{.drop_connection = true};
    return CannedResponse{200, {}, tarball, false};
  });
  CloudRevisionFetcher fetcher(context(api.url(), ""));
  auto bundle = fetcher.fetch(GitHubRevision{"octo/app", "1"}, destination_.path(),
                              clock_.now() + std::chrono::minutes(1));
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(api.requests()[0].header("Authorization"));

  TempDir other{"bg-bundle"};
  auto missing = fetcher.fetch(GitHubRevision{"octo/missing", "1"}, other.path(),
                               clock_.now() + std::chrono::minutes(1));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("github:octo/missing@1"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(other.path()));
}

}  // namespace
}  // namespace bluegreen::aws
