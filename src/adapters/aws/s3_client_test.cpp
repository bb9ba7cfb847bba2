#include "adapters/aws/s3_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"
#include "infra/aws/sigv4.h"
#include "temp_dir.h"

namespace bluegreen::aws {
namespace {

class S3ClientTest : public ::testing::Test, protected ClientTestBase {};

TEST_F(S3ClientTest, PathStyleForCustomEndpointsVirtualHostOtherwise) {
  S3Client custom(context({{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"}}));
  EXPECT_EQ(*custom.object_url("my-bucket", "dir/a b+c.zip"),
            "http://127.0.0.1:9000/my-bucket/dir/a%20b%2Bc.zip");
  S3Client standard(context({}));
  EXPECT_EQ(*standard.object_url("my-bucket", "k", "v1"),
            "https://my-bucket.s3.us-east-1.amazonaws.com/k?versionId=v1");
  EXPECT_EQ(*standard.object_url("my.dotted.bucket", "k"),
            "https://s3.us-east-1.amazonaws.com/my.dotted.bucket/k");
  EXPECT_FALSE(standard.object_url("", "k"));
}

TEST_F(S3ClientTest, GetObjectStreamsToTheFileWithS3Signing) {
  http_.answer(200, "bundle-bytes", {{"ETag", "\"abc123\""}, {"x-amz-version-id", "v7"}});
  testing::TempDir dir;
  auto info = S3Client(context()).get_object("bkt", "app.zip", dir.path() / "app.zip", deadline());
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->etag, "abc123");
  EXPECT_EQ(info->version_id, "v7");
  EXPECT_EQ(info->size, 12u);
  EXPECT_EQ(testing::read_file(dir.path() / "app.zip"), "bundle-bytes");
  const auto sent = http_.sent().at(0);
  EXPECT_EQ(sent.url, "http://127.0.0.1:5055/bkt/app.zip");
  EXPECT_EQ(http::find_header(sent.headers, "X-Amz-Content-SHA256"), kEmptyPayloadSha256);
  EXPECT_NE(http::find_header(sent.headers, "Authorization")->find("/us-east-1/s3/aws4_request"),
            std::string_view::npos);
}

TEST_F(S3ClientTest, HeadObjectAndMissingKeys) {
  http_.answer(200, "",
               {{"Content-Length", "42"}, {"ETag", "\"e\""}, {"Content-Type", "application/zip"}});
  http_.answer(404, "");
  S3Client client(context());
  auto info = client.head_object("bkt", "k", deadline());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 42u);
  EXPECT_EQ(info->content_type, "application/zip");
  EXPECT_EQ(http_.sent()[0].method, "HEAD");
  auto missing = client.head_object("bkt", "nope", deadline());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_EQ(missing.error().operation, "HeadObject");
}

}  // namespace
}  // namespace bluegreen::aws
