// ExecutorTestWorld: the fakes of every port an Executor runs against, for the fixtures of
// the executor's tests. Nothing in it sleeps: hooks take FakeClock time.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include "engine/executor.h"
#include "engine/fakes.h"
#include "engine/ids.h"
#include "temp_dir.h"

namespace bluegreen {

struct ExecutorTestWorld {
  // Launches fleet "d-blue" (two instances) and routes traffic to it: the group is already
  // served, and the result is what a deployment replacing that fleet is handed.
  BlueFleet serving_blue() {
    auto launched = fleet.launch(LaunchRequest{"d-blue", 2, {}});
    traffic.register_fleet("d-blue", *launched);
    traffic.route("d-blue");
    return BlueFleet{"d-blue", *launched, bundles.path() / "d-blue"};
  }

  // The world's ports, with `installer_port`, `health` and `journal_port` in place of its
  // own installer, probe and journal.
  ExecutorPorts ports(Installer& installer_port, HealthProbe& health, Journal& journal_port) {
    return {fleet, fetcher, installer_port, health, traffic, clock, journal_port, sink};
  }
  ExecutorPorts ports() { return ports(installer, probe, journal); }

  // A new deployment of `spec` with a fresh id, created now; `blue` is the fleet it replaces.
  Deployment new_test_deployment(DeploymentSpec spec, std::optional<BlueFleet> blue) {
    return new_deployment(new_deployment_id(), std::move(spec), "test", new_uuid(), clock.now(),
                          std::move(blue));
  }

  FakeClock clock;
  FakeFleet fleet;
  FakeFetcher fetcher;
  FakeInstaller installer{&clock, std::chrono::milliseconds(100)};
  FakeHealthProbe probe;
  FakeTraffic traffic;
  MemoryJournal journal;
  RecordingSink sink;
  testing::TempDir bundles;
  Inbox inbox;
};

}  // namespace bluegreen
