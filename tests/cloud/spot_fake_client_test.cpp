// The Spot client against spot_fake.py, which checks method, path, the Bearer token, accountId
// and the body shape of every call (reference/spot-api.md), and can answer 400 with an errors
// list, 429 with rate-limit headers, 500, or drop the connection. Waits go through a FakeClock,
// so a 429's X-RateLimit-Reset is honoured without the test sleeping.
#include <gtest/gtest.h>

#include "adapters/spot/spot_client.h"
#include "infra/http/curl_http_client.h"
#include "python_service.h"

namespace bluegreen::spot {
namespace {

using nlohmann::json;
using testing::control;
using testing::PythonService;

constexpr const char* kToken = "spot-token-under-test";
constexpr const char* kAccount = "act-1234abcd";

class SpotFakeTest : public ::testing::Test {
 protected:
  SpotFakeTest()
      : fake_("spot_fake.py",
              {"--token", kToken, "--account", kAccount, "--group", "sig-1", "--instances", "2"}) {}

  SpotClient client(const std::string& token = kToken) {
    SpotContext context{http_, clock_, fake_.url(), kAccount, Secret(token)};
    context.retry.base_delay = Duration(100);
    context.on_retry = [this](const RetryNotice& notice) { notices_.push_back(notice); };
    return SpotClient(context);
  }
  TimePoint deadline() { return clock_.now() + std::chrono::minutes(10); }
  void script(const json& faults) { control(fake_.url(), "/__fake/script", {{"faults", faults}}); }
  json calls() { return control(fake_.url(), "/__fake/calls"); }

  PythonService fake_;
  http::CurlHttpClient http_;
  FakeClock clock_;
  std::vector<RetryNotice> notices_;
};

TEST_F(SpotFakeTest, EveryCallMeetsTheContract) {
  SpotClient spot = client();
  auto group = spot.get_group("sig-1", deadline());
  ASSERT_TRUE(group) << group.error().describe();
  EXPECT_EQ(group->capacity.target, 2);
  auto blue = spot.group_status("sig-1", deadline());
  ASSERT_TRUE(blue);
  ASSERT_EQ(blue->size(), 2u);

  auto created = spot.create_blue_green_deployment("sig-1",
                                                   {.tag_value = "g-123",
                                                    .timeout_seconds = 900,
                                                    .application_name = "web",
                                                    .deployment_group_name = "web-dg"},
                                                   deadline());
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_TRUE(created->id.starts_with("cdbg-"));
  EXPECT_EQ(created->state, "STARTING");
  EXPECT_EQ(created->tag("GreenIdentifier"), "g-123");
  auto both = spot.group_status("sig-1", deadline());
  ASSERT_TRUE(both);
  EXPECT_EQ(both->size(), 4u);  // greens launched next to blue

  auto listed = spot.get_blue_green_deployments("sig-1", deadline());
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].state, "IN_PROGRESS");

  std::vector<std::string> blue_ids;
  for (const auto& instance : *blue) blue_ids.push_back(instance.instance_id);
  ASSERT_TRUE(spot.detach_instances(
      "sig-1", {.instance_ids = blue_ids, .draining_timeout_seconds = 0}, deadline()));
  auto costs =
      spot.group_costs("sig-1", clock_.now() - std::chrono::hours(24), clock_.now(), deadline());
  ASSERT_TRUE(costs) << costs.error().describe();
  EXPECT_GT(costs->running_hours, 0);
  ASSERT_TRUE(spot.stop_blue_green_deployment("sig-1", created->id, deadline()));

