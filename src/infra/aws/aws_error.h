// AwsError: a failed AWS call, typed. It says which service and operation failed, the code
// and message AWS gave, the request id to quote to AWS support, the HTTP status (0 when no
// answer arrived), and whether a retry may help. It converts to bluegreen::Error, which keeps
// the code and whose message reads, for example:
//   codedeploy GetDeployment: SignatureDoesNotMatch: The request signature we calculated
//   does not match ... (HTTP 403, request id 8f3b...)
// Messages come from AWS error documents, which never echo credentials; they are cut to a
// bounded length and kept on one line.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "core/error.h"
#include "infra/http/http_client.h"

namespace bluegreen::aws {

struct AwsError {
  ErrorKind kind = ErrorKind::internal;
  std::string service;    // signing name: "codedeploy", "s3", ...
  std::string operation;  // "GetDeployment", "GetObject", ...
  std::string code;       // "ThrottlingException", "NoSuchKey"; "" when no answer arrived
  std::string message;
  std::string request_id;
  int http_status = 0;
  bool retryable = false;

  std::string describe() const;
  Error to_error() const { return Error{kind, describe(), code}; }
  // Lets an AwsResult<T> convert to a Result<T>.
  operator Error() const { return to_error(); }  // NOLINT(google-explicit-constructor)
};

template <typename T>
using AwsResult = std::expected<T, AwsError>;

// Reads the error from a non-2xx answer: JSON (`__type`/`code`, `message`/`Message`),
// XML (<Error><Code>/<Message>, in <ErrorResponse>, <Response><Errors> or alone), the
// x-amzn-ErrorType header, or, with no usable body (HEAD), the HTTP status itself.
AwsError parse_aws_error(std::string_view service, std::string_view operation,
                         const http::Response& response);

// An AwsError for a call that got no answer (send() failed).
AwsError transport_aws_error(std::string_view service, std::string_view operation,
                             const Error& failure);

// How bluegreen treats an AWS error code (with its HTTP status).
ErrorKind classify_aws_error(std::string_view code, int http_status);
bool is_throttling_code(std::string_view code);
bool is_retryable_aws_error(std::string_view code, int http_status);

}  // namespace bluegreen::aws
