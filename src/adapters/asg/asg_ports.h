// The calls PROVIDER=asg makes, as one port: EC2 Auto Scaling (groups and their target
// groups), Elastic Load Balancing v2 (target health, deregistration delay), EC2 (status
// checks) and CodeDeploy. AsgProvider (asg_provider.h) is written against it; AwsAsgCloud
// (asg_cloud.h) makes each call through bluegreen's own AWS clients, and the tests' fake world
// answers them without a network.
//
// Every call takes the time by which it must be over; none retries by itself (the provider
// paces what it repeats). A group or target group that does not exist is an error of kind
// not_found, except where a call says otherwise.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/aws/codedeploy_client.h"
#include "core/clock.h"
#include "infra/aws/aws_error.h"

namespace bluegreen::asg {

using aws::AwsResult;

// A launch template as an Auto Scaling group names it: by id or by name, at a version
// ("$Default", "$Latest" or a number).
struct LaunchTemplateRef {
  std::string id;
  std::string name;
  std::string version;
  bool empty() const { return id.empty() && name.empty(); }
};

struct GroupInstance {
  std::string id;
  std::string lifecycle_state;  // Pending | InService | Terminating | ...
  std::string health_status;    // Healthy | Unhealthy
};

struct AutoScalingGroup {
  std::string name;
  LaunchTemplateRef launch_template;  // empty: the group launches from a configuration or mix
  int min_size = 0;
  int max_size = 0;
  int desired_capacity = 0;
  std::string vpc_zone_identifier;  // its subnets, comma-separated; empty for EC2-Classic AZs
  std::vector<std::string> availability_zones;
  std::vector<std::string> target_group_arns;
  std::vector<GroupInstance> instances;
  std::map<std::string, std::string> tags;
  std::string status;  // "Delete in progress" while it is being deleted; usually empty
};

struct NewGroup {
  std::string name;
  LaunchTemplateRef launch_template;
  int min_size = 0;
  int max_size = 0;
  int desired_capacity = 0;
  std::string vpc_zone_identifier;
  std::vector<std::string> availability_zones;
  std::vector<std::string> target_group_arns;  // registered at launch (the preview one)
  // Tags of the group, each also given to the instances it launches (PropagateAtLaunch).
  std::vector<std::pair<std::string, std::string>> tags;
};

struct TargetHealth {
  std::string id;     // the instance
  std::string state;  // initial | healthy | unhealthy | unused | draining | unavailable
  std::string reason;
  std::string description;
};

struct StatusCheck {
  std::string id;
  std::string state;    // EC2 instance state
  bool passed = false;  // system and instance status checks both ok
};

class AsgCloud {
 public:
  virtual ~AsgCloud() = default;

  // -- Auto Scaling
  // Groups carrying tag key=value (every page).
  virtual AwsResult<std::vector<AutoScalingGroup>> groups_tagged(const std::string& key,
                                                                 const std::string& value,
                                                                 TimePoint deadline) = 0;
  // The group of that name; none when there is no such group.
  virtual AwsResult<std::optional<AutoScalingGroup>> group_named(const std::string& name,
                                                                 TimePoint deadline) = 0;
  // CreateAutoScalingGroup. A group of that name already existing is an error with code
  // AlreadyExists (kind conflict).
  virtual AwsResult<void> create_group(const NewGroup& group, TimePoint deadline) = 0;
  // CreateOrUpdateTags on one group (not propagated to instances).
  virtual AwsResult<void> tag_group(const std::string& name, const std::string& key,
                                    const std::string& value, TimePoint deadline) = 0;
  // DeleteAutoScalingGroup with ForceDelete: its instances are terminated with it. A group
  // already gone is no error.
  virtual AwsResult<void> delete_group(const std::string& name, TimePoint deadline) = 0;
  virtual AwsResult<void> attach_target_groups(const std::string& name,
                                               const std::vector<std::string>& arns,
                                               TimePoint deadline) = 0;
  virtual AwsResult<void> detach_target_groups(const std::string& name,
                                               const std::vector<std::string>& arns,
                                               TimePoint deadline) = 0;

  // -- Elastic Load Balancing v2
  // The health of every target registered in the target group.
  virtual AwsResult<std::vector<TargetHealth>> target_health(const std::string& target_group_arn,
                                                             TimePoint deadline) = 0;
  // The target group's deregistration_delay.timeout_seconds attribute.
  virtual AwsResult<Duration> deregistration_delay(const std::string& target_group_arn,
                                                   TimePoint deadline) = 0;

  // -- EC2
  virtual AwsResult<std::vector<StatusCheck>> status_checks(const std::vector<std::string>& ids,
                                                            TimePoint deadline) = 0;

  // -- CodeDeploy
  virtual AwsResult<std::string> create_deployment(const aws::CreateDeploymentRequest& request,
                                                   TimePoint deadline) = 0;
  virtual AwsResult<aws::DeploymentInfo> deployment(const std::string& id, TimePoint deadline) = 0;
  // Every target of the deployment with its lifecycle events.
  virtual AwsResult<std::vector<aws::DeploymentTargetInfo>> deployment_targets(
      const std::string& id, TimePoint deadline) = 0;
  // The deployment group's last attempted deployment's id; empty when it has none.
  virtual AwsResult<std::string> last_attempted_deployment(const std::string& application,
                                                           const std::string& deployment_group,
                                                           TimePoint deadline) = 0;
  virtual AwsResult<void> stop_deployment(const std::string& id, TimePoint deadline) = 0;
};

}  // namespace bluegreen::asg
