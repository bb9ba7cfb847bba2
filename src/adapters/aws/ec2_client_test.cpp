#include "adapters/aws/ec2_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class Ec2ClientTest : public ::testing::Test, protected ClientTestBase {};

constexpr const char* kPage1 =
    R"(<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
 <reservationSet><item><instancesSet><item>
   <instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState>
   <instanceType>t3.micro</instanceType><privateIpAddress>10.0.0.1</privateIpAddress>
   <placement><availabilityZone>us-east-1a</availabilityZone></placement>
   <tagSet><item><key>GreenIdentifier</key><value>g-1</value></item><item><key>Name</key><value>web</value></item></tagSet>
 </item></instancesSet></item></reservationSet><nextToken>more</nextToken></DescribeInstancesResponse>)";
constexpr const char* kPage2 =
    R"(<DescribeInstancesResponse><reservationSet><item><instancesSet><item>
   <instanceId>i-2</instanceId><instanceState><name>terminated</name></instanceState>
   <stateReason><code>Server.SpotInstanceTermination</code><message>Server.SpotInstanceTermination: Spot instance termination</message></stateReason></item></instancesSet></item>
 </reservationSet></DescribeInstancesResponse>)";

TEST_F(Ec2ClientTest, DescribeInstancesByTagFollowsPages) {
  http_.answer(200, kPage1);
  http_.answer(200, kPage2);
  auto instances = Ec2Client(context()).describe_instances(
      {ec2_tag_filter("GreenIdentifier", "g-1"), {"instance-state-name", {"pending", "running"}}},
      deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  ASSERT_EQ(instances->size(), 2u);
  EXPECT_EQ((*instances)[0].instance_id, "i-1");
  EXPECT_EQ((*instances)[0].state, "running");
  EXPECT_EQ((*instances)[0].private_ip, "10.0.0.1");
  EXPECT_EQ((*instances)[0].availability_zone, "us-east-1a");
  EXPECT_EQ((*instances)[0].tags.at("GreenIdentifier"), "g-1");
  EXPECT_EQ((*instances)[0].state_reason, "");
  EXPECT_EQ((*instances)[1].state, "terminated");
  EXPECT_EQ((*instances)[1].state_reason, "Server.SpotInstanceTermination");
  const auto sent = http_.sent();
  EXPECT_EQ(sent[0].body,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AGreenIdentifier&"
            "Filter.1.Value.1=g-1&Filter.2.Name=instance-state-name&Filter.2.Value.1=pending&"
            "Filter.2.Value.2=running");
  EXPECT_TRUE(sent[1].body.ends_with("&NextToken=more"));
}

TEST_F(Ec2ClientTest, DescribeInstanceStatusReadsBothChecks) {
  http_.answer(200, R"(<DescribeInstanceStatusResponse><instanceStatusSet>
    <item><instanceId>i-1</instanceId><instanceState><name>running</name></instanceState>
      <systemStatus><status>ok</status></systemStatus><instanceStatus><status>ok</status></instanceStatus></item>
    <item><instanceId>i-2</instanceId><instanceState><name>running</name></instanceState>
      <systemStatus><status>ok</status></systemStatus><instanceStatus><status>initializing</status></instanceStatus></item>
  </instanceStatusSet></DescribeInstanceStatusResponse>)");
  auto statuses = Ec2Client(context()).describe_instance_status({"i-1", "i-2"}, deadline());
  ASSERT_TRUE(statuses);
  ASSERT_EQ(statuses->size(), 2u);
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_FALSE((*statuses)[1].ok());
  EXPECT_EQ(http_.sent()[0].body,
            "Action=DescribeInstanceStatus&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2&"
            "IncludeAllInstances=true");
}

TEST_F(Ec2ClientTest, RefusesAnEmptyInstanceListAndReadsEc2Errors) {
  auto empty = Ec2Client(context()).describe_instance_status({}, deadline());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::invalid_input);
  EXPECT_TRUE(http_.sent().empty());
  http_.answer(
      400,
      "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance "
      "ID 'i-x' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>");
  auto missing = Ec2Client(context()).describe_instance_status({"i-x"}, deadline());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "InvalidInstanceID.NotFound");
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST_F(Ec2ClientTest, CreateTagsNamesEachInstanceAndTag) {
  http_.answer(200, "<CreateTagsResponse><return>true</return></CreateTagsResponse>");
  auto tagged = Ec2Client(context()).create_tags(
      {"i-1", "i-2"}, {{"GreenIdentifier", "g 1"}, {"GreenReplacement", "g-1-r1"}}, deadline());
  ASSERT_TRUE(tagged) << tagged.error().describe();
  EXPECT_EQ(http_.sent()[0].body,
            "Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1&ResourceId.2=i-2&"
            "Tag.1.Key=GreenIdentifier&Tag.1.Value=g%201&Tag.2.Key=GreenReplacement&"
            "Tag.2.Value=g-1-r1");
  auto nothing = Ec2Client(context()).create_tags({}, {{"k", "v"}}, deadline());
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(http_.sent().size(), 1u);
}

}  // namespace
}  // namespace bluegreen::aws
