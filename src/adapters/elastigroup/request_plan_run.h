// RequestPlan: the requests that make ElastigroupProvider's steps happen (request_plan.h says
// which, in what order, and what each answer means). The plan calls Spot, EC2, CodeDeploy and
// the secret stores through their ports itself, one request after the other; what it keeps
// between requests is its FlowState, which is also its continuation token. Whoever runs it (the
// provider, a test) is its PlanHost: the clock, the record saved before every request, the
// waits between polls, and the end of the run.
//
// The plan goes on from its state's stage, one move at a time (a move is one stage's requests:
// one polling round, or one request of cleanup), until the host's step is reached, the plan
// reports, or the run must end (then it reports its progress, with the token to resume from).
//
// Not thread-safe; one deployment per plan.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "adapters/elastigroup/elastigroup_ports.h"
#include "adapters/elastigroup/request_plan.h"
#include "core/text.h"

namespace bluegreen::elastigroup {

// What runs a plan.
class PlanHost {
 public:
  virtual ~PlanHost() = default;
  // Now, in whole milliseconds (the token's unit, so that a resumed run sees the same times).
  virtual TimePoint now() = 0;
  // Called before every request, with the state as it stands (it describes what is known to
  // exist): the host saves it. `limit` is when the request must be over at the latest. False:
  // the run must end now, and the plan hands over instead of making the request.
  virtual bool before_request(const FlowState& state, TimePoint limit) = 0;
  // Waits until `until`. False: the run must end first; the plan hands over.
  virtual bool pause_until(TimePoint until) = 0;
  // An event of the plan: `name` is a stable name ("green_ready", "lifecycle_event", …),
  // `phase` the user_phase of the plan's stage at the time, whose name is in
  // fields["flow_phase"]; `instance_id` names the instance an event is about.
  virtual void publish(DeploymentEvent event) = 0;
};

// The ports a plan calls.
struct PlanPorts {
  SpotBlueGreen& spot;
  Ec2Instances& ec2;
  CodeDeployService& codedeploy;
  SecretSource& secrets;
};

namespace detail {

// Whole seconds of `d` (rounded toward zero), for messages and the Spot request.
inline long long whole_seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// Whether `ids` holds `id`.
inline bool holds(const std::vector<std::string>& ids, const std::string& id) {
  return std::ranges::find(ids, id) != ids.end();
}
// Adds `id` to `ids` unless it is there already.
inline void add_once(std::vector<std::string>& ids, const std::string& id) {
  if (!holds(ids, id)) ids.push_back(id);
}

// A service's answer may quote the request back, the Spot token with it (an endpoint that
// misbehaves, or a proxy in front of it): `error` gets "***" in the token's place, so no
// message the plan or the provider keeps holds it.
void hide(const Secret& token, Error& error);

// Retrying may help: the service throttled, was unreachable or timed out.
bool is_transient(const Error& error);
// The failure type CodePipeline should see for a failed request.
FailureType failure_type_of(const Error& error);

}  // namespace detail

class RequestPlan {
 public:
  // `access` names the Spot group; its token is the literal API_TOKEN, or empty until the plan
  // resolves the configuration's reference. `state` is the plan's, kept by the caller.
  RequestPlan(const FlowConfig& config, FlowState& state, PlanPorts ports, SpotAccess access);

  // Begins a run of the deployment: from `token` (a continuation, or the record's saved state),
  // or from nothing. An unreadable token is reported as a failure at once.
  void start(PlanHost& host, const std::optional<std::string>& token);
  // Goes on until `reached()` (asked between moves) says the host's step is done, or the plan
  // reports. Returns the report, once there is one.
  const std::optional<Report>& go(PlanHost& host, const std::function<bool()>& reached);
  // The deployment failed outside the plan (its record could not be kept): the plan cleans up
  // as after a failure of its own, unless the greens may serve or it is cleaning up already.
  void abandon(PlanHost& host, const std::string& reason);

  const std::optional<Report>& report() const { return report_; }
  // The Spot group, with the token once resolved (the provider asks Spot for the costs).
  const SpotAccess& access() const { return access_; }

 private:
  // The value a request answers with (std::monostate for one that answers nothing).
  template <typename R>
  using Value = std::conditional_t<std::is_void_v<typename R::value_type>, std::monostate,
                                   typename R::value_type>;

  // One move (request_plan_stages.cpp): the next requests of the plan's stage.
  void move();
  void resolve_token();
  void read_group();
  void find_spot();
  void create_spot();
  void greens_round();
  void find_codedeploy();
  void create_codedeploy();
  void follow_round();
  void blue_round();
  void stop_move();
  void detach_greens();

  // Requests (defined below). send() makes one: the host saves the state first, and the
  // deadline is checked; nothing when the plan moved on instead (handed over, timed out).
  // ask() makes it until it is answered or given up: an error is dealt with (retried after a
  // pause, a failure of the deployment, a step of cleanup given up) unless `tolerated` takes
  // it, in which case it is the caller's. Nothing when the plan moved on.
  template <typename Call>
  auto send(Call call) -> std::optional<decltype(call())>;
  template <typename Call>
  auto ask(std::string_view what, Call call,
           const std::function<bool(const Error&)>& tolerated = nullptr)
      -> std::optional<Result<Value<decltype(call())>>>;
  // Before a request: false when the plan moved on instead (TIMEOUT passed, the run ends).
  bool may_send();
  // After a request: counts it, and hides the Spot token from an error's words.
  void answered(Error* error);
  // A request's failure that no caller took: true when the same request should go out again
  // now (after a pause), false when the plan moved on.
  bool trouble(std::string_view what, const Error& error);

