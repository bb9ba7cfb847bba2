// Revisions stored in S3 fetched from moto_server with request authentication on, as the local
// provider does for S3_BUCKET / S3_KEY / S3_BUNDLE: the bundle arrives unpacked with its
// BUNDLE_* variables; with a wrong secret the fetch fails with a message naming
// SignatureDoesNotMatch and leaves nothing behind.
#include <gtest/gtest.h>

#include "adapters/aws/cloud_revision_fetcher.h"
#include "aws_test_context.h"

namespace bluegreen::aws {
namespace {

using testing::AccessKeys;
using testing::AwsTestContext;
using testing::MotoFixture;
using testing::TempDir;

const nlohmann::json kReadArtifacts = nlohmann::json::parse(R"({"Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::release-bundles/*"}]})");

class S3RevisionTest : public ::testing::Test {
 protected:
  S3RevisionTest() {
    testing::write_file(
        work_.path() / "bundle" / "appspec.yml",
        "version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: scripts/check.sh\n");
    testing::write_file(work_.path() / "bundle" / "scripts" / "check.sh", "#!/bin/sh\nexit 0\n");
    const auto tarball = work_.path() / "web.tgz";
    EXPECT_EQ(testing::run_process(
                  {"tar", "-czf", tarball.string(), "-C", (work_.path() / "bundle").string(), "."})
                  .exit_code,
              0);
    nlohmann::json objects;
    objects["web/web.tgz"] = {{"file", tarball.string()}};
    objects["web/appspec.yml"] = {{"text", "version: 0.0\nos: linux\n"}};
    nlohmann::json seed;
    seed["s3"] = nlohmann::json::array({{{"bucket", "release-bundles"}, {"objects", objects}}});
    moto_ =
        std::make_unique<MotoFixture>(MotoFixture::Options{.policy = kReadArtifacts, .seed = seed});
  }

  TempDir work_{"bg-s3-work"};
  TempDir destination_{"bg-s3-bundle"};
  std::unique_ptr<MotoFixture> moto_;
};

TEST_F(S3RevisionTest, ATgzBundleIsFetchedAndUnpacked) {
  AwsTestContext test(moto_->endpoint(), moto_->user());
  auto bundle = CloudRevisionFetcher(test.context())
                    .fetch(S3Revision{"release-bundles", "web/web.tgz", BundleType::tgz},
                           destination_.path(), test.deadline());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->root, destination_.path());
  EXPECT_NE(testing::read_file(bundle->root / "appspec.yml").find("ValidateService"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(bundle->root / "scripts" / "check.sh"));
  EXPECT_EQ(bundle->environment.at("BUNDLE_BUCKET"), "release-bundles");
  EXPECT_EQ(bundle->environment.at("BUNDLE_KEY"), "web/web.tgz");
  EXPECT_FALSE(bundle->environment.at("BUNDLE_ETAG").empty());
}

TEST_F(S3RevisionTest, TemporaryArtifactCredentialsWork) {
  AwsTestContext test(moto_->endpoint(), moto_->temporary());
  auto bundle = CloudRevisionFetcher(test.context())
                    .fetch(S3Revision{"release-bundles", "web/appspec.yml", BundleType::yaml},
                           destination_.path(), test.deadline());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(testing::read_file(destination_.path() / "appspec.yml"), "version: 0.0\nos: linux\n");
}

TEST_F(S3RevisionTest, AWrongSecretFailsNamingTheSignatureError) {
  AccessKeys wrong = moto_->user();
  wrong.secret_access_key = "wrong-" + wrong.secret_access_key;
  AwsTestContext test(moto_->endpoint(), wrong);
  auto bundle = CloudRevisionFetcher(test.context())
                    .fetch(S3Revision{"release-bundles", "web/web.tgz", BundleType::tgz},
                           destination_.path(), test.deadline());
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(
      bundle.error().message.find("fetching s3://release-bundles/web/web.tgz (tgz): s3 GetObject: "
                                  "SignatureDoesNotMatch"),
      std::string::npos)
      << bundle.error().message;
  EXPECT_EQ(bundle.error().message.find(wrong.secret_access_key), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(destination_.path()));
}

TEST_F(S3RevisionTest, AnObjectOutsideThePolicyIsAccessDenied) {
  AwsTestContext test(moto_->endpoint(), moto_->user());
  auto bundle = CloudRevisionFetcher(test.context())
                    .fetch(S3Revision{"other-bucket", "web.tgz", BundleType::tgz},
                           destination_.path(), test.deadline());
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(bundle.error().message.find("AccessDenied"), std::string::npos)
      << bundle.error().message;
}

}  // namespace
}  // namespace bluegreen::aws
