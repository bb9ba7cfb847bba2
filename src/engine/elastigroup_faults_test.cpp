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
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "engine/elastigroup_executor.h"
#include "engine/elastigroup_fakes.h"

namespace bluegreen::elastigroup {
namespace {

constexpr const char* kJob = "11111111-2222-3333-4444-555555555555";
constexpr const char* kParams = R"({"API_TOKEN":"ssm:/spot/token","ACCOUNT_ID":"act-12345678",
  "GROUP_ID":"sig-12345678","APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":"1800",
  "S3_BUCKET":"bucket","S3_KEY":"app.zip","S3_BUNDLE":"zip"})";

struct Fault {
  std::string name;
  CallError error;
};

const std::vector<Fault>& faults() {
  static const std::vector<Fault> all = {
      {"http_500", {ErrorKind::unavailable, "InternalFailure", "HTTP 500 Internal Server Error"}},
      {"http_429", {ErrorKind::throttled, "ThrottlingException", "HTTP 429 Too Many Requests"}},
      {"timeout", {ErrorKind::timeout, "Timeout", "no answer within the call's timeout"}},
      {"reset", {ErrorKind::unavailable, "ConnectionReset", "connection reset by peer"}},
  };
  return all;
}

// Every port of the flow, forwarded to `real`; the first `times` calls of `method` (named as in
// FakeElastigroupCloud::fail_next) fail with `error` instead of reaching it.
class FaultyCloud final : public SpotBlueGreen,
                          public Ec2Instances,
                          public CodeDeployService,
                          public PipelineReporter,
                          public SecretSource {
 public:
  FaultyCloud(FakeElastigroupCloud& real, std::string method, CallError error, int times)
      : real_(real), method_(std::move(method)), error_(std::move(error)), left_(times) {}

  int injected() const { return injected_; }

  CallResult<SpotGroup> read_group(const SpotAccess& a, bool with_capacity) override {
    return pass("spot.read_group", [&] { return real_.read_group(a, with_capacity); });
  }
  CallResult<std::vector<SpotDeployment>> list_deployments(const SpotAccess& a) override {
    return pass("spot.list", [&] { return real_.list_deployments(a); });
  }
  CallResult<SpotDeployment> create_deployment(const SpotAccess& a,
                                               const SpotBlueGreenRequest& r) override {
    return pass("spot.create", [&] { return real_.create_deployment(a, r); });
  }
  CallResult<void> stop_deployment(const SpotAccess& a, const std::string& id) override {
    return pass("spot.stop", [&] { return real_.stop_deployment(a, id); });
  }
  CallResult<void> detach_and_terminate(const SpotAccess& a,
                                        const std::vector<std::string>& ids) override {
    return pass("spot.detach", [&] { return real_.detach_and_terminate(a, ids); });
  }
  CallResult<std::vector<Ec2Instance>> describe_tagged(const std::string& key,
                                                       const std::string& value) override {
    return pass("ec2.describe_tagged", [&] { return real_.describe_tagged(key, value); });
  }
  CallResult<std::vector<InstanceHealth>> describe_health(
      const std::vector<std::string>& ids) override {
    return pass("ec2.describe_health", [&] { return real_.describe_health(ids); });
  }
  CallResult<std::optional<std::string>> last_attempted_deployment(
      const std::string& app, const std::string& group) override {
    return pass("codedeploy.last_attempted",
                [&] { return real_.last_attempted_deployment(app, group); });
  }
  CallResult<CodeDeployDeployment> get_deployment(const std::string& id) override {
    return pass("codedeploy.get", [&] { return real_.get_deployment(id); });
  }
  CallResult<std::string> create_deployment(const CodeDeployRequest& r) override {
    return pass("codedeploy.create", [&] { return real_.create_deployment(r); });
  }
  CallResult<std::vector<std::string>> list_targets(const std::string& id) override {
    return pass("codedeploy.list_targets", [&] { return real_.list_targets(id); });
  }
  CallResult<std::vector<InstanceTarget>> get_targets(
      const std::string& id, const std::vector<std::string>& targets) override {
    return pass("codedeploy.get_targets", [&] { return real_.get_targets(id, targets); });
  }
  CallResult<void> stop_deployment(const std::string& id, bool auto_rollback) override {
    return pass("codedeploy.stop", [&] { return real_.stop_deployment(id, auto_rollback); });
  }
  CallResult<void> success(const std::string& job, const ReportSuccess& r) override {
    return pass("pipeline.success", [&] { return real_.success(job, r); });
  }
  CallResult<void> failure(const std::string& job, const ReportFailure& r) override {
    return pass("pipeline.failure", [&] { return real_.failure(job, r); });
  }
  CallResult<void> progress(const std::string& job, const ReportProgress& r) override {
    return pass("pipeline.progress", [&] { return real_.progress(job, r); });
  }
  CallResult<Secret> resolve(const std::string& reference) override {
    return pass("secrets.resolve", [&] { return real_.resolve(reference); });
  }

 private:
  template <class Call>
  auto pass(const char* method, Call&& call) -> decltype(call()) {
    if (method == method_ && left_ > 0) {
      --left_;
      ++injected_;
      return std::unexpected(error_);
    }
    return call();
  }

  FakeElastigroupCloud& real_;
  std::string method_;
  CallError error_;
  int left_;
  int injected_ = 0;
};

struct World {
  FakeClock clock;
  FakeElastigroupCloud cloud{clock};
  CallBudget budget;

  World() { cloud.secrets["ssm:/spot/token"] = Secret("spot-token-for-faults"); }

  RunOutcome run(FaultyCloud& faulty) {
    ElastigroupExecutor executor(
        ElastigroupPorts{faulty, faulty, faulty, faulty, faulty, cloud, clock, budget}, {});
    // Continuations are delivered again at once, as CodePipeline would.
    std::optional<std::string> token;
    for (int invocation = 0; invocation < 50; ++invocation) {
      auto outcome = executor.run(ElastigroupJob{kJob, kParams, token}, TimePoint::max());
      if (outcome != RunOutcome::continued) return outcome;
      token = last_token();
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

}  // namespace
}  // namespace bluegreen::elastigroup
