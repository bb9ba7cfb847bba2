#include "engine/traffic_watch.h"

#include <fmt/format.h>

#include <algorithm>

namespace bluegreen {
namespace {

// The histogram's first bound: below it the proxy cannot tell latencies apart.
constexpr double kLatencyFloor = FleetTraffic::kLatencyBounds.front();

FleetTraffic find(const std::vector<FleetTraffic>& stats, const std::string& fleet_id) {
  for (const auto& traffic : stats)
    if (traffic.fleet_id == fleet_id) return traffic;
  return FleetTraffic{fleet_id};
}

// The counts of `later` minus those of `earlier`: what happened between two samples.
FleetTraffic minus(const FleetTraffic& later, const FleetTraffic& earlier) {
  FleetTraffic d = later;
  d.requests_total -= earlier.requests_total;
  d.errors_total -= earlier.errors_total;
  d.server_errors_total -= earlier.server_errors_total;
  for (std::size_t i = 0; i < d.latency_counts.size(); ++i)
    d.latency_counts[i] -= earlier.latency_counts[i];
  d.latency_seconds_sum -= earlier.latency_seconds_sum;
  return d;
}

// The histogram bucket of a latency of `seconds`.
std::size_t bucket_of(double seconds) {
  std::size_t bucket = 0;
  while (bucket < FleetTraffic::kLatencyBounds.size() &&
         seconds > FleetTraffic::kLatencyBounds[bucket])
    ++bucket;
  return bucket;
}

long long completed(const FleetTraffic& t) {
  long long n = 0;
  for (long long c : t.latency_counts) n += c;
  return n;
}

std::string latency(double s) {
  return s < 1 ? fmt::format("{:.0f} ms", s * 1000) : fmt::format("{:.2f} s", s);
}

}  // namespace

double latency_quantile(
    const std::array<long long, FleetTraffic::kLatencyBounds.size() + 1>& counts, double q) {
  long long total = 0;
  for (long long c : counts) total += c;
  if (total <= 0) return 0;
  const double rank = q * static_cast<double>(total);
  long long below = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0) continue;
    if (static_cast<double>(below + counts[i]) >= rank) {
      const auto& bounds = FleetTraffic::kLatencyBounds;
      // The slowest bucket has no upper bound: its lower one is all that is known.
      if (i >= bounds.size()) return bounds.back();
      const double lower = i == 0 ? 0 : bounds[i - 1];
      const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      return lower + (bounds[i] - lower) * std::clamp(fraction, 0.0, 1.0);
    }
    below += counts[i];
  }
  return FleetTraffic::kLatencyBounds.back();
}

TrafficWatch::TrafficWatch(const DeploymentSpec& spec, std::string blue_fleet,
                           std::string green_fleet)
    : max_error_rate_(spec.max_error_rate),
      max_latency_ratio_(spec.max_latency_ratio),
      min_requests_(std::max(1, spec.min_requests)),
      window_(spec.rollback_window),
      blue_fleet_(std::move(blue_fleet)),
      green_fleet_(std::move(green_fleet)) {}

std::optional<std::string> TrafficWatch::sample(const std::vector<FleetTraffic>& stats,
                                                TimePoint at) {
  samples_.push_back(Sample{at, find(stats, blue_fleet_), find(stats, green_fleet_)});
  // The oldest sample kept is the last one at or before the window's start: the baseline.
  while (samples_.size() > 2 && samples_[1].at <= at - window_) samples_.pop_front();
  if (samples_.size() < 2) return std::nullopt;
  const Sample& first = samples_.front();
  const Sample& last = samples_.back();
  const FleetTraffic green = minus(last.green, first.green);
  const FleetTraffic blue = minus(last.blue, first.blue);
  const std::string over = seconds_text(std::chrono::duration_cast<Duration>(last.at - first.at));
  const long long green_done = completed(green);

  if (max_error_rate_ && green_done >= min_requests_) {
    const long long bad = std::min(green_done, green.errors_total + green.server_errors_total);
    const double rate = 100.0 * static_cast<double>(bad) / static_cast<double>(green_done);
    if (rate > *max_error_rate_) {
      return fmt::format(
          "green answered {} of {} requests ({:.1f}%) with a 5xx or a failure over the last {}; "
          "MAX_ERROR_RATE is {}%",
          bad, green_done, rate, over, *max_error_rate_);
    }
  }
  const FleetTraffic green_waits = with_waiting(green, &Sample::green);
  const FleetTraffic blue_waits = with_waiting(blue, &Sample::blue);
  const long long green_waited = completed(green_waits);
  const long long blue_waited = completed(blue_waits);
  if (max_latency_ratio_ && green_waited >= min_requests_ && blue_waited >= min_requests_) {
    const double green_p99 =
        std::max(kLatencyFloor, latency_quantile(green_waits.latency_counts, 0.99));
    const double blue_p99 =
        std::max(kLatencyFloor, latency_quantile(blue_waits.latency_counts, 0.99));
    const double ratio = green_p99 / blue_p99;
    if (ratio > *max_latency_ratio_) {
      return fmt::format(
          "green's p99 latency {} is {:.1f} times blue's {} over the last {} ({} requests on "
          "green, {} on blue); MAX_LATENCY_RATIO is {}",
          latency(green_p99), ratio, latency(blue_p99), over, green_waited, blue_waited,
          *max_latency_ratio_);
    }
  }
  return std::nullopt;
}

FleetTraffic TrafficWatch::with_waiting(const FleetTraffic& done,
                                        FleetTraffic Sample::*fleet) const {
  // Waits under way at sample s and not ended at the last one have lasted at least since s:
  // each is counted once, at the oldest sample that saw it, with that lower bound. Only bounds
  // above the p99 of the completed requests are added, so the figure only ever moves towards
  // the true p99, never below it.
  FleetTraffic result = done;
  const double p99 = latency_quantile(done.latency_counts, 0.99);
  const FleetTraffic& now = samples_.back().*fleet;
  long long counted = 0;
  for (std::size_t i = 0; i + 1 < samples_.size(); ++i) {
    const FleetTraffic& then = samples_[i].*fleet;
    const long long waiting = std::max(0LL, then.answer_waits_total - now.answer_waits_ended_total);
    if (waiting <= counted) continue;
    const double at_least =
        std::chrono::duration<double>(samples_.back().at - samples_[i].at).count();
    if (at_least <= p99) break;  // later samples give smaller bounds
    result.latency_counts[bucket_of(at_least)] += waiting - counted;
    counted = waiting;
  }
  return result;
}

}  // namespace bluegreen
