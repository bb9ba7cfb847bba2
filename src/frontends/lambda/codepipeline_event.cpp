#include "frontends/lambda/codepipeline_event.h"

#include <nlohmann/json.hpp>

namespace bluegreen::lambda {
namespace {

using nlohmann::json;

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

Result<CodePipelineJob> parse_codepipeline_event(std::string_view payload) {
  json event = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded()) return fail(ErrorKind::invalid_input, "the event is not JSON");
  const json* job = member(event, "CodePipeline.job");
  if (job == nullptr || !job->is_object()) {
    return fail(ErrorKind::invalid_input,
                "the event has no \"CodePipeline.job\" object: this function is meant to be "
                "invoked by a CodePipeline Lambda action");
  }
  const json* id = member(*job, "id");
  if (id == nullptr || !id->is_string() || id->get<std::string>().empty()) {
    return fail(ErrorKind::invalid_input, "the CodePipeline job has no id");
  }
  CodePipelineJob out;
  out.id = id->get<std::string>();
  const json* data = member(*job, "data");
  const json* action = data ? member(*data, "actionConfiguration") : nullptr;
  const json* configuration = action ? member(*action, "configuration") : nullptr;
  const json* parameters = configuration ? member(*configuration, "UserParameters") : nullptr;
  if (parameters != nullptr && parameters->is_string()) {
    out.user_parameters = parameters->get<std::string>();
  }
  const json* token = data ? member(*data, "continuationToken") : nullptr;
  if (token != nullptr && token->is_string() && !token->get<std::string>().empty()) {
    out.continuation_token = token->get<std::string>();
  }
  return out;
}

}  // namespace bluegreen::lambda
