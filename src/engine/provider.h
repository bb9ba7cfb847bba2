// FleetProvider: the port through which the executor performs the flow's actions on a
// provider's fleets. The flow (core/flow.h) and the executor (engine/executor.h) are the same
// for every provider; which steps a provider does by itself is its ProviderTraits, and this
// port is how each step is done:
//   fetch_revision (FetchRevision)    -> RevisionFetched
//   launch_green   (LaunchGreen)      -> GreenLaunched
//   run_hooks      (RunHooks)         -> HooksRan; on green with install_lifecycle_events() it
//                                        is the install (for a provider that installs and gates
//                                        by itself, its health gate included)
//   gate_health    (CheckHealth)      -> HealthChecked: one probe of every green
//   preview, move_traffic, drain      -> ActionDone, Drained: the traffic switch (a provider
//     (Preview, Route, Drain)            that moves traffic itself confirms the switch to green)
//   retire_blue    (Terminate blue)   -> ActionDone: blue is gone
//   clean_up       (Terminate green)  -> ActionDone: green is gone (a provider that owns its
//                                        fleets gives its account of the failure as `detail`)
// and Failed when the step failed. Any call may also answer input::Suspended: the run must end
// now (ProviderCall::must_end_by, stop), and the step carries on from the provider's saved
// state at the next start. A step the flow never asks of a provider (by its traits) answers
// Failed, naming the provider.
//
// Providers: LocalProvider (engine/local_provider.h: processes on this machine behind the
// built-in switch), AsgProvider (adapters/asg/asg_provider.h: Auto Scaling groups, ELBv2 target
// groups and CodeDeploy) and ElastigroupProvider (adapters/elastigroup/elastigroup_provider.h:
// Spot and CodeDeploy).
//
// Invariants a provider keeps:
// 1. Its state (Deployment::cloud, for a provider that resumes in place) is saved through
//    ProviderCall::save after every change and before any request that may create something,
//    so a run killed at any point resumes from a state that describes what is known to exist;
//    resuming a step never creates a second fleet or a second installation.
// 2. Nothing that may serve is removed: clean_up is asked for only before the switch, or
//    after a roll back moved traffic back to blue (core/flow.h).
// 3. No secret reaches the record, its events or the saved state.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/deployment.h"
#include "core/flow.h"
#include "engine/ports.h"

namespace bluegreen {

// What one call of a provider may use and change.
struct ProviderCall {
  // The record: a provider that owns its fleets keeps its greens, hook results and saved state
  // (`cloud`) here; the local provider reads it.
  Deployment& deployment;
  // A line of the deployment's log, journalled and shown at once.
  std::function<void(const DeploymentEvent&)> publish;
  // Makes the record as it stands durable (the journal) and shown (live views).
  std::function<void()> save;
  // Shows `live` (the record with what runs now, e.g. the hooks in progress) without saving.
  std::function<void(const Deployment& live)> show;
  // The run must be over by then (a Lambda invocation's end); TimePoint::max() without one.
  TimePoint must_end_by = TimePoint::max();
  // When it becomes true the call ends with input::Suspended as soon as it can (the server
  // shuts down).
  const std::atomic<bool>* stop = nullptr;
};

class FleetProvider {
 public:
  virtual ~FleetProvider() = default;
  virtual InputEvent fetch_revision(ProviderCall& call);
  virtual InputEvent launch_green(ProviderCall& call, const action::LaunchGreen& launch) = 0;
  virtual InputEvent run_hooks(ProviderCall& call, const action::RunHooks& hooks) = 0;
  virtual InputEvent gate_health(ProviderCall& call, const action::CheckHealth& check);
  virtual InputEvent preview(ProviderCall& call, const action::Preview& preview);
  virtual InputEvent move_traffic(ProviderCall& call, const action::Route& route) = 0;
  virtual InputEvent drain(ProviderCall& call, const action::Drain& drain);
  virtual InputEvent retire_blue(ProviderCall& call) = 0;
  virtual InputEvent clean_up(ProviderCall& call) = 0;
  // What the provider's switch sees of each fleet now, for watched waits (MAX_ERROR_RATE,
  // MAX_LATENCY_RATIO); empty for a provider without one.
  virtual std::vector<FleetTraffic> traffic() const { return {}; }
  // Whether any instance of `fleet_id` still runs, as a restart checks the record's routed
  // fleet against; a provider that finds its fleets again itself says yes.
  virtual bool fleet_runs(const std::string& /*fleet_id*/) const { return true; }

 protected:
  // The answer to a step the flow should never ask of this provider.
  static InputEvent not_done_here(const Deployment& deployment, const Action& action);
};

// Opens providers that own their fleets (PROVIDER=elastigroup, PROVIDER=asg) with what this
// process can reach: the server's own environment and credentials. The server never sees a
// cloud API.
class ProviderSource {
 public:
  virtual ~ProviderSource() = default;
  // Refuses what the provider cannot run (a key of the wrong shape for it), naming the key,
  // before anything starts.
  virtual Result<void> check(const DeploymentSpec& spec) const = 0;
  // The GreenIdentifier of a new deployment of `spec` with this id.
  virtual std::string green_identifier(const DeploymentSpec& spec,
                                       const std::string& deployment_id) const = 0;
  // A provider for one run of `deployment`, publishing its own events to `sink`. `resumed`:
  // the record was read back after a restart (a literal API_TOKEN was lost with the process).
  // Fails when the provider's clouds cannot be reached from here.
  virtual Result<std::unique_ptr<FleetProvider>> open(const Deployment& deployment, bool resumed,
                                                      EventSink& sink) = 0;
};

// One source for each cloud provider: each spec goes to the source of its PROVIDER. A
// provider with no source here is refused, named, before anything starts.
class ProviderSources final : public ProviderSource {
 public:
  void add(Provider provider, ProviderSource& source) { sources_[provider] = &source; }
  Result<void> check(const DeploymentSpec& spec) const override;
  std::string green_identifier(const DeploymentSpec& spec,
                               const std::string& deployment_id) const override;
  Result<std::unique_ptr<FleetProvider>> open(const Deployment& deployment, bool resumed,
                                              EventSink& sink) override;

 private:
  Result<ProviderSource*> source_for(Provider provider) const;
  std::map<Provider, ProviderSource*> sources_;
};

}  // namespace bluegreen
