// Fault injection for the Elastigroup flow: a pass-through wrapper forwards every cloud call to
// the fake cloud and makes the first calls of one method fail the way a cloud fails (HTTP 500,
// 429, a timeout, a reset connection). For every call of the flow and every fault the test
// checks the documented outcome (docs/faults.md):
// - a fault that passes (the first call fails, the next one works) is retried and the
//   deployment succeeds with exactly one success report;
// - a fault that never passes ends the deployment failed, with exactly one failure report
//   (unless the report itself is what fails: then the invocation says so and Lambda delivers
//   the job again) and no green instance left running. CodeDeploy's per-instance targets only
//   feed the per-instance lines of the log: without them the deployment still succeeds.
// The calls only a failed deployment makes (its clean-up) get the same faults: a clean-up call
// that fails once is retried and the clean-up completes; one that keeps failing still ends the
// run within the clean-up grace, and the report says what is left for the user to stop.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "adapters/elastigroup/elastigroup_fakes.h"

using ::testing::HasSubstr;
using ::testing::Not;

namespace bluegreen::elastigroup {
namespace {

constexpr const char* kJob = "11111111-2222-3333-4444-555555555555";
constexpr const char* kParams = R"({"API_TOKEN":"ssm:/spot/token","ACCOUNT_ID":"act-12345678",
  "GROUP_ID":"sig-12345678","APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":"1800",
  "S3_BUCKET":"bucket","S3_KEY":"app.zip","S3_BUNDLE":"zip"})";

struct Fault {
  std::string name;
  Error error;
};

const std::vector<Fault>& faults() {
  static const std::vector<Fault> all = {
      {"http_500", {ErrorKind::unavailable, "HTTP 500 Internal Server Error", "InternalFailure"}},
      {"http_429", {ErrorKind::throttled, "HTTP 429 Too Many Requests", "ThrottlingException"}},
      {"timeout", {ErrorKind::timeout, "no answer within the call's timeout", "Timeout"}},
      {"reset", {ErrorKind::unavailable, "connection reset by peer", "ConnectionReset"}},
  };
  return all;
}

// Past this many calls or waits a run is looping: it is failed instead of hanging the suite
// (the longest run here makes a few hundred).
constexpr int kLoopLimit = 100'000;

