#include "frontends/cli/progress.h"

#include <fmt/format.h>

#include "frontends/cli/json_member.h"
#include "frontends/cli/terminal_text.h"

namespace bluegreen::cli {
namespace {

using nlohmann::json;

TimePoint time_of(const json& value, TimePoint fallback) {
  if (!value.is_string()) return fallback;
  return from_iso8601(value.get<std::string>()).value_or(fallback);
}

// Phases whose waits the deployment's TIMEOUT bounds.
bool bounded_by_timeout(const std::string& phase) {
  return phase != "block_traffic" && phase != "keep_blue" && phase != "terminate_blue" &&
         phase != "clean_up" && phase != "roll_back";
}

std::string what_it_waits_on(const json& record, TimePoint now) {
  std::string phase = printable(record.value("phase", ""));
  auto deadline = time_of(member(record, "deadline"), now);
  auto wait_until = time_of(member(record, "waitUntil"), now);
  auto left = [&](TimePoint until) {
    return duration_text(
        std::chrono::duration_cast<Duration>(std::max(until - now, TimePoint::duration::zero())));
  };
  if (phase == "keep_blue") {
    return fmt::format("keeping blue for {} more; `bluegreen rollback` switches back at once",
                       left(wait_until));
  }
  if (phase == "await_promotion") {
    return fmt::format("waiting for `bluegreen promote`; {} left before TIMEOUT", left(deadline));
  }
  if (phase == "block_traffic")
    return fmt::format("draining blue, at most {} more", left(wait_until));
  if (bounded_by_timeout(phase)) {
    for (const auto& hook : record.value("runningHooks", json::array())) {
      // The hook the deployment waits on, and where (the first of those running now).
      phase += printable(fmt::format(" {} ({}) on {}", hook.value("lifecycleEvent", ""),
                                     hook.value("script", ""), hook.value("instanceId", "")));
      break;
    }
    if (std::string hint = record.value("healthHint", ""); !hint.empty()) {
      phase += ": " + printable(hint);
    }
    return fmt::format("{}; {} left before TIMEOUT", phase, left(deadline));
  }
  return phase;
}

}  // namespace

std::string duration_text(Duration duration) {
  auto ms = duration.count();
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000);
  return fmt::format("{} min {} s", ms / 60'000, (ms / 1000) % 60);
}

std::string event_line(const json& event) {
  std::string instance = event.value("instanceId", "");
  return printable(fmt::format("{} {:<15} {:<13} {}{}", event.value("at", ""),
                               event.value("phase", ""), event.value("kind", ""),
                               instance.empty() ? "" : instance + " ", event.value("message", "")));
}

void DeployProgress::show(const json& record, const std::vector<json>& events, TimePoint now) {
  if (!events.empty()) last_event_ = event_line(events.back());
  if (!live_) {
    for (const auto& event : events) out_ << event_line(event) << "\n";
    out_.flush();
    return;
  }
  redraw(record, now);
}

void DeployProgress::redraw(const json& record, TimePoint now) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format(
      "\x1b[1mdeployment {}\x1b[0m  group {}  {}", printable(record.value("deploymentId", "")),
      printable(record.value("group", "")), printable(record.value("revision", ""))));
  for (const auto& phase : record.value("phases", json::array())) {
    std::string outcome = phase.value("outcome", "");
    auto started = time_of(member(phase, "started"), now);
    auto ended = time_of(member(phase, "ended"), now);
    std::string mark = outcome == "passed"    ? "\x1b[32m ok \x1b[0m"
                       : outcome == "failed"  ? "\x1b[31mFAIL\x1b[0m"
                       : outcome == "stopped" ? "\x1b[33mstop\x1b[0m"
                                              : "\x1b[36m .. \x1b[0m";
    std::string message = printable(phase.value("message", ""));
    if (message.size() > 90) message = message.substr(0, 87) + "...";
    lines.push_back(
        fmt::format("  [{}] {:<16} {:>9}  {}", mark, printable(phase.value("phase", "")),
                    duration_text(std::chrono::duration_cast<Duration>(ended - started)), message));
  }
  if (record.value("status", "") == "running") {
    lines.push_back("  now: " + what_it_waits_on(record, now));
  }
  if (!last_event_.empty()) {
    lines.push_back("  last: " +
                    (last_event_.size() > 110 ? last_event_.substr(0, 107) + "..." : last_event_));
  }
  // Move to the start of the block drawn last time, clear it, draw the new one.
  if (drawn_lines_ > 0) out_ << fmt::format("\x1b[{}F\x1b[J", drawn_lines_);
  for (const auto& line : lines) out_ << line << "\n";
  out_.flush();
  drawn_lines_ = static_cast<int>(lines.size());
}

}  // namespace bluegreen::cli
