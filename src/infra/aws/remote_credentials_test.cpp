#include "infra/aws/remote_credentials.h"

#include <gtest/gtest.h>

#include "infra/aws/aws_time.h"
#include "infra/http/curl_http_client.h"
#include "loopback_server.h"
#include "temp_dir.h"

namespace bluegreen::aws {
namespace {

using testing::CannedResponse;
using testing::json_response;
using testing::LoopbackServer;
using testing::ReceivedRequest;

constexpr const char* kDocument =
    R"({"AccessKeyId":"ASIAREMOTE","SecretAccessKey":"planted-secret-value",
  "Token":"planted-token","Expiration":"2030-01-02T03:04:05Z","Code":"Success"})";

class RemoteCredentialsTest : public ::testing::Test {
 protected:
  http::CurlHttpClient http_;
};

TEST_F(RemoteCredentialsTest, ContainerRelativeUriWithAuthorizationToken) {
  LoopbackServer server([](const ReceivedRequest& request) {
    if (request.target != "/v2/credentials/abc" ||
        request.header("Authorization") != "Bearer tkn") {
      return json_response(403, "{}");
    }
    return json_response(200, kDocument);
  });
  ContainerCredentialsProvider provider(
      http_,
      map_environment({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer tkn"}}),
      server.url());
  auto found = provider.credentials();
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->access_key_id, "ASIAREMOTE");
  EXPECT_EQ(found->secret_access_key.reveal(), "planted-secret-value");
  EXPECT_EQ(found->session_token.reveal(), "planted-token");
  EXPECT_EQ(found->expiration, parse_iso8601("2030-01-02T03:04:05Z"));
}

TEST_F(RemoteCredentialsTest, ContainerFullUriReadsTheTokenFile) {
  LoopbackServer server([](const ReceivedRequest& request) {
    return request.header("Authorization") == "from-file" ? json_response(200, kDocument)
                                                          : json_response(401, "{}");
  });
  testing::TempDir dir;
  const auto token_file = testing::write_file(dir.path() / "token", "from-file\n");
  ContainerCredentialsProvider provider(
      http_, map_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"},
                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.string()}}));
  auto found = provider.credentials();
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->access_key_id, "ASIAREMOTE");
}

TEST_F(RemoteCredentialsTest, ContainerRefusalIsPermissionDeniedWithoutTheToken) {
  LoopbackServer server([](const ReceivedRequest&) { return json_response(403, "{}"); });
  ContainerCredentialsProvider provider(
      http_, map_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "planted-token"}}));
  auto refused = provider.credentials();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(refused.error().message.find("planted-token"), std::string::npos);
}

TEST_F(RemoteCredentialsTest, ContainerFullUriOverPlainHttpMustStayLocal) {
  ContainerCredentialsProvider provider(
      http_,
      map_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds"}}));
  EXPECT_EQ(provider.credentials().error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(ContainerCredentialsProvider(http_, map_environment({})).credentials().error().kind,
            ErrorKind::not_found);
}

// An IMDSv2 endpoint: a session token first, then the role, then its credentials, each GET
// only with the token.
CannedResponse imds(const ReceivedRequest& request) {
  if (request.method == "PUT" && request.target == "/latest/api/token") {
    if (request.header("X-aws-ec2-metadata-token-ttl-seconds") != "21600")
      return {400, {}, "", false};
    return {200, {}, "imds-session", false};
  }
  if (request.header("X-aws-ec2-metadata-token") != "imds-session") return {401, {}, "", false};
  if (request.target == "/latest/meta-data/iam/security-credentials/")
    return {200, {}, "deploy-role\n", false};
  if (request.target == "/latest/meta-data/iam/security-credentials/deploy-role") {
    return json_response(200, kDocument);
  }
  return {404, {}, "", false};
}

TEST_F(RemoteCredentialsTest, ImdsV2TokenThenRoleThenCredentials) {
  LoopbackServer server(imds);
  ImdsCredentialsProvider provider(
      http_, map_environment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url() + "/"}}));
  auto found = provider.credentials();
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->access_key_id, "ASIAREMOTE");
  EXPECT_EQ(found->source, "instance metadata role deploy-role");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
}

TEST_F(RemoteCredentialsTest, ImdsDisabledUnreachableOrWithoutRoleIsNotFound) {
  EXPECT_EQ(ImdsCredentialsProvider(http_, map_environment({{"AWS_EC2_METADATA_DISABLED", "true"}}))
                .credentials()
                .error()
                .kind,
            ErrorKind::not_found);
  int closed_port;
  {
    LoopbackServer closed([](const ReceivedRequest&) { return CannedResponse{}; });
    closed_port = closed.port();
  }
  EXPECT_EQ(ImdsCredentialsProvider(
                http_, map_environment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                         "http://127.0.0.1:" + std::to_string(closed_port)}}))
                .credentials()
                .error()
                .kind,
            ErrorKind::not_found);
  LoopbackServer no_role([](const ReceivedRequest& request) {
    if (request.method == "PUT") return CannedResponse{200, {}, "t", false};
    return CannedResponse{404, {}, "", false};
  });
  auto found = ImdsCredentialsProvider(
                   http_, map_environment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", no_role.url()}}))
                   .credentials();
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().kind, ErrorKind::not_found);
  EXPECT_NE(found.error().message.find("no IAM role"), std::string::npos);
}

TEST_F(RemoteCredentialsTest, DefaultChainPrefersExplicitThenEnvironment) {
  FakeClock clock;
  AwsCredentials given;
  given.access_key_id = "ASIAARTIFACT";
  given.secret_access_key = Secret("s");
  const Environment env = map_environment({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                           {"AWS_SECRET_ACCESS_KEY", "e"},
                                           {"AWS_EC2_METADATA_DISABLED", "true"}});
  EXPECT_EQ(make_default_credentials_chain(http_, clock, env, given)->credentials()->access_key_id,
            "ASIAARTIFACT");
  EXPECT_EQ(make_default_credentials_chain(http_, clock, env)->credentials()->access_key_id,
            "AKIDENV");
}

TEST(CredentialsDocument, RejectsFailuresAndIncompleteAnswers) {
  EXPECT_FALSE(parse_credentials_document("nope", "x"));
  EXPECT_FALSE(parse_credentials_document(R"({"Code":"Failure"})", "x"));
  EXPECT_FALSE(parse_credentials_document(R"({"AccessKeyId":"A"})", "x"));
  EXPECT_FALSE(parse_credentials_document(
      R"({"AccessKeyId":"A","SecretAccessKey":"B","Expiration":"soon"})", "x"));
  EXPECT_FALSE(
      parse_credentials_document(R"({"AccessKeyId":"A","SecretAccessKey":"B"})", "x")->expiration);
}

}  // namespace
}  // namespace bluegreen::aws
