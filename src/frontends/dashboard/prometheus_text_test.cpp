#include "frontends/dashboard/prometheus_text.h"

#include <gtest/gtest.h>

#include <array>

namespace bluegreen::dashboard {
namespace {

TEST(PrometheusText, FamilyLinesThenSamplesWithEscapedLabels) {
  PrometheusText out;
  out.family("x_total", PrometheusText::Type::counter, "Things\\counted\nhere.");
  out.sample("x_total", {{"group", "a\"b\\c\nd"}}, 3);
  out.sample("x_total", {}, 0.25);
  EXPECT_EQ(out.text(),
            "# HELP x_total Things\\\\counted\\nhere.\n"
            "# TYPE x_total counter\n"
            "x_total{group=\"a\\\"b\\\\c\\nd\"} 3\n"
            "x_total 0.25\n");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndEndWithInf) {
  constexpr std::array<double, 2> kBounds = {0.5, 1};
  Histogram histogram(kBounds);
  histogram.observe(0.5);  // bounds are inclusive
  histogram.observe(0.7);
  histogram.observe(9);
  PrometheusText out;
  out.family("d_seconds", PrometheusText::Type::histogram, "Durations.");
  out.histogram("d_seconds", {{"phase", "install"}}, histogram);
  EXPECT_EQ(out.text(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{phase=\"install\",le=\"0.5\"} 1\n"
            "d_seconds_bucket{phase=\"install\",le=\"1\"} 2\n"
            "d_seconds_bucket{phase=\"install\",le=\"+Inf\"} 3\n"
            "d_seconds_sum{phase=\"install\"} 10.2\n"
            "d_seconds_count{phase=\"install\"} 3\n");
}

TEST(PrometheusText, HistogramsAddCountsKeptInTheSameBuckets) {
  constexpr std::array<double, 2> kBounds = {0.5, 1};
  Histogram histogram(kBounds);
  histogram.observe(0.1);
  std::array<long long, 3> more = {1, 0, 4};
  histogram.add(more, 20);
  EXPECT_EQ(histogram.counts, (std::vector<long long>{2, 0, 4}));
  EXPECT_EQ(histogram.count(), 6);
  EXPECT_DOUBLE_EQ(histogram.sum, 20.1);
}

}  // namespace
}  // namespace bluegreen::dashboard
