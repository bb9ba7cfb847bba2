#include "frontends/cli/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/spec.h"
#include "engine/ids.h"
#include "frontends/cli/admin_client.h"
#include "frontends/cli/elastigroup_deploy.h"
#include "frontends/cli/progress.h"
#include "frontends/cli/render.h"
#include "frontends/cli/terminal_text.h"
#include "frontends/server/server.h"

namespace bluegreen::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kDefaultServer = "http://127.0.0.1:7070";
constexpr auto kPollInterval = 250ms;
// How long `deploy` keeps asking a server that does not answer before it reports it lost.
constexpr auto kLostAfter = 5s;

constexpr const char* kFooter = R"(Examples:
  bluegreen server --state-dir .state
  bluegreen deploy --params params.json
  bluegreen deploy --params '{"GROUP_ID":"web","APP_NAME":"hello","DEPLOYMENT_GROUP":"dev",
                              "TIMEOUT":"120","LOCAL_PATH":"hello-2.tgz","LISTEN":"127.0.0.1:8080"}'
  bluegreen status
  bluegreen status --watch
  bluegreen history --output json
  bluegreen logs d-1a2b3c4d5e6f
  bluegreen rollback --group web
  bluegreen promote --deployment d-1a2b3c4d5e6f
  bluegreen shutdown

Exit codes: 0 succeeded; 1 the deployment failed or was rolled back (blue still serves), or
another deployment of the group runs (deploy --wait waits for it instead); 2 invalid parameters
or arguments (the message names the key); 3 the server could not be reached, refused this user,
was lost while deploy followed a deployment (status "server_lost"), or failed internally, or
a loopback server address is served by a process of another user (nothing is sent to it; set
BLUEGREEN_SERVER_USER=NAME when your granted server runs as user NAME).
Every UserParameters key is described in README.md.)";

ExitCode exit_code_for(const Error& error) {
  switch (error.kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::not_found:
      return ExitCode::invalid_input;
    case ErrorKind::conflict:
    case ErrorKind::failed:
      return ExitCode::deployment_failed;
    default:
      return ExitCode::unavailable;
  }
}

struct Options {
  std::string server;
  std::string output = "text";
  Secret admin_token;  // BLUEGREEN_ADMIN_TOKEN, for a server that wants one
  bool json_output() const { return output == "json"; }
};

class Commands {
 public:
  Commands(Options options, std::ostream& out, std::ostream& err)
      : options_(std::move(options)),
        out_(out),
        err_(err),
        client_(options_.server, options_.admin_token) {}

  // `wait_for_group`: if another deployment of the group runs, wait (up to this deployment's
  // TIMEOUT) for it to end instead of failing with the conflict.
  // With PROVIDER=elastigroup the flow runs in this process (no server); `deployment_name`
  // then names it, so that the same name joins the same deployment.
  ExitCode deploy(const std::string& params, bool wait_for_group,
                  const std::string& deployment_name);
  ExitCode status();
  ExitCode watch(const std::string& deployment_id, const std::string& group);
  ExitCode history(const std::string& group, int limit);
  ExitCode logs(const std::string& deployment_id);
  ExitCode request(bool promote, const std::string& deployment_id, const std::string& group,
                   bool wait);
  ExitCode shutdown();

 private:
  ExitCode report(const Error& error) {
    err_ << "bluegreen: " << printable(error.message) << "\n";
    return exit_code_for(error);
  }
  ExitCode print(const json& answer, const std::string& text) {
    out_ << (options_.json_output() ? json_line(answer, 2) + "\n" : text);
    return ExitCode::succeeded;
  }
  Result<json> wait_for(const std::string& id, auto&& done, std::chrono::seconds bound);
  // Shows the deployment's progress until it ends; returns its last record.
  Result<json> follow(const std::string& id, json record);
  std::ostream& progress_stream() { return options_.json_output() ? err_ : out_; }

  Options options_;
  std::ostream& out_;
  std::ostream& err_;
  AdminClient client_;
};

