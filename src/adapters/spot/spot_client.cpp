#include "adapters/spot/spot_client.h"

#include <charconv>

#include "infra/http/url.h"

namespace bluegreen::spot {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxMessage = 500;

std::string text_at(const json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto found = object.find(key);
  if (found == object.end()) return {};
  if (found->is_string()) return found->get<std::string>();
  if (found->is_number()) return found->dump();
  return {};
}

double number_at(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto found = object.find(key);
  if (found == object.end()) return 0;
  if (found->is_number()) return found->get<double>();
  if (found->is_string()) {
    double value = 0;
    const auto& text = found->get_ref<const std::string&>();
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
  }
  return 0;
}

const json& member(const json& object, const char* key) {
  static const json kNothing;
  if (!object.is_object()) return kNothing;
  const auto found = object.find(key);
  return found == object.end() ? kNothing : *found;
}

std::string shorten(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage) + "...";
  return text;
}

ErrorKind classify(int status, const std::vector<SpotErrorItem>& errors) {
  if (status == 429) return ErrorKind::throttled;
  if (status == 401 || status == 403) return ErrorKind::permission_denied;
  if (status >= 500) return ErrorKind::unavailable;
  if (status == 404) return ErrorKind::not_found;
  for (const auto& error : errors) {
    if (error.code.find("DOESNT_EXIST") != std::string::npos ||
        error.code.find("NOT_FOUND") != std::string::npos) {
      return ErrorKind::not_found;
    }
    if (error.code.find("ALREADY") != std::string::npos) return ErrorKind::conflict;
  }
  return ErrorKind::invalid_input;
}

// X-RateLimit-Reset: seconds until requests are allowed again.
Duration rate_limit_wait(const http::Response& response) {
  const auto reset = response.header("X-RateLimit-Reset");
  if (!reset) return Duration{0};
  double seconds = 0;
  std::from_chars(reset->data(), reset->data() + reset->size(), seconds);
  return Duration(static_cast<Duration::rep>(std::max(0.0, seconds) * 1000.0));
}

SpotError answer_error(const std::string& operation, const http::Response& response) {
  SpotError error;
  error.operation = operation;
  error.http_status = response.status;
  const json document = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  error.request_id = text_at(member(document, "request"), "id");
  const json& answer = member(document, "response");
  const json& errors = member(answer, "errors");
  if (errors.is_array()) {
    for (const auto& item : errors) {
      error.errors.push_back(
          {text_at(item, "code"), shorten(text_at(item, "message")), text_at(item, "field")});
    }
  }
  if (error.errors.empty()) {
    error.message = shorten(text_at(answer, "data"));
    if (error.message.empty())
      error.message = shorten(text_at(member(answer, "status"), "message"));
  }
  error.kind = classify(response.status, error.errors);
  error.retryable = response.status == 429 || response.status == 500 || response.status == 502 ||
                    response.status == 503 || response.status == 504;
  error.retry_after = rate_limit_wait(response);
  return error;
}

RetryDecision retry_decision(const SpotError& error) {
  return RetryDecision{
      error.retryable, error.retry_after,
      error.http_status == 0 ? error.message : "HTTP " + std::to_string(error.http_status)};
}

BlueGreenDeployment read_deployment(const json& item) {
  BlueGreenDeployment deployment;
  deployment.id = text_at(item, "id");
  deployment.group_id = text_at(item, "groupId");
  deployment.state = text_at(item, "state");
  deployment.status = text_at(item, "status");
  const json& config = member(item, "config");
  deployment.timeout_seconds = static_cast<long long>(number_at(config, "timeout"));
  const json& tags = member(config, "tags");
  if (tags.is_array()) {
    for (const auto& tag : tags)
      deployment.tags.emplace_back(text_at(tag, "tagKey"), text_at(tag, "tagValue"));
  }
  deployment.raw = item;
  return deployment;
}

std::string encode_id(const std::string& id) {
  return http::uri_encode(id);
}

}  // namespace

std::string spot_api_url(const aws::Environment& env) {
  std::string url = env("SPOT_API_URL").value_or(std::string(kDefaultSpotApiUrl));
  while (url.ends_with('/')) url.pop_back();
  return url;
}

