// SpotFlowPorts: the Spot side of the Elastigroup flow (SpotBlueGreen), over the Spot REST
// API (reference/spot-api.md sections 2 and 3):
//   GET  /aws/ec2/group/{id}                                   target capacity
//   GET  /aws/ec2/group/{id}/status                            the group's instances
//   GET  /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment    B/G deployments
//   POST /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment    create one
//   PUT  /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment/{deploymentId}/stop
//   PUT  /aws/ec2/group/{id}/detachInstances
// each with `Authorization: Bearer <token>` and `?accountId=`. The base URL is SPOT_API_URL,
// else https://api.spotinst.io.
//
// Errors: the first entry of Spot's `response.errors` gives code and message. HTTP 401/403
// are permission_denied, 404 not_found, 409 and DEPLOYMENT_ALREADY_IN_PROGRESS conflict,
// other 4xx invalid_input, 5xx and lost connections unavailable. HTTP 429 is waited out here:
// no request is sent again before X-RateLimit-Reset seconds have passed (requests while
// blocked push the reset back), up to 3 times and never past CallBudget::deadline; then it is
// `throttled`. The token never appears in an error.
//
// Thread-safe as the HttpClient is.
#pragma once

#include <string>

#include "core/clock.h"
#include "engine/elastigroup_ports.h"
#include "infra/http/http_client.h"

namespace bluegreen::elastigroup {

class SpotFlowPorts final : public SpotBlueGreen {
 public:
  SpotFlowPorts(http::HttpClient& http, Clock& clock, const CallBudget& budget,
                std::string base_url);

  CallResult<SpotGroup> read_group(const SpotAccess& access, bool with_capacity) override;
  CallResult<std::vector<SpotDeployment>> list_deployments(const SpotAccess& access) override;
  CallResult<SpotDeployment> create_deployment(const SpotAccess& access,
                                               const SpotBlueGreenRequest& request) override;
  CallResult<void> stop_deployment(const SpotAccess& access,
                                   const std::string& deployment_id) override;
  CallResult<void> detach_and_terminate(const SpotAccess& access,
                                        const std::vector<std::string>& instance_ids) override;

 private:
  // The `response.items` of a successful answer.
  CallResult<std::string> send(const SpotAccess& access, const std::string& method,
                               const std::string& path, const std::string& body);

  http::HttpClient& http_;
  Clock& clock_;
  const CallBudget& budget_;
  std::string base_url_;
};

}  // namespace bluegreen::elastigroup
