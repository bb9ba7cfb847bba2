// AwsFlowPorts: the AWS side of the Elastigroup request plan's ports (EC2, CodeDeploy,
// CodePipeline, and API_TOKEN references in SSM / Secrets Manager), over the clients of
// src/adapters/aws. Every call ends by CallBudget::deadline, which the executor moves before each
// request. AWS errors become Errors with the service's code, kind and a message that names the
// service and operation (never a secret).
//
// Thread-safe as the underlying clients are.
#pragma once

#include "adapters/aws/codedeploy_client.h"
#include "adapters/aws/codepipeline_client.h"
#include "adapters/aws/ec2_client.h"
#include "adapters/elastigroup/elastigroup_ports.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::elastigroup {

// The flow's form of an AWS error: the code travels apart from a message that names the
// service, the operation and the request id.
Error to_flow_error(const aws::AwsError& error);

class AwsFlowPorts final : public Ec2Instances,
                           public CodeDeployService,
                           public PipelineReporter,
                           public SecretSource {
 public:
  AwsFlowPorts(const aws::AwsContext& context, const CallBudget& budget);

  Result<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                   const std::string& value) override;
  Result<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& instance_ids) override;
  Result<void> tag_instances(const std::vector<std::string>& instance_ids,
                             const std::vector<std::pair<std::string, std::string>>& tags) override;

  Result<std::optional<std::string>> last_attempted_deployment(
      const std::string& application_name, const std::string& deployment_group_name) override;
  Result<CodeDeployDeployment> get_deployment(const std::string& deployment_id) override;
  Result<std::string> create_deployment(const CodeDeployRequest& request) override;
  Result<std::vector<std::string>> list_targets(const std::string& deployment_id) override;
  Result<std::vector<InstanceTarget>> get_targets(
      const std::string& deployment_id, const std::vector<std::string>& target_ids) override;
  Result<void> stop_deployment(const std::string& deployment_id, bool auto_rollback) override;

  Result<void> success(const std::string& job_id, const ReportSuccess& report) override;
  Result<void> failure(const std::string& job_id, const ReportFailure& report) override;
  Result<void> progress(const std::string& job_id, const ReportProgress& report) override;

  Result<Secret> resolve(const std::string& reference) override;

 private:
  aws::AwsContext context_;
  const CallBudget& budget_;
  aws::Ec2Client ec2_;
  aws::CodeDeployClient codedeploy_;
  aws::CodePipelineClient pipeline_;
};

}  // namespace bluegreen::elastigroup
