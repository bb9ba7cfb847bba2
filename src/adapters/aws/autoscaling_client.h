// AutoScalingClient: the EC2 Auto Scaling operations bluegreen uses (query protocol, API
// version 2011-01-01, signing name autoscaling, XML answers with `member` list items):
//   DescribeAutoScalingGroups (all pages), CreateAutoScalingGroup, CreateOrUpdateTags,
//   DeleteAutoScalingGroup, AttachLoadBalancerTargetGroups, DetachLoadBalancerTargetGroups.
// Errors are AwsErrors (see infra/aws/aws_error.h). Auto Scaling says most things with
// ValidationError (invalid_input), including a group that does not exist, except where an
// operation below says otherwise; AlreadyExists is a conflict; Throttling is retried first.
//
// Thread-safe as AwsServiceClient is.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

// A launch template by id or by name, at a version ("$Default", "$Latest" or a number; empty
// for the template's default).
struct LaunchTemplateSpec {
  std::string id;
  std::string name;
  std::string version;
};

struct AutoScalingFilter {
  std::string name;  // "tag:<key>", "tag-key", "tag-value"
  std::vector<std::string> values;
};

// Filter for groups tagged key=value.
AutoScalingFilter autoscaling_tag_filter(const std::string& key, const std::string& value);

struct AutoScalingInstanceInfo {
  std::string instance_id;
  std::string lifecycle_state;  // Pending | InService | Terminating | Terminated | ...
  std::string health_status;    // Healthy | Unhealthy
  std::string availability_zone;
};

struct AutoScalingGroupInfo {
  std::string name;
  std::string arn;
  LaunchTemplateSpec launch_template;   // all empty when the group uses something else
  std::string launch_configuration;     // LaunchConfigurationName, when it uses one
  bool mixed_instances_policy = false;  // it launches from a MixedInstancesPolicy
  int min_size = 0;
  int max_size = 0;
  int desired_capacity = 0;
  std::string vpc_zone_identifier;  // subnet ids, comma-separated
  std::vector<std::string> availability_zones;
  std::vector<std::string> target_group_arns;
  std::vector<AutoScalingInstanceInfo> instances;
  std::map<std::string, std::string> tags;
  std::string status;  // "Delete in progress" while being deleted; usually empty
};

struct CreateAutoScalingGroupRequest {
  std::string name;
  LaunchTemplateSpec launch_template;  // id or name is required
  int min_size = 0;
  int max_size = 0;
  int desired_capacity = 0;
  std::string vpc_zone_identifier;              // subnets; when empty, availability_zones
  std::vector<std::string> availability_zones;  // sent only when there are no subnets
  std::vector<std::string> target_group_arns;
  // Tags of the group, each sent with PropagateAtLaunch=true: instances launched carry them.
  std::vector<std::pair<std::string, std::string>> tags;
};

class AutoScalingClient {
 public:
  explicit AutoScalingClient(const AwsContext& context);

  // Groups named in `names` (when not empty) that match every filter, following NextToken to
  // the last page. A name with no group is no error: it is simply absent from the answer.
  // With neither names nor filters, every group of the account and region.
  AwsResult<std::vector<AutoScalingGroupInfo>> describe_auto_scaling_groups(
      const std::vector<std::string>& names, const std::vector<AutoScalingFilter>& filters,
      TimePoint deadline) const;

  // Errors: AlreadyExists (conflict) when a group of that name exists; invalid_input, with
  // nothing sent, when the request names no group or no launch template.
  AwsResult<void> create_auto_scaling_group(const CreateAutoScalingGroupRequest& request,
                                            TimePoint deadline) const;

  // Sets `tags` on group `group_name`, adding or replacing each key. `propagate_at_launch`:
  // also give them to instances the group launches from now on (never to running ones).
  AwsResult<void> create_or_update_tags(
      const std::string& group_name, const std::vector<std::pair<std::string, std::string>>& tags,
      bool propagate_at_launch, TimePoint deadline) const;

  // `force_delete`: terminate the group's instances with it instead of refusing while it has
  // any. A group that does not exist is a ValidationError ("AutoScalingGroup name not found").
  AwsResult<void> delete_auto_scaling_group(const std::string& group_name, bool force_delete,
                                            TimePoint deadline) const;

  // Register the group's instances (present and future) with the target groups / stop doing
  // so. An empty list is refused (invalid_input) without a call.
  AwsResult<void> attach_load_balancer_target_groups(const std::string& group_name,
                                                     const std::vector<std::string>& arns,
                                                     TimePoint deadline) const;
  AwsResult<void> detach_load_balancer_target_groups(const std::string& group_name,
                                                     const std::vector<std::string>& arns,
                                                     TimePoint deadline) const;

 private:
  AwsServiceClient service_;
};

// True for the error Auto Scaling gives about a group that does not exist (a ValidationError
// whose message says "not found"; moto and AWS word it slightly differently).
bool is_group_not_found(const AwsError& error);

}  // namespace bluegreen::aws
