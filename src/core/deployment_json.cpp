#include "core/deployment_json.h"

#include <fmt/format.h>

#include <cmath>

#include "core/instance_reach.h"

namespace bluegreen {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<TimePoint>& t) {
  return t ? json(to_iso8601(*t)) : json(nullptr);
}

// nlohmann reports a wrong or missing field by exception; this file turns them into
// invalid_input errors at its boundary, so callers see one error policy.
struct FieldError {
  std::string field;
};

TimePoint time_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) throw FieldError{key};
  auto t = from_iso8601(it->get<std::string>());
  if (!t) throw FieldError{key};
  return *t;
}

std::optional<TimePoint> optional_time(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return time_field(j, key);
}

template <typename E>
E enum_field(const json& j, const char* key, std::optional<E> (*parse)(std::string_view)) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) throw FieldError{key};
  auto value = parse(it->get<std::string>());
  if (!value) throw FieldError{key};
  return *value;
}

template <typename T>
Result<T> guarded(const char* what, auto&& body) {
  try {
    return body();
  } catch (const FieldError& e) {
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: bad or missing field {}", what, e.field));
  } catch (const json::exception& e) {
    return fail(ErrorKind::invalid_input, fmt::format("{}: {}", what, e.what()));
  }
}

Instance read_instance(const json& j) {
  Instance instance;
  instance.id = j.at("id").get<std::string>();
  instance.fleet_id = j.value("fleetId", "");
  instance.host = j.value("host", "127.0.0.1");
  instance.port = j.value("port", 0);
  instance.isolation = isolation_from_string(j.value("isolation", "none"));
  instance.root = j.value("root", "");
  instance.tags = j.value("tags", std::map<std::string, std::string>{});
  instance.state = instance_state_from_string(j.value("state", "terminated"));
  return instance;
}

HookResult read_hook(const json& j) {
  HookResult hook;
  hook.instance_id = j.value("instanceId", "");
  hook.lifecycle_event = j.value("lifecycleEvent", "");
  hook.script = j.value("script", "");
  hook.exit_code = j.value("exitCode", 0);
  hook.timed_out = j.value("timedOut", false);
  hook.output_tail = j.value("outputTail", "");
  hook.duration_ms = j.value("durationMs", 0LL);
  return hook;
}

json instances_json(const std::vector<Instance>& instances) {
  json out = json::array();
  for (const auto& instance : instances) out.push_back(to_json(instance));
  return out;
}

std::vector<Instance> read_instances(const json& j) {
  std::vector<Instance> out;
  for (const auto& item : j) out.push_back(read_instance(item));
  return out;
}

}  // namespace

json to_json(const Instance& instance) {
  return json{{"id", instance.id},
              {"fleetId", instance.fleet_id},
              {"host", instance.host},
              {"port", instance.port},
              {"isolation", to_string(instance.isolation)},
              {"reachedAt", reached_at(instance)},
              {"root", instance.root.string()},
              {"tags", instance.tags},
              {"state", to_string(instance.state)}};
}

Result<Instance> instance_from_json(const json& j) {
  return guarded<Instance>("instance", [&] { return read_instance(j); });
}

json to_json(const HookResult& hook) {
  return json{{"instanceId", hook.instance_id}, {"lifecycleEvent", hook.lifecycle_event},
              {"script", hook.script},          {"exitCode", hook.exit_code},
              {"timedOut", hook.timed_out},     {"outputTail", hook.output_tail},
              {"durationMs", hook.duration_ms}};
}

json to_json(const PhaseRecord& phase) {
  return json{{"phase", to_string(phase.phase)},
              {"started", to_iso8601(phase.started)},
              {"ended", time_or_null(phase.ended)},
              {"outcome", to_string(phase.outcome)},
              {"message", phase.message}};
}

