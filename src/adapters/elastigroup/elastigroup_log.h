// JsonLinesLog: the EventSink of the Lambda action and of `bluegreen deploy` with
// PROVIDER=elastigroup, which writes one JSON object per line, the format CloudWatch Logs
// Insights reads without configuration. Keys: time (UTC, ISO 8601 with milliseconds), level,
// event (the event's name), message, job_id, phase (the flow's own: read_group, follow, …),
// green_identifier, spot_deployment_id, deployment_id (CodeDeploy), original_job_id when it
// differs from job_id, instance when the event is about one, and the event's other fields
// (lifecycle_event, status, …). Events hold no secret: the flow never sees one.
//
// Thread-safe; each line is written and flushed whole.
#pragma once

#include <mutex>
#include <ostream>
#include <string>

#include "engine/ports.h"

namespace bluegreen::elastigroup {

// The JSON text of one event, without the newline.
std::string to_json_line(const DeploymentEvent& event);

class JsonLinesLog final : public EventSink {
 public:
  explicit JsonLinesLog(std::ostream& out) : out_(out) {}
  void publish(const DeploymentEvent& event) override;
  void update(const Deployment& /*deployment*/) override {}

 private:
  std::mutex mutex_;
  std::ostream& out_;
};

}  // namespace bluegreen::elastigroup
