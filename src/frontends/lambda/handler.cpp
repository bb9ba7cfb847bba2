#include "frontends/lambda/handler.h"

#include <fmt/format.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "frontends/lambda/codepipeline_event.h"

namespace bluegreen::lambda {
namespace {

using elastigroup::RunOutcome;

// An event about the invocation itself (no flow runs yet, or the flow could not run).
void log(elastigroup::ElastigroupPorts& ports, EventKind level, std::string name,
         std::string message, std::string job_id, std::map<std::string, std::string> fields = {}) {
  fields["job_id"] = std::move(job_id);
  fields["flow_phase"] = "invocation";
  ports.events.publish(DeploymentEvent{"", ports.clock.now(), Phase::validate, level,
                                       std::move(message), "", std::move(name), std::move(fields)});
}

}  // namespace

bool is_known_handler(std::string_view name) {
  return name.empty() || name == "bluegreen.lambda_handler" || name == "bluegreen";
}

CodePipelineHandler::CodePipelineHandler(elastigroup::ElastigroupPorts ports,
                                         elastigroup::ElastigroupExecutor::Options options,
                                         OpenAsgCloud open_asg)
    : ports_(ports), options_(options), open_asg_(std::move(open_asg)) {}

HandlerResult CodePipelineHandler::handle(const Invocation& invocation) {
  auto job = parse_codepipeline_event(invocation.payload);
  if (!job) {
    log(ports_, EventKind::error, "invalid_event", job.error().message, "",
        {{"request_id", invocation.request_id}});
    return HandlerResult{false, "", RuntimeError{"Runtime.InvalidEvent", job.error().message}};
  }
  log(ports_, EventKind::info, "invocation",
      job->continuation_token ? "continuing a CodePipeline job" : "new CodePipeline job", job->id,
      {{"request_id", invocation.request_id}});
  try {
    auto spec = parse_spec(std::string_view(job->user_parameters));
    RunOutcome outcome = RunOutcome::report_failed;
    if (spec && spec->provider == Provider::asg) {
      OpenAsgCloud open =
          open_asg_ ? open_asg_ : OpenAsgCloud([]() -> Result<std::unique_ptr<asg::AsgCloud>> {
            return fail(ErrorKind::unavailable, "this function was built without PROVIDER=asg");
          });
      outcome = run_asg_job(job->id, *spec, job->continuation_token, open, ports_, options_,
                            invocation.deadline);
    } else {
      elastigroup::ElastigroupExecutor executor(ports_, options_);
      outcome = executor.run(
          elastigroup::ElastigroupJob{job->id, std::move(spec), job->continuation_token},
          invocation.deadline);
    }
    if (outcome == RunOutcome::report_failed) {
      return HandlerResult{
          false, "",
          RuntimeError{"Function.ReportFailed",
                       fmt::format("the result of job {} could not be sent to CodePipeline; the "
                                   "invocation fails so that Lambda delivers the job again",
                                   job->id)}};
    }
    nlohmann::json body = {{"jobId", job->id}, {"outcome", elastigroup::to_string(outcome)}};
    return HandlerResult{true, body.dump(), {}};
  } catch (const std::exception& e) {
    // Unexpected: the job may be unreported. Failing the invocation makes Lambda deliver it
    // again, and the flow resumes without starting anything twice.
    log(ports_, EventKind::error, "unhandled", e.what(), job->id);
    return HandlerResult{false, "", RuntimeError{"Runtime.Unhandled", e.what()}};
  }
}

}  // namespace bluegreen::lambda
