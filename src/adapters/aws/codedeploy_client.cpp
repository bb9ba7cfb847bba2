#include "adapters/aws/codedeploy_client.h"

#include "adapters/aws/json_fields.h"

namespace bluegreen::aws {

namespace {

// BatchGetDeploymentTargets takes at most this many ids per call.
constexpr std::size_t kTargetsPerBatch = 25;

using nlohmann::json;

std::vector<TagFilter> read_tag_filters(const json& filters) {
  std::vector<TagFilter> out;
  if (!filters.is_array()) return out;
  for (const auto& filter : filters) {
    out.push_back({text_at(filter, "Key"), text_at(filter, "Value"), text_at(filter, "Type")});
  }
  return out;
}

DeploymentInfo read_deployment(const json& info) {
  DeploymentInfo deployment;
  deployment.deployment_id = text_at(info, "deploymentId");
  deployment.application_name = text_at(info, "applicationName");
  deployment.deployment_group_name = text_at(info, "deploymentGroupName");
  deployment.status = text_at(info, "status");
  const json& error = member_at(info, "errorInformation");
  deployment.error_code = text_at(error, "code");
  deployment.error_message = text_at(error, "message");
  const json& overview = member_at(info, "deploymentOverview");
  deployment.pending = integer_at(overview, "Pending");
  deployment.in_progress = integer_at(overview, "InProgress");
  deployment.succeeded = integer_at(overview, "Succeeded");
  deployment.failed = integer_at(overview, "Failed");
  deployment.skipped = integer_at(overview, "Skipped");
  deployment.ready = integer_at(overview, "Ready");
  deployment.target_tag_filters =
      read_tag_filters(member_at(member_at(info, "targetInstances"), "tagFilters"));
  deployment.rollback_deployment_id =
      text_at(member_at(info, "rollbackInfo"), "rollbackDeploymentId");
  deployment.create_time = time_at(info, "createTime");
  deployment.start_time = time_at(info, "startTime");
  deployment.complete_time = time_at(info, "completeTime");
  deployment.raw = info;
  return deployment;
}

DeploymentTargetInfo read_target(const json& target) {
  // EC2/on-premises deployments answer instanceTarget; others use their own member.
  const json* detail = &member_at(target, "instanceTarget");
  for (const char* member : {"lambdaTarget", "ecsTarget", "cloudFormationTarget"}) {
    if (!detail->is_object()) detail = &member_at(target, member);
  }
  DeploymentTargetInfo info;
  info.target_id = text_at(*detail, "targetId");
  info.status = text_at(*detail, "status");
  info.instance_label = text_at(*detail, "instanceLabel");
  const json& events = member_at(*detail, "lifecycleEvents");
  if (events.is_array()) {
    for (const auto& event : events) {
      const json& diagnostics = member_at(event, "diagnostics");
      info.lifecycle_events.push_back(
          {text_at(event, "lifecycleEventName"), text_at(event, "status"),
           text_at(diagnostics, "errorCode"), text_at(diagnostics, "scriptName"),
           text_at(diagnostics, "message"), text_at(diagnostics, "logTail"),
           time_at(event, "startTime"), time_at(event, "endTime")});
    }
  }
  info.raw = target;
  return info;
}

}  // namespace

bool is_terminal_deployment_status(std::string_view status) {
  return status == "Succeeded" || status == "Failed" || status == "Stopped";
}

CodeDeployClient::CodeDeployClient(const AwsContext& context)
    : service_(context, AwsService::codedeploy) {}

json CodeDeployClient::create_deployment_input(const CreateDeploymentRequest& request) {
  json input{{"applicationName", request.application_name},
             {"deploymentGroupName", request.deployment_group_name}};
  if (const auto* s3 = std::get_if<S3Location>(&request.revision)) {
    json location{{"bucket", s3->bucket},
                  {"key", s3->key},
                  {"bundleType", std::string(to_string(s3->bundle_type))}};
    if (!s3->version.empty()) location["version"] = s3->version;
    if (!s3->etag.empty()) location["eTag"] = s3->etag;
    input["revision"] = {{"revisionType", "S3"}, {"s3Location", location}};
  } else {
    const auto& github = std::get<GitHubLocation>(request.revision);
    input["revision"] = {
        {"revisionType", "GitHub"},
        {"gitHubLocation", {{"repository", github.repository}, {"commitId", github.commit_id}}}};
  }
  if (!request.target_tag_filters.empty()) {
    json filters = json::array();
    for (const auto& filter : request.target_tag_filters) {
      filters.push_back({{"Key", filter.key}, {"Value", filter.value}, {"Type", filter.type}});
    }
    input["targetInstances"] = {{"tagFilters", filters}};
  }
  if (!request.deployment_config_name.empty()) {
    input["deploymentConfigName"] = request.deployment_config_name;
  }
  if (!request.description.empty()) input["description"] = request.description;
  if (!request.file_exists_behavior.empty()) {
    input["fileExistsBehavior"] = request.file_exists_behavior;
  }
  if (request.ignore_application_stop_failures) {
    input["ignoreApplicationStopFailures"] = *request.ignore_application_stop_failures;
  }
  if (request.auto_rollback_enabled) {
    input["autoRollbackConfiguration"] = {
        {"enabled", *request.auto_rollback_enabled},
        {"events", json::array({"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"})}};
  }
  return input;
}

AwsResult<std::string> CodeDeployClient::create_deployment(const CreateDeploymentRequest& request,
                                                           TimePoint deadline) const {
  auto output = service_.call_json("CreateDeployment", create_deployment_input(request), deadline);
  if (!output) return std::unexpected(output.error());
  std::string id = text_at(*output, "deploymentId");
  if (id.empty()) {
    return std::unexpected(service_.error("CreateDeployment", ErrorKind::unavailable,
                                          "the answer has no deploymentId"));
  }
  return id;
}

AwsResult<DeploymentInfo> CodeDeployClient::get_deployment(const std::string& deployment_id,
                                                           TimePoint deadline) const {
  auto output = service_.call_json("GetDeployment", {{"deploymentId", deployment_id}}, deadline);
  if (!output) return std::unexpected(output.error());
  const json& info = member_at(*output, "deploymentInfo");
  if (!info.is_object()) {
    return std::unexpected(service_.error("GetDeployment", ErrorKind::unavailable,
                                          "the answer has no deploymentInfo"));
  }
  return read_deployment(info);
}

AwsResult<StopDeploymentResult> CodeDeployClient::stop_deployment(const std::string& deployment_id,
                                                                  std::optional<bool> auto_rollback,
                                                                  TimePoint deadline) const {
  json input{{"deploymentId", deployment_id}};
  if (auto_rollback) input["autoRollbackEnabled"] = *auto_rollback;
  auto output = service_.call_json("StopDeployment", input, deadline);
  if (!output) return std::unexpected(output.error());
  return StopDeploymentResult{text_at(*output, "status"), text_at(*output, "statusMessage")};
}

AwsResult<std::vector<std::string>> CodeDeployClient::list_deployment_targets(
    const std::string& deployment_id, TimePoint deadline) const {
  std::vector<std::string> ids;
  std::string next_token;
  do {
    json input{{"deploymentId", deployment_id}};
    if (!next_token.empty()) input["nextToken"] = next_token;
    auto output = service_.call_json("ListDeploymentTargets", input, deadline);
    if (!output) return std::unexpected(output.error());
    const json& page = member_at(*output, "targetIds");
    if (page.is_array()) {
      for (const auto& id : page) {
        if (id.is_string()) ids.push_back(id.get<std::string>());
      }
    }
    next_token = text_at(*output, "nextToken");
  } while (!next_token.empty());
  return ids;
}

AwsResult<std::vector<DeploymentTargetInfo>> CodeDeployClient::batch_get_deployment_targets(
    const std::string& deployment_id, const std::vector<std::string>& target_ids,
    TimePoint deadline) const {
  std::vector<DeploymentTargetInfo> targets;
  for (std::size_t start = 0; start < target_ids.size(); start += kTargetsPerBatch) {
    const auto end = std::min(target_ids.size(), start + kTargetsPerBatch);
    json input{
        {"deploymentId", deployment_id},
        {"targetIds", std::vector<std::string>(target_ids.begin() + static_cast<long>(start),
                                               target_ids.begin() + static_cast<long>(end))}};
    auto output = service_.call_json("BatchGetDeploymentTargets", input, deadline);
    if (!output) return std::unexpected(output.error());
    const json& page = member_at(*output, "deploymentTargets");
    if (page.is_array()) {
      for (const auto& target : page) targets.push_back(read_target(target));
    }
  }
  return targets;
}

AwsResult<DeploymentGroupInfo> CodeDeployClient::get_deployment_group(
    const std::string& application_name, const std::string& deployment_group_name,
    TimePoint deadline) const {
  auto output = service_.call_json(
      "GetDeploymentGroup",
      {{"applicationName", application_name}, {"deploymentGroupName", deployment_group_name}},
      deadline);
  if (!output) return std::unexpected(output.error());
  const json& info = member_at(*output, "deploymentGroupInfo");
  if (!info.is_object()) {
    return std::unexpected(service_.error("GetDeploymentGroup", ErrorKind::unavailable,
                                          "the answer has no deploymentGroupInfo"));
  }
  DeploymentGroupInfo group;
  group.application_name = text_at(info, "applicationName");
  group.deployment_group_name = text_at(info, "deploymentGroupName");
  group.deployment_group_id = text_at(info, "deploymentGroupId");
  group.deployment_config_name = text_at(info, "deploymentConfigName");
  group.service_role_arn = text_at(info, "serviceRoleArn");
  const json& style = member_at(info, "deploymentStyle");
  group.deployment_type = text_at(style, "deploymentType");
  group.deployment_option = text_at(style, "deploymentOption");
  const json& last_attempted = member_at(info, "lastAttemptedDeployment");
  group.last_attempted_deployment_id = text_at(last_attempted, "deploymentId");
  group.last_attempted_status = text_at(last_attempted, "status");
  group.last_successful_deployment_id =
      text_at(member_at(info, "lastSuccessfulDeployment"), "deploymentId");
  group.raw = info;
  return group;
}

}  // namespace bluegreen::aws
