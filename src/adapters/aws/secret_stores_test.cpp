#include "adapters/aws/secret_stores.h"

#include <gtest/gtest.h>

#include "adapters/aws/api_token.h"
#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class SecretStoresTest : public ::testing::Test, protected ClientTestBase {};

TEST_F(SecretStoresTest, SsmGetParameterDecrypts) {
  http_.answer(
      200, R"({"Parameter":{"Name":"/spot/token","Type":"SecureString","Value":"planted-token"}})");
  auto value = SsmClient(context()).get_parameter("/spot/token", deadline());
  ASSERT_TRUE(value);
  EXPECT_EQ(value->reveal(), "planted-token");
  EXPECT_EQ(sent_target(0), "AmazonSSM.GetParameter");
  EXPECT_EQ(sent_json(0), nlohmann::json::parse(R"({"Name":"/spot/token","WithDecryption":true})"));
}

TEST_F(SecretStoresTest, SecretsManagerStringOrBinary) {
  http_.answer(200, R"({"Name":"spot","SecretString":"planted-token"})");
  http_.answer(200, R"({"Name":"spot","SecretBinary":"cGxhbnRlZC1iaW4="})");
  SecretsManagerClient client(context());
  EXPECT_EQ(client.get_secret_value("spot", deadline())->reveal(), "planted-token");
  EXPECT_EQ(client.get_secret_value("spot", deadline())->reveal(), "planted-bin");
  EXPECT_EQ(sent_target(0), "secretsmanager.GetSecretValue");
}

TEST_F(SecretStoresTest, ErrorsNameTheParameterButNotTheValue) {
  http_.answer(400, R"({"__type":"ParameterNotFound","message":""})");
  auto missing = SsmClient(context()).get_parameter("/spot/missing", deadline());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().describe().find("/spot/missing"), std::string::npos);
}

TEST_F(SecretStoresTest, ApiTokenLiteralIsReturnedWithoutAnyCall) {
  auto token = resolve_api_token(Secret("literal-token"), context(), deadline());
  ASSERT_TRUE(token);
  EXPECT_EQ(token->reveal(), "literal-token");
  EXPECT_TRUE(http_.sent().empty());
}

TEST_F(SecretStoresTest, ApiTokenReferencesAreResolvedAndTrimmed) {
  http_.answer(200, R"({"Parameter":{"Value":"planted-token\n"}})");
  http_.answer(200, R"({"SecretString":"  planted-other "})");
  EXPECT_EQ(resolve_api_token(Secret("ssm:/spot/token"), context(), deadline())->reveal(),
            "planted-token");
  EXPECT_EQ(sent_json(0)["Name"], "/spot/token");
  EXPECT_EQ(
      resolve_api_token(Secret("secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:spot"),
                        context(), deadline())
          ->reveal(),
      "planted-other");
  EXPECT_EQ(sent_json(1)["SecretId"], "arn:aws:secretsmanager:us-east-1:1:secret:spot");
}

TEST_F(SecretStoresTest, ApiTokenErrorsNameTheReference) {
  http_.answer(400, R"({"__type":"AccessDeniedException","message":"not allowed"})");
  auto denied = resolve_api_token(Secret("ssm:/spot/token"), context(), deadline());
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(denied.error().message.find("API_TOKEN ssm:/spot/token"), std::string::npos);
  http_.answer(200, R"({"Parameter":{"Value":"  "}})");
  EXPECT_EQ(resolve_api_token(Secret("ssm:/empty"), context(), deadline()).error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(resolve_api_token(Secret("ssm:"), context(), deadline()).error().kind,
            ErrorKind::invalid_input);
}

}  // namespace
}  // namespace bluegreen::aws
