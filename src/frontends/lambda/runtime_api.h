// RuntimeApi: the client side of the Lambda Runtime API (version 2018-06-01) that a custom
// runtime (`bootstrap`) speaks with the Lambda service over plain HTTP at
// http://$AWS_LAMBDA_RUNTIME_API/2018-06-01:
//
//   next()              GET  /runtime/invocation/next            blocks until an invocation
//   respond()           POST /runtime/invocation/{id}/response   the handler's result
//   report_error()      POST /runtime/invocation/{id}/error      the handler failed
//   report_init_error() POST /runtime/init/error                 the runtime cannot start
//
// The HttpClient given for `next` must not time out: Lambda freezes the process between
// invocations, and a `next` may wait for as long as the function sits idle.
//
// Errors: invalid_input when the service rejected what we sent (4xx) or answered something
// unusable (no request id, no deadline); internal for a 500, which the Runtime API documents
// as a container error after which the runtime must exit; what HttpClient reports otherwise.
// Payloads and error messages are never logged here.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "infra/http/http_client.h"

namespace bluegreen::lambda {

struct Invocation {
  std::string request_id;    // Lambda-Runtime-Aws-Request-Id
  TimePoint deadline;        // Lambda-Runtime-Deadline-Ms
  std::string trace_id;      // Lambda-Runtime-Trace-Id (X-Ray), may be empty
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string payload;       // the event (JSON); may hold credentials: never log it
};

struct RuntimeError {
  std::string type;     // Lambda-Runtime-Function-Error-Type, e.g. "Runtime.InvalidEvent"
  std::string message;  // for people; holds no secret
};

class RuntimeApi {
 public:
  // `endpoint` is AWS_LAMBDA_RUNTIME_API (host:port, no scheme).
  RuntimeApi(http::HttpClient& http, std::string endpoint);

  Result<Invocation> next();
  Result<void> respond(const std::string& request_id, const std::string& body);
  Result<void> report_error(const std::string& request_id, const RuntimeError& error);
  Result<void> report_init_error(const RuntimeError& error);

 private:
  Result<void> post(const std::string& path, const std::string& body,
                    const std::string& error_type);

  http::HttpClient& http_;
  std::string base_;
};

}  // namespace bluegreen::lambda
