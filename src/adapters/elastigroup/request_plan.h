// The Elastigroup request plan: the Spot, EC2 and CodeDeploy requests that make each step of
// a PROVIDER=elastigroup deployment happen, in order, paced and retried. The deployment's flow
// is the one flow of every provider (core/flow.h); these requests are what
// ElastigroupProvider's ports do (elastigroup_provider.h): launch_green makes those of
// read_group .. wait_greens, install those of find_codedeploy .. follow, retire_blue those of
// wait_blue_detached, clean_up those of stopping, and each port call answers the flow once its
// requests got past its step. RequestPlan (request_plan_run.h) makes them through the ports,
// one after the other; the stage below is where they stand, kept in FlowState with what they
// learnt, which the provider saves before every request (the record, or the Lambda's
// continuation token), so that a run resumed anywhere goes on without creating anything twice.
//
// Stages (see design.md section 4). Every invocation first resolves API_TOKEN when it is an
// ssm:/secretsmanager: reference (the secret store), then goes on from its stage:
//   read_group         Spot: the group's target capacity and current (blue) instances
//   find_spot          Spot: is there already a B/G deployment tagged with our GreenIdentifier?
//   create_spot        Spot: create the CodeDeploy B/G deployment with the tag and the timeout
//   wait_greens        EC2: the tagged greens are running and pass their status checks
//   find_codedeploy    CodeDeploy: did this job already create a deployment on our greens?
//   create_codedeploy  CodeDeploy: CreateDeployment targeted at GreenIdentifier=<value>
//   follow             CodeDeploy to a terminal status, logging per-instance lifecycle events
//   wait_blue_detached Spot: the blue instances have left the group
//   stopping           something failed: stop CodeDeploy (with rollback), stop the Spot B/G
//                      deployment, make sure no green is left running, then report the failure
//   done               reported
//
// Idempotency per job. CodePipeline invokes the function asynchronously and may deliver one
// job twice (or again after a crash). Three things make a repeated delivery join the first
// one instead of starting another deployment:
//   1. GreenIdentifier is derived from the job id (green_identifier_for_job), so every
//      delivery of one job looks for the same tag.
//   2. Before creating the Spot B/G deployment the flow lists the group's B/G deployments and
//      adopts one whose tag is ours; a deployment of ours that already ended is never
//      followed by a new one. A racing duplicate's create is refused by Spot
//      (DEPLOYMENT_ALREADY_IN_PROGRESS, a conflict), and it looks again.
//   3. Before CodeDeploy CreateDeployment it reads the deployment group's last attempted
//      deployment and adopts it when it targets our tag. CodeDeploy runs one deployment per
//      deployment group at a time, so two deliveries racing past the check cannot both
//      create: the loser gets DeploymentLimitExceeded, looks again and adopts the winner's.
// A continued job (continuationToken) resumes from the token; the token is written only
// between requests, so it always describes what is known to exist. A token written just
// before a create (the server journals the state before every request) cannot tell whether
// the create went out: a flow resumed in create_spot or create_codedeploy looks first
// (find_spot, find_codedeploy), so a create answered after the last save is adopted, not
// made twice, even when the first deployment has ended meanwhile.
//
// Never remove what may serve (the flow's first invariant). Once CodeDeploy has succeeded
// on the greens (AllowTraffic done: FlowState::greens_serving), nothing the flow does
// afterwards stops the Spot B/G deployment, stops CodeDeploy, or detaches or terminates a
// green instance: not TIMEOUT, not a failed or refused poll, not Spot failing or being
// stopped, not a repeated delivery or a continuation, not cleanup. Every way the flow can end
// from then on reports (success once Spot has detached blue; otherwise a failure saying what
// is still pending: the blue instances still attached, the Spot deployment id and what to
// do) and leaves both fleets as they are. Cleanup learns of a success it did not see itself:
// a CodeDeploy stop refused because the deployment already completed is followed by a read of
// that deployment, a delivery that adopts a running Spot deployment asks CodeDeploy before it
// waits for greens, and a Spot deployment of ours seen finished (Spot finalises only after
// CodeDeploy's success) means the greens serve, whatever CodeDeploy's last deployment is now.
// At TIMEOUT in wait_blue_detached the flow looks once more (group, greens, Spot) and reports
// success if blue has left.
//
// Spot interruptions. EC2 may reclaim a green at any moment (it ends shutting-down/terminated
// with state reason Server.SpotInstanceTermination) and Elastigroup launches a replacement,
// which may or may not carry the deployment's tags. Every look at the greens (each round of
// wait_greens, follow and wait_blue_detached) notices a green that went away without this flow
// asking and names it in a warning ("green i-… was reclaimed by a spot interruption at …");
// every few rounds the group is read too, and a blue that left it early is reported, never
// acted on. Then, within TIMEOUT:
//   - while the greens launch or install (before CodeDeploy's success): the flow waits for the
//     replacement; a new instance in the group that is neither blue nor tagged is tagged
//     GreenIdentifier=<ours> (TagInstances), unless it may be a blue's replacement (a blue left
//     early, or more newcomers than greens missing): never is a blue tagged. Once the fleet is
//     full and passes its status checks, the install is repeated: on every green when the
//     install failed only on targets reclaimed while it ran, or, when it succeeded on the rest,
//     on the replacements alone (a CodeDeploy deployment targeted at
//     GreenReplacement=<GreenIdentifier>-r<round>, which only they carry). A round exists only
//     after the install on every green succeeded, so a delivery that finds one knows the greens
//     serve. There are never more rounds than greens reclaimed;
//   - when no replacement comes by TIMEOUT, or more greens are reclaimed than the fleet has
//     instances, the flow fails with that cause and cleans up; blue keeps serving;
//   - after CodeDeploy's success the remaining greens are never removed (see the next
//     paragraph): a green reclaimed then is reported, and so is the reduced capacity in the
//     success summary (the greens that got the revision: CodeDeploy's targets, still live). A
//     replacement install that fails then reports, removing nothing; so does a deployment
//     whose every green with the revision was reclaimed: it is not a success.
// Blue counts as detached when none of its instances is left in the group and, while an
// instance that is neither blue nor green is there, once Spot says it finished.
// An install that failed on an instance that was not reclaimed is the revision's failure, as
// before: the flow fails and cleans up.
//
// Time. Every wait ends by the deadline (start + TIMEOUT); after a failure, cleanup waits at
// most cleanup_grace. Steps are not paced: a request that follows an answer (read group ->
// create the Spot deployment; greens pass -> CreateDeployment) goes out at once. Only
// repeated polls of the same thing are spaced: rounds start poll_interval apart and back off
// by half again, up to max_poll_interval, while nothing changes; and over the whole flow the
// requests stay within request_burst + elapsed / request_spacing, so a long wait makes at
// most six requests a minute on average whatever moves. A resumed invocation polls at once
// (the pause passed between invocations), so every invocation makes progress. Retryable
// failures (throttled, unavailable, timeout) are retried with doubling waits from
// poll_interval until the deadline; when the clouds stayed unreachable (5xx, refused,
// timeouts) until the deadline the failure is SystemUnavailable, otherwise JobFailed. Any
// other failure is classified (FailureType) and reported after cleanup. Cleanup retries each
// step until its grace is over, then gives it up and names it in the report with what the
// user should stop by hand; past the grace it makes its remaining requests once each (a last
// detach of greens still running, a last look at them), so it always ends. When API_TOKEN's
// reference cannot be resolved nothing can make Spot remove the greens: cleanup stops what
// CodeDeploy runs, looks at the greens once and reports what to stop by hand.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/deployment.h"
#include "core/error.h"
#include "core/spec.h"