// The text of --params: inline JSON, "-" for standard input, or a file. Relative LOCAL_PATHs
// are resolved here (against the file's folder, or the current directory), because the
// server may run elsewhere.
Result<json> read_params(const std::string& value) {
  std::string text;
  std::filesystem::path base = std::filesystem::current_path();
  auto first = value.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && value[first] == '{') {
    text = value;
  } else if (value == "-") {
    std::stringstream buffer;
    buffer << std::cin.rdbuf();
    text = buffer.str();
  } else {
    std::ifstream in(value);
    if (!in) {
      return fail(
          ErrorKind::invalid_input,
          fmt::format("--params: \"{}\" is neither a JSON object nor a readable file", value));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    base = std::filesystem::absolute(value).parent_path();
  }
  auto spec = parse_spec(std::string_view(text));
  if (!spec) return std::unexpected(spec.error().with_context("invalid parameters"));
  auto params = json::parse(text);
  if (auto it = params.find("LOCAL_PATH"); it != params.end() && it->is_string()) {
    std::filesystem::path path = it->get<std::string>();
    if (path.is_relative()) *it = (base / path).lexically_normal().string();
  }
  return params;
}

ExitCode Commands::deploy(const std::string& params_text, bool wait_for_group,
                          const std::string& deployment_name) {
  auto finish = [&](const json& result, ExitCode code) {
    out_ << json_line(result) << "\n";
    out_.flush();
    return code;
  };
  auto rejected = [&](const Error& error) {
    report(error);
    return finish(json{{"deploymentId", nullptr},
                       {"status", "rejected"},
                       {"error", {{"kind", to_string(error.kind)}, {"message", error.message}}}},
                  exit_code_for(error));
  };
  auto params = read_params(params_text);
  if (!params) return rejected(params.error());
  if (auto spec = parse_spec(*params); spec && spec->provider == Provider::elastigroup) {
    std::string name = deployment_name.empty() ? "cli-" + new_uuid() : deployment_name;
    auto code =
        deploy_elastigroup(params->dump(), name, options_.json_output(), out_, progress_stream());
    return code ? *code : rejected(code.error());
  }
  auto created = client_.post("/api/deployments", params->dump());
  if (wait_for_group && !created && created.error().kind == ErrorKind::conflict) {
    // The running deployment ends by its own TIMEOUT; ours bounds how long we wait for it.
    auto spec = parse_spec(*params);
    auto until = std::chrono::steady_clock::now() + (spec ? spec->timeout : 3600s);
    progress_stream() << "waiting: " << printable(created.error().message) << "\n";
    while (!created && created.error().kind == ErrorKind::conflict &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(kPollInterval * 4);
      created = client_.post("/api/deployments", params->dump());
    }
  }
  if (!created) return rejected(created.error());

  std::string id = created->value("deploymentId", "");
  auto record = follow(id, *created);
  if (!record) {
    // The deployment started: its id and a status that says it was lost from view, never
    // "rejected". The server's journal carries it on; `bluegreen logs <id>` shows how it ended.
    report(record.error());
    return finish(
        json{{"deploymentId", id},
             {"status", "server_lost"},
             {"error",
              {{"kind", to_string(record.error().kind)}, {"message", record.error().message}}}},
        ExitCode::unavailable);
  }
  bool succeeded = record->value("status", "") == "succeeded";
  (succeeded ? progress_stream() : err_) << render_outcome(*record) << "\n";
  return finish(deploy_result(*record),
                succeeded ? ExitCode::succeeded : ExitCode::deployment_failed);
}

