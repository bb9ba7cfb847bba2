#include "adapters/elastigroup/elastigroup_executor.h"

#include <fmt/format.h>

#include <algorithm>

#include "adapters/elastigroup/elastigroup_standalone.h"
#include "engine/annotating_sink.h"
#include "engine/executor.h"

namespace bluegreen::elastigroup {
namespace {

bool retryable(const Error& error) {
  return error.kind == ErrorKind::throttled || error.kind == ErrorKind::unavailable ||
         error.kind == ErrorKind::timeout;
}

// Where a continued job stands in the flow, from the plan's saved state.
void resume_at(Deployment& d, const FlowState& state) {
  d.green_identifier = state.green_identifier;
  Stage plan = state.stage;
  bluegreen::Phase phase = user_phase(plan);
  bluegreen::Step step = bluegreen::Step::launch_green;
  switch (phase) {
    case bluegreen::Phase::install:
      step = bluegreen::Step::install;
      break;
    case bluegreen::Phase::terminate_blue:
      step = bluegreen::Step::terminate_blue;
      d.traffic_moved = true;
      break;
    case bluegreen::Phase::clean_up:
      step = bluegreen::Step::terminate_green;
      d.error = Error{ErrorKind::failed,
                      state.failure ? state.failure->message : "the deployment failed"};
      break;
    default:
      phase = bluegreen::Phase::launch_green;
      break;
  }
  if (state.greens_serving) d.traffic_moved = true;
  d.phase = phase;
  d.step = step;
  d.phases.push_back(PhaseRecord{phase, d.created, std::nullopt, PhaseOutcome::running, ""});
}

}  // namespace

std::string_view to_string(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::succeeded:
      return "succeeded";
    case RunOutcome::failed:
      return "failed";
    case RunOutcome::continued:
      return "continued";
    case RunOutcome::already_reported:
      return "already_reported";
    case RunOutcome::report_failed:
      return "report_failed";
  }
  return "report_failed";
}

ElastigroupExecutor::ElastigroupExecutor(ElastigroupPorts ports, Options options)
    : ports_(ports), options_(options) {}

RunOutcome ElastigroupExecutor::run(const ElastigroupJob& job, TimePoint must_end_by) {
  ElastigroupProvider provider(ports_, options_, job.job_id);
  auto reject = [&](const Error& error) {
    // Bad parameters: reported before any cloud call, and never continued.
    ReportFailure report{FailureType::configuration_error,
                         fmt::format("invalid UserParameters: {}", error.message)};
    publish(EventKind::error, "invalid_parameters", report.message, provider,
            bluegreen::Phase::validate);
    return deliver(job.job_id, report, must_end_by, provider);
  };
  const auto& spec = job.spec;
  if (!spec) return reject(spec.error());
  if (auto made = make_flow_config(*spec, job.job_id); !made) return reject(made.error());

  Deployment d =
      new_deployment(job.job_id, *spec, "codepipeline", green_identifier_for_job(job.job_id),
                     ports_.clock.now(), std::nullopt);
  bool resumed = false;
  if (job.continuation_token) {
    d.cloud = CloudProgress{};
    d.cloud->token = *job.continuation_token;
    // An unreadable token is the plan's to report: its first step reads it.
    if (auto saved = from_token(*job.continuation_token)) {
      resume_at(d, *saved);
      resumed = true;
    }
  }
  TokenJournal journal;
  // Every event of the run, the flow's own included, says which job and cloud deployments it is
  // about.
  AnnotatingSink sink(ports_.events,
                      [&provider](DeploymentEvent& event) { provider.annotate(event); });
  Executor executor(provider, ports_.clock, journal, sink, ProviderRun{must_end_by, options_.stop});
  Inbox inbox;
  Deployment last = resumed ? executor.resume(d, inbox) : executor.run(d, inbox);

  std::optional<Report> report = provider.report();
  if (!report) {
    // The flow ended without the plan's report (the plan never started): the record says how.
    if (last.status == DeploymentStatus::succeeded) {
      report = ReportSuccess{ExecutionDetails{"deployment succeeded", "", 100}, {}};
    } else {
      report = ReportFailure{FailureType::job_failed,
                             last.error ? last.error->message : "the deployment did not finish"};
    }
  }
  return deliver(job.job_id, *report, must_end_by, provider);
}

RunOutcome deliver_report(PipelineReporter& reporter, Clock& clock, CallBudget& budget,
                          int attempts, const std::string& job_id, const Report& report,
                          TimePoint must_end_by,
                          const std::function<void(EventKind, std::string, std::string)>& say) {
  budget.deadline = must_end_by;
  Duration backoff = std::chrono::seconds(1);
  for (int attempt = 1;; ++attempt) {
    Result<void> sent;
    RunOutcome outcome = RunOutcome::failed;
    std::string_view kind;
    if (const auto* s = std::get_if<ReportSuccess>(&report)) {
      sent = reporter.success(job_id, *s);
      outcome = RunOutcome::succeeded;
      kind = "PutJobSuccessResult";
    } else if (const auto* f = std::get_if<ReportFailure>(&report)) {
      sent = reporter.failure(job_id, *f);
      kind = "PutJobFailureResult";
    } else {
      sent = reporter.progress(job_id, std::get<ReportProgress>(report));
      outcome = RunOutcome::continued;
      kind = "PutJobSuccessResult with a continuation token";
    }
    if (sent) {
      say(EventKind::info, "reported", fmt::format("{} sent", kind));
      return outcome;
    }
    const Error& error = sent.error();
    if (error.code == "InvalidJobStateException") {
      say(EventKind::info, "already_reported",
          fmt::format("CodePipeline already has a result for job {} ({})", job_id, error.message));
      return RunOutcome::already_reported;
    }
    bool time_left = must_end_by == TimePoint::max() ||
                     clock.now() + backoff < must_end_by - std::chrono::seconds(1);
    if (!retryable(error) || attempt >= attempts || !time_left) {
      say(EventKind::error, "report_failed",
          fmt::format("{} could not be sent: {} {}", kind, error.code, error.message));
      return RunOutcome::report_failed;
    }
    say(EventKind::warning, "report_retry",
        fmt::format("{} failed ({} {}); trying again", kind, error.code, error.message));
    clock.sleep_for(backoff);
    backoff *= 2;
  }
}

RunOutcome ElastigroupExecutor::deliver(const std::string& job_id, const Report& report,
                                        TimePoint must_end_by,
                                        const ElastigroupProvider& provider) {
  const auto& state = provider.state();
  const bluegreen::Phase phase =
      state ? user_phase(state->stage == Stage::done ? Stage::stopping : state->stage)
            : bluegreen::Phase::validate;
  return deliver_report(ports_.reporter, ports_.clock, ports_.budget, options_.report_attempts,
                        job_id, report, must_end_by,
                        [&](EventKind level, std::string name, std::string message) {
                          publish(level, std::move(name), std::move(message), provider, phase);
                        });
}

void ElastigroupExecutor::publish(EventKind level, std::string name, std::string message,
                                  const ElastigroupProvider& provider, bluegreen::Phase phase) {
  DeploymentEvent event;
  event.at = ports_.clock.now();
  event.kind = level;
  event.name = std::move(name);
  event.message = std::move(message);
  event.phase = phase;
  if (phase == bluegreen::Phase::validate) event.fields["flow_phase"] = "validate";
  provider.annotate(event);
  ports_.events.publish(event);
}

}  // namespace bluegreen::elastigroup