namespace bluegreen::elastigroup {

enum class Stage {
  read_group,
  find_spot,
  create_spot,
  wait_greens,
  find_codedeploy,
  create_codedeploy,
  follow,
  wait_blue_detached,
  stopping,
  done,
};
std::string_view to_string(Stage stage);
std::optional<Stage> stage_from_string(std::string_view text);

// CodePipeline failureDetails.type values this flow reports.
enum class FailureType {
  configuration_error,   // ConfigurationError: UserParameters or the setup they name is wrong
  permission_error,      // PermissionError: AWS or Spot refused a call (AccessDenied, 401/403)
  revision_unavailable,  // RevisionUnavailable: the S3 object or GitHub commit cannot be found
  job_failed,            // JobFailed: the deployment failed or ran out of time
  system_unavailable,    // SystemUnavailable: the clouds stayed unreachable until TIMEOUT
};
std::string_view to_string(FailureType type);  // the CodePipeline spelling

// ---- What the cloud tells us (results of requests) ---------------------------------------

struct SpotDeployment {
  std::string id;     // cdbg-…
  std::string state;  // raw Spot values, kept for messages ("STARTING", …)
  std::string status;
  std::string green_identifier;  // the GreenIdentifier tag value of its config, if any
};

// How this flow reads Spot's state/status words (the full list is not published): unknown
// words mean "still going".
enum class SpotProgress {
  running,   // keep following
  finished,  // Spot finalised the deployment (blue detached)
  failed,    // Spot failed, stopped or timed it out
};
SpotProgress classify(const SpotDeployment& deployment);

struct Ec2Instance {
  std::string id;
  std::string state;  // EC2 instance-state-name: pending, running, shutting-down, terminated…
  // StateReason.Code, when EC2 gives one: Server.SpotInstanceTermination for a spot
  // interruption, Client.UserInitiatedShutdown, …
  std::string state_reason;
};

// The tag every green carries: GreenIdentifier=<the deployment's>.
inline constexpr char kGreenTag[] = "GreenIdentifier";
// The state reason EC2 gives an instance it reclaimed (a spot interruption).
inline constexpr std::string_view kSpotInterruption = "Server.SpotInstanceTermination";
// The tag a replacement install targets (see "Spot interruptions" above): GreenIdentifier
// names every green, this one names the replacements of one install round only.
inline constexpr std::string_view kReplacementTag = "GreenReplacement";

struct InstanceHealth {
  std::string id;
  bool system_ok = false;    // SystemStatus.Status == ok
  bool instance_ok = false;  // InstanceStatus.Status == ok
};

struct CodeDeployDeployment {
  std::string id;
  std::string status;  // Created|Queued|InProgress|Baking|Ready|Succeeded|Failed|Stopped
  std::string error_code;
  std::string error_message;
  // Values of its GreenIdentifier and GreenReplacement tag filters (which instances it targets).
  std::vector<std::string> green_tag_values;
  long long pending = 0, in_progress = 0, succeeded = 0, failed = 0, skipped = 0, ready = 0;
};

// Whether CodeDeploy deployment `d` is one of this job's installs: it targets GreenIdentifier
// `green_identifier`, or a replacement round's GreenReplacement=<green_identifier>-r<n>, in
// which case `round` (when given) is set to n; else to 0.
bool installs_for(const CodeDeployDeployment& d, const std::string& green_identifier,
                  int* round = nullptr);

struct LifecycleEvent {
  std::string name;         // BeforeInstall, ValidateService, …
  std::string status;       // Pending|InProgress|Succeeded|Failed|Skipped|Unknown
  std::string error_code;   // diagnostics.errorCode (ScriptFailed, …)
  std::string script_name;  // diagnostics.scriptName
  std::string message;      // diagnostics.message
  std::string log_tail;     // diagnostics.logTail
};

struct InstanceTarget {
  std::string instance_id;
  std::string status;  // Pending|InProgress|Succeeded|Failed|Skipped|Unknown|Ready
  std::vector<LifecycleEvent> events;
};

// ---- Reports: what CodePipeline is told ------------------------------------------------------

struct ExecutionDetails {
  std::string summary;
  std::string external_execution_id;  // the CodeDeploy deployment id, when there is one
  int percent_complete = 0;
};
struct ReportSuccess {
  ExecutionDetails details;
  std::map<std::string, std::string> output_variables;  // GreenIdentifier, DeploymentId, …
};
struct ReportFailure {
  FailureType type = FailureType::job_failed;
  std::string message;
  std::string external_execution_id;
};
struct ReportProgress {
  ExecutionDetails details;
  std::string continuation_token;  // at most kMaxTokenLength characters
};
using Report = std::variant<ReportSuccess, ReportFailure, ReportProgress>;
std::string_view report_name(const Report& report);  // "ReportSuccess", …

// ---- Configuration and state ---------------------------------------------------------------

struct FlowConfig {
  std::string job_id;            // the CodePipeline job being served now
  std::string green_identifier;  // green_identifier_for_job(original job id)
  std::string token_reference;   // API_TOKEN when it is ssm:/… or secretsmanager:…, else empty
  std::string group_id;
  std::string app_name;
  std::string deployment_group;
  Duration timeout{0};             // TIMEOUT
  std::string revision;            // describe(spec.revision), for messages
  RevisionSource revision_source;  // what CodeDeploy installs (S3 or GitHub)

