#include "adapters/elastigroup/elastigroup_fakes.h"

#include <fmt/format.h>

#include <algorithm>

namespace bluegreen::elastigroup {

std::optional<Error> FakeElastigroupCloud::enter(const std::string& method) {
  calls_.push_back({method, clock_.now()});
  auto it = faults_.find(method);
  if (it == faults_.end() || it->second.empty()) return std::nullopt;
  Error error = it->second.front();
  it->second.pop_front();
  return error;
}

void FakeElastigroupCloud::seen_token(const SpotAccess& access) {
  tokens_.push_back(access.token.reveal());
}

void FakeElastigroupCloud::fail_next(const std::string& method, const Error& error, int times) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < times; ++i) faults_[method].push_back(error);
}

Result<SpotGroup> FakeElastigroupCloud::read_group(const SpotAccess& access,
                                                   bool /*with_capacity*/) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.read_group")) return std::unexpected(*error);
  SpotGroup group{capacity, blue_};
  for (const auto& [tag, ids] : greens_)
    group.instance_ids.insert(group.instance_ids.end(), ids.begin(), ids.end());
  return group;
}

Result<std::vector<SpotDeployment>> FakeElastigroupCloud::list_deployments(
    const SpotAccess& access) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.list")) return std::unexpected(*error);
  return spot_deployments_;
}

Result<SpotDeployment> FakeElastigroupCloud::create_deployment(
    const SpotAccess& access, const SpotBlueGreenRequest& request) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.create")) return std::unexpected(*error);
  SpotDeployment d{fmt::format("cdbg-{}", spot_deployments_.size() + 1), "STARTING", "INITIALIZING",
                   request.green_identifier};
  spot_deployments_.push_back(d);
  auto& greens = greens_[request.green_identifier];
  for (int i = 0; i < capacity; ++i) {
    greens.push_back(fmt::format("i-green{}{}", spot_deployments_.size(), i));
  }
  return d;
}

Result<void> FakeElastigroupCloud::stop_deployment(const SpotAccess& access,
                                                   const std::string& deployment_id) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.stop")) return std::unexpected(*error);
  for (auto& d : spot_deployments_) {
    if (d.id != deployment_id) continue;
    d.state = "STOPPED";
    greens_[d.green_identifier].clear();
    return {};
  }
  return fail_with_code(ErrorKind::not_found, "DEPLOYMENT_NOT_FOUND", "no such deployment");
}

Result<void> FakeElastigroupCloud::detach_and_terminate(
    const SpotAccess& access, const std::vector<std::string>& instance_ids) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.detach")) return std::unexpected(*error);
  for (auto& [tag, ids] : greens_) {
    std::erase_if(ids, [&](const std::string& id) {
      return std::ranges::find(instance_ids, id) != instance_ids.end();
    });
  }
  return {};
}

Result<SpotCosts> FakeElastigroupCloud::group_costs(const SpotAccess& access, TimePoint from,
                                                    TimePoint to) {
  std::lock_guard lock(mutex_);
  seen_token(access);
  if (auto error = enter("spot.costs")) return std::unexpected(*error);
  cost_windows_.emplace_back(from, to);
  return costs;
}

std::vector<std::pair<TimePoint, TimePoint>> FakeElastigroupCloud::cost_windows() const {
  std::lock_guard lock(mutex_);
  return cost_windows_;
}

Result<std::vector<Ec2Instance>> FakeElastigroupCloud::describe_tagged(const std::string& key,
                                                                       const std::string& value) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("ec2.describe_tagged")) return std::unexpected(*error);
  std::vector<Ec2Instance> out;
  if (key != "GreenIdentifier") return out;
  for (const auto& id : greens_[value]) out.push_back({id, "running"});
  return out;
}

Result<std::vector<InstanceHealth>> FakeElastigroupCloud::describe_health(
    const std::vector<std::string>& instance_ids) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("ec2.describe_health")) return std::unexpected(*error);
  std::vector<InstanceHealth> out;
  for (const auto& id : instance_ids) out.push_back({id, true, true});
  return out;
}

Result<void> FakeElastigroupCloud::tag_instances(
    const std::vector<std::string>& instance_ids,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("ec2.tag")) return std::unexpected(*error);
  for (const auto& [key, value] : tags) {
    auto& tagged = greens_[value];
    for (const auto& id : instance_ids) {
      if (std::ranges::find(tagged, id) == tagged.end()) tagged.push_back(id);
    }
  }
  return {};
}

Result<std::optional<std::string>> FakeElastigroupCloud::last_attempted_deployment(
    const std::string&, const std::string&) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.last_attempted")) return std::unexpected(*error);
  if (codedeploy_.empty()) return std::optional<std::string>{};
  return std::optional<std::string>{codedeploy_.back().first};
}

