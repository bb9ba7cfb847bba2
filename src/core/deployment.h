// Deployment: the record of one blue/green deployment of one group. It is plain data: the
// state machine in core/flow.h moves it forward, the engine persists it after every step, and
// the server answers questions about it. Everything needed to continue a deployment after a
// restart is in here (the cursor `step`, the deadlines, both fleets), so the journal holds
// exactly this record.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/deployment_cost.h"
#include "core/error.h"
#include "core/instance.h"
#include "core/spec.h"

namespace bluegreen {

// The phases a user sees, in the order a successful deployment passes them. `clean_up` and
// `roll_back` are the unhappy endings.
enum class Phase {
  validate,         // parameters checked, the group's serving fleet taken as blue
  fetch_revision,   // the revision unpacked on this machine
  launch_green,     // CAPACITY green instances launched, tagged GreenIdentifier=<uuid>
  install,          // the appspec lifecycle up to ValidateService on every green
  health_gate,      // HEALTH_CHECK_PATH answered HEALTHY_THRESHOLD times in a row by each green
  await_promotion,  // PROMOTION=manual: green on the preview listener until `promote`
  allow_traffic,    // BeforeAllowTraffic, the switch to green, AfterAllowTraffic
  block_traffic,    // BeforeBlockTraffic, blue drained (DRAIN_TIMEOUT), AfterBlockTraffic
  keep_blue,        // blue kept for BLUE_TERMINATION_WAIT; `rollback` switches back at once
  terminate_blue,   // ApplicationStop on blue, then blue's instances stopped
  clean_up,         // failure or rollback before the switch: greens terminated, blue untouched
  roll_back,        // after the switch: traffic back to blue, green drained and terminated
};
std::string_view to_string(Phase phase);
std::optional<Phase> phase_from_string(std::string_view text);

// The exact position inside a phase: the one action the deployment waits on next. Several
// steps make up a phase (allow_traffic = before_allow_traffic, route_to_green,
// after_allow_traffic). See next_action() in core/flow.h for what each step does.
enum class Step {
  fetch_revision,
  launch_green,
  install,
  check_health,
  show_preview,
  await_promotion,
  before_allow_traffic,
  route_to_green,  // to TRAFFIC_STEPS[traffic_step] percent (a split below 100)
  traffic_step,    // a step below 100 holds for STEP_WAIT, or until `promote` (manual)
  after_allow_traffic,
  before_block_traffic,
  drain_blue,
  after_block_traffic,
  keep_blue,
  stop_blue,  // ApplicationStop on blue, so the application shuts down on its own terms
  terminate_blue,
  route_to_blue,  // clean_up / roll_back: traffic back on blue
  hide_preview,   // clean_up / roll_back: the preview listener no longer reaches green
  drain_green,    // roll_back: green's in-flight requests finish
  stop_green,     // clean_up / roll_back: ApplicationStop on green
  terminate_green,
  done,  // the deployment has ended; `status` says how
};
std::string_view to_string(Step step);
std::optional<Step> step_from_string(std::string_view text);
// Steps until green serves (up to after_allow_traffic) are bounded by the deadline (TIMEOUT).
bool bounded_by_deadline(Step step);
// The steps of clean_up and roll_back.
bool is_unwinding(Step step);

enum class DeploymentStatus {
  running,      // in progress: blue serves until the switch, green after it
  succeeded,    // green serves; blue is terminated (or there was none)
  failed,       // something failed; greens are terminated and blue serves as before
  rolled_back,  // stopped on request (`rollback`) or by a trip of MAX_ERROR_RATE or
                // MAX_LATENCY_RATIO; greens are terminated and blue serves
};
std::string_view to_string(DeploymentStatus status);
std::optional<DeploymentStatus> status_from_string(std::string_view text);

enum class PhaseOutcome {
  running,  // the phase has not ended yet
  passed,   // the phase did its job
  failed,   // the phase failed; `message` says why
  stopped,  // the phase was cut short (rollback request, restart, earlier failure)
};
std::string_view to_string(PhaseOutcome outcome);
std::optional<PhaseOutcome> phase_outcome_from_string(std::string_view text);

struct PhaseRecord {
  Phase phase = Phase::validate;
  TimePoint started;
  std::optional<TimePoint> ended;
  PhaseOutcome outcome = PhaseOutcome::running;
  std::string message;  // what happened, in words: "2 instances healthy", the failure's cause
};

// The fleet that served when the deployment started.
struct BlueFleet {
  std::string fleet_id;  // the deployment that created it
  std::vector<Instance> instances;
  std::filesystem::path bundle_root;  // its revision, for the BlockTraffic hooks
};

// A cloud provider's progress (PROVIDER=elastigroup, asg): where it stands within the flow's
// step, the ids of what it created, and its saved state, which holds no secret and resumes the
// step after a restart without creating anything twice (engine/provider.h, invariant 1).
struct CloudProgress {
  std::string flow_phase;  // the provider's own stage (elastigroup: follow, …; asg: the step)
  std::string spot_deployment_id;  // the Spot B/G deployment (PROVIDER=elastigroup)
  std::string codedeploy_deployment_id;
  std::string token;  // the provider's saved state after its last request, in its own format
};

struct Deployment {
  std::string id;  // also the green fleet's id
  DeploymentSpec spec;
  std::string started_by;        // who or what asked for it: "cli:alice@host", "api"
  std::string green_identifier;  // the GreenIdentifier tag (a UUID) of the green instances

