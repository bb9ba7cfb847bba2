#include "adapters/elastigroup/elastigroup_executor.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/elastigroup/elastigroup_fakes.h"
#include "adapters/elastigroup/elastigroup_log.h"
#include "adapters/elastigroup/elastigroup_standalone.h"

namespace bluegreen::elastigroup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kJob = "11111111-2222-3333-4444-555555555555";
constexpr const char* kParams = R"({"API_TOKEN":"tok-literal-0xC0FFEE","ACCOUNT_ID":"act-12345678",
  "GROUP_ID":"sig-12345678","APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":"1800",
  "S3_BUCKET":"bucket","S3_KEY":"app.zip","S3_BUNDLE":"zip"})";

struct Harness {
  FakeClock clock;
  FakeElastigroupCloud cloud{clock};
  CallBudget budget;
  ElastigroupExecutor::Options options;
  ElastigroupExecutor executor() {
    return ElastigroupExecutor(
        ElastigroupPorts{cloud, cloud, cloud, cloud, cloud, cloud, clock, budget}, options);
  }
  RunOutcome run(std::string params = kParams, std::optional<std::string> token = std::nullopt,
                 TimePoint must_end_by = TimePoint::max(), std::string job = kJob) {
    return executor().run(ElastigroupJob{job, parse_spec(std::string_view(params)), token},
                          must_end_by);
  }
  // What CodePipeline does after an invocation that continued: the next job (its
  // `invocation`-th) carries the token of the last progress report, which must fit
  // CodePipeline's limit.
  void continue_job(std::optional<std::string>& token, std::string& job, int invocation) {
    auto progress = std::get<ReportProgress>(cloud.reports().back().report);
    EXPECT_LE(progress.continuation_token.size(), kMaxTokenLength);
    token = progress.continuation_token;
    job = fmt::format("22222222-0000-0000-0000-0000000000{:02}", invocation);
  }
};

TEST(ElastigroupExecutor, RunsTheFlowToOneSuccessReport) {
  Harness h;
  EXPECT_EQ(h.run(), RunOutcome::succeeded);
  auto reports = h.cloud.reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].job_id, kJob);
  auto& success = std::get<ReportSuccess>(reports[0].report);
  EXPECT_EQ(success.output_variables.at("DeploymentId"), "d-1");
  EXPECT_EQ(success.output_variables.at("GreenIdentifier"), green_identifier_for_job(kJob));
  auto requests = h.cloud.codedeploy_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].tag_key, "GreenIdentifier");
  EXPECT_EQ(requests[0].tag_value, green_identifier_for_job(kJob));
  EXPECT_TRUE(std::holds_alternative<S3Revision>(requests[0].revision));
  EXPECT_EQ(h.cloud.count("spot.create"), 1);
}

TEST(ElastigroupExecutor, InvalidParametersFailBeforeAnyCloudCall) {
  Harness h;
  std::string params = R"({"API_TOKEN":"t","ACCOUNT_ID":"act-1","GROUP_ID":"sig-1",
    "APP_NAME":"a","TIMEOUT":60,"S3_BUCKET":"b","S3_KEY":"k","S3_BUNDLE":"zip"})";
  EXPECT_EQ(h.run(params), RunOutcome::failed);
  auto calls = h.cloud.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "pipeline.failure");
  auto failure = std::get<ReportFailure>(h.cloud.reports()[0].report);
  EXPECT_EQ(failure.type, FailureType::configuration_error);
  EXPECT_THAT(failure.message, HasSubstr("DEPLOYMENT_GROUP"));
}

