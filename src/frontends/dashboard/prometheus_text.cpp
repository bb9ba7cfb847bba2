#include "frontends/dashboard/prometheus_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace bluegreen::dashboard {
namespace {

std::string escaped(std::string_view text, bool in_label_value) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && in_label_value) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  return fmt::format("{}", value);
}

std::string label_text(const PrometheusText::Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}=\"{}\"", name, escaped(value, true));
  }
  return out + "}";
}

std::string_view type_name(PrometheusText::Type type) {
  switch (type) {
    case PrometheusText::Type::counter:
      return "counter";
    case PrometheusText::Type::gauge:
      return "gauge";
    case PrometheusText::Type::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Histogram::observe(double value) {
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++counts[static_cast<std::size_t>(bucket)];
  sum += value;
}

void Histogram::add(std::span<const long long> other_counts, double other_sum) {
  for (std::size_t i = 0; i < counts.size() && i < other_counts.size(); ++i) {
    counts[i] += other_counts[i];
  }
  sum += other_sum;
}

long long Histogram::count() const {
  return std::accumulate(counts.begin(), counts.end(), 0LL);
}

void PrometheusText::family(std::string_view name, Type type, std::string_view help) {
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escaped(help, false), name,
                       type_name(type));
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  text_ += fmt::format("{}{} {}\n", name, label_text(labels), number(value));
}

void PrometheusText::histogram(std::string_view name, const Labels& labels,
                               const Histogram& histogram) {
  long long cumulative = 0;
  for (std::size_t i = 0; i <= histogram.bounds.size(); ++i) {
    cumulative += histogram.counts[i];
    Labels with_bound = labels;
    with_bound.emplace_back("le",
                            i < histogram.bounds.size() ? number(histogram.bounds[i]) : "+Inf");
    sample(fmt::format("{}_bucket", name), with_bound, static_cast<double>(cumulative));
  }
  sample(fmt::format("{}_sum", name), labels, histogram.sum);
  sample(fmt::format("{}_count", name), labels, static_cast<double>(cumulative));
}

}  // namespace bluegreen::dashboard
