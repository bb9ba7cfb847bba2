// Metrics: GET /metrics, in Prometheus text format.
//
//   bluegreen_deployments_total{group,outcome}      counter    ended deployments by outcome
//                                                             (succeeded, failed, rolled_back)
//   bluegreen_deployments_running{group}            gauge
//   bluegreen_phase_duration_seconds{phase}         histogram  how long each ended phase took
//   bluegreen_proxy_requests_total{group,colour}    counter    requests the switch forwarded
//   bluegreen_proxy_errors_total{group,colour}      counter    requests an instance failed
//                                                             (502, 504, broken answers)
//   bluegreen_proxy_request_duration_seconds{group,colour}
//                                                   histogram  request head to end of answer
//   bluegreen_proxy_open_connections{group,colour}  gauge      client connections held now
//   bluegreen_proxy_active_requests{group,colour}   gauge
//   bluegreen_proxy_traffic_weight_percent{group,colour}
//                                                   gauge      share of new requests now
//
// Colours: `green` is the fleet a running deployment creates; `blue` is the group's other
// fleet (the one that serves when no deployment runs, and a running deployment's blue).
//
// Deployment numbers come from the journal, so they survive restarts. The proxy counts per
// fleet, and a fleet's counters go when it is terminated; TrafficTotals therefore samples them
// (every second and at each scrape) and adds what each fleet did since its last sample to its
// colour, so the counters only ever go up.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "engine/deployment_service.h"
#include "frontends/admin/http_server.h"
#include "frontends/dashboard/prometheus_text.h"

namespace bluegreen::dashboard {

// Cumulative proxy counters per (group, colour). Thread-safe.
class TrafficTotals {
 public:
  struct Totals {
    long long requests = 0;
    long long errors = 0;
    Histogram latency{FleetTraffic::kLatencyBounds};
  };
  using Key = std::pair<std::string, std::string>;  // group, colour

  // Reads the groups' status with `read_status` and adds what each fleet did since its
  // previous sample to the totals of its colour now; returns the status it read. Samples are
  // taken one at a time, so a late reading never counts twice.
  std::vector<GroupStatus> sample(const std::function<std::vector<GroupStatus>()>& read_status);
  std::map<Key, Totals> totals() const;

 private:
  mutable std::mutex mutex_;
  std::map<Key, FleetTraffic> last_;  // (group, fleet id) -> counters at the last sample
  std::map<Key, Totals> totals_;
};

// "green" for the running deployment's fleet, "blue" for any other fleet of the group.
std::string colour_of_fleet(const GroupStatus& group, const std::string& fleet_id);

// The /metrics text for the service's state now, with `traffic` already sampled.
std::string metrics_text(DeploymentService& service, const std::vector<GroupStatus>& groups,
                         const TrafficTotals& traffic);

// Samples the service's traffic into `totals` every `interval` on its own thread, until
// destroyed. Destroy it before the service.
class TrafficSampler {
 public:
  TrafficSampler(DeploymentService& service, TrafficTotals& totals,
                 std::chrono::milliseconds interval);
  ~TrafficSampler();
  TrafficSampler(const TrafficSampler&) = delete;
  TrafficSampler& operator=(const TrafficSampler&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Adds GET /metrics. `service` and `totals` must outlive the router.
void add_metrics(admin::Router& router, DeploymentService& service, TrafficTotals& totals);

}  // namespace bluegreen::dashboard
