// DeployProgress: what `bluegreen deploy` shows while it waits. In a terminal it redraws a
// small table in place: every phase with its outcome and duration, what the deployment waits
// on now and how long before that wait's deadline, and the latest log line. Elsewhere (CI
// logs, pipes) it prints each log event once, as a plain line.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/clock.h"

namespace bluegreen::cli {

class DeployProgress {
 public:
  DeployProgress(std::ostream& out, bool live) : out_(out), live_(live) {}

  // `record` is the deployment as GET /api/deployments/{id} answers; `events` the log lines
  // that arrived since the last call.
  void show(const nlohmann::json& record, const std::vector<nlohmann::json>& events, TimePoint now);

 private:
  void redraw(const nlohmann::json& record, TimePoint now);

  std::ostream& out_;
  bool live_;
  int drawn_lines_ = 0;
  std::string last_event_;
};

// One plain line for a log event as the API gives it.
std::string event_line(const nlohmann::json& event);
// "1.2 s", "3 min 4 s".
std::string duration_text(Duration duration);

}  // namespace bluegreen::cli
