// FakeElastigroupCloud: one in-memory stand-in for every port of the Elastigroup request plan
// (Spot, EC2, CodeDeploy, CodePipeline, the secret stores and the log), for tests of the executor
// and of whatever drives it. By default it behaves like a healthy cloud: the Spot B/G
// deployment launches `capacity` running, healthy greens at once; CodeDeploy goes through
// `codedeploy_statuses` one status per GetDeployment; Spot detaches blue once CodeDeploy
// succeeded. Knobs steer it; `fail_next` injects an error into the next calls of one method
// (the leveldb fault-injection idea). Nothing sleeps; it reads time from the given clock only
// to stamp the calls it records.
//
// Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "adapters/elastigroup/elastigroup_ports.h"

namespace bluegreen::elastigroup {

class FakeElastigroupCloud final : public SpotBlueGreen,
                                   public Ec2Instances,
                                   public CodeDeployService,
                                   public PipelineReporter,
                                   public SecretSource,
                                   public EventSink {
 public:
  explicit FakeElastigroupCloud(Clock& clock) : clock_(clock) {}

  // SpotBlueGreen
  Result<SpotGroup> read_group(const SpotAccess& access, bool with_capacity) override;
  Result<std::vector<SpotDeployment>> list_deployments(const SpotAccess& access) override;
  Result<SpotDeployment> create_deployment(const SpotAccess& access,
                                           const SpotBlueGreenRequest& request) override;
  Result<void> stop_deployment(const SpotAccess& access, const std::string& deployment_id) override;
  Result<void> detach_and_terminate(const SpotAccess& access,
                                    const std::vector<std::string>& instance_ids) override;
  Result<SpotCosts> group_costs(const SpotAccess& access, TimePoint from, TimePoint to) override;
  // Ec2Instances
  Result<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                   const std::string& value) override;
  Result<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& instance_ids) override;
  // Each tag's value then names these instances too (the fake keys instances by tag value).
  Result<void> tag_instances(const std::vector<std::string>& instance_ids,
                             const std::vector<std::pair<std::string, std::string>>& tags) override;
  // CodeDeployService
  Result<std::optional<std::string>> last_attempted_deployment(
      const std::string& application_name, const std::string& deployment_group_name) override;
  Result<CodeDeployDeployment> get_deployment(const std::string& deployment_id) override;
  Result<std::string> create_deployment(const CodeDeployRequest& request) override;
  Result<std::vector<std::string>> list_targets(const std::string& deployment_id) override;
  Result<std::vector<InstanceTarget>> get_targets(
      const std::string& deployment_id, const std::vector<std::string>& target_ids) override;
  Result<void> stop_deployment(const std::string& deployment_id, bool auto_rollback) override;
  // PipelineReporter
  Result<void> success(const std::string& job_id, const ReportSuccess& report) override;
  Result<void> failure(const std::string& job_id, const ReportFailure& report) override;
  Result<void> progress(const std::string& job_id, const ReportProgress& report) override;
  // SecretSource
  Result<Secret> resolve(const std::string& reference) override;
  // EventSink
  void publish(const DeploymentEvent& event) override;
  void update(const Deployment& /*deployment*/) override {}

  // ---- knobs ----
  int capacity = 2;
  // Statuses GetDeployment returns in turn; the last one repeats.
  std::deque<std::string> codedeploy_statuses = {"InProgress", "Succeeded"};
  std::map<std::string, Secret> secrets;  // reference -> token
  bool detaches_blue = true;              // false: Spot never finalises, blue stays in the group
  // What group_costs answers for any window; running_hours 0 is Spot having nothing yet.
  SpotCosts costs{0.5, 0.0123, 0.0456};
  // The next `times` calls of `method` fail. Methods are named "<port>.<call>": spot.read_group,
  // spot.list, spot.create, spot.stop, spot.detach, spot.costs, ec2.describe_tagged,
  // ec2.describe_health, ec2.tag,
  // codedeploy.last_attempted, codedeploy.get, codedeploy.create, codedeploy.list_targets,
  // codedeploy.get_targets, codedeploy.stop, pipeline.success, pipeline.failure,
  // pipeline.progress, secrets.resolve.
  void fail_next(const std::string& method, const Error& error, int times = 1);

  // ---- what happened ----
  struct Call {
    std::string method;
    TimePoint time;
  };
  struct Delivered {
    std::string job_id;
    elastigroup::Report report;
  };
  std::vector<Call> calls() const;
  int count(const std::string& method) const;
  std::vector<Delivered> reports() const;
  std::vector<DeploymentEvent> events() const;   // every event published, in order
  std::vector<std::string> tokens_seen() const;  // Spot tokens, to check what reached Spot
  std::vector<CodeDeployRequest> codedeploy_requests() const;
  std::vector<std::string> live_greens() const;
  // The windows group_costs was asked for, in order.
  std::vector<std::pair<TimePoint, TimePoint>> cost_windows() const;

 private:
  std::optional<Error> enter(const std::string& method);
  Result<void> record_report(const std::string& method, const std::string& job_id,
                             elastigroup::Report report);
  void seen_token(const SpotAccess& access);

  Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Error>> faults_;
  std::vector<Call> calls_;
  std::vector<Delivered> reports_;
  std::vector<DeploymentEvent> events_;
  std::vector<std::string> tokens_;
  std::vector<CodeDeployRequest> codedeploy_requests_;
  std::vector<std::string> blue_ = {"i-blue1", "i-blue2"};
  std::vector<SpotDeployment> spot_deployments_;
  std::map<std::string, std::vector<std::string>> greens_;       // tag value -> live instance ids
  std::vector<std::pair<std::string, std::string>> codedeploy_;  // id, tag value
  std::map<std::string, std::string> codedeploy_status_;
  std::vector<std::string> finished_jobs_;  // jobs with a final result
  std::vector<std::pair<TimePoint, TimePoint>> cost_windows_;
};

// The fake cloud behind a CloudConnection, as the server opens one per run. `spot`, when set,
// stands in for the fake's Spot port (a test wraps it to hold or fail calls).
class FakeCloudConnection final : public CloudConnection {
 public:
  FakeCloudConnection(FakeElastigroupCloud& cloud, Clock& clock, SpotBlueGreen* spot = nullptr)
      : cloud_(cloud), clock_(clock), spot_(spot) {}
  ElastigroupPorts ports(EventSink& events, PipelineReporter& reporter) override {
    return ElastigroupPorts{
        spot_ ? *spot_ : cloud_, cloud_, cloud_, reporter, cloud_, events, clock_, budget_};
  }

 private:
  FakeElastigroupCloud& cloud_;
  Clock& clock_;
  SpotBlueGreen* spot_;
  CallBudget budget_;
};

// Lends a connection that the test keeps (as OpenCloud returns one it owns).
class BorrowedConnection final : public CloudConnection {
 public:
  explicit BorrowedConnection(CloudConnection& inner) : inner_(inner) {}
  ElastigroupPorts ports(EventSink& events, PipelineReporter& reporter) override {
    return inner_.ports(events, reporter);
  }

 private:
  CloudConnection& inner_;
};

}  // namespace bluegreen::elastigroup
