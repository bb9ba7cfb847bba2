#include "infra/aws/endpoints.h"

#include <gtest/gtest.h>

namespace bluegreen::aws {
namespace {

TEST(Endpoints, StandardPerRegionAndPartition) {
  const Environment none = map_environment({});
  EXPECT_EQ(resolve_endpoint(AwsService::codedeploy, "eu-west-1", none)->url,
            "https://codedeploy.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(AwsService::cloudwatch_logs, "us-east-1", none)->url,
            "https://logs.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(AwsService::secrets_manager, "cn-north-1", none)->url,
            "https://secretsmanager.cn-north-1.amazonaws.com.cn");
  EXPECT_FALSE(resolve_endpoint(AwsService::s3, "us-east-1", none)->custom);
  EXPECT_EQ(resolve_endpoint(AwsService::autoscaling, "eu-central-1", none)->url,
            "https://autoscaling.eu-central-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(AwsService::elasticloadbalancing, "us-west-2", none)->url,
            "https://elasticloadbalancing.us-west-2.amazonaws.com");
}

TEST(Endpoints, AutoScalingAndElbV2TakeTheirSdkServiceIds) {
  const Environment env =
      map_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000"},
                       {"AWS_ENDPOINT_URL_AUTO_SCALING", "http://127.0.0.1:6000"},
                       {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://127.0.0.1:7000"}});
  EXPECT_EQ(resolve_endpoint(AwsService::autoscaling, "us-east-1", env)->url,
            "http://127.0.0.1:6000");
  EXPECT_EQ(resolve_endpoint(AwsService::elasticloadbalancing, "us-east-1", env)->url,
            "http://127.0.0.1:7000");
  EXPECT_EQ(facts(AwsService::autoscaling).signing_name, "autoscaling");
  EXPECT_EQ(facts(AwsService::elasticloadbalancing).api_version, "2015-12-01");
}

TEST(Endpoints, ServiceSpecificVariableWinsOverTheGlobalOne) {
  const Environment env =
      map_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"},
                       {"AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:6000"},
                       {"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:7000"},
                       {"AWS_ENDPOINT_URL_CODEDEPLOY", "http://127.0.0.1:8000"}});
  EXPECT_EQ(resolve_endpoint(AwsService::ssm, "us-east-1", env)->url, "http://127.0.0.1:5000");
  EXPECT_EQ(resolve_endpoint(AwsService::secrets_manager, "us-east-1", env)->url,
            "http://127.0.0.1:6000");
  EXPECT_EQ(resolve_endpoint(AwsService::cloudwatch_logs, "us-east-1", env)->url,
            "http://127.0.0.1:7000");
  const auto codedeploy = resolve_endpoint(AwsService::codedeploy, "us-east-1", env);
  EXPECT_EQ(codedeploy->url, "http://127.0.0.1:8000");
  EXPECT_TRUE(codedeploy->custom);
}

TEST(Endpoints, IgnoreConfiguredEndpointUrlsRestoresTheStandardOnes) {
  const Environment env = map_environment({{"AWS_ENDPOINT_URL", "http://127.0.0.1:5000"},
                                           {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}});
  EXPECT_EQ(resolve_endpoint(AwsService::ec2, "us-west-2", env)->url,
            "https://ec2.us-west-2.amazonaws.com");
}

TEST(Endpoints, RefusesBadOverridesAndRegions) {
  auto bad = resolve_endpoint(AwsService::s3, "us-east-1",
                              map_environment({{"AWS_ENDPOINT_URL_S3", "localhost:9000"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("AWS_ENDPOINT_URL_S3"), std::string::npos);
  EXPECT_FALSE(resolve_endpoint(AwsService::s3, "", map_environment({})));
  EXPECT_FALSE(resolve_endpoint(AwsService::s3, "evil.com/x", map_environment({})));
}

}  // namespace
}  // namespace bluegreen::aws
