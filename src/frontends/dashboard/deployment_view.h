// DeploymentView: a deployment as the dashboard shows it. The record's JSON form
// (core/deployment_json.h) plus what a person watching asks first: what is it waiting on,
// how long is left before that wait's deadline, and which buttons would be accepted now.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/deployment.h"

namespace bluegreen::dashboard {

// The one thing a running deployment waits on now.
struct Waiting {
  std::string what;  // "run BeforeInstall, Install, ... on green", "keep blue for rollback"
  // When the wait ends at the latest, and what sets that time ("TIMEOUT", "DRAIN_TIMEOUT",
  // "BLUE_TERMINATION_WAIT", "hook limit"); none when nothing bounds it.
  std::optional<TimePoint> until;
  std::string bound;
};

// None once the deployment has ended.
std::optional<Waiting> waiting_on(const Deployment& deployment);

// to_json(deployment) with, in addition:
//   "waitingOn": {"what", "until" (ISO time or null), "bound"} or null,
//   "actions":   {"promote", "rollback", "abort"}: whether each would be accepted now
//                (abort: stop before traffic moved, greens terminated; rollback: traffic
//                back to blue after the switch); none unless `takes_requests`
//                (DeploymentService::takes_requests: a flow of the server runs it now),
//   "serverTime": `now`, so a browser can count down against the server's clock.
nlohmann::json deployment_view_json(const Deployment& deployment, TimePoint now,
                                    bool takes_requests);

}  // namespace bluegreen::dashboard
