// AwsAsgCloud: the real AsgCloud (asg_ports.h), over bluegreen's own AWS clients: Auto Scaling
// and ELBv2 (target groups) in src/adapters/aws, EC2 for status checks, CodeDeploy. Each call
// is one AWS operation, or a few for the paged and batched ones, retried by the AWS clients
// alone on throttling and transient failures, and always over by its deadline.
//
// What it decides besides passing calls on: a describe answer without the named group is
// "no such group"; deleting a group Auto Scaling no longer knows is no error; a target
// group's deregistration delay defaults to AWS's 300 s when the answer leaves it out.
//
// Thread-safe as the AWS clients are. Not copyable.
#pragma once

#include <memory>

#include "adapters/asg/asg_ports.h"
#include "adapters/aws/autoscaling_client.h"
#include "adapters/aws/codedeploy_client.h"
#include "adapters/aws/ec2_client.h"
#include "adapters/aws/elbv2_client.h"
#include "core/error.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::asg {

class AwsAsgCloud final : public AsgCloud {
 public:
  // Clients over `context`: its HttpClient, CredentialsProvider and Clock must outlive this.
  explicit AwsAsgCloud(const aws::AwsContext& context);
  // One that owns its HTTP client and AWS credentials chain, from the environment: region
  // (AWS_REGION, AWS_DEFAULT_REGION, the profile), credentials (the SDKs' default chain) and
  // endpoint overrides (AWS_ENDPOINT_URL[_AUTO_SCALING|_ELASTIC_LOAD_BALANCING_V2|_EC2|
  // _CODEDEPLOY]). `clock` must be the one the caller's deadlines come from, and outlive this.
  // Errors: invalid_input when no region can be found or an endpoint override is malformed.
  static Result<std::unique_ptr<AwsAsgCloud>> from_environment(Clock& clock);
  ~AwsAsgCloud() override;
  AwsAsgCloud(const AwsAsgCloud&) = delete;
  AwsAsgCloud& operator=(const AwsAsgCloud&) = delete;

  AwsResult<std::vector<AutoScalingGroup>> groups_tagged(const std::string& key,
                                                         const std::string& value,
                                                         TimePoint deadline) override;
  AwsResult<std::optional<AutoScalingGroup>> group_named(const std::string& name,
                                                         TimePoint deadline) override;
  AwsResult<void> create_group(const NewGroup& group, TimePoint deadline) override;
  AwsResult<void> tag_group(const std::string& name, const std::string& key,
                            const std::string& value, TimePoint deadline) override;
  AwsResult<void> delete_group(const std::string& name, TimePoint deadline) override;
  AwsResult<void> attach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns,
                                       TimePoint deadline) override;
  AwsResult<void> detach_target_groups(const std::string& name,
                                       const std::vector<std::string>& arns,
                                       TimePoint deadline) override;

  AwsResult<std::vector<TargetHealth>> target_health(const std::string& target_group_arn,
                                                     TimePoint deadline) override;
  AwsResult<Duration> deregistration_delay(const std::string& target_group_arn,
                                           TimePoint deadline) override;

  // No ids, no call: an empty answer.
  AwsResult<std::vector<StatusCheck>> status_checks(const std::vector<std::string>& ids,
                                                    TimePoint deadline) override;

  AwsResult<std::string> create_deployment(const aws::CreateDeploymentRequest& request,
                                           TimePoint deadline) override;
  AwsResult<aws::DeploymentInfo> deployment(const std::string& id, TimePoint deadline) override;
  AwsResult<std::vector<aws::DeploymentTargetInfo>> deployment_targets(const std::string& id,
                                                                       TimePoint deadline) override;
  AwsResult<std::string> last_attempted_deployment(const std::string& application,
                                                   const std::string& deployment_group,
                                                   TimePoint deadline) override;
  // With auto rollback: instances already updated go back to the last good revision.
  AwsResult<void> stop_deployment(const std::string& id, TimePoint deadline) override;

 private:
  struct Owned;  // what from_environment makes for the clients to use
  AwsAsgCloud(std::unique_ptr<Owned> owned, const aws::AwsContext& context);

  std::unique_ptr<Owned> owned_;
  aws::AutoScalingClient autoscaling_;
  aws::Elbv2Client elbv2_;
  aws::Ec2Client ec2_;
  aws::CodeDeployClient codedeploy_;
};

}  // namespace bluegreen::asg
