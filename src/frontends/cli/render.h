// Text forms of the admin API's answers, for people: `status`, `history`, `logs`, and the
// one-line outcome of a deployment. (`--output json` prints the answers themselves.)
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace bluegreen::cli {

std::string render_status(const nlohmann::json& status);
std::string render_history(const nlohmann::json& deployments);
std::string render_logs(const nlohmann::json& logs);
// "deployment d-… succeeded in 12.3 s: group web serves local:…", or why it did not; then, on a
// line of its own, "cost: …" once the deployment has one.
std::string render_outcome(const nlohmann::json& record);
// The deploy command's last line: deploymentId, status, greenIdentifier, revision, phases…,
// cost (the record's, core/deployment_json.h; null until the deployment ended).
nlohmann::json deploy_result(const nlohmann::json& record);

}  // namespace bluegreen::cli
