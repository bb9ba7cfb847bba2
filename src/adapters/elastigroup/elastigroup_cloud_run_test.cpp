#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "adapters/elastigroup/elastigroup_executor.h"
#include "adapters/elastigroup/elastigroup_fakes.h"
#include "core/deployment_json.h"
#include "engine/executor.h"
#include "engine/fakes.h"

namespace bluegreen {
namespace {

namespace eg = elastigroup;
using ::testing::HasSubstr;
using ::testing::Not;

// How a run begins: a new deployment, or one read back from the journal after a restart.
enum class CloudStart { fresh, after_restart };

constexpr const char* kLiteralToken = "tok-literal-0xC0FFEE";
constexpr const char* kResolvedToken = "tok-from-ssm-0xBEEF";

std::string params(const std::string& token, const std::string& timeout) {
  return R"({"API_TOKEN":")" + token + R"(","ACCOUNT_ID":"act-12345678",
    "GROUP_ID":"sig-12345678","APP_NAME":"app","DEPLOYMENT_GROUP":"dg","TIMEOUT":")" +
         timeout + R"(","S3_BUCKET":"bucket","S3_KEY":"app.zip","S3_BUNDLE":"zip"})";
}

// Spot accepting every request and never answering: a call ends when the deadline the executor
// set for it passes, or when the client has spent its five attempts of 30 s.
class SilentSpot final : public eg::SpotBlueGreen {
 public:
  explicit SilentSpot(FakeClock& clock) : clock_(clock) {}
  const eg::CallBudget* budget = nullptr;

  Result<eg::SpotGroup> read_group(const eg::SpotAccess&, bool) override { return silence(); }
  Result<std::vector<eg::SpotDeployment>> list_deployments(const eg::SpotAccess&) override {
    return silence();
  }
  Result<eg::SpotDeployment> create_deployment(const eg::SpotAccess&,
                                               const eg::SpotBlueGreenRequest&) override {
    return silence();
  }
  Result<void> stop_deployment(const eg::SpotAccess&, const std::string&) override {
    return silence();
  }
  Result<void> detach_and_terminate(const eg::SpotAccess&,
                                    const std::vector<std::string>&) override {
    return silence();
  }
  Result<eg::SpotCosts> group_costs(const eg::SpotAccess&, TimePoint, TimePoint) override {
    return silence();
  }

 private:
  std::unexpected<Error> silence() {
    Duration given = 5 * std::chrono::seconds(30);  // the client's five attempts
    if (budget->deadline != TimePoint::max()) {
      given =
          std::min(given, std::chrono::duration_cast<Duration>(budget->deadline - clock_.now()));
    }
    clock_.advance(std::max(given, Duration::zero()));
    return fail(ErrorKind::timeout, "spot: no answer");
  }
  FakeClock& clock_;
};

struct Harness {
  FakeClock clock;
  eg::FakeElastigroupCloud cloud{clock};
  eg::FakeCloudConnection connection{cloud, clock};
  MemoryJournal journal;
  RecordingSink sink;
  std::atomic<bool> stop{false};

  Deployment fresh(const std::string& token, const std::string& timeout = "1800") {
    auto spec = parse_spec(std::string_view(params(token, timeout)));
    EXPECT_TRUE(spec) << spec.error().message;
    auto d = new_deployment("d-cloud1", *spec, "test", eg::green_identifier_for_job("d-cloud1"),
                            clock.now(), std::nullopt);
    d.cloud = CloudProgress{};
    return d;
  }
  // One run as the server makes it: a provider opened for the deployment, on the Executor.
  Deployment run(Deployment d, CloudStart start, eg::CloudConnection* through = nullptr) {
    eg::CloudConnection& cloud = through != nullptr ? *through : connection;
    eg::ElastigroupProviders providers(
        [&cloud]() -> Result<std::unique_ptr<eg::CloudConnection>> {
          return std::make_unique<eg::BorrowedConnection>(cloud);
        },
        {});
    auto provider = providers.open(d, start == CloudStart::after_restart, sink);
    EXPECT_TRUE(provider);
    Executor executor(**provider, clock, journal, sink, ProviderRun{TimePoint::max(), &stop});
    Inbox inbox;
    return start == CloudStart::fresh ? executor.run(std::move(d), inbox)
                                      : executor.resume(std::move(d), inbox);
  }
  // What a restarted server reads back: the record as the journal stores it (JSON).
  Deployment from_journal(const std::string& id) {
    auto saved = journal.saved(id);
    EXPECT_TRUE(saved);
    auto read = deployment_from_json(to_json(*saved));
    EXPECT_TRUE(read) << read.error().message;
    return *read;
  }
  // Stops the run once CodeDeploy deploys to the greens.
  void stop_when_installing() {
    sink.on_update([this](const Deployment& d) {
      if (d.cloud && !d.cloud->codedeploy_deployment_id.empty()) stop = true;
    });
  }
};