  // What the answers mean (request_plan.cpp).
  bool is_ours(const SpotDeployment& d) const;  // this job's Spot B/G deployment
  void group_read(const SpotGroup& group);
  void spot_listed(const std::vector<SpotDeployment>& deployments);
  // Describes every instance tagged with our GreenIdentifier (`what`: the request's purpose)
  // and notes what changed and what was reclaimed: false when the plan moved on.
  bool look_at_greens(std::string_view what, bool* changed);
  // The greens' status checks: true when every green passes.
  bool health_read(const std::vector<InstanceHealth>& health);
  void candidate_read(const CodeDeployDeployment& d);
  // CodeDeploy's deployment as followed: true when the targets should be read.
  bool codedeploy_read(const CodeDeployDeployment& d);
  void cleanup_codedeploy_read(const CodeDeployDeployment& d);
  void log_target(const InstanceTarget& target);
  void log_spot_state(const SpotDeployment& deployment);
  // A periodic look at the Spot deployment: false when the plan moved on (the request failed
  // for good, or Spot failed the deployment).
  bool check_spot();

  // Stages (request_plan_stages.cpp).
  void enter(Stage stage);
  void cleanup_greens_seen();
  void blue_detached_check();
  void after_spot_check();
  // wait_blue_detached: no blue instance is left in the group (see group_unknown_ids).
  bool blue_gone() const;
  void no_codedeploy_of_ours();
  // Paces the next round (see "Time" in request_plan.h); the round counts once the pause ran.
  void end_round();
  // Spot interruptions.
  // Records the greens of `seen` (every tagged instance EC2 describes) that went away without
  // this plan asking, with a warning for each; false when more were reclaimed than the fleet
  // has instances.
  bool note_reclaimed(const std::vector<Ec2Instance>& seen);
  // The group as read in wait_greens or follow: reports blue instances that left early, and
  // tags a replacement that Spot did not tag. False when the plan moved on.
  bool group_looked(const std::vector<std::string>& group);
  // The greens run and pass their status checks: the install (or the replacements') is next.
  // True when the round goes on (a green to tag went away meanwhile).
  bool greens_ready();
  // The install's CodeDeploy deployment ended (and the greens were looked at once more).
  void install_ended();
  // Installs again after greens were reclaimed: on the replacements alone (`only`), or on
  // every green.
  void start_replacement_round(bool only);
  bool wants_replacement() const;
  // The live greens that got the revision: live and targeted by an install (all the live
  // greens when the installs' targets are unknown: a token that had to drop them).
  std::vector<std::string> serving_greens() const;
  std::string install_tag_key() const;
  std::string install_tag_value() const;
  // "i-1 was reclaimed by …; i-2 …", for reports.
  std::string reclaimed_words() const;
  void spot_failed(const SpotDeployment& deployment);
  // A transient failure: waits (backing off) and resumes in `resume_in`. True when the same
  // request should go out again (the stage did not change and the pause ran).
  bool retry_later(const Error& error, Stage resume_in);
  void fail(FailureType type, const std::string& message);
  // Adds what cleanup could not do (and what the user should do about it) to the report.
  void add_cleanup_note(const std::string& note);
  void timed_out();
  // TIMEOUT passed after CodeDeploy's success and Spot has not detached blue: says what is
  // pending and leaves everything as it is.
  void report_pending(const std::string& limit);
  std::string serving_note() const;
  void report_failure();
  void succeed();
  void hand_over();
  ExecutionDetails details() const;

  // Waits until `until` (never past the current stage's limit); false when the run must end,
  // after handing over.
  bool pause(TimePoint until);
  TimePoint wait_limit() const;  // no wait goes past the deadline of the current stage
  void finish(Report report);
  bool done() const { return report_.has_value(); }
  void log(EventKind level, std::string event, std::string message,
           std::map<std::string, std::string> fields = {});

  const FlowConfig& c_;
  FlowState& s_;
  PlanPorts ports_;
  SpotAccess access_;
  PlanHost* host_ = nullptr;  // the host of the call under way
  TimePoint now_;             // when the last answer came (or the last pause ended)
  std::optional<Report> report_;
};

template <typename Call>
auto RequestPlan::send(Call call) -> std::optional<decltype(call())> {
  if (!may_send()) return std::nullopt;
  auto answer = call();
  answered(answer ? nullptr : &answer.error());
  return answer;
}

template <typename Call>
auto RequestPlan::ask(std::string_view what, Call call,
                      const std::function<bool(const Error&)>& tolerated)
    -> std::optional<Result<Value<decltype(call())>>> {
  using Answer = Result<Value<decltype(call())>>;
  for (;;) {
    auto answer = send(call);
    if (!answer) return std::nullopt;
    if (*answer) {
      s_.transient_failures = 0;
      if constexpr (std::is_void_v<typename decltype(call())::value_type>) {
        return Answer{std::monostate{}};
      } else {
        return Answer{std::move(**answer)};
      }
    }
    const Error& error = answer->error();
    if (tolerated && tolerated(error)) return Answer{std::unexpected(error)};
    if (!trouble(what, error)) return std::nullopt;
  }
}

}  // namespace bluegreen::elastigroup
