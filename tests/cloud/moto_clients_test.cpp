// Every AWS client against moto_server with request authentication on (moto_fixture.py): the
// signature is recomputed by moto and the action evaluated against the IAM user's policy.
//   - accepted with the right keys, and with temporary credentials carrying a session token;
//   - a wrong secret surfaces as SignatureDoesNotMatch (permission_denied); EC2 names it
//     AuthFailure (HTTP 401), as EC2 itself does;
//   - an action outside the policy surfaces as AccessDenied (permission_denied).
// moto does not implement CodePipeline's PutJob*Result (it answers 500 after authenticating);
// those calls are checked for getting past authentication here, and for their full behaviour
// against aws_fake.py (aws_fake_clients_test.cpp).
#include <gtest/gtest.h>

#include "adapters/aws/cloudwatch_logs_client.h"
#include "adapters/aws/codedeploy_client.h"
#include "adapters/aws/codepipeline_client.h"
#include "adapters/aws/ec2_client.h"
#include "adapters/aws/s3_client.h"
#include "adapters/aws/secret_stores.h"
#include "aws_test_context.h"

namespace bluegreen::aws {
namespace {

using testing::AccessKeys;
using testing::AwsTestContext;
using testing::MotoFixture;

const nlohmann::json kSeed = nlohmann::json::parse(R"({
  "s3": [{"bucket": "bluegreen-artifacts", "objects": {"releases/app.txt": {"text": "hello bundle"}}}],
  "ssm": [{"name": "/bluegreen/spot-token", "value": "moto-ssm-value"}],
  "secretsmanager": [{"name": "bluegreen/spot-token", "string": "moto-secret-value"}],
  "logs": [{"group": "/bluegreen/deployments", "streams": ["run-1"]}],
  "ec2": [{"count": 2, "tags": {"GreenIdentifier": "g-moto"}}],
  "codedeploy": [{"application": "web", "groups": ["web-dg"]}]})");

// What the clients need, and nothing of EC2's or CodePipeline's beyond the calls we make.
const nlohmann::json kEverythingWeUse = nlohmann::json::parse(R"({"Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "s3:GetObject", "s3:ListBucket", "ssm:GetParameter", "secretsmanager:GetSecretValue",
    "logs:PutLogEvents", "ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
    "codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup",
    "codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"]}]})");

const nlohmann::json kOnlyGetUser = nlohmann::json::parse(R"({"Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["iam:GetUser"], "Resource": "*"}]})");

struct Outcome {
  std::string call;
  std::optional<AwsError> error;
};

// One call of every client operation moto implements, plus CodePipeline's.
std::vector<Outcome> call_every_client(AwsTestContext& test, const MotoFixture& moto,
                                       const std::filesystem::path& scratch) {
  AwsContext& context = test.context();
  const TimePoint deadline = test.deadline();
  std::vector<Outcome> outcomes;
  auto record = [&](std::string call, auto result) {
    outcomes.push_back(
        {std::move(call), result ? std::nullopt : std::optional<AwsError>(result.error())});
  };
  S3Client s3(context);
  record("s3 GetObject",
         s3.get_object("bluegreen-artifacts", "releases/app.txt", scratch / "app.txt", deadline));
  record("s3 HeadObject", s3.head_object("bluegreen-artifacts", "releases/app.txt", deadline));
  record("ssm GetParameter", SsmClient(context).get_parameter("/bluegreen/spot-token", deadline));
  record("secretsmanager GetSecretValue",
         SecretsManagerClient(context).get_secret_value("bluegreen/spot-token", deadline));
  record("logs PutLogEvents",
         CloudWatchLogsClient(context).put_log_events(
             "/bluegreen/deployments", "run-1",
             {{test.deadline(std::chrono::seconds(0)), "deployment started"}}, deadline));
  Ec2Client ec2(context);
  record("ec2 DescribeInstances",
         ec2.describe_instances({ec2_tag_filter("GreenIdentifier", "g-moto")}, deadline));
  record("ec2 DescribeInstanceStatus",
         ec2.describe_instance_status(moto.seeded_instances("GreenIdentifier=g-moto"), deadline));
  CodeDeployClient codedeploy(context);
  record("codedeploy GetDeploymentGroup",
         codedeploy.get_deployment_group("web", "web-dg", deadline));
  auto created = codedeploy.create_deployment(
      {.application_name = "web",
       .deployment_group_name = "web-dg",
       .revision = S3Location{"bluegreen-artifacts", "releases/app.zip", BundleType::zip},
       .target_tag_filters = {{"GreenIdentifier", "g-moto"}}},
      deadline);
  record("codedeploy CreateDeployment", created);
  record("codedeploy GetDeployment",
         codedeploy.get_deployment(created ? *created : "d-NOTCREATED", deadline));
  record("codepipeline PutJobSuccessResult",
         CodePipelineClient(context).put_job_success_result(
             {.job_id = "11111111-2222-3333-4444-555555555555"}, deadline));
  return outcomes;
}

class MotoClientsTest : public ::testing::Test {
 protected:
  testing::TempDir scratch_{"bg-moto"};
};

TEST_F(MotoClientsTest, EveryClientIsAcceptedWithTheRightKeys) {
  MotoFixture moto({.policy = kEverythingWeUse, .seed = kSeed});
  AwsTestContext test(moto.endpoint(), moto.user());
  test.context().retry.max_attempts = 1;  // moto answers PutJob*Result with 500 (not implemented)
  for (const auto& outcome : call_every_client(test, moto, scratch_.path())) {
    if (outcome.call.starts_with("codepipeline")) {
      ASSERT_TRUE(outcome.error);
      EXPECT_EQ(outcome.error->http_status, 500) << outcome.error->describe();  // past auth
      continue;
    }
    EXPECT_FALSE(outcome.error) << outcome.call << ": " << outcome.error->describe();
  }
  EXPECT_EQ(testing::read_file(scratch_.path() / "app.txt"), "hello bundle");
}