json to_json(const DeploymentCost& cost) {
  auto money = [](const std::optional<double>& usd) {
    // Rounded to millionths of a dollar, so that 0.0456 - 0.0123 reads 0.0333.
    return usd ? json(std::round(*usd * 1e6) / 1e6) : json(nullptr);
  };
  auto percent = cost.saving_percent();
  return json{{"overlapSeconds", static_cast<double>(cost.overlap.count()) / 1000},
              {"instances", cost.instances},
              {"instanceSeconds", std::round(cost.instance_seconds * 1000) / 1000},
              {"spotCostUsd", money(cost.spot_usd)},
              {"onDemandCostUsd", money(cost.on_demand_usd)},
              {"savingUsd", money(cost.saving_usd())},
              {"savingPercent", percent ? json(std::round(*percent * 10) / 10) : json(nullptr)},
              {"note", cost.note},
              {"summary", describe(cost)}};
}

Result<DeploymentCost> cost_from_json(const json& j) {
  return guarded<DeploymentCost>("cost", [&] {
    auto money = [&j](const char* key) -> std::optional<double> {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) return std::nullopt;
      return it->get<double>();
    };
    DeploymentCost cost;
    cost.overlap = Duration(std::llround(j.value("overlapSeconds", 0.0) * 1000));
    cost.instances = j.value("instances", 0);
    cost.instance_seconds = j.value("instanceSeconds", 0.0);
    cost.spot_usd = money("spotCostUsd");
    cost.on_demand_usd = money("onDemandCostUsd");
    cost.note = j.value("note", "");
    return cost;
  });
}

json summary_json(const Deployment& d) {
  return json{{"deploymentId", d.id},
              {"group", d.spec.group_id},
              {"status", to_string(d.status)},
              {"phase", to_string(d.phase)},
              {"revision", d.revision},
              {"greenIdentifier", d.green_identifier},
              {"startedBy", d.started_by},
              {"started", to_iso8601(d.created)},
              {"finished", time_or_null(d.finished)},
              {"error", d.error ? json(d.error->message) : json(nullptr)},
              {"cost", d.cost ? to_json(*d.cost) : json(nullptr)}};
}

json to_json(const Deployment& d) {
  json out = summary_json(d);
  out["step"] = to_string(d.step);
  out["deadline"] = to_iso8601(d.deadline);
  out["errorKind"] = d.error ? json(to_string(d.error->kind)) : json(nullptr);
  out["parameters"] = to_json(d.spec);
  out["phases"] = json::array();
  for (const auto& phase : d.phases) out["phases"].push_back(to_json(phase));
  out["hooks"] = json::array();
  for (const auto& hook : d.hooks) out["hooks"].push_back(to_json(hook));
  out["warnings"] = d.warnings;
  out["greenFleet"] = {{"fleetId", d.id},
                       {"bundleRoot", d.green_bundle_root.string()},
                       {"instances", instances_json(d.green)}};
  out["blueFleet"] = d.blue ? json{{"fleetId", d.blue->fleet_id},
                                   {"bundleRoot", d.blue->bundle_root.string()},
                                   {"instances", instances_json(d.blue->instances)}}
                            : json(nullptr);
  out["healthStreak"] = d.health_streak;
  out["healthLast"] = d.health_last;
  out["healthHint"] = d.health_hint;
  out["runningHooks"] = json::array();
  for (const auto& hook : d.running_hooks) {
    out["runningHooks"].push_back({{"instanceId", hook.instance_id},
                                   {"lifecycleEvent", hook.lifecycle_event},
                                   {"script", hook.script}});
  }
  out["nextCheck"] = to_iso8601(d.next_check);
  out["waitUntil"] = to_iso8601(d.wait_until);
  out["previewShown"] = d.preview_shown;
  out["trafficMoved"] = d.traffic_moved;
  out["promotedBy"] = d.promoted_by;
  out["rollbackBy"] = d.rollback_by;
  out["trafficStep"] = d.traffic_step;
  if (d.cloud) {
    out["cloud"] = {{"flowPhase", d.cloud->flow_phase},
                    {"spotDeploymentId", d.cloud->spot_deployment_id},
                    {"codeDeployDeploymentId", d.cloud->codedeploy_deployment_id},
                    {"token", d.cloud->token}};
  }
  return out;
}

