// A PROVIDER=elastigroup deployment run by the server: the Elastigroup flow
// (core/elastigroup_flow.h) performed by ElastigroupExecutor, with the Journal as its
// continuation token and the Deployment record as what users see of it (status, history, the
// dashboard). The Lambda runs the same executor with CodePipeline's continuation token as its
// journal; the CLI without a server runs it to its end in one go.
//
// What the record shows. Phases: the flow's phases in the phases users know (user_phase) —
//   read_group, find_spot, create_spot, wait_greens        launch_green (Spot launches them)
//   find_codedeploy, create_codedeploy, follow             install (CodeDeploy's lifecycle)
//   wait_blue_detached                                     terminate_blue (Spot detaches blue)
//   stopping                                               clean_up
// the green instances Spot launched (tag GreenIdentifier=<the flow's>), the Spot and CodeDeploy
// deployment ids (`cloud`), and every line of the flow's log as an event (CodeDeploy lifecycle
// events per instance among them). A failed lifecycle event is also a hook result.
//
// Invariants:
// 1. After every step of the flow, before its next request goes out, the record is saved with
//    to_token(state). A server killed at any point resumes from a state that describes what
//    is known to exist, and the flow's idempotency (it adopts its own Spot deployment by
//    GreenIdentifier and its own CodeDeploy deployment from the deployment group's last
//    attempt) means the resumed run creates neither a second time.
// 2. No secret reaches the record, its events or the journal: a literal API_TOKEN lives only
//    in the spec the run was started with (to_json(spec) stores "***"). A run resumed after a
//    restart has lost a literal token and never calls Spot with what the journal holds: it
//    ends failed, saying why, after the clean-up that needs no Spot token (the CodeDeploy
//    deployment stopped with rollback; one whose create was answered after the last save is
//    found as the flow finds it, from the deployment group's last attempt), and names what to
//    stop by hand. A reference (ssm:,
//    secretsmanager:) is resolved again by the resumed flow.
// 3. Never remove what may serve: the lost-token clean-up does not stop a CodeDeploy
//    deployment that succeeded on the greens (the flow's greens_serving); everything else is
//    the flow's own decision.
// 4. A run asked to stop (ElastigroupExecutor::Options::stop) ends with the record still
//    running and its token saved: the next start resumes it.
#pragma once

#include "core/deployment.h"
#include "engine/elastigroup_executor.h"
#include "engine/ports.h"

namespace bluegreen {

enum class CloudStart {
  fresh,          // the deployment was just created: its spec holds the token it was given
  after_restart,  // resumed from the journal: a literal API_TOKEN is lost
};

struct CloudRunPorts {
  elastigroup::CloudConnection& cloud;
  Journal& journal;
  EventSink& sink;
  Clock& clock;
};

// Runs `deployment` (its flow from the start, or from deployment.cloud->token) until the flow
// reports or the run is asked to stop; returns the last record, which the journal holds too.
Deployment run_cloud_deployment(const CloudRunPorts& ports, Deployment deployment,
                                elastigroup::ElastigroupExecutor::Options options,
                                CloudStart start);

}  // namespace bluegreen
