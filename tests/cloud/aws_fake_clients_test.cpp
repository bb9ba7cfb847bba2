// The CodeDeploy and CodePipeline clients against aws_fake.py, which verifies every SigV4
// signature with botocore and validates every body against botocore's service model, for the
// operations moto lacks (StopDeployment, ListDeploymentTargets, BatchGetDeploymentTargets,
// PutJob*Result) and CodeDeploy's status progression.
#include <gtest/gtest.h>

#include "adapters/aws/codedeploy_client.h"
#include "adapters/aws/codepipeline_client.h"
#include "aws_test_context.h"

namespace bluegreen::aws {
namespace {

using nlohmann::json;
using testing::AccessKeys;
using testing::AwsTestContext;
using testing::control;
using testing::PythonService;

constexpr const char* kJob = "0d3c1c59-8a3e-4a44-9d7b-2f6f1b7e9a10";
const AccessKeys kKeys{"AKIAFAKECODEDEPLOY01", "fake-secret-for-codedeploy", ""};

class AwsFakeTest : public ::testing::Test {
 protected:
  AwsFakeTest()
      : fake_("aws_fake.py", {"--access-key-id", kKeys.access_key_id, "--secret-access-key",
                              kKeys.secret_access_key, "--group", "web/web-dg", "--job", kJob,
                              "--region", "us-east-1"}),
        test_(fake_.url(), kKeys) {}

  CreateDeploymentRequest request(const std::string& green) {
    return {.application_name = "web",
            .deployment_group_name = "web-dg",
            .revision = S3Location{"artifacts", "app.zip", BundleType::zip},
            .target_tag_filters = {{"GreenIdentifier", green}},
            .file_exists_behavior = "OVERWRITE"};
  }
  json violations() { return control(fake_.url(), "/__fake/calls")["violations"]; }

  PythonService fake_;
  AwsTestContext test_;
};

TEST_F(AwsFakeTest, ADeploymentProgressesToSucceededWithItsTargets) {
  control(
      fake_.url(), "/__fake/codedeploy/instances",
      {{"key", "GreenIdentifier"}, {"value", "g-1"}, {"instances", {"i-aaa", "i-bbb", "i-ccc"}}});
  CodeDeployClient codedeploy(test_.context());
  auto id = codedeploy.create_deployment(request("g-1"), test_.deadline());
  ASSERT_TRUE(id) << id.error().describe();
  std::vector<std::string> statuses;
  for (int poll = 0; poll < 3; ++poll) {
    auto info = codedeploy.get_deployment(*id, test_.deadline());
    ASSERT_TRUE(info) << info.error().describe();
    statuses.push_back(info->status);
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"Created", "InProgress", "Succeeded"}));
  auto targets = codedeploy.list_deployment_targets(*id, test_.deadline());  // two pages
  ASSERT_TRUE(targets) << targets.error().describe();
  EXPECT_EQ(*targets, (std::vector<std::string>{"i-aaa", "i-bbb", "i-ccc"}));
  auto details = codedeploy.batch_get_deployment_targets(*id, *targets, test_.deadline());
  ASSERT_TRUE(details) << details.error().describe();
  ASSERT_EQ(details->size(), 3u);
  EXPECT_EQ((*details)[0].status, "Succeeded");
  auto group = codedeploy.get_deployment_group("web", "web-dg", test_.deadline());
  ASSERT_TRUE(group);
  EXPECT_EQ(group->last_attempted_deployment_id, *id);
  auto stop = codedeploy.stop_deployment(*id, true, test_.deadline());
  ASSERT_FALSE(stop);
  EXPECT_EQ(stop.error().code, "DeploymentAlreadyCompletedException");
  EXPECT_EQ(violations(), json::array());
}

