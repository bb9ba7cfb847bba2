#include "proxy/upstream_pool.h"

#include <gtest/gtest.h>

#include "proxy/routing_policy.h"

namespace bluegreen::proxy {
namespace {

std::shared_ptr<Endpoint> endpoint(const std::string& id, unsigned short port) {
  auto e = std::make_shared<Endpoint>();
  e->instance_id = id;
  e->address = {boost::asio::ip::make_address("127.0.0.1"), port};
  return e;
}

PoolOptions one_worker() {
  PoolOptions options;
  options.workers = 1;
  options.failed_instance_retry = std::chrono::seconds(2);
  return options;
}

TEST(UpstreamPool, RoundRobinOverInstances) {
  UpstreamPool pool("d-1", one_worker());
  pool.set_endpoints({endpoint("a", 1), endpoint("b", 2), endpoint("c", 3)});
  std::string order;
  for (int i = 0; i < 6; ++i) order += pool.pick(0, 0)->instance_id;
  EXPECT_EQ(order, "abcabc");
}

TEST(UpstreamPool, FailedInstanceSitsOutThenReturns) {
  UpstreamPool pool("d-1", one_worker());
  auto a = endpoint("a", 1);
  pool.set_endpoints({a, endpoint("b", 2)});
  const std::int64_t now = 1'000'000'000;
  pool.mark_failed(*a, now);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pool.pick(0, now + 1)->instance_id, "b");
  std::string later;
  for (int i = 0; i < 2; ++i) later += pool.pick(0, now + 2'000'000'001)->instance_id;
  EXPECT_NE(later.find('a'), std::string::npos);
}

TEST(UpstreamPool, NoHealthyInstanceGivesNothing) {
  UpstreamPool pool("d-1", one_worker());
  EXPECT_EQ(pool.pick(0, 0), nullptr);
  auto a = endpoint("a", 1);
  pool.set_endpoints({a});
  EXPECT_EQ(pool.pick(0, 0, a.get()), nullptr);  // the only one is excluded (retry elsewhere)
  pool.mark_failed(*a, 0);
  EXPECT_EQ(pool.pick(0, 1), nullptr);
}

TEST(UpstreamPool, StatsSumRequestLatenciesIntoBuckets) {
  PoolOptions options = one_worker();
  options.workers = 2;
  UpstreamPool pool("d-1", options);
  using std::chrono::milliseconds;
  observe_latency(pool.counters(0), milliseconds(3));      // <= 5 ms
  observe_latency(pool.counters(1), milliseconds(5));      // <= 5 ms (bounds are inclusive)
  observe_latency(pool.counters(1), milliseconds(70));     // <= 100 ms
  observe_latency(pool.counters(0), milliseconds(20000));  // slower than every bound
  FleetTraffic stats = pool.stats();
  EXPECT_EQ(stats.latency_counts[0], 2);
  EXPECT_EQ(stats.latency_counts[4], 1);
  EXPECT_EQ(stats.latency_counts.back(), 1);
  EXPECT_NEAR(stats.latency_seconds_sum, 20.078, 1e-9);
}

TEST(UpstreamPool, ReplacingInstancesRetiresTheOldOnes) {
  UpstreamPool pool("d-1", one_worker());
  auto a = endpoint("a", 1);
  pool.set_endpoints({a});
  EXPECT_EQ(pool.pick(0, 0), a);
  pool.set_endpoints({endpoint("b", 2)});
  EXPECT_TRUE(a->retired);
  EXPECT_EQ(pool.pick(0, 0)->instance_id, "b");
}

TEST(RoutingPolicy, EachSwitchPublishesANewSnapshot) {
  RoutingPolicy policy(one_worker());
  policy.register_fleet("blue", {endpoint("a", 1)});
  policy.register_fleet("green", {endpoint("b", 2)});
  policy.label_fleet("green", "green");
  policy.route(Listener::main, "blue");
  const auto before = policy.generation();
  auto blue_routes = policy.snapshot();
  policy.route(Listener::main, "green");
  policy.route(Listener::preview, "blue");
  EXPECT_GT(policy.generation(), before);
  // A request that read the old snapshot keeps it: it finishes where it started.
  EXPECT_EQ(blue_routes->main.fleet_id, "blue");
  auto now = policy.snapshot();
  EXPECT_EQ(now->main.fleet_id, "green");
  EXPECT_EQ(now->main.description, "green fleet green");
  EXPECT_EQ(now->preview.fleet_id, "blue");
  EXPECT_EQ(now->preview.description, "fleet blue");
  EXPECT_TRUE(now->serves(policy.find("blue").get()));
  EXPECT_EQ(policy.routed_fleet(Listener::main), "green");
}

TEST(RoutingPolicy, UnknownOrRemovedFleetRoutesToNoPool) {
  RoutingPolicy policy(one_worker());
  policy.route(Listener::main, "d-9");
  EXPECT_EQ(policy.snapshot()->main.pool, nullptr);
  EXPECT_EQ(policy.snapshot()->main.fleet_id, "d-9");
  policy.register_fleet("d-9", {endpoint("a", 1)});
  auto pool = policy.snapshot()->main.pool;
  ASSERT_NE(pool, nullptr);
  policy.remove_fleet("d-9");
  EXPECT_EQ(policy.snapshot()->main.pool, nullptr);
  // Still findable while something uses it, so it can be drained.
  EXPECT_EQ(policy.find("d-9"), pool);
  pool.reset();
  EXPECT_EQ(policy.find("d-9"), nullptr);
}

}  // namespace
}  // namespace bluegreen::proxy