std::string SpotError::describe() const {
  std::string text = "spot " + operation + ": ";
  if (http_status != 0) text += "HTTP " + std::to_string(http_status);
  for (const auto& error : errors) {
    text += (text.back() == ' ' ? "" : " ") + error.code;
    if (!error.message.empty()) text += ": " + error.message;
    if (!error.field.empty()) text += " (field " + error.field + ")";
    text += ";";
  }
  if (!errors.empty()) text.pop_back();
  if (!message.empty()) text += (text.back() == ' ' ? "" : ": ") + message;
  if (!request_id.empty()) text += " (request id " + request_id + ")";
  return text;
}

std::string BlueGreenDeployment::tag(std::string_view key) const {
  for (const auto& [tag_key, tag_value] : tags) {
    if (tag_key == key) return tag_value;
  }
  return {};
}

SpotClient::SpotClient(SpotContext context) : context_(std::move(context)) {}

SpotResult<json> SpotClient::attempt(const Call& call, TimePoint deadline) const {
  const TimePoint now = context_.clock.now();
  if (now >= deadline) {
    return std::unexpected(SpotError{.kind = ErrorKind::timeout,
                                     .operation = call.operation,
                                     .message = "the deadline passed before the call was sent"});
  }
  std::string url =
      context_.base_url + call.path + "?accountId=" + http::uri_encode(context_.account_id);
  if (!call.extra_query.empty()) url += "&" + call.extra_query;
  http::Request request{.method = call.method,
                        .url = url,
                        .headers = {{"Authorization", "Bearer " + context_.token.reveal()},
                                    {"Accept", "application/json"}}};
  if (call.body) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = call.body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  request.fresh_connection = call.creates;
  request.timeout = std::min(context_.attempt_timeout,
                             std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  auto response = context_.http.send(request);
  if (!response) {
    const Error& failure = response.error();
    return std::unexpected(SpotError{
        .kind = failure.kind,
        .operation = call.operation,
        .message = failure.message,
        .retryable = failure.kind == ErrorKind::unavailable || failure.kind == ErrorKind::timeout});
  }
  if (response->status != 200) return std::unexpected(answer_error(call.operation, *response));
  const json document = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return std::unexpected(SpotError{.kind = ErrorKind::unavailable,
                                     .operation = call.operation,
                                     .http_status = 200,
                                     .message = "the answer is not JSON"});
  }
  const json& items = member(member(document, "response"), "items");
  if (items.is_array()) return items;
  if (items.is_object()) return json::array({items});
  return json::array();
}

SpotResult<json> SpotClient::call(const Call& call, TimePoint deadline) const {
  return retry_with_backoff<json, SpotError>(
      context_.clock, context_.retry, deadline, [&](int) { return attempt(call, deadline); },
      retry_decision, context_.on_retry);
}

SpotResult<Group> SpotClient::get_group(const std::string& group_id, TimePoint deadline) const {
  auto items = call({"get group", "GET", "/aws/ec2/group/" + encode_id(group_id), "", std::nullopt},
                    deadline);
  if (!items) return std::unexpected(items.error());
  if (items->empty()) {
    return std::unexpected(SpotError{.kind = ErrorKind::not_found,
                                     .operation = "get group",
                                     .http_status = 200,
                                     .message = "no group " + group_id + " in the answer"});
  }
  const json& item = (*items)[0];
  Group group;
  group.id = text_at(item, "id");
  group.name = text_at(item, "name");
  group.region = text_at(item, "region");
  const json& capacity = member(item, "capacity");
  group.capacity = {static_cast<int>(number_at(capacity, "target")),
                    static_cast<int>(number_at(capacity, "minimum")),
                    static_cast<int>(number_at(capacity, "maximum")), text_at(capacity, "unit")};
  group.raw = item;
  return group;
}

SpotResult<std::vector<GroupInstance>> SpotClient::group_status(const std::string& group_id,
                                                                TimePoint deadline) const {
  auto items = call({"group status", "GET", "/aws/ec2/group/" + encode_id(group_id) + "/status", "",
                     std::nullopt},
                    deadline);
  if (!items) return std::unexpected(items.error());
  std::vector<GroupInstance> instances;
  for (const auto& item : *items) {
    instances.push_back({text_at(item, "instanceId"), text_at(item, "spotInstanceRequestId"),
                         text_at(item, "instanceType"), text_at(item, "availabilityZone"),
                         text_at(item, "privateIp"), text_at(item, "publicIp"),
                         text_at(item, "status"), text_at(item, "createdAt")});
  }
  return instances;
}

