#include "frontends/cli/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/spec.h"
#include "engine/deployment_service.h"
#include "engine/ids.h"
#include "frontends/cli/admin_client.h"
#include "frontends/cli/elastigroup_deploy.h"
#include "frontends/cli/help_text.h"
#include "frontends/cli/interrupts.h"
#include "frontends/cli/json_member.h"
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
// How long `deploy` waits for a server that answers "starting" (503) to have started.
constexpr auto kStartingWait = 60s;

// How long after a first Ctrl-C on `deploy` a second one asks the server to roll back.
constexpr auto kSecondInterrupt = 3s;

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
  Secret admin_token;             // BLUEGREEN_ADMIN_TOKEN, for a server that wants one
  bool server_from_flag = false;  // --server was given (hints then repeat it)
  // --server or BLUEGREEN_SERVER was given: PROVIDER=elastigroup deployments go to that
  // server instead of running in this process.
  bool server_chosen = false;
  bool stdout_terminal = false;  // standard output is a terminal
  bool json_output() const { return output == "json"; }
};

// How `deploy` stopped following its deployment.
enum class FollowEnd {
  ended,               // the deployment ended (succeeded, failed or rolled back)
  serving,             // --until serving: green serves; blue's wait goes on in the server
  left_running,        // Ctrl-C: the deployment goes on in the server
  rollback_requested,  // Ctrl-C twice: the server was asked to roll the deployment back
};

struct Followed {
  nlohmann::json record;  // the deployment as last seen
  FollowEnd end = FollowEnd::ended;
};

// A phase where green serves all traffic and blue waits to be retired.
bool green_serves(const nlohmann::json& record) {
  std::string phase = record.value("phase", "");
  return record.value("status", "") == "running" && record.value("trafficMoved", false) &&
         record.contains("blueFleet") && member(record, "blueFleet").is_object() &&
         (phase == "block_traffic" || phase == "keep_blue" || phase == "terminate_blue");
}

double seconds_of(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return std::strtod(value.get<std::string>().c_str(), nullptr);
  return 0;
}

class Commands {
 public:
  Commands(Options options, std::ostream& out, std::ostream& err)
      : options_(std::move(options)),
        out_(out),
        err_(err),
        client_(options_.server, options_.admin_token) {}

  // `wait_for_group`: if another deployment of the group runs, wait (up to this deployment's
  // TIMEOUT) for it to end instead of failing with the conflict.
  // With PROVIDER=elastigroup the flow runs in this process unless a server was chosen
  // (--server, BLUEGREEN_SERVER); `deployment_name` then names it, so that the same name joins
  // the same deployment. A server names its deployments itself.
  // `until_serving`: return once green serves (exit 0) instead of at the end.
  ExitCode deploy(const std::string& params, bool wait_for_group,
                  const std::string& deployment_name, bool until_serving);
  ExitCode status(const std::string& group);
  ExitCode watch(const std::string& deployment_id, const std::string& group);
  ExitCode history(const std::string& group, int limit);
  ExitCode logs(const std::string& deployment_id);
  ExitCode request(bool promote, const std::string& deployment_id, const std::string& group,
                   bool wait);
  ExitCode shutdown();

 private:
  // Says why the command failed on standard error and, with --output json, as
  // {"error": {...}} on standard output.
  ExitCode report(const Error& error, std::optional<ExitCode> code = std::nullopt) {
    err_ << "bluegreen: " << printable(error.message) << "\n";
    if (options_.json_output()) {
      out_ << json_line(
                  json{{"error", {{"kind", to_string(error.kind)}, {"message", error.message}}}}, 2)
           << "\n";
    }
    return code.value_or(exit_code_for(error));
  }
  ExitCode nothing_running(const std::string& message) {
    return report(Error{ErrorKind::not_found, message}, ExitCode::nothing_running);
  }
  ExitCode print(const json& answer, const std::string& text) {
    out_ << (options_.json_output() ? json_line(answer, 2) + "\n" : text);
    return ExitCode::succeeded;
  }
  Result<json> wait_for(const std::string& id, auto&& done, std::chrono::seconds bound);
  // Shows the deployment's progress until it ends (or green serves, with `until_serving`).
  // With `interrupts`, Ctrl-C stops following as the header of cli.h says.
  Result<Followed> follow(const std::string& id, json record, bool until_serving,
                          const InterruptCounter* interrupts);
  // Ids of the running deployments, of `group` only when it is set.
  Result<std::vector<std::string>> running_deployments(const std::string& group);
  // " --server URL" when the user chose the server on the command line, for hints.
  std::string server_flag() const {
    return options_.server_from_flag ? " --server " + printable(client_.server()) : "";
  }
  std::string preview_address(const json& record);
  std::ostream& progress_stream() { return options_.json_output() ? err_ : out_; }

