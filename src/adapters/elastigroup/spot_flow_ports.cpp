#include "adapters/elastigroup/spot_flow_ports.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace bluegreen::elastigroup {
namespace {

using nlohmann::json;

constexpr int kRateLimitWaits = 3;
constexpr auto kRequestTimeout = std::chrono::seconds(30);

ErrorKind kind_of(int status, const std::string& code) {
  if (status == 401 || status == 403) return ErrorKind::permission_denied;
  if (status == 404) return ErrorKind::not_found;
  if (status == 409 || code == "DEPLOYMENT_ALREADY_IN_PROGRESS") return ErrorKind::conflict;
  if (status == 429) return ErrorKind::throttled;
  if (status >= 500) return ErrorKind::unavailable;
  return ErrorKind::invalid_input;
}

SpotDeployment deployment_from(const json& item) {
  SpotDeployment d;
  d.id = item.value("id", "");
  d.state = item.value("state", "");
  d.status = item.value("status", "");
  if (auto config = item.find("config"); config != item.end() && config->is_object()) {
    if (auto tags = config->find("tags"); tags != config->end() && tags->is_array()) {
      for (const auto& tag : *tags) {
        if (tag.is_object() && tag.value("tagKey", "") == "GreenIdentifier") {
          d.green_identifier = tag.value("tagValue", "");
        }
      }
    }
  }
  return d;
}

CallResult<json> items_of(const std::string& body, const std::string& what) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return call_error(ErrorKind::unavailable, "", what + ": the answer is not JSON");
  }
  auto response = parsed.find("response");
  if (response == parsed.end() || !response->is_object()) return json::array();
  auto items = response->find("items");
  if (items == response->end()) return json::array();
  if (items->is_object()) return json::array({*items});
  return items->is_array() ? *items : json::array();
}

}  // namespace

SpotFlowPorts::SpotFlowPorts(http::HttpClient& http, Clock& clock, const CallBudget& budget,
                             std::string base_url)
    : http_(http), clock_(clock), budget_(budget), base_url_(std::move(base_url)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

CallResult<std::string> SpotFlowPorts::send(const SpotAccess& access, const std::string& method,
                                            const std::string& path, const std::string& body) {
  std::string what = fmt::format("Spot {} {}", method, path);
  http::Request request;
  request.method = method;
  request.url = fmt::format("{}{}?accountId={}", base_url_, path, access.account_id);
  request.headers = {{"Authorization", "Bearer " + access.token.reveal()},
                     {"Content-Type", "application/json"},
                     {"Accept", "application/json"}};
  request.body = body;
  for (int attempt = 0;; ++attempt) {
    auto now = clock_.now();
    if (now >= budget_.deadline) {
      return call_error(ErrorKind::timeout, "", what + ": no time left for the request");
    }
    request.timeout = std::min<Duration>(
        kRequestTimeout, std::chrono::duration_cast<Duration>(budget_.deadline - now));
    auto response = http_.send(request);
    if (!response) {
      return call_error(
          response.error().kind == ErrorKind::timeout ? ErrorKind::timeout : ErrorKind::unavailable,
          "", fmt::format("{}: {}", what, response.error().message));
    }
    if (response->status == 200) return std::move(response->body);
    if (response->status == 429 && attempt < kRateLimitWaits) {
      long long reset = 1;
      if (auto header = response->header("X-RateLimit-Reset")) {
        std::from_chars(header->data(), header->data() + header->size(), reset);
      }
      auto until = clock_.now() + std::chrono::seconds(std::max(1LL, reset));
      if (until < budget_.deadline) {
        clock_.sleep_until(until);
        continue;
      }
    }
    std::string code, message;
    json parsed = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded() && parsed.is_object()) {
      const json& r = parsed.value("response", json::object());
      if (auto errors = r.find("errors");
          errors != r.end() && errors->is_array() && !errors->empty() && (*errors)[0].is_object()) {
        code = (*errors)[0].value("code", "");
        message = (*errors)[0].value("message", "");
      } else if (r.contains("data") && r["data"].is_string()) {
        message = r["data"].get<std::string>();
      }
    }
    if (message.empty()) message = fmt::format("HTTP {}", response->status);
    if (code.empty()) code = std::to_string(response->status);
    return call_error(kind_of(response->status, code), code,
                      fmt::format("{}: {} (HTTP {})", what, message, response->status));
  }
}

