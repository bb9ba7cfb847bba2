// The CodePipeline job event a Lambda invoke action receives. The whole event is one object
// under the literal key "CodePipeline.job" (the dot is part of the name, not a path). Only
// what the flow needs is kept; the rest, notably data.artifactCredentials, is dropped
// unread, and no error message quotes the event.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace bluegreen::lambda {

struct CodePipelineJob {
  std::string id;               // CodePipeline.job.id
  std::string user_parameters;  // data.actionConfiguration.configuration.UserParameters
  std::optional<std::string> continuation_token;  // data.continuationToken
};

// Errors are invalid_input and describe the event's shape, never its content.
Result<CodePipelineJob> parse_codepipeline_event(std::string_view payload);

}  // namespace bluegreen::lambda