TEST(ElastigroupExecutor, HandsOverBeforeTheDeadlineAndResumesFromTheToken) {
  Harness h;
  h.cloud.codedeploy_statuses.assign(14, "InProgress");
  h.cloud.codedeploy_statuses.push_back("Succeeded");
  h.options.reserve = 10s;
  std::optional<std::string> token;
  std::string job = kJob;
  int invocations = 0;
  RunOutcome outcome = RunOutcome::continued;
  while (outcome == RunOutcome::continued && invocations < 20) {
    ++invocations;
    outcome = h.run(kParams, token, h.clock.now() + 60s, job);
    if (outcome != RunOutcome::continued) break;
    h.continue_job(token, job, invocations);
    h.clock.advance(30s);
  }
  ASSERT_EQ(outcome, RunOutcome::succeeded)
      << std::get<ReportFailure>(h.cloud.reports().back().report).message;
  EXPECT_GE(invocations, 3);
  EXPECT_EQ(h.cloud.count("spot.create"), 1);
  EXPECT_EQ(h.cloud.count("codedeploy.create"), 1);
  // The final success went to the job being served, not the first one.
  EXPECT_EQ(h.cloud.reports().back().job_id, job);
  // Its cost covers the overlap from the Spot deployment's create, invocations ago: the
  // continuation token kept when it began.
  auto windows = h.cloud.cost_windows();
  ASSERT_EQ(windows.size(), 1u);
  auto calls = h.cloud.calls();
  auto create = std::ranges::find(calls, "spot.create", &FakeElastigroupCloud::Call::method);
  ASSERT_NE(create, calls.end());
  EXPECT_EQ(windows[0].first, std::chrono::floor<Duration>(create->time));
  EXPECT_GE(windows[0].second - windows[0].first, 60s);
}

TEST(ElastigroupExecutor, InvocationsOfFifteenSecondsEachMakeProgressAndFinish) {
  // The default reserve (30 s) is longer than the invocation: the flow still works in each.
  Harness h;
  h.cloud.codedeploy_statuses.assign(8, "InProgress");
  h.cloud.codedeploy_statuses.push_back("Succeeded");
  std::optional<std::string> token;
  std::string job = kJob;
  int invocations = 0;
  RunOutcome outcome = RunOutcome::continued;
  while (outcome == RunOutcome::continued && invocations < 60) {
    ++invocations;
    std::size_t calls_before = h.cloud.calls().size();
    TimePoint end = h.clock.now() + 15s;
    outcome = h.run(kParams, token, end, job);
    EXPECT_LE(h.clock.now(), end);
    // Besides its report, every invocation made at least one request to the clouds.
    EXPECT_GE(h.cloud.calls().size(), calls_before + 2) << "invocation " << invocations;
    if (outcome != RunOutcome::continued) break;
    h.continue_job(token, job, invocations);
    h.clock.advance(1s);
  }
  ASSERT_EQ(outcome, RunOutcome::succeeded)
      << std::get<ReportFailure>(h.cloud.reports().back().report).message;
  EXPECT_GE(invocations, 2);
  EXPECT_EQ(h.cloud.count("spot.create"), 1);
  EXPECT_EQ(h.cloud.count("codedeploy.create"), 1);
}

TEST(ElastigroupExecutor, NeverRunsPastTheInvocationDeadline) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress"};
  h.options.reserve = 10s;
  TimePoint end = h.clock.now() + 90s;
  EXPECT_EQ(h.run(kParams, std::nullopt, end), RunOutcome::continued);
  EXPECT_LE(h.clock.now(), end - 10s);
}

TEST(ElastigroupExecutor, TheReserveHoldsWhicheverStepTheInvocationIsIn) {
  // However late in the invocation the deployment moves from one step to the next (CodeDeploy
  // succeeding after more or fewer polls), no request goes out within the reserve.
  for (int polls = 1; polls <= 24; ++polls) {
    Harness h;
    h.cloud.codedeploy_statuses = std::deque<std::string>(polls, "InProgress");
    h.cloud.codedeploy_statuses.push_back("Succeeded");
    h.cloud.detaches_blue = false;  // the last step polls until the invocation hands over
    h.options.reserve = 30s;
    TimePoint end = h.clock.now() + 300s;
    h.run(kParams, std::nullopt, end);
    for (const auto& call : h.cloud.calls()) {
      if (call.method.starts_with("pipeline.")) continue;
      EXPECT_LE(call.time, end - 30s) << call.method << " after " << polls << " polls";
    }
  }
}

