#include "adapters/elastigroup/aws_flow_ports.h"

#include <fmt/format.h>

#include "adapters/aws/api_token.h"

namespace bluegreen::elastigroup {
namespace {

template <typename T>
std::unexpected<Error> failed(const aws::AwsResult<T>& result) {
  return std::unexpected(to_flow_error(result.error()));
}

aws::JobExecutionDetails execution_details(const ExecutionDetails& details) {
  return aws::JobExecutionDetails{details.summary, details.external_execution_id,
                                  details.percent_complete};
}

aws::JobFailureType job_failure_type(FailureType type) {
  switch (type) {
    case FailureType::configuration_error:
      return aws::JobFailureType::configuration_error;
    case FailureType::permission_error:
      return aws::JobFailureType::permission_error;
    case FailureType::revision_unavailable:
      return aws::JobFailureType::revision_unavailable;
    case FailureType::job_failed:
      return aws::JobFailureType::job_failed;
    case FailureType::system_unavailable:
      return aws::JobFailureType::system_unavailable;
  }
  return aws::JobFailureType::job_failed;
}

}  // namespace

Error to_flow_error(const aws::AwsError& error) {
  std::string message = fmt::format("{} {}: {}", error.service, error.operation,
                                    error.message.empty() ? error.describe() : error.message);
  if (!error.request_id.empty()) message += fmt::format(" (request id {})", error.request_id);
  return Error{error.kind, std::move(message), error.code};
}

AwsFlowPorts::AwsFlowPorts(const aws::AwsContext& context, const CallBudget& budget)
    : context_(context),
      budget_(budget),
      ec2_(context_),
      codedeploy_(context_),
      pipeline_(context_) {}

Result<std::vector<Ec2Instance>> AwsFlowPorts::describe_tagged(const std::string& key,
                                                               const std::string& value) {
  auto found = ec2_.describe_instances({aws::ec2_tag_filter(key, value)}, budget_.deadline);
  if (!found) return failed(found);
  std::vector<Ec2Instance> out;
  for (const auto& instance : *found) {
    out.push_back({instance.instance_id, instance.state, instance.state_reason});
  }
  return out;
}

Result<std::vector<InstanceHealth>> AwsFlowPorts::describe_health(
    const std::vector<std::string>& instance_ids) {
  auto statuses = ec2_.describe_instance_status(instance_ids, budget_.deadline);
  if (!statuses) return failed(statuses);
  std::vector<InstanceHealth> out;
  for (const auto& s : *statuses) {
    out.push_back({s.instance_id, s.system_status == "ok", s.instance_status == "ok"});
  }
  return out;
}

Result<void> AwsFlowPorts::tag_instances(
    const std::vector<std::string>& instance_ids,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  auto tagged = ec2_.create_tags(instance_ids, tags, budget_.deadline);
  if (!tagged) return failed(tagged);
  return {};
}

Result<std::optional<std::string>> AwsFlowPorts::last_attempted_deployment(
    const std::string& application_name, const std::string& deployment_group_name) {
  auto group =
      codedeploy_.get_deployment_group(application_name, deployment_group_name, budget_.deadline);
  if (!group) return failed(group);
  if (group->last_attempted_deployment_id.empty()) return std::optional<std::string>{};
  return std::optional<std::string>{group->last_attempted_deployment_id};
}

Result<CodeDeployDeployment> AwsFlowPorts::get_deployment(const std::string& deployment_id) {
  auto info = codedeploy_.get_deployment(deployment_id, budget_.deadline);
  if (!info) return failed(info);
  CodeDeployDeployment d;
  d.id = info->deployment_id.empty() ? deployment_id : info->deployment_id;
  d.status = info->status;
  d.error_code = info->error_code;
  d.error_message = info->error_message;
  for (const auto& filter : info->target_tag_filters) {
    if (filter.key == "GreenIdentifier" || filter.key == kReplacementTag) {
      d.green_tag_values.push_back(filter.value);
    }
  }
  d.pending = info->pending;
  d.in_progress = info->in_progress;
  d.succeeded = info->succeeded;
  d.failed = info->failed;
  d.skipped = info->skipped;
  d.ready = info->ready;
  return d;
}

Result<std::string> AwsFlowPorts::create_deployment(const CodeDeployRequest& request) {
  aws::CreateDeploymentRequest create;
  create.application_name = request.application_name;
  create.deployment_group_name = request.deployment_group_name;
  if (const auto* s3 = std::get_if<S3Revision>(&request.revision)) {
    create.revision = aws::S3Location{s3->bucket, s3->key, s3->bundle, "", ""};
  } else if (const auto* github = std::get_if<GitHubRevision>(&request.revision)) {
    create.revision = aws::GitHubLocation{github->repository, github->commit};
  } else {
    return fail_with_code(ErrorKind::invalid_input, "InvalidRevision",
                          "CodeDeploy deploys S3 or GitHub revisions only");
  }
  create.target_tag_filters = {aws::TagFilter{request.tag_key, request.tag_value, "KEY_AND_VALUE"}};
  create.description = request.description;
  auto id = codedeploy_.create_deployment(create, budget_.deadline);
  if (!id) return failed(id);
  return *id;
}

Result<std::vector<std::string>> AwsFlowPorts::list_targets(const std::string& deployment_id) {
  auto ids = codedeploy_.list_deployment_targets(deployment_id, budget_.deadline);
  if (!ids) return failed(ids);
  return *ids;
}

Result<std::vector<InstanceTarget>> AwsFlowPorts::get_targets(
    const std::string& deployment_id, const std::vector<std::string>& target_ids) {
  auto targets =
      codedeploy_.batch_get_deployment_targets(deployment_id, target_ids, budget_.deadline);
  if (!targets) return failed(targets);
  std::vector<InstanceTarget> out;
  for (const auto& t : *targets) {
    InstanceTarget target{t.target_id, t.status, {}};
    for (const auto& e : t.lifecycle_events) {
      target.events.push_back(
          LifecycleEvent{e.name, e.status, e.error_code, e.script_name, e.message, e.log_tail});
    }
    out.push_back(std::move(target));
  }
  return out;
}

Result<void> AwsFlowPorts::stop_deployment(const std::string& deployment_id, bool auto_rollback) {
  auto stopped = codedeploy_.stop_deployment(deployment_id, auto_rollback, budget_.deadline);
  if (!stopped) return failed(stopped);
  return {};
}

Result<void> AwsFlowPorts::success(const std::string& job_id, const ReportSuccess& report) {
  aws::JobSuccess result{job_id, "", execution_details(report.details), report.output_variables};
  auto sent = pipeline_.put_job_success_result(result, budget_.deadline);
  if (!sent) return failed(sent);
  return {};
}

Result<void> AwsFlowPorts::failure(const std::string& job_id, const ReportFailure& report) {
  aws::JobFailure result{job_id, job_failure_type(report.type), report.message,
                         report.external_execution_id};
  auto sent = pipeline_.put_job_failure_result(result, budget_.deadline);
  if (!sent) return failed(sent);
  return {};
}

Result<void> AwsFlowPorts::progress(const std::string& job_id, const ReportProgress& report) {
  aws::JobSuccess result{job_id, report.continuation_token, execution_details(report.details), {}};
  auto sent = pipeline_.put_job_success_result(result, budget_.deadline);
  if (!sent) return failed(sent);
  return {};
}

Result<Secret> AwsFlowPorts::resolve(const std::string& reference) {
  auto token = aws::resolve_api_token(Secret(reference), context_, budget_.deadline);
  // The message names the store's code already; the flow classifies this failure by its kind.
  if (!token) return fail(token.error().kind, token.error().message);
  return *token;
}

}  // namespace bluegreen::elastigroup