Result<json> Commands::follow(const std::string& id, json record) {
  int fd = options_.json_output() ? STDERR_FILENO : STDOUT_FILENO;
  DeployProgress progress(progress_stream(), ::isatty(fd) == 1);
  std::size_t seen = 0;
  auto lost_since = std::chrono::steady_clock::time_point{};
  for (;;) {
    auto current = client_.get("/api/deployments/" + id);
    auto logs = client_.get("/api/deployments/" + id + "/logs");
    // A busy server (503) or a moment without an answer is retried for a while before the
    // server counts as lost.
    bool transient = (!current && current.error().kind == ErrorKind::unavailable) ||
                     (!logs && logs.error().kind == ErrorKind::unavailable);
    if (transient) {
      auto now = std::chrono::steady_clock::now();
      if (lost_since == std::chrono::steady_clock::time_point{}) lost_since = now;
      if (now - lost_since < kLostAfter) {
        std::this_thread::sleep_for(kPollInterval);
        continue;
      }
    }
    lost_since = {};
    if (!current || !logs) {
      Error lost = current ? logs.error() : current.error();
      lost.message = fmt::format("lost the server while deployment {} was in phase {}: {}", id,
                                 record.value("phase", "?"), lost.message);
      return std::unexpected(lost);
    }
    record = *current;
    const auto& events = (*logs)["events"];
    std::vector<json> fresh;
    for (std::size_t i = seen; i < events.size(); ++i) fresh.push_back(events[i]);
    seen = std::max(seen, events.size());
    progress.show(record, fresh, std::chrono::system_clock::now());
    if (record.value("status", "running") != "running") return record;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Follows the named deployment, else the running one of `group`, else the only running one.
ExitCode Commands::watch(const std::string& deployment_id, const std::string& group) {
  std::string id = deployment_id;
  if (id.empty()) {
    auto status = client_.get("/api/status");
    if (!status) return report(status.error());
    std::vector<std::string> running;
    for (const auto& g : (*status)["groups"]) {
      if ((group.empty() || g.value("group", "") == group) && g["running"].is_object()) {
        running.push_back(g["running"].value("deploymentId", ""));
      }
    }
    if (running.size() != 1) {
      return report(Error{
          ErrorKind::invalid_input,
          running.empty()
              ? "no deployment is running" + (group.empty() ? std::string() : " in group " + group)
              : "several deployments are running; name one with --deployment "
                "or --group"});
    }
    id = running.front();
  }
  auto record = follow(id, json::object());
  if (!record) return report(record.error());
  bool succeeded = record->value("status", "") == "succeeded";
  print(*record, render_outcome(*record) + "\n");
  return succeeded ? ExitCode::succeeded : ExitCode::deployment_failed;
}

ExitCode Commands::status() {
  auto answer = client_.get("/api/status");
  if (!answer) return report(answer.error());
  return print(*answer, render_status(*answer));
}

ExitCode Commands::history(const std::string& group, int limit) {
  auto answer = client_.get("/api/deployments" + (group.empty() ? "" : "?group=" + group));
  if (!answer) return report(answer.error());
  auto& list = (*answer)["deployments"];
  if (limit > 0 && list.size() > static_cast<std::size_t>(limit)) {
    list.erase(list.begin() + limit, list.end());
  }
  return print(*answer, render_history(*answer));
}

ExitCode Commands::logs(const std::string& deployment_id) {
  auto answer = client_.get("/api/deployments/" + deployment_id + "/logs");
  if (!answer) return report(answer.error());
  return print(*answer, render_logs(*answer));
}

Result<json> Commands::wait_for(const std::string& id, auto&& done, std::chrono::seconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    auto record = client_.get("/api/deployments/" + id);
    if (!record || done(*record) || std::chrono::steady_clock::now() > until) return record;
    std::this_thread::sleep_for(kPollInterval);
  }
}

ExitCode Commands::request(bool promote, const std::string& deployment_id, const std::string& group,
                           bool wait) {
  json body = json::object();
  if (!deployment_id.empty()) body["deploymentId"] = deployment_id;
  if (!group.empty()) body["group"] = group;
  auto accepted = client_.post(promote ? "/api/promote" : "/api/rollback", body.dump());
  if (!accepted) return report(accepted.error());
  std::string id = (*accepted)["deployment"].value("deploymentId", "");
  if (!wait) {
    return print(*accepted, fmt::format("{} of {} requested\n", promote ? "promotion" : "rollback",
                                        printable(id)));
  }
  auto record =
      promote ? wait_for(
                    id,
                    [](const json& r) {
                      return r.value("phase", "") != "await_promotion" ||
                             r.value("status", "") != "running";
                    },
                    std::chrono::seconds(60))
              : wait_for(
                    id, [](const json& r) { return r.value("status", "running") != "running"; },
                    std::chrono::seconds(600));
  if (!record) return report(record.error());
  if (promote) {
    bool moved =
        record->value("status", "") != "failed" && record->value("phase", "") != "await_promotion";
    print(*record, moved ? fmt::format("promoted {}: traffic moves to green\n", printable(id))
                         : fmt::format("promotion of {} did not go through: {}\n", printable(id),
                                       record->value("error", json("still waiting")).dump()));
    return moved ? ExitCode::succeeded : ExitCode::deployment_failed;
  }
  bool rolled_back = record->value("status", "") == "rolled_back";
  print(*record, render_outcome(*record) + "\n");
  return rolled_back ? ExitCode::succeeded : ExitCode::deployment_failed;
}

ExitCode Commands::shutdown() {
  auto answer = client_.post("/api/shutdown", "{}");
  if (!answer) return report(answer.error());
  return print(*answer, fmt::format("server stopped; {} instance(s) terminated\n",
                                    answer->value("terminatedInstances", 0)));
}

}  // namespace

