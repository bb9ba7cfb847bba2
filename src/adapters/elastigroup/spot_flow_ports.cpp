#include "adapters/elastigroup/spot_flow_ports.h"

#include "adapters/spot/spot_client.h"

namespace bluegreen::elastigroup {
namespace {

std::unexpected<Error> failed(const spot::SpotError& error) {
  std::string code = error.code();
  if (code.empty() && error.http_status != 0) code = std::to_string(error.http_status);
  ErrorKind kind = code == "DEPLOYMENT_ALREADY_IN_PROGRESS" ? ErrorKind::conflict : error.kind;
  return std::unexpected(Error{kind, error.describe(), std::move(code)});
}

SpotDeployment deployment_from(const spot::BlueGreenDeployment& d) {
  return SpotDeployment{d.id, d.state, d.status, d.tag(kGreenTag)};
}

}  // namespace

SpotFlowPorts::SpotFlowPorts(http::HttpClient& http, Clock& clock, const CallBudget& budget,
                             std::string base_url)
    : http_(http), clock_(clock), budget_(budget), base_url_(std::move(base_url)) {}

spot::SpotClient SpotFlowPorts::client_for(const SpotAccess& access) const {
  return spot::SpotClient(
      spot::SpotContext{http_, clock_, base_url_, access.account_id, access.token});
}

Result<SpotGroup> SpotFlowPorts::read_group(const SpotAccess& access, bool with_capacity) {
  spot::SpotClient client = client_for(access);
  SpotGroup out;
  if (with_capacity) {
    auto group = client.get_group(access.group_id, budget_.deadline);
    if (!group) return failed(group.error());
    out.target_capacity = group->capacity.target;
  }
  auto instances = client.group_status(access.group_id, budget_.deadline);
  if (!instances) return failed(instances.error());
  for (const auto& instance : *instances) out.instance_ids.push_back(instance.instance_id);
  return out;
}

Result<std::vector<SpotDeployment>> SpotFlowPorts::list_deployments(const SpotAccess& access) {
  spot::SpotClient client = client_for(access);
  auto deployments = client.get_blue_green_deployments(access.group_id, budget_.deadline);
  if (!deployments) return failed(deployments.error());
  std::vector<SpotDeployment> out;
  for (const auto& d : *deployments) out.push_back(deployment_from(d));
  return out;
}

Result<SpotDeployment> SpotFlowPorts::create_deployment(const SpotAccess& access,
                                                        const SpotBlueGreenRequest& request) {
  spot::SpotClient client = client_for(access);
  spot::BlueGreenRequest create;
  create.tag_key = kGreenTag;
  create.tag_value = request.green_identifier;
  create.timeout_seconds = request.timeout_seconds;
  create.application_name = request.application_name;
  create.deployment_group_name = request.deployment_group_name;
  auto created = client.create_blue_green_deployment(access.group_id, create, budget_.deadline);
  if (!created) return failed(created.error());
  SpotDeployment d = deployment_from(*created);
  if (d.green_identifier.empty()) d.green_identifier = request.green_identifier;
  return d;
}

Result<void> SpotFlowPorts::stop_deployment(const SpotAccess& access,
                                            const std::string& deployment_id) {
  spot::SpotClient client = client_for(access);
  auto stopped =
      client.stop_blue_green_deployment(access.group_id, deployment_id, budget_.deadline);
  if (!stopped) return failed(stopped.error());
  return {};
}

Result<void> SpotFlowPorts::detach_and_terminate(const SpotAccess& access,
                                                 const std::vector<std::string>& instance_ids) {
  spot::SpotClient client = client_for(access);
  spot::DetachRequest detach;
  detach.instance_ids = instance_ids;
  detach.terminate_instances = true;
  detach.decrement_target_capacity = true;
  auto detached = client.detach_instances(access.group_id, detach, budget_.deadline);
  if (!detached) return failed(detached.error());
  return {};
}

Result<SpotCosts> SpotFlowPorts::group_costs(const SpotAccess& access, TimePoint from,
                                             TimePoint to) {
  spot::SpotClient client = client_for(access);
  auto costs = client.group_costs(access.group_id, from, to, budget_.deadline);
  if (!costs) return failed(costs.error());
  return SpotCosts{costs->running_hours, costs->actual, costs->potential};
}

}  // namespace bluegreen::elastigroup
