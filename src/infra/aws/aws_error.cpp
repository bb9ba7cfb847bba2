#include "infra/aws/aws_error.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "infra/aws/xml.h"

namespace bluegreen::aws {

namespace {

constexpr std::size_t kMaxMessage = 600;

constexpr std::array<std::string_view, 13> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
};

constexpr std::array<std::string_view, 8> kTransientCodes = {
    "RequestTimeout",  "RequestTimeoutException", "PriorRequestNotComplete", "InternalError",
    "InternalFailure", "ServiceUnavailable",      "IDPCommunicationError",   "InternalServerError",
};

constexpr std::array<std::string_view, 20> kPermissionCodes = {
    "AccessDenied",
    "AccessDeniedException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "UnrecognizedClientException",
    "InvalidToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "AuthFailure",
    "UnauthorizedOperation",
    "NotAuthorized",
    "RequestExpired",
    "RequestTimeTooSkewed",
    "AuthorizationHeaderMalformed",
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& codes, std::string_view code) {
  return std::ranges::find(codes, code) != codes.end();
}

// One line, bounded: a message is for humans and logs.
std::string tidy(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxMessage) out = out.substr(0, kMaxMessage) + "...";
  return out;
}

// "com.amazon.coral.service#ThrottlingException:http://..." -> "ThrottlingException".
std::string normalise_code(std::string_view code) {
  code = code.substr(0, code.find(':'));
  const auto hash = code.rfind('#');
  if (hash != std::string_view::npos) code = code.substr(hash + 1);
  return std::string(code);
}

std::string status_code_name(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 502:
      return "BadGateway";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return "HTTP" + std::to_string(status);
  }
}

bool parse_json_error(std::string_view body, AwsError& error) {
  const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return false;
  for (const char* key : {"__type", "code", "Code"}) {
    if (auto found = document.find(key); found != document.end() && found->is_string()) {
      error.code = normalise_code(found->get<std::string>());
      break;
    }
  }
  for (const char* key : {"message", "Message", "errorMessage"}) {
    if (auto found = document.find(key); found != document.end() && found->is_string()) {
      error.message = found->get<std::string>();
      break;
    }
  }
  return !error.code.empty() || !error.message.empty();
}

bool parse_xml_error(std::string_view body, AwsError& error) {
  auto document = parse_xml(body);
  if (!document) return false;
  const XmlNode* node = document->find("Error");
  if (node == nullptr) return false;
  error.code = node->child_text("Code");
  error.message = node->child_text("Message");
  for (const char* key : {"RequestId", "RequestID"}) {
    if (error.request_id.empty()) {
      if (const XmlNode* id = document->find(key)) error.request_id = id->text;
    }
  }
  return !error.code.empty();
}

}  // namespace

std::string AwsError::describe() const {
  std::string text = service + " " + operation + ": ";
  if (!code.empty()) text += code;
  if (!message.empty()) text += (code.empty() ? "" : ": ") + message;
  if (http_status != 0) {
    text += " (HTTP " + std::to_string(http_status);
    if (!request_id.empty()) text += ", request id " + request_id;
    text += ")";
  }
  return text;
}

bool is_throttling_code(std::string_view code) {
  return contains(kThrottlingCodes, code);
}

bool is_retryable_aws_error(std::string_view code, int http_status) {
  return is_throttling_code(code) || contains(kTransientCodes, code) || http_status == 429 ||
         http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504;
}

ErrorKind classify_aws_error(std::string_view code, int http_status) {
  if (is_throttling_code(code) || http_status == 429) return ErrorKind::throttled;
  if (contains(kPermissionCodes, code) || http_status == 401 || http_status == 403) {
    return ErrorKind::permission_denied;
  }
  if (code.starts_with("NoSuch") || code.find("NotFound") != std::string_view::npos ||
      code.find("DoesNotExist") != std::string_view::npos || http_status == 404) {
    return ErrorKind::not_found;
  }
  if (code.find("AlreadyExists") != std::string_view::npos ||
      code.find("AlreadyCompleted") != std::string_view::npos ||
      code.find("Conflict") != std::string_view::npos || code == "InvalidJobStateException" ||
      code == "DeploymentLimitExceededException" || http_status == 409) {
    return ErrorKind::conflict;
  }
  if (http_status >= 500 || contains(kTransientCodes, code)) return ErrorKind::unavailable;
  return ErrorKind::invalid_input;
}

AwsError parse_aws_error(std::string_view service, std::string_view operation,
                         const http::Response& response) {
  AwsError error;
  error.service = std::string(service);
  error.operation = std::string(operation);
  error.http_status = response.status;
  for (const char* header : {"x-amzn-RequestId", "x-amz-request-id", "x-amzn-request-id"}) {
    if (auto id = response.header(header)) {
      error.request_id = std::string(*id);
      break;
    }
  }
  const std::string_view body = response.body;
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '{') {
    parse_json_error(body, error);
  } else if (first != std::string_view::npos && body[first] == '<') {
    parse_xml_error(body, error);
  }
  if (error.code.empty()) {
    if (auto type = response.header("x-amzn-ErrorType")) error.code = normalise_code(*type);
  }
  if (error.code.empty()) error.code = status_code_name(response.status);
  error.message = tidy(error.message);
  error.kind = classify_aws_error(error.code, response.status);
  error.retryable = is_retryable_aws_error(error.code, response.status);
  return error;
}

AwsError transport_aws_error(std::string_view service, std::string_view operation,
                             const Error& failure) {
  AwsError error;
  error.service = std::string(service);
  error.operation = std::string(operation);
  error.kind = failure.kind;
  error.message = tidy(failure.message);
  error.retryable = failure.kind == ErrorKind::unavailable || failure.kind == ErrorKind::timeout;
  return error;
}

}  // namespace bluegreen::aws
