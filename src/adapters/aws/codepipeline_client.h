// CodePipelineClient: reporting a job's result (JSON 1.1, target prefix CodePipeline_20150709,
// signing name codepipeline): PutJobSuccessResult and PutJobFailureResult.
//
// The limits CodePipeline enforces are checked before sending, so a report is never rejected
// for its shape: over-long summaries and messages are shortened (with "..."), while a
// continuation token over 2048 characters, or output variables sent together with a
// continuation token, are invalid_input errors (they would lose state or be refused).
// CodePipeline answers a second final result for one job with InvalidJobStateException
// (conflict); an unknown job with JobNotFoundException (not_found).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

inline constexpr std::size_t kMaxContinuationToken = 2048;

struct JobExecutionDetails {
  std::string summary;                  // 1..2048, shown in the console's Details
  std::string external_execution_id;    // 1..1500, e.g. the CodeDeploy deployment id
  std::optional<int> percent_complete;  // 0..100
};

struct JobSuccess {
  std::string job_id;
  std::string continuation_token;  // non-empty: the action is not finished; called again
  std::optional<JobExecutionDetails> execution_details;
  std::map<std::string, std::string> output_variables;  // only without a continuation token
};

enum class JobFailureType {
  job_failed,
  configuration_error,
  permission_error,
  revision_out_of_sync,
  revision_unavailable,
  system_unavailable,
};
std::string_view to_string(JobFailureType type);  // "JobFailed", "ConfigurationError", ...

struct JobFailure {
  std::string job_id;
  JobFailureType type = JobFailureType::job_failed;
  std::string message;  // 1..5000, shown to whoever looks at the pipeline
  std::string external_execution_id;
};

class CodePipelineClient {
 public:
  explicit CodePipelineClient(const AwsContext& context);

  AwsResult<void> put_job_success_result(const JobSuccess& result, TimePoint deadline) const;
  AwsResult<void> put_job_failure_result(const JobFailure& result, TimePoint deadline) const;

  // The request bodies (exposed for tests); errors as described above.
  static Result<nlohmann::json> success_input(const JobSuccess& result);
  static nlohmann::json failure_input(const JobFailure& result);

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws
