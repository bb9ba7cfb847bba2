// SpotFlowPorts: the Spot side of the Elastigroup request plan (SpotBlueGreen), over the Spot
// client of src/adapters/spot (which owns the REST details: Bearer token, accountId, rate-limit
// waits, retries). Each call builds a client for the access it is given, so the token resolved for
// one invocation is used for that invocation only. Every call ends by CallBudget::deadline.
//
// Errors keep Spot's first error code; DEPLOYMENT_ALREADY_IN_PROGRESS is a conflict (the flow
// then looks for the deployment again instead of failing). The token never appears in one.
//
// Thread-safe as the HttpClient is.
#pragma once

#include <string>

#include "adapters/elastigroup/elastigroup_ports.h"
#include "adapters/spot/spot_client.h"
#include "core/clock.h"
#include "infra/http/http_client.h"

namespace bluegreen::elastigroup {

class SpotFlowPorts final : public SpotBlueGreen {
 public:
  SpotFlowPorts(http::HttpClient& http, Clock& clock, const CallBudget& budget,
                std::string base_url);

  Result<SpotGroup> read_group(const SpotAccess& access, bool with_capacity) override;
  Result<std::vector<SpotDeployment>> list_deployments(const SpotAccess& access) override;
  Result<SpotDeployment> create_deployment(const SpotAccess& access,
                                           const SpotBlueGreenRequest& request) override;
  Result<void> stop_deployment(const SpotAccess& access, const std::string& deployment_id) override;
  Result<void> detach_and_terminate(const SpotAccess& access,
                                    const std::vector<std::string>& instance_ids) override;
  Result<SpotCosts> group_costs(const SpotAccess& access, TimePoint from, TimePoint to) override;

 private:
  // One client per call: the token and account come with the call.
  spot::SpotClient client_for(const SpotAccess& access) const;

  http::HttpClient& http_;
  Clock& clock_;
  const CallBudget& budget_;
  std::string base_url_;
};

}  // namespace bluegreen::elastigroup
