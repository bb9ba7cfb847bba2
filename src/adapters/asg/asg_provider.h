// AsgProvider: PROVIDER=asg behind the FleetProvider port (engine/provider.h). The service is
// an EC2 Auto Scaling group behind load balancer target groups; the serving group is the one
// tagged bluegreen:group=<GROUP_ID> (the first deployment adopts the group named GROUP_ID and
// tags it). The flow (core/flow.h) runs every step; this provider does them in AWS:
//   launch_green  a new group "<GROUP_ID>-<first 8 of the GreenIdentifier>" from blue's launch
//                 template, subnets and sizes (CAPACITY when given), tagged and its instances
//                 tagged GreenIdentifier=<uuid>, registered in PREVIEW_TARGET_GROUP_ARN when
//                 given; done once every instance is InService and passes its status checks
//   run_hooks     the install: one CodeDeploy deployment of the revision targeted at the tag,
//                 followed to its end, each lifecycle event on each instance logged as it ends
//                 (CodeDeploy runs no traffic hooks on an in-place install: the flow's other
//                 hook steps pass with nothing run)
//   gate_health   one read of green's health: in the preview target group when there is one,
//                 else the status checks; the flow asks HEALTHY_THRESHOLD healthy reads in a row
//   preview       green's group attached to (shown) or detached from (hidden) the preview
//                 target group
//   move_traffic  to green: green's group attached to every target group of blue's, and
//                 healthy in each, then blue's group detached from them and green's from the
//                 preview target group; refused while green's group holds an instance CodeDeploy
//                 did not install (Auto Scaling replaced or added it). Back to blue (a
//                 rollback): blue's group attached and healthy again, then green's detached
//   drain         the detached group's targets leave each target group (its deregistration
//                 delay), at most until DRAIN_TIMEOUT
//   retire_blue   the service tag moves to green's group (blue's becomes retired:<GROUP_ID>),
//                 then blue's group is deleted; a delete that does not go through is named in
//                 the step's account, blue left serving nothing
//   clean_up      CodeDeploy's deployment stopped if it runs (one whose create went out unsaved
//                 is found first), green's group out of its target groups and deleted; what
//                 cannot be is named in the step's account
//
// AWS's passing refusals (throttling, 5xx, no answer) are tried again, a second apart and
// twice as long each time, at most four times within the call's deadline; every call but
// CreateDeployment is safe to repeat.
//
// Invariants:
// 1. Nothing that may serve is removed. Blue's group is detached from a target group only
//    after green's group is healthy in every one of them; a rollback detaches green only once
//    blue is healthy again in each; clean_up deletes green's group only, which the flow asks
//    for only before the switch or after a rollback put blue back (core/flow.h).
// 2. Resuming never creates twice. The saved state (Deployment::cloud) names the groups and the
//    CodeDeploy deployment and is saved before any request that creates one; a resumed step
//    adopts the green group by its name and, before it creates one, a CodeDeploy deployment of
//    its own from the deployment group's last attempt (by its tag filter): a create whose
//    answer was not saved, a job delivered again without its token.
// 3. A restart never deletes the serving group: the tag bluegreen:group is on green's group
//    before blue's is deleted, and clean_up deletes only a group tagged as this deployment's
//    green (GreenIdentifier and bluegreen:green-of), never one tagged bluegreen:group. A
//    deployment that finds its own green serving (it ran to its end before) changes nothing.
// 4. Every wait is bounded: launch, install and the health gate by TIMEOUT, the drain by
//    DRAIN_TIMEOUT, a rollback's wait for blue by kBlueBackBound from its first run (saved, so
//    a Lambda's short runs do not restart it); a run asked to stop
//    (server shutdown, ProviderCall::stop) ends with input::Suspended and its state saved.
//
// Not thread-safe; one deployment per provider.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/asg/asg_ports.h"
#include "core/clock.h"
#include "engine/provider.h"

namespace bluegreen::asg {

inline constexpr std::string_view kServiceTag = "bluegreen:group";
inline constexpr std::string_view kGreenOfTag = "bluegreen:green-of";
inline constexpr std::string_view kGreenIdentifierTag = "GreenIdentifier";
// The value blue's service tag takes when it is retired, before its group is deleted.
inline constexpr std::string_view kRetiredPrefix = "retired:";
// How long a rollback waits for blue to be healthy again before it leaves green serving.
inline constexpr Duration kBlueBackBound = std::chrono::minutes(5);

// How polls of the same thing are spaced: from `first`, half again longer each time, at most
// `most`.
struct AsgPacing {
  Duration first = std::chrono::seconds(2);
  Duration most = std::chrono::seconds(15);
};

// Where the provider stands; saved in Deployment::cloud (token: JSON) after every change.
struct AsgState {
  std::string blue_group;
  std::vector<std::string> blue_target_groups;  // blue's, the preview one excepted
  std::string green_group;
  bool green_create_sent = false;
  std::string codedeploy_id;
  bool codedeploy_create_sent = false;
  bool blue_retired = false;
  long long back_until = 0;  // a rollback's bound on blue's return (epoch ms); 0: none yet
  std::string step;          // the provider's step, shown as the record's flow phase
};
std::string to_json_text(const AsgState& state);
Result<AsgState> asg_state_from(const std::string& text);

// The green group's name for a deployment.
std::string green_group_name(const std::string& group_id, const std::string& green_identifier);

class AsgProvider final : public FleetProvider {
 public:
  AsgProvider(std::unique_ptr<AsgCloud> cloud, Clock& clock, AsgPacing pacing = {});

  InputEvent launch_green(ProviderCall& call, const action::LaunchGreen& launch) override;
  InputEvent run_hooks(ProviderCall& call, const action::RunHooks& hooks) override;
  InputEvent gate_health(ProviderCall& call, const action::CheckHealth& check) override;
  InputEvent preview(ProviderCall& call, const action::Preview& preview) override;
  InputEvent move_traffic(ProviderCall& call, const action::Route& route) override;
  InputEvent drain(ProviderCall& call, const action::Drain& drain) override;
  InputEvent retire_blue(ProviderCall& call) override;
  InputEvent clean_up(ProviderCall& call) override;

 private:
  class Run;
  AsgState load(const Deployment& deployment) const;
  std::unique_ptr<AsgCloud> cloud_;
  Clock& clock_;
  AsgPacing pacing_;
};

// PROVIDER=asg deployments run by the server, with this process's AWS credentials, region and
// endpoints.
class AsgProviders final : public ProviderSource {
 public:
  using OpenCloud = std::function<Result<std::unique_ptr<AsgCloud>>()>;
  AsgProviders(OpenCloud open_cloud, Clock& clock, AsgPacing pacing = {});
  Result<void> check(const DeploymentSpec& spec) const override;
  std::string green_identifier(const DeploymentSpec& spec,
                               const std::string& deployment_id) const override;
  Result<std::unique_ptr<FleetProvider>> open(const Deployment& deployment, bool resumed,
                                              EventSink& sink) override;

 private:
  OpenCloud open_cloud_;
  Clock& clock_;
  AsgPacing pacing_;
};

}  // namespace bluegreen::asg
