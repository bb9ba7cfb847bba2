// JsonLinesLog: the FlowLog that writes one JSON object per line, the format CloudWatch Logs
// Insights reads without configuration. Keys: time (UTC, ISO 8601 with milliseconds), level,
// event, message, job_id, phase, green_identifier, spot_deployment_id, deployment_id
// (CodeDeploy), original_job_id when it differs from job_id, and the entry's own fields
// (instance, lifecycle_event, status, …). Records hold no secret: the flow never sees one.
//
// Thread-safe; each line is written and flushed whole.
#pragma once

#include <mutex>
#include <ostream>
#include <string>

#include "engine/elastigroup_ports.h"

namespace bluegreen::elastigroup {

// The JSON text of one record, without the newline.
std::string to_json_line(const FlowLogRecord& record);

class JsonLinesLog final : public FlowLog {
 public:
  explicit JsonLinesLog(std::ostream& out) : out_(out) {}
  void write(const FlowLogRecord& record) override;

 private:
  std::mutex mutex_;
  std::ostream& out_;
};

}  // namespace bluegreen::elastigroup
