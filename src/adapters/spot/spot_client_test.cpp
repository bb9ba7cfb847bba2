#include "adapters/spot/spot_client.h"

#include <gtest/gtest.h>

#include "scripted_http.h"

namespace bluegreen::spot {
namespace {

using nlohmann::json;

std::string envelope(const json& items) {
  return json{
      {"request", {{"id", "req-1"}}},
      {"response", {{"status", {{"code", 200}}}, {"items", items}, {"count", items.size()}}}}
      .dump();
}

std::string errors(int status, const json& list) {
  return json{{"request", {{"id", "req-9"}}},
              {"response", {{"status", {{"code", status}}}, {"errors", list}}}}
      .dump();
}

class SpotClientTest : public ::testing::Test {
 protected:
  SpotClient client() {
    SpotContext context{http_, clock_, "https://spot.test", "act-123",
                        Secret("planted-spot-token")};
    context.retry.random = [] { return 0.0; };
    context.on_retry = [this](const RetryNotice& notice) { notices_.push_back(notice); };
    return SpotClient(context);
  }
  TimePoint deadline() { return clock_.now() + std::chrono::minutes(5); }

  testing::ScriptedHttp http_;
  FakeClock clock_;
  std::vector<RetryNotice> notices_;
};

TEST_F(SpotClientTest, EveryCallCarriesTheBearerTokenAndAccount) {
  http_.answer(200,
               envelope(json::array(
                   {{{"id", "sig-1"},
                     {"name", "web"},
                     {"capacity",
                      {{"target", 2}, {"minimum", 1}, {"maximum", 4}, {"unit", "instance"}}}}})));
  auto group = client().get_group("sig-1", deadline());
  ASSERT_TRUE(group) << group.error().describe();
  EXPECT_EQ(group->capacity.target, 2);
  EXPECT_EQ(group->capacity.maximum, 4);
  const auto sent = http_.sent().at(0);
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://spot.test/aws/ec2/group/sig-1?accountId=act-123");
  EXPECT_EQ(http::find_header(sent.headers, "Authorization"), "Bearer planted-spot-token");
  EXPECT_TRUE(sent.body.empty());
}

TEST_F(SpotClientTest, CreateSendsTheDocumentedBodyAndReadsTheDeployment) {
  http_.answer(200, envelope(json::array(
                        {{{"id", "cdbg-1"},
                          {"groupId", "sig-1"},
                          {"state", "STARTING"},
                          {"status", "INITIALIZING"},
                          {"config",
                           {{"timeout", 600},
                            {"tags", {{{"tagKey", "GreenIdentifier"}, {"tagValue", "g-1"}}}}}}}})));
  auto deployment = client().create_blue_green_deployment("sig-1",
                                                          {.tag_value = "g-1",
                                                           .timeout_seconds = 600,
                                                           .application_name = "app",
                                                           .deployment_group_name = "dg"},
                                                          deadline());
  ASSERT_TRUE(deployment) << deployment.error().describe();
  EXPECT_EQ(deployment->id, "cdbg-1");
  EXPECT_EQ(deployment->state, "STARTING");
  EXPECT_EQ(deployment->tag("GreenIdentifier"), "g-1");
  EXPECT_EQ(deployment->timeout_seconds, 600);
  const auto sent = http_.sent().at(0);
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(
      sent.url,
      "https://spot.test/aws/ec2/group/sig-1/codeDeploy/blueGreenDeployment?accountId=act-123");
  EXPECT_EQ(http::find_header(sent.headers, "Content-Type"), "application/json");
  EXPECT_TRUE(sent.fresh_connection);  // libcurl must not resend it on its own
  EXPECT_EQ(json::parse(sent.body), json::parse(R"({"deployment":{"timeout":600,
    "tags":[{"tagKey":"GreenIdentifier","tagValue":"g-1"}],
    "deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}})"));
}

TEST_F(SpotClientTest, A400IsATypedErrorWithItsErrorsList) {
  http_.answer(400, errors(400, json::array({{{"code", "DEPLOYMENT_ALREADY_IN_PROGRESS"},
                                              {"message", "A deployment is running"},
                                              {"field", "deployment"}}})));
  auto created = client().create_blue_green_deployment("sig-1", {.tag_value = "g"}, deadline());
  ASSERT_FALSE(created);
  const SpotError& error = created.error();
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.code(), "DEPLOYMENT_ALREADY_IN_PROGRESS");
  EXPECT_EQ(error.kind, ErrorKind::conflict);
  EXPECT_FALSE(error.retryable);
  EXPECT_EQ(
      error.describe(),
      "spot create blue/green deployment: HTTP 400 DEPLOYMENT_ALREADY_IN_PROGRESS: A deployment "
      "is running (field deployment) (request id req-9)");
  EXPECT_EQ(http_.sent().size(), 1u);
  EXPECT_EQ(error.describe().find("planted-spot-token"), std::string::npos);
  // As the project's Error, it keeps Spot's code apart from the message.
  const Error plain = error;
  EXPECT_EQ(plain.kind, ErrorKind::conflict);
  EXPECT_EQ(plain.code, "DEPLOYMENT_ALREADY_IN_PROGRESS");
  EXPECT_EQ(plain.message, error.describe());
}

TEST_F(SpotClientTest, A429WaitsForTheRateLimitResetThenRetries) {
  http_.answer(
      429, R"({"response":{"status":{"code":429},"data":"Rate limit exceeded"}})",
      {{"X-RateLimit-Limit", "3"}, {"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", "7"}});
  http_.answer(200, envelope(json::array()));
  const TimePoint start = clock_.now();
  auto instances = client().group_status("sig-1", deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  EXPECT_GE(clock_.now() - start, std::chrono::seconds(7));
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].wait, Duration(7000));
  EXPECT_EQ(notices_[0].reason, "HTTP 429");
}