TEST(ElastigroupExecutor, ARepeatedDeliveryAfterTheResultIsAlreadyReported) {
  Harness h;
  ASSERT_EQ(h.run(), RunOutcome::succeeded);
  EXPECT_EQ(h.run(), RunOutcome::already_reported);
  EXPECT_EQ(h.cloud.count("spot.create"), 1);
  EXPECT_EQ(h.cloud.count("codedeploy.create"), 1);
}

TEST(ElastigroupExecutor, RetriesAReportThatFailsTransiently) {
  Harness h;
  h.cloud.fail_next("pipeline.success", {ErrorKind::throttled, "slow", "ThrottlingException"}, 2);
  EXPECT_EQ(h.run(), RunOutcome::succeeded);
  EXPECT_EQ(h.cloud.count("pipeline.success"), 3);
}

TEST(ElastigroupExecutor, AReportThatCannotBeSentIsSaidSo) {
  Harness h;
  h.cloud.fail_next("pipeline.success",
                    {ErrorKind::permission_denied, "no", "AccessDeniedException"}, 1);
  EXPECT_EQ(h.run(), RunOutcome::report_failed);
}

TEST(ElastigroupExecutor, SpotThrottlingWaitsAndGoesOn) {
  Harness h;
  h.cloud.fail_next("spot.create", {ErrorKind::throttled, "Too Many Requests", "429"});
  TimePoint start = h.clock.now();
  EXPECT_EQ(h.run(), RunOutcome::succeeded);
  EXPECT_EQ(h.cloud.count("spot.create"), 2);
  EXPECT_GE(h.clock.now() - start, 2s);  // the retry waited
}

TEST(ElastigroupExecutor, ResolvesATokenReferenceAndNeverLogsTheToken) {
  Harness h;
  std::string params = kParams;
  params.replace(params.find("tok-literal-0xC0FFEE"), 20, "ssm:/spot/token");
  h.cloud.secrets["ssm:/spot/token"] = Secret("resolved-secret-0xBEEF");
  EXPECT_EQ(h.run(params), RunOutcome::succeeded);
  for (const auto& token : h.cloud.tokens_seen()) EXPECT_EQ(token, "resolved-secret-0xBEEF");
  for (const auto& event : h.cloud.events()) {
    std::string line = to_json_line(event);
    EXPECT_EQ(line.find("resolved-secret"), std::string::npos) << line;
    EXPECT_EQ(line.find("tok-literal"), std::string::npos) << line;
  }
}

TEST(ElastigroupExecutor, CodeDeployFailureIsReportedOnceAndSpotStopped) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress", "Failed"};
  EXPECT_EQ(h.run(), RunOutcome::failed);
  auto reports = h.cloud.reports();
  ASSERT_EQ(reports.size(), 1u);
  auto& failure = std::get<ReportFailure>(reports[0].report);
  EXPECT_EQ(failure.type, FailureType::job_failed);
  EXPECT_THAT(failure.message, HasSubstr("ValidateService failed on i-green1"));
  EXPECT_EQ(h.cloud.count("spot.stop"), 1);
  EXPECT_TRUE(h.cloud.live_greens().empty());
}

// ---- The cost of a deployment -----------------------------------------------------------------

std::string everything_reported(const FakeElastigroupCloud& cloud) {
  std::string all;
  for (const auto& report : cloud.reports()) {
    if (const auto* s = std::get_if<ReportSuccess>(&report.report)) {
      all += s->details.summary + "\n";
      for (const auto& [name, value] : s->output_variables) all += name + "=" + value + "\n";
    } else if (const auto* f = std::get_if<ReportFailure>(&report.report)) {
      all += f->message + "\n";
    }
  }
  for (const auto& event : cloud.events()) all += to_json_line(event) + "\n";
  return all;
}