class RunLooped : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every port of the flow, forwarded to `real`; the first `times` calls of `method` (named as in
// FakeElastigroupCloud::fail_next) fail with `error` instead of reaching it.
class FaultyCloud final : public SpotBlueGreen,
                          public Ec2Instances,
                          public CodeDeployService,
                          public PipelineReporter,
                          public SecretSource {
 public:
  FaultyCloud(FakeElastigroupCloud& real, std::string method, Error error, int times)
      : real_(real), method_(std::move(method)), error_(std::move(error)), left_(times) {}

  int injected() const { return injected_; }

  Result<SpotGroup> read_group(const SpotAccess& a, bool with_capacity) override {
    return pass("spot.read_group", [&] { return real_.read_group(a, with_capacity); });
  }
  Result<std::vector<SpotDeployment>> list_deployments(const SpotAccess& a) override {
    return pass("spot.list", [&] { return real_.list_deployments(a); });
  }
  Result<SpotDeployment> create_deployment(const SpotAccess& a,
                                           const SpotBlueGreenRequest& r) override {
    return pass("spot.create", [&] { return real_.create_deployment(a, r); });
  }
  Result<void> stop_deployment(const SpotAccess& a, const std::string& id) override {
    return pass("spot.stop", [&] { return real_.stop_deployment(a, id); });
  }
  Result<void> detach_and_terminate(const SpotAccess& a,
                                    const std::vector<std::string>& ids) override {
    return pass("spot.detach", [&] { return real_.detach_and_terminate(a, ids); });
  }
  Result<SpotCosts> group_costs(const SpotAccess& a, TimePoint from, TimePoint to) override {
    return pass("spot.costs", [&] { return real_.group_costs(a, from, to); });
  }
  Result<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                   const std::string& value) override {
    return pass("ec2.describe_tagged", [&] { return real_.describe_tagged(key, value); });
  }
  Result<void> tag_instances(
      const std::vector<std::string>& ids,
      const std::vector<std::pair<std::string, std::string>>& tags) override {
    return pass("ec2.tag", [&] { return real_.tag_instances(ids, tags); });
  }
  Result<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& ids) override {
    return pass("ec2.describe_health", [&] { return real_.describe_health(ids); });
  }
  Result<std::optional<std::string>> last_attempted_deployment(const std::string& app,
                                                               const std::string& group) override {
    return pass("codedeploy.last_attempted",
                [&] { return real_.last_attempted_deployment(app, group); });
  }
  Result<CodeDeployDeployment> get_deployment(const std::string& id) override {
    return pass("codedeploy.get", [&] { return real_.get_deployment(id); });
  }
  Result<std::string> create_deployment(const CodeDeployRequest& r) override {
    return pass("codedeploy.create", [&] { return real_.create_deployment(r); });
  }
  Result<std::vector<std::string>> list_targets(const std::string& id) override {
    return pass("codedeploy.list_targets", [&] { return real_.list_targets(id); });
  }
  Result<std::vector<InstanceTarget>> get_targets(
      const std::string& id, const std::vector<std::string>& targets) override {
    return pass("codedeploy.get_targets", [&] { return real_.get_targets(id, targets); });
  }
  Result<void> stop_deployment(const std::string& id, bool auto_rollback) override {
    return pass("codedeploy.stop", [&] { return real_.stop_deployment(id, auto_rollback); });
  }
  Result<void> success(const std::string& job, const ReportSuccess& r) override {
    return pass("pipeline.success", [&] { return real_.success(job, r); });
  }
  Result<void> failure(const std::string& job, const ReportFailure& r) override {
    return pass("pipeline.failure", [&] { return real_.failure(job, r); });
  }
  Result<void> progress(const std::string& job, const ReportProgress& r) override {
    return pass("pipeline.progress", [&] { return real_.progress(job, r); });
  }
  Result<Secret> resolve(const std::string& reference) override {
    return pass("secrets.resolve", [&] { return real_.resolve(reference); });
  }

 private:
  template <class Call>
  auto pass(const char* method, Call&& call) -> decltype(call()) {
    if (++calls_ > kLoopLimit) throw RunLooped("the run kept calling the cloud without ending");
    if (method == method_ && left_ > 0) {
      --left_;
      ++injected_;
      return std::unexpected(error_);
    }
    return call();
  }

  FakeElastigroupCloud& real_;
  std::string method_;
  Error error_;
  int left_;
  int injected_ = 0;
  int calls_ = 0;
};

// The flow's clock: fake time, and a run that keeps waiting without ending fails the test.
class LoopGuardClock final : public Clock {
 public:
  explicit LoopGuardClock(FakeClock& time) : time_(time) {}
  TimePoint now() const override { return time_.now(); }
  void sleep_until(TimePoint until) override {
    if (++waits_ > kLoopLimit) throw RunLooped("the run kept waiting without ending");
    time_.sleep_until(until);
  }

 private:
  FakeClock& time_;
  int waits_ = 0;
};

// A deployment that fails, and the calls its clean-up makes.
struct FailingDeployment {
  std::string name;
  std::deque<std::string> codedeploy_statuses;
  std::vector<std::string> cleanup_calls;
};

const std::vector<FailingDeployment>& failing_deployments() {
  static const std::vector<FailingDeployment> all = {
      // Still going at TIMEOUT: both deployments are stopped.
      {"CodeDeploy still InProgress at TIMEOUT",
       {"InProgress"},
       {"codedeploy.stop", "spot.stop", "pipeline.failure"}},
      // CodeDeploy has ended by itself: only the Spot B/G deployment is stopped.
      {"a lifecycle event fails", {"InProgress", "Failed"}, {"spot.stop", "pipeline.failure"}},
  };
  return all;
}

// The executor's default clean-up grace (FlowConfig::cleanup_grace), and the waits between
// the attempts of a report that fails (1 + 2 + 4 s), which come after it.
constexpr Duration kCleanupGrace = std::chrono::minutes(5);
constexpr Duration kReportRetries = std::chrono::seconds(7);

struct World {
  FakeClock clock;
  FakeElastigroupCloud cloud{clock};
  CallBudget budget;

  World() { cloud.secrets["ssm:/spot/token"] = Secret("spot-token-for-faults"); }
  explicit World(const FailingDeployment& failing) : World() {
    cloud.codedeploy_statuses = failing.codedeploy_statuses;
  }

