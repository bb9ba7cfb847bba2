#include "infra/aws/aws_time.h"

#include <gtest/gtest.h>

namespace bluegreen::aws {
namespace {

TEST(AwsTime, FormatsAndParsesUtcTimestamps) {
  const auto time = parse_iso8601("2015-08-30T12:36:00Z");
  ASSERT_TRUE(time);
  EXPECT_EQ(format_amz_date(*time), "20150830T123600Z");
  EXPECT_EQ(format_iso8601(*time), "2015-08-30T12:36:00Z");
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00.250Z"), *time + std::chrono::milliseconds(250));
  EXPECT_EQ(parse_iso8601("2015-08-30T14:36:00+02:00"), *time);
  EXPECT_EQ(parse_iso8601("2015-08-30T07:36:00-0500"), *time);
}

TEST(AwsTime, RefusesWhatIsNotATimestamp) {
  EXPECT_FALSE(parse_iso8601(""));
  EXPECT_FALSE(parse_iso8601("2015-13-30T12:36:00Z"));
  EXPECT_FALSE(parse_iso8601("2015-08-30 garbage"));
  EXPECT_FALSE(parse_iso8601("2015-08-30T12:36:00Zextra"));
}

}  // namespace
}  // namespace bluegreen::aws