  Options options_;
  std::ostream& out_;
  std::ostream& err_;
  AdminClient client_;
};

// --params read and validated: the spec, parsed once here, and the UserParameters object the
// server is sent (the server parses what it receives at its own entry, the admin API).
struct Params {
  DeploymentSpec spec;
  json body;
};

// A --params value that is not a JSON object is named in the error only when it looks like a
// file name (a path with a "." or "/"): anything else may be parameters in another form, the
// API token among them, and an error goes to terminals and CI logs.
bool looks_like_a_file_name(std::string_view value) {
  auto path_character = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("._-/~+@,").find(c) != std::string_view::npos;
  };
  return !value.empty() && value.size() <= 4096 && std::ranges::all_of(value, path_character) &&
         value.find_first_of("./") != std::string_view::npos;
}

// The text of --params: inline JSON, "-" for standard input, or a file. Relative LOCAL_PATHs
// are resolved here (against the file's folder, or the current directory), because the
// server may run elsewhere.
Result<Params> read_params(const std::string& value) {
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
          looks_like_a_file_name(value)
              ? fmt::format("--params: \"{}\" is neither a JSON object nor a readable file", value)
              : std::string("--params is neither a JSON object nor a readable file (its "
                            "value is not shown: it may hold API_TOKEN)"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    base = std::filesystem::absolute(value).parent_path();
  }
  auto spec = parse_spec(std::string_view(text));
  if (!spec) return std::unexpected(spec.error().with_context("invalid parameters"));
  Params params{std::move(*spec), json::parse(text)};
  if (auto it = params.body.find("LOCAL_PATH"); it != params.body.end() && it->is_string()) {
    std::filesystem::path path = it->get<std::string>();
    if (path.is_relative()) {
      *it = (base / path).lexically_normal().string();
      if (auto* local = std::get_if<LocalRevision>(&params.spec.revision)) local->path = *it;
    }
  }
  return params;
}

