// Internal to the Elastigroup request plan: the object that applies one event to the state. Event
// handlers live in request_plan.cpp, phase decisions and reports in request_plan_phases.cpp.
// Nothing outside the plan includes this header.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/elastigroup/request_plan.h"
#include "core/text.h"

namespace bluegreen::elastigroup::detail {

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

// Retrying may help: the service throttled, was unreachable or timed out.
bool is_transient(const Error& error);
// The failure type CodePipeline should see for a failed request.
FailureType failure_type_of(const Error& error);

class Stepper {
 public:
  Stepper(const FlowConfig& config, FlowState& state, TimePoint now)
      : c_(config), s_(state), now_(now) {}

  Decision on(const EventBody& body);

 private:
  // Events (request_plan.cpp).
  Decision handle(const Started& e);
  Decision handle(const TokenResolved& e);
  Decision handle(const GroupRead& e);
  Decision handle(const SpotDeploymentsListed& e);
  Decision handle(const SpotDeploymentCreated& e);
  Decision handle(const GreensDescribed& e);
  Decision handle(const InstanceHealthDescribed& e);
  Decision handle(const LastCodeDeployDeployment& e);
  Decision handle(const CodeDeployDeploymentRead& e);
  Decision handle(const CodeDeployCreated& e);
  Decision handle(const CodeDeployTargetsListed& e);
  Decision handle(const CodeDeployTargetsRead& e);
  Decision handle(const Done& e);
  Decision handle(const Woke& e);
  Decision handle(const InvocationEnding& e);
  Decision handle(const Abandoned& e);
  Decision handle(const CallFailed& e);

  // Phases (request_plan_phases.cpp).
  Decision enter(Phase phase);
  Decision next_step(int step);
  Decision advance();
  Decision advance_stopping();
  Decision cleanup_greens_seen();
  Decision blue_detached_check();
  Decision after_spot_check();
  // wait_blue_detached: no blue instance is left in the group (see group_unknown_ids).
  bool blue_gone() const;
  Decision no_codedeploy_of_ours();
  Decision end_round();
  // Spot interruptions.
  // Records the greens of `seen` (every tagged instance EC2 describes) that went away without
  // this flow asking, with a warning for each; false when more were reclaimed than the fleet
  // has instances.
  bool note_reclaimed(const std::vector<Ec2Instance>& seen);
  // The group as read in wait_greens or follow: reports blue instances that left early, and
  // tags a replacement that Spot did not tag.
  Decision group_looked(const std::vector<std::string>& group);
  // The greens run and pass their status checks: the install (or the replacements') is next.
  Decision greens_ready();
  // The install's CodeDeploy deployment ended (and the greens were looked at once more).
  Decision install_ended();
  // Installs again after greens were reclaimed: on the replacements alone (`only`), or on
  // every green.
  Decision start_replacement_round(bool only);
  bool wants_replacement() const;
  // The live greens that got the revision: live and targeted by an install (all the live
  // greens when the installs' targets are unknown: a token that had to drop them).
  std::vector<std::string> serving_greens() const;
  std::string install_tag_key() const;
  std::string install_tag_value() const;
  // "i-1 was reclaimed by …; i-2 …", for reports.
  std::string reclaimed_words() const;
  Decision spot_failed(const SpotDeployment& deployment);
  Decision retry_later(const Error& error, Phase resume_in);
  Decision fail(FailureType type, const std::string& message);
  // Adds what cleanup could not do (and what the user should do about it) to the report.
  void add_cleanup_note(const std::string& note);
  Decision timed_out();
  // TIMEOUT passed after CodeDeploy's success and Spot has not detached blue: says what is
  // pending and leaves everything as it is.
  Decision report_pending(const std::string& limit);
  std::string serving_note() const;
  Decision report_failure();
  Decision succeed();
  ExecutionDetails details() const;

  // Building decisions.
  Decision issue(Action action, std::string awaiting);
  Decision wait_until(TimePoint until, std::string awaiting, std::string reason);
  TimePoint wait_limit() const;  // no wait goes past the deadline of the current phase
  Decision finish(Action report);
  void log(EventKind level, std::string event, std::string message,
           std::map<std::string, std::string> fields = {});
  void log_target(const InstanceTarget& target);
  void log_spot_state(const SpotDeployment& deployment);

  const FlowConfig& c_;
  FlowState& s_;
  TimePoint now_;
  std::vector<DeploymentEvent> events_;
};

}  // namespace bluegreen::elastigroup::detail
