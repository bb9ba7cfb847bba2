#include "engine/elastigroup_executor.h"

#include <fmt/format.h>

#include <algorithm>

namespace bluegreen::elastigroup {
namespace {

constexpr const char* kGreenTag = "GreenIdentifier";

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

// The answer to a request: the event built from its value, or CallFailed.
template <typename T, typename Make>
EventBody answer(Result<T> result, Make make) {
  if (!result) return CallFailed{result.error()};
  if constexpr (std::is_void_v<T>) {
    return make();
  } else {
    return make(std::move(*result));
  }
}

// A service's answer may quote the request back, the Spot token with it (an endpoint that
// misbehaves, or a proxy in front of it): the token never reaches a message the flow keeps.
void hide(const Secret& token, Error& error) {
  const std::string& value = token.reveal();
  if (value.empty()) return;
  for (std::string* text : {&error.message, &error.code}) {
    const std::string_view redacted = Secret::kRedacted;
    for (auto at = text->find(value); at != std::string::npos;
         at = text->find(value, at + redacted.size())) {
      text->replace(at, value.size(), redacted);
    }
  }
}

// Without an invocation deadline (the server, the CLI) a request still ends by the flow's own:
// TIMEOUT, or the end of the cleanup grace while cleaning up. One that goes out past it (the
// last look at TIMEOUT, cleanup's last requests) gets one attempt's time.
constexpr Duration kRequestPastTheLimit = std::chrono::seconds(30);

TimePoint request_deadline(const FlowState& state, TimePoint now) {
  TimePoint limit = state.phase == Phase::stopping ? state.cleanup_deadline : state.deadline;
  return std::max(limit, now + kRequestPastTheLimit);
}

bool retryable(const Error& error) {
  return error.kind == ErrorKind::throttled || error.kind == ErrorKind::unavailable ||
         error.kind == ErrorKind::timeout;
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
    : ports_(ports), options_(std::move(options)) {}

RunOutcome ElastigroupExecutor::run(const ElastigroupJob& job, TimePoint must_end_by) {
  FlowState state;
  state.original_job_id = job.job_id;
  auto reject = [&](const Error& error) {
    // Bad parameters: reported before any cloud call, and never continued.
    ReportFailure report{FailureType::configuration_error,
                         fmt::format("invalid UserParameters: {}", error.message)};
    publish(EventKind::error, "invalid_parameters", report.message, state, job.job_id, "validate");
    return deliver(job.job_id, report, must_end_by, state);
  };
  const auto& spec = job.spec;
  if (!spec) return reject(spec.error());
  auto made = make_flow_config(*spec, job.job_id);
  if (!made) return reject(made.error());
  FlowConfig config = *made;
  if (options_.request_spacing) config.request_spacing = *options_.request_spacing;
  if (options_.poll_interval) config.poll_interval = *options_.poll_interval;
  if (options_.max_poll_interval) config.max_poll_interval = *options_.max_poll_interval;
  if (options_.cleanup_grace) config.cleanup_grace = *options_.cleanup_grace;

  spot_access_ = SpotAccess{config.token_reference.empty() ? spec->api_token : Secret(),
                            spec->account_id, spec->group_id};
  Clock& clock = ports_.clock;
  bool unbounded = must_end_by == TimePoint::max();
  Duration reserve = options_.reserve;
  if (!unbounded) {
    // A reserve longer than a third of the invocation would leave it no time to do anything.
    auto third = std::chrono::duration_cast<Duration>(must_end_by - clock.now()) / 3;
    reserve = std::min(reserve, std::max(Duration::zero(), third));
  }
  TimePoint stop_at = unbounded ? TimePoint::max() : must_end_by - reserve;
  TimePoint call_deadline = unbounded ? TimePoint::max() : must_end_by - reserve / 2;

  // The flow's state counts in milliseconds, as its continuation token does, so that a
  // resumed run sees the same times as one that went on.
  auto now = [&clock]() -> TimePoint { return std::chrono::floor<Duration>(clock.now()); };
  auto stopping = [&] { return options_.stop != nullptr && options_.stop->load(); };
  // Sleeps until `until`, or less when the run is asked to stop; true when it slept it all.
  auto sleep_until = [&](TimePoint until) {
    if (options_.stop == nullptr) {
      clock.sleep_until(until);
      return true;
    }
    while (!stopping() && clock.now() < until) {
      clock.sleep_until(std::min(until, clock.now() + kStopCheck));
    }
    return !stopping();
  };

  Decision decision = step(config, state, Event{now(), Started{job.continuation_token}});
  for (;;) {
    publish(std::move(decision.events), state, job.job_id);
    if (options_.checkpoint) options_.checkpoint(state, decision.next);
    if (is_report(decision.next)) return deliver(job.job_id, decision.next, must_end_by, state);
    EventBody body;
    if (const auto* wait = std::get_if<Wait>(&decision.next)) {
      if (wait->until >= stop_at || !sleep_until(wait->until)) {
        body = InvocationEnding{};
      } else {
        body = Woke{};
      }
    } else if (clock.now() >= stop_at || stopping()) {
      body = InvocationEnding{};
    } else {
      ports_.budget.deadline = std::min(call_deadline, request_deadline(state, now()));
      body = perform(decision.next, config, *spec);
      if (auto* failed = std::get_if<CallFailed>(&body)) hide(spot_access_.token, failed->error);
    }
    decision = step(config, state, Event{now(), body});
  }
}

EventBody ElastigroupExecutor::perform(const Action& action, const FlowConfig& config,
                                       const DeploymentSpec& spec) {
  SpotBlueGreen& spot = ports_.spot;
  CodeDeployService& codedeploy = ports_.codedeploy;
  const SpotAccess& access = spot_access_;
  return std::visit(
      Overloaded{
          [&](const ResolveApiToken&) -> EventBody {
            auto token = ports_.secrets.resolve(config.token_reference);
            if (!token) return CallFailed{token.error()};
            spot_access_.token = std::move(*token);
            return TokenResolved{};
          },
          [&](const ReadGroup& a) {
            return answer(spot.read_group(access, a.with_capacity),
                          [](SpotGroup group) -> EventBody {
                            return GroupRead{group.target_capacity, std::move(group.instance_ids)};
                          });
          },
          [&](const ListSpotDeployments&) {
            return answer(spot.list_deployments(access), [](auto list) -> EventBody {
              return SpotDeploymentsListed{std::move(list)};
            });
          },
          [&](const CreateSpotDeployment& a) {
            SpotBlueGreenRequest request{a.green_identifier, a.timeout_seconds, config.app_name,
                                         config.deployment_group};
            return answer(spot.create_deployment(access, request),
                          [](auto d) -> EventBody { return SpotDeploymentCreated{std::move(d)}; });
          },
          [&](const StopSpotDeployment& a) {
            return answer(spot.stop_deployment(access, a.deployment_id),
                          []() -> EventBody { return Done{}; });
          },
          [&](const DescribeGreens& a) {
            return answer(ports_.ec2.describe_tagged(kGreenTag, a.green_identifier),
                          [](auto list) -> EventBody { return GreensDescribed{std::move(list)}; });
          },
          [&](const DescribeInstanceHealth& a) {
            return answer(ports_.ec2.describe_health(a.instance_ids), [](auto list) -> EventBody {
              return InstanceHealthDescribed{std::move(list)};
            });
          },
          [&](const DetachGreens& a) {
            return answer(spot.detach_and_terminate(access, a.instance_ids),
                          []() -> EventBody { return Done{}; });
          },
          [&](const FindLastCodeDeployDeployment&) {
            return answer(
                codedeploy.last_attempted_deployment(config.app_name, config.deployment_group),
                [](auto id) -> EventBody { return LastCodeDeployDeployment{std::move(id)}; });
          },
          [&](const GetCodeDeployDeployment& a) {
            return answer(codedeploy.get_deployment(a.deployment_id), [](auto d) -> EventBody {
              return CodeDeployDeploymentRead{std::move(d)};
            });
          },
          [&](const CreateCodeDeployDeployment& a) {
            CodeDeployRequest request{config.app_name, config.deployment_group, spec.revision,
                                      kGreenTag,       a.green_identifier,      a.description};
            return answer(codedeploy.create_deployment(request), [](std::string id) -> EventBody {
              return CodeDeployCreated{std::move(id)};
            });
          },
          [&](const ListCodeDeployTargets& a) {
            return answer(codedeploy.list_targets(a.deployment_id), [](auto ids) -> EventBody {
              return CodeDeployTargetsListed{std::move(ids)};
            });
          },
          [&](const GetCodeDeployTargets& a) {
            return answer(codedeploy.get_targets(a.deployment_id, a.target_ids),
                          [](auto targets) -> EventBody {
                            return CodeDeployTargetsRead{std::move(targets)};
                          });
          },
          [&](const StopCodeDeployDeployment& a) {
            return answer(codedeploy.stop_deployment(a.deployment_id, /*auto_rollback=*/true),
                          []() -> EventBody { return Done{}; });
          },
          [&](const auto& other) -> EventBody {
            return CallFailed{{ErrorKind::internal,
                               fmt::format("{} is not a request", action_name(Action{other}))}};
          },
      },
      action);
}

RunOutcome ElastigroupExecutor::deliver(const std::string& job_id, const Action& report,
                                        TimePoint must_end_by, const FlowState& state) {
  ports_.budget.deadline = must_end_by;
  Duration backoff = std::chrono::seconds(1);
  for (int attempt = 1;; ++attempt) {
    Result<void> sent;
    RunOutcome outcome = RunOutcome::failed;
    std::string_view kind;
    if (const auto* s = std::get_if<ReportSuccess>(&report)) {
      sent = ports_.reporter.success(job_id, *s);
      outcome = RunOutcome::succeeded;
      kind = "PutJobSuccessResult";
    } else if (const auto* f = std::get_if<ReportFailure>(&report)) {
      sent = ports_.reporter.failure(job_id, *f);
      kind = "PutJobFailureResult";
    } else {
      sent = ports_.reporter.progress(job_id, std::get<ReportProgress>(report));
      outcome = RunOutcome::continued;
      kind = "PutJobSuccessResult with a continuation token";
    }
    if (sent) {
      publish(EventKind::info, "reported", fmt::format("{} sent", kind), state, job_id);
      return outcome;
    }
    const Error& error = sent.error();
    if (error.code == "InvalidJobStateException") {
      publish(
          EventKind::info, "already_reported",
          fmt::format("CodePipeline already has a result for job {} ({})", job_id, error.message),
          state, job_id);
      return RunOutcome::already_reported;
    }
    bool time_left = must_end_by == TimePoint::max() ||
                     ports_.clock.now() + backoff < must_end_by - std::chrono::seconds(1);
    if (!retryable(error) || attempt >= options_.report_attempts || !time_left) {
      publish(EventKind::error, "report_failed",
              fmt::format("{} could not be sent: {} {}", kind, error.code, error.message), state,
              job_id);
      return RunOutcome::report_failed;
    }
    publish(EventKind::warning, "report_retry",
            fmt::format("{} failed ({} {}); trying again", kind, error.code, error.message), state,
            job_id);
    ports_.clock.sleep_for(backoff);
    backoff *= 2;
  }
}

void ElastigroupExecutor::publish(std::vector<DeploymentEvent> events, const FlowState& state,
                                  const std::string& job_id, std::string_view flow_phase) {
  for (auto& event : events) {
    event.at = ports_.clock.now();
    auto& fields = event.fields;
    if (!flow_phase.empty()) {
      fields["flow_phase"] = std::string(flow_phase);
    } else if (!fields.contains("flow_phase")) {
      fields["flow_phase"] = std::string(to_string(state.phase));
    }
    if (auto phase = phase_from_string(fields["flow_phase"])) event.phase = user_phase(*phase);
    fields["job_id"] = job_id;
    auto put = [&fields](const char* key, const std::string& value) {
      if (!value.empty()) fields[key] = value;
    };
    if (state.original_job_id != job_id) put("original_job_id", state.original_job_id);
    put("green_identifier", state.green_identifier);
    put("spot_deployment_id", state.spot_deployment_id);
    put("codedeploy_deployment_id", state.codedeploy_deployment_id);
    ports_.events.publish(event);
  }
}

void ElastigroupExecutor::publish(EventKind level, std::string name, std::string message,
                                  const FlowState& state, const std::string& job_id,
                                  std::string_view flow_phase) {
  DeploymentEvent event;
  event.kind = level;
  event.name = std::move(name);
  event.message = std::move(message);
  // Parameters are checked before the flow starts: such an event is the validate phase's.
  event.phase = flow_phase == "validate" ? bluegreen::Phase::validate : user_phase(state.phase);
  std::vector<DeploymentEvent> events;
  events.push_back(std::move(event));
  publish(std::move(events), state, job_id, flow_phase);
}

}  // namespace bluegreen::elastigroup