  // Runs the job until it ends. Each invocation may last `invocation` (unbounded when unset);
  // a continued job is delivered again at once under a new job id, as CodePipeline does.
  RunOutcome run(FaultyCloud& faulty, std::optional<Duration> invocation = std::nullopt) {
    LoopGuardClock guarded(clock);
    ElastigroupExecutor executor(
        ElastigroupPorts{faulty, faulty, faulty, faulty, faulty, cloud, guarded, budget}, {});
    std::optional<std::string> token;
    std::string job = kJob;
    for (int invocations = 1; invocations <= 200; ++invocations) {
      TimePoint must_end_by = invocation ? clock.now() + *invocation : TimePoint::max();
      RunOutcome outcome = RunOutcome::continued;
      try {
        outcome = executor.run(ElastigroupJob{job, parse_spec(std::string_view(kParams)), token},
                               must_end_by);
      } catch (const RunLooped& looped) {
        ADD_FAILURE() << looped.what();
        return RunOutcome::continued;
      }
      if (outcome != RunOutcome::continued) return outcome;
      token = last_token();
      job = fmt::format("{}-{}", kJob, invocations);
    }
    return RunOutcome::continued;
  }

  std::optional<std::string> last_token() const {
    auto reports = cloud.reports();
    for (auto it = reports.rbegin(); it != reports.rend(); ++it) {
      if (auto* progress = std::get_if<ReportProgress>(&it->report)) {
        return progress->continuation_token;
      }
    }
    return std::nullopt;
  }

  int final_reports() const {
    int n = 0;
    for (const auto& report : cloud.reports()) {
      if (!std::holds_alternative<ReportProgress>(report.report)) ++n;
    }
    return n;
  }

  // The failure report's message; empty (and a test failure) when the last report is not one.
  std::string failure_message() const {
    auto reports = cloud.reports();
    if (!reports.empty()) {
      if (auto* failure = std::get_if<ReportFailure>(&reports.back().report)) {
        EXPECT_FALSE(failure->message.empty());
        return failure->message;
      }
    }
    ADD_FAILURE() << "the last report is not a failure";
    return {};
  }

  // From the moment the deployment failed to its last call that reached the cloud.
  Duration failure_to_end() const {
    std::optional<TimePoint> failed;
    for (const auto& event : cloud.events()) {
      if (event.name == "failed") failed = event.at;
    }
    EXPECT_TRUE(failed) << "the deployment never failed";
    if (!failed) return Duration::zero();
    return std::chrono::duration_cast<Duration>(cloud.calls().back().time - *failed);
  }

  // What the fakes say now (asked after the run: these calls are not the flow's).
  std::string spot_deployment_state() {
    auto listed = cloud.list_deployments(SpotAccess{});
    return listed && !listed->empty() ? listed->front().state : "(none)";
  }
  std::string codedeploy_status() {
    auto read = cloud.get_deployment("d-1");
    return read ? read->status : "(none)";
  }
};

// The calls a successful deployment makes (the fake's names).
std::vector<std::string> calls_of_a_deployment() {
  World world;
  FaultyCloud untouched(world.cloud, "", {}, 0);
  EXPECT_EQ(world.run(untouched), RunOutcome::succeeded);
  std::vector<std::string> methods;
  for (const auto& call : world.cloud.calls()) {
    if (std::ranges::find(methods, call.method) == methods.end()) methods.push_back(call.method);
  }
  return methods;
}

TEST(ElastigroupFaults, EveryCallOfADeploymentIsCovered) {
  auto methods = calls_of_a_deployment();
  for (const char* expected :
       {"secrets.resolve", "spot.read_group", "spot.create", "ec2.describe_tagged",
        "codedeploy.create", "codedeploy.get", "pipeline.success"}) {
    EXPECT_NE(std::ranges::find(methods, expected), methods.end()) << expected;
  }
}

TEST(ElastigroupFaults, AFaultThatPassesIsRetriedAndTheDeploymentSucceeds) {
  for (const auto& method : calls_of_a_deployment()) {
    for (const auto& fault : faults()) {
      SCOPED_TRACE(fmt::format("{} fails once with {}", method, fault.name));
      World world;
      FaultyCloud faulty(world.cloud, method, fault.error, 1);
      EXPECT_EQ(world.run(faulty), RunOutcome::succeeded);
      EXPECT_EQ(faulty.injected(), 1);
      EXPECT_EQ(world.final_reports(), 1);
      EXPECT_EQ(world.cloud.count("spot.create"), 1) << "one Spot deployment, even when retried";
      EXPECT_LE(world.cloud.count("codedeploy.create"), 1);
    }
  }
}

