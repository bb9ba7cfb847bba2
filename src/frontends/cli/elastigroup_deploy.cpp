#include "frontends/cli/elastigroup_deploy.h"

#include <fmt/format.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "adapters/elastigroup/elastigroup_cloud.h"
#include "adapters/elastigroup/elastigroup_log.h"
#include "adapters/elastigroup/elastigroup_pacing.h"
#include "core/deployment_json.h"
#include "frontends/cli/terminal_text.h"

namespace bluegreen::cli {
namespace {

using nlohmann::json;

// Plain progress lines for people: "12:00:01 wait_greens  green_ready  i-0abc: running".
class ProgressLines final : public EventSink {
 public:
  explicit ProgressLines(std::ostream& out) : out_(out) {}
  void publish(const DeploymentEvent& event) override {
    std::time_t seconds = std::chrono::system_clock::to_time_t(event.at);
    std::tm local{};
    localtime_r(&seconds, &local);
    std::string instance;
    if (!event.instance_id.empty() && event.message.find(event.instance_id) == std::string::npos) {
      instance = event.instance_id + ": ";
    }
    auto flow_phase = event.fields.find("flow_phase");
    out_ << printable(fmt::format(
                "{:02}:{:02}:{:02} {:<18} {}{}", local.tm_hour, local.tm_min, local.tm_sec,
                flow_phase == event.fields.end() ? std::string(to_string(event.phase))
                                                 : flow_phase->second,
                instance, event.message))
         << "\n";
    out_.flush();
  }
  void update(const Deployment& /*deployment*/) override {}

 private:
  std::ostream& out_;
};

}  // namespace

Result<ExitCode> deploy_elastigroup(const DeploymentSpec& spec, const std::string& deployment_name,
                                    bool json_lines, std::ostream& out, std::ostream& progress) {
  ProgressLines lines(progress);
  elastigroup::JsonLinesLog json_log(progress);
  EventSink& events = json_lines ? static_cast<EventSink&>(json_log) : lines;
  SystemClock clock;
  elastigroup::ElastigroupExecutor::Options options;
  auto pacing = elastigroup::apply_pacing_environment(elastigroup::process_getenv, options);
  if (!pacing) return std::unexpected(pacing.error());
  auto result = elastigroup::deploy_with_elastigroup(spec, deployment_name, events, clock, options);
  if (!result) return std::unexpected(result.error());
  bool succeeded = result->outcome == elastigroup::RunOutcome::succeeded;
  json summary{
      {"deploymentId", result->deployment_id.empty() ? json(nullptr) : json(result->deployment_id)},
      {"deploymentName", deployment_name},
      {"provider", "elastigroup"},
      {"status", succeeded ? "succeeded" : "failed"},
      {"message", result->message},
      {"outputs", result->outputs}};
  if (auto green = result->outputs.find("GreenIdentifier"); green != result->outputs.end()) {
    summary["greenIdentifier"] = green->second;
  }
  if (result->failure_type) summary["failureType"] = to_string(*result->failure_type);
  summary["cost"] = result->cost ? to_json(*result->cost) : json(nullptr);
  progress << (succeeded ? "succeeded: " : "failed: ") << printable(result->message) << "\n";
  // A success's summary ends with the cost already; a failure's only when Spot priced it.
  if (result->cost && result->message.find(describe(*result->cost)) == std::string::npos) {
    progress << "cost: " << printable(describe(*result->cost)) << "\n";
  }
  out << json_line(summary) << "\n";
  out.flush();
  if (succeeded) return ExitCode::succeeded;
  return result->failure_type == elastigroup::FailureType::configuration_error
             ? ExitCode::invalid_input
             : ExitCode::deployment_failed;
}

}  // namespace bluegreen::cli