TEST_F(MotoClientsTest, ClientsReadWhatMotoHolds) {
  MotoFixture moto({.policy = kEverythingWeUse, .seed = kSeed});
  AwsTestContext test(moto.endpoint(), moto.user());
  auto& context = test.context();
  EXPECT_EQ(SsmClient(context).get_parameter("/bluegreen/spot-token", test.deadline())->reveal(),
            "moto-ssm-value");
  EXPECT_EQ(SecretsManagerClient(context)
                .get_secret_value("bluegreen/spot-token", test.deadline())
                ->reveal(),
            "moto-secret-value");
  auto head =
      S3Client(context).head_object("bluegreen-artifacts", "releases/app.txt", test.deadline());
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->size, 12u);
  auto instances = Ec2Client(context).describe_instances(
      {ec2_tag_filter("GreenIdentifier", "g-moto")}, test.deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  ASSERT_EQ(instances->size(), 2u);
  EXPECT_EQ((*instances)[0].tags.at("GreenIdentifier"), "g-moto");
  EXPECT_EQ((*instances)[0].state, "running");
  auto none = Ec2Client(context).describe_instances({ec2_tag_filter("GreenIdentifier", "other")},
                                                    test.deadline());
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto statuses = Ec2Client(context).describe_instance_status(
      moto.seeded_instances("GreenIdentifier=g-moto"), test.deadline());
  ASSERT_TRUE(statuses) << statuses.error().describe();
  EXPECT_EQ(statuses->size(), 2u);
  auto group = CodeDeployClient(context).get_deployment_group("web", "web-dg", test.deadline());
  ASSERT_TRUE(group) << group.error().describe();
  EXPECT_EQ(group->deployment_group_name, "web-dg");
  auto missing = SsmClient(context).get_parameter("/bluegreen/nope", test.deadline());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "ParameterNotFound");
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  auto no_key = S3Client(context).get_object("bluegreen-artifacts", "nope.zip",
                                             scratch_.path() / "x", test.deadline());
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, "NoSuchKey");
}

TEST_F(MotoClientsTest, TemporaryCredentialsWithASessionTokenAreAccepted) {
  MotoFixture moto({.policy = kEverythingWeUse, .seed = kSeed});
  const AccessKeys temporary = moto.temporary();
  ASSERT_FALSE(temporary.session_token.empty());
  AwsTestContext test(moto.endpoint(), temporary);
  test.context().retry.max_attempts = 1;
  for (const auto& outcome : call_every_client(test, moto, scratch_.path())) {
    if (outcome.call.starts_with("codepipeline")) {
      ASSERT_TRUE(outcome.error);
      EXPECT_EQ(outcome.error->http_status, 500) << outcome.error->describe();
      continue;
    }
    EXPECT_FALSE(outcome.error) << outcome.call << ": " << outcome.error->describe();
  }
  // The same keys without their token are refused.
  AccessKeys without_token = temporary;
  without_token.session_token.clear();
  AwsTestContext bare(moto.endpoint(), without_token);
  auto refused = SsmClient(bare.context()).get_parameter("/bluegreen/spot-token", bare.deadline());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::permission_denied) << refused.error().describe();
}

TEST_F(MotoClientsTest, AWrongSecretIsSignatureDoesNotMatch) {
  MotoFixture moto({.policy = kEverythingWeUse, .seed = kSeed});
  AccessKeys wrong = moto.user();
  wrong.secret_access_key = "not-the-secret-" + wrong.secret_access_key.substr(0, 8);
  AwsTestContext test(moto.endpoint(), wrong);
  for (const auto& outcome : call_every_client(test, moto, scratch_.path())) {
    ASSERT_TRUE(outcome.error) << outcome.call;
    const AwsError& error = *outcome.error;
    EXPECT_EQ(error.kind, ErrorKind::permission_denied) << error.describe();
    EXPECT_FALSE(error.retryable);
    const bool ec2 = outcome.call.starts_with("ec2");
    const std::string expected_code = ec2 ? "AuthFailure" : "SignatureDoesNotMatch";
    EXPECT_EQ(error.http_status, ec2 ? 401 : 403) << error.describe();
    if (outcome.call != "s3 HeadObject") {  // a HEAD answer has no body to carry the code
      EXPECT_EQ(error.code, expected_code) << error.describe();
      EXPECT_NE(error.to_error().message.find(outcome.call + ": " + expected_code),
                std::string::npos)
          << error.describe();
    }
    EXPECT_EQ(error.describe().find(wrong.secret_access_key), std::string::npos);
  }
  EXPECT_TRUE(test.retry_notices().empty());
  EXPECT_FALSE(std::filesystem::exists(scratch_.path() / "app.txt"));
}

TEST_F(MotoClientsTest, AnActionOutsideThePolicyIsAccessDenied) {
  MotoFixture moto({.policy = kOnlyGetUser, .seed = kSeed});
  AwsTestContext test(moto.endpoint(), moto.user());
  for (const auto& outcome : call_every_client(test, moto, scratch_.path())) {
    ASSERT_TRUE(outcome.error) << outcome.call;
    const AwsError& error = *outcome.error;
    EXPECT_EQ(error.kind, ErrorKind::permission_denied) << error.describe();
    EXPECT_EQ(error.http_status, 403) << error.describe();
    if (outcome.call != "s3 HeadObject") {
      EXPECT_EQ(error.code, "AccessDenied") << error.describe();
    }
  }
}

}  // namespace
}  // namespace bluegreen::aws