ExitCode run(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "bluegreen: blue/green deployments. `bluegreen server` runs a local server that "
      "deploys CodeDeploy-style bundles to local instances behind a built-in traffic "
      "switch; the other commands talk to it.",
      "bluegreen"};
  app.footer(kFooter);
  app.set_version_flag("--version", "bluegreen 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();

  Options options;
  const char* env_server = std::getenv("BLUEGREEN_SERVER");
  options.server = env_server && *env_server ? env_server : kDefaultServer;
  if (const char* token = std::getenv("BLUEGREEN_ADMIN_TOKEN"); token && *token) {
    options.admin_token = Secret(token);
  }
  app.add_option(
      "--server", options.server,
      "admin URL of the server (default: $BLUEGREEN_SERVER, else http://127.0.0.1:7070)");
  app.add_option("--output", options.output, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));

  ServerOptions server_options;
  server_options.state_dir = default_state_dir();
  auto* server = app.add_subcommand("server", "run the local server (admin API, traffic switch)");
  server->add_option("--state-dir", server_options.state_dir,
                     "journal, instances and bundles (default: $XDG_STATE_HOME/bluegreen, else "
                     "~/.local/state/bluegreen)");
  server->add_option("--admin", server_options.admin_address,
                     "admin API and dashboard address (default 127.0.0.1:7070; port 0 picks one)");
  server->add_option("--trusted-proxy", server_options.trusted_proxies,
                     "a load balancer in front of the groups (IP or address/prefix; repeatable) "
                     "whose X-Forwarded-* headers are kept");
  server->add_option("--max-connections", server_options.max_connections_per_listener,
                     "client connections per group listener (default: an eighth of the open "
                     "files limit)");
  std::string admin_token;
  server
      ->add_option("--admin-token", admin_token,
                   "token every admin request must carry; required when --admin is not loopback "
                   "(prefer BLUEGREEN_ADMIN_TOKEN: arguments are visible to other users)")
      ->envname("BLUEGREEN_ADMIN_TOKEN");
  server
      ->add_option("--allow-user", server_options.allow_users,
                   "also let this local user use the admin API and dashboard (repeatable; "
                   "the server's own user and root always may)")
      ->type_name("NAME");
  server
      ->add_option("--allow-group", server_options.allow_groups,
                   "also let the members of this local group use the admin API and dashboard "
                   "(repeatable)")
      ->type_name("NAME");
  server
      ->add_option("--admin-max-connections", server_options.admin_max_connections,
                   "admin connections open at once (default 256); beyond it an idle one is "
                   "closed, or the newcomer gets 503")
      ->check(CLI::Range(2, 1 << 20));
  server
      ->add_option("--admin-max-streams", server_options.admin_max_streams,
                   "dashboard live streams open at once (default 64; below "
                   "--admin-max-connections); one more gets 503")
      ->check(CLI::Range(1, 1 << 20));
  std::string log_format = "auto";
  server
      ->add_option("--log-format", log_format,
                   "text, json (one JSON object per line), or auto (default): json unless the "
                   "log goes to a terminal")
      ->check(CLI::IsMember({"auto", "text", "json"}));

  std::string params;
  auto* deploy = app.add_subcommand("deploy", "start a deployment and follow it to its end");
  deploy->add_option("--params", params, "UserParameters: a JSON object, a file, or - for stdin")
      ->required();
  std::string deployment_name;
  deploy->add_option("--name", deployment_name,
                     "PROVIDER=elastigroup: names the deployment; running again with the same "
                     "name joins it instead of starting another (default: a new name)");
  bool wait_for_group = false;
  deploy->add_flag("--wait", wait_for_group,
                   "if a deployment of the group runs, wait for it to end, then start");

  auto* status =
      app.add_subcommand("status", "groups, what serves, instances and connections per colour");
  bool watch = false;
  status->add_flag("--watch", watch,
                   "follow the running deployment until it ends (a live display in a terminal)");

  std::string group;
  int limit = 0;
  auto* history = app.add_subcommand("history", "past and running deployments, newest first");
  history->add_option("--group", group, "only this group");
  history->add_option("--limit", limit, "at most this many");

  std::string deployment_id;
  auto* logs = app.add_subcommand("logs", "the log of one deployment");
  logs->add_option("deployment", deployment_id, "deployment id")->required();

  bool no_wait = false;
  auto* rollback = app.add_subcommand(
      "rollback", "stop a deployment; after the switch, send traffic back to blue at once");
  auto* promote = app.add_subcommand("promote", "let a PROMOTION=manual deployment switch");
  for (auto* command : {rollback, promote}) {
    command->add_option("--deployment", deployment_id, "deployment id");
    command->add_option("--group", group, "the group's running deployment");
    command->add_flag("--no-wait", no_wait, "return once the server accepted the request");
  }
  status->add_option("--deployment", deployment_id, "with --watch: this deployment");
  status->add_option("--group", group, "with --watch: the group's running deployment");
  auto* shutdown =
      app.add_subcommand("shutdown", "roll back what runs, stop every instance, stop the server");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error, out, err);
    return code == 0 ? ExitCode::succeeded : ExitCode::invalid_input;
  }

  if (server->parsed()) {
    if (server_options.admin_max_streams >= server_options.admin_max_connections) {
      err << "bluegreen server: --admin-max-streams (" << server_options.admin_max_streams
          << ") must be below --admin-max-connections (" << server_options.admin_max_connections
          << "), so that streams leave room for other requests\n";
      return ExitCode::invalid_input;
    }
    server_options.admin_token = Secret(admin_token);
    // The server's log goes to standard error.
    bool json_log = log_format == "json" || (log_format == "auto" && ::isatty(STDERR_FILENO) != 1);
    server_options.log_format = json_log ? LogFormat::json : LogFormat::text;
    int code = run_server(server_options, err, err, [&out](const std::string& url) {
      out << "bluegreen server: admin API on " << url << std::endl;
    });
    return code == 0   ? ExitCode::succeeded
           : code == 2 ? ExitCode::invalid_input
                       : ExitCode::unavailable;
  }
  Commands commands(options, out, err);
  if (deploy->parsed()) return commands.deploy(params, wait_for_group, deployment_name);
  if (history->parsed()) return commands.history(group, limit);
  if (logs->parsed()) return commands.logs(deployment_id);
  if (rollback->parsed()) return commands.request(false, deployment_id, group, !no_wait);
  if (promote->parsed()) return commands.request(true, deployment_id, group, !no_wait);
  if (shutdown->parsed()) return commands.shutdown();
  if (watch) return commands.watch(deployment_id, group);
  return commands.status();
}

}  // namespace bluegreen::cli