  // Polling: the pause between two rounds of polls starts at `poll_interval` and grows by
  // half again up to `max_poll_interval` while nothing changes. Over the whole flow there
  // are at most `request_burst` + elapsed / `request_spacing` requests (12 s: five a
  // minute on average over a long wait).
  Duration poll_interval = std::chrono::seconds(2);
  Duration max_poll_interval = std::chrono::seconds(60);
  Duration request_spacing = std::chrono::seconds(12);
  int request_burst = 30;
  // After a failure, how long cleanup may keep waiting for the greens to go away.
  Duration cleanup_grace = std::chrono::minutes(5);
};

// Builds the flow's configuration from validated parameters. Checks what parse_spec cannot
// know is wrong for this flow (provider, GROUP_ID/ACCOUNT_ID shape, revision kind); errors
// are invalid_input and name the key.
Result<FlowConfig> make_flow_config(const DeploymentSpec& spec, std::string job_id);

// The GreenIdentifier of a job: a UUID-shaped value derived from the job id, the same for
// every delivery of the job and different for different jobs.
std::string green_identifier_for_job(std::string_view job_id);

// The failure being cleaned up after, kept until it is reported.
struct PendingFailure {
  FailureType type = FailureType::job_failed;
  std::string message;
};

struct FlowState {
  Stage stage = Stage::read_group;
  std::string original_job_id;  // the job that started the deployment
  std::string green_identifier;
  std::string spot_deployment_id;
  std::string codedeploy_deployment_id;
  TimePoint started;
  TimePoint deadline;                  // started + TIMEOUT
  int target_capacity = 0;             // greens expected (the group's target capacity)
  int blue_count = 0;                  // instances in the group when the deployment began
  std::vector<std::string> green_ids;  // live tagged instances last seen
  int greens_running = 0;
  int greens_passing = 0;
  std::string codedeploy_status;
  std::string codedeploy_overview;  // counts last seen, to notice progress
  bool codedeploy_terminal = false;
  std::string spot_state;        // "state/status" last logged
  bool spot_ended = false;       // Spot reports our deployment finished or failed: never stop it
  bool spot_finished = false;    // Spot finalised our deployment (blue detached)
  std::string failed_lifecycle;  // "ValidateService failed on i-…: …" once a target failed
  // CodeDeploy succeeded on the greens: from now on nothing is stopped, detached or
  // terminated (see "Never remove what may serve" above).
  bool greens_serving = false;
  // A delivery adopted a running Spot deployment: CodeDeploy is asked before waiting for greens.
  bool adopted_spot = false;