  DeploymentStatus status = DeploymentStatus::running;
  Phase phase = Phase::validate;
  Step step = Step::fetch_revision;

  TimePoint created;
  TimePoint deadline;  // created + TIMEOUT; bounds every step until green serves
  std::optional<TimePoint> finished;

  std::optional<BlueFleet> blue;  // none for the first deployment of a group
  std::vector<Instance> green;
  std::filesystem::path green_bundle_root;
  std::string revision;  // what was deployed, e.g. "local:/srv/hello-2.tgz"

  std::vector<PhaseRecord> phases;
  std::vector<HookResult> hooks;
  std::vector<std::string> warnings;  // things that went wrong without failing the deployment
  std::optional<Error> error;         // why it failed or was rolled back

  // Where the step stands; the state machine keeps these.
  std::map<std::string, int> health_streak;        // instance id -> consecutive good checks
  std::map<std::string, std::string> health_last;  // instance id -> last failed check, in words
  TimePoint next_check;                            // check_health: not before this
  TimePoint wait_until;                            // keep_blue, drain_blue, drain_green
  bool preview_shown = false;                      // the preview listener reaches green
  bool traffic_moved = false;                      // the switch to green may have happened
  std::string promoted_by;  // who promoted green (PROMOTION=manual), if anyone
  std::string rollback_by;  // who asked for the rollback, if anyone
  int traffic_step = 0;     // index in spec.traffic_steps of the step routed (or to route) now
  // check_health: the answer every green gave in the last rounds ("answered 404", "connection
  // refused"; empty when the greens differ or one is healthy), since when, and for how many
  // rounds in a row. A wrong HEALTH_CHECK_PATH shows itself this way (see core/flow.h).
  std::string health_same_answer;
  TimePoint health_same_since;
  int health_same_rounds = 0;
  std::string health_hint;  // what to change, while every green gives the same wrong answer
  // The hooks running now (instance, event and script; exit code and duration not yet known),
  // as the executor hears of them during RunHooks. Only live views carry it; a saved record
  // has none.
  std::vector<HookResult> running_hooks;
  std::optional<CloudProgress> cloud;  // a cloud provider's (elastigroup, asg)
  // What the deployment cost while blue and green ran together, set when it ends (see
  // core/deployment_cost.h); none while it runs, and for one that ended before launching greens.
  std::optional<DeploymentCost> cost;

  bool finished_running() const { return status != DeploymentStatus::running; }
};

// The id of the fleet of one colour (empty for a blue that does not exist) and its instances
// as the record holds them.
std::string fleet_of(const Deployment& deployment, Colour colour);
const std::vector<Instance>& instances_of(const Deployment& deployment, Colour colour);

// A new deployment, ready for start() in core/flow.h. `blue` is the group's serving fleet.
Deployment new_deployment(std::string id, DeploymentSpec spec, std::string started_by,
                          std::string green_identifier, TimePoint created,
                          std::optional<BlueFleet> blue);

// One line of a deployment's log: a phase starting or ending, a hook's result, a warning, a
// request to a cloud and its answer. Every provider's flow speaks through it (EventSink in
// engine/ports.h), whatever writes it down: the journal, the server's log, the Lambda's
// JSON lines.
enum class EventKind { phase_started, phase_ended, info, warning, error };
std::string_view to_string(EventKind kind);
std::optional<EventKind> event_kind_from_string(std::string_view text);

struct DeploymentEvent {
  std::string deployment_id;
  TimePoint at;
  Phase phase = Phase::validate;
  EventKind kind = EventKind::info;
  std::string message;
  std::string instance_id;  // empty when not about one instance
  // A stable name for tools and log queries ("greens_ready", "lifecycle_event"); empty when
  // the kind says it all (the local flow's phase_started, warning, …).
  std::string name;
  // What the event is about, by key: instance, lifecycle_event, status, error_code; a cloud
  // run's job_id, green_identifier, spot_deployment_id, codedeploy_deployment_id and its own
  // flow_phase (read_group, follow, …). Never a secret.
  std::map<std::string, std::string> fields;
};

}  // namespace bluegreen