ExitCode Commands::deploy(const std::string& params_text, bool wait_for_group,
                          const std::string& deployment_name, bool until_serving) {
  auto finish = [&](const json& result, ExitCode code) {
    // A person at a terminal reads the outcome line; scripts read this one.
    if (options_.json_output() || !options_.stdout_terminal) out_ << json_line(result) << "\n";
    out_.flush();
    return code;
  };
  auto rejected = [&](const Error& error) {
    err_ << "bluegreen: " << printable(error.message) << "\n";
    return finish(json{{"deploymentId", nullptr},
                       {"status", "rejected"},
                       {"error", {{"kind", to_string(error.kind)}, {"message", error.message}}}},
                  exit_code_for(error));
  };
  auto params = read_params(params_text);
  if (!params) return rejected(params.error());
  if (params->spec.provider == Provider::elastigroup && !options_.server_chosen) {
    std::string name = deployment_name.empty() ? "cli-" + new_uuid() : deployment_name;
    std::ostream discard(nullptr);  // a terminal gets no closing JSON line
    bool closing_line = options_.json_output() || !options_.stdout_terminal;
    auto code = deploy_elastigroup(params->spec, name, options_.json_output(),
                                   closing_line ? out_ : discard, progress_stream());
    return code ? *code : rejected(code.error());
  }
  if (!deployment_name.empty()) {
    return rejected(Error{ErrorKind::invalid_input,
                          "--name names a PROVIDER=elastigroup deployment that this command runs "
                          "itself (no --server, no BLUEGREEN_SERVER); a server names its "
                          "deployments (d-…): leave out --name"});
  }
  std::string body = params->body.dump();
  // Counted from here: a Ctrl-C while the deployment is being created must not leave it
  // running unannounced.
  InterruptCounter interrupted;
  // A Ctrl-C while the deploy waits to be accepted (a starting server, a busy group).
  auto interrupted_while_waiting = [&] {
    err_ << "bluegreen: interrupted while waiting; nothing was started\n";
    return finish(json{{"deploymentId", nullptr}, {"status", "interrupted"}},
                  ExitCode::interrupted);
  };
  auto created = client_.post("/api/deployments", body);
  // A server that has just started answers 503 until it has resumed the deployments it was
  // running: that passes in moments, so the deploy waits for it (at most kStartingWait).
  auto starting_until = std::chrono::steady_clock::now() + kStartingWait;
  std::chrono::milliseconds pause = kPollInterval;
  bool said_waiting = false;
  while (!created && created.error().code == kStartingCode &&
         std::chrono::steady_clock::now() < starting_until) {
    if (!said_waiting) {
      progress_stream() << "waiting: " << printable(created.error().message) << "\n";
      said_waiting = true;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 3 / 2, 2s);
    if (interrupted.count() > 0) return interrupted_while_waiting();
    created = client_.post("/api/deployments", body);
  }
  // Only a running deployment's conflict ends by itself; a name another kind of group has does not.
  auto busy = [&] {
    return !created && created.error().kind == ErrorKind::conflict &&
           created.error().code != kNameTakenCode;
  };
  if (wait_for_group && busy()) {
    // The running deployment ends by its own TIMEOUT; ours bounds how long we wait for it.
    auto until = std::chrono::steady_clock::now() + params->spec.timeout;
    progress_stream() << "waiting: " << printable(created.error().message) << "\n";
    while (busy() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(kPollInterval * 4);
      if (interrupted.count() > 0) return interrupted_while_waiting();
      created = client_.post("/api/deployments", body);
    }
  }
  if (!created) return rejected(created.error());

  std::string id = created->value("deploymentId", "");
  auto followed = follow(id, *created, until_serving, &interrupted);
  if (!followed) {
    // The deployment started: its id and a status that says it was lost from view, never
    // "rejected". The server's journal carries it on; `bluegreen logs <id>` shows how it ended.
    err_ << "bluegreen: " << printable(followed.error().message) << "\n";
    return finish(
        json{{"deploymentId", id},
             {"status", "server_lost"},
             {"error",
              {{"kind", to_string(followed.error().kind)}, {"message", followed.error().message}}}},
        ExitCode::unavailable);
  }
  const json& record = followed->record;
  json result = deploy_result(record);
  switch (followed->end) {
    case FollowEnd::left_running:
      result["interrupted"] = "left_running";
      return finish(result, ExitCode::interrupted);
    case FollowEnd::rollback_requested:
      result["interrupted"] = "rollback_requested";
      return finish(result, ExitCode::interrupted);
    case FollowEnd::serving: {
      // Blue is retired when its wait ends: after the drain (at most DRAIN_TIMEOUT more) and
      // BLUE_TERMINATION_WAIT, or at waitUntil once the wait has begun.
      auto now = std::chrono::system_clock::now();
      auto wait_until = from_iso8601(record.value("waitUntil", "")).value_or(now);
      bool draining = record.value("phase", "") == "block_traffic";
      auto retired = wait_until;
      if (draining) {
        auto wait = seconds_of(
            record.value("parameters", json::object()).value("BLUE_TERMINATION_WAIT", json(60)));
        retired +=
            std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(wait));
      }
      retired = std::max(retired, now);
      std::string blue = printable(member(record, "blueFleet").value("fleetId", ""));
      progress_stream() << fmt::format(
          "deployment {} serves group {} with {}; the server retires blue fleet {} {}{} (in "
          "{}: BLUE_TERMINATION_WAIT); until then `bluegreen rollback --deployment {}{}` "
          "switches back at once\n",
          printable(id), printable(record.value("group", "")),
          printable(record.value("revision", "")), blue, draining ? "by " : "at ",
          to_iso8601(std::chrono::time_point_cast<Duration>(retired)),
          duration_text(std::chrono::duration_cast<Duration>(retired - now)), printable(id),
          server_flag());
      result["blueRetiredBy"] = to_iso8601(std::chrono::time_point_cast<Duration>(retired));
      return finish(result, ExitCode::succeeded);
    }
    case FollowEnd::ended:
      break;
  }
  bool succeeded = record.value("status", "") == "succeeded";
  (succeeded ? progress_stream() : err_) << render_outcome(record) << "\n";
  return finish(result, succeeded ? ExitCode::succeeded : ExitCode::deployment_failed);
}

