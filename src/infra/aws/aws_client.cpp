#include "infra/aws/aws_client.h"

#include <algorithm>

#include "infra/aws/sigv4.h"

namespace bluegreen::aws {

namespace {

std::string retry_reason(const AwsError& error) {
  if (error.http_status == 0) return error.message;
  return (error.code.empty() ? std::string("error") : error.code) + " (HTTP " +
         std::to_string(error.http_status) + ")";
}

}  // namespace

void append_member_list(http::QueryParams& params, std::string_view name,
                        const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    params.emplace_back(std::string(name) + ".member." + std::to_string(i + 1), values[i]);
  }
}

std::string to_json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AwsServiceClient::AwsServiceClient(const AwsContext& context, AwsService service)
    : context_(context),
      service_(service),
      endpoint_(resolve_endpoint(service, context.region, context.environment)) {}

AwsError AwsServiceClient::error(std::string_view operation, ErrorKind kind,
                                 std::string message) const {
  AwsError failure;
  failure.kind = kind;
  failure.service = std::string(facts(service_).signing_name);
  failure.operation = std::string(operation);
  failure.message = std::move(message);
  return failure;
}

AwsResult<http::Response> AwsServiceClient::attempt(std::string_view operation,
                                                    const http::Request& request,
                                                    TimePoint deadline) const {
  const ServiceFacts& service_facts = facts(service_);
  const TimePoint now = context_.clock.now();
  if (now >= deadline) {
    return std::unexpected(
        error(operation, ErrorKind::timeout, "the deadline passed before the call was sent"));
  }
  auto credentials = context_.credentials.credentials();
  if (!credentials) {
    AwsError failure = error(operation, credentials.error().kind, credentials.error().message);
    failure.retryable = credentials.error().kind == ErrorKind::unavailable;
    return std::unexpected(failure);
  }

  http::Request signed_request = request;
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  auto timeout =
      signed_request.timeout.count() > 0 ? signed_request.timeout : context_.attempt_timeout;
  signed_request.timeout = std::max(std::chrono::milliseconds(1), std::min(timeout, remaining));
  const SigningScope scope{std::string(service_facts.signing_name), context_.region,
                           service_ == AwsService::s3};
  if (auto signature = sign_request(signed_request, *credentials, scope, now); !signature) {
    return std::unexpected(error(operation, signature.error().kind, signature.error().message));
  }

  auto response = context_.http.send(signed_request);
  if (!response) {
    return std::unexpected(
        transport_aws_error(service_facts.signing_name, operation, response.error()));
  }
  if (!response->ok()) {
    return std::unexpected(parse_aws_error(service_facts.signing_name, operation, *response));
  }
  return std::move(*response);
}

AwsResult<http::Response> AwsServiceClient::send(std::string_view operation,
                                                 const http::Request& request,
                                                 TimePoint deadline) const {
  if (!endpoint_) {
    return std::unexpected(error(operation, endpoint_.error().kind, endpoint_.error().message));
  }
  return retry_with_backoff<http::Response, AwsError>(
      context_.clock, context_.retry, deadline,
      [&](int) { return attempt(operation, request, deadline); },
      [](const AwsError& failure) {
        return RetryDecision{failure.retryable, Duration{0}, retry_reason(failure)};
      },
      context_.on_retry);
}

AwsResult<nlohmann::json> AwsServiceClient::call_json(std::string_view operation,
                                                      const nlohmann::json& input,
                                                      TimePoint deadline) const {
  if (!endpoint_) {
    return std::unexpected(error(operation, endpoint_.error().kind, endpoint_.error().message));
  }
  const ServiceFacts& service_facts = facts(service_);
  http::Request request{.method = "POST",
                        .url = endpoint_->url + "/",
                        .headers = {{"Content-Type", "application/x-amz-json-1.1"},
                                    {"X-Amz-Target", std::string(service_facts.json_target_prefix) +
                                                         "." + std::string(operation)}},
                        .body = to_json_text(input)};
  auto response = send(operation, request, deadline);
  if (!response) return std::unexpected(response.error());
  if (response->body.find_first_not_of(" \t\r\n") == std::string::npos)
    return nlohmann::json::object();
  auto output = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (!output.is_object()) {
    return std::unexpected(
        error(operation, ErrorKind::unavailable, "the answer is not a JSON object"));
  }
  return output;
}

AwsResult<XmlNode> AwsServiceClient::call_query(std::string_view action,
                                                const http::QueryParams& params,
                                                TimePoint deadline) const {
  if (!endpoint_) {
    return std::unexpected(error(action, endpoint_.error().kind, endpoint_.error().message));
  }
  http::QueryParams form{{"Action", std::string(action)},
                         {"Version", std::string(facts(service_).api_version)}};
  form.insert(form.end(), params.begin(), params.end());
  http::Request request{
      .method = "POST",
      .url = endpoint_->url + "/",
      .headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
      .body = http::encode_query(form)};
  auto response = send(action, request, deadline);
  if (!response) return std::unexpected(response.error());
  auto document = parse_xml(response->body);
  if (!document) {
    return std::unexpected(error(action, ErrorKind::unavailable,
                                 "the answer is not readable XML: " + document.error().message));
  }
  const std::string result_name = std::string(action) + "Result";
  auto result = std::ranges::find(document->children, result_name, &XmlNode::name);
  if (result != document->children.end()) return std::move(*result);
  return std::move(*document);
}

}  // namespace bluegreen::aws