SpotResult<std::vector<BlueGreenDeployment>> SpotClient::get_blue_green_deployments(
    const std::string& group_id, TimePoint deadline) const {
  auto items = call({"get blue/green deployment", "GET",
                     "/aws/ec2/group/" + encode_id(group_id) + "/codeDeploy/blueGreenDeployment",
                     "", std::nullopt},
                    deadline);
  if (!items) return std::unexpected(items.error());
  std::vector<BlueGreenDeployment> deployments;
  for (const auto& item : *items) deployments.push_back(read_deployment(item));
  return deployments;
}

SpotResult<BlueGreenDeployment> SpotClient::create_blue_green_deployment(
    const std::string& group_id, const BlueGreenRequest& request, TimePoint deadline) const {
  const std::string path =
      "/aws/ec2/group/" + encode_id(group_id) + "/codeDeploy/blueGreenDeployment";
  const Call create{
      "create blue/green deployment",
      "POST",
      path,
      "",
      json{
          {"deployment",
           {{"timeout", request.timeout_seconds},
            {"tags", json::array({{{"tagKey", request.tag_key}, {"tagValue", request.tag_value}}})},
            {"deploymentGroups",
             json::array({{{"applicationName", request.application_name},
                           {"deploymentGroupName", request.deployment_group_name}}})}}}},
      /*creates=*/true};
  const Call list{"get blue/green deployment", "GET", path, "", std::nullopt};
  auto items = retry_with_backoff<json, SpotError>(
      context_.clock, context_.retry, deadline,
      [&](int number) -> SpotResult<json> {
        if (number > 1) {
          // The earlier POST may have been applied before its answer was lost.
          auto existing = attempt(list, deadline);
          if (!existing) return existing;
          for (const auto& item : *existing) {
            if (read_deployment(item).tag(request.tag_key) == request.tag_value) {
              return json::array({item});
            }
          }
        }
        return attempt(create, deadline);
      },
      retry_decision, context_.on_retry);
  if (!items) return std::unexpected(items.error());
  if (items->empty()) {
    return std::unexpected(SpotError{.kind = ErrorKind::unavailable,
                                     .operation = create.operation,
                                     .http_status = 200,
                                     .message = "the answer lists no deployment"});
  }
  return read_deployment((*items)[0]);
}

SpotResult<void> SpotClient::stop_blue_green_deployment(const std::string& group_id,
                                                        const std::string& deployment_id,
                                                        TimePoint deadline) const {
  auto items = call({"stop blue/green deployment", "PUT",
                     "/aws/ec2/group/" + encode_id(group_id) + "/codeDeploy/blueGreenDeployment/" +
                         encode_id(deployment_id) + "/stop",
                     "", std::nullopt},
                    deadline);
  if (!items) return std::unexpected(items.error());
  return {};
}

SpotResult<void> SpotClient::detach_instances(const std::string& group_id,
                                              const DetachRequest& request,
                                              TimePoint deadline) const {
  json body{{"instancesToDetach", request.instance_ids},
            {"shouldTerminateInstances", request.terminate_instances},
            {"shouldDecrementTargetCapacity", request.decrement_target_capacity}};
  if (request.draining_timeout_seconds) body["drainingTimeout"] = *request.draining_timeout_seconds;
  auto items = call({"detach instances", "PUT",
                     "/aws/ec2/group/" + encode_id(group_id) + "/detachInstances", "", body},
                    deadline);
  if (!items) return std::unexpected(items.error());
  return {};
}

SpotResult<GroupCosts> SpotClient::group_costs(const std::string& group_id, TimePoint from,
                                               TimePoint to, TimePoint deadline) const {
  // The documented form, to the millisecond: 2018-06-20T11:35:01.745Z.
  auto items = call({"group costs", "GET", "/aws/ec2/group/" + encode_id(group_id) + "/costs",
                     "fromDate=" + http::uri_encode(to_iso8601(from)) +
                         "&toDate=" + http::uri_encode(to_iso8601(to)),
                     std::nullopt},
                    deadline);
  if (!items) return std::unexpected(items.error());
  GroupCosts costs;
  if (!items->empty()) {
    const json& item = (*items)[0];
    costs.running_hours = number_at(member(item, "running"), "value");
    costs.savings_percent = number_at(member(item, "savings"), "value");
    costs.actual = number_at(member(item, "costs"), "actual");
    costs.potential = number_at(member(item, "costs"), "potential");
    costs.raw = item;
  }
  return costs;
}

}  // namespace bluegreen::spot
