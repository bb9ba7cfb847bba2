// AwsServiceClient: one AWS service as the service clients (src/adapters/aws) see it. It owns
// everything every call needs, in one place: the endpoint, fresh credentials, SigV4 signing,
// the per-attempt timeout, retries with backoff (re-signed each time), and typed errors.
//
//   send()        any request (S3 REST): the caller builds method, path, headers and body
//   call_json()   the JSON 1.1 protocol: POST / with X-Amz-Target: <prefix>.<Operation>
//   call_query()  the query protocol (EC2, Auto Scaling, ELBv2): POST / form
//                 Action=<...>&Version=<...>, XML answer
//
// Retried: throttling codes, HTTP 429 and 5xx, and calls that got no answer (connection
// refused or dropped, timeouts). Never retried: anything else, including permission errors.
// A call never starts an attempt after `deadline`, and every attempt's HTTP timeout ends at
// the deadline at the latest.
//
// Thread-safe when the HttpClient and CredentialsProvider are (the real ones are).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "infra/aws/aws_error.h"
#include "infra/aws/credentials.h"
#include "infra/aws/endpoints.h"
#include "infra/aws/environment.h"
#include "infra/aws/retry.h"
#include "infra/aws/xml.h"
#include "infra/http/http_client.h"
#include "infra/http/url.h"

namespace bluegreen::aws {

// What all AWS service clients of one process share.
struct AwsContext {
  http::HttpClient& http;
  CredentialsProvider& credentials;
  Clock& clock;
  std::string region;
  Environment environment = process_environment();  // endpoint overrides
  RetryPolicy retry = {};
  RetryObserver on_retry = {};                        // told before each retry wait (for logging)
  std::chrono::milliseconds attempt_timeout{30'000};  // one attempt, when the deadline is later
};

class AwsServiceClient {
 public:
  AwsServiceClient(const AwsContext& context, AwsService service);

  AwsService service() const { return service_; }
  const AwsContext& context() const { return context_; }
  // The resolved endpoint, or the reason it could not be resolved.
  const Result<Endpoint>& endpoint() const { return endpoint_; }

  // Signs and sends `request` (its URL absolute, under endpoint()). A non-2xx answer is an
  // AwsError. `operation` names the call in errors.
  AwsResult<http::Response> send(std::string_view operation, const http::Request& request,
                                 TimePoint deadline) const;

  // JSON protocol. `input` is the request object; the answer's object is returned ({} for an
  // empty body).
  AwsResult<nlohmann::json> call_json(std::string_view operation, const nlohmann::json& input,
                                      TimePoint deadline) const;

  // Query protocol. `params` are the operation's parameters (without Action and Version).
  // Returns the answer's content: EC2 puts it straight in <ActionResponse>, which is returned;
  // the other query services wrap it in <ActionResponse><ActionResult>, and that inner element
  // is returned instead (operations without output have none: <ActionResponse> is returned).
  // Errors come as <Response><Errors><Error> (EC2) or <ErrorResponse><Error> (the others).
  AwsResult<XmlNode> call_query(std::string_view action, const http::QueryParams& params,
                                TimePoint deadline) const;

  // An AwsError for this service (for client-side failures such as unreadable answers).
  AwsError error(std::string_view operation, ErrorKind kind, std::string message) const;

 private:
  AwsResult<http::Response> attempt(std::string_view operation, const http::Request& request,
                                    TimePoint deadline) const;

  AwsContext context_;
  AwsService service_;
  Result<Endpoint> endpoint_;
};

// Adds a list parameter as the query protocol (other than EC2's) spells it:
// Name.member.1=a&Name.member.2=b. Nothing for an empty list.
void append_member_list(http::QueryParams& params, std::string_view name,
                        const std::vector<std::string>& values);

// JSON text for a request body: invalid UTF-8 in strings is replaced, never thrown about.
std::string to_json_text(const nlohmann::json& value);

}  // namespace bluegreen::aws
