#include "adapters/asg/asg_cloud.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"
#include "scripted_http.h"

namespace bluegreen::asg {
namespace {

class AwsAsgCloudTest : public ::testing::Test, protected aws::ClientTestBase {
 protected:
  std::string sent_action(std::size_t index) {
    const std::string body = http_.sent().at(index).body;
    return body.substr(0, body.find('&'));
  }
};

constexpr const char* kNoGroups = R"(<DescribeAutoScalingGroupsResponse>
  <DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult>
</DescribeAutoScalingGroupsResponse>)";

constexpr const char* kOneGroup = R"(<DescribeAutoScalingGroupsResponse>
  <DescribeAutoScalingGroupsResult><AutoScalingGroups><member>
    <AutoScalingGroupName>web-green-2</AutoScalingGroupName>
    <LaunchTemplate><LaunchTemplateName>web</LaunchTemplateName><Version>4</Version></LaunchTemplate>
    <MinSize>1</MinSize><MaxSize>3</MaxSize><DesiredCapacity>2</DesiredCapacity>
    <Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>
      <HealthStatus>Healthy</HealthStatus></member></Instances>
    <Tags><member><Key>bluegreen:app</Key><Value>web</Value></member></Tags>
  </member></AutoScalingGroups></DescribeAutoScalingGroupsResult>
</DescribeAutoScalingGroupsResponse>)";

TEST_F(AwsAsgCloudTest, AGroupIsFoundByNameOrIsNone) {
  http_.answer(200, kOneGroup);
  http_.answer(200, kNoGroups);
  AwsAsgCloud cloud(context());
  auto found = cloud.group_named("web-green-2", deadline());
  ASSERT_TRUE(found) << found.error().describe();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->launch_template.name, "web");
  EXPECT_EQ((*found)->launch_template.version, "4");
  EXPECT_EQ((*found)->desired_capacity, 2);
  ASSERT_EQ((*found)->instances.size(), 1u);
  EXPECT_EQ((*found)->instances[0].lifecycle_state, "InService");
  EXPECT_EQ((*found)->tags.at("bluegreen:app"), "web");
  auto missing = cloud.group_named("web-green-3", deadline());
  ASSERT_TRUE(missing) << missing.error().describe();
  EXPECT_FALSE(missing->has_value());
  EXPECT_NE(http_.sent()[1].body.find("AutoScalingGroupNames.member.1=web-green-3"),
            std::string::npos);
}

TEST_F(AwsAsgCloudTest, DeletingAGroupAlreadyGoneIsNoError) {
  http_.answer(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>
    <Message>AutoScalingGroup name not found - AutoScalingGroup 'web-blue-1' not found</Message>
    </Error><RequestId>r</RequestId></ErrorResponse>)");
  http_.answer(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>ResourceInUse</Code>
    <Message>You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.</Message>
    </Error><RequestId>r</RequestId></ErrorResponse>)");
  AwsAsgCloud cloud(context());
  EXPECT_TRUE(cloud.delete_group("web-blue-1", deadline()));
  EXPECT_TRUE(http_.sent()[0].body.ends_with("&ForceDelete=true"));
  auto busy = cloud.delete_group("web-blue-1", deadline());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, "ResourceInUse");
}

TEST_F(AwsAsgCloudTest, CreatingAGroupThatExistsIsAConflict) {
  http_.answer(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>AlreadyExists</Code>
    <Message>AutoScalingGroup by this name already exists</Message></Error></ErrorResponse>)");
  NewGroup group;
  group.name = "web-green-2";
  group.launch_template = {"lt-1", "", "$Latest"};
  group.tags = {{"bluegreen:app", "web"}};
  auto created = AwsAsgCloud(context()).create_group(group, deadline());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, "AlreadyExists");
  EXPECT_EQ(created.error().kind, ErrorKind::conflict);
  EXPECT_NE(http_.sent()[0].body.find("Tags.member.1.PropagateAtLaunch=true"), std::string::npos);
}

TEST_F(AwsAsgCloudTest, ReadsTheDeregistrationDelayInSeconds) {
  http_.answer(200, R"(<DescribeTargetGroupAttributesResponse><DescribeTargetGroupAttributesResult>
    <Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>45</Value></member>
    </Attributes></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>)");
  http_.answer(200, R"(<DescribeTargetGroupAttributesResponse><DescribeTargetGroupAttributesResult>
    <Attributes/></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>)");
  http_.answer(200, R"(<DescribeTargetGroupAttributesResponse><DescribeTargetGroupAttributesResult>
    <Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>soon</Value></member>
    </Attributes></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>)");
  AwsAsgCloud cloud(context());
  EXPECT_EQ(cloud.deregistration_delay("arn:tg", deadline()).value(), std::chrono::seconds(45));
  EXPECT_EQ(cloud.deregistration_delay("arn:tg", deadline()).value(), std::chrono::seconds(300));
  auto unreadable = cloud.deregistration_delay("arn:tg", deadline());
  ASSERT_FALSE(unreadable);
  EXPECT_EQ(unreadable.error().kind, ErrorKind::unavailable);
}