TEST(CloudDeployment, ShowsTheFlowAsPhasesGreensAndLifecycleEvents) {
  Harness h;
  Deployment d = h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  std::vector<Phase> phases;
  for (const auto& p : d.phases) {
    phases.push_back(p.phase);
    EXPECT_EQ(p.outcome, PhaseOutcome::passed) << to_string(p.phase);
  }
  EXPECT_EQ(phases, (std::vector<Phase>{Phase::validate, Phase::launch_green, Phase::install,
                                        Phase::terminate_blue}));
  ASSERT_EQ(d.green.size(), 2u);
  for (const auto& green : d.green) {
    EXPECT_EQ(green.tags.at("GreenIdentifier"), d.green_identifier);
    EXPECT_EQ(green.state, InstanceState::healthy);
  }
  ASSERT_TRUE(d.cloud);
  EXPECT_EQ(d.cloud->codedeploy_deployment_id, "d-1");
  EXPECT_FALSE(d.cloud->spot_deployment_id.empty());
  bool lifecycle = false;
  for (const auto& e : h.journal.events()) {
    if (e.message.find("ValidateService Succeeded") != std::string::npos) {
      lifecycle = true;
      EXPECT_EQ(e.phase, Phase::install);
      EXPECT_FALSE(e.instance_id.empty());
    }
    EXPECT_THAT(e.message, Not(HasSubstr(kLiteralToken)));
  }
  EXPECT_TRUE(lifecycle);
  // The journal holds the same ending, and no secret.
  auto saved = h.journal.saved(d.id);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->status, DeploymentStatus::succeeded);
  EXPECT_THAT(to_json(*saved).dump(), Not(HasSubstr(kLiteralToken)));
  ASSERT_TRUE(saved->cloud);
  EXPECT_EQ(saved->cloud->flow_phase, "done") << "not the stage its requests stood at last";
}

TEST(CloudDeployment, JournalsTheFlowBeforeEveryRequest) {
  Harness h;
  std::vector<std::string> tokens;
  h.sink.on_update([&](const Deployment& d) {
    if (d.cloud && !d.cloud->token.empty()) tokens.push_back(d.cloud->token);
  });
  h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  int requests = 0;
  for (const auto& call : h.cloud.calls()) {
    if (call.method.rfind("pipeline.", 0) != 0) ++requests;
  }
  EXPECT_GE(static_cast<int>(tokens.size()), requests);
  for (const auto& token : tokens) {
    EXPECT_TRUE(eg::from_token(token)) << token;
    EXPECT_THAT(token, Not(HasSubstr(kLiteralToken)));
  }
}

// Either kind of reference (SSM Parameter Store, Secrets Manager) is resolved again by the
// resumed run, and Spot gets the value it names, never what the journal holds.
TEST(CloudDeployment, ResumesAfterARestartWithoutASecondSpotOrCodeDeployDeployment) {
  for (const std::string reference : {"ssm:/spot/token", "secretsmanager:spot/api-token"}) {
    SCOPED_TRACE(reference);
    Harness h;
    h.cloud.secrets[reference] = Secret(kResolvedToken);
    h.cloud.codedeploy_statuses = {"InProgress", "InProgress", "InProgress", "Succeeded"};
    h.stop_when_installing();
    Deployment stopped = h.run(h.fresh(reference), CloudStart::fresh);
    EXPECT_EQ(stopped.status, DeploymentStatus::running);
    EXPECT_EQ(stopped.phase, Phase::install);

    h.stop = false;
    h.sink.on_update(nullptr);
    int resolved = h.cloud.count("secrets.resolve");
    std::size_t spot_calls = h.cloud.tokens_seen().size();
    Deployment d = h.run(h.from_journal("d-cloud1"), CloudStart::after_restart);
    EXPECT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
    EXPECT_EQ(h.cloud.count("spot.create"), 1);
    EXPECT_EQ(h.cloud.count("codedeploy.create"), 1);
    EXPECT_GT(h.cloud.count("secrets.resolve"), resolved);  // the reference is resolved again
    auto seen = h.cloud.tokens_seen();
    ASSERT_GT(seen.size(), spot_calls);  // the resumed run asked Spot (blue detached)
    for (std::size_t i = spot_calls; i < seen.size(); ++i) EXPECT_EQ(seen[i], kResolvedToken);
  }
}

