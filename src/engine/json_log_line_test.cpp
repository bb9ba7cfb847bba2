#include "engine/json_log_line.h"

#include <gtest/gtest.h>

namespace bluegreen {
namespace {

TEST(JsonLogLine, OneObjectOnOneLineWithTimeAndLevel) {
  std::string line = json_log_line(from_epoch_ms(1'714'564'800'123), "warning",
                                   {{"message", "two\nlines"}, {"phase", "install"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["time"], "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["message"], "two\nlines");
  EXPECT_EQ(parsed["phase"], "install");
}

TEST(JsonLogLine, InvalidUtf8IsReplacedNotFatal) {
  std::string line = json_log_line(from_epoch_ms(0), "info", {{"message", "bad \xff byte"}});
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

}  // namespace
}  // namespace bluegreen