TEST_F(AwsAsgCloudTest, StatusChecksOfNoInstanceAskNothing) {
  auto none = AwsAsgCloud(context()).status_checks({}, deadline());
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(http_.sent().empty());
}

TEST_F(AwsAsgCloudTest, DeploymentTargetsAreListedThenReadInBatches) {
  nlohmann::json ids = nlohmann::json::array();
  for (int i = 0; i < 30; ++i) ids.push_back("i-" + std::to_string(i));
  http_.answer(200, nlohmann::json{{"targetIds", ids}}.dump());
  http_.answer(200, R"({"deploymentTargets":[{"deploymentTargetType":"InstanceTarget",
    "instanceTarget":{"targetId":"i-0","status":"Succeeded","lifecycleEvents":[]}}]})");
  http_.answer(200, R"({"deploymentTargets":[{"deploymentTargetType":"InstanceTarget",
    "instanceTarget":{"targetId":"i-29","status":"Failed","lifecycleEvents":[]}}]})");
  auto targets = AwsAsgCloud(context()).deployment_targets("d-1", deadline());
  ASSERT_TRUE(targets) << targets.error().describe();
  ASSERT_EQ(targets->size(), 2u);
  EXPECT_EQ((*targets)[1].target_id, "i-29");
  EXPECT_EQ((*targets)[1].status, "Failed");
  ASSERT_EQ(http_.sent().size(), 3u);
  EXPECT_EQ(sent_target(0), "CodeDeploy_20141006.ListDeploymentTargets");
  EXPECT_EQ(sent_json(1)["targetIds"].size(), 25u);
  EXPECT_EQ(sent_json(2)["targetIds"].size(), 5u);
}

TEST_F(AwsAsgCloudTest, StopsDeploymentsWithAutoRollbackAndReadsTheLastAttempt) {
  http_.answer(200, R"({"status":"Pending","statusMessage":"Stopping"})");
  http_.answer(200, R"({"deploymentGroupInfo":{"applicationName":"web",
    "deploymentGroupName":"web-asg","lastAttemptedDeployment":{"deploymentId":"d-7",
    "status":"Failed"}}})");
  http_.answer(200, R"({"deploymentGroupInfo":{"applicationName":"web",
    "deploymentGroupName":"fresh"}})");
  AwsAsgCloud cloud(context());
  ASSERT_TRUE(cloud.stop_deployment("d-7", deadline()));
  EXPECT_EQ(sent_json(0)["autoRollbackEnabled"], true);
  EXPECT_EQ(cloud.last_attempted_deployment("web", "web-asg", deadline()).value(), "d-7");
  EXPECT_EQ(cloud.last_attempted_deployment("web", "fresh", deadline()).value(), "");
}

TEST_F(AwsAsgCloudTest, TargetHealthAndTagsGoToTheirServices) {
  http_.answer(200, R"(<DescribeTargetHealthResponse><DescribeTargetHealthResult>
    <TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>80</Port></Target>
    <TargetHealth><State>initial</State><Reason>Elb.RegistrationInProgress</Reason></TargetHealth>
    </member></TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>)");
  http_.answer(200, "<CreateOrUpdateTagsResponse/>");
  AwsAsgCloud cloud(context());
  auto health = cloud.target_health("arn:tg", deadline());
  ASSERT_TRUE(health) << health.error().describe();
  ASSERT_EQ(health->size(), 1u);
  EXPECT_EQ((*health)[0].state, "initial");
  EXPECT_EQ((*health)[0].reason, "Elb.RegistrationInProgress");
  ASSERT_TRUE(cloud.tag_group("web-green-2", "bluegreen:state", "live", deadline()));
  EXPECT_EQ(sent_action(0), "Action=DescribeTargetHealth");
  EXPECT_EQ(sent_action(1), "Action=CreateOrUpdateTags");
  EXPECT_TRUE(http_.sent()[1].body.ends_with("PropagateAtLaunch=false"));
}

}  // namespace
}  // namespace bluegreen::asg
