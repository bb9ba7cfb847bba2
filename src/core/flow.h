// The blue/green flow of every provider as a pure function: (deployment, input) ->
// (deployment, action); ProviderTraits below say which steps a provider does by itself.
//
// The state machine decides; the engine's executor does. Each Transition carries the one
// action the deployment now waits on (none once it has ended) and the events to log. The
// executor performs the action through its ports and feeds the outcome back as an Input
// with the time it happened. Nothing here reads a clock, touches a file or blocks, so a test
// can walk a deployment through every phase with made-up inputs.
//
// The happy path (see Phase and Step in core/deployment.h):
//   validate -> fetch_revision -> launch_green -> install -> health_gate
//   -> [await_promotion, PROMOTION=manual] -> allow_traffic
//   -> [with a blue fleet: block_traffic -> keep_blue -> terminate_blue] -> succeeded
// allow_traffic routes each of TRAFFIC_STEPS in turn (route_to_green at a percent, then
// traffic_step holding it for STEP_WAIT or until `promote`), AfterAllowTraffic after 100.
// Any failure before green serves (and anything past the deadline) ends in clean_up: greens
// terminated, blue untouched, status failed. A failing AfterAllowTraffic hook, or a rollback
// request while blue still exists, ends in roll_back: traffic back to blue, green drained and
// terminated. ApplicationStop runs on a fleet before it is terminated. Failures of blue's
// BlockTraffic hooks and of any ApplicationStop are warnings: that fleet is on its way out, and
// an old fleet's flaky hook must not fail a good deployment.
//
// Invariants of progressive delivery (TRAFFIC_STEPS, MAX_ERROR_RATE, MAX_LATENCY_RATIO):
// 1. Blue is never retired (stop_blue, terminate_blue) while green holds a step below 100, nor
//    while a trigger can still fire: triggers are watched during traffic_step and keep_blue,
//    and stop_blue only follows the end of keep_blue.
// 2. A trip (input::TrafficTripped) in a watched step always restores 100% blue before
//    anything else: its first unwinding step is route_to_blue, which ends any split. The
//    deployment ends rolled_back, its error naming the figures that tripped.
// 3. A step below 100 is never recorded as green serving: a restart during it rolls back.
//
// A wrong HEALTH_CHECK_PATH (or a service that does not listen on its PORT) names itself:
// - once every green has given the same wrong answer (the same 4xx, or connection refused)
//   for kHealthHintRounds rounds in a row, a warning event says what to change ("GET /healthz
//   answered 404 on every green: set HEALTH_CHECK_PATH to a path your service answers with
//   2xx") and the record's health_hint carries it while the answers stay the same;
// - once every green has answered the same 4xx for kWrongPathWindow, the deployment fails
//   with that hint (blue keeps serving, greens are cleaned up) instead of waiting out TIMEOUT.
//   A 4xx is the service's definite answer; a refused connection may be a slow start, so it
//   only gets the hint and TIMEOUT still bounds it. 408, 425 and 429 ("not now": a service
//   still starting or rate limiting its probes) are no wrong path: neither hint nor early end.
// - a TIMEOUT during the health gate, whenever it strikes (between rounds, or a round whose
//   answer comes back after the deadline), fails with each green's last answer and the hint for
//   the last round's common wrong answer, even before kHealthHintRounds.
//
// Providers. The same machine runs every provider; what differs is which of the flow's steps a
// provider does by itself (ProviderTraits). The local provider does none: the flow fetches,
// runs every hook, probes, switches and drains. PROVIDER=elastigroup does all of them: Spot
// launches the greens and retires blue, CodeDeploy fetches the revision and runs every
// lifecycle event (ValidateService is its health gate, AllowTraffic its switch). Its
// deployments go validate -> launch_green -> install (its last step, route_to_green, is the
// provider's confirmation that the greens serve) -> terminate_blue (Spot detaches blue) ->
// succeeded, and:
// 4. Nothing that may serve is removed: once traffic may have moved (install succeeded on the
//    greens) a failure ends the deployment failed with no clean_up step, whatever its cause
//    (TIMEOUT, a restart, a provider error), and both fleets stay as they are.
// 5. A restart resumes the step in progress from the provider's saved state (Deployment::cloud)
//    instead of cleaning up: the cloud holds the fleets, and the provider finds its own
//    resources again rather than creating them twice.
// 6. The provider keeps TIMEOUT itself and says why it failed in its own words; the clean_up
//    step's outcome (input::ActionDone::detail) is its account of what it stopped and what is
//    left, and becomes the deployment's error.
//
// PROVIDER=asg (adapters/asg/asg_provider.h) does less by itself: CodeDeploy fetches the
// revision and runs the install's lifecycle events; the flow does the rest (health gate,
// preview, promotion, the switch, keep_blue, rollback) through the provider's target groups,
// and a restart resumes in place.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/deployment.h"

