#include "frontends/cli/render.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "core/text.h"
#include "frontends/cli/json_member.h"
#include "frontends/cli/progress.h"
#include "frontends/cli/terminal_text.h"

namespace bluegreen::cli {
namespace {

using nlohmann::json;

// Every value shown goes through here, escaped for the terminal.
std::string text(const json& object, const char* key, const char* absent = "-") {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absent;
  return printable(it->is_string() ? it->get<std::string>() : it->dump());
}

std::string elapsed(const json& record) {
  auto started = from_iso8601(text(record, "started", ""));
  auto finished = from_iso8601(text(record, "finished", ""));
  if (!started) return "-";
  auto end = finished ? *finished : std::chrono::system_clock::now();
  return duration_text(std::chrono::duration_cast<Duration>(end - *started));
}

// A deployment's error under its history row: each of its lines indented (a hook's output
// spans many), at most kErrorLines of them and none wider than kErrorWidth, so the table's
// rows stay one per deployment and the indented lines plainly belong to the row above.
constexpr std::size_t kErrorLines = 4;
constexpr std::size_t kErrorWidth = 100;

std::string error_lines(const std::string& error, const std::string& deployment_id) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= error.size()) {
    auto end = error.find('\n', start);
    if (end == std::string::npos) end = error.size();
    auto raw = std::string_view(error).substr(start, end - start);
    if (raw.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back(printable(raw));
    start = end + 1;
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < kErrorLines; ++i) {
    out += fmt::format("{:<4}{}\n", "", clip(lines[i], kErrorWidth));
  }
  if (lines.size() > kErrorLines) {
    out += fmt::format("{:<4}({} more line(s): bluegreen logs {})\n", "",
                       lines.size() - kErrorLines, deployment_id);
  }
  return out;
}

// The cost's summary (core/deployment_cost.h), for a record that has one.
std::string cost_line(const json& record) {
  return text(member(record, "cost"), "summary");
}

}  // namespace

std::string render_status(const json& status) {
  const auto& groups = status.value("groups", json::array());
  if (groups.empty()) return "no group has been deployed yet\n";
  std::string out;
  for (const auto& group : groups) {
    std::string provider = group.value("provider", "local");
    bool cloud = provider != "local";
    out += fmt::format("group {}\n", text(group, "group"));
    if (provider == "elastigroup") {
      out += "  cloud       Spot Elastigroup + CodeDeploy (Spot moves the fleets)\n";
    } else if (provider == "asg") {
      out +=
          "  cloud       EC2 Auto Scaling + CodeDeploy (target groups move from blue's group to "
          "green's)\n";
    } else {
      out += fmt::format("  service     http://{}\n", text(group, "listen"));
      if (!member(group, "previewListen").is_null()) {
        out += fmt::format("  preview     http://{}\n", text(group, "previewListen"));
      }
      out += fmt::format("  routed to   {}\n", text(group, "routedFleet", "nothing (answers 503)"));
    }
    if (group.value("weights", json::array()).size() > 1) {
      std::vector<std::string> shares;
      for (const auto& weight : member(group, "weights")) {
        shares.push_back(fmt::format("{} {}% ({})", text(weight, "fleetId"),
                                     text(weight, "percent"), text(weight, "colour")));
      }
      out += fmt::format("  weights     {}\n", fmt::join(shares, ", "));
    }
    if (member(group, "serving").is_object()) {
      const auto& serving = member(group, "serving");
      out += fmt::format("  serving     {} {} (deployed {})\n", text(serving, "deploymentId"),
                         text(serving, "revision"), text(serving, "finished"));
    }
    if (member(group, "running").is_object()) {
      const auto& running = member(group, "running");
      out += fmt::format("  running     {} in phase {} (started by {})\n",
                         text(running, "deploymentId"), text(running, "phase"),
                         text(running, "startedBy"));
    }
    out += "  instances\n";
    if (group.value("instances", json::array()).empty()) out += "    none\n";
    for (const auto& instance : group.value("instances", json::array())) {
      if (cloud) {
        out += fmt::format(
            "    {:<20} {:<8} {:<10} GreenIdentifier={}\n", text(instance, "id"),
            text(instance, "colour"), text(instance, "state"),
            printable(instance.value("tags", json::object()).value("GreenIdentifier", "-")));
        continue;
      }
      // How the proxy reaches it: an address, or the sockets its namespace hands over.
      std::string reached = instance.contains("reachedAt")
                                ? text(instance, "reachedAt")
                                : text(instance, "host") + ":" + text(instance, "port");
      out += fmt::format(
          "    {:<12} {:<8} {:<21} {:<10} {:<10} GreenIdentifier={}\n", text(instance, "id"),
          text(instance, "colour"), reached, text(instance, "state"),
          text(instance, "isolation", "none"),
          printable(instance.value("tags", json::object()).value("GreenIdentifier", "-")));
    }
    if (cloud) continue;
    out += "  traffic\n";
    for (const auto& fleet : group.value("traffic", json::array())) {
      out += fmt::format("    {:<16} {:<8} {} open connection(s), {} request(s), {} error(s)\n",
                         text(fleet, "fleetId"), text(fleet, "colour"),
                         text(fleet, "activeConnections"), text(fleet, "requestsTotal"),
                         text(fleet, "errorsTotal"));
    }
  }
  return out;
}