TEST_F(AwsFakeTest, AFailingLifecycleEventIsReportedWithItsDiagnostics) {
  control(fake_.url(), "/__fake/codedeploy/script",
          {{"outcome", "fail"},
           {"failing_event", "ValidateService"},
           {"log_tail", "curl: (7) refused"}});
  CodeDeployClient codedeploy(test_.context());
  auto id = codedeploy.create_deployment(request("g-2"), test_.deadline());
  ASSERT_TRUE(id);
  DeploymentInfo info;
  for (int poll = 0; poll < 3; ++poll) info = *codedeploy.get_deployment(*id, test_.deadline());
  EXPECT_EQ(info.status, "Failed");
  EXPECT_EQ(info.error_code, "HOOK_EXECUTION_FAILURE");
  auto targets = codedeploy.list_deployment_targets(*id, test_.deadline());
  auto details = codedeploy.batch_get_deployment_targets(*id, *targets, test_.deadline());
  ASSERT_TRUE(details) << details.error().describe();
  const auto& failed = (*details)[0];
  EXPECT_EQ(failed.status, "Failed");
  const auto event = std::ranges::find(failed.lifecycle_events, std::string("ValidateService"),
                                       &LifecycleEventInfo::name);
  ASSERT_NE(event, failed.lifecycle_events.end());
  EXPECT_EQ(event->status, "Failed");
  EXPECT_EQ(event->error_code, "ScriptFailed");
  EXPECT_EQ(event->log_tail, "curl: (7) refused");
}

TEST_F(AwsFakeTest, StoppingARunningDeployment) {
  CodeDeployClient codedeploy(test_.context());
  auto id = codedeploy.create_deployment(request("g-3"), test_.deadline());
  ASSERT_TRUE(id);
  auto stop = codedeploy.stop_deployment(*id, true, test_.deadline());
  ASSERT_TRUE(stop) << stop.error().describe();
  EXPECT_EQ(stop->status, "Pending");
  auto info = codedeploy.get_deployment(*id, test_.deadline());
  EXPECT_EQ(info->status, "Stopped");
  EXPECT_EQ(info->error_code, "MANUAL_STOP");
  EXPECT_EQ(control(fake_.url(), "/__fake/codedeploy/deployments")[*id]["autoRollbackEnabled"],
            true);
}

TEST_F(AwsFakeTest, JobResultsAreAcceptedOnceAndUnknownJobsRefused) {
  CodePipelineClient pipeline(test_.context());
  auto reported = pipeline.put_job_success_result(
      {.job_id = kJob,
       .execution_details = JobExecutionDetails{"Deployed d-1 to 2 green instances", "d-1", 100},
       .output_variables = {{"DeploymentId", "d-1"}, {"GreenIdentifier", "g-1"}}},
      test_.deadline());
  ASSERT_TRUE(reported) << reported.error().describe();
  auto again =
      pipeline.put_job_failure_result({.job_id = kJob, .message = "late"}, test_.deadline());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "InvalidJobStateException");
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  auto unknown = pipeline.put_job_failure_result({.job_id = "99999999-8888-7777-6666-555555555555",
                                                  .type = JobFailureType::configuration_error,
                                                  .message = "Missing Parameters"},
                                                 test_.deadline());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "JobNotFoundException");
  const json jobs = control(fake_.url(), "/__fake/codepipeline/jobs");
  EXPECT_EQ(jobs[kJob]["state"], "Succeeded");
  EXPECT_EQ(jobs[kJob]["results"][0]["outputVariables"]["DeploymentId"], "d-1");
  EXPECT_EQ(violations(), json::array());
}

TEST_F(AwsFakeTest, ThrottlingAndServerErrorsAreRetriedAndReSigned) {
  control(fake_.url(), "/__fake/script",
          {{"faults",
            {{{"operation", "GetDeploymentGroup"}, {"answer", "throttle"}},
             {{"operation", "GetDeploymentGroup"}, {"answer", "server_error"}}}}});
  auto group =
      CodeDeployClient(test_.context()).get_deployment_group("web", "web-dg", test_.deadline());
  ASSERT_TRUE(group) << group.error().describe();
  EXPECT_EQ(test_.retry_notices(), (std::vector<std::string>{"ThrottlingException (HTTP 400)",
                                                             "InternalFailure (HTTP 500)"}));
  const json calls = control(fake_.url(), "/__fake/calls")["calls"];
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& call : calls) EXPECT_TRUE(call["signature_ok"]) << call.dump();
}

TEST_F(AwsFakeTest, AWrongSecretIsRejectedBySignatureCheck) {
  AccessKeys wrong = kKeys;
  wrong.secret_access_key = "not-the-fake-secret";
  AwsTestContext bad(fake_.url(), wrong);
  auto info = CodeDeployClient(bad.context()).get_deployment_group("web", "web-dg", bad.deadline());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "InvalidSignatureException");
  EXPECT_EQ(info.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(
      info.error().describe().find("codedeploy GetDeploymentGroup: InvalidSignatureException"),
      std::string::npos);
}

}  // namespace
}  // namespace bluegreen::aws