Result<Deployment> deployment_from_json(const json& j) {
  auto spec = j.contains("parameters") ? parse_spec(j.at("parameters"))
                                       : fail(ErrorKind::invalid_input, "missing parameters");
  if (!spec) return std::unexpected(spec.error().with_context("deployment parameters"));
  return guarded<Deployment>("deployment", [&] {
    Deployment d;
    d.id = j.at("deploymentId").get<std::string>();
    d.spec = *spec;
    d.started_by = j.value("startedBy", "");
    d.green_identifier = j.value("greenIdentifier", "");
    d.revision = j.value("revision", "");
    d.status = enum_field(j, "status", &status_from_string);
    d.phase = enum_field(j, "phase", &phase_from_string);
    d.step = enum_field(j, "step", &step_from_string);
    d.created = time_field(j, "started");
    d.deadline = time_field(j, "deadline");
    d.finished = optional_time(j, "finished");
    if (j.contains("error") && j.at("error").is_string()) {
      ErrorKind kind = error_kind_from_string(j.value("errorKind", "")).value_or(ErrorKind::failed);
      d.error = Error{kind, j.at("error").get<std::string>()};
    }
    for (const auto& p : j.value("phases", json::array())) {
      d.phases.push_back(PhaseRecord{enum_field(p, "phase", &phase_from_string),
                                     time_field(p, "started"), optional_time(p, "ended"),
                                     enum_field(p, "outcome", &phase_outcome_from_string),
                                     p.value("message", "")});
    }
    for (const auto& h : j.value("hooks", json::array())) d.hooks.push_back(read_hook(h));
    d.warnings = j.value("warnings", std::vector<std::string>{});
    const auto& green = j.at("greenFleet");
    d.green_bundle_root = green.value("bundleRoot", "");
    d.green = read_instances(green.value("instances", json::array()));
    if (j.contains("blueFleet") && j.at("blueFleet").is_object()) {
      const auto& blue = j.at("blueFleet");
      d.blue = BlueFleet{blue.at("fleetId").get<std::string>(),
                         read_instances(blue.value("instances", json::array())),
                         blue.value("bundleRoot", "")};
    }
    d.health_streak = j.value("healthStreak", std::map<std::string, int>{});
    d.health_last = j.value("healthLast", std::map<std::string, std::string>{});
    d.health_hint = j.value("healthHint", "");
    d.next_check = time_field(j, "nextCheck");
    d.wait_until = time_field(j, "waitUntil");
    d.preview_shown = j.value("previewShown", false);
    d.traffic_moved = j.value("trafficMoved", false);
    d.promoted_by = j.value("promotedBy", "");
    d.rollback_by = j.value("rollbackBy", "");
    d.traffic_step = j.value("trafficStep", 0);
    if (j.contains("cloud") && j.at("cloud").is_object()) {
      const auto& cloud = j.at("cloud");
      d.cloud = CloudProgress{cloud.value("flowPhase", ""), cloud.value("spotDeploymentId", ""),
                              cloud.value("codeDeployDeploymentId", ""), cloud.value("token", "")};
    }
    if (j.contains("cost") && j.at("cost").is_object()) {
      auto cost = cost_from_json(j.at("cost"));
      if (!cost) throw FieldError{"cost"};
      d.cost = *cost;
    }
    return d;
  });
}

json to_json(const DeploymentEvent& e) {
  json out{{"deploymentId", e.deployment_id},
           {"at", to_iso8601(e.at)},
           {"phase", to_string(e.phase)},
           {"kind", to_string(e.kind)},
           {"message", e.message}};
  if (!e.instance_id.empty()) out["instanceId"] = e.instance_id;
  if (!e.name.empty()) out["name"] = e.name;
  if (!e.fields.empty()) out["fields"] = e.fields;
  return out;
}

Result<DeploymentEvent> event_from_json(const json& j) {
  return guarded<DeploymentEvent>("event", [&] {
    return DeploymentEvent{j.at("deploymentId").get<std::string>(),
                           time_field(j, "at"),
                           enum_field(j, "phase", &phase_from_string),
                           enum_field(j, "kind", &event_kind_from_string),
                           j.value("message", ""),
                           j.value("instanceId", ""),
                           j.value("name", ""),
                           j.value("fields", std::map<std::string, std::string>{})};
  });
}

}  // namespace bluegreen