namespace bluegreen {

// The lifecycle events run on each green instance during `install`, in CodeDeploy's order
// for a replacement instance (ApplicationStop is skipped: a new instance has no earlier
// revision).
const std::vector<std::string>& install_lifecycle_events();

// Which steps of the flow a provider does by itself (see "Providers" above).
struct ProviderTraits {
  bool fetches_revision = false;  // its installer fetches the revision: no fetch_revision step
  // Its agent runs every lifecycle event, ValidateService (the health gate) included: no
  // health_gate step, and no hook of the flow's own (traffic hooks, ApplicationStop).
  bool installs_and_gates = false;
  // It moves traffic to green once install succeeds and retires blue itself: allow_traffic
  // confirms the switch, terminate_blue waits for blue to leave (with or without a blue fleet
  // on record); no drain, no keep_blue, and no roll back after the switch.
  bool moves_traffic = false;
  bool keeps_time = false;        // it bounds its steps by TIMEOUT and names the cause itself
  bool resumes_in_place = false;  // a restart carries on with the step in progress
  // It prices the overlap of blue and green from the cloud's bill (Deployment::cost); for any
  // other provider the flow counts the overlap from the record as the deployment ends.
  bool prices_overlap = false;
};
ProviderTraits traits_of(Provider provider);

inline constexpr int kHealthHintRounds = 3;
inline constexpr Duration kWrongPathWindow = std::chrono::minutes(1);

namespace action {
struct FetchRevision {};  // unpack spec.revision; the deployment's deadline bounds it
struct LaunchGreen {
  int count = 0;  // 0: as many as the provider makes (a provider that owns its fleets)
  std::map<std::string, std::string> tags;
};
struct RunHooks {  // run lifecycle events, in order, on every instance of one colour
  Colour colour = Colour::green;
  std::vector<std::string> lifecycle_events;
  TimePoint deadline;
};
struct CheckHealth {  // probe every green once, not before `not_before`
  TimePoint not_before;
  Duration probe_timeout{0};  // one probe's budget (never past the deployment's deadline)
};
struct Preview {  // what the preview listener reaches; none: nothing (it answers 503)
  std::optional<std::string> fleet_id;
};
struct Route {  // atomically send `percent` of every new request to this fleet, the rest to blue
  std::string fleet_id;
  int percent = 100;  // below 100 only for green during TRAFFIC_STEPS
};
struct Drain {  // wait until the fleet holds no request or connection, at most until `until`
  std::string fleet_id;
  TimePoint until;
};
struct Wait {  // wait until `until` unless a promote or rollback request comes first
  TimePoint until;
  // Compare green with blue meanwhile (MAX_ERROR_RATE, MAX_LATENCY_RATIO), and end the wait
  // with input::TrafficTripped when a limit is passed.
  bool watch_traffic = false;
};
struct Terminate {  // stop every instance of one colour, so that no process of them remains
  Colour colour = Colour::green;
};
}  // namespace action

using Action =
    std::variant<action::FetchRevision, action::LaunchGreen, action::RunHooks, action::CheckHealth,
                 action::Preview, action::Route, action::Drain, action::Wait, action::Terminate>;

// What a user would read in a log: "run BeforeInstall, ... on green", "route to d-1a2b".
std::string describe(const Action& action);

struct HealthCheck {
  std::string instance_id;
  bool healthy = false;
  std::string detail;  // what the probe saw when it was not healthy
  // The same for every instance that gives it: "answered 404", "connection refused"; empty
  // for any other failure.
  std::string answer;
};

namespace input {
struct Start {};  // the deployment was created and begins now
// The server restarted while this deployment was running. `routed_fleet` is the fleet the
// group's traffic goes to by the durable record (the executor corrects it when that fleet has
// no instance left): a restart during allow_traffic carries on when it names green (the switch
// happened and stays) and rolls back otherwise; a restart later on rolls back when it names
// blue (green is gone).
struct Resume {
  std::optional<std::string> routed_fleet;
};
struct RevisionFetched {
  std::filesystem::path bundle_root;
  std::string description;
};
struct GreenLaunched {
  std::vector<Instance> instances;
  std::string detail;  // the provider's summary of the launch; empty: the flow writes one
};
struct HooksRan {  // every hook passed
  std::vector<HookResult> results;
  bool reported = false;  // each result was already logged as it happened
  std::string detail;     // the provider's summary; empty: the flow writes one
};
struct HealthChecked {
  std::vector<HealthCheck> checks;
  // What a healthy read is, for the phase's summary ("passed the preview target group's
  // health check"); empty: "answered <HEALTH_CHECK_PATH>".
  std::string gate;
};
struct ActionDone {  // Preview, Route or Terminate did its job
  // What the provider says of it, when it has more to say than the flow knows: the switch it
  // confirmed, blue having left, or (clean_up, see invariant 6) its account of the failure.
  std::string detail;
};
// The provider stopped in the middle of its step because the run must end (the server shuts
// down, a Lambda invocation runs out of time). The record, with the provider's state, is as
// it was last saved; the step carries on from it at the next start. The flow never sees it:
// the executor ends the run without a step.
struct Suspended {};
struct Drained {
  int connections_closed = 0;  // still open at the drain deadline, closed by force
};
struct WaitEnded {};  // a Wait reached its `until`
struct Failed {       // the action failed
  Error error;
  std::vector<HookResult> results;  // hooks that ran before and including the failing one
  bool reported = false;            // each result was already logged as it happened
  // The provider already did all the clean-up it can (it could not go on, and cleaned up as it
  // stopped): the deployment ends failed without a clean_up step.
  bool cleaned_up = false;
};
struct PromoteRequested {
  std::string by;
};
struct RollbackRequested {
  std::string by;
};
// What the proxy saw of green passed MAX_ERROR_RATE or MAX_LATENCY_RATIO during a watched
// wait; `figures` says which, by how much, over what window.
struct TrafficTripped {
  std::string figures;
};
}  // namespace input

using InputEvent =
    std::variant<input::Start, input::Resume, input::RevisionFetched, input::GreenLaunched,
                 input::HooksRan, input::HealthChecked, input::ActionDone, input::Drained,
                 input::WaitEnded, input::Failed, input::PromoteRequested, input::RollbackRequested,
                 input::TrafficTripped, input::Suspended>;

struct Input {
  TimePoint at;  // when it happened; phase timestamps and deadlines use it
  InputEvent event;
};

struct Transition {
  Deployment deployment;
  std::optional<Action> action;         // what to do next; none once the deployment ended
  std::vector<DeploymentEvent> events;  // what happened, in order, to log and show
};

// How the log names a hook's start and its result: "ApplicationStart (scripts/start.sh)
// started", "ApplicationStart passed in 840 ms", "… failed: exit 1; output: …".
bool hook_passed(const HookResult& hook);
std::string hook_started_text(const HookResult& hook);
std::string hook_outcome_text(const HookResult& hook);

// Begins a deployment made by new_deployment(): validate, then fetch the revision.
Transition start(Deployment deployment, TimePoint at);

// Applies one input. Inputs that make no sense in the current step (a promote during
// install, a result for an action that was superseded) leave the deployment where it is,
// with a warning event, and repeat the pending action.
Transition step(Deployment deployment, const Input& input);

// The action the deployment waits on in its current step; none once it has ended.
std::optional<Action> next_action(const Deployment& deployment);

// The percent of new requests green gets at the deployment's current traffic step; always
// 100 for the first deployment of a group (no blue to share with).
int traffic_percent(const Deployment& deployment);

// Whether a promote or rollback request would be acted on now; the error says why not
// (kind conflict), in words a user can act on.
Result<void> can_promote(const Deployment& deployment);
Result<void> can_roll_back(const Deployment& deployment);

}  // namespace bluegreen