TEST(ElastigroupFaults, AFaultThatNeverPassesFailsOnceWithTheCloudCleanedUp) {
  for (const auto& method : calls_of_a_deployment()) {
    for (const auto& fault : faults()) {
      SCOPED_TRACE(fmt::format("{} always fails with {}", method, fault.name));
      World world;
      FaultyCloud faulty(world.cloud, method, fault.error, 1'000'000);
      auto outcome = world.run(faulty);
      if (method == "pipeline.success" || method == "pipeline.failure") {
        // The result cannot be delivered: the invocation fails so that the job comes again.
        EXPECT_EQ(outcome, RunOutcome::report_failed);
        EXPECT_EQ(world.final_reports(), 0);
        continue;
      }
      if (method == "codedeploy.get_targets") {
        // Per-instance lines of the log only: the deployment goes on without them.
        EXPECT_EQ(outcome, RunOutcome::succeeded);
        EXPECT_EQ(world.final_reports(), 1);
        continue;
      }
      if (method == "spot.costs") {
        // The cost of a deployment that succeeded: its line says why it is unknown, and the
        // outcome stays the deployment's.
        EXPECT_EQ(outcome, RunOutcome::succeeded);
        EXPECT_EQ(world.final_reports(), 1);
        EXPECT_EQ(faulty.injected(), 1) << "asked once, never retried";
        continue;
      }
      EXPECT_EQ(outcome, RunOutcome::failed) << to_string(outcome);
      EXPECT_EQ(world.final_reports(), 1);
      auto reports = world.cloud.reports();
      ASSERT_FALSE(reports.empty());
      if (auto* failure = std::get_if<ReportFailure>(&reports.back().report)) {
        EXPECT_FALSE(failure->message.empty());
      } else {
        ADD_FAILURE() << "the last report is not a failure";
      }
      if (method != "spot.stop" && method != "spot.detach") {
        EXPECT_TRUE(world.cloud.live_greens().empty());
      }
    }
  }
}

// ---- The clean-up of a failed deployment ----------------------------------------------------

TEST(ElastigroupFaults, EveryCleanUpCallOfAFailedDeploymentIsCovered) {
  for (const auto& failing : failing_deployments()) {
    SCOPED_TRACE(failing.name);
    World world(failing);
    FaultyCloud untouched(world.cloud, "", {}, 0);
    EXPECT_EQ(world.run(untouched), RunOutcome::failed);
    for (const auto& method : failing.cleanup_calls) {
      EXPECT_EQ(world.cloud.count(method), 1) << method;
    }
    EXPECT_THAT(world.failure_message(), Not(HasSubstr("Cleanup was incomplete")));
    EXPECT_TRUE(world.cloud.live_greens().empty());
  }
}

// Fails every clean-up call of every failing deployment with every fault, `times` times, and
// hands each finished run to `check`.
template <class Check>
void for_each_cleanup_fault(int times, Check check) {
  for (const auto& failing : failing_deployments()) {
    for (const auto& method : failing.cleanup_calls) {
      for (const auto& fault : faults()) {
        SCOPED_TRACE(fmt::format("{}: {} fails {} time(s) with {}", failing.name, method, times,
                                 fault.name));
        World world(failing);
        FaultyCloud faulty(world.cloud, method, fault.error, times);
        RunOutcome outcome = world.run(faulty);
        check(world, faulty, method, fault, outcome);
      }
    }
  }
}

TEST(ElastigroupFaults, ACleanUpCallThatFailsOnceIsRetriedAndTheCleanUpCompletes) {
  for_each_cleanup_fault(1, [](World& world, const FaultyCloud& faulty, const std::string& method,
                               const Fault& /*fault*/, RunOutcome outcome) {
    EXPECT_EQ(outcome, RunOutcome::failed);
    EXPECT_EQ(faulty.injected(), 1);
    EXPECT_EQ(world.final_reports(), 1);
    std::string message = world.failure_message();
    EXPECT_THAT(message, Not(HasSubstr("Cleanup was incomplete")));
    EXPECT_THAT(message, HasSubstr("What was started has been stopped"));
    EXPECT_EQ(world.spot_deployment_state(), "STOPPED");
    if (method == "codedeploy.stop") {
      EXPECT_EQ(world.codedeploy_status(), "Stopped");
    }
    EXPECT_TRUE(world.cloud.live_greens().empty());
  });
}

