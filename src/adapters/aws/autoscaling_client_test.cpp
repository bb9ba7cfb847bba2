#include "adapters/aws/autoscaling_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class AutoScalingClientTest : public ::testing::Test, protected ClientTestBase {
 protected:
  std::string sent_scope(std::size_t index) {
    return std::string(
        http::find_header(http_.sent().at(index).headers, "Authorization").value_or(""));
  }
};

constexpr const char* kGroupsPage1 =
    R"(<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>
      <member>
        <AutoScalingGroupName>web-green-7</AutoScalingGroupName>
        <AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1f:autoScalingGroupName/web-green-7</AutoScalingGroupARN>
        <LaunchTemplate><LaunchTemplateId>lt-0abc</LaunchTemplateId><LaunchTemplateName>web</LaunchTemplateName><Version>$Latest</Version></LaunchTemplate>
        <MinSize>2</MinSize><MaxSize>4</MaxSize><DesiredCapacity>3</DesiredCapacity>
        <AvailabilityZones><member>us-east-1a</member><member>us-east-1b</member></AvailabilityZones>
        <TargetGroupARNs><member>arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/live/1</member></TargetGroupARNs>
        <Instances>
          <member><InstanceId>i-1</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone>
            <LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus>
            <ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>
          <member><InstanceId>i-2</InstanceId><AvailabilityZone>us-east-1b</AvailabilityZone>
            <LifecycleState>Pending</LifecycleState><HealthStatus>Healthy</HealthStatus></member>
        </Instances>
        <VPCZoneIdentifier>subnet-a,subnet-b</VPCZoneIdentifier>
        <Tags>
          <member><ResourceId>web-green-7</ResourceId><ResourceType>auto-scaling-group</ResourceType>
            <Key>bluegreen:app</Key><Value>web</Value><PropagateAtLaunch>true</PropagateAtLaunch></member>
          <member><Key>bluegreen:colour</Key><Value>green</Value></member>
        </Tags>
      </member>
    </AutoScalingGroups>
    <NextToken>page-2</NextToken>
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>)";

constexpr const char* kGroupsPage2 =
    R"(<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups>
      <member><AutoScalingGroupName>web-blue-6</AutoScalingGroupName>
        <LaunchConfigurationName>old</LaunchConfigurationName>
        <MinSize>0</MinSize><MaxSize>0</MaxSize><DesiredCapacity>0</DesiredCapacity>
        <Instances/><TargetGroupARNs/><Status>Delete in progress</Status></member>
    </AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>)";

constexpr const char* kNoOutput = R"(<CreateAutoScalingGroupResponse
  xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata>
  <RequestId>req-2</RequestId></ResponseMetadata></CreateAutoScalingGroupResponse>)";

TEST_F(AutoScalingClientTest, DescribeByTagFollowsPagesAndReadsEachGroup) {
  http_.answer(200, kGroupsPage1);
  http_.answer(200, kGroupsPage2);
  auto groups = AutoScalingClient(context()).describe_auto_scaling_groups(
      {}, {autoscaling_tag_filter("bluegreen:app", "web")}, deadline());
  ASSERT_TRUE(groups) << groups.error().describe();
  ASSERT_EQ(groups->size(), 2u);
  const AutoScalingGroupInfo& green = (*groups)[0];
  EXPECT_EQ(green.name, "web-green-7");
  EXPECT_EQ(green.launch_template.id, "lt-0abc");
  EXPECT_EQ(green.launch_template.name, "web");
  EXPECT_EQ(green.launch_template.version, "$Latest");
  EXPECT_EQ(green.min_size, 2);
  EXPECT_EQ(green.max_size, 4);
  EXPECT_EQ(green.desired_capacity, 3);
  EXPECT_EQ(green.vpc_zone_identifier, "subnet-a,subnet-b");
  EXPECT_EQ(green.availability_zones, (std::vector<std::string>{"us-east-1a", "us-east-1b"}));
  ASSERT_EQ(green.target_group_arns.size(), 1u);
  EXPECT_TRUE(green.target_group_arns[0].ends_with("targetgroup/live/1"));
  ASSERT_EQ(green.instances.size(), 2u);
  EXPECT_EQ(green.instances[0].instance_id, "i-1");
  EXPECT_EQ(green.instances[0].lifecycle_state, "InService");
  EXPECT_EQ(green.instances[1].lifecycle_state, "Pending");
  EXPECT_EQ(green.instances[1].availability_zone, "us-east-1b");
  EXPECT_EQ(green.tags.at("bluegreen:colour"), "green");
  EXPECT_EQ(green.status, "");
  const AutoScalingGroupInfo& blue = (*groups)[1];
  EXPECT_EQ(blue.launch_configuration, "old");
  EXPECT_EQ(blue.launch_template.id, "");
  EXPECT_TRUE(blue.instances.empty());
  EXPECT_EQ(blue.status, "Delete in progress");

  const auto sent = http_.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].body,
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&"
            "Filters.member.1.Name=tag%3Abluegreen%3Aapp&Filters.member.1.Values.member.1=web&"
            "MaxRecords=100");
  EXPECT_TRUE(sent[1].body.ends_with("&MaxRecords=100&NextToken=page-2"));
  EXPECT_NE(sent_scope(0).find("/us-east-1/autoscaling/aws4_request"), std::string::npos);
}

