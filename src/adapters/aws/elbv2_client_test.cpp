#include "adapters/aws/elbv2_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class Elbv2ClientTest : public ::testing::Test, protected ClientTestBase {};

constexpr const char* kTargetGroup =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/live/73e2d6bc24d8a067";

TEST_F(Elbv2ClientTest, DescribeTargetHealthReadsEachTarget) {
  http_.answer(
      200,
      R"(<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <HealthCheckPort>80</HealthCheckPort>
        <TargetHealth><State>healthy</State></TargetHealth>
        <Target><Port>80</Port><Id>i-1</Id></Target>
      </member>
      <member>
        <HealthCheckPort>80</HealthCheckPort>
        <TargetHealth><Description>Health checks failed</Description>
          <Reason>Target.FailedHealthChecks</Reason><State>unhealthy</State></TargetHealth>
        <Target><Port>80</Port><Id>i-2</Id></Target>
      </member>
      <member>
        <TargetHealth><Reason>Target.DeregistrationInProgress</Reason><State>draining</State></TargetHealth>
        <Target><Id>i-3</Id></Target>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</DescribeTargetHealthResponse>)");
  auto targets = Elbv2Client(context()).describe_target_health(kTargetGroup, deadline());
  ASSERT_TRUE(targets) << targets.error().describe();
  ASSERT_EQ(targets->size(), 3u);
  EXPECT_EQ((*targets)[0].target_id, "i-1");
  EXPECT_EQ((*targets)[0].port, 80);
  EXPECT_EQ((*targets)[0].state, "healthy");
  EXPECT_EQ((*targets)[0].reason, "");
  EXPECT_EQ((*targets)[1].state, "unhealthy");
  EXPECT_EQ((*targets)[1].reason, "Target.FailedHealthChecks");
  EXPECT_EQ((*targets)[1].description, "Health checks failed");
  EXPECT_EQ((*targets)[2].state, "draining");
  EXPECT_EQ((*targets)[2].port, 0);
  const auto sent = http_.sent();
  EXPECT_EQ(sent[0].body,
            "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3A"
            "elasticloadbalancing%3Aus-east-1%3A123456789012%3Atargetgroup%2Flive%2F"
            "73e2d6bc24d8a067");
  EXPECT_NE(http::find_header(sent[0].headers, "Authorization")
                .value_or("")
                .find("/us-east-1/elasticloadbalancing/aws4_request"),
            std::string::npos);
}

TEST_F(Elbv2ClientTest, AnEmptyTargetGroupHasNoTargets) {
  http_.answer(200, R"(<DescribeTargetHealthResponse><DescribeTargetHealthResult>
    <TargetHealthDescriptions/></DescribeTargetHealthResult></DescribeTargetHealthResponse>)");
  auto targets = Elbv2Client(context()).describe_target_health(kTargetGroup, deadline());
  ASSERT_TRUE(targets) << targets.error().describe();
  EXPECT_TRUE(targets->empty());
}

TEST_F(Elbv2ClientTest, DescribeTargetGroupAttributesByKey) {
  http_.answer(200, R"(<DescribeTargetGroupAttributesResponse>
  <DescribeTargetGroupAttributesResult><Attributes>
    <member><Value>false</Value><Key>stickiness.enabled</Key></member>
    <member><Value>30</Value><Key>deregistration_delay.timeout_seconds</Key></member>
  </Attributes></DescribeTargetGroupAttributesResult>
  <ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata>
</DescribeTargetGroupAttributesResponse>)");
  auto attributes =
      Elbv2Client(context()).describe_target_group_attributes(kTargetGroup, deadline());
  ASSERT_TRUE(attributes) << attributes.error().describe();
  EXPECT_EQ(attributes->size(), 2u);
  EXPECT_EQ(attributes->at("deregistration_delay.timeout_seconds"), "30");
  EXPECT_TRUE(http_.sent()[0].body.starts_with(
      "Action=DescribeTargetGroupAttributes&Version=2015-12-01&TargetGroupArn="));
}

TEST_F(Elbv2ClientTest, AMissingTargetGroupIsNotFound) {
  http_.answer(400,
               R"(<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <Error><Type>Sender</Type><Code>TargetGroupNotFound</Code>
    <Message>One or more target groups not found</Message></Error>
  <RequestId>req-3</RequestId></ErrorResponse>)");
  auto targets = Elbv2Client(context()).describe_target_health(kTargetGroup, deadline());
  ASSERT_FALSE(targets);
  EXPECT_EQ(targets.error().code, "TargetGroupNotFound");
  EXPECT_EQ(targets.error().kind, ErrorKind::not_found);
  EXPECT_EQ(targets.error().service, "elasticloadbalancing");
  EXPECT_EQ(targets.error().operation, "DescribeTargetHealth");
}

}  // namespace
}  // namespace bluegreen::aws