TEST(CloudDeployment, ALiteralTokenLostInARestartEndsWithTheCleanUpThatNeedsNoSpot) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress"};
  h.stop_when_installing();
  h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  h.sink.on_update(nullptr);
  h.stop = false;
  auto spot_calls = h.cloud.tokens_seen().size();

  Deployment d = h.run(h.from_journal("d-cloud1"), CloudStart::after_restart);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("API_TOKEN was given literally"));
  EXPECT_THAT(d.error->message, HasSubstr("CodeDeploy deployment d-1 was stopped"));
  EXPECT_THAT(d.error->message, HasSubstr(d.cloud->spot_deployment_id));
  EXPECT_EQ(h.cloud.count("codedeploy.stop"), 1);
  EXPECT_EQ(h.cloud.tokens_seen().size(), spot_calls);  // Spot was never called again
  EXPECT_EQ(d.phases.back().phase, Phase::install);
  EXPECT_EQ(d.phases.back().outcome, PhaseOutcome::failed);
}

TEST(CloudDeployment, ALostTokenStopsTheCodeDeployDeploymentWhoseCreateWasNeverJournaled) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress"};
  // The server dies once CodeDeploy answered the create, before the answer was journaled: the
  // journal holds the record saved just before the create.
  std::optional<nlohmann::json> journaled;
  h.sink.on_update([&](const Deployment& d) {
    if (d.cloud && d.cloud->flow_phase == "create_codedeploy") journaled = to_json(d);
    if (d.cloud && !d.cloud->codedeploy_deployment_id.empty()) h.stop = true;
  });
  h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  ASSERT_TRUE(journaled);
  ASSERT_EQ(h.cloud.count("codedeploy.create"), 1);
  h.sink.on_update(nullptr);
  h.stop = false;
  auto restarted = deployment_from_json(*journaled);
  ASSERT_TRUE(restarted);

  Deployment d = h.run(*restarted, CloudStart::after_restart);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_EQ(h.cloud.count("codedeploy.stop"), 1);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("CodeDeploy deployment d-1 was stopped"));
}

TEST(CloudDeployment, NeverStopsCodeDeployThatSucceededOnTheGreensForALostToken) {
  Harness h;
  h.cloud.codedeploy_statuses = {"Succeeded"};
  // Stopped while Spot has not yet detached blue: the greens may serve.
  h.sink.on_update([&](const Deployment& d) {
    if (d.cloud && d.cloud->flow_phase == "wait_blue_detached") h.stop = true;
  });
  h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  h.sink.on_update(nullptr);
  h.stop = false;
  Deployment d = h.run(h.from_journal("d-cloud1"), CloudStart::after_restart);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_EQ(h.cloud.count("codedeploy.stop"), 0);
  EXPECT_THAT(d.error->message, HasSubstr("nothing was stopped"));
  for (const auto& green : d.green) EXPECT_NE(green.state, InstanceState::terminated);
}

TEST(CloudDeployment, AReferenceThatNoLongerResolvesAfterARestartEndsSayingWhatToStop) {
  Harness h;
  h.cloud.secrets["ssm:/spot/token"] = Secret(kLiteralToken);
  h.cloud.codedeploy_statuses = {"InProgress"};
  h.stop_when_installing();
  h.run(h.fresh("ssm:/spot/token"), CloudStart::fresh);
  h.sink.on_update(nullptr);
  h.stop = false;
  h.cloud.secrets.clear();  // the parameter was deleted while the server was down
  auto spot_calls = h.cloud.tokens_seen().size();
  auto started = h.clock.now();

  Deployment d = h.run(h.from_journal("d-cloud1"), CloudStart::after_restart);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("ssm:/spot/token"));
  EXPECT_THAT(d.error->message, HasSubstr(d.cloud->spot_deployment_id));
  EXPECT_THAT(d.error->message, HasSubstr("still running"));
  EXPECT_EQ(h.cloud.count("codedeploy.stop"), 1);
  EXPECT_EQ(h.cloud.tokens_seen().size(), spot_calls);  // Spot never called without its token
  // Nothing removes the greens without the token: the deployment ends (and frees its group) at
  // once instead of waiting out the cleanup grace.
  EXPECT_LT(h.clock.now() - started, std::chrono::minutes(1));
}

