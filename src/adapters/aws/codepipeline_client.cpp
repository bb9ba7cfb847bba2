#include "adapters/aws/codepipeline_client.h"

#include "core/text.h"

namespace bluegreen::aws {

namespace {

using nlohmann::json;

}  // namespace

std::string_view to_string(JobFailureType type) {
  switch (type) {
    case JobFailureType::job_failed:
      return "JobFailed";
    case JobFailureType::configuration_error:
      return "ConfigurationError";
    case JobFailureType::permission_error:
      return "PermissionError";
    case JobFailureType::revision_out_of_sync:
      return "RevisionOutOfSync";
    case JobFailureType::revision_unavailable:
      return "RevisionUnavailable";
    case JobFailureType::system_unavailable:
      return "SystemUnavailable";
  }
  return "JobFailed";
}

CodePipelineClient::CodePipelineClient(const AwsContext& context)
    : service_(context, AwsService::codepipeline) {}

Result<json> CodePipelineClient::success_input(const JobSuccess& result) {
  json input{{"jobId", result.job_id}};
  if (!result.continuation_token.empty()) {
    if (result.continuation_token.size() > kMaxContinuationToken) {
      return fail(ErrorKind::invalid_input, "continuation token is " +
                                                std::to_string(result.continuation_token.size()) +
                                                " characters; CodePipeline accepts at most 2048");
    }
    if (!result.output_variables.empty()) {
      return fail(ErrorKind::invalid_input,
                  "output variables cannot be sent with a continuation token");
    }
    input["continuationToken"] = result.continuation_token;
  }
  if (result.execution_details) {
    json details = json::object();
    if (!result.execution_details->summary.empty()) {
      details["summary"] = clip(result.execution_details->summary, 2048);
    }
    if (!result.execution_details->external_execution_id.empty()) {
      details["externalExecutionId"] = clip(result.execution_details->external_execution_id, 1500);
    }
    if (result.execution_details->percent_complete) {
      details["percentComplete"] = std::clamp(*result.execution_details->percent_complete, 0, 100);
    }
    input["executionDetails"] = details;
  }
  if (!result.output_variables.empty()) input["outputVariables"] = result.output_variables;
  return input;
}

json CodePipelineClient::failure_input(const JobFailure& result) {
  json details{
      {"type", std::string(to_string(result.type))},
      {"message", clip(result.message.empty() ? std::string("failed") : result.message, 5000)}};
  if (!result.external_execution_id.empty()) {
    details["externalExecutionId"] = clip(result.external_execution_id, 1500);
  }
  return {{"jobId", result.job_id}, {"failureDetails", details}};
}

AwsResult<void> CodePipelineClient::put_job_success_result(const JobSuccess& result,
                                                           TimePoint deadline) const {
  auto input = success_input(result);
  if (!input) {
    return std::unexpected(
        service_.error("PutJobSuccessResult", input.error().kind, input.error().message));
  }
  auto output = service_.call_json("PutJobSuccessResult", *input, deadline);
  if (!output) return std::unexpected(output.error());
  return {};
}

AwsResult<void> CodePipelineClient::put_job_failure_result(const JobFailure& result,
                                                           TimePoint deadline) const {
  auto output = service_.call_json("PutJobFailureResult", failure_input(result), deadline);
  if (!output) return std::unexpected(output.error());
  return {};
}

}  // namespace bluegreen::aws
