#include "infra/aws/aws_client.h"

#include <gtest/gtest.h>

#include "scripted_http.h"

namespace bluegreen::aws {
namespace {

using testing::ScriptedHttp;

http::Response answer(int status, std::string body) {
  return http::Response{status, {}, std::move(body), 0};
}

class AwsClientTest : public ::testing::Test {
 protected:
  AwsClientTest() {
    AwsCredentials temporary;
    temporary.access_key_id = "ASIATEST";
    temporary.secret_access_key = Secret("planted-secret-value");
    temporary.session_token = Secret("planted-session-token");
    credentials_ = std::make_unique<StaticCredentialsProvider>(temporary);
  }
  AwsContext context() {
    AwsContext context{http_, *credentials_, clock_, "us-east-1",
                       map_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5055"}})};
    context.retry.base_delay = Duration(2000);
    context.retry.random = [] { return 1.0; };
    context.on_retry = [this](const RetryNotice& notice) { notices_.push_back(notice); };
    return context;
  }
  TimePoint in(std::chrono::seconds seconds) { return clock_.now() + seconds; }

  ScriptedHttp http_;
  FakeClock clock_;
  std::unique_ptr<CredentialsProvider> credentials_;
  std::vector<RetryNotice> notices_;
};

TEST_F(AwsClientTest, JsonCallIsSignedForItsServiceAndCarriesTheTarget) {
  http_.answers.push_back(answer(200, R"({"deploymentInfo":{"status":"Created"}})"));
  AwsServiceClient codedeploy(context(), AwsService::codedeploy);
  auto output = codedeploy.call_json("GetDeployment", {{"deploymentId", "d-1"}},
                                     in(std::chrono::seconds(60)));
  ASSERT_TRUE(output) << output.error().describe();
  EXPECT_EQ((*output)["deploymentInfo"]["status"], "Created");
  ASSERT_EQ(http_.sent().size(), 1u);
  const http::Request sent = http_.sent()[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "http://127.0.0.1:5055/");
  EXPECT_EQ(sent.body, R"({"deploymentId":"d-1"})");
  EXPECT_EQ(http::find_header(sent.headers, "X-Amz-Target"), "CodeDeploy_20141006.GetDeployment");
  EXPECT_EQ(http::find_header(sent.headers, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(http::find_header(sent.headers, "X-Amz-Security-Token"), "planted-session-token");
  const auto authorization = *http::find_header(sent.headers, "Authorization");
  EXPECT_NE(authorization.find("/us-east-1/codedeploy/aws4_request"), std::string_view::npos);
  EXPECT_NE(authorization.find(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
            std::string_view::npos);
  EXPECT_GT(sent.timeout.count(), 0);
}

TEST_F(AwsClientTest, RetriesThrottlingAndReSignsEachAttempt) {
  http_.answers.push_back(
      answer(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"));
  http_.answers.push_back(Result<http::Response>(fail(ErrorKind::unavailable, "connection reset")));
  http_.answers.push_back(answer(200, "{}"));
  AwsServiceClient ssm(context(), AwsService::ssm);
  auto output = ssm.call_json("GetParameter", {{"Name", "/x"}}, in(std::chrono::seconds(60)));
  ASSERT_TRUE(output) << output.error().describe();
  ASSERT_EQ(http_.sent().size(), 3u);
  EXPECT_NE(http::find_header(http_.sent()[0].headers, "X-Amz-Date"),
            http::find_header(http_.sent()[1].headers, "X-Amz-Date"));
  EXPECT_NE(http::find_header(http_.sent()[0].headers, "Authorization"),
            http::find_header(http_.sent()[1].headers, "Authorization"));
  ASSERT_EQ(notices_.size(), 2u);
  EXPECT_EQ(notices_[0].reason, "ThrottlingException (HTTP 400)");
  EXPECT_EQ(notices_[1].reason, "connection reset");
}

TEST_F(AwsClientTest, PermissionErrorsAreTypedAndNotRetried) {
  http_.answers.push_back(answer(
      403,
      "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/d "
      "is not authorized to perform: ssm:GetParameter</Message></Error></Errors></ErrorResponse>"));
  AwsServiceClient ssm(context(), AwsService::ssm);
  auto output = ssm.call_json("GetParameter", {{"Name", "/x"}}, in(std::chrono::seconds(60)));
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().code, "AccessDenied");
  EXPECT_EQ(output.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(output.error().service, "ssm");
  EXPECT_EQ(output.error().operation, "GetParameter");
  EXPECT_EQ(http_.sent().size(), 1u);
  const Error plain = output.error();
  EXPECT_EQ(plain.kind, ErrorKind::permission_denied);
  EXPECT_EQ(plain.message.find("planted"), std::string::npos);
}

TEST_F(AwsClientTest, GivesUpWhenTheNextWaitWouldPassTheDeadline) {
  for (int i = 0; i < 5; ++i) http_.answers.push_back(answer(503, ""));
  AwsServiceClient logs(context(), AwsService::cloudwatch_logs);
  // Waits 2 s, then 4 s; the third wait (8 s) would pass the 10 s deadline.
  auto output = logs.call_json("PutLogEvents", {}, in(std::chrono::seconds(10)));
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().http_status, 503);
  EXPECT_EQ(http_.sent().size(), 3u);
}

TEST_F(AwsClientTest, APassedDeadlineSendsNothing) {
  AwsServiceClient logs(context(), AwsService::cloudwatch_logs);
  auto output = logs.call_json("PutLogEvents", {}, clock_.now());
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().kind, ErrorKind::timeout);
  EXPECT_TRUE(http_.sent().empty());
}

TEST_F(AwsClientTest, QueryProtocolPostsAFormAndReadsXml) {
  http_.answers.push_back(answer(
      200, "<DescribeInstancesResponse><requestId>r</requestId></DescribeInstancesResponse>"));
  AwsServiceClient ec2(context(), AwsService::ec2);
  auto output = ec2.call_query("DescribeInstances", {{"Filter.1.Name", "tag:GreenIdentifier"}},
                               in(std::chrono::seconds(60)));
  ASSERT_TRUE(output) << output.error().describe();
  EXPECT_EQ(output->child_text("requestId"), "r");
  EXPECT_EQ(http_.sent()[0].body,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AGreenIdentifier");
  EXPECT_EQ(http::find_header(http_.sent()[0].headers, "Content-Type"),
            "application/x-www-form-urlencoded; charset=utf-8");
}

TEST_F(AwsClientTest, QueryServicesOtherThanEc2AnswerFromTheirResultElement) {
  http_.answers.push_back(answer(200, R"(<DescribeTargetHealthResponse
      xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
    <DescribeTargetHealthResult><TargetHealthDescriptions/></DescribeTargetHealthResult>
    <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
  </DescribeTargetHealthResponse>)"));
  http_.answers.push_back(answer(200, R"(<DeleteAutoScalingGroupResponse>
    <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
  </DeleteAutoScalingGroupResponse>)"));
  http_.answers.push_back(answer(400, R"(<ErrorResponse><Error><Type>Sender</Type>
    <Code>AlreadyExists</Code><Message>AutoScalingGroup by this name already exists</Message>
    </Error><RequestId>req-9</RequestId></ErrorResponse>)"));
  AwsServiceClient elb(context(), AwsService::elasticloadbalancing);
  auto health = elb.call_query("DescribeTargetHealth", {}, in(std::chrono::seconds(60)));
  ASSERT_TRUE(health) << health.error().describe();
  EXPECT_EQ(health->name, "DescribeTargetHealthResult");
  EXPECT_NE(health->child("TargetHealthDescriptions"), nullptr);
  EXPECT_EQ(http_.sent()[0].body, "Action=DescribeTargetHealth&Version=2015-12-01");

  AwsServiceClient autoscaling(context(), AwsService::autoscaling);
  auto deleted = autoscaling.call_query("DeleteAutoScalingGroup", {}, in(std::chrono::seconds(60)));
  ASSERT_TRUE(deleted) << deleted.error().describe();
  EXPECT_EQ(deleted->name, "DeleteAutoScalingGroupResponse");
  auto created = autoscaling.call_query("CreateAutoScalingGroup", {}, in(std::chrono::seconds(60)));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, "AlreadyExists");
  EXPECT_EQ(created.error().kind, ErrorKind::conflict);
  EXPECT_EQ(created.error().request_id, "req-9");
  EXPECT_EQ(created.error().service, "autoscaling");
}

TEST(QueryParameters, MemberListsCountFromOne) {
  http::QueryParams params;
  append_member_list(params, "TargetGroupARNs", {"arn:a", "arn:b"});
  append_member_list(params, "AutoScalingGroupNames", {});
  EXPECT_EQ(http::encode_query(params),
            "TargetGroupARNs.member.1=arn%3Aa&TargetGroupARNs.member.2=arn%3Ab");
}

TEST_F(AwsClientTest, UnreadableAnswersAndBadEndpointsAreErrors) {
  http_.answers.push_back(answer(200, "[1,2]"));
  AwsServiceClient ssm(context(), AwsService::ssm);
  EXPECT_EQ(ssm.call_json("GetParameter", {}, in(std::chrono::seconds(60))).error().kind,
            ErrorKind::unavailable);
  AwsContext bad = context();
  bad.environment = map_environment({{"AWS_ENDPOINT_URL_SSM", "::not a url"}});
  AwsServiceClient misconfigured(bad, AwsService::ssm);
  auto output = misconfigured.call_json("GetParameter", {}, in(std::chrono::seconds(60)));
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(output.error().describe().find("AWS_ENDPOINT_URL_SSM"), std::string::npos);
}

}  // namespace
}  // namespace bluegreen::aws