TEST(CloudDeployment, ATokenThatSpotQuotesBackIsKeptNowhere) {
  for (const std::string token : {kLiteralToken, "ssm:/spot/token"}) {
    Harness h;
    h.cloud.secrets["ssm:/spot/token"] = Secret(kResolvedToken);
    const std::string value = token == kLiteralToken ? kLiteralToken : kResolvedToken;
    h.cloud.fail_next("spot.read_group",
                      Error{ErrorKind::permission_denied,
                            fmt::format("spot get_group: HTTP 401 (UNAUTHORIZED: token {} is not "
                                        "valid for act-12345678)",
                                        value),
                            "401"});
    Deployment d = h.run(h.fresh(token), CloudStart::fresh);
    EXPECT_EQ(d.status, DeploymentStatus::failed);
    ASSERT_TRUE(d.error);
    EXPECT_THAT(d.error->message, HasSubstr("UNAUTHORIZED: token *** is not valid"));
    auto saved = h.journal.saved(d.id);
    ASSERT_TRUE(saved);
    EXPECT_THAT(to_json(*saved).dump(), Not(HasSubstr(value)));
    for (const auto& e : h.journal.events()) EXPECT_THAT(e.message, Not(HasSubstr(value)));
  }
}

TEST(CloudDeployment, ASpotThatNeverAnswersEndsTheDeploymentByItsTimeout) {
  Harness h;
  SilentSpot spot(h.clock);
  eg::FakeCloudConnection silent(h.cloud, h.clock, &spot);
  spot.budget = &silent.ports(h.cloud, h.cloud).budget;
  auto started = h.clock.now();
  Deployment d = h.run(h.fresh(kLiteralToken, "60"), CloudStart::fresh, &silent);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("TIMEOUT (60 s) passed"));
  EXPECT_LE(h.clock.now() - started, std::chrono::seconds(60 + 30));
}

TEST(CloudDeployment, AFailureCleansUpAndSaysWhy) {
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress", "Failed"};
  Deployment d = h.run(h.fresh(kLiteralToken), CloudStart::fresh);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("ValidateService failed on"));
  EXPECT_EQ(d.phases.back().phase, Phase::clean_up);
  EXPECT_EQ(h.cloud.count("spot.stop"), 1);
  EXPECT_TRUE(h.cloud.live_greens().empty());
  for (const auto& green : d.green) EXPECT_EQ(green.state, InstanceState::terminated);
}

// The fake cloud's Spot, with a look at the journal when the deployment's cost is asked for.
class CostWatchingSpot final : public eg::SpotBlueGreen {
 public:
  CostWatchingSpot(eg::FakeElastigroupCloud& cloud, std::function<void()> on_costs)
      : cloud_(cloud), on_costs_(std::move(on_costs)) {}
  Result<eg::SpotGroup> read_group(const eg::SpotAccess& a, bool capacity) override {
    return cloud_.read_group(a, capacity);
  }
  Result<std::vector<eg::SpotDeployment>> list_deployments(const eg::SpotAccess& a) override {
    return cloud_.list_deployments(a);
  }
  Result<eg::SpotDeployment> create_deployment(const eg::SpotAccess& a,
                                               const eg::SpotBlueGreenRequest& r) override {
    return cloud_.create_deployment(a, r);
  }
  Result<void> stop_deployment(const eg::SpotAccess& a, const std::string& id) override {
    return cloud_.stop_deployment(a, id);
  }
  Result<void> detach_and_terminate(const eg::SpotAccess& a,
                                    const std::vector<std::string>& ids) override {
    return cloud_.detach_and_terminate(a, ids);
  }
  Result<eg::SpotCosts> group_costs(const eg::SpotAccess& a, TimePoint from,
                                    TimePoint to) override {
    on_costs_();
    return cloud_.group_costs(a, from, to);
  }