Result<CodeDeployDeployment> FakeElastigroupCloud::get_deployment(
    const std::string& deployment_id) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.get")) return std::unexpected(*error);
  for (const auto& [id, tag] : codedeploy_) {
    if (id != deployment_id) continue;
    std::string& status = codedeploy_status_[id];
    if (status != "Stopped") {
      status = codedeploy_statuses.front();
      if (codedeploy_statuses.size() > 1) codedeploy_statuses.pop_front();
    }
    CodeDeployDeployment d{id, status};
    d.green_tag_values = {tag};
    auto n = static_cast<long long>(greens_[tag].size());
    if (status == "Succeeded") {
      d.succeeded = n;
      if (detaches_blue) blue_.clear();  // Spot finalises: the blue instances leave the group
      for (auto& s : spot_deployments_) {
        if (s.green_identifier == tag) s.state = "FINISHED";
      }
    } else if (status == "Failed") {
      d.failed = n;
      d.error_code = "HOOK_EXECUTION_FAILURE";
      d.error_message = "one or more lifecycle events failed";
    } else {
      d.in_progress = n;
    }
    return d;
  }
  return fail_with_code(ErrorKind::not_found, "DeploymentDoesNotExistException", deployment_id);
}

Result<std::string> FakeElastigroupCloud::create_deployment(const CodeDeployRequest& request) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.create")) return std::unexpected(*error);
  codedeploy_requests_.push_back(request);
  std::string id = fmt::format("d-{}", codedeploy_.size() + 1);
  codedeploy_.emplace_back(id, request.tag_value);
  codedeploy_status_[id] = "Created";
  return id;
}

Result<std::vector<std::string>> FakeElastigroupCloud::list_targets(
    const std::string& deployment_id) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.list_targets")) return std::unexpected(*error);
  for (const auto& [id, tag] : codedeploy_) {
    if (id == deployment_id) return greens_[tag];
  }
  return std::vector<std::string>{};
}

Result<std::vector<InstanceTarget>> FakeElastigroupCloud::get_targets(
    const std::string& deployment_id, const std::vector<std::string>& target_ids) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.get_targets")) return std::unexpected(*error);
  if (target_ids.size() > 25) {
    return fail_with_code(ErrorKind::invalid_input, "InstanceIdRequiredException", "over 25 ids");
  }
  const std::string& status = codedeploy_status_[deployment_id];
  std::vector<InstanceTarget> out;
  for (const auto& id : target_ids) {
    InstanceTarget target{id, status, {}};
    for (const char* name : {"DownloadBundle", "BeforeInstall", "AfterInstall", "ApplicationStart",
                             "ValidateService"}) {
      LifecycleEvent event{name, status == "Created" ? "Pending" : status};
      if (status == "Failed" && std::string_view(name) != "ValidateService") {
        event.status = "Succeeded";
      }
      if (event.status == "Failed") {
        event.error_code = "ScriptFailed";
        event.script_name = "scripts/validate.sh";
        event.message = "exit code 1";
      }
      target.events.push_back(event);
    }
    out.push_back(target);
  }
  return out;
}

Result<void> FakeElastigroupCloud::stop_deployment(const std::string& deployment_id,
                                                   bool /*auto_rollback*/) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("codedeploy.stop")) return std::unexpected(*error);
  codedeploy_status_[deployment_id] = "Stopped";
  return {};
}

Result<void> FakeElastigroupCloud::record_report(const std::string& method,
                                                 const std::string& job_id, Report report) {
  std::lock_guard lock(mutex_);
  if (auto error = enter(method)) return std::unexpected(*error);
  // Like CodePipeline: a job takes one result; a continued job goes on under a new id.
  if (std::ranges::find(finished_jobs_, job_id) != finished_jobs_.end()) {
    return fail_with_code(ErrorKind::conflict, "InvalidJobStateException", "job already completed");
  }
  finished_jobs_.push_back(job_id);
  reports_.push_back({job_id, std::move(report)});
  return {};
}

Result<void> FakeElastigroupCloud::success(const std::string& job_id, const ReportSuccess& report) {
  return record_report("pipeline.success", job_id, report);
}

Result<void> FakeElastigroupCloud::failure(const std::string& job_id, const ReportFailure& report) {
  return record_report("pipeline.failure", job_id, report);
}

Result<void> FakeElastigroupCloud::progress(const std::string& job_id,
                                            const ReportProgress& report) {
  return record_report("pipeline.progress", job_id, report);
}

Result<Secret> FakeElastigroupCloud::resolve(const std::string& reference) {
  std::lock_guard lock(mutex_);
  if (auto error = enter("secrets.resolve")) return std::unexpected(*error);
  auto it = secrets.find(reference);
  if (it == secrets.end()) {
    return fail_with_code(ErrorKind::not_found, "ParameterNotFound", reference + " not found");
  }
  return it->second;
}

void FakeElastigroupCloud::publish(const DeploymentEvent& event) {
  std::lock_guard lock(mutex_);
  events_.push_back(event);
}

std::vector<FakeElastigroupCloud::Call> FakeElastigroupCloud::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

int FakeElastigroupCloud::count(const std::string& method) const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(
      std::ranges::count_if(calls_, [&](const Call& c) { return c.method == method; }));
}

std::vector<FakeElastigroupCloud::Delivered> FakeElastigroupCloud::reports() const {
  std::lock_guard lock(mutex_);
  return reports_;
}

std::vector<DeploymentEvent> FakeElastigroupCloud::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::vector<std::string> FakeElastigroupCloud::tokens_seen() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

std::vector<CodeDeployRequest> FakeElastigroupCloud::codedeploy_requests() const {
  std::lock_guard lock(mutex_);
  return codedeploy_requests_;
}

std::vector<std::string> FakeElastigroupCloud::live_greens() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [tag, ids] : greens_) out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

}  // namespace bluegreen::elastigroup
