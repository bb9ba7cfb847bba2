// SpotClient: the Spot Elastigroup REST calls bluegreen makes (reference: spot-api.md §2-3).
//
//   get_group                     GET  /aws/ec2/group/{groupId}
//   group_status                  GET  /aws/ec2/group/{groupId}/status
//   create_blue_green_deployment  POST /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment
//   get_blue_green_deployments    GET  /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment
//   stop_blue_green_deployment    PUT
//   /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment/{id}/stop detach_instances PUT
//   /aws/ec2/group/{groupId}/detachInstances group_costs                   GET
//   /aws/ec2/group/{groupId}/costs?fromDate=&toDate=
//
// Every request carries "Authorization: Bearer <token>" and the query parameter accountId.
// The base URL is SPOT_API_URL, else https://api.spotinst.io.
//
// Failures:
//   400/404 and other 4xx  SpotError with the answer's errors list [{code, message, field}];
//                          not retried
//   401/403                permission_denied, not retried
//   429                    waits the X-RateLimit-Reset seconds the answer asks (at least), then
//                          retries; more requests while blocked would push the reset back
//   5xx, dropped or refused connections, timeouts   retried with backoff and full jitter
// All within the retry policy's attempts and the caller's deadline. A retried create first
// looks for a deployment carrying its green tag, so an ambiguous failure (the POST may have
// been applied) never starts a second deployment.
//
// The token is only ever put in the Authorization header; no error or notice contains it.
// Thread-safe when the HttpClient is.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/secret.h"
#include "infra/aws/environment.h"
#include "infra/aws/retry.h"
#include "infra/http/http_client.h"

namespace bluegreen::spot {

inline constexpr std::string_view kDefaultSpotApiUrl = "https://api.spotinst.io";

// SPOT_API_URL, else https://api.spotinst.io, without a trailing slash.
std::string spot_api_url(const aws::Environment& env);

struct SpotErrorItem {
  std::string code;  // e.g. GROUP_DOESNT_EXIST, DEPLOYMENT_ALREADY_IN_PROGRESS
  std::string message;
  std::string field;
};

struct SpotError {
  ErrorKind kind = ErrorKind::internal;
  std::string operation;  // "create blue/green deployment", ...
  int http_status = 0;    // 0 when no answer arrived
  std::vector<SpotErrorItem> errors;
  std::string message;     // for failures without an errors list (transport, 429 "data")
  std::string request_id;  // request.id of the answer
  bool retryable = false;
  Duration retry_after{0};  // 429: the X-RateLimit-Reset the answer asked to wait

  // The first error code, or "".
  std::string code() const { return errors.empty() ? std::string() : errors.front().code; }
  // "spot create blue/green deployment: HTTP 400 DEPLOYMENT_ALREADY_IN_PROGRESS: ... (request id
  // r)"
  std::string describe() const;
  Error to_error() const { return Error{kind, describe(), code()}; }
  operator Error() const { return to_error(); }  // NOLINT(google-explicit-constructor)
};

template <typename T>
using SpotResult = std::expected<T, SpotError>;

struct SpotContext {
  http::HttpClient& http;
  Clock& clock;
  std::string base_url;  // spot_api_url(env)
  std::string account_id;
  Secret token;
  RetryPolicy retry = {};
  RetryObserver on_retry = {};
  std::chrono::milliseconds attempt_timeout{30'000};
};

struct GroupCapacity {
  int target = 0;
  int minimum = 0;
  int maximum = 0;
  std::string unit;  // instance | weight
};

struct Group {
  std::string id;
  std::string name;
  std::string region;
  GroupCapacity capacity;
  nlohmann::json raw;  // the group as received
};

struct GroupInstance {
  std::string instance_id;
  std::string spot_instance_request_id;  // empty for on-demand instances
  std::string instance_type;
  std::string availability_zone;
  std::string private_ip;
  std::string public_ip;
  std::string status;  // e.g. fulfilled
  std::string created_at;
  bool is_spot() const { return !spot_instance_request_id.empty(); }
};

struct BlueGreenRequest {
  std::string tag_key = "GreenIdentifier";
  std::string tag_value;
  long long timeout_seconds = 0;
  std::string application_name;
  std::string deployment_group_name;
};

struct BlueGreenDeployment {
  std::string id;  // cdbg-...
  std::string group_id;
  std::string state;   // e.g. STARTING; the full set is not published
  std::string status;  // e.g. INITIALIZING
  long long timeout_seconds = 0;
  std::vector<std::pair<std::string, std::string>> tags;
  nlohmann::json raw;
  // The value of tag `key` in the deployment's config, or "".
  std::string tag(std::string_view key) const;
};

struct DetachRequest {
  std::vector<std::string> instance_ids;
  bool terminate_instances = true;
  bool decrement_target_capacity = true;
  std::optional<int> draining_timeout_seconds;
};

struct GroupCosts {
  double running_hours = 0;
  double savings_percent = 0;
  double actual = 0;
  double potential = 0;
  nlohmann::json raw;
};

class SpotClient {
 public:
  explicit SpotClient(SpotContext context);

  SpotResult<Group> get_group(const std::string& group_id, TimePoint deadline) const;
  SpotResult<std::vector<GroupInstance>> group_status(const std::string& group_id,
                                                      TimePoint deadline) const;
  SpotResult<BlueGreenDeployment> create_blue_green_deployment(const std::string& group_id,
                                                               const BlueGreenRequest& request,
                                                               TimePoint deadline) const;
  // The group's B/G deployments as Spot lists them (its items).
  SpotResult<std::vector<BlueGreenDeployment>> get_blue_green_deployments(
      const std::string& group_id, TimePoint deadline) const;
  SpotResult<void> stop_blue_green_deployment(const std::string& group_id,
                                              const std::string& deployment_id,
                                              TimePoint deadline) const;
  SpotResult<void> detach_instances(const std::string& group_id, const DetachRequest& request,
                                    TimePoint deadline) const;
  SpotResult<GroupCosts> group_costs(const std::string& group_id, TimePoint from, TimePoint to,
                                     TimePoint deadline) const;

 private:
  struct Call {
    std::string operation;
    std::string method;
    std::string path;  // below the base URL, already encoded
    std::string extra_query;
    std::optional<nlohmann::json> body;
    bool creates = false;  // not idempotent: sent on a fresh connection (see http::Request)
  };
  // Sends with retries; returns the answer's response.items (an array, maybe empty).
  SpotResult<nlohmann::json> call(const Call& call, TimePoint deadline) const;
  SpotResult<nlohmann::json> attempt(const Call& call, TimePoint deadline) const;

  SpotContext context_;
};

}  // namespace bluegreen::spot
