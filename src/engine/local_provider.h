// LocalProvider: PROVIDER=local behind the FleetProvider port (engine/provider.h). Instances
// are processes on this machine (Fleet), the revision is unpacked here (RevisionFetcher) and
// its appspec hooks run here (Installer), the health gate probes each green (HealthProbe),
// and the built-in switch moves traffic (Traffic). It does none of the flow's steps by itself
// (its ProviderTraits are all false): the flow asks for each.
//
// Revisions are unpacked below `bundles_dir`, one directory per deployment; a fleet's
// directory is removed when the fleet is terminated. A terminated fleet leaves no process:
// terminate takes the record's instances and whatever the Fleet knows under the fleet's id (a
// launch that failed half-way may have started instances the record never heard of).
#pragma once

#include <filesystem>

#include "engine/ports.h"
#include "engine/provider.h"

namespace bluegreen {

struct LocalPorts {
  Fleet& fleet;
  RevisionFetcher& fetcher;
  Installer& installer;
  HealthProbe& probe;
  Traffic& traffic;
};

class LocalProvider final : public FleetProvider {
 public:
  LocalProvider(LocalPorts ports, Clock& clock, std::filesystem::path bundles_dir);

  InputEvent fetch_revision(ProviderCall& call) override;
  InputEvent launch_green(ProviderCall& call, const action::LaunchGreen& launch) override;
  InputEvent run_hooks(ProviderCall& call, const action::RunHooks& hooks) override;
  InputEvent gate_health(ProviderCall& call, const action::CheckHealth& check) override;
  InputEvent preview(ProviderCall& call, const action::Preview& preview) override;
  InputEvent move_traffic(ProviderCall& call, const action::Route& route) override;
  InputEvent drain(ProviderCall& call, const action::Drain& drain) override;
  InputEvent retire_blue(ProviderCall& call) override;
  InputEvent clean_up(ProviderCall& call) override;
  std::vector<FleetTraffic> traffic() const override;
  bool fleet_runs(const std::string& fleet_id) const override;

 private:
  InputEvent terminate(const Deployment& deployment, Colour colour);

  LocalPorts ports_;
  Clock& clock_;
  std::filesystem::path bundles_dir_;
};

}  // namespace bluegreen
