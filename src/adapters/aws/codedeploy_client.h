// CodeDeployClient: the CodeDeploy operations bluegreen uses (JSON 1.1 protocol, target
// prefix CodeDeploy_20141006, signing name codedeploy):
//   CreateDeployment, GetDeployment, StopDeployment, ListDeploymentTargets (all pages),
//   BatchGetDeploymentTargets (any number of ids, sent 25 at a time), GetDeploymentGroup.
// Statuses are kept as CodeDeploy spells them; every parsed answer also keeps the raw JSON for
// fields not modelled here. Times are read from epoch numbers (AWS) or ISO strings (moto).
// Errors are AwsErrors (see infra/aws/aws_error.h), e.g. DeploymentDoesNotExistException
// (not_found), DeploymentAlreadyCompletedException (conflict), ThrottlingException (throttled,
// retried first).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/spec.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

struct TagFilter {
  std::string key;
  std::string value;
  std::string type = "KEY_AND_VALUE";  // KEY_ONLY | VALUE_ONLY | KEY_AND_VALUE
};

struct S3Location {
  std::string bucket;
  std::string key;
  BundleType bundle_type = BundleType::zip;
  std::string version;  // optional
  std::string etag;     // optional
};

struct GitHubLocation {
  std::string repository;  // owner/repo
  std::string commit_id;
};

using RevisionLocation = std::variant<S3Location, GitHubLocation>;

struct CreateDeploymentRequest {
  std::string application_name;
  std::string deployment_group_name;
  RevisionLocation revision;
  std::vector<TagFilter> target_tag_filters;  // targetInstances.tagFilters (blue/green greens)
  std::string deployment_config_name;         // optional
  std::string description;                    // optional
  std::string file_exists_behavior;           // optional: DISALLOW | OVERWRITE | RETAIN
  std::optional<bool> ignore_application_stop_failures;
  std::optional<bool> auto_rollback_enabled;  // with events DEPLOYMENT_FAILURE, _STOP_ON_REQUEST
};

struct DeploymentInfo {
  std::string deployment_id;
  std::string application_name;
  std::string deployment_group_name;
  // Created | Queued | InProgress | Baking | Ready | Succeeded | Failed | Stopped
  std::string status;
  std::string error_code;  // errorInformation.code, e.g. HOOK_EXECUTION_FAILURE
  std::string error_message;
  long long pending = 0, in_progress = 0, succeeded = 0, failed = 0, skipped = 0, ready = 0;
  std::vector<TagFilter> target_tag_filters;  // targetInstances.tagFilters
  std::string rollback_deployment_id;         // rollbackInfo.rollbackDeploymentId
  std::optional<TimePoint> create_time, start_time, complete_time;
  nlohmann::json raw;  // deploymentInfo as received
};

// True for Succeeded, Failed and Stopped.
bool is_terminal_deployment_status(std::string_view status);

struct StopDeploymentResult {
  std::string status;  // Pending | Succeeded
  std::string message;
};

struct LifecycleEventInfo {
  std::string name;        // BeforeInstall, ValidateService, ...
  std::string status;      // Pending | InProgress | Succeeded | Failed | Skipped | Unknown
  std::string error_code;  // diagnostics.errorCode: ScriptFailed, ScriptTimedOut, ...
  std::string script_name;
  std::string message;
  std::string log_tail;  // up to the last 4 KB of the script's output
  std::optional<TimePoint> start_time, end_time;
};

struct DeploymentTargetInfo {
  std::string target_id;  // the EC2 instance id
  std::string status;     // Pending | InProgress | Succeeded | Failed | Skipped | Unknown | Ready
  std::string instance_label;  // Blue | Green
  std::vector<LifecycleEventInfo> lifecycle_events;
  nlohmann::json raw;  // the deploymentTargets[] element as received
};

struct DeploymentGroupInfo {
  std::string application_name;
  std::string deployment_group_name;
  std::string deployment_group_id;
  std::string deployment_config_name;
  std::string service_role_arn;
  std::string deployment_type;               // IN_PLACE | BLUE_GREEN
  std::string deployment_option;             // WITH_TRAFFIC_CONTROL | WITHOUT_TRAFFIC_CONTROL
  std::string last_attempted_deployment_id;  // lastAttemptedDeployment.deploymentId
  std::string last_attempted_status;
  std::string last_successful_deployment_id;  // lastSuccessfulDeployment.deploymentId
  nlohmann::json raw;                         // deploymentGroupInfo as received
};

class CodeDeployClient {
 public:
  explicit CodeDeployClient(const AwsContext& context);

  // Returns the new deployment id.
  AwsResult<std::string> create_deployment(const CreateDeploymentRequest& request,
                                           TimePoint deadline) const;
  AwsResult<DeploymentInfo> get_deployment(const std::string& deployment_id,
                                           TimePoint deadline) const;
  // `auto_rollback`: roll updated instances back to the last good revision.
  AwsResult<StopDeploymentResult> stop_deployment(const std::string& deployment_id,
                                                  std::optional<bool> auto_rollback,
                                                  TimePoint deadline) const;
  // Every target id, following nextToken.
  AwsResult<std::vector<std::string>> list_deployment_targets(const std::string& deployment_id,
                                                              TimePoint deadline) const;
  AwsResult<std::vector<DeploymentTargetInfo>> batch_get_deployment_targets(
      const std::string& deployment_id, const std::vector<std::string>& target_ids,
      TimePoint deadline) const;
  AwsResult<DeploymentGroupInfo> get_deployment_group(const std::string& application_name,
                                                      const std::string& deployment_group_name,
                                                      TimePoint deadline) const;

  // The request body CreateDeployment sends (exposed for tests and for logging its shape).
  static nlohmann::json create_deployment_input(const CreateDeploymentRequest& request);

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws
