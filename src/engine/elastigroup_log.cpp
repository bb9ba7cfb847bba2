#include "engine/elastigroup_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace bluegreen::elastigroup {

std::string to_json_line(const FlowLogRecord& record) {
  nlohmann::json line;
  auto seconds = std::chrono::sys_seconds(std::chrono::seconds(record.time_ms / 1000));
  line["time"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", seconds, record.time_ms % 1000);
  line["level"] = std::string(to_string(record.entry.level));
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
  // Invalid UTF-8 from a service message must not make the line unwritable.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JsonLinesLog::write(const FlowLogRecord& record) {
  std::string text = to_json_line(record);
  std::lock_guard lock(mutex_);
  out_ << text << '\n';
  out_.flush();
}

}  // namespace bluegreen::elastigroup
