#include "frontends/dashboard/metrics.h"

#include <fmt/format.h>

#include <array>

namespace bluegreen::dashboard {
namespace {

using Type = PrometheusText::Type;

constexpr std::array<double, 14> kPhaseBounds = {0.1, 0.25, 0.5, 1,   2.5, 5,    10,
                                                 30,  60,   120, 300, 600, 1800, 3600};
constexpr std::array<const char*, 2> kColours = {"blue", "green"};
constexpr std::array<DeploymentStatus, 3> kOutcomes = {
    DeploymentStatus::succeeded, DeploymentStatus::failed, DeploymentStatus::rolled_back};

void deployment_metrics(PrometheusText& out, const std::vector<Deployment>& deployments,
                        const std::vector<GroupStatus>& groups) {
  std::map<std::string, std::map<DeploymentStatus, long long>> by_group;
  for (const auto& group : groups) by_group[group.group];
  std::map<Phase, Histogram> phase_durations;
  for (const auto& d : deployments) {
    ++by_group[d.spec.group_id][d.status];
    for (const auto& phase : d.phases) {
      if (!phase.ended) continue;
      auto [it, added] = phase_durations.try_emplace(phase.phase, kPhaseBounds);
      it->second.observe(std::chrono::duration<double>(*phase.ended - phase.started).count());
    }
  }

  out.family("bluegreen_deployments_total", Type::counter,
             "Deployments that have ended, by outcome.");
  for (const auto& [group, counts] : by_group) {
    for (auto outcome : kOutcomes) {
      auto it = counts.find(outcome);
      out.sample("bluegreen_deployments_total",
                 {{"group", group}, {"outcome", std::string(to_string(outcome))}},
                 static_cast<double>(it == counts.end() ? 0 : it->second));
    }
  }
  out.family("bluegreen_deployments_running", Type::gauge, "Deployments in progress.");
  for (const auto& [group, counts] : by_group) {
    auto it = counts.find(DeploymentStatus::running);
    out.sample("bluegreen_deployments_running", {{"group", group}},
               static_cast<double>(it == counts.end() ? 0 : it->second));
  }
  out.family("bluegreen_phase_duration_seconds", Type::histogram,
             "How long each phase of a deployment took, for phases that have ended.");
  for (const auto& [phase, histogram] : phase_durations) {
    out.histogram("bluegreen_phase_duration_seconds", {{"phase", std::string(to_string(phase))}},
                  histogram);
  }
}

void traffic_metrics(PrometheusText& out, const std::vector<GroupStatus>& groups,
                     const std::map<TrafficTotals::Key, TrafficTotals::Totals>& totals) {
  // Every group has both colours, so each series exists from the start.
  std::map<TrafficTotals::Key, TrafficTotals::Totals> all = totals;
  std::map<TrafficTotals::Key, std::pair<long long, long long>> open;  // connections, requests
  for (const auto& group : groups) {
    for (const char* colour : kColours) {
      all.try_emplace({group.group, colour});
      open[{group.group, colour}];
    }
    for (const auto& fleet : group.traffic) {
      auto& now = open[{group.group, colour_of_fleet(group, fleet.fleet_id)}];
      now.first += fleet.active_connections;
      now.second += fleet.active_requests;
    }
  }
  auto labels = [](const TrafficTotals::Key& key) {
    return PrometheusText::Labels{{"group", key.first}, {"colour", key.second}};
  };
  out.family("bluegreen_proxy_requests_total", Type::counter,
             "Requests the traffic switch forwarded, by the colour of the fleet that got them.");
  for (const auto& [key, t] : all) {
    out.sample("bluegreen_proxy_requests_total", labels(key), static_cast<double>(t.requests));
  }
  out.family("bluegreen_proxy_errors_total", Type::counter,
             "Requests an instance failed: no connection, no answer in time, a broken answer.");
  for (const auto& [key, t] : all) {
    out.sample("bluegreen_proxy_errors_total", labels(key), static_cast<double>(t.errors));
  }
  out.family("bluegreen_proxy_request_duration_seconds", Type::histogram,
             "Time from a request's head to the end of its answer, through the switch.");
  for (const auto& [key, t] : all) {
    out.histogram("bluegreen_proxy_request_duration_seconds", labels(key), t.latency);
  }
  out.family("bluegreen_proxy_traffic_weight_percent", Type::gauge,
             "Percent of new requests the switch sends to each colour now (traffic steps).");
  for (const auto& group : groups) {
    std::map<std::string, int> weight = {{"blue", 0}, {"green", 0}};
    for (const auto& [fleet_id, percent] : group.weights()) {
      weight[colour_of_fleet(group, fleet_id)] += percent;
    }
    for (const auto& [colour, percent] : weight) {
      out.sample("bluegreen_proxy_traffic_weight_percent", labels({group.group, colour}),
                 static_cast<double>(percent));
    }
  }
  out.family("bluegreen_proxy_open_connections", Type::gauge,
             "Client connections bound to a fleet now.");
  for (const auto& [key, now] : open) {
    out.sample("bluegreen_proxy_open_connections", labels(key), static_cast<double>(now.first));
  }
  out.family("bluegreen_proxy_active_requests", Type::gauge, "Requests in flight now.");
  for (const auto& [key, now] : open) {
    out.sample("bluegreen_proxy_active_requests", labels(key), static_cast<double>(now.second));
  }
}

}  // namespace

std::string colour_of_fleet(const GroupStatus& group, const std::string& fleet_id) {
  return group.running && group.running->id == fleet_id ? "green" : "blue";
}

std::vector<GroupStatus> TrafficTotals::sample(
    const std::function<std::vector<GroupStatus>()>& read_status) {
  std::lock_guard lock(mutex_);
  auto groups = read_status();
  std::map<Key, FleetTraffic> seen;
  for (const auto& group : groups) {
    for (const auto& fleet : group.traffic) {
      Key fleet_key{group.group, fleet.fleet_id};
      FleetTraffic before;
      if (auto it = last_.find(fleet_key); it != last_.end()) before = it->second;
      // Counters below the last sample mean the proxy started the fleet's counters over.
      if (fleet.requests_total < before.requests_total) before = FleetTraffic{};
      auto& totals = totals_[{group.group, colour_of_fleet(group, fleet.fleet_id)}];
      totals.requests += fleet.requests_total - before.requests_total;
      totals.errors += fleet.errors_total - before.errors_total;
      std::array<long long, FleetTraffic::kLatencyBounds.size() + 1> latency{};
      for (std::size_t i = 0; i < latency.size(); ++i) {
        latency[i] = fleet.latency_counts[i] - before.latency_counts[i];
      }
      totals.latency.add(latency, fleet.latency_seconds_sum - before.latency_seconds_sum);
      seen[fleet_key] = fleet;
    }
  }
  last_ = std::move(seen);
  return groups;
}

std::map<TrafficTotals::Key, TrafficTotals::Totals> TrafficTotals::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

std::string metrics_text(DeploymentService& service, const std::vector<GroupStatus>& groups,
                         const TrafficTotals& traffic) {
  PrometheusText out;
  auto deployments = service.deployments();
  deployment_metrics(out, deployments ? *deployments : std::vector<Deployment>{}, groups);
  traffic_metrics(out, groups, traffic.totals());
  return out.text();
}

TrafficSampler::TrafficSampler(DeploymentService& service, TrafficTotals& totals,
                               std::chrono::milliseconds interval) {
  thread_ = std::thread([this, &service, &totals, interval] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      totals.sample([&service] { return service.status(); });
      lock.lock();
    }
  });
}

TrafficSampler::~TrafficSampler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void add_metrics(admin::Router& router, DeploymentService& service, TrafficTotals& totals) {
  router.add("GET", "/metrics", [&service, &totals](const admin::HttpRequest&) {
    auto groups = totals.sample([&service] { return service.status(); });
    admin::HttpResponse answer;
    answer.content_type = "text/plain; version=0.0.4; charset=utf-8";
    answer.body = metrics_text(service, groups, totals);
    return answer;
  });
}

}  // namespace bluegreen::dashboard