CallResult<SpotGroup> SpotFlowPorts::read_group(const SpotAccess& access, bool with_capacity) {
  std::string group_path = "/aws/ec2/group/" + access.group_id;
  SpotGroup group;
  if (with_capacity) {
    auto body = send(access, "GET", group_path, "");
    if (!body) return std::unexpected(body.error());
    auto items = items_of(*body, "Spot group");
    if (!items) return std::unexpected(items.error());
    if (items->empty()) {
      return call_error(ErrorKind::not_found, "GROUP_DOESNT_EXIST",
                        fmt::format("Spot has no group {}", access.group_id));
    }
    const json& capacity = (*items)[0].value("capacity", json::object());
    group.target_capacity = capacity.value("target", 0);
  }
  auto body = send(access, "GET", group_path + "/status", "");
  if (!body) return std::unexpected(body.error());
  auto items = items_of(*body, "Spot group status");
  if (!items) return std::unexpected(items.error());
  for (const auto& item : *items) {
    if (item.is_object() && item.contains("instanceId") && item["instanceId"].is_string()) {
      group.instance_ids.push_back(item["instanceId"].get<std::string>());
    }
  }
  return group;
}

CallResult<std::vector<SpotDeployment>> SpotFlowPorts::list_deployments(const SpotAccess& access) {
  auto body =
      send(access, "GET",
           fmt::format("/aws/ec2/group/{}/codeDeploy/blueGreenDeployment", access.group_id), "");
  if (!body) return std::unexpected(body.error());
  auto items = items_of(*body, "Spot B/G deployments");
  if (!items) return std::unexpected(items.error());
  std::vector<SpotDeployment> out;
  for (const auto& item : *items) {
    if (item.is_object()) out.push_back(deployment_from(item));
  }
  return out;
}

CallResult<SpotDeployment> SpotFlowPorts::create_deployment(const SpotAccess& access,
                                                            const SpotBlueGreenRequest& request) {
  json body = {{"deployment",
                {{"timeout", request.timeout_seconds},
                 {"tags", json::array({{{"tagKey", "GreenIdentifier"},
                                        {"tagValue", request.green_identifier}}})},
                 {"deploymentGroups",
                  json::array({{{"applicationName", request.application_name},
                                {"deploymentGroupName", request.deployment_group_name}}})}}}};
  auto answer =
      send(access, "POST",
           fmt::format("/aws/ec2/group/{}/codeDeploy/blueGreenDeployment", access.group_id),
           body.dump());
  if (!answer) return std::unexpected(answer.error());
  auto items = items_of(*answer, "Spot B/G deployment");
  if (!items) return std::unexpected(items.error());
  if (items->empty() || !(*items)[0].is_object()) {
    return call_error(ErrorKind::unavailable, "", "Spot created a B/G deployment but named none");
  }
  SpotDeployment d = deployment_from((*items)[0]);
  if (d.green_identifier.empty()) d.green_identifier = request.green_identifier;
  return d;
}

CallResult<void> SpotFlowPorts::stop_deployment(const SpotAccess& access,
                                                const std::string& deployment_id) {
  auto answer = send(access, "PUT",
                     fmt::format("/aws/ec2/group/{}/codeDeploy/blueGreenDeployment/{}/stop",
                                 access.group_id, deployment_id),
                     "");
  if (!answer) return std::unexpected(answer.error());
  return {};
}

CallResult<void> SpotFlowPorts::detach_and_terminate(const SpotAccess& access,
                                                     const std::vector<std::string>& instance_ids) {
  json body = {{"instancesToDetach", instance_ids},
               {"shouldTerminateInstances", true},
               {"shouldDecrementTargetCapacity", true}};
  auto answer =
      send(access, "PUT", fmt::format("/aws/ec2/group/{}/detachInstances", access.group_id),
           body.dump());
  if (!answer) return std::unexpected(answer.error());
  return {};
}

}  // namespace bluegreen::elastigroup
