// TrafficWatch: automatic rollback from what the proxy sees. During a watched wait (a traffic
// step, keep_blue) the executor feeds it Traffic::stats() samples; it compares green with blue
// over a sliding window (ROLLBACK_WINDOW, counted from the start of the wait) and says when a
// limit is passed:
// - MAX_ERROR_RATE: green's answers that are 5xx (from its instances) or failed (the proxy's
//   own 502/503/504, broken transfers), in percent of green's completed requests, once green
//   completed at least MIN_REQUESTS in the window.
// - MAX_LATENCY_RATIO: green's p99 over blue's p99 in the same window, once each completed at
//   least MIN_REQUESTS in it (so it never fires in keep_blue, where blue serves nothing).
//   Percentiles come from the proxy's latency histogram, interpolated within a bucket; below
//   5 ms (its first bucket) a latency counts as 5 ms, so two fast fleets never trip it.
//   Requests still waiting for their answer count too, with the time they have waited so far
//   (when that is above the p99 of the completed ones): a green that hangs trips the ratio
//   instead of passing for a fleet without traffic.
// Not thread-safe: one watch belongs to one wait.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/spec.h"
#include "engine/ports.h"

namespace bluegreen {

class TrafficWatch {
 public:
  TrafficWatch(const DeploymentSpec& spec, std::string blue_fleet, std::string green_fleet);

  // Adds one sample taken at `at`; returns the figures that trip a limit, in words ("green
  // answered 61 of 300 requests (20.3%) with a 5xx or a failure over the last 10 s; ..."),
  // or none.
  std::optional<std::string> sample(const std::vector<FleetTraffic>& stats, TimePoint at);

 private:
  struct Sample {
    TimePoint at;
    FleetTraffic blue;
    FleetTraffic green;
  };

  const std::optional<double> max_error_rate_;
  const std::optional<double> max_latency_ratio_;
  const long long min_requests_;
  const Duration window_;
  const std::string blue_fleet_;
  const std::string green_fleet_;
  // `done` (the completed requests of one fleet in the window) with the requests of that fleet
  // still waiting for an answer (see above).
  FleetTraffic with_waiting(const FleetTraffic& done, FleetTraffic Sample::*fleet) const;

  std::deque<Sample> samples_;
};

// The q-quantile (0..1) in seconds of a latency histogram laid out as
// FleetTraffic::latency_counts; 0 when it counts nothing.
double latency_quantile(
    const std::array<long long, FleetTraffic::kLatencyBounds.size() + 1>& counts, double q);

}  // namespace bluegreen
