#include "frontends/lambda/runtime_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "frontends/lambda/codepipeline_event.h"
#include "frontends/lambda/lambda_settings.h"
#include "frontends/lambda/runtime_loop.h"

namespace bluegreen::lambda {
namespace {

using ::testing::HasSubstr;

// Answers requests from a script and records them.
class ScriptedHttp final : public http::HttpClient {
 public:
  std::deque<Result<http::Response>> answers;
  std::vector<http::Request> requests;
  Result<http::Response> send(const http::Request& request) override {
    requests.push_back(request);
    if (answers.empty()) return fail(ErrorKind::unavailable, "connection refused");
    auto answer = answers.front();
    answers.pop_front();
    return answer;
  }
};

http::Response next_answer(std::string id, std::string payload, std::string trace = "") {
  http::Response r;
  r.status = 200;
  r.headers = {{"Lambda-Runtime-Aws-Request-Id", id},
               {"Lambda-Runtime-Deadline-Ms", "1800000000000"},
               {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f"}};
  if (!trace.empty()) r.headers.emplace_back("Lambda-Runtime-Trace-Id", trace);
  r.body = std::move(payload);
  return r;
}

http::Response accepted() {
  http::Response r;
  r.status = 202;
  return r;
}

TEST(RuntimeApi, NextReadsTheInvocationHeaders) {
  ScriptedHttp http;
  http.answers.push_back(next_answer("req-1", "{}", "Root=1-abc;Parent=1;Sampled=1"));
  RuntimeApi api(http, "127.0.0.1:9001");
  auto invocation = api.next();
  ASSERT_TRUE(invocation) << invocation.error().message;
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].url, "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next");
  EXPECT_EQ(invocation->request_id, "req-1");
  EXPECT_EQ(to_epoch_ms(invocation->deadline), 1'800'000'000'000);
  EXPECT_EQ(invocation->trace_id, "Root=1-abc;Parent=1;Sampled=1");
  EXPECT_EQ(invocation->payload, "{}");
}

TEST(RuntimeApi, NextWithoutRequestIdOrDeadlineIsAnError) {
  ScriptedHttp http;
  auto no_id = next_answer("", "{}");
  auto no_deadline = next_answer("req-1", "{}");
  http::remove_header(no_deadline.headers, "Lambda-Runtime-Deadline-Ms");
  auto bad_id = next_answer("../../etc", "{}");
  http.answers = {no_id, no_deadline, bad_id};
  RuntimeApi api(http, "h:1");
  EXPECT_FALSE(api.next());
  EXPECT_FALSE(api.next());
  EXPECT_FALSE(api.next());
}

TEST(RuntimeApi, PostsResponsesAndErrorsWhereTheApiSays) {
  ScriptedHttp http;
  http.answers = {accepted(), accepted(), accepted()};
  RuntimeApi api(http, "h:1");
  ASSERT_TRUE(api.respond("req-1", R"({"ok":true})"));
  ASSERT_TRUE(api.report_error("req-2", {"Runtime.InvalidEvent", "not a job"}));
  ASSERT_TRUE(api.report_init_error({"Runtime.InvalidConfiguration", "bad"}));
  EXPECT_EQ(http.requests[0].url, "http://h:1/2018-06-01/runtime/invocation/req-1/response");
  EXPECT_EQ(http.requests[0].body, R"({"ok":true})");
  EXPECT_EQ(http.requests[1].url, "http://h:1/2018-06-01/runtime/invocation/req-2/error");
  EXPECT_EQ(http::find_header(http.requests[1].headers, "Lambda-Runtime-Function-Error-Type"),
            "Runtime.InvalidEvent");
  auto body = nlohmann::json::parse(http.requests[1].body);
  EXPECT_EQ(body["errorType"], "Runtime.InvalidEvent");
  EXPECT_EQ(body["errorMessage"], "not a job");
  EXPECT_TRUE(body["stackTrace"].is_array());
  EXPECT_EQ(http.requests[2].url, "http://h:1/2018-06-01/runtime/init/error");
}

TEST(RuntimeApi, AContainerErrorIsInternal) {
  ScriptedHttp http;
  http::Response error;
  error.status = 500;
  http.answers = {error};
  RuntimeApi api(http, "h:1");
  auto posted = api.respond("req-1", "{}");
  ASSERT_FALSE(posted);
  EXPECT_EQ(posted.error().kind, ErrorKind::internal);
}

class RecordingHandler final : public InvocationHandler {
 public:
  std::vector<std::string> traces;
  HandlerResult handle(const Invocation& invocation) override {
    const char* trace = std::getenv("_X_AMZN_TRACE_ID");
    traces.push_back(trace ? trace : "");
    if (invocation.payload == "fail") return {false, "", {"Runtime.Test", "failed"}};
    return {true, "done", {}};
  }
};

TEST(RuntimeLoop, ServesUntilTheApiGoesAwayAndExportsTheTraceId) {
  ScriptedHttp http;
  http.answers = {next_answer("req-1", "ok", "Root=1-a"), accepted(), next_answer("req-2", "fail"),
                  accepted()};
  RuntimeApi api(http, "h:1");
  RecordingHandler handler;
  std::ostringstream log;
  EXPECT_EQ(serve(api, handler, log), 1);
  EXPECT_EQ(handler.traces, (std::vector<std::string>{"Root=1-a", ""}));
  ASSERT_EQ(http.requests.size(), 7u);  // 2 × (next + post) + 3 failed next
  EXPECT_THAT(http.requests[1].url, HasSubstr("/req-1/response"));
  EXPECT_THAT(http.requests[3].url, HasSubstr("/req-2/error"));
  EXPECT_THAT(log.str(), HasSubstr("next_failed"));
}

TEST(CodePipelineEvent, ReadsTheLiteralDottedKey) {
  auto job =
      parse_codepipeline_event(R"({"CodePipeline.job":{"id":"11111111-2222-3333-4444-555555555555",
    "accountId":"111111111111","data":{"actionConfiguration":{"configuration":{
    "FunctionName":"f","UserParameters":"{\"TIMEOUT\":60}"}},
    "artifactCredentials":{"accessKeyId":"AKIA","secretAccessKey":"s","sessionToken":"t"},
    "continuationToken":"tok"}}})");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(job->user_parameters, R"({"TIMEOUT":60})");
  EXPECT_EQ(job->continuation_token, "tok");
}