TEST_F(SpotClientTest, ARateLimitResetPastTheDeadlineIsNotWaitedFor) {
  http_.answer(429, R"({"response":{"data":"Rate limit exceeded"}})",
               {{"X-RateLimit-Reset", "600"}});
  auto instances = client().group_status("sig-1", deadline());
  ASSERT_FALSE(instances);
  EXPECT_EQ(instances.error().kind, ErrorKind::throttled);
  EXPECT_EQ(instances.error().message, "Rate limit exceeded");
  EXPECT_EQ(http_.sent().size(), 1u);
}

TEST_F(SpotClientTest, ServerErrorsAndDroppedConnectionsAreRetried) {
  http_.answer(500, errors(500, json::array({{{"code", "INTERNAL"}, {"message", "oops"}}})));
  http_.fail_next(ErrorKind::unavailable, "GET https://spot.test/...: Empty reply from server");
  http_.answer(
      200, envelope(json::array({{{"instanceId", "i-1"}, {"spotInstanceRequestId", "sir-1"}},
                                 {{"instanceId", "i-2"}, {"spotInstanceRequestId", nullptr}}})));
  auto instances = client().group_status("sig-1", deadline());
  ASSERT_TRUE(instances) << instances.error().describe();
  ASSERT_EQ(instances->size(), 2u);
  EXPECT_TRUE((*instances)[0].is_spot());
  EXPECT_FALSE((*instances)[1].is_spot());
  EXPECT_EQ(http_.sent().size(), 3u);
  EXPECT_EQ(notices_.size(), 2u);
}

TEST_F(SpotClientTest, ARetriedCreateFindsTheDeploymentItsLostAnswerCreated) {
  http_.fail_next(ErrorKind::unavailable, "connection reset");  // the POST went through
  http_.answer(
      200,
      envelope(json::array(
          {{{"id", "cdbg-7"},
            {"state", "STARTING"},
            {"config", {{"tags", {{{"tagKey", "GreenIdentifier"}, {"tagValue", "g-7"}}}}}}}})));
  auto deployment =
      client().create_blue_green_deployment("sig-1", {.tag_value = "g-7"}, deadline());
  ASSERT_TRUE(deployment) << deployment.error().describe();
  EXPECT_EQ(deployment->id, "cdbg-7");
  const auto sent = http_.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[1].method, "GET");  // looked before creating again
}