 private:
  eg::FakeElastigroupCloud& cloud_;
  std::function<void()> on_costs_;
};

TEST(CloudDeployment, ASuccessCleanUpLearnsIsJournaledBeforeTheCostIsAskedFor) {
  // TIMEOUT passes while CodeDeploy runs; cleanup's stop is refused as completed, and the read
  // that follows says Succeeded: the greens may serve. The plan reports without another
  // request, and the provider asks Spot for the cost: a server killed during that request
  // must find the greens recorded as serving.
  Harness h;
  h.cloud.codedeploy_statuses = {"InProgress"};
  h.cloud.fail_next("codedeploy.stop", Error{ErrorKind::invalid_input, "already completed",
                                             "DeploymentAlreadyCompletedException"});
  h.sink.on_update([&h](const Deployment& d) {
    if (d.cloud && d.cloud->flow_phase == "stopping") h.cloud.codedeploy_statuses = {"Succeeded"};
  });
  std::optional<Deployment> journaled;
  CostWatchingSpot spot(h.cloud, [&] { journaled = h.journal.saved("d-cloud1"); });
  eg::FakeCloudConnection connection(h.cloud, h.clock, &spot);
  Deployment d = h.run(h.fresh(kLiteralToken, "120"), CloudStart::fresh, &connection);
  ASSERT_TRUE(journaled) << "the cost was asked for";
  EXPECT_TRUE(journaled->traffic_moved);
  ASSERT_TRUE(journaled->cloud);
  auto state = eg::from_token(journaled->cloud->token);
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->greens_serving);
  EXPECT_EQ(h.cloud.count("spot.stop"), 0) << "nothing that may serve is removed";
  EXPECT_EQ(h.cloud.live_greens().size(), 2u);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
}

// Stops the run once CodeDeploy has succeeded on the greens, before the flow's own switch.
void stop_when_serving(Harness& h) {
  h.sink.on_update([&h](const Deployment& d) {
    if (!d.cloud || d.cloud->token.empty()) return;
    auto state = eg::from_token(d.cloud->token);
    if (state && state->greens_serving) h.stop = true;
  });
}

TEST(CloudDeployment, NothingIsRemovedWhenTheGreensMayServeWhateverFailsAfterARestart) {
  // The server dies once CodeDeploy succeeded on the greens, before its record reached the
  // switch; after the restart Spot never answers again, so the deployment cannot finish.
  for (bool record_behind : {true, false}) {
    Harness h;
    h.cloud.secrets["ssm:/spot/token"] = Secret(kLiteralToken);
    stop_when_serving(h);
    Deployment stopped = h.run(h.fresh("ssm:/spot/token", "600"), CloudStart::fresh);
    ASSERT_EQ(stopped.status, DeploymentStatus::running);
    h.sink.on_update(nullptr);
    h.stop = false;
    Deployment restarted = h.from_journal("d-cloud1");
    if (record_behind) {
      // The journal's last generic step is before the switch: only the plan's state knows.
      restarted.step = Step::install;
      restarted.phase = Phase::install;
      restarted.traffic_moved = false;
    }
    for (const char* method : {"spot.read_group", "spot.list", "ec2.describe_tagged"}) {
      h.cloud.fail_next(method, Error{ErrorKind::unavailable, "spot: 503"}, 10000);
    }
    h.clock.advance(std::chrono::minutes(11));  // past TIMEOUT
    Deployment d = h.run(restarted, CloudStart::after_restart);
    EXPECT_EQ(d.status, DeploymentStatus::failed) << record_behind;
    ASSERT_TRUE(d.error);
    EXPECT_THAT(d.error->message, HasSubstr("Nothing was stopped, detached or terminated"));
    EXPECT_EQ(h.cloud.count("spot.stop"), 0) << record_behind;
    EXPECT_EQ(h.cloud.count("spot.detach"), 0) << record_behind;
    EXPECT_EQ(h.cloud.count("codedeploy.stop"), 0) << record_behind;
    EXPECT_EQ(h.cloud.live_greens().size(), 2u) << record_behind;
    for (const auto& p : d.phases) EXPECT_NE(p.phase, Phase::clean_up) << record_behind;
    for (const auto& green : d.green) EXPECT_NE(green.state, InstanceState::terminated);
  }
}

