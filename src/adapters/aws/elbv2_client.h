// Elbv2Client: the Elastic Load Balancing v2 operations bluegreen uses on target groups (query
// protocol, API version 2015-12-01, signing name elasticloadbalancing, XML answers with
// `member` list items): DescribeTargetHealth and DescribeTargetGroupAttributes.
// Errors are AwsErrors (see infra/aws/aws_error.h); a target group that does not exist is
// TargetGroupNotFound (not_found).
//
// Thread-safe as AwsServiceClient is.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

struct TargetHealthInfo {
  std::string target_id;  // an instance id (or IP address, or Lambda ARN)
  int port = 0;           // 0 when the answer gives none
  // initial | healthy | unhealthy | unhealthy.draining | unused | draining | unavailable
  std::string state;
  std::string reason;  // Elb.RegistrationInProgress, Target.FailedHealthChecks, ...; often empty
  std::string description;
};

class Elbv2Client {
 public:
  explicit Elbv2Client(const AwsContext& context);

  // The health of every target registered in the target group (the operation has one page).
  AwsResult<std::vector<TargetHealthInfo>> describe_target_health(
      const std::string& target_group_arn, TimePoint deadline) const;

  // The target group's attributes by key, e.g. "deregistration_delay.timeout_seconds" -> "300".
  AwsResult<std::map<std::string, std::string>> describe_target_group_attributes(
      const std::string& target_group_arn, TimePoint deadline) const;

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws
