#include "infra/aws/endpoints.h"

#include <cctype>

#include "infra/http/url.h"

namespace bluegreen::aws {

namespace {

bool plain_region_name(std::string_view region) {
  if (region.empty() || region.size() > 40) return false;
  for (unsigned char c : region) {
    if (!(std::islower(c) || std::isdigit(c) || c == '-')) return false;
  }
  return true;
}

}  // namespace

const ServiceFacts& facts(AwsService service) {
  static const ServiceFacts kCodeDeploy{"codedeploy", "codedeploy", "CODEDEPLOY",
                                        "CodeDeploy_20141006", "2014-10-06"};
  static const ServiceFacts kCodePipeline{"codepipeline", "codepipeline", "CODEPIPELINE",
                                          "CodePipeline_20150709", "2015-07-09"};
  static const ServiceFacts kS3{"s3", "s3", "S3", "", "2006-03-01"};
  static const ServiceFacts kEc2{"ec2", "ec2", "EC2", "", "2016-11-15"};
  static const ServiceFacts kSsm{"ssm", "ssm", "SSM", "AmazonSSM", "2014-11-06"};
  static const ServiceFacts kSecretsManager{"secretsmanager", "secretsmanager", "SECRETS_MANAGER",
                                            "secretsmanager", "2017-10-17"};
  static const ServiceFacts kLogs{"logs", "logs", "CLOUDWATCH_LOGS", "Logs_20140328", "2014-03-28"};
  static const ServiceFacts kAutoScaling{"autoscaling", "autoscaling", "AUTO_SCALING", "",
                                         "2011-01-01"};
  static const ServiceFacts kElbV2{"elasticloadbalancing", "elasticloadbalancing",
                                   "ELASTIC_LOAD_BALANCING_V2", "", "2015-12-01"};
  switch (service) {
    case AwsService::codedeploy:
      return kCodeDeploy;
    case AwsService::codepipeline:
      return kCodePipeline;
    case AwsService::s3:
      return kS3;
    case AwsService::ec2:
      return kEc2;
    case AwsService::ssm:
      return kSsm;
    case AwsService::secrets_manager:
      return kSecretsManager;
    case AwsService::cloudwatch_logs:
      return kLogs;
    case AwsService::autoscaling:
      return kAutoScaling;
    case AwsService::elasticloadbalancing:
      return kElbV2;
  }
  return kCodeDeploy;
}

Result<Endpoint> resolve_endpoint(AwsService service, std::string_view region,
                                  const Environment& env) {
  const ServiceFacts& service_facts = facts(service);
  if (!env_flag(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
    const std::string specific = "AWS_ENDPOINT_URL_" + std::string(service_facts.env_id);
    for (const std::string& variable : {specific, std::string("AWS_ENDPOINT_URL")}) {
      auto value = env(variable);
      if (!value) continue;
      if (auto parsed = http::parse_url(*value); !parsed) {
        return std::unexpected(parsed.error().with_context(variable));
      }
      while (value->ends_with('/')) value->pop_back();
      return Endpoint{*value, true};
    }
  }
  if (!plain_region_name(region)) {
    return fail(ErrorKind::invalid_input,
                "AWS region '" + std::string(region) + "' is not a region name like us-east-1");
  }
  const std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return Endpoint{
      "https://" + std::string(service_facts.endpoint_prefix) + "." + std::string(region) + suffix,
      false};
}

}  // namespace bluegreen::aws
