#include "frontends/admin/admin_api.h"

#include <fmt/format.h>

#include "core/deployment_json.h"

namespace bluegreen {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;
using nlohmann::json;

HttpResponse answer(int status, const json& body) {
  return HttpResponse::json(status, body.dump());
}

template <typename T>
HttpResponse answer_or_error(const Result<T>& result, int status, auto&& render) {
  if (!result) return HttpResponse::error(result.error());
  return answer(status, render(*result));
}

Result<Selector> selector_from(const HttpRequest& request) {
  if (request.body.empty()) return Selector{};
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) return fail(ErrorKind::invalid_input, "the body must be a JSON object");
  Selector selector;
  for (auto [key, target] :
       {std::pair{"deploymentId", &selector.deployment_id}, std::pair{"group", &selector.group}}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string())
      return fail(ErrorKind::invalid_input, fmt::format("{} must be a string", key));
    *target = it->get<std::string>();
  }
  return selector;
}

// Who the access filter authenticated; a client's own claim (X-Bluegreen-Started-By) is
// never taken.
std::string requester(const HttpRequest& request) {
  return request.principal.empty() ? "api:" + request.peer : request.principal;
}

std::string colour_of(const GroupStatus& group, const std::string& fleet_id) {
  if (group.running) {
    if (fleet_id == group.running->id) return "green";
    if (group.running->blue && fleet_id == group.running->blue->fleet_id) return "blue";
  }
  if (group.serving && fleet_id == group.serving->id) return "serving";
  return "other";
}

}  // namespace

json history_item_json(const Deployment& d) {
  json item = summary_json(d);
  item["phases"] = json::array();
  for (const auto& phase : d.phases) item["phases"].push_back(to_json(phase));
  if (d.cloud) {
    item["provider"] = std::string(to_string(d.spec.provider));
    if (d.spec.provider == Provider::elastigroup) {
      item["spotDeploymentId"] = d.cloud->spot_deployment_id;
    }
    item["codeDeployDeploymentId"] = d.cloud->codedeploy_deployment_id;
    item["greens"] = json::array();
    for (const auto& green : d.green) item["greens"].push_back(to_json(green));
  }
  return item;
}

json status_json(const std::vector<GroupStatus>& groups) {
  json out = json::array();
  for (const auto& group : groups) {
    json instances = json::array();
    for (const auto& instance : group.instances) {
      json item = to_json(instance);
      item["colour"] = colour_of(group, instance.fleet_id);
      instances.push_back(item);
    }
    json weights = json::array();
    for (const auto& [fleet_id, percent] : group.weights()) {
      weights.push_back(
          {{"fleetId", fleet_id}, {"colour", colour_of(group, fleet_id)}, {"percent", percent}});
    }
    json traffic = json::array();
    for (const auto& fleet : group.traffic) {
      traffic.push_back({{"fleetId", fleet.fleet_id},
                         {"colour", colour_of(group, fleet.fleet_id)},
                         {"activeConnections", fleet.active_connections},
                         {"activeRequests", fleet.active_requests},
                         {"requestsTotal", fleet.requests_total},
                         {"errorsTotal", fleet.errors_total},
                         {"serverErrorsTotal", fleet.server_errors_total}});
    }
    out.push_back({
        {"group", group.group},
        {"provider", std::string(to_string(group.provider))},
        {"listen", group.listen},
        {"listenError", group.listen_error ? json(*group.listen_error) : json(nullptr)},
        {"previewListen", group.preview_listen ? json(*group.preview_listen) : json(nullptr)},
        {"routedFleet", group.routed_fleet ? json(*group.routed_fleet) : json(nullptr)},
        {"serving", group.serving ? summary_json(*group.serving) : json(nullptr)},
        {"running", group.running ? summary_json(*group.running) : json(nullptr)},
        {"instances", instances},
        {"traffic", traffic},
        {"weights", weights},
    });
  }
  return json{{"groups", out}};
}

void add_admin_api(admin::Router& router, DeploymentService& service,
                   std::function<void()> request_shutdown) {
  router.add("GET", "/api/health", [](const HttpRequest&) {
    return answer(200, json{{"ok", true}});
  });

  router.add("POST", "/api/deployments", [&service](const HttpRequest& request) {
    auto spec = parse_spec(std::string_view(request.body));
    if (!spec) return HttpResponse::error(spec.error());
    return answer_or_error(service.start_deployment(std::move(*spec), requester(request)), 202,
                           [](const Deployment& d) { return to_json(d); });
  });

  router.add("GET", "/api/deployments", [&service](const HttpRequest& request) {
    auto group = request.query.contains("group") ? request.query.at("group") : std::string();
    return answer_or_error(service.deployments(group), 200, [](const auto& all) {
      json list = json::array();
      for (const auto& d : all) list.push_back(history_item_json(d));
      return json{{"deployments", list}};
    });
  });

  router.add("GET", "/api/deployments/{id}", [&service](const HttpRequest& request) {
    return answer_or_error(service.deployment(request.params.at("id")), 200,
                           [](const Deployment& d) { return to_json(d); });
  });

  router.add("GET", "/api/deployments/{id}/logs", [&service](const HttpRequest& request) {
    const auto& id = request.params.at("id");
    return answer_or_error(service.events(id), 200, [&](const auto& events) {
      json list = json::array();
      for (const auto& event : events) list.push_back(to_json(event));
      return json{{"deploymentId", id}, {"events", list}};
    });
  });

  auto request_for = [&service](bool promote) {
    return [&service, promote](const HttpRequest& request) {
      auto selector = selector_from(request);
      if (!selector) return HttpResponse::error(selector.error());
      auto by = requester(request);
      auto target = promote ? service.promote(*selector, by) : service.roll_back(*selector, by);
      return answer_or_error(target, 202, [&](const Deployment& d) {
        return json{{"accepted", true},
                    {"action", promote ? "promote" : "rollback"},
                    {"deployment", summary_json(d)}};
      });
    };
  };
  router.add("POST", "/api/promote", request_for(true));
  router.add("POST", "/api/rollback", request_for(false));

  router.add("GET", "/api/status",
             [&service](const HttpRequest&) { return answer(200, status_json(service.status())); });

  router.add("POST", "/api/shutdown",
             [&service, request_shutdown = std::move(request_shutdown)](const HttpRequest&) {
               int terminated = service.shutdown();
               request_shutdown();
               return answer(200, json{{"stopped", true}, {"terminatedInstances", terminated}});
             });
}

}  // namespace bluegreen
