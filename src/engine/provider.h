// FleetProvider: the port through which the executor performs the flow's fleet actions for a
// provider that launches, installs on and retires fleets itself (PROVIDER=elastigroup: Spot
// launches and retires, CodeDeploy installs). The flow (core/flow.h) and the executor are the
// same for every provider; which steps a provider does by itself is its ProviderTraits, and
// this port is how it does them:
//   launch_green  (action LaunchGreen)         -> GreenLaunched, Failed
//   install       (RunHooks on green, install) -> HooksRan (health gate included), Failed
//   move_traffic  (Route to green)             -> ActionDone (the switch confirmed), Failed
//   retire_blue   (Terminate blue)             -> ActionDone (blue has left), Failed
//   clean_up      (Terminate green)            -> ActionDone{detail: what it stopped, what is left}
// Any call may also answer input::Suspended: the run must end now (see ProviderCall::must_end_by
// and stop), and the step carries on from the provider's saved state at the next start.
//
// Invariants a provider keeps:
// 1. Its state (Deployment::cloud) is saved through ProviderCall::save after every change and
//    before any request that may create something, so a run killed at any point resumes from
//    a state that describes what is known to exist; resuming a step never creates a second
//    fleet or a second installation.
// 2. Nothing that may serve is removed: once install has succeeded, no call stops, detaches or
//    terminates a green, and clean_up is never asked for (core/flow.h invariant 4).
// 3. No secret reaches the record, its events or the saved state.
#pragma once

#include <atomic>
#include <functional>

#include "core/clock.h"
#include "core/deployment.h"
#include "core/flow.h"

namespace bluegreen {

// What one call of a provider may use and change.
struct ProviderCall {
  // The record: the provider keeps its greens, hook results and saved state (`cloud`) here.
  Deployment& deployment;
  // A line of the deployment's log, journalled and shown at once.
  std::function<void(const DeploymentEvent&)> publish;
  // Makes the record as it stands durable (the journal) and shown (live views).
  std::function<void()> save;
  // The run must be over by then (a Lambda invocation's end); TimePoint::max() without one.
  TimePoint must_end_by = TimePoint::max();
  // When it becomes true the call ends with input::Suspended as soon as it can (the server
  // shuts down).
  const std::atomic<bool>* stop = nullptr;
};

class FleetProvider {
 public:
  virtual ~FleetProvider() = default;
  virtual InputEvent launch_green(ProviderCall& call) = 0;
  virtual InputEvent install(ProviderCall& call) = 0;
  virtual InputEvent move_traffic(ProviderCall& call) = 0;
  virtual InputEvent retire_blue(ProviderCall& call) = 0;
  virtual InputEvent clean_up(ProviderCall& call) = 0;
};

}  // namespace bluegreen
