#include "adapters/aws/cloudwatch_logs_client.h"

#include <gtest/gtest.h>

#include "adapters/aws/client_test_support.h"

namespace bluegreen::aws {
namespace {

class CloudWatchLogsClientTest : public ::testing::Test, protected ClientTestBase {};

TEST_F(CloudWatchLogsClientTest, SendsEventsInTimeOrder) {
  http_.answer(200, R"({"nextSequenceToken":"t2"})");
  const TimePoint t = from_epoch_ms(1'700'000'000'000);
  auto result = CloudWatchLogsClient(context()).put_log_events(
      "group", "stream", {{t + std::chrono::seconds(2), "second"}, {t, "first"}, {t, ""}},
      deadline());
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->requests, 1);
  EXPECT_EQ(result->next_sequence_token, "t2");
  EXPECT_EQ(sent_target(0), "Logs_20140328.PutLogEvents");
  const auto body = sent_json(0);
  EXPECT_EQ(body["logGroupName"], "group");
  EXPECT_EQ(body["logEvents"][0],
            nlohmann::json::parse(R"({"timestamp":1700000000000,"message":"first"})"));
  EXPECT_EQ(body["logEvents"][1]["message"], " ");
  EXPECT_EQ(body["logEvents"][2]["message"], "second");
}

TEST_F(CloudWatchLogsClientTest, SplitsLargeBatches) {
  std::vector<LogEvent> events;
  for (int i = 0; i < 10'500; ++i) events.push_back({from_epoch_ms(i), "x"});
  for (int i = 0; i < 6; ++i)
    events.push_back({from_epoch_ms(20'000 + i), std::string(200'000, 'y')});
  auto result = CloudWatchLogsClient(context()).put_log_events("g", "s", events, deadline());
  ASSERT_TRUE(result);
  ASSERT_EQ(result->requests, 3);
  EXPECT_EQ(sent_json(0)["logEvents"].size(), 10'000u);
  EXPECT_EQ(sent_json(1)["logEvents"].size(), 500u + 5u);  // 1 MiB holds five 200 KB events
  EXPECT_EQ(sent_json(2)["logEvents"].size(), 1u);
}

}  // namespace
}  // namespace bluegreen::aws