  // Spot interruptions (see "Spot interruptions" above).
  std::vector<std::string> blue_ids;   // the group's instances when the deployment began
  std::vector<std::string> blue_lost;  // blue instances that left the group early (reported)
  // Greens that went away without this flow asking: id -> what happened, in words ("was
  // reclaimed by a spot interruption at 2026-…Z").
  std::map<std::string, std::string> reclaimed;
  // The instances the installs so far targeted (CodeDeploy's own list of each deployment).
  std::vector<std::string> installed_ids;
  std::vector<std::string> failed_targets;  // instances whose install failed in this round
  int install_round = 0;  // 0: the install on every green; n: the n-th install of replacements
  // This round installs only the replacements (tag GreenReplacement), the greens installed
  // before serving already; otherwise it installs on every green (tag GreenIdentifier).
  bool replacements_only = false;
  std::vector<std::string> earlier_codedeploy_ids;  // installs of earlier rounds, oldest first
  // The last install on every green (not on replacements alone): the deployment's DeploymentId.
  std::string main_codedeploy_id;
  // The overlap, when both fleets ran: from the Spot B/G deployment's create (Spot launches the
  // greens then; an adopted deployment: when this flow first saw it) to the report (blue
  // detached, or the greens cleaned up). Unset (epoch) until it begins.
  TimePoint greens_since;

