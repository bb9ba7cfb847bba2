#include "engine/elastigroup_log.h"

#include "engine/json_log_line.h"

namespace bluegreen::elastigroup {

std::string to_json_line(const FlowLogRecord& record) {
  nlohmann::json line;
  line["event"] = record.entry.event;
  line["message"] = record.entry.message;
  line["job_id"] = record.job_id;
  if (!record.original_job_id.empty() && record.original_job_id != record.job_id) {
    line["original_job_id"] = record.original_job_id;
  }
  line["phase"] = record.phase;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) line[key] = value;
  };
  put("green_identifier", record.green_identifier);
  put("spot_deployment_id", record.spot_deployment_id);
  put("deployment_id", record.codedeploy_deployment_id);
  for (const auto& [key, value] : record.entry.fields) {
    if (!line.contains(key)) line[key] = value;
  }
  return json_log_line(record.time, to_string(record.entry.level), std::move(line));
}

void JsonLinesLog::write(const FlowLogRecord& record) {
  std::string text = to_json_line(record);
  std::lock_guard lock(mutex_);
  out_ << text << '\n';
  out_.flush();
}

}  // namespace bluegreen::elastigroup
