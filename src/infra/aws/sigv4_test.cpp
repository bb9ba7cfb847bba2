// SigV4 against the published AWS SigV4 test suite (aws-sig-v4-test-suite, as kept in
// awslabs/aws-c-auth tests/aws-signing-test-suite/v4/<case>/): credentials AKIDEXAMPLE, time
// 20150830T123600Z, region us-east-1, service "service". Each case's request and expected
// signature are copied from its request.txt / header-signed-request.txt.
#include "infra/aws/sigv4.h"

#include <gtest/gtest.h>

#include "infra/aws/aws_time.h"

namespace bluegreen::aws {
namespace {

AwsCredentials suite_credentials() {
  AwsCredentials credentials;
  credentials.access_key_id = "AKIDEXAMPLE";
  credentials.secret_access_key = Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  return credentials;
}

TimePoint suite_time() {
  return *parse_iso8601("2015-08-30T12:36:00Z");
}

const SigningScope kSuiteScope{"service", "us-east-1", false};

std::string signature_of(http::Request request, const AwsCredentials& credentials) {
  auto parts = sign_request(request, credentials, kSuiteScope, suite_time());
  EXPECT_TRUE(parts) << parts.error().message;
  return parts ? parts->signature : "";
}

TEST(SigV4Suite, GetVanilla) {
  http::Request request{.method = "GET", .url = "https://example.amazonaws.com/"};
  auto parts = sign_request(request, suite_credentials(), kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(parts->string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(parts->signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(http::find_header(request.headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(http::find_header(request.headers, "X-Amz-Date"), "20150830T123600Z");
}

TEST(SigV4Suite, PostVanilla) {
  EXPECT_EQ(signature_of({.method = "POST", .url = "https://example.amazonaws.com/"},
                         suite_credentials()),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  EXPECT_EQ(signature_of({.method = "GET",
                          .url = "https://example.amazonaws.com/?Param2=value2&Param1=value1"},
                         suite_credentials()),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, GetVanillaWithSessionToken) {
  AwsCredentials credentials = suite_credentials();
  credentials.session_token =
      Secret("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
  http::Request request{.method = "GET", .url = "https://example.amazonaws.com/"};
  auto parts = sign_request(request, credentials, kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->signature, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
  EXPECT_EQ(http::find_header(request.headers, "X-Amz-Security-Token"),
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
  EXPECT_NE(http::find_header(request.headers, "Authorization")
                ->find("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            std::string_view::npos);
}

TEST(SigV4Suite, GetHeaderValueTrim) {
  http::Request request{.method = "GET",
                        .url = "https://example.amazonaws.com/",
                        .headers = {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}};
  auto parts = sign_request(request, suite_credentials(), kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_NE(parts->canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n"),
            std::string::npos);
  EXPECT_EQ(parts->signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST(SigV4Suite, GetUtf8) {
  http::Request request{.method = "GET", .url = "https://example.amazonaws.com/\xE1\x88\xB4"};
  auto parts = sign_request(request, suite_credentials(), kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->canonical_request.substr(0, 15), "GET\n/%E1%88%B4\n");
  EXPECT_EQ(parts->signature, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4, NonS3PathsAreNormalisedAndEncodedASecondTime) {
  http::Request request{.method = "GET", .url = "https://example.amazonaws.com/a/./b/../c%20d//e/"};
  auto parts = sign_request(request, suite_credentials(), kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->canonical_request.substr(0, 18), "GET\n/a/c%2520d/e/\n");
}

TEST(SigV4, S3SignsThePathAsWrittenAndTheContentHash) {
  http::Request request{
      .method = "PUT", .url = "https://bucket.s3.amazonaws.com/a/./b%20c", .body = "hello"};
  auto parts = sign_request(request, suite_credentials(), {"s3", "us-east-1", true}, suite_time());
  ASSERT_TRUE(parts);
  const std::string hash = sha256_hex("hello");
  EXPECT_EQ(hash, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(http::find_header(request.headers, "X-Amz-Content-SHA256"), hash);
  EXPECT_EQ(parts->canonical_request.substr(0, 15), "PUT\n/a/./b%20c\n");
  EXPECT_NE(parts->canonical_request.find("x-amz-content-sha256:" + hash + "\n"),
            std::string::npos);
  EXPECT_TRUE(parts->canonical_request.ends_with("\n" + hash));
}

TEST(SigV4, ResigningReplacesTheEarlierSignatureHeaders) {
  http::Request request{.method = "POST", .url = "http://127.0.0.1:5055/", .body = "{}"};
  ASSERT_TRUE(sign_request(request, suite_credentials(), kSuiteScope, suite_time()));
  ASSERT_TRUE(sign_request(request, suite_credentials(), kSuiteScope,
                           suite_time() + std::chrono::seconds(30)));
  int authorizations = 0;
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") ++authorizations;
  }
  EXPECT_EQ(authorizations, 1);
  EXPECT_EQ(http::find_header(request.headers, "X-Amz-Date"), "20150830T123630Z");
  EXPECT_NE(
      http::find_header(request.headers, "Authorization")->find("SignedHeaders=host;x-amz-date,"),
      std::string_view::npos);
}

TEST(SigV4, HostKeepsANonDefaultPortAndHeadersThatProxiesChangeAreNotSigned) {
  http::Request request{.method = "POST",
                        .url = "http://127.0.0.1:5055/",
                        .headers = {{"User-Agent", "x"}, {"Expect", ""}, {"X-Amz-Target", "A.B"}}};
  auto parts = sign_request(request, suite_credentials(), kSuiteScope, suite_time());
  ASSERT_TRUE(parts);
  EXPECT_NE(parts->canonical_request.find("host:127.0.0.1:5055\n"), std::string::npos);
  EXPECT_NE(parts->canonical_request.find("\nhost;x-amz-date;x-amz-target\n"), std::string::npos);
}

TEST(SigV4, RefusesIncompleteCredentials) {
  http::Request request{.url = "https://example.amazonaws.com/"};
  AwsCredentials no_secret;
  no_secret.access_key_id = "AKID";
  EXPECT_EQ(sign_request(request, no_secret, kSuiteScope, suite_time()).error().kind,
            ErrorKind::invalid_input);
}

}  // namespace
}  // namespace bluegreen::aws