TEST(ElastigroupCost, SpotsCostsOfTheOverlapGoIntoTheSummaryAndTheOutputVariables) {
  Harness h;
  h.cloud.costs = SpotCosts{1.5, 0.0123, 0.0456};
  const TimePoint started = h.clock.now();
  ASSERT_EQ(h.run(), RunOutcome::succeeded);
  const auto success = std::get<ReportSuccess>(h.cloud.reports().back().report);
  EXPECT_EQ(success.output_variables.at("DeploymentCost"), "0.0123");
  EXPECT_EQ(success.output_variables.at("OnDemandCost"), "0.0456");
  EXPECT_THAT(success.details.summary, HasSubstr("detached the blue instances; cost: blue and "
                                                 "green ran together for "));
  // Two blue instances and the two greens Spot launched.
  EXPECT_THAT(success.details.summary, HasSubstr("on 4 instance(s) ("));
  EXPECT_THAT(success.details.summary,
              HasSubstr("): spot $0.0123, on demand $0.0456, saved $0.0333 (73%)"));
  EXPECT_LE(success.details.summary.size(), 2048u);
  auto windows = h.cloud.cost_windows();
  ASSERT_EQ(windows.size(), 1u) << "one request for the costs";
  EXPECT_GE(windows[0].first, std::chrono::floor<Duration>(started));
  EXPECT_LE(windows[0].first, windows[0].second);
  EXPECT_LE(windows[0].second, h.clock.now());
}

TEST(ElastigroupCost, NoCostsForTheWindowYetIsSaidInWordsWithoutVariables) {
  Harness h;
  h.cloud.costs = SpotCosts{0, 0, 0};  // Spot's costs lag: nothing for this window yet
  ASSERT_EQ(h.run(), RunOutcome::succeeded);
  const auto success = std::get<ReportSuccess>(h.cloud.reports().back().report);
  EXPECT_THAT(success.details.summary, HasSubstr("Spot has no costs for this window yet"));
  EXPECT_THAT(success.details.summary, Not(HasSubstr("$")));
  EXPECT_THAT(success.details.summary, Not(HasSubstr("0.0000")));
  EXPECT_FALSE(success.output_variables.contains("DeploymentCost"));
  EXPECT_FALSE(success.output_variables.contains("OnDemandCost"));
}

TEST(ElastigroupCost, AFailedCostsRequestNamesItsCauseAndLeavesTheOutcomeAlone) {
  Harness h;
  // An answer that quotes the request back, token and all.
  h.cloud.fail_next("spot.costs", {ErrorKind::unavailable,
                                   "spot group costs: HTTP 503: upstream said Authorization: "
                                   "Bearer tok-literal-0xC0FFEE",
                                   "503"});
  ASSERT_EQ(h.run(), RunOutcome::succeeded);
  const auto success = std::get<ReportSuccess>(h.cloud.reports().back().report);
  EXPECT_THAT(success.details.summary,
              HasSubstr("could not read Spot's costs: spot group costs: HTTP 503"));
  EXPECT_FALSE(success.output_variables.contains("DeploymentCost"));
  EXPECT_EQ(everything_reported(h.cloud).find("tok-literal"), std::string::npos);
  EXPECT_EQ(h.cloud.count("spot.costs"), 1) << "asked once, not again after the failure";
}

TEST(ElastigroupCost, AFailedDeploymentSaysWhatItCost) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress", "Failed"};
  ASSERT_EQ(h.run(), RunOutcome::failed);
  const auto failure = std::get<ReportFailure>(h.cloud.reports().back().report);
  EXPECT_THAT(failure.message, HasSubstr("ValidateService failed on i-green1"));
  EXPECT_THAT(failure.message, HasSubstr("; cost: blue and green ran together for "));
  EXPECT_THAT(failure.message, HasSubstr("spot $0.0123, on demand $0.0456"));

  Harness unknown;
  unknown.cloud.codedeploy_statuses = {"InProgress", "Failed"};
  unknown.cloud.costs = SpotCosts{0, 0, 0};
  ASSERT_EQ(unknown.run(), RunOutcome::failed);
  EXPECT_THAT(std::get<ReportFailure>(unknown.cloud.reports().back().report).message,
              Not(HasSubstr("cost:")));
}

