// Ports of the Elastigroup request plan: the narrow interfaces through which
// ElastigroupProvider reaches Spot, EC2, CodeDeploy and the secret stores, and
// ElastigroupExecutor reports to CodePipeline. Real implementations wrap the cloud clients
// (aws_flow_ports.h, spot_flow_ports.h); tests use scripted fakes (elastigroup_fakes.h). The
// vocabulary (SpotDeployment, CodeDeployDeployment, …) is the plan's, from request_plan.h.
//
// Every call returns Result: the value, or an Error whose `kind` says whether a retry
// may help (throttled, unavailable, timeout) and whose `code` is the service's own error code
// (AccessDeniedException, RevisionDoesNotExistException, …), which the flow turns into the
// CodePipeline failure type. Calls should give up by `CallBudget::deadline`.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "adapters/elastigroup/request_plan.h"
#include "core/clock.h"
#include "core/secret.h"
#include "core/spec.h"
#include "engine/ports.h"

namespace bluegreen::elastigroup {

// When the current call must be over. The provider moves it before every call; adapters read
// it (they hold a reference) to bound their own retries and timeouts.
struct CallBudget {
  TimePoint deadline = TimePoint::max();
};

// Which Spot group, in which account, with which token.
struct SpotAccess {
  Secret token;
  std::string account_id;
  std::string group_id;
};

struct SpotGroup {
  int target_capacity = 0;
  std::vector<std::string> instance_ids;  // every instance in the group now (/status)
};

struct SpotBlueGreenRequest {
  std::string green_identifier;  // tag GreenIdentifier=<value> on the greens
  long long timeout_seconds = 0;
  std::string application_name;
  std::string deployment_group_name;
};

// Spot's costs of the group over a window (spot-api.md §3.5). Spot's costs lag behind usage: a
// window it has no costs for yet reads zero running hours.
struct SpotCosts {
  double running_hours = 0;  // instance-hours Spot counted in the window
  double actual_usd = 0;     // what the group cost
  double potential_usd = 0;  // what the same hours would have cost on demand
};

// Spot Elastigroup: the group, its CodeDeploy blue/green deployments and its costs.
class SpotBlueGreen {
 public:
  virtual ~SpotBlueGreen() = default;
  // `with_capacity` false: target_capacity may be left 0 (saves Spot a request).
  virtual Result<SpotGroup> read_group(const SpotAccess& access, bool with_capacity) = 0;
  // The group's B/G deployments as Spot lists them (newest first when Spot says).
  virtual Result<std::vector<SpotDeployment>> list_deployments(const SpotAccess& access) = 0;
  virtual Result<SpotDeployment> create_deployment(const SpotAccess& access,
                                                   const SpotBlueGreenRequest& request) = 0;
  virtual Result<void> stop_deployment(const SpotAccess& access,
                                       const std::string& deployment_id) = 0;
  // Detaches the instances from the group, terminating them and lowering the target capacity
  // by as many (the greens were added on top of blue's capacity).
  virtual Result<void> detach_and_terminate(const SpotAccess& access,
                                            const std::vector<std::string>& instance_ids) = 0;
  // The group's costs from `from` to `to` (GET …/costs).
  virtual Result<SpotCosts> group_costs(const SpotAccess& access, TimePoint from, TimePoint to) = 0;
};

// EC2: finding instances by tag and reading their status checks.
class Ec2Instances {
 public:
  virtual ~Ec2Instances() = default;
  // Every instance carrying tag key=value, in any state.
  virtual Result<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                           const std::string& value) = 0;
  // Status checks of these instances (never called with an empty list).
  virtual Result<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& instance_ids) = 0;
  // Puts these tags on these instances (EC2 CreateTags; never called with an empty list).
  virtual Result<void> tag_instances(
      const std::vector<std::string>& instance_ids,
      const std::vector<std::pair<std::string, std::string>>& tags) = 0;
};

struct CodeDeployRequest {
  std::string application_name;
  std::string deployment_group_name;
  RevisionSource revision;  // S3Revision or GitHubRevision
  std::string tag_key;      // targetInstances.tagFilters [{Key, Value, Type: KEY_AND_VALUE}]
  std::string tag_value;
  std::string description;
};

// CodeDeploy: deployments on tagged instances, and their per-instance progress.
class CodeDeployService {
 public:
  virtual ~CodeDeployService() = default;
  // GetDeploymentGroup's lastAttemptedDeployment, if any.
  virtual Result<std::optional<std::string>> last_attempted_deployment(
      const std::string& application_name, const std::string& deployment_group_name) = 0;
  virtual Result<CodeDeployDeployment> get_deployment(const std::string& deployment_id) = 0;
  // Returns the new deployment id.
  virtual Result<std::string> create_deployment(const CodeDeployRequest& request) = 0;
  // Every target id of the deployment (all pages).
  virtual Result<std::vector<std::string>> list_targets(const std::string& deployment_id) = 0;
  // At most 25 ids.
  virtual Result<std::vector<InstanceTarget>> get_targets(
      const std::string& deployment_id, const std::vector<std::string>& target_ids) = 0;
  virtual Result<void> stop_deployment(const std::string& deployment_id, bool auto_rollback) = 0;
};

// CodePipeline: the job's result. A job takes exactly one final result; CodePipeline answers
// InvalidJobStateException to a second one.
class PipelineReporter {
 public:
  virtual ~PipelineReporter() = default;
  virtual Result<void> success(const std::string& job_id, const ReportSuccess& report) = 0;
  virtual Result<void> failure(const std::string& job_id, const ReportFailure& report) = 0;
  virtual Result<void> progress(const std::string& job_id, const ReportProgress& report) = 0;
};

// Resolves an API_TOKEN reference (ssm:/name, secretsmanager:id) to the token.
class SecretSource {
 public:
  virtual ~SecretSource() = default;
  virtual Result<Secret> resolve(const std::string& reference) = 0;
};

}  // namespace bluegreen::elastigroup