TEST_F(SpotClientTest, PermissionErrorsAreNotRetried) {
  http_.answer(401,
               errors(401, json::array({{{"code", "UNAUTHORIZED"}, {"message", "bad token"}}})));
  auto group = client().get_group("sig-1", deadline());
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(http_.sent().size(), 1u);
}

TEST_F(SpotClientTest, StopDetachAndCosts) {
  http_.answer(200, envelope(json::array()));
  http_.answer(200, envelope(json::array()));
  http_.answer(200, envelope({{"running", {{"value", "3"}, {"unit", "hours"}}},
                              {"savings", {{"value", 70.5}}},
                              {"costs", {{"actual", "0.2681"}, {"potential", 0.9}}}}));
  SpotClient spot = client();
  ASSERT_TRUE(spot.stop_blue_green_deployment("sig-1", "cdbg-1", deadline()));
  ASSERT_TRUE(spot.detach_instances(
      "sig-1", {.instance_ids = {"i-1", "i-2"}, .draining_timeout_seconds = 30}, deadline()));
  auto costs = spot.group_costs("sig-1", from_epoch_ms(0), from_epoch_ms(86'400'000), deadline());
  ASSERT_TRUE(costs) << costs.error().describe();
  EXPECT_DOUBLE_EQ(costs->running_hours, 3);
  EXPECT_DOUBLE_EQ(costs->actual, 0.2681);
  const auto sent = http_.sent();
  EXPECT_EQ(sent[0].method, "PUT");
  EXPECT_EQ(sent[0].url,
            "https://spot.test/aws/ec2/group/sig-1/codeDeploy/blueGreenDeployment/cdbg-1/"
            "stop?accountId=act-123");
  EXPECT_TRUE(sent[0].body.empty());
  EXPECT_EQ(json::parse(sent[1].body), json::parse(R"({"instancesToDetach":["i-1","i-2"],
    "shouldTerminateInstances":true,"shouldDecrementTargetCapacity":true,"drainingTimeout":30})"));
  EXPECT_EQ(sent[2].url,
            "https://spot.test/aws/ec2/group/sig-1/costs?accountId=act-123&"
            "fromDate=1970-01-01T00%3A00%3A00.000Z&toDate=1970-01-02T00%3A00%3A00.000Z");
}

TEST_F(SpotClientTest, CostsOfAWindowOfMillisecondsAndNothingForIt) {
  http_.answer(200, envelope(json::array()));  // Spot has nothing for the window yet
  SpotClient spot = client();
  auto costs = spot.group_costs("sig-1", from_epoch_ms(1'529'494'501'745),
                                from_epoch_ms(1'529'494'502'012), deadline());
  ASSERT_TRUE(costs) << costs.error().describe();
  EXPECT_DOUBLE_EQ(costs->running_hours, 0);
  // A deployment can be shorter than a second: the window keeps its milliseconds.
  EXPECT_EQ(http_.sent()[0].url,
            "https://spot.test/aws/ec2/group/sig-1/costs?accountId=act-123&"
            "fromDate=2018-06-20T11%3A35%3A01.745Z&toDate=2018-06-20T11%3A35%3A02.012Z");
}

TEST(SpotApiUrl, DefaultsAndOverrides) {
  EXPECT_EQ(spot_api_url(aws::map_environment({})), "https://api.spotinst.io");
  EXPECT_EQ(spot_api_url(aws::map_environment({{"SPOT_API_URL", "http://127.0.0.1:9/"}})),
            "http://127.0.0.1:9");
}

}  // namespace
}  // namespace bluegreen::spot