TEST(ElastigroupCost, NoGreensNoCostsRequest) {
  Harness h;
  h.cloud.fail_next("spot.create", {ErrorKind::permission_denied, "no", "401"});
  ASSERT_EQ(h.run(), RunOutcome::failed);
  EXPECT_EQ(h.cloud.count("spot.costs"), 0);
  EXPECT_TRUE(h.cloud.cost_windows().empty());
}

TEST(ElastigroupStandalone, ReturnsTheResultInsteadOfReportingIt) {
  Harness h;
  auto ports =
      ElastigroupPorts{h.cloud, h.cloud, h.cloud, h.cloud, h.cloud, h.cloud, h.clock, h.budget};
  StandaloneResult ok =
      run_standalone(ports, {}, "cli-deployment-1", *parse_spec(std::string_view(kParams)));
  EXPECT_EQ(ok.outcome, RunOutcome::succeeded);
  EXPECT_EQ(ok.deployment_id, "d-1");
  EXPECT_EQ(ok.outputs.at("GreenIdentifier"), green_identifier_for_job("cli-deployment-1"));
  EXPECT_EQ(ok.outputs.at("DeploymentCost"), "0.0123");
  ASSERT_TRUE(ok.cost);
  EXPECT_EQ(ok.cost->spot_usd, 0.0123);
  EXPECT_EQ(ok.cost->instances, 4);
  EXPECT_TRUE(h.cloud.reports().empty());  // nothing went to CodePipeline

  // parse_spec accepts it; the flow refuses a GROUP_ID that is not an Elastigroup's.
  auto wrong_group = parse_spec(std::string_view(
      R"({"API_TOKEN":"t","ACCOUNT_ID":"act-12345678","GROUP_ID":"web","APP_NAME":"app",
      "DEPLOYMENT_GROUP":"dg","TIMEOUT":60,"S3_BUCKET":"b","S3_KEY":"k","S3_BUNDLE":"zip"})"));
  ASSERT_TRUE(wrong_group) << wrong_group.error().message;
  StandaloneResult bad = run_standalone(ports, {}, "cli-deployment-2", *wrong_group);
  EXPECT_EQ(bad.outcome, RunOutcome::failed);
  EXPECT_EQ(bad.failure_type, FailureType::configuration_error);
  EXPECT_THAT(bad.message, HasSubstr("GROUP_ID"));
}

TEST(JsonLinesLog, WritesOneParseableLinePerRecord) {
  std::ostringstream out;
  JsonLinesLog log(out);
  DeploymentEvent event{"",
                        from_epoch_ms(1'800'000'000'123),
                        bluegreen::Phase::install,
                        EventKind::info,
                        "AfterInstall Succeeded",
                        "i-0abc",
                        "lifecycle_event",
                        {{"status", "Succeeded"},
                         {"flow_phase", "follow"},
                         {"job_id", "job-2"},
                         {"original_job_id", "job-1"},
                         {"green_identifier", "gid"},
                         {"spot_deployment_id", "cdbg-1"},
                         {"codedeploy_deployment_id", "d-1"}}};
  log.publish(event);
  log.publish(event);
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["event"], "lifecycle_event");
    EXPECT_EQ(json["deployment_id"], "d-1");
    EXPECT_EQ(json["phase"], "follow");
    EXPECT_EQ(json["instance"], "i-0abc");
    EXPECT_EQ(json["original_job_id"], "job-1");
    EXPECT_EQ(json["time"], "2027-01-15T08:00:00.123Z");
    EXPECT_EQ(json["status"], "Succeeded");
    // The record's own names for the flow's phase and CodeDeploy's id are not the line's keys.
    EXPECT_FALSE(json.contains("flow_phase")) << line;
    EXPECT_FALSE(json.contains("codedeploy_deployment_id")) << line;
  }
  EXPECT_EQ(count, 2);
}

}  // namespace
}  // namespace bluegreen::elastigroup
