#include "adapters/aws/codedeploy_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class CodeDeployClientTest : public ::testing::Test, protected ClientTestBase {};

TEST_F(CodeDeployClientTest, CreateDeploymentSendsTheRevisionAndGreenTagFilter) {
  http_.answer(200, R"({"deploymentId":"d-ABC123"})");
  CreateDeploymentRequest request{
      .application_name = "app",
      .deployment_group_name = "dg",
      .revision = S3Location{"bucket", "app.zip", BundleType::zip, "", "etag1"},
      .target_tag_filters = {{"GreenIdentifier", "g-1"}},
      .file_exists_behavior = "OVERWRITE",
      .auto_rollback_enabled = true};
  auto id = CodeDeployClient(context()).create_deployment(request, deadline());
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_EQ(*id, "d-ABC123");
  EXPECT_EQ(sent_target(0), "CodeDeploy_20141006.CreateDeployment");
  EXPECT_EQ(sent_json(0), nlohmann::json::parse(R"({
    "applicationName":"app","deploymentGroupName":"dg",
    "revision":{"revisionType":"S3","s3Location":{"bucket":"bucket","key":"app.zip","bundleType":"zip","eTag":"etag1"}},
    "targetInstances":{"tagFilters":[{"Key":"GreenIdentifier","Value":"g-1","Type":"KEY_AND_VALUE"}]},
    "fileExistsBehavior":"OVERWRITE",
    "autoRollbackConfiguration":{"enabled":true,"events":["DEPLOYMENT_FAILURE","DEPLOYMENT_STOP_ON_REQUEST"]}})"));
}

TEST_F(CodeDeployClientTest, GitHubRevisionShape) {
  const auto input =
      CodeDeployClient::create_deployment_input({.application_name = "a",
                                                 .deployment_group_name = "g",
                                                 .revision = GitHubLocation{"o/r", "abc"}});
  EXPECT_EQ(
      input["revision"],
      nlohmann::json::parse(
          R"({"revisionType":"GitHub","gitHubLocation":{"repository":"o/r","commitId":"abc"}})"));
  EXPECT_FALSE(input.contains("targetInstances"));
}

TEST_F(CodeDeployClientTest, GetDeploymentReadsStatusErrorOverviewAndEitherTimeFormat) {
  http_.answer(200, R"({"deploymentInfo":{"deploymentId":"d-1","status":"Failed",
    "errorInformation":{"code":"HOOK_EXECUTION_FAILURE","message":"hook failed"},
    "deploymentOverview":{"Pending":0,"InProgress":1,"Succeeded":2,"Failed":1,"Skipped":0,"Ready":0},
    "targetInstances":{"tagFilters":[{"Key":"GreenIdentifier","Value":"g","Type":"KEY_AND_VALUE"}]},
    "createTime":1700000000.5,"completeTime":"2023-11-14T22:13:30.000Z","newField":true}})");
  auto info = CodeDeployClient(context()).get_deployment("d-1", deadline());
  ASSERT_TRUE(info) << info.error().describe();
  EXPECT_EQ(info->status, "Failed");
  EXPECT_TRUE(is_terminal_deployment_status(info->status));
  EXPECT_FALSE(is_terminal_deployment_status("Ready"));
  EXPECT_EQ(info->error_code, "HOOK_EXECUTION_FAILURE");
  EXPECT_EQ(info->succeeded, 2);
  EXPECT_EQ(info->in_progress, 1);
  ASSERT_EQ(info->target_tag_filters.size(), 1u);
  EXPECT_EQ(info->target_tag_filters[0].value, "g");
  EXPECT_EQ(to_epoch_ms(*info->create_time), 1'700'000'000'500);
  EXPECT_EQ(to_epoch_ms(*info->complete_time), 1'700'000'010'000);
  EXPECT_TRUE(info->raw["newField"]);
}

TEST_F(CodeDeployClientTest, ListTargetsFollowsNextTokenAndBatchGetSendsAtMost25) {
  http_.answer(200, R"({"targetIds":["i-1","i-2"],"nextToken":"page2"})");
  http_.answer(200, R"({"targetIds":["i-3"]})");
  CodeDeployClient client(context());
  auto ids = client.list_deployment_targets("d-1", deadline());
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<std::string>{"i-1", "i-2", "i-3"}));
  EXPECT_EQ(sent_json(1)["nextToken"], "page2");

  std::vector<std::string> many;
  for (int i = 0; i < 30; ++i) many.push_back("i-" + std::to_string(i));
  http_.answer(200,
               R"({"deploymentTargets":[{"deploymentTargetType":"InstanceTarget","instanceTarget":{
    "targetId":"i-0","status":"Failed","instanceLabel":"Green","lifecycleEvents":[
      {"lifecycleEventName":"BeforeInstall","status":"Succeeded"},
      {"lifecycleEventName":"ValidateService","status":"Failed","diagnostics":{"errorCode":"ScriptFailed",
       "scriptName":"scripts/validate.sh","message":"exit 1","logTail":"curl: (7) refused"}}]}}]})");
  http_.answer(200, R"({"deploymentTargets":[]})");
  auto targets = client.batch_get_deployment_targets("d-1", many, deadline());
  ASSERT_TRUE(targets) << targets.error().describe();
  EXPECT_EQ(sent_json(2)["targetIds"].size(), 25u);
  EXPECT_EQ(sent_json(3)["targetIds"].size(), 5u);
  ASSERT_EQ(targets->size(), 1u);
  const auto& target = (*targets)[0];
  EXPECT_EQ(target.instance_label, "Green");
  ASSERT_EQ(target.lifecycle_events.size(), 2u);
  EXPECT_EQ(target.lifecycle_events[1].error_code, "ScriptFailed");
  EXPECT_EQ(target.lifecycle_events[1].log_tail, "curl: (7) refused");
}

TEST_F(CodeDeployClientTest, StopAndGroupAndTypedErrors) {
  http_.answer(200, R"({"status":"Pending","statusMessage":"Stopping"})");
  http_.answer(200, R"({"deploymentGroupInfo":{"applicationName":"a","deploymentGroupName":"g",
    "deploymentGroupId":"uuid","deploymentStyle":{"deploymentType":"BLUE_GREEN","deploymentOption":"WITHOUT_TRAFFIC_CONTROL"},
    "lastAttemptedDeployment":{"deploymentId":"d-9","status":"InProgress"}}})");
  http_.answer(400, R"({"__type":"DeploymentAlreadyCompletedException","message":"done"})");
  CodeDeployClient client(context());
  auto stopped = client.stop_deployment("d-1", true, deadline());
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, "Pending");
  EXPECT_EQ(sent_json(0)["autoRollbackEnabled"], true);
  auto group = client.get_deployment_group("a", "g", deadline());
  ASSERT_TRUE(group);
  EXPECT_EQ(group->deployment_type, "BLUE_GREEN");
  EXPECT_EQ(group->last_attempted_deployment_id, "d-9");
  auto again = client.stop_deployment("d-1", std::nullopt, deadline());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "DeploymentAlreadyCompletedException");
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  EXPECT_FALSE(sent_json(2).contains("autoRollbackEnabled"));
}

}  // namespace
}  // namespace bluegreen::aws
