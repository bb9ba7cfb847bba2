#include "adapters/aws/codepipeline_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class CodePipelineClientTest : public ::testing::Test, protected ClientTestBase {};

TEST_F(CodePipelineClientTest, SuccessWithDetailsAndOutputVariables) {
  http_.answer(200, "");
  JobSuccess success{.job_id = "11111111-2222-3333-4444-555555555555",
                     .execution_details = JobExecutionDetails{"deployed", "d-1", 100},
                     .output_variables = {{"DeploymentId", "d-1"}}};
  auto sent = CodePipelineClient(context()).put_job_success_result(success, deadline());
  ASSERT_TRUE(sent) << sent.error().describe();
  EXPECT_EQ(sent_target(0), "CodePipeline_20150709.PutJobSuccessResult");
  EXPECT_EQ(sent_json(0), nlohmann::json::parse(R"({"jobId":"11111111-2222-3333-4444-555555555555",
    "executionDetails":{"summary":"deployed","externalExecutionId":"d-1","percentComplete":100},
    "outputVariables":{"DeploymentId":"d-1"}})"));
}

TEST_F(CodePipelineClientTest, ContinuationTokenLimitsAreCheckedBeforeSending) {
  JobSuccess too_long{.job_id = "j", .continuation_token = std::string(2049, 'x')};
  auto refused = CodePipelineClient(context()).put_job_success_result(too_long, deadline());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input);
  JobSuccess with_variables{
      .job_id = "j", .continuation_token = "t", .output_variables = {{"a", "b"}}};
  EXPECT_FALSE(CodePipelineClient::success_input(with_variables));
  EXPECT_TRUE(http_.sent().empty());
  auto continued = CodePipelineClient::success_input(
      {.job_id = "j", .continuation_token = std::string(2048, 'x')});
  ASSERT_TRUE(continued);
  EXPECT_EQ((*continued)["continuationToken"].get<std::string>().size(), 2048u);
}

TEST_F(CodePipelineClientTest, FailureTypesAndMessageLength) {
  http_.answer(200, "");
  JobFailure failure{.job_id = "j",
                     .type = JobFailureType::configuration_error,
                     .message = std::string(6000, 'm'),
                     .external_execution_id = "d-1"};
  ASSERT_TRUE(CodePipelineClient(context()).put_job_failure_result(failure, deadline()));
  const auto body = sent_json(0);
  EXPECT_EQ(body["failureDetails"]["type"], "ConfigurationError");
  EXPECT_EQ(body["failureDetails"]["message"].get<std::string>().size(), 5000u);
  EXPECT_EQ(body["failureDetails"]["externalExecutionId"], "d-1");
  EXPECT_EQ(to_string(JobFailureType::revision_unavailable), "RevisionUnavailable");
  EXPECT_EQ(to_string(JobFailureType::system_unavailable), "SystemUnavailable");
}

TEST_F(CodePipelineClientTest, ASecondResultIsAConflict) {
  http_.answer(400, R"({"__type":"InvalidJobStateException","message":"already reported"})");
  auto sent = CodePipelineClient(context()).put_job_failure_result({.job_id = "j", .message = "x"},
                                                                   deadline());
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().kind, ErrorKind::conflict);
}

}  // namespace
}  // namespace bluegreen::aws
