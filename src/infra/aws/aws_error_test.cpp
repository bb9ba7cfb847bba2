#include "infra/aws/aws_error.h"

#include <gtest/gtest.h>

namespace bluegreen::aws {
namespace {

http::Response answer(int status, std::string body, http::Headers headers = {}) {
  return http::Response{status, std::move(headers), std::move(body), 0};
}

TEST(AwsError, ReadsJsonProtocolErrors) {
  const AwsError error = parse_aws_error(
      "codedeploy", "GetDeployment",
      answer(
          400,
          R"({"__type":"com.amazonaws.codedeploy#DeploymentDoesNotExistException:http://x","message":"Deployment d-1 does not exist"})",
          {{"x-amzn-RequestId", "req-1"}}));
  EXPECT_EQ(error.code, "DeploymentDoesNotExistException");
  EXPECT_EQ(error.message, "Deployment d-1 does not exist");
  EXPECT_EQ(error.request_id, "req-1");
  EXPECT_EQ(error.kind, ErrorKind::not_found);
  EXPECT_FALSE(error.retryable);
  EXPECT_EQ(error.describe(),
            "codedeploy GetDeployment: DeploymentDoesNotExistException: Deployment d-1 does not "
            "exist (HTTP 400, request id req-1)");
}

TEST(AwsError, ConvertsToAnErrorThatKeepsTheCode) {
  const AwsError aws = parse_aws_error(
      "codedeploy", "CreateDeployment",
      answer(400, R"({"__type":"DeploymentLimitExceededException","message":"busy"})"));
  const Error error = aws;
  EXPECT_EQ(error.kind, aws.kind);
  EXPECT_EQ(error.code, "DeploymentLimitExceededException");
  EXPECT_EQ(error.message, aws.describe());
}

TEST(AwsError, ReadsTheXmlAuthFailuresMotoSendsForJsonServices) {
  const AwsError error = parse_aws_error(
      "ssm", "GetParameter",
      answer(
          403,
          R"(<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>
<Message>The request signature we calculated does not match the signature you provided.</Message></Error></Errors>
<RequestId>abc</RequestId></ErrorResponse>)"));
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_EQ(error.kind, ErrorKind::permission_denied);
  EXPECT_EQ(error.request_id, "abc");
  EXPECT_NE(error.to_error().message.find("ssm GetParameter: SignatureDoesNotMatch"),
            std::string::npos);
}

TEST(AwsError, ReadsS3AndEc2XmlErrors) {
  const AwsError s3 = parse_aws_error(
      "s3", "GetObject",
      answer(404,
             "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
             "<RequestId>R</RequestId></Error>"));
  EXPECT_EQ(s3.code, "NoSuchKey");
  EXPECT_EQ(s3.kind, ErrorKind::not_found);
  const AwsError ec2 = parse_aws_error(
      "ec2", "DescribeInstances",
      answer(503,
             "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down"
             "</Message></Error></Errors><RequestID>E</RequestID></Response>"));
  EXPECT_EQ(ec2.code, "RequestLimitExceeded");
  EXPECT_EQ(ec2.kind, ErrorKind::throttled);
  EXPECT_TRUE(ec2.retryable);
  EXPECT_EQ(ec2.request_id, "E");
}

TEST(AwsError, FallsBackToTheErrorTypeHeaderAndTheStatus) {
  EXPECT_EQ(parse_aws_error("logs", "PutLogEvents",
                            answer(400, "", {{"x-amzn-ErrorType", "ThrottlingException:http://x"}}))
                .code,
            "ThrottlingException");
  const AwsError head = parse_aws_error("s3", "HeadObject", answer(404, ""));
  EXPECT_EQ(head.code, "NotFound");
  EXPECT_EQ(head.kind, ErrorKind::not_found);
  const AwsError unavailable = parse_aws_error("s3", "GetObject", answer(503, "<html>oops</html>"));
  EXPECT_EQ(unavailable.kind, ErrorKind::unavailable);
  EXPECT_TRUE(unavailable.retryable);
  EXPECT_EQ(parse_aws_error("s3", "GetObject", answer(403, "")).kind, ErrorKind::permission_denied);
}

TEST(AwsError, ClassifiesCodesIntoKinds) {
  EXPECT_EQ(classify_aws_error("AccessDeniedException", 400), ErrorKind::permission_denied);
  EXPECT_EQ(classify_aws_error("InvalidClientTokenId", 403), ErrorKind::permission_denied);
  EXPECT_EQ(classify_aws_error("ThrottlingException", 400), ErrorKind::throttled);
  EXPECT_EQ(classify_aws_error("TooManyRequestsException", 400), ErrorKind::throttled);
  EXPECT_EQ(classify_aws_error("Whatever", 429), ErrorKind::throttled);
  EXPECT_EQ(classify_aws_error("ParameterNotFound", 400), ErrorKind::not_found);
  EXPECT_EQ(classify_aws_error("ResourceNotFoundException", 400), ErrorKind::not_found);
  EXPECT_EQ(classify_aws_error("DeploymentAlreadyCompletedException", 400), ErrorKind::conflict);
  EXPECT_EQ(classify_aws_error("InvalidJobStateException", 400), ErrorKind::conflict);
  EXPECT_EQ(classify_aws_error("ValidationException", 400), ErrorKind::invalid_input);
  EXPECT_EQ(classify_aws_error("InternalFailure", 500), ErrorKind::unavailable);
  EXPECT_TRUE(is_retryable_aws_error("Throttling", 400));
  EXPECT_TRUE(is_retryable_aws_error("", 502));
  EXPECT_FALSE(is_retryable_aws_error("AccessDenied", 403));
  EXPECT_FALSE(is_retryable_aws_error("ValidationException", 400));
}

TEST(AwsError, KeepsMessagesOnOneBoundedLine) {
  const AwsError error =
      parse_aws_error("ssm", "GetParameter",
                      answer(400, R"({"__type":"X","message":"line one\nline two   )" +
                                      std::string(2000, 'x') + "\"}"));
  EXPECT_EQ(error.message.find('\n'), std::string::npos);
  EXPECT_LT(error.message.size(), 700u);
  EXPECT_TRUE(error.message.starts_with("line one line two x"));
}

TEST(AwsError, TransportFailuresAreRetryableUnlessTheyCannotHelp) {
  EXPECT_TRUE(transport_aws_error("s3", "GetObject", {ErrorKind::unavailable, "reset"}).retryable);
  EXPECT_TRUE(transport_aws_error("s3", "GetObject", {ErrorKind::timeout, "slow"}).retryable);
  EXPECT_FALSE(transport_aws_error("s3", "GetObject", {ErrorKind::failed, "tls"}).retryable);
  EXPECT_EQ(transport_aws_error("s3", "GetObject", {ErrorKind::unavailable, "refused"}).describe(),
            "s3 GetObject: refused");
}

}  // namespace
}  // namespace bluegreen::aws
