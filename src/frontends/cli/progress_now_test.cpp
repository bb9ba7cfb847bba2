#include <gtest/gtest.h>

#include <sstream>

#include "frontends/cli/progress.h"

namespace bluegreen::cli {
namespace {

using nlohmann::json;

const TimePoint kNow = from_epoch_ms(1'700'000'000'000);

std::string drawn(const json& record) {
  std::ostringstream out;
  DeployProgress progress(out, true);
  progress.show(record, {}, kNow);
  return out.str();
}

json running_in(const std::string& phase) {
  return json{{"deploymentId", "d-1"},  {"group", "web"},
              {"revision", "local:/b"}, {"status", "running"},
              {"phase", phase},         {"deadline", to_iso8601(kNow + Duration(60'000))},
              {"phases", json::array()}};
}

TEST(DeployProgressNow, NamesTheHookAndInstanceInstallWaitsOn) {
  json record = running_in("install");
  record["runningHooks"] = {
      {{"instanceId", "i-1"}, {"lifecycleEvent", "AfterInstall"}, {"script", "scripts/a.sh"}}};
  EXPECT_NE(drawn(record).find("now: install AfterInstall (scripts/a.sh) on i-1; 1 min 0 s left"),
            std::string::npos)
      << drawn(record);
}

TEST(DeployProgressNow, CarriesTheWrongHealthPathHint) {
  json record = running_in("health_gate");
  record["healthHint"] = "GET /healthz answered 404 on every green: set HEALTH_CHECK_PATH";
  EXPECT_NE(drawn(record).find("now: health_gate: GET /healthz answered 404 on every green"),
            std::string::npos)
      << drawn(record);
}

}  // namespace
}  // namespace bluegreen::cli
