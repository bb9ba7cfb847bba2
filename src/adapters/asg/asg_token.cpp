#include "adapters/asg/asg_token.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace bluegreen::asg {
namespace {

using nlohmann::json;

constexpr std::string_view kKind = "asg";

std::vector<std::string> ids_of(const std::vector<Instance>& instances) {
  std::vector<std::string> ids;
  for (const auto& i : instances) ids.push_back(i.id);
  return ids;
}

std::vector<Instance> instances_from(const std::vector<std::string>& ids,
                                     const std::string& fleet_id, InstanceState state) {
  std::vector<Instance> out;
  for (const auto& id : ids) {
    Instance instance;
    instance.id = id;
    instance.fleet_id = fleet_id;
    instance.host = "";
    instance.state = state;
    out.push_back(std::move(instance));
  }
  return out;
}

}  // namespace

std::string to_asg_token(const Deployment& d) {
  json j{{"v", 1},
         {"p", kKind},
         {"gid", d.green_identifier},
         {"c", to_epoch_ms(d.created)},
         {"dl", to_epoch_ms(d.deadline)},
         {"st", to_string(d.step)},
         {"ph", to_string(d.phase)},
         {"ps", to_epoch_ms(d.phases.empty() ? d.created : d.phases.back().started)},
         {"wu", to_epoch_ms(d.wait_until)},
         {"nc", to_epoch_ms(d.next_check)},
         {"tm", d.traffic_moved},
         {"pv", d.preview_shown},
         {"g", ids_of(d.green)},
         {"hs", d.health_streak}};
  if (!d.promoted_by.empty()) j["pb"] = clip(d.promoted_by, 64);
  if (d.blue) {
    j["b"] = d.blue->fleet_id;
    j["bi"] = ids_of(d.blue->instances);
  }
  if (d.cloud) j["a"] = d.cloud->token;
  if (d.error) {
    j["ek"] = to_string(d.error->kind);
    j["e"] = clip(d.error->message, 600);
  }
  std::string token = j.dump();
  for (const char* key : {"bi", "hs"}) {
    if (token.size() <= kMaxAsgTokenLength) break;
    j.erase(key);
    token = j.dump();
  }
  if (token.size() > kMaxAsgTokenLength && j.contains("e")) {
    j["e"] = clip(d.error->message, 120);
    token = j.dump();
  }
  return token;
}

bool is_asg_token(const std::string& token) {
  json j = json::parse(token, nullptr, false);
  return j.is_object() && j.value("p", "") == kKind;
}

Result<void> resume_from_asg_token(Deployment& d, const std::string& token) {
  json j = json::parse(token, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("p", "") != kKind || j.value("v", 0) != 1) {
    return fail(ErrorKind::invalid_input, "the continuation token is not one of PROVIDER=asg's");
  }
  try {
    auto step = step_from_string(j.at("st").get<std::string>());
    auto phase = phase_from_string(j.at("ph").get<std::string>());
    if (!step || !phase) {
      return fail(ErrorKind::invalid_input, "the continuation token names no known step");
    }
    d.green_identifier = j.at("gid").get<std::string>();
    d.created = from_epoch_ms(j.at("c").get<long long>());
    d.deadline = from_epoch_ms(j.at("dl").get<long long>());
    d.step = *step;
    d.phase = *phase;
    d.phases = {PhaseRecord{*phase, from_epoch_ms(j.at("ps").get<long long>()), std::nullopt,
                            PhaseOutcome::running, ""}};
    d.wait_until = from_epoch_ms(j.at("wu").get<long long>());
    d.next_check = from_epoch_ms(j.at("nc").get<long long>());
    d.traffic_moved = j.at("tm").get<bool>();
    d.preview_shown = j.at("pv").get<bool>();
    d.promoted_by = j.value("pb", "");
    bool installed = *step != Step::launch_green && *step != Step::install;
    d.green = instances_from(j.at("g").get<std::vector<std::string>>(), d.id,
                             installed ? InstanceState::healthy : InstanceState::running);
    d.health_streak = j.value("hs", std::map<std::string, int>{});
    if (j.contains("b")) {
      std::string fleet = j.at("b").get<std::string>();
      d.blue = BlueFleet{
          fleet,
          instances_from(j.value("bi", std::vector<std::string>{}), fleet, InstanceState::healthy),
          {}};
    }
    d.cloud = CloudProgress{};
    d.cloud->token = j.value("a", "");
    if (j.contains("e")) {
      auto kind = error_kind_from_string(j.value("ek", "failed"));
      d.error = Error{kind.value_or(ErrorKind::failed), j.at("e").get<std::string>()};
    }
  } catch (const json::exception& e) {
    return fail(ErrorKind::invalid_input,
                fmt::format("the continuation token is incomplete: {}", e.what()));
  }
  return {};
}

}  // namespace bluegreen::asg
