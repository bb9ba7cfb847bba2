#include "engine/live_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace bluegreen {
namespace {

DeploymentEvent hook_failed() {
  return DeploymentEvent{"d-1a2b",         from_epoch_ms(1'714'564'800'000), Phase::install,
                         EventKind::error, "ValidateService failed: exit 1", "i-0007"};
}

TEST(LiveLog, JsonLinesCarryDeploymentPhaseAndInstance) {
  std::ostringstream out;
  LiveLog log(&out, LogFormat::json);
  log.publish(hook_failed());
  log.note("admin API on http://127.0.0.1:7070");
  std::istringstream lines(out.str());
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  auto event = nlohmann::json::parse(first);
  EXPECT_EQ(event["time"], "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(event["level"], "error");
  EXPECT_EQ(event["deployment_id"], "d-1a2b");
  EXPECT_EQ(event["phase"], "install");
  EXPECT_EQ(event["instance"], "i-0007");
  EXPECT_EQ(event["message"], "ValidateService failed: exit 1");
  auto note = nlohmann::json::parse(second);
  EXPECT_EQ(note["event"], "server");
  EXPECT_EQ(note["level"], "info");
}

TEST(LiveLog, TextLinesAreForPeople) {
  std::ostringstream out;
  LiveLog log(&out);
  log.publish(hook_failed());
  EXPECT_EQ(out.str().front(), '2');  // starts with the time, not "{"
  EXPECT_NE(out.str().find("d-1a2b install"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace bluegreen