TEST(CloudDeployment, ALostTokenNeverCleansUpGreensThatMayServe) {
  // As above, with a literal API_TOKEN, which the restart lost: the provider can only look at
  // CodeDeploy, learns the greens may serve, and the flow must not clean them up even though
  // its own record is still before the switch.
  Harness h;
  stop_when_serving(h);
  Deployment stopped = h.run(h.fresh(kLiteralToken, "600"), CloudStart::fresh);
  ASSERT_EQ(stopped.status, DeploymentStatus::running);
  h.sink.on_update(nullptr);
  h.stop = false;
  Deployment restarted = h.from_journal("d-cloud1");
  restarted.step = Step::install;
  restarted.phase = Phase::install;
  restarted.traffic_moved = false;
  Deployment d = h.run(restarted, CloudStart::after_restart);
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("which may serve: nothing was stopped"));
  EXPECT_EQ(h.cloud.count("codedeploy.stop"), 0);
  for (const auto& p : d.phases) EXPECT_NE(p.phase, Phase::clean_up);
  for (const auto& green : d.green) EXPECT_NE(green.state, InstanceState::terminated);
}

// A journal that can no longer save the record (a full disk).
class UnsavableJournal final : public JournalWrapper {
 public:
  using JournalWrapper::JournalWrapper;
  Result<void> save(const Deployment& /*deployment*/) override {
    return fail(ErrorKind::unavailable, "disk full");
  }
};

TEST(CloudDeployment, ACleanUpTheFlowAsksForLooksForItsCodeDeployDeploymentFirst) {
  // Also when that look fails: CodeDeploy unreachable for a moment is no proof that nothing
  // of ours succeeded.
  for (bool lookup_fails : {false, true}) {
    // The server dies while the plan looks for its CodeDeploy deployment, just after CodeDeploy
    // answered a create it never recorded; the deployment succeeds on the greens meanwhile.
    // After the restart the journal cannot be written, so the flow stops before its switch and
    // asks for a clean-up: the greens may serve, so nothing may be removed.
    Harness h;
    h.cloud.codedeploy_statuses = {"Succeeded"};
    h.sink.on_update([&h](const Deployment& d) {
      if (!d.cloud || d.cloud->token.empty()) return;
      auto state = eg::from_token(d.cloud->token);
      if (state && state->stage == eg::Stage::find_codedeploy) h.stop = true;
    });
    h.cloud.secrets["ssm:/spot/token"] = Secret(kLiteralToken);
    Deployment stopped = h.run(h.fresh("ssm:/spot/token"), CloudStart::fresh);
    ASSERT_EQ(stopped.status, DeploymentStatus::running);
    h.sink.on_update(nullptr);
    h.stop = false;
    ASSERT_TRUE(h.cloud.create_deployment(eg::CodeDeployRequest{
        "app", "dg", stopped.spec.revision, "GreenIdentifier", stopped.green_identifier, "lost"}));

    UnsavableJournal full(h.journal);  // the same cloud, a journal that fails
    eg::ElastigroupProviders providers(
        [&h]() -> Result<std::unique_ptr<eg::CloudConnection>> {
          return std::make_unique<eg::BorrowedConnection>(h.connection);
        },
        {});
    Deployment record = h.from_journal("d-cloud1");
    if (lookup_fails) {
      h.cloud.fail_next("codedeploy.last_attempted", Error{ErrorKind::unavailable, "503"}, 1);
    }
    auto provider = providers.open(record, true, h.sink);
    ASSERT_TRUE(provider);
    Executor executor(**provider, h.clock, full, h.sink, ProviderRun{});
    Inbox inbox;
    Deployment d = executor.resume(record, inbox);
    EXPECT_EQ(d.status, DeploymentStatus::failed);
    EXPECT_EQ(h.cloud.count("spot.stop"), 0);
    EXPECT_EQ(h.cloud.count("spot.detach"), 0);
    EXPECT_EQ(h.cloud.count("codedeploy.stop"), 0);
    EXPECT_EQ(h.cloud.live_greens().size(), 2u);
    ASSERT_TRUE(d.error);
    EXPECT_THAT(d.error->message, HasSubstr("Nothing was stopped, detached or terminated"));
  }
}

}  // namespace
}  // namespace bluegreen