  const json log = calls();
  EXPECT_EQ(log["violations"], json::array());
  ASSERT_EQ(log["calls"].size(), 8u);
  for (const auto& call : log["calls"]) {
    EXPECT_TRUE(call["auth_ok"]) << call.dump();
    EXPECT_TRUE(call["account_ok"]) << call.dump();
    EXPECT_EQ(call["status"], 200) << call.dump();
  }
  EXPECT_EQ(log.dump().find(kToken), std::string::npos);  // the fake never records it
  const json state = control(fake_.url(), "/__fake/state");
  // Blue was detached, and stopping the B/G deployment took its greens out of the group.
  EXPECT_EQ(state["groups"]["sig-1"]["instances"].size(), 0u);
  EXPECT_EQ(state["deployments"][created->id]["state"], "STOPPED");
}

TEST_F(SpotFakeTest, A400ErrorsListBecomesATypedError) {
  auto missing = client().get_group("sig-nope", deadline());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().http_status, 400);
  EXPECT_EQ(missing.error().code(), "GROUP_DOESNT_EXIST");
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);

  script(json::array(
      {{{"method", "POST"},
        {"answer", "error_400"},
        {"errors", {{{"code", "DEPLOYMENT_ALREADY_IN_PROGRESS"}, {"message", "busy"}}}}}}));
  auto busy = client().create_blue_green_deployment("sig-1",
                                                    {.tag_value = "g",
                                                     .timeout_seconds = 60,
                                                     .application_name = "a",
                                                     .deployment_group_name = "d"},
                                                    deadline());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().kind, ErrorKind::conflict);
  EXPECT_NE(busy.error().describe().find("HTTP 400 DEPLOYMENT_ALREADY_IN_PROGRESS: busy"),
            std::string::npos);
  EXPECT_TRUE(notices_.empty());
  EXPECT_EQ(calls()["calls"].size(), 2u);  // no retry
}

TEST_F(SpotFakeTest, A429IsRetriedAfterTheRateLimitReset) {
  script(json::array(
      {{{"path", "/aws/ec2/group/sig-1/status"}, {"answer", "rate_limit"}, {"reset_seconds", 3}}}));
  const TimePoint start = clock_.now();
  auto instances = client().group_status("sig-1", deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  EXPECT_EQ(instances->size(), 2u);
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_GE(notices_[0].wait, Duration(3000));
  EXPECT_GE(clock_.now() - start, std::chrono::seconds(3));
  const json log = calls()["calls"];
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["status"], 429);
  EXPECT_EQ(log[1]["status"], 200);
}

TEST_F(SpotFakeTest, A500IsRetried) {
  script(json::array({{{"method", "GET"}, {"answer", "server_error"}, {"times", 2}}}));
  auto group = client().get_group("sig-1", deadline());
  ASSERT_TRUE(group) << group.error().describe();
  EXPECT_EQ(notices_.size(), 2u);
  EXPECT_EQ(calls()["calls"].size(), 3u);
}

TEST_F(SpotFakeTest, ADroppedConnectionIsRetried) {
  script(json::array({{{"answer", "drop"}}}));
  auto instances = client().group_status("sig-1", deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(calls()["calls"].size(), 2u);
}

TEST_F(SpotFakeTest, ACreateWhoseAnswerIsLostStartsOneDeployment) {
  script(json::array({{{"method", "POST"}, {"answer", "drop"}, {"after", true}}}));
  auto created = client().create_blue_green_deployment("sig-1",
                                                       {.tag_value = "g-once",
                                                        .timeout_seconds = 60,
                                                        .application_name = "a",
                                                        .deployment_group_name = "d"},
                                                       deadline());
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_EQ(created->tag("GreenIdentifier"), "g-once");
  EXPECT_EQ(control(fake_.url(), "/__fake/state")["deployments"].size(), 1u);
  EXPECT_EQ(calls()["violations"], json::array());
}

TEST_F(SpotFakeTest, AWrongTokenIsPermissionDeniedAndNeverShown) {
  auto group = client("wrong-token-value").get_group("sig-1", deadline());
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(group.error().http_status, 401);
  EXPECT_EQ(group.error().describe().find("wrong-token-value"), std::string::npos);
  EXPECT_TRUE(notices_.empty());
}

}  // namespace
}  // namespace bluegreen::spot