  // Polling. A round is the requests of one look at the world; rounds are paced.
  TimePoint last_request;      // when the last request was answered
  int requests = 0;            // requests answered since the flow started
  Duration poll_interval{0};   // current pause between rounds; 0 = the configured start
  int round = 0;               // rounds in this stage
  int transient_failures = 0;  // consecutive retryable failures
  bool unreachable = false;    // the last of them: unavailable or timed out (not throttled)
  std::string last_transient_error;

  // Per instance, "<lifecycle event>:<status>" as last logged, so only changes are logged.
  std::map<std::string, std::string> instance_progress;

  std::optional<PendingFailure> failure;
  TimePoint cleanup_deadline;
  bool codedeploy_stop_sent = false;
  bool spot_stop_sent = false;
  bool detach_sent = false;
  bool codedeploy_recheck = false;  // a stop was refused as completed: read it before going on

  std::string codedeploy_error;  // errorInformation "code: message" last seen
  std::string cleanup_note;      // what cleanup could not do, appended to the failure

  // Per invocation, never in the token.
  bool api_token_ready = false;
  bool round_changed = false;                   // something moved in this polling round
  std::vector<std::string> group_instance_ids;  // the group's instances, read this round
  // wait_blue_detached: instances in the group that are neither blue nor known greens (a
  // replacement, Spot's or Elastigroup's): blue counts as gone with them there only once Spot
  // has finished.
  std::vector<std::string> group_unknown_ids;
  bool unclear_logged = false;  // "replacement_unclear" was said in this invocation
  bool final_look = false;      // TIMEOUT passed in wait_blue_detached: one last look is under way
  bool blue_known = false;      // group_instance_ids was read in this round
  // API_TOKEN's reference could not be resolved: nothing this invocation does can make Spot
  // remove the greens, so cleanup looks at them once and reports.
  bool spot_out_of_reach = false;
};

// ---- What happened ------------------------------------------------------------------------

// The phase a user sees for a stage of the plan, the one the deployment record and its
// events carry:
//   read_group, find_spot, create_spot, wait_greens        launch_green (Spot launches them)
//   find_codedeploy, create_codedeploy, follow             install (CodeDeploy's lifecycle)
//   wait_blue_detached                                     terminate_blue (Spot detaches blue)
//   stopping, done                                         clean_up
bluegreen::Phase user_phase(Stage stage);

// ---- Continuation token --------------------------------------------------------------------

inline constexpr std::size_t kMaxTokenLength = 2048;

// The state as a compact JSON string of at most kMaxTokenLength characters. Times travel as
// Unix epoch milliseconds and durations as milliseconds. What does not
// fit is dropped in order of least use (per-instance log memory, the green id list, the tail
// of a failure message); the ids and the stage always fit.
std::string to_token(const FlowState& state);
// Reads a token written by to_token. Errors are invalid_input.
Result<FlowState> from_token(std::string_view token);

}  // namespace bluegreen::elastigroup
