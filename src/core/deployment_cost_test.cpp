#include "core/deployment_cost.h"

#include <gtest/gtest.h>

#include "core/deployment.h"
#include "core/deployment_json.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

Instance running(std::string id) {
  Instance instance;
  instance.id = std::move(id);
  instance.state = InstanceState::running;
  return instance;
}

Deployment launched_at(TimePoint launched, int blue, int green) {
  Deployment d;
  d.phases.push_back(
      PhaseRecord{Phase::launch_green, launched, launched + 1s, PhaseOutcome::passed, ""});
  if (blue > 0) d.blue = BlueFleet{"d-blue", {}, ""};
  for (int i = 0; i < blue; ++i) d.blue->instances.push_back(running("b" + std::to_string(i)));
  for (int i = 0; i < green; ++i) d.green.push_back(running("g" + std::to_string(i)));
  return d;
}

TEST(DeploymentCost, TheOverlapRunsFromTheGreensLaunchToTheEndOnBothFleets) {
  const TimePoint launched = from_epoch_ms(1'700'000'000'000);
  auto cost = overlap_cost(launched_at(launched, 2, 3), launched + 12'500ms);
  ASSERT_TRUE(cost);
  EXPECT_EQ(cost->overlap, 12'500ms);
  EXPECT_EQ(cost->instances, 5);
  EXPECT_DOUBLE_EQ(cost->instance_seconds, 62.5);
  EXPECT_EQ(describe(*cost),
            "blue and green ran together for 12.5 s on 5 instance(s): 62.5 instance-seconds");

  auto none = overlap_cost(launched_at(launched, 0, 3), launched + 12s);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->instances, 0);
  EXPECT_EQ(describe(*none), "blue and green never ran together");

  EXPECT_FALSE(overlap_cost(Deployment{}, launched)) << "no greens were ever launched";
}

TEST(DeploymentCost, SpotMoneyIsShownWithTheSavingAgainstOnDemand) {
  DeploymentCost cost{750s, 4, 3000, 0.0123, 0.0456, ""};
  EXPECT_DOUBLE_EQ(*cost.saving_usd(), 0.0456 - 0.0123);
  EXPECT_NEAR(*cost.saving_percent(), 73.03, 0.01);
  EXPECT_EQ(describe(cost),
            "blue and green ran together for 12 min 30 s on 4 instance(s) (0.83 instance-hours): "
            "spot $0.0123, on demand $0.0456, saved $0.0333 (73%)");

  auto json = to_json(cost);
  EXPECT_EQ(json["overlapSeconds"], 750.0);
  EXPECT_EQ(json["spotCostUsd"], 0.0123);
  EXPECT_EQ(json["onDemandCostUsd"], 0.0456);
  EXPECT_EQ(json["savingUsd"], 0.0333);
  EXPECT_EQ(json["savingPercent"], 73.0);
  EXPECT_EQ(json["summary"], describe(cost));
  auto back = cost_from_json(json);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->overlap, cost.overlap);
  EXPECT_EQ(back->spot_usd, cost.spot_usd);
  EXPECT_EQ(back->on_demand_usd, cost.on_demand_usd);
  EXPECT_EQ(describe(*back), describe(cost));
}

TEST(DeploymentCost, UnknownMoneyIsSaidInWordsNeverAsZero) {
  DeploymentCost cost{
      90s, 4, 360, std::nullopt, std::nullopt, "Spot has no costs for this window yet"};
  std::string line = describe(cost);
  EXPECT_EQ(line,
            "blue and green ran together for 1 min 30 s on 4 instance(s) (0.10 instance-hours); "
            "Spot has no costs for this window yet");
  EXPECT_EQ(line.find('$'), std::string::npos);
  auto json = to_json(cost);
  EXPECT_TRUE(json["spotCostUsd"].is_null());
  EXPECT_TRUE(json["onDemandCostUsd"].is_null());
  EXPECT_TRUE(json["savingUsd"].is_null());
}

TEST(DeploymentCost, AnOverlapTooShortForInstanceHoursIsSaidInInstanceSeconds) {
  DeploymentCost cost{2s, 4, 8, 0.0001, 0.0004, ""};
  EXPECT_EQ(describe(cost),
            "blue and green ran together for 2.0 s on 4 instance(s) (8.0 instance-seconds): spot "
            "$0.0001, on demand $0.0004, saved $0.0003 (75%)");
}

TEST(DeploymentCost, DollarsKeepFourDecimalsAndTinyAmountsStayAboveZero) {
  EXPECT_EQ(usd_text(0.0123), "0.0123");
  EXPECT_EQ(usd_text(2.5), "2.5000");
  EXPECT_EQ(usd_text(0.000012), "0.000012");
  EXPECT_EQ(usd_text(0), "0.0000");
}

TEST(DeploymentCost, TheRecordCarriesItsCostThroughItsJsonForm) {
  auto spec = parse_spec(std::string_view(
      R"({"GROUP_ID":"web","APP_NAME":"a","DEPLOYMENT_GROUP":"g","TIMEOUT":"30","LOCAL_PATH":"/srv"})"));
  ASSERT_TRUE(spec) << spec.error().message;
  Deployment d = new_deployment("d-1", *spec, "test", "uuid", from_epoch_ms(0), std::nullopt);
  EXPECT_TRUE(summary_json(d)["cost"].is_null());
  d.cost = DeploymentCost{4s, 3, 12, std::nullopt, std::nullopt, ""};
  auto json = to_json(d);
  EXPECT_EQ(json["cost"]["instanceSeconds"], 12.0);
  auto back = deployment_from_json(json);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->cost);
  EXPECT_EQ(back->cost->overlap, 4s);
  EXPECT_EQ(back->cost->instances, 3);
  EXPECT_DOUBLE_EQ(back->cost->instance_seconds, 12);
}

}  // namespace
}  // namespace bluegreen