TEST(CodePipelineEvent, RejectsOtherEventsWithoutQuotingThem) {
  auto nested = parse_codepipeline_event(R"({"CodePipeline":{"job":{"id":"secret-id"}}})");
  ASSERT_FALSE(nested);
  EXPECT_THAT(nested.error().message, HasSubstr("CodePipeline.job"));
  EXPECT_EQ(nested.error().message.find("secret-id"), std::string::npos);
  EXPECT_FALSE(parse_codepipeline_event("not json"));
  EXPECT_FALSE(parse_codepipeline_event(R"({"CodePipeline.job":{"data":{}}})"));
}

TEST(LambdaSettings, ReadsTheEnvironment) {
  std::map<std::string, std::string> env = {{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"},
                                            {"_HANDLER", "bluegreen.lambda_handler"},
                                            {"BLUEGREEN_POLL_SECONDS", "0.5"},
                                            {"BLUEGREEN_RESERVE_SECONDS", "2"}};
  auto getenv = [&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional(it->second);
  };
  auto settings = settings_from_environment(getenv);
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->runtime_api, "127.0.0.1:9001");
  EXPECT_EQ(settings->options.poll_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(settings->options.max_poll_interval, std::chrono::milliseconds(15000));
  EXPECT_EQ(settings->options.request_spacing, std::chrono::milliseconds(3000));
  EXPECT_EQ(settings->options.reserve, std::chrono::milliseconds(2000));

  env["_HANDLER"] = "index.handler";
  auto wrong = settings_from_environment(getenv);
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message, HasSubstr("bluegreen.lambda_handler"));
  env["_HANDLER"] = "bluegreen.lambda_handler";
  env["BLUEGREEN_POLL_SECONDS"] = "soon";
  auto bad = settings_from_environment(getenv);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("BLUEGREEN_POLL_SECONDS"));
}

}  // namespace
}  // namespace bluegreen::lambda
