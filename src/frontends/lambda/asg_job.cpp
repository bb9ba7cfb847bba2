#include "frontends/lambda/asg_job.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/asg/asg_provider.h"
#include "adapters/asg/asg_token.h"
#include "core/text.h"
#include "engine/annotating_sink.h"
#include "engine/executor.h"

namespace bluegreen::lambda {
namespace {

namespace eg = elastigroup;

eg::FailureType failure_type_of(const Error& error) {
  switch (error.kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::not_found:
      return eg::FailureType::configuration_error;
    case ErrorKind::permission_denied:
      return eg::FailureType::permission_error;
    case ErrorKind::unavailable:
    case ErrorKind::throttled:
      return eg::FailureType::system_unavailable;
    default:
      return eg::FailureType::job_failed;
  }
}

std::string codedeploy_of(const Deployment& d) {
  return d.cloud ? d.cloud->codedeploy_deployment_id : std::string();
}

}  // namespace

eg::RunOutcome run_asg_job(const std::string& job_id, const DeploymentSpec& spec,
                           const std::optional<std::string>& continuation_token,
                           const OpenAsgCloud& open_cloud, eg::ElastigroupPorts& ports,
                           const eg::CloudRunOptions& options, TimePoint must_end_by) {
  // Every event of the run says which job it is about.
  AnnotatingSink sink(ports.events, [&job_id](DeploymentEvent& event) {
    event.fields["job_id"] = job_id;
    event.fields["provider"] = "asg";
    if (!event.fields.contains("flow_phase")) {
      event.fields["flow_phase"] = std::string(to_string(event.phase));
    }
  });
  auto say = [&](EventKind level, std::string name, std::string message) {
    DeploymentEvent event{job_id, ports.clock.now(),  Phase::validate,
                          level,  std::move(message), ""};
    event.name = std::move(name);
    event.fields["flow_phase"] = "invocation";
    sink.publish(event);
  };
  auto deliver = [&](const eg::Report& report) {
    return eg::deliver_report(ports.reporter, ports.clock, ports.budget, options.report_attempts,
                              job_id, report, must_end_by, say);
  };
  auto refuse = [&](eg::FailureType type, const std::string& message) {
    say(EventKind::error, "invalid_parameters", message);
    return deliver(eg::ReportFailure{type, message, ""});
  };
  // Invariant 3.
  if (spec.promotion == Promotion::manual) {
    return refuse(eg::FailureType::configuration_error,
                  "invalid UserParameters: PROMOTION=manual waits for `bluegreen promote`, which "
                  "cannot reach a CodePipeline action: run PROVIDER=asg with PROMOTION=manual "
                  "through `bluegreen server`, or leave PROMOTION out");
  }
  auto cloud = open_cloud();
  if (!cloud) {
    return refuse(
        eg::FailureType::configuration_error,
        fmt::format("PROVIDER=asg cannot reach AWS from the function: {}", cloud.error().message));
  }

  // Invariant 1: the same job always names the same greens.
  Deployment d = new_deployment(job_id, spec, "codepipeline", eg::green_identifier_for_job(job_id),
                                ports.clock.now(), std::nullopt);
  if (!continuation_token) {
    const std::string green_group = asg::green_group_name(spec.group_id, d.green_identifier);
    // A job delivered again after it ran to its end (its report was lost): its green serves.
    auto green = (*cloud)->group_named(green_group, std::min(must_end_by, d.deadline));
    if (green && *green) {
      auto tag = (*green)->tags.find(std::string(asg::kServiceTag));
      if (tag != (*green)->tags.end() && tag->second == spec.group_id) {
        std::string summary = fmt::format(
            "Auto Scaling group {}, this job's green, already serves {}: the deployment ran to "
            "its end before",
            green_group, spec.group_id);
        say(EventKind::info, "already_finished", summary);
        return deliver(eg::ReportSuccess{
            eg::ExecutionDetails{summary, "", 100},
            {{"GreenIdentifier", d.green_identifier}, {"GreenGroup", green_group}}});
      }
    }
  }
  d.cloud = CloudProgress{};
  bool resumed = false;
  if (continuation_token) {
    if (auto restored = asg::resume_from_asg_token(d, *continuation_token); !restored) {
      return refuse(eg::FailureType::job_failed, restored.error().message);
    }
    if (auto state = asg::asg_state_from(d.cloud->token)) {
      d.cloud->codedeploy_deployment_id = state->codedeploy_id;
      d.cloud->flow_phase = state->step;
    }
    resumed = true;
  }

  // Invariant 2: the run ends a reserve before the invocation does (a third of it at most).
  TimePoint now = ports.clock.now();
  Duration reserve = options.reserve;
  if (must_end_by != TimePoint::max()) {
    reserve = std::min(reserve, std::chrono::duration_cast<Duration>((must_end_by - now) / 3));
  }
  TimePoint run_end = must_end_by == TimePoint::max() ? must_end_by : must_end_by - reserve;

  asg::AsgPacing pacing;
  if (options.poll_interval) {
    pacing.first = *options.poll_interval;
    pacing.most = std::max(pacing.first, options.max_poll_interval.value_or(pacing.first));
  }
  asg::AsgProvider provider(std::move(*cloud), ports.clock, pacing);
  eg::TokenJournal journal;
  Executor executor(provider, ports.clock, journal, sink, ProviderRun{run_end, options.stop});
  Inbox inbox;
  Deployment last = resumed ? executor.resume(d, inbox) : executor.run(d, inbox);

  const std::string codedeploy = codedeploy_of(last);
  switch (last.status) {
    case DeploymentStatus::running: {
      std::string token = asg::to_asg_token(last);
      say(EventKind::info, "continuing",
          fmt::format("handing over to the next invocation in step {}", to_string(last.step)));
      return deliver(eg::ReportProgress{
          eg::ExecutionDetails{
              clip(fmt::format("{}: {}", to_string(last.phase), to_string(last.step)), 2048),
              codedeploy, 50},
          std::move(token)});
    }
    case DeploymentStatus::succeeded: {
      // The token's GreenIdentifier: a continued job has a new id.
      std::map<std::string, std::string> outputs{
          {"GreenIdentifier", last.green_identifier},
          {"GreenGroup", asg::green_group_name(spec.group_id, last.green_identifier)}};
      if (!codedeploy.empty()) outputs["DeploymentId"] = codedeploy;
      std::string summary = fmt::format("group {} serves {} from Auto Scaling group {}",
                                        spec.group_id, last.revision, outputs["GreenGroup"]);
      return deliver(
          eg::ReportSuccess{eg::ExecutionDetails{clip(summary, 2048), codedeploy, 100}, outputs});
    }
    default: {
      Error error = last.error.value_or(Error{ErrorKind::failed, "the deployment did not finish"});
      std::string message = error.message;
      if (!last.phases.empty() && !last.phases.back().message.empty() &&
          last.phases.back().message != message) {
        message += ". " + last.phases.back().message;
      }
      return deliver(eg::ReportFailure{failure_type_of(error), clip(message, 5000), codedeploy});
    }
  }
}

}  // namespace bluegreen::lambda