TEST_F(AutoScalingClientTest, DescribeByNameAnswersNothingForAMissingGroup) {
  http_.answer(200, R"(<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>
    <AutoScalingGroups/></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>)");
  auto groups =
      AutoScalingClient(context()).describe_auto_scaling_groups({"gone", "also"}, {}, deadline());
  ASSERT_TRUE(groups) << groups.error().describe();
  EXPECT_TRUE(groups->empty());
  EXPECT_EQ(http_.sent()[0].body,
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&"
            "AutoScalingGroupNames.member.1=gone&AutoScalingGroupNames.member.2=also&"
            "MaxRecords=100");
}

TEST_F(AutoScalingClientTest, CreateSendsTemplateSizesSubnetsTargetGroupsAndPropagatedTags) {
  http_.answer(200, kNoOutput);
  CreateAutoScalingGroupRequest request;
  request.name = "web-green-8";
  request.launch_template = {"", "web", "3"};
  request.min_size = 1;
  request.max_size = 2;
  request.desired_capacity = 2;
  request.vpc_zone_identifier = "subnet-a,subnet-b";
  request.availability_zones = {"us-east-1a"};  // not sent: the subnets say where
  request.target_group_arns = {"arn:tg/preview"};
  request.tags = {{"bluegreen:app", "web"}, {"Name", "web green"}};
  auto created = AutoScalingClient(context()).create_auto_scaling_group(request, deadline());
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_EQ(http_.sent()[0].body,
            "Action=CreateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=web-green-8&"
            "LaunchTemplate.LaunchTemplateName=web&LaunchTemplate.Version=3&MinSize=1&"
            "MaxSize=2&DesiredCapacity=2&VPCZoneIdentifier=subnet-a%2Csubnet-b&"
            "TargetGroupARNs.member.1=arn%3Atg%2Fpreview&"
            "Tags.member.1.ResourceId=web-green-8&Tags.member.1.ResourceType=auto-scaling-group&"
            "Tags.member.1.Key=bluegreen%3Aapp&Tags.member.1.Value=web&"
            "Tags.member.1.PropagateAtLaunch=true&"
            "Tags.member.2.ResourceId=web-green-8&Tags.member.2.ResourceType=auto-scaling-group&"
            "Tags.member.2.Key=Name&Tags.member.2.Value=web%20green&"
            "Tags.member.2.PropagateAtLaunch=true");
}

TEST_F(AutoScalingClientTest, CreateWithoutSubnetsNamesZonesAndTemplateById) {
  http_.answer(200, kNoOutput);
  CreateAutoScalingGroupRequest request;
  request.name = "web-green-8";
  request.launch_template = {"lt-0abc", "ignored-when-an-id-is-given", ""};
  request.availability_zones = {"us-east-1a", "us-east-1b"};
  auto created = AutoScalingClient(context()).create_auto_scaling_group(request, deadline());
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_EQ(http_.sent()[0].body,
            "Action=CreateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=web-green-8&"
            "LaunchTemplate.LaunchTemplateId=lt-0abc&MinSize=0&MaxSize=0&DesiredCapacity=0&"
            "AvailabilityZones.member.1=us-east-1a&AvailabilityZones.member.2=us-east-1b");
}

TEST_F(AutoScalingClientTest, CreateOfAnExistingGroupIsAConflict) {
  http_.answer(400, R"(<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <Error><Type>Sender</Type><Code>AlreadyExists</Code>
    <Message>AutoScalingGroup by this name already exists - A group with the name web-green-8 already exists</Message>
  </Error><RequestId>req-3</RequestId></ErrorResponse>)");
  CreateAutoScalingGroupRequest request;
  request.name = "web-green-8";
  request.launch_template.id = "lt-0abc";
  auto created = AutoScalingClient(context()).create_auto_scaling_group(request, deadline());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, "AlreadyExists");
  EXPECT_EQ(created.error().kind, ErrorKind::conflict);
  EXPECT_EQ(created.error().request_id, "req-3");
  EXPECT_EQ(http_.sent().size(), 1u);  // not retried

  auto nameless = AutoScalingClient(context()).create_auto_scaling_group({}, deadline());
  ASSERT_FALSE(nameless);
  EXPECT_EQ(nameless.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(http_.sent().size(), 1u);
}

