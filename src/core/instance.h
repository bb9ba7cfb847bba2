// Instance and HookResult: what the deployment record knows about the machines it launched
// and the lifecycle hooks it ran on them. Plain values; the ports in src/engine/ports.h
// (Fleet, Installer) produce them and the journal stores them.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen {

enum class Colour { blue, green };
std::string_view to_string(Colour colour);

enum class InstanceState {
  pending,     // launched, not yet installed
  running,     // its processes run; not yet proven healthy
  healthy,     // passed the health gate
  unhealthy,   // failed the health gate or a lifecycle hook
  terminated,  // stopped; none of its processes remain
};
std::string_view to_string(InstanceState state);
// The inverse of to_string; unknown text reads as `terminated`, the state that asks nothing
// of anyone.
InstanceState instance_state_from_string(std::string_view text);

// Where a local instance's processes run (ISOLATION).
enum class Isolation {
  none,        // they share this machine: a loopback PORT each, files below INSTANCE_ROOT
  namespaces,  // the instance is a lightweight host: its own mount, network, PID and UTS
               // namespaces, users and hostname (adapters/local/instance_host.h)
};
std::string_view to_string(Isolation isolation);
// The inverse of to_string; unknown text reads as `none`.
Isolation isolation_from_string(std::string_view text);

struct Instance {
  std::string id;        // unique for the life of the server, e.g. "i-3f2a9c01"
  std::string fleet_id;  // the deployment that launched it
  // Where the proxy and the health probe reach it: with Isolation::none a loopback port given
  // to its hooks as PORT; with namespaces the instance's own veth address and APP_PORT.
  std::string host = "127.0.0.1";
  int port = 0;
  Isolation isolation = Isolation::none;
  std::filesystem::path root;               // its own directory (adapters/local/instance_layout.h)
  std::map<std::string, std::string> tags;  // includes GreenIdentifier=<uuid>
  InstanceState state = InstanceState::pending;
};

// The instances by id for a message, each with its port when it has one:
// "i-1a2b (port 40001), i-3c4d (port 40002)"; a cloud instance is its id alone.
std::string instance_list(const std::vector<Instance>& instances);

// The outcome of one lifecycle hook script on one instance.
struct HookResult {
  std::string instance_id;
  std::string lifecycle_event;  // "BeforeInstall", "ValidateService", ...
  std::string script;           // the hook's location in the bundle
  int exit_code = 0;            // -1 when it was killed at its timeout
  bool timed_out = false;
  std::string output_tail;  // the last lines of its standard output and error
  long long duration_ms = 0;
};

}  // namespace bluegreen
