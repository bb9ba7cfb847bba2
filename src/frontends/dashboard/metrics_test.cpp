#include "frontends/dashboard/metrics.h"

#include <gtest/gtest.h>

namespace bluegreen::dashboard {
namespace {

FleetTraffic fleet(std::string id, long long requests, long long errors, long long fast,
                   long long connections = 0) {
  FleetTraffic t;
  t.fleet_id = std::move(id);
  t.requests_total = requests;
  t.errors_total = errors;
  t.latency_counts[0] = fast;
  t.latency_seconds_sum = 0.001 * static_cast<double>(fast);
  t.active_connections = connections;
  return t;
}

GroupStatus group(std::vector<FleetTraffic> traffic, std::optional<std::string> running) {
  GroupStatus g;
  g.group = "web";
  g.traffic = std::move(traffic);
  if (running) {
    g.running = Deployment{};
    g.running->id = *running;
  }
  return g;
}

class TrafficTotalsTest : public ::testing::Test {
 protected:
  void sample(GroupStatus g) {
    totals_.sample([&] { return std::vector<GroupStatus>{g}; });
  }
  TrafficTotals::Totals of(const std::string& colour) {
    auto all = totals_.totals();
    auto it = all.find({"web", colour});
    return it == all.end() ? TrafficTotals::Totals{} : it->second;
  }
  TrafficTotals totals_;
};

TEST_F(TrafficTotalsTest, CountsWhatEachFleetDidSinceTheLastSampleUnderItsColour) {
  sample(group({fleet("d-1", 10, 1, 10)}, std::nullopt));
  sample(group({fleet("d-1", 15, 1, 15), fleet("d-2", 4, 0, 4)}, "d-2"));
  EXPECT_EQ(of("blue").requests, 15);
  EXPECT_EQ(of("blue").errors, 1);
  EXPECT_EQ(of("blue").latency.count(), 15);
  EXPECT_EQ(of("green").requests, 4);
  EXPECT_DOUBLE_EQ(of("green").latency.sum, 0.004);
}

TEST_F(TrafficTotalsTest, TotalsStayWhenAFleetGoesAndItsSuccessorCountsAsBlue) {
  sample(group({fleet("d-1", 10, 0, 10), fleet("d-2", 3, 0, 3)}, "d-2"));
  // The deployment ended: d-1 is terminated and d-2 is the group's serving (blue) fleet.
  sample(group({fleet("d-2", 8, 2, 8)}, std::nullopt));
  EXPECT_EQ(of("blue").requests, 10 + 5);
  EXPECT_EQ(of("blue").errors, 2);
  EXPECT_EQ(of("green").requests, 3);
}

TEST_F(TrafficTotalsTest, AFleetWhoseCountersStartOverIsCountedFromZero) {
  sample(group({fleet("d-1", 10, 0, 10)}, std::nullopt));
  sample(group({fleet("d-1", 2, 0, 2)}, std::nullopt));
  EXPECT_EQ(of("blue").requests, 12);
}

TEST(Metrics, ColourOfAFleetIsGreenOnlyForTheRunningDeployment) {
  auto g = group({}, "d-2");
  EXPECT_EQ(colour_of_fleet(g, "d-2"), "green");
  EXPECT_EQ(colour_of_fleet(g, "d-1"), "blue");
  EXPECT_EQ(colour_of_fleet(group({}, std::nullopt), "d-2"), "blue");
}

}  // namespace
}  // namespace bluegreen::dashboard

namespace bluegreen::dashboard {
namespace {

// The weights `status`, the dashboard's traffic bar and /metrics show.
TEST(Metrics, WeightsAreTheRoutedFleetsShareAndTheSplits) {
  GroupStatus g = group({}, "d-2");
  EXPECT_TRUE(g.weights().empty());
  g.routed_fleet = "d-1";
  EXPECT_EQ(g.weights(), (std::vector<std::pair<std::string, int>>{{"d-1", 100}}));
  g.split = TrafficSplit{"d-2", 10};
  EXPECT_EQ(g.weights(), (std::vector<std::pair<std::string, int>>{{"d-1", 90}, {"d-2", 10}}));
  EXPECT_EQ(colour_of_fleet(g, "d-2"), "green");
}

}  // namespace
}  // namespace bluegreen::dashboard
