// PrometheusText: writes the Prometheus text exposition format (version 0.0.4), the answer
// of GET /metrics. It takes care of what is easy to get wrong by hand: HELP and TYPE once per
// family before its samples, label values escaped, histogram buckets cumulative and ending
// with le="+Inf", and _sum/_count beside them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bluegreen::dashboard {

// Observations in buckets, as the proxy and the phase timings keep them.
struct Histogram {
  std::vector<double> bounds;     // upper bounds (inclusive), ascending
  std::vector<long long> counts;  // per bucket, not cumulative; one more than bounds (the rest)
  double sum = 0;

  explicit Histogram(std::span<const double> upper_bounds)
      : bounds(upper_bounds.begin(), upper_bounds.end()), counts(bounds.size() + 1, 0) {}
  void observe(double value);
  // Adds counts kept in the same buckets; `other_counts` has counts.size() entries.
  void add(std::span<const long long> other_counts, double other_sum);
  long long count() const;
};

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { counter, gauge, histogram };

  // Starts a family: its HELP and TYPE lines. Each name once, before its samples.
  void family(std::string_view name, Type type, std::string_view help);
  // One sample of the family started last (for a counter the name should end in _total).
  void sample(std::string_view name, const Labels& labels, double value);
  // The _bucket, _sum and _count samples of one histogram series of family `name`.
  void histogram(std::string_view name, const Labels& labels, const Histogram& histogram);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace bluegreen::dashboard
