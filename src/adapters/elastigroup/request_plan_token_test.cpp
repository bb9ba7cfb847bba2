#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "adapters/elastigroup/request_plan.h"

namespace bluegreen::elastigroup {
namespace {

using ::testing::HasSubstr;

FlowState sample_state() {
  FlowState s;
  s.stage = Stage::follow;
  s.original_job_id = "11111111-2222-3333-4444-555555555555";
  s.green_identifier = green_identifier_for_job(s.original_job_id);
  s.spot_deployment_id = "cdbg-611a38d3";
  s.codedeploy_deployment_id = "d-AB1CDEF23";
  s.started = from_epoch_ms(1'800'000'000'000);
  s.deadline = s.started + std::chrono::minutes(30);
  s.target_capacity = 2;
  s.blue_count = 2;
  s.green_ids = {"i-0aaa", "i-0bbb"};
  s.greens_running = 2;
  s.greens_passing = 2;
  s.codedeploy_status = "InProgress";
  s.codedeploy_overview = "InProgress/0/2/0/0/0/0";
  s.last_request = s.started + std::chrono::minutes(1);
  s.poll_interval = Duration(22'500);
  s.round = 7;
  s.instance_progress = {{"i-0aaa", "AfterInstall:InProgress"}};
  s.spot_state = "STARTING/INITIALIZING";
  return s;
}

TEST(ElastigroupToken, RoundTripsTheState) {
  FlowState s = sample_state();
  std::string token = to_token(s);
  EXPECT_LE(token.size(), kMaxTokenLength);
  auto back = from_token(token);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->stage, Stage::follow);
  EXPECT_EQ(back->original_job_id, s.original_job_id);
  EXPECT_EQ(back->green_identifier, s.green_identifier);
  EXPECT_EQ(back->spot_deployment_id, "cdbg-611a38d3");
  EXPECT_EQ(back->codedeploy_deployment_id, "d-AB1CDEF23");
  EXPECT_EQ(back->deadline, s.deadline);
  EXPECT_EQ(back->green_ids, s.green_ids);
  EXPECT_EQ(back->instance_progress, s.instance_progress);
  EXPECT_EQ(back->round, 7);
  EXPECT_EQ(back->poll_interval, Duration(22'500));
  EXPECT_FALSE(back->failure.has_value());
}

TEST(ElastigroupToken, RoundTripsAFailureBeingCleanedUp) {
  FlowState s = sample_state();
  s.stage = Stage::stopping;
  s.failure = PendingFailure{FailureType::revision_unavailable, "revision missing"};
  s.cleanup_deadline = from_epoch_ms(42);
  s.codedeploy_stop_sent = true;
  auto back = from_token(to_token(s));
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->failure);
  EXPECT_EQ(back->failure->type, FailureType::revision_unavailable);
  EXPECT_EQ(back->failure->message, "revision missing");
  EXPECT_EQ(back->cleanup_deadline, from_epoch_ms(42));
  EXPECT_TRUE(back->codedeploy_stop_sent);
  EXPECT_FALSE(back->spot_stop_sent);
}

// The token's wire format: times are Unix epoch milliseconds and durations milliseconds, so a
// token handed over by an earlier build resumes with the same deadline and pacing.
TEST(ElastigroupToken, TimesTravelAsEpochMilliseconds) {
  auto back =
      from_token(R"({"v":1,"job":"job-1","gid":"gid-1","ph":"stopping","t0":1800000000000,)"
                 R"("dl":1800001800000,"lr":1800000060000,"pi":22500,"ft":"JobFailed","fm":"x",)"
                 R"("cdl":1800000300000})");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_epoch_ms(back->started), 1'800'000'000'000);
  EXPECT_EQ(back->deadline - back->started, std::chrono::minutes(30));
  EXPECT_EQ(back->last_request - back->started, std::chrono::minutes(1));
  EXPECT_EQ(back->poll_interval, std::chrono::milliseconds(22'500));
  EXPECT_EQ(back->cleanup_deadline - back->started, std::chrono::minutes(5));

  nlohmann::json written = nlohmann::json::parse(to_token(*back));
  EXPECT_EQ(written.at("t0"), 1'800'000'000'000);
  EXPECT_EQ(written.at("dl"), 1'800'001'800'000);
  EXPECT_EQ(written.at("lr"), 1'800'000'060'000);
  EXPECT_EQ(written.at("pi"), 22'500);
  EXPECT_EQ(written.at("cdl"), 1'800'000'300'000);
}

TEST(ElastigroupToken, AHugeStateStillFitsAndKeepsWhatMatters) {
  FlowState s = sample_state();
  s.stage = Stage::stopping;
  for (int i = 0; i < 300; ++i) {
    std::string id = fmt::format("i-{:017x}", i);
    s.green_ids.push_back(id);
    s.instance_progress[id] = "ValidateService:InProgress";
  }
  s.failure = PendingFailure{FailureType::job_failed, std::string(1500, 'x')};
  s.failed_lifecycle = std::string(600, 'y');
  s.cleanup_note = std::string(600, 'z');
  s.last_transient_error = std::string(300, 'w');
  std::string token = to_token(s);
  EXPECT_LE(token.size(), kMaxTokenLength);
  auto back = from_token(token);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->spot_deployment_id, s.spot_deployment_id);
  EXPECT_EQ(back->codedeploy_deployment_id, s.codedeploy_deployment_id);
  EXPECT_EQ(back->stage, Stage::stopping);
  ASSERT_TRUE(back->failure);
  EXPECT_FALSE(back->failure->message.empty());
}

// What Spot interruptions leave for the next invocation (request_plan.h, "Spot interruptions").
TEST(ElastigroupToken, RoundTripsWhatInterruptionsLeftToDo) {
  FlowState s = sample_state();
  s.blue_ids = {"i-0b01", "i-0b02"};
  s.blue_lost = {"i-0b02"};
  s.reclaimed = {{"i-0aaa", "was reclaimed by a spot interruption at 2026-12-06T10:00:00Z"}};
  s.installed_ids = {"i-0aaa", "i-0bbb"};
  s.failed_targets = {"i-0aaa"};
  s.install_round = 1;
  s.replacements_only = true;
  s.earlier_codedeploy_ids = {"d-0000001"};
  s.main_codedeploy_id = "d-0000001";
  auto back = from_token(to_token(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->blue_ids, s.blue_ids);
  EXPECT_EQ(back->blue_lost, s.blue_lost);
  EXPECT_EQ(back->reclaimed, s.reclaimed);
  EXPECT_EQ(back->installed_ids, s.installed_ids);
  EXPECT_EQ(back->failed_targets, s.failed_targets);
  EXPECT_EQ(back->install_round, 1);
  EXPECT_TRUE(back->replacements_only);
  EXPECT_EQ(back->earlier_codedeploy_ids, s.earlier_codedeploy_ids);
  EXPECT_EQ(back->main_codedeploy_id, s.main_codedeploy_id);
}

TEST(ElastigroupToken, AGroupOfTwentyKeepsTheBlueInstancesAnUntaggedReplacementNeeds) {
  FlowState s = sample_state();
  s.green_ids.clear();
  for (int i = 0; i < 20; ++i) {
    s.blue_ids.push_back(fmt::format("i-0b1e{:013x}", i));
    s.green_ids.push_back(fmt::format("i-06e0{:013x}", i));
  }
  s.installed_ids = s.green_ids;
  s.reclaimed[s.green_ids[0]] = "was reclaimed by a spot interruption at 2026-12-06T10:00:00Z";
  std::string token = to_token(s);
  EXPECT_LE(token.size(), kMaxTokenLength);
  auto back = from_token(token);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->blue_ids, s.blue_ids);
  EXPECT_EQ(back->installed_ids, s.installed_ids);
}

TEST(ElastigroupToken, StaysWithinItsLimitWhateverIsReclaimed) {
  FlowState s = sample_state();
  s.stage = Stage::wait_blue_detached;
  s.greens_serving = true;
  for (int i = 0; i < 60; ++i) {
    s.reclaimed[fmt::format("i-06e0{:013x}", i)] =
        "was reclaimed by a spot interruption at 2027-01-15T08:07:00.050Z";
    s.installed_ids.push_back(fmt::format("i-06e0{:013x}", i));
  }
  std::string token = to_token(s);
  EXPECT_LE(token.size(), kMaxTokenLength);
  auto back = from_token(token);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->greens_serving);
  EXPECT_EQ(back->codedeploy_deployment_id, s.codedeploy_deployment_id);
}

TEST(ElastigroupToken, RejectsWhatItDidNotWrite) {
  EXPECT_FALSE(from_token("not json"));
  EXPECT_FALSE(from_token("[]"));
  EXPECT_FALSE(from_token(R"({"v":2})"));
  EXPECT_FALSE(from_token(R"({"v":1,"ph":"follow"})"));
  EXPECT_FALSE(from_token(R"({"v":1,"ph":"nowhere","job":"j","gid":"g","t0":1,"dl":2})"));
  EXPECT_FALSE(from_token(R"({"v":1,"ph":"follow","job":"j","gid":"g","t0":"x","dl":2})"));
  // A stopping state must carry the failure it reports.
  EXPECT_FALSE(from_token(R"({"v":1,"ph":"stopping","job":"j","gid":"g","t0":1,"dl":2})"));
  EXPECT_FALSE(from_token(std::string(kMaxTokenLength + 1, ' ')));
}

TEST(ElastigroupGreenIdentifier, IsAUuidStableForAJobAndDistinctAcrossJobs) {
  std::string a = green_identifier_for_job("11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(a, green_identifier_for_job("11111111-2222-3333-4444-555555555555"));
  EXPECT_NE(a, green_identifier_for_job("11111111-2222-3333-4444-555555555556"));
  EXPECT_TRUE(std::regex_match(
      a, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << a;
}

TEST(ElastigroupSpotProgress, ReadsKnownWordsAndTreatsUnknownOnesAsRunning) {
  EXPECT_EQ(classify({"cdbg-1", "STARTING", "INITIALIZING", ""}), SpotProgress::running);
  EXPECT_EQ(classify({"cdbg-1", "SOMETHING_NEW", "", ""}), SpotProgress::running);
  EXPECT_EQ(classify({"cdbg-1", "finished", "", ""}), SpotProgress::finished);
  EXPECT_EQ(classify({"cdbg-1", "", "TIMED_OUT", ""}), SpotProgress::failed);
  EXPECT_EQ(classify({"cdbg-1", "STOPPED", "FINISHED", ""}), SpotProgress::failed);
}

DeploymentSpec spec_from(std::string_view json) {
  auto spec = parse_spec(json);
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

constexpr std::string_view kJob = "11111111-2222-3333-4444-555555555555";

TEST(ElastigroupConfig, BuildsFromTheSeedParameters) {
  auto config =
      make_flow_config(spec_from(R"({"API_TOKEN":"ssm:/spot/token","ACCOUNT_ID":"act-12345678",
                   "GROUP_ID":"sig-12345678","APP_NAME":"app","DEPLOYMENT_GROUP":"dg",
                   "TIMEOUT":"900","S3_BUCKET":"b","S3_KEY":"k.zip","S3_BUNDLE":"zip"})"),
                       std::string(kJob));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->token_reference, "ssm:/spot/token");
  EXPECT_EQ(config->timeout, std::chrono::seconds(900));
  EXPECT_EQ(config->green_identifier, green_identifier_for_job(kJob));
  EXPECT_EQ(config->revision, "s3://b/k.zip (zip)");
}

TEST(ElastigroupConfig, ALiteralTokenIsNotAReference) {
  auto config = make_flow_config(
      spec_from(R"({"API_TOKEN":"abc","ACCOUNT_ID":"act-1","GROUP_ID":"sig-1","APP_NAME":"a",
                   "DEPLOYMENT_GROUP":"d","TIMEOUT":60,"GITHUB_REPO":"o/r","COMMIT_ID":"c"})"),
      std::string(kJob));
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->token_reference.empty());
}

TEST(ElastigroupConfig, ErrorsNameTheKey) {
  auto error_for = [](std::string_view json) {
    auto config = make_flow_config(spec_from(json), std::string(kJob));
    EXPECT_FALSE(config);
    return config ? std::string() : config.error().message;
  };
  const char* base = R"("APP_NAME":"a","DEPLOYMENT_GROUP":"d","TIMEOUT":60,"S3_BUCKET":"b",
                        "S3_KEY":"k")";
  EXPECT_THAT(error_for(fmt::format(R"({{"API_TOKEN":"t","ACCOUNT_ID":"act-1","GROUP_ID":"g-1",
                                       {},"S3_BUNDLE":"zip"}})",
                                    base)),
              HasSubstr("GROUP_ID"));
  EXPECT_THAT(error_for(fmt::format(R"({{"API_TOKEN":"t","ACCOUNT_ID":"1","GROUP_ID":"sig-1",
                                       {},"S3_BUNDLE":"zip"}})",
                                    base)),
              HasSubstr("ACCOUNT_ID"));
  EXPECT_THAT(error_for(fmt::format(R"({{"API_TOKEN":"t","ACCOUNT_ID":"act-1","GROUP_ID":"sig-1",
                                       {},"S3_BUNDLE":"YAML"}})",
                                    base)),
              HasSubstr("S3_BUNDLE"));
  EXPECT_THAT(error_for(fmt::format(R"({{"GROUP_ID":"sig-1",{},"S3_BUNDLE":"zip"}})", base)),
              HasSubstr("API_TOKEN"));
  EXPECT_THAT(error_for(R"({"API_TOKEN":"t","ACCOUNT_ID":"act-1","GROUP_ID":"sig-1",
                           "APP_NAME":"a","DEPLOYMENT_GROUP":"d","TIMEOUT":90000,
                           "GITHUB_REPO":"o/r","COMMIT_ID":"c"})"),
              HasSubstr("TIMEOUT"));
}

}  // namespace
}  // namespace bluegreen::elastigroup