std::string Commands::preview_address(const json& record) {
  std::string group = record.value("group", "");
  if (auto status = client_.get("/api/status")) {
    for (const auto& g : (*status)["groups"]) {
      if (g.value("group", "") == group && member(g, "previewListen").is_string()) {
        return member(g, "previewListen").get<std::string>();
      }
    }
  }
  const auto& parameters = record.value("parameters", json::object());
  return parameters.value("PREVIEW_LISTEN", "");
}

Result<Followed> Commands::follow(const std::string& id, json record, bool until_serving,
                                  const InterruptCounter* interrupts) {
  int fd = options_.json_output() ? STDERR_FILENO : STDOUT_FILENO;
  bool live = ::isatty(fd) == 1;
  DeployProgress progress(progress_stream(), live);
  std::size_t seen = 0;
  bool promotion_announced = false;
  auto lost_since = std::chrono::steady_clock::time_point{};
  auto first_interrupt = std::chrono::steady_clock::time_point{};
  for (;;) {
    if (interrupts && interrupts->count() > 0) {
      auto now = std::chrono::steady_clock::now();
      if (first_interrupt == std::chrono::steady_clock::time_point{}) {
        first_interrupt = now;
        // From here on the progress display is left alone, so that this stays on screen.
        err_ << fmt::format(
            "\nbluegreen: deployment {0} goes on in the server.\n"
            "  follow it: bluegreen status --watch --deployment {0}{1}\n"
            "  stop it:   bluegreen rollback --deployment {0}{1}\n"
            "  Ctrl-C again within {2} s rolls it back now.\n",
            printable(id), server_flag(), kSecondInterrupt.count());
        err_.flush();
      }
      if (interrupts->count() > 1) {
        auto asked = client_.post("/api/rollback", json{{"deploymentId", id}}.dump());
        if (!asked) {
          err_ << "bluegreen: could not roll back deployment " << printable(id) << ": "
               << printable(asked.error().message) << "; it goes on in the server\n";
          return Followed{record, FollowEnd::left_running};
        }
        err_ << fmt::format(
            "bluegreen: asked the server to roll back deployment {0}; blue keeps (or takes "
            "back) the traffic. Follow it with `bluegreen status --watch --deployment {0}{1}`\n",
            printable(id), server_flag());
        return Followed{record, FollowEnd::rollback_requested};
      }
      if (now - first_interrupt > kSecondInterrupt)
        return Followed{record, FollowEnd::left_running};
    }
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
    bool interrupted = first_interrupt != std::chrono::steady_clock::time_point{};
    if (!interrupted) progress.show(record, fresh, std::chrono::system_clock::now());
    bool running = record.value("status", "running") == "running";
    if (running && !live && !interrupted && !promotion_announced &&
        record.value("phase", "") == "await_promotion") {
      // A pipe has no live display to say so: where to look at green, and how to go on.
      promotion_announced = true;
      std::string address = preview_address(record);
      const auto& parameters = record.value("parameters", json::object());
      std::string preview_group = parameters.value("PREVIEW_TARGET_GROUP_ARN", "");
      std::string where = !preview_group.empty()
                              ? "the listener of target group " + printable(preview_group)
                          : parameters.value("PROVIDER", "") == "asg"
                              ? std::string("no preview listener (set PREVIEW_TARGET_GROUP_ARN)")
                          : address.empty() ? std::string("no preview address (set PREVIEW_LISTEN)")
                                            : "http://" + printable(address);
      progress_stream() << fmt::format(
          "deployment {0} waits for promotion: green answers on {1}; promote it with "
          "`bluegreen promote --deployment {0}{2}`, or stop it with `bluegreen rollback "
          "--deployment {0}{2}`\n",
          printable(id), where, server_flag());
      progress_stream().flush();
    }
    if (!running) return Followed{record, FollowEnd::ended};
    if (until_serving && !interrupted && green_serves(record)) {
      return Followed{record, FollowEnd::serving};
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<std::vector<std::string>> Commands::running_deployments(const std::string& group) {
  auto status = client_.get("/api/status");
  if (!status) return std::unexpected(status.error());
  std::vector<std::string> running;
  for (const auto& g : (*status)["groups"]) {
    if ((group.empty() || g.value("group", "") == group) && member(g, "running").is_object()) {
      running.push_back(member(g, "running").value("deploymentId", ""));
    }
  }
  return running;
}

// Follows the named deployment, else the running one of `group`, else the only running one.
ExitCode Commands::watch(const std::string& deployment_id, const std::string& group) {
  std::string id = deployment_id;
  if (id.empty()) {
    auto running = running_deployments(group);
    if (!running) return report(running.error());
    if (running->empty()) {
      return nothing_running("no deployment is running" +
                             (group.empty() ? std::string() : " in group " + group));
    }
    if (running->size() > 1) {
      return report(Error{ErrorKind::invalid_input,
                          "several deployments are running; name one with --deployment "
                          "or --group"});
    }
    id = running->front();
  }
  auto followed = follow(id, json::object(), false, nullptr);
  if (!followed) return report(followed.error());
  const json& record = followed->record;
  bool succeeded = record.value("status", "") == "succeeded";
  print(record, render_outcome(record) + "\n");
  return succeeded ? ExitCode::succeeded : ExitCode::deployment_failed;
}

ExitCode Commands::status(const std::string& group) {
  auto answer = client_.get("/api/status");
  if (!answer) return report(answer.error());
  if (!group.empty()) {
    json& groups = (*answer)["groups"];
    json kept = json::array();
    std::vector<std::string> names;
    for (const auto& g : groups) {
      names.push_back(g.value("group", ""));
      if (names.back() == group) kept.push_back(g);
    }
    if (kept.empty()) {
      return report(Error{ErrorKind::not_found,
                          fmt::format("no group {}{}{}", group,
                                      names.empty() ? "" : "; groups: ", fmt::join(names, ", "))});
    }
    groups = kept;
  }
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
  const char* what = promote ? "promote" : "roll back";
  if (deployment_id.empty()) {
    auto running = running_deployments(group);
    if (!running) return report(running.error());
    if (running->empty()) {
      return nothing_running(fmt::format("nothing to {}: no deployment is running{}", what,
                                         group.empty() ? std::string() : " in group " + group));
    }
  }
  json body = json::object();
  if (!deployment_id.empty()) body["deploymentId"] = deployment_id;
  if (!group.empty()) body["group"] = group;
  auto accepted = client_.post(promote ? "/api/promote" : "/api/rollback", body.dump());
  if (!accepted && accepted.error().kind == ErrorKind::conflict) {
    // The deployment may have ended between the look and the request.
    auto target = deployment_id.empty()
                      ? running_deployments(group)
                      : Result<std::vector<std::string>>(std::vector<std::string>{deployment_id});
    bool ended = false;
    if (target && target->empty()) ended = true;
    if (target && !deployment_id.empty()) {
      auto record = client_.get("/api/deployments/" + deployment_id);
      ended = record && record->value("status", "") != "running";
    }
    if (ended) {
      return nothing_running(fmt::format("nothing to {}: {}", what, accepted.error().message));
    }
  }
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
  app.footer(kAppExamples);
  app.set_version_flag("--version", "bluegreen 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();

  Options options;
  const char* env_server = std::getenv("BLUEGREEN_SERVER");
  options.server = env_server && *env_server ? env_server : kDefaultServer;
  if (const char* token = std::getenv("BLUEGREEN_ADMIN_TOKEN"); token && *token) {
    options.admin_token = Secret(token);
  }
  // --server and --output are accepted before the command and after it, and every client
  // command's --help lists them.
  auto add_common = [&](CLI::App* command) {
    command->add_option("--server", options.server,
                        "admin URL of the server, e.g. http://127.0.0.1:7070 (no scheme means "
                        "http; default: $BLUEGREEN_SERVER, else http://127.0.0.1:7070)");
    command
        ->add_option("--output", options.output,
                     "text (default) or json: one JSON object on standard output, errors too")
        ->check(CLI::IsMember({"text", "json"}));
  };
  add_common(&app);

  ServerOptions server_options;
  server_options.state_dir = default_state_dir();
  auto* server = app.add_subcommand("server", "run the local server (admin API, traffic switch)");
  server->footer(kServerExamples);
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
                     "PROVIDER=elastigroup without a server: names the deployment; running again "
                     "with the same name joins it instead of starting another (default: a new "
                     "name)");
  bool wait_for_group = false;
  deploy->add_flag("--wait", wait_for_group,
                   "if a deployment of the group runs, wait for it to end, then start");
  std::string until = "ended";
  deploy
      ->add_option("--until", until,
                   "ended (default): follow the deployment to its end; serving: return (exit 0) "
                   "once green serves, while the server keeps blue for BLUE_TERMINATION_WAIT "
                   "and then retires it")
      ->check(CLI::IsMember({"ended", "serving"}));
  deploy->footer(std::string(kDeployExamples) + "\n\n" + kExitCodes);

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
  history->footer(std::string(kHistoryExamples) + "\n\n" + kExitCodes);

  std::string deployment_id;
  auto* logs = app.add_subcommand("logs", "the log of one deployment");
  logs->add_option("deployment", deployment_id, "deployment id")->required();
  logs->footer(std::string(kLogsExamples) + "\n\n" + kExitCodes);

  bool no_wait = false;
  auto* rollback = app.add_subcommand(
      "rollback", "stop a deployment; after the switch, send traffic back to blue at once");
  auto* promote = app.add_subcommand("promote", "let a PROMOTION=manual deployment switch");
  rollback->footer(std::string(kRollbackExamples) + "\n\n" + kExitCodes);
  promote->footer(std::string(kPromoteExamples) + "\n\n" + kExitCodes);
  for (auto* command : {rollback, promote}) {
    command->add_option("--deployment", deployment_id, "deployment id");
    command->add_option("--group", group, "the group's running deployment");
    command->add_flag("--no-wait", no_wait, "return once the server accepted the request");
  }
  status->add_option("--deployment", deployment_id, "with --watch: this deployment");
  status->add_option("--group", group,
                     "only this group; with --watch: the group's running deployment");
  status->footer(std::string(kStatusExamples) + "\n\n" + kExitCodes);
  auto* shutdown =
      app.add_subcommand("shutdown", "roll back what runs, stop every instance, stop the server");
  shutdown->footer(std::string(kShutdownExamples) + "\n\n" + kExitCodes);
  for (auto* command : {deploy, status, history, logs, rollback, promote, shutdown}) {
    add_common(command);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error, out, err);
    if (code == 0) return ExitCode::succeeded;
    // The parse stopped, so --output may not have been read: look for it here.
    bool json_output = false;
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--output=json" ||
          (arg == "--output" && i + 1 < argc && std::string_view(argv[i + 1]) == "json")) {
        json_output = true;
      }
    }
    if (json_output) {
      out << json_line(
                 json{{"error",
                       {{"kind", to_string(ErrorKind::invalid_input)}, {"message", error.what()}}}},
                 2)
          << "\n";
    }
    return ExitCode::invalid_input;
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
  options.server_from_flag = std::ranges::any_of(
      std::vector<CLI::App*>{&app, deploy, status, history, logs, rollback, promote, shutdown},
      [](CLI::App* command) { return command->count("--server") > 0; });
  options.server_chosen = options.server_from_flag || (env_server && *env_server);
  options.stdout_terminal = ::isatty(STDOUT_FILENO) == 1;
  Commands commands(options, out, err);
  if (deploy->parsed()) {
    return commands.deploy(params, wait_for_group, deployment_name, until == "serving");
  }
  if (history->parsed()) return commands.history(group, limit);
  if (logs->parsed()) return commands.logs(deployment_id);
  if (rollback->parsed()) return commands.request(false, deployment_id, group, !no_wait);
  if (promote->parsed()) return commands.request(true, deployment_id, group, !no_wait);
  if (shutdown->parsed()) return commands.shutdown();
  if (watch) return commands.watch(deployment_id, group);
  return commands.status(group);
}

}  // namespace bluegreen::cli
