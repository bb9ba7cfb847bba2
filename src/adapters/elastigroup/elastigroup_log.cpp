#include "adapters/elastigroup/elastigroup_log.h"

#include "engine/json_log_line.h"

namespace bluegreen::elastigroup {

std::string to_json_line(const DeploymentEvent& event) {
  auto field = [&event](const std::string& key) {
    auto it = event.fields.find(key);
    return it == event.fields.end() ? std::string() : it->second;
  };
  nlohmann::json line;
  line["event"] = event.name.empty() ? std::string(to_string(event.kind)) : event.name;
  line["message"] = event.message;
  line["job_id"] = field("job_id");
  std::string flow_phase = field("flow_phase");
  line["phase"] = flow_phase.empty() ? std::string(to_string(event.phase)) : flow_phase;
  auto put = [&line](const char* key, const std::string& value) {
    if (!value.empty()) line[key] = value;
  };
  put("original_job_id", field("original_job_id"));
  put("green_identifier", field("green_identifier"));
  put("spot_deployment_id", field("spot_deployment_id"));
  put("deployment_id", field("codedeploy_deployment_id"));
  put("instance", event.instance_id);
  for (const auto& [key, value] : event.fields) {
    if (key != "flow_phase" && key != "codedeploy_deployment_id" && !line.contains(key)) {
      line[key] = value;
    }
  }
  return json_log_line(event.at, log_level(event.kind), std::move(line));
}

void JsonLinesLog::publish(const DeploymentEvent& event) {
  std::string text = to_json_line(event);
  std::lock_guard lock(mutex_);
  out_ << text << '\n';
  out_.flush();
}

}  // namespace bluegreen::elastigroup
