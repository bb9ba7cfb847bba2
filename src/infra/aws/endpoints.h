// The AWS services bluegreen calls, their wire facts, and where their endpoints are.
//
// Endpoint of a service, first that applies:
//   AWS_ENDPOINT_URL_<SERVICE>  SDK service id in upper snake case: CODEDEPLOY, CODEPIPELINE,
//                               S3, EC2, SSM, SECRETS_MANAGER, CLOUDWATCH_LOGS, AUTO_SCALING,
//                               ELASTIC_LOAD_BALANCING_V2
//   AWS_ENDPOINT_URL            every service
//   https://<prefix>.<region>.amazonaws.com  (".amazonaws.com.cn" in cn-* regions)
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores both variables, as in the SDKs.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "infra/aws/environment.h"

namespace bluegreen::aws {

enum class AwsService {
  codedeploy,
  codepipeline,
  s3,
  ec2,
  ssm,
  secrets_manager,
  cloudwatch_logs,
  autoscaling,
  elasticloadbalancing,  // v2: application and network load balancers, target groups
};

struct ServiceFacts {
  std::string_view signing_name;        // SigV4 service name, also used in messages
  std::string_view endpoint_prefix;     // host prefix of the standard endpoint
  std::string_view env_id;              // suffix of AWS_ENDPOINT_URL_<...>
  std::string_view json_target_prefix;  // X-Amz-Target prefix; "" for non-JSON services
  std::string_view api_version;
};

const ServiceFacts& facts(AwsService service);

struct Endpoint {
  std::string url;      // scheme://host[:port] plus any base path, no trailing slash
  bool custom = false;  // from an AWS_ENDPOINT_URL* variable (S3 then uses path-style URLs)
};

// Errors: invalid_input when a variable holds something that is not an http(s) URL, or the
// region is empty or not a plain region name.
Result<Endpoint> resolve_endpoint(AwsService service, std::string_view region,
                                  const Environment& env);

}  // namespace bluegreen::aws
