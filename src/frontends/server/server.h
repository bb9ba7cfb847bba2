// `bluegreen server`: wires the real adapters (local fleet, appspec agent, HTTP health probe,
// local and cloud revision fetchers, the built-in proxy, the SQLite journal) into a
// DeploymentService, serves the admin API, and runs until SIGINT/SIGTERM or /api/shutdown.
//
// State directory layout:
//   journal.db        deployments, phases, logs, instances, serving fleets (SQLite)
//   instances/<id>/   one directory per local instance; its install root is instances/<id>/root
//                     (see adapters/local/instance_layout.h)
//   bundles/<id>/     the revision of each deployment, kept while its fleet lives
//   server.lock       held while a server uses the directory (one server per directory)
//
// On SIGINT/SIGTERM the server stops listening and exits; instances keep running and the
// next start takes them back. /api/shutdown stops them too.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "core/secret.h"
#include "engine/live_log.h"

namespace bluegreen {

struct ServerOptions {
  std::filesystem::path state_dir;
  std::string admin_address = "127.0.0.1:7070";
  // Every admin request must carry it. Required when the admin address is not loopback; see
  // frontends/dashboard/admin_access.h for the whole rule.
  Secret admin_token;
  // Local users and groups let in besides the server's own user and root (by name; loopback
  // admin address without a token only).
  std::vector<std::string> allow_users;
  std::vector<std::string> allow_groups;
  int admin_max_connections = 256;  // admin connections open at once
  int admin_max_streams = 64;       // dashboard live streams open at once
  LogFormat log_format = LogFormat::text;
  // Load balancers in front of the groups' listeners (IP addresses or address/prefix): their
  // X-Forwarded-* headers reach the instances. Nobody's, by default.
  std::vector<std::string> trusted_proxies;
  // Client connections each group listener holds at once; 0: the proxy's default, an eighth
  // of the file descriptor limit (see proxy/proxy_options.h).
  std::size_t max_connections_per_listener = 0;
};

// $XDG_STATE_HOME/bluegreen, else $HOME/.local/state/bluegreen, else ./.state.
std::filesystem::path default_state_dir();

// Runs the server until it is told to stop; returns the process exit code (0; 2 when the
// options are unusable, such as a non-loopback admin address without a token; 3 when it could
// not start; the reason goes to `errors`). `ready`, when given, is called with the
// admin URL once the server accepts requests.
int run_server(const ServerOptions& options, std::ostream& log, std::ostream& errors,
               const std::function<void(const std::string& admin_url)>& ready = {});

}  // namespace bluegreen