TEST_F(AutoScalingClientTest, TagsAGroupWithoutPropagating) {
  http_.answer(200, "<CreateOrUpdateTagsResponse><ResponseMetadata/></CreateOrUpdateTagsResponse>");
  auto tagged = AutoScalingClient(context()).create_or_update_tags(
      "web-green-8", {{"bluegreen:state", "live"}}, /*propagate_at_launch=*/false, deadline());
  ASSERT_TRUE(tagged) << tagged.error().describe();
  EXPECT_EQ(http_.sent()[0].body,
            "Action=CreateOrUpdateTags&Version=2011-01-01&Tags.member.1.ResourceId=web-green-8&"
            "Tags.member.1.ResourceType=auto-scaling-group&Tags.member.1.Key=bluegreen%3Astate&"
            "Tags.member.1.Value=live&Tags.member.1.PropagateAtLaunch=false");
  EXPECT_FALSE(AutoScalingClient(context()).create_or_update_tags("g", {}, false, deadline()));
  EXPECT_EQ(http_.sent().size(), 1u);
}

TEST_F(AutoScalingClientTest, DeleteForcesAndRecognisesAMissingGroup) {
  http_.answer(200, "<DeleteAutoScalingGroupResponse/>");
  http_.answer(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>
    <Message>AutoScalingGroup name not found - AutoScalingGroup 'gone' not found</Message>
    </Error><RequestId>req-4</RequestId></ErrorResponse>)");
  const AutoScalingClient client(context());
  ASSERT_TRUE(client.delete_auto_scaling_group("web-blue-6", /*force_delete=*/true, deadline()));
  EXPECT_EQ(http_.sent()[0].body,
            "Action=DeleteAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=web-blue-6&"
            "ForceDelete=true");
  auto gone = client.delete_auto_scaling_group("gone", true, deadline());
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "ValidationError");
  EXPECT_TRUE(is_group_not_found(gone.error()));
  AwsError other;
  other.code = "ValidationError";
  other.message = "Max size must be at least min size";
  EXPECT_FALSE(is_group_not_found(other));
}

TEST_F(AutoScalingClientTest, AttachesAndDetachesTargetGroups) {
  http_.answer(200, R"(<AttachLoadBalancerTargetGroupsResponse>
    <AttachLoadBalancerTargetGroupsResult/><ResponseMetadata><RequestId>r</RequestId>
    </ResponseMetadata></AttachLoadBalancerTargetGroupsResponse>)");
  http_.answer(200, R"(<DetachLoadBalancerTargetGroupsResponse>
    <DetachLoadBalancerTargetGroupsResult/></DetachLoadBalancerTargetGroupsResponse>)");
  const AutoScalingClient client(context());
  ASSERT_TRUE(
      client.attach_load_balancer_target_groups("g", {"arn:live", "arn:preview"}, deadline()));
  ASSERT_TRUE(client.detach_load_balancer_target_groups("g", {"arn:preview"}, deadline()));
  const auto sent = http_.sent();
  EXPECT_EQ(sent[0].body,
            "Action=AttachLoadBalancerTargetGroups&Version=2011-01-01&AutoScalingGroupName=g&"
            "TargetGroupARNs.member.1=arn%3Alive&TargetGroupARNs.member.2=arn%3Apreview");
  EXPECT_EQ(sent[1].body,
            "Action=DetachLoadBalancerTargetGroups&Version=2011-01-01&AutoScalingGroupName=g&"
            "TargetGroupARNs.member.1=arn%3Apreview");
  auto nothing = client.attach_load_balancer_target_groups("g", {}, deadline());
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(http_.sent().size(), 2u);
}

TEST_F(AutoScalingClientTest, ThrottlingIsRetried) {
  http_.answer(400, R"(<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
    <Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>)");
  http_.answer(200, kNoOutput);
  ASSERT_TRUE(AutoScalingClient(context()).delete_auto_scaling_group("g", true, deadline()));
  EXPECT_EQ(http_.sent().size(), 2u);
}

}  // namespace
}  // namespace bluegreen::aws