std::string render_history(const json& answer) {
  const auto& deployments = answer.value("deployments", json::array());
  if (deployments.empty()) return "no deployments yet\n";
  std::string out = fmt::format("{:<16} {:<10} {:<12} {:<25} {:>9}  {}\n", "DEPLOYMENT", "GROUP",
                                "STATUS", "STARTED", "DURATION", "REVISION");
  for (const auto& d : deployments) {
    out += fmt::format("{:<16} {:<10} {:<12} {:<25} {:>9}  {}\n", text(d, "deploymentId"),
                       text(d, "group"), text(d, "status"), text(d, "started"), elapsed(d),
                       text(d, "revision"));
    if (member(d, "error").is_string())
      out += error_lines(member(d, "error").get<std::string>(), text(d, "deploymentId"));
    if (member(d, "cost").is_object()) out += fmt::format("  cost: {}\n", cost_line(d));
    std::string provider = d.value("provider", "");
    if (provider == "elastigroup" || provider == "asg") {
      std::vector<std::string> greens;
      for (const auto& green : d.value("greens", json::array())) {
        greens.push_back(fmt::format("{} ({})", text(green, "id"), text(green, "state")));
      }
      out += fmt::format(
          "  {}CodeDeploy {}, GreenIdentifier={}, greens: {}\n",
          provider == "elastigroup" ? fmt::format("Spot B/G {}, ", text(d, "spotDeploymentId", "-"))
                                    : std::string(),
          text(d, "codeDeployDeploymentId", "-"), text(d, "greenIdentifier"),
          greens.empty() ? std::string("none") : fmt::format("{}", fmt::join(greens, ", ")));
    }
  }
  return out;
}

std::string render_logs(const json& logs) {
  std::string out;
  for (const auto& event : logs.value("events", json::array())) out += event_line(event) + "\n";
  return out;
}

std::string render_outcome(const json& record) {
  std::string id = text(record, "deploymentId");
  std::string status = text(record, "status");
  std::string blue =
      member(record, "blueFleet").is_object() ? text(member(record, "blueFleet"), "fleetId") : "";
  std::string cost =
      member(record, "cost").is_object() ? fmt::format("\ncost: {}", cost_line(record)) : "";
  if (status == "succeeded") {
    return fmt::format("deployment {} succeeded in {}: group {} serves {}{}", id, elapsed(record),
                       text(record, "group"), text(record, "revision"), cost);
  }
  std::string serving = blue.empty() ? "nothing was serving before, so nothing serves now"
                                     : fmt::format("blue fleet {} still serves", blue);
  return fmt::format("deployment {} {}: {}; {}{}", id,
                     status == "rolled_back" ? "was rolled back" : status,
                     text(record, "error", "no reason recorded"), serving, cost);
}

json deploy_result(const json& record) {
  json instances = json::array();
  if (member(record, "greenFleet").is_object()) {
    for (const auto& instance : member(record, "greenFleet").value("instances", json::array())) {
      instances.push_back({{"id", instance.value("id", "")},
                           {"host", instance.value("host", "")},
                           {"port", instance.value("port", 0)},
                           {"isolation", instance.value("isolation", "none")},
                           {"reachedAt", instance.value("reachedAt", "")},
                           {"state", instance.value("state", "")}});
    }
  }
  return json{{"deploymentId", record.value("deploymentId", "")},
              {"status", record.value("status", "")},
              {"group", record.value("group", "")},
              {"greenIdentifier", record.value("greenIdentifier", "")},
              {"revision", record.value("revision", "")},
              {"startedBy", record.value("startedBy", "")},
              {"started", record.value("started", json(nullptr))},
              {"finished", record.value("finished", json(nullptr))},
              {"error", record.value("error", json(nullptr))},
              {"phases", record.value("phases", json::array())},
              {"instances", instances},
              {"cost", record.value("cost", json(nullptr))}};
}

}  // namespace bluegreen::cli