TEST(ElastigroupFaults, ACleanUpCallThatNeverPassesEndsTheRunWithinTheGraceSayingWhatIsLeft) {
  for_each_cleanup_fault(
      1'000'000, [](World& world, const FaultyCloud& /*faulty*/, const std::string& method,
                    const Fault& fault, RunOutcome outcome) {
        EXPECT_LE(world.failure_to_end(), kCleanupGrace + kReportRetries);
        // Whatever else failed, the greens are gone: Spot removed them, or the flow detached them
        // itself when Spot could not be told to stop.
        EXPECT_TRUE(world.cloud.live_greens().empty());
        if (method == "pipeline.failure") {
          // The clean-up is done but its result cannot be delivered: the invocation fails so that
          // Lambda delivers the job again.
          EXPECT_EQ(outcome, RunOutcome::report_failed);
          EXPECT_EQ(world.final_reports(), 0);
          EXPECT_EQ(world.spot_deployment_state(), "STOPPED");
          return;
        }
        EXPECT_EQ(outcome, RunOutcome::failed) << to_string(outcome);
        EXPECT_EQ(world.final_reports(), 1);
        std::string message = world.failure_message();
        EXPECT_THAT(message, HasSubstr("Cleanup was incomplete"));
        EXPECT_THAT(message, HasSubstr(fault.error.message));
        if (method == "spot.stop") {
          EXPECT_THAT(message, HasSubstr("the Spot B/G deployment cdbg-1 could not be stopped"));
          EXPECT_THAT(message, HasSubstr("stop it in the Spot console"));
        } else {
          EXPECT_THAT(message, HasSubstr("the CodeDeploy deployment d-1 could not be stopped"));
          EXPECT_THAT(message, HasSubstr("stop it in the CodeDeploy console"));
          EXPECT_EQ(world.spot_deployment_state(), "STOPPED");
        }
      });
}

TEST(ElastigroupFaults, GreensThatCannotBeRemovedAreNamedInTheReport) {
  const FailingDeployment& failing = failing_deployments().back();
  World world(failing);
  Error unavailable = faults().front().error;
  FaultyCloud faulty(world.cloud, "spot.stop", unavailable, 1'000'000);
  world.cloud.fail_next("spot.detach", unavailable, 1'000);
  EXPECT_EQ(world.run(faulty), RunOutcome::failed);
  EXPECT_LE(world.failure_to_end(), kCleanupGrace);
  EXPECT_EQ(world.final_reports(), 1);
  std::string message = world.failure_message();
  EXPECT_THAT(message, HasSubstr("the Spot B/G deployment cdbg-1 could not be stopped"));
  EXPECT_THAT(message, HasSubstr("i-green10, i-green11"));
  EXPECT_THAT(message, HasSubstr("terminate them in EC2"));
  EXPECT_EQ(world.cloud.live_greens().size(), 2u);
}

TEST(ElastigroupFaults, ACleanUpCutShortByTheInvocationsEndIsFinishedByTheNextDelivery) {
  // Invocations of two minutes (80 s of work before the hand-over); Spot refuses to stop
  // for longer than that (2 + 4 + 8 + 16 + 32 + 60 + 60 s of backoff), then stops.
  const FailingDeployment& failing = failing_deployments().back();
  World world(failing);
  FaultyCloud faulty(world.cloud, "spot.stop", faults().front().error, 8);
  EXPECT_EQ(world.run(faulty, std::chrono::minutes(2)), RunOutcome::failed);
  EXPECT_EQ(faulty.injected(), 8);
  int handed_over_while_cleaning_up = 0;
  for (const auto& report : world.cloud.reports()) {
    if (auto* progress = std::get_if<ReportProgress>(&report.report)) {
      auto state = from_token(progress->continuation_token);
      ASSERT_TRUE(state.has_value());
      if (state->stage == Stage::stopping) ++handed_over_while_cleaning_up;
    }
  }
  EXPECT_GE(handed_over_while_cleaning_up, 1);
  EXPECT_EQ(world.final_reports(), 1);
  EXPECT_THAT(world.failure_message(), Not(HasSubstr("Cleanup was incomplete")));
  EXPECT_EQ(world.cloud.count("spot.stop"), 1) << "the stop that went through";
  EXPECT_EQ(world.spot_deployment_state(), "STOPPED");
  EXPECT_TRUE(world.cloud.live_greens().empty());
}

}  // namespace
}  // namespace bluegreen::elastigroup
