#include "frontends/lambda/runtime_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

namespace bluegreen::lambda {
namespace {

// Request ids go into URL paths: accept only what Lambda uses (UUIDs).
bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::ranges::all_of(id, [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

}  // namespace

RuntimeApi::RuntimeApi(http::HttpClient& http, std::string endpoint)
    : http_(http), base_(fmt::format("http://{}/2018-06-01", endpoint)) {}

Result<Invocation> RuntimeApi::next() {
  http::Request request;
  request.method = "GET";
  request.url = base_ + "/runtime/invocation/next";
  auto response = http_.send(request);
  if (!response) return std::unexpected(response.error().with_context("Runtime API next"));
  if (response->status != 200) {
    return fail(response->status >= 500 ? ErrorKind::internal : ErrorKind::invalid_input,
                fmt::format("Runtime API next answered HTTP {}", response->status));
  }
  Invocation invocation;
  invocation.request_id =
      std::string(response->header("Lambda-Runtime-Aws-Request-Id").value_or(""));
  if (!valid_request_id(invocation.request_id)) {
    return fail(ErrorKind::invalid_input, "Runtime API next gave no usable request id");
  }
  auto deadline = response->header("Lambda-Runtime-Deadline-Ms");
  long long deadline_ms = 0;
  if (!deadline ||
      std::from_chars(deadline->data(), deadline->data() + deadline->size(), deadline_ms).ec !=
          std::errc{}) {
    return fail(ErrorKind::invalid_input, "Runtime API next gave no usable deadline");
  }
  invocation.deadline = from_epoch_ms(deadline_ms);
  invocation.trace_id = std::string(response->header("Lambda-Runtime-Trace-Id").value_or(""));
  invocation.function_arn =
      std::string(response->header("Lambda-Runtime-Invoked-Function-Arn").value_or(""));
  invocation.payload = std::move(response->body);
  return invocation;
}

Result<void> RuntimeApi::respond(const std::string& request_id, const std::string& body) {
  if (!valid_request_id(request_id)) return fail(ErrorKind::invalid_input, "bad request id");
  return post(fmt::format("/runtime/invocation/{}/response", request_id), body, "");
}

Result<void> RuntimeApi::report_error(const std::string& request_id, const RuntimeError& error) {
  if (!valid_request_id(request_id)) return fail(ErrorKind::invalid_input, "bad request id");
  nlohmann::json body = {{"errorMessage", error.message},
                         {"errorType", error.type},
                         {"stackTrace", nlohmann::json::array()}};
  return post(fmt::format("/runtime/invocation/{}/error", request_id),
              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), error.type);
}

Result<void> RuntimeApi::report_init_error(const RuntimeError& error) {
  nlohmann::json body = {{"errorMessage", error.message},
                         {"errorType", error.type},
                         {"stackTrace", nlohmann::json::array()}};
  return post("/runtime/init/error",
              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), error.type);
}

Result<void> RuntimeApi::post(const std::string& path, const std::string& body,
                              const std::string& error_type) {
  http::Request request;
  request.method = "POST";
  request.url = base_ + path;
  request.body = body;
  request.headers.emplace_back("Content-Type", "application/json");
  if (!error_type.empty()) {
    request.headers.emplace_back("Lambda-Runtime-Function-Error-Type", error_type);
  }
  request.timeout = std::chrono::seconds(30);
  auto response = http_.send(request);
  if (!response) return std::unexpected(response.error().with_context("Runtime API " + path));
  if (response->status == 202 || response->status == 200) return {};
  return fail(response->status >= 500 ? ErrorKind::internal : ErrorKind::invalid_input,
              fmt::format("Runtime API {} answered HTTP {}", path, response->status));
}

}  // namespace bluegreen::lambda
