#include "core/flow.h"

#include <gtest/gtest.h>

#include "core/deployment_json.h"

namespace bluegreen {
namespace {

using namespace std::chrono_literals;

DeploymentSpec spec_with(std::string extra = "") {
  std::string text = R"({"GROUP_ID":"web","APP_NAME":"hello","DEPLOYMENT_GROUP":"dg",
      "TIMEOUT":"30","LOCAL_PATH":"/srv/hello","HEALTHY_THRESHOLD":"2",
      "HEALTH_CHECK_INTERVAL":"1","DRAIN_TIMEOUT":"5","BLUE_TERMINATION_WAIT":"60")" +
                     extra + "}";
  auto spec = parse_spec(std::string_view(text));
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

Instance instance(std::string id, std::string fleet, int port) {
  Instance i;
  i.id = std::move(id);
  i.fleet_id = std::move(fleet);
  i.port = port;
  i.state = InstanceState::healthy;
  return i;
}

BlueFleet blue_fleet() {
  return BlueFleet{"d-blue",
                   {instance("i-b1", "d-blue", 9001), instance("i-b2", "d-blue", 9002)},
                   "/state/bundles/d-blue"};
}

HookResult passed(const std::string& instance_id, const std::string& event) {
  return HookResult{instance_id, event, "scripts/" + event, 0, false, "", 5};
}

// Walks one deployment through the machine, keeping the time and the last transition.
class Walk {
 public:
  explicit Walk(DeploymentSpec spec, std::optional<BlueFleet> blue = std::nullopt) {
    t_ = start(new_deployment("d-green", std::move(spec), "test", "uuid-1", now_, std::move(blue)),
               now_);
  }

  const Transition& feed(InputEvent event, Duration later = 10ms) {
    now_ += later;
    for (const auto& e : t_.events) log_.push_back(e);
    t_ = step(t_.deployment, Input{now_, std::move(event)});
    return t_;
  }

  template <typename A>
  const A& expect_action() const {
    EXPECT_TRUE(t_.action.has_value()) << "no action in step " << to_string(d().step);
    const A* a = t_.action ? std::get_if<A>(&*t_.action) : nullptr;
    EXPECT_NE(a, nullptr) << "step " << to_string(d().step)
                          << " wants: " << (t_.action ? describe(*t_.action) : "nothing");
    static const A empty{};
    return a ? *a : empty;
  }

  // Drives from the start to the health gate with two launched greens.
  void to_health_gate() {
    feed(input::RevisionFetched{"/state/bundles/d-green", "local:/srv/hello"});
    feed(input::GreenLaunched{
        {instance("i-g1", "d-green", 9101), instance("i-g2", "d-green", 9102)}});
    feed(input::HooksRan{{passed("i-g1", "ValidateService"), passed("i-g2", "ValidateService")}});
  }

  void pass_health_gate() {
    for (int round = 0; round < 2; ++round) {
      feed(input::HealthChecked{{{"i-g1", true, ""}, {"i-g2", true, ""}}}, 1s);
    }
  }

  // From the start until traffic is on green and AfterAllowTraffic passed.
  void to_green_serving() {
    to_health_gate();
    pass_health_gate();
    feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
    feed(input::ActionDone{});
    feed(input::HooksRan{{passed("i-g1", "AfterAllowTraffic")}});
  }

  // On from to_green_serving(): blue's block-traffic hooks, its drain and the hooks after it,
  // to the Wait that follows (blue is kept); returns that Wait.
  action::Wait to_wait_after_blue_drained() {
    to_green_serving();
    feed(input::HooksRan{});
    feed(input::Drained{0});
    feed(input::HooksRan{});
    return expect_action<action::Wait>();
  }

  std::vector<Phase> phases() const {
    std::vector<Phase> out;
    for (const auto& p : d().phases) out.push_back(p.phase);
    return out;
  }

  bool logged(const std::string& text) const {
    auto all = log_;
    all.insert(all.end(), t_.events.begin(), t_.events.end());
    return std::ranges::any_of(
        all, [&](const auto& e) { return e.message.find(text) != std::string::npos; });
  }

  const Deployment& d() const { return t_.deployment; }
  TimePoint now() const { return now_; }

 private:
  TimePoint now_ = from_epoch_ms(1'700'000'000'000);
  Transition t_;
  std::vector<DeploymentEvent> log_;
};

TEST(Flow, FirstDeploymentOfAGroupRunsEveryPhaseAndSucceeds) {
  Walk walk(spec_with());
  walk.expect_action<action::FetchRevision>();
  walk.feed(input::RevisionFetched{"/state/bundles/d-green", "local:/srv/hello"});
  auto launch = walk.expect_action<action::LaunchGreen>();
  EXPECT_EQ(launch.count, 2);
  EXPECT_EQ(launch.tags.at("GreenIdentifier"), "uuid-1");

  walk.feed(
      input::GreenLaunched{{instance("i-g1", "d-green", 9101), instance("i-g2", "d-green", 9102)}});
  auto install = walk.expect_action<action::RunHooks>();
  EXPECT_EQ(install.colour, Colour::green);
  EXPECT_EQ(install.lifecycle_events.back(), "ValidateService");
  EXPECT_EQ(install.deadline, walk.d().deadline);

  walk.feed(
      input::HooksRan{{passed("i-g1", "ValidateService"), passed("i-g2", "ValidateService")}});
  walk.pass_health_gate();
  EXPECT_EQ(walk.expect_action<action::RunHooks>().lifecycle_events,
            std::vector<std::string>{"BeforeAllowTraffic"});
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-green");
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::RunHooks>().lifecycle_events,
            std::vector<std::string>{"AfterAllowTraffic"});
  walk.feed(input::HooksRan{});

  EXPECT_EQ(walk.d().status, DeploymentStatus::succeeded);
  EXPECT_FALSE(next_action(walk.d()));
  EXPECT_EQ(walk.phases(),
            (std::vector<Phase>{Phase::validate, Phase::fetch_revision, Phase::launch_green,
                                Phase::install, Phase::health_gate, Phase::allow_traffic}));
  for (const auto& phase : walk.d().phases) {
    EXPECT_EQ(phase.outcome, PhaseOutcome::passed) << to_string(phase.phase);
    ASSERT_TRUE(phase.ended);
    EXPECT_LE(phase.started, *phase.ended);
  }
  EXPECT_EQ(walk.d().green[0].state, InstanceState::healthy);
  EXPECT_EQ(walk.d().hooks.size(), 2u);
}

TEST(Flow, WithABlueFleetDrainsKeepsThenTerminatesBlue) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_green_serving();

  auto before_block = walk.expect_action<action::RunHooks>();
  EXPECT_EQ(before_block.colour, Colour::blue);
  EXPECT_EQ(before_block.lifecycle_events, std::vector<std::string>{"BeforeBlockTraffic"});
  walk.feed(input::HooksRan{});
  auto drain = walk.expect_action<action::Drain>();
  EXPECT_EQ(drain.fleet_id, "d-blue");
  EXPECT_EQ(drain.until, walk.now() + 5s);
  walk.feed(input::Drained{0});
  walk.feed(input::HooksRan{});
  auto keep = walk.expect_action<action::Wait>();
  EXPECT_EQ(keep.until, walk.now() + 60s);
  EXPECT_EQ(walk.d().phase, Phase::keep_blue);
  EXPECT_TRUE(can_roll_back(walk.d()));

  walk.feed(input::WaitEnded{}, 60s);
  auto stop = walk.expect_action<action::RunHooks>();
  EXPECT_EQ(stop.colour, Colour::blue);
  EXPECT_EQ(stop.lifecycle_events, std::vector<std::string>{"ApplicationStop"});
  EXPECT_FALSE(can_roll_back(walk.d()));
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Terminate>().colour, Colour::blue);
  EXPECT_FALSE(can_roll_back(walk.d()));
  walk.feed(input::ActionDone{});

  EXPECT_EQ(walk.d().status, DeploymentStatus::succeeded);
  EXPECT_EQ(walk.d().blue->instances[0].state, InstanceState::terminated);
  EXPECT_EQ(walk.phases().back(), Phase::terminate_blue);
  auto refused = can_roll_back(walk.d());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("deploy the earlier revision"), std::string::npos);
}

TEST(Flow, AnEndedDeploymentRecordsHowLongBlueAndGreenRanTogether) {
  Walk walk(spec_with(), blue_fleet());
  EXPECT_FALSE(walk.d().cost);
  walk.feed(input::RevisionFetched{"/state/bundles/d-green", "local:/srv/hello"}, 1s);
  const TimePoint launched = walk.now();  // launch_green starts as the revision is fetched
  walk.feed(
      input::GreenLaunched{{instance("i-g1", "d-green", 9101), instance("i-g2", "d-green", 9102)}});
  walk.feed(
      input::HooksRan{{passed("i-g1", "ValidateService"), passed("i-g2", "ValidateService")}});
  walk.pass_health_gate();
  walk.feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
  walk.feed(input::ActionDone{});
  walk.feed(input::HooksRan{{passed("i-g1", "AfterAllowTraffic")}});
  walk.feed(input::HooksRan{});
  walk.feed(input::Drained{0});
  walk.feed(input::HooksRan{});
  EXPECT_FALSE(walk.d().cost) << "no cost while the deployment runs";
  walk.feed(input::WaitEnded{}, 60s);
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});  // blue terminated: the overlap ends here

  ASSERT_EQ(walk.d().status, DeploymentStatus::succeeded);
  ASSERT_TRUE(walk.d().cost);
  const DeploymentCost& cost = *walk.d().cost;
  EXPECT_EQ(cost.overlap, walk.now() - launched);
  EXPECT_EQ(cost.instances, 4);  // two blue, two green
  EXPECT_DOUBLE_EQ(cost.instance_seconds, static_cast<double>(cost.overlap.count()) / 1000 * 4);
  EXPECT_FALSE(cost.spot_usd);
  EXPECT_FALSE(cost.on_demand_usd);
  EXPECT_EQ(cost.note, "");
}

TEST(Flow, ACleanUpEndsTheOverlapWhenTheGreensAreGone) {
  Walk walk(spec_with(), blue_fleet());
  walk.feed(input::RevisionFetched{"/b", "local:/srv/hello"});
  const TimePoint launched = walk.now();
  walk.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  walk.feed(input::RollbackRequested{"bob"}, 5s);
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{}, 2s);  // the green terminated
  ASSERT_EQ(walk.d().status, DeploymentStatus::rolled_back);
  ASSERT_TRUE(walk.d().cost);
  EXPECT_EQ(walk.d().cost->overlap, walk.now() - launched);
  EXPECT_EQ(walk.d().cost->instances, 3);
}

TEST(Flow, AFirstDeploymentHasNoOverlapAndOneThatNeverLaunchedHasNoCost) {
  Walk first(spec_with());
  first.to_green_serving();
  ASSERT_EQ(first.d().status, DeploymentStatus::succeeded);
  ASSERT_TRUE(first.d().cost);
  EXPECT_EQ(first.d().cost->overlap, Duration::zero());
  EXPECT_EQ(first.d().cost->instances, 0);

  Walk unfetched(spec_with(), blue_fleet());
  unfetched.feed(input::Failed{Error{ErrorKind::not_found, "no such revision"}});
  // Whatever the clean-up does with no green to remove.
  for (int i = 0; i < 5 && !unfetched.d().finished_running(); ++i) {
    unfetched.feed(input::ActionDone{});
  }
  ASSERT_EQ(unfetched.d().status, DeploymentStatus::failed);
  EXPECT_FALSE(unfetched.d().cost);
}

TEST(Flow, FailingValidateServiceTerminatesGreenAndNeverTouchesTraffic) {
  Walk walk(spec_with(), blue_fleet());
  walk.feed(input::RevisionFetched{"/b", "local:/srv/hello"});
  walk.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  HookResult bad{"i-g1", "ValidateService", "scripts/validate.sh", 3, false, "not ready", 40};
  walk.feed(input::Failed{Error{ErrorKind::failed, "ValidateService failed on i-g1"}, {bad}});

  EXPECT_EQ(walk.d().phase, Phase::clean_up);
  EXPECT_EQ(walk.expect_action<action::RunHooks>().lifecycle_events,
            std::vector<std::string>{"ApplicationStop"});
  walk.feed(input::Failed{Error{ErrorKind::failed, "ApplicationStop failed"}, {}});
  EXPECT_EQ(walk.expect_action<action::Terminate>().colour, Colour::green);
  walk.feed(input::ActionDone{});

  EXPECT_EQ(walk.d().status, DeploymentStatus::failed);
  ASSERT_TRUE(walk.d().error);
  EXPECT_NE(walk.d().error->message.find("ValidateService"), std::string::npos)
      << "a failing ApplicationStop does not replace the cause";
  EXPECT_NE(walk.d().error->message.find("ValidateService"), std::string::npos);
  EXPECT_EQ(walk.d().green[0].state, InstanceState::terminated);
  EXPECT_FALSE(walk.d().traffic_moved);
  EXPECT_TRUE(walk.logged("not ready"));
  auto install = std::ranges::find(walk.d().phases, Phase::install, &PhaseRecord::phase);
  EXPECT_EQ(install->outcome, PhaseOutcome::failed);
}

TEST(Flow, AnythingPastTheDeadlineFailsWithATimeoutNamingThePhase) {
  Walk walk(spec_with());
  walk.feed(input::RevisionFetched{"/b", "local:/srv/hello"});
  walk.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  walk.feed(input::HooksRan{{passed("i-g1", "ValidateService")}}, 31s);

  ASSERT_TRUE(walk.d().error);
  EXPECT_EQ(walk.d().error->kind, ErrorKind::timeout);
  EXPECT_NE(walk.d().error->message.find("TIMEOUT of 30 s passed during install"),
            std::string::npos)
      << walk.d().error->message;
  walk.expect_action<action::RunHooks>();
  walk.feed(input::HooksRan{}, 10s);
  walk.expect_action<action::Terminate>();
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().status, DeploymentStatus::failed);
}

TEST(Flow, ATimeoutJustBeforeTheDeadlineIsTheDeadlines) {
  Walk walk(spec_with());
  walk.feed(input::RevisionFetched{"/b", "local:/srv/hello"});
  walk.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  // The agent killed the hook early enough that nothing outlives the deadline.
  walk.feed(input::Failed{Error{ErrorKind::timeout, "ValidateService killed at the deadline"}, {}},
            28s);
  ASSERT_TRUE(walk.d().error);
  EXPECT_NE(walk.d().error->message.find("TIMEOUT of 30 s passed during install: ValidateService"),
            std::string::npos)
      << walk.d().error->message;

  Walk early(spec_with());
  early.feed(input::RevisionFetched{"/b", "local:/srv/hello"});
  early.feed(input::Failed{Error{ErrorKind::timeout, "launch timed out"}, {}}, 5s);
  EXPECT_EQ(early.d().error->message, "launch timed out") << "far from the deadline";
}

TEST(Flow, HealthGateNeedsConsecutiveSuccessesAndGivesUpBeforeTheDeadline) {
  Walk walk(spec_with());
  walk.to_health_gate();
  auto first = walk.expect_action<action::CheckHealth>();
  EXPECT_EQ(first.not_before, walk.d().next_check);

  walk.feed(input::HealthChecked{{{"i-g1", true, ""}, {"i-g2", true, ""}}}, 1s);
  walk.feed(input::HealthChecked{{{"i-g1", true, ""}, {"i-g2", false, "HTTP 503"}}}, 1s);
  EXPECT_EQ(walk.expect_action<action::CheckHealth>().not_before, walk.now() + 1s);
  walk.feed(input::HealthChecked{{{"i-g1", true, ""}, {"i-g2", true, ""}}}, 1s);
  EXPECT_EQ(walk.d().phase, Phase::health_gate) << "one success after a failure is not enough";

  for (int i = 0; i < 30 && walk.d().phase == Phase::health_gate; ++i) {
    walk.feed(input::HealthChecked{{{"i-g1", true, ""}, {"i-g2", false, "connection refused"}}},
              1s);
  }
  ASSERT_TRUE(walk.d().error);
  EXPECT_EQ(walk.d().error->kind, ErrorKind::timeout);
  EXPECT_NE(walk.d().error->message.find("i-g2: connection refused"), std::string::npos)
      << walk.d().error->message;
  EXPECT_LT(walk.now(), walk.d().deadline) << "gives up when the next check would be too late";
  EXPECT_EQ(walk.d().green[1].state, InstanceState::unhealthy);
}

// TIMEOUT 600 s and the default HEALTH_CHECK_INTERVAL (5 s): only the wrong answers end it.
DeploymentSpec long_health_gate() {
  auto spec = parse_spec(std::string_view(R"({"GROUP_ID":"web","APP_NAME":"hello",
      "DEPLOYMENT_GROUP":"dg","TIMEOUT":"600","LOCAL_PATH":"/srv/hello"})"));
  EXPECT_TRUE(spec) << spec.error().message;
  return *spec;
}

HealthCheck answering(std::string id, std::string answer) {
  return HealthCheck{id, false, "GET http://127.0.0.1:1/healthz " + answer, answer};
}

TEST(Flow, AWrongHealthPathIsNamedAfterAFewRoundsAndFailsAfterAMinuteOfTheSame4xx) {
  Walk walk(long_health_gate(), blue_fleet());
  walk.to_health_gate();
  const std::string hint =
      "GET /healthz answered 404 on every green: set HEALTH_CHECK_PATH to a path your service "
      "answers with 2xx";
  auto round = [&] {
    walk.feed(input::HealthChecked{{answering("i-g1", "answered 404"),
                                    answering("i-g2", "answered 404")}},
              5s);
  };
  for (int i = 1; i < kHealthHintRounds; ++i) round();
  EXPECT_FALSE(walk.logged(hint)) << "one or two rounds may be a service still starting";
  round();
  EXPECT_TRUE(walk.logged(hint));
  EXPECT_EQ(walk.d().health_hint, hint);

  while (walk.d().phase == Phase::health_gate && walk.now() < walk.d().deadline) round();
  ASSERT_TRUE(walk.d().error);
  EXPECT_EQ(walk.d().error->message,
            "every green answered GET /healthz with 404 for 60 s: set HEALTH_CHECK_PATH to a "
            "path your service answers with 2xx");
  EXPECT_LT(walk.now(), walk.d().created + kWrongPathWindow + 10s) << "not the whole TIMEOUT";
  EXPECT_EQ(walk.d().phase, Phase::clean_up) << "blue serves on; greens are cleaned up";
  EXPECT_FALSE(walk.d().traffic_moved);
  EXPECT_EQ(walk.d().green[0].state, InstanceState::unhealthy);
}

TEST(Flow, ATimeoutInTheHealthGateSaysWhatTheGreensAnsweredAndWhatToChange) {
  // The round whose answer comes back after the deadline ends the deployment; the failure still
  // carries what every earlier round said, hint included.
  auto wrong = [](Walk& walk, std::chrono::seconds after) {
    walk.feed(input::HealthChecked{{answering("i-g1", "answered 404"),
                                    answering("i-g2", "answered 404")}},
              after);
  };
  const std::string hint =
      "GET /healthz answered 404 on every green: set HEALTH_CHECK_PATH to a path your service "
      "answers with 2xx";
  for (int rounds : {1, kHealthHintRounds}) {
    Walk walk(spec_with());
    walk.to_health_gate();
    for (int i = 0; i < rounds; ++i) wrong(walk, 1s);
    EXPECT_EQ(walk.d().phase, Phase::health_gate);
    wrong(walk, 40s);
    ASSERT_TRUE(walk.d().error) << rounds;
    const std::string& message = walk.d().error->message;
    EXPECT_NE(message.find("TIMEOUT of 30 s passed during health_gate: i-g1: GET "
                           "http://127.0.0.1:1/healthz answered 404; i-g2: "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(hint), std::string::npos)
        << "after " << rounds << " round(s), the deadline leaves no time for more: " << message;
    EXPECT_EQ(walk.d().phase, Phase::clean_up);
  }

  // Greens that answered differently get no hint, only their answers.
  Walk mixed(spec_with());
  mixed.to_health_gate();
  mixed.feed(input::HealthChecked{{answering("i-g1", "answered 404"),
                                   answering("i-g2", "connection refused")}},
             1s);
  wrong(mixed, 40s);
  ASSERT_TRUE(mixed.d().error);
  EXPECT_NE(
      mixed.d().error->message.find("i-g2: GET http://127.0.0.1:1/healthz connection refused"),
      std::string::npos)
      << mixed.d().error->message;
  EXPECT_EQ(mixed.d().error->message.find("set HEALTH_CHECK_PATH"), std::string::npos)
      << mixed.d().error->message;
}

TEST(Flow, OnlyTheSame4xxOnEveryGreenFailsEarly) {
  // A refused connection may be a slow start: it gets its hint, and TIMEOUT bounds it.
  Walk refused(long_health_gate());
  refused.to_health_gate();
  for (int i = 0; i < 30; ++i) {
    refused.feed(input::HealthChecked{{answering("i-g1", "connection refused"),
                                       answering("i-g2", "connection refused")}},
                 5s);
  }
  EXPECT_EQ(refused.d().phase, Phase::health_gate) << "150 s of refused connections";
  EXPECT_TRUE(refused.logged("GET /healthz: connection refused on every green"));

  // In an instance with its own network, an app on 127.0.0.1 only is the likely cause.
  auto isolated = long_health_gate();
  isolated.isolation = Isolation::namespaces;
  isolated.app_port = 3000;
  Walk own_network(isolated);
  own_network.to_health_gate();
  for (int i = 0; i < kHealthHintRounds; ++i) {
    own_network.feed(input::HealthChecked{{answering("i-g1", "connection refused"),
                                           answering("i-g2", "connection refused")}},
                     5s);
  }
  EXPECT_TRUE(own_network.logged(
      "the service must listen on port 3000 (APP_PORT, also given to hooks as PORT) on every "
      "address of its instance (0.0.0.0), not only on 127.0.0.1"));

  // Greens that answer differently, or one that is healthy, say nothing of the path.
  Walk mixed(long_health_gate());
  mixed.to_health_gate();
  for (int i = 0; i < 30; ++i) {
    mixed.feed(input::HealthChecked{{answering("i-g1", "answered 404"),
                                     answering("i-g2", i % 2 ? "answered 404" : "answered 403")}},
               5s);
  }
  EXPECT_EQ(mixed.d().phase, Phase::health_gate);
  EXPECT_TRUE(mixed.d().health_hint.empty());
  EXPECT_FALSE(mixed.logged("set HEALTH_CHECK_PATH"));

  // The hint goes once the answers change, and the minute starts again.
  Walk changed(long_health_gate());
  changed.to_health_gate();
  auto all = [&](const std::string& answer) {
    changed.feed(input::HealthChecked{{answering("i-g1", answer), answering("i-g2", answer)}}, 5s);
  };
  for (int i = 0; i < 10; ++i) all("answered 404");
  EXPECT_FALSE(changed.d().health_hint.empty());
  all("answered 500");
  EXPECT_TRUE(changed.d().health_hint.empty());
  for (int i = 0; i < 10; ++i) all("answered 404");
  EXPECT_EQ(changed.d().phase, Phase::health_gate) << "50 s of 404 since it changed";
}

TEST(Flow, A4xxThatMeansTryLaterIsNotTakenForAWrongHealthPath) {
  // 408, 425 and 429 say "not now" (a service still starting, rate limiting its probes):
  // the path is right, so neither the hint nor the early failure applies; TIMEOUT bounds it.
  for (const std::string answer : {"answered 408", "answered 425", "answered 429"}) {
    Walk walk(long_health_gate());
    walk.to_health_gate();
    for (int i = 0; i < 30; ++i) {
      walk.feed(input::HealthChecked{{answering("i-g1", answer), answering("i-g2", answer)}}, 5s);
    }
    EXPECT_EQ(walk.d().phase, Phase::health_gate) << "150 s of " << answer;
    EXPECT_TRUE(walk.d().health_hint.empty()) << answer;
    EXPECT_FALSE(walk.logged("set HEALTH_CHECK_PATH")) << answer;
  }
}

TEST(Flow, HookResultsLoggedAsTheyHappenedAreKeptButNotLoggedAgain) {
  Walk walk(spec_with());
  walk.feed(input::RevisionFetched{"/state/bundles/d-green", "local:/srv/hello"});
  walk.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  walk.feed(input::HooksRan{{passed("i-g1", "ApplicationStart")}, true});
  EXPECT_FALSE(walk.logged("ApplicationStart passed"));
  ASSERT_EQ(walk.d().hooks.size(), 1u);
  EXPECT_EQ(walk.d().phase, Phase::health_gate);

  Walk unreported(spec_with());
  unreported.feed(input::RevisionFetched{"/state/bundles/d-green", "local:/srv/hello"});
  unreported.feed(input::GreenLaunched{{instance("i-g1", "d-green", 9101)}});
  unreported.feed(input::HooksRan{{passed("i-g1", "ApplicationStart")}});
  EXPECT_TRUE(unreported.logged("ApplicationStart passed in 5 ms"));
}

TEST(Flow, ManualPromotionShowsPreviewAndWaitsForPromote) {
  Walk walk(spec_with(R"(,"PROMOTION":"manual","PREVIEW_LISTEN":"127.0.0.1:8081")"));
  walk.to_health_gate();
  EXPECT_FALSE(can_promote(walk.d())) << "not before the health gate passed";
  walk.pass_health_gate();
  EXPECT_EQ(walk.expect_action<action::Preview>().fleet_id, std::optional<std::string>("d-green"));
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::Wait>().until, walk.d().deadline);
  EXPECT_TRUE(can_promote(walk.d()));

  walk.feed(input::PromoteRequested{"alice"});
  EXPECT_EQ(walk.d().phase, Phase::allow_traffic);
  EXPECT_EQ(walk.d().promoted_by, "alice");
  walk.expect_action<action::RunHooks>();
}

TEST(Flow, UnansweredManualPromotionTimesOutAndHidesThePreview) {
  Walk walk(spec_with(R"(,"PROMOTION":"manual","PREVIEW_LISTEN":"127.0.0.1:8081")"));
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::ActionDone{});
  walk.feed(input::WaitEnded{}, 30s);

  ASSERT_TRUE(walk.d().error);
  EXPECT_NE(walk.d().error->message.find("promote"), std::string::npos);
  EXPECT_EQ(walk.expect_action<action::Preview>().fleet_id, std::nullopt);
  walk.feed(input::ActionDone{});
  walk.expect_action<action::RunHooks>();
  walk.feed(input::HooksRan{});
  walk.expect_action<action::Terminate>();
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().status, DeploymentStatus::failed);
}

TEST(Flow, RollbackWhileBlueIsKeptRoutesBackDrainsAndTerminatesGreen) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_wait_after_blue_drained();

  walk.feed(input::RollbackRequested{"bob"}, 5s);
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::Drain>().fleet_id, "d-green");
  walk.feed(input::Drained{1});
  EXPECT_EQ(walk.expect_action<action::RunHooks>().colour, Colour::green);
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Terminate>().colour, Colour::green);
  walk.feed(input::ActionDone{});

  EXPECT_EQ(walk.d().status, DeploymentStatus::rolled_back);
  EXPECT_NE(walk.d().error->message.find("bob"), std::string::npos);
  auto keep = std::ranges::find(walk.d().phases, Phase::keep_blue, &PhaseRecord::phase);
  EXPECT_EQ(keep->outcome, PhaseOutcome::stopped);
  EXPECT_TRUE(walk.logged("1 connection(s) still open"));
}

TEST(Flow, RollbackBeforeTheSwitchOnlyCleansUpGreen) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_health_gate();
  walk.feed(input::RollbackRequested{"bob"});
  EXPECT_EQ(walk.d().phase, Phase::clean_up);
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Terminate>().colour, Colour::green);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().status, DeploymentStatus::rolled_back);
}

TEST(Flow, FailingAfterAllowTrafficRollsBackToBlue) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  walk.feed(input::Failed{Error{ErrorKind::failed, "AfterAllowTraffic failed on i-g1"}, {}});
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
  walk.feed(input::ActionDone{});
  walk.feed(input::Drained{0});
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().status, DeploymentStatus::failed);
}

TEST(Flow, TheFirstDeploymentCannotRollBackOnceItServes) {
  Walk walk(spec_with());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  auto refused = can_roll_back(walk.d());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("no blue fleet"), std::string::npos);
  walk.feed(input::RollbackRequested{"bob"});
  EXPECT_EQ(walk.d().status, DeploymentStatus::running);
  walk.expect_action<action::RunHooks>();
}

TEST(Flow, BlueHookFailuresAreWarningsNotFailures) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_green_serving();
  walk.feed(input::Failed{Error{ErrorKind::failed, "BeforeBlockTraffic failed on i-b1"}, {}});
  walk.expect_action<action::Drain>();
  EXPECT_EQ(walk.d().warnings.size(), 1u);
  EXPECT_EQ(walk.d().status, DeploymentStatus::running);
}

TEST(Flow, ARestartBeforeTheSwitchCleansUpAndAfterItCarriesOn) {
  Walk before(spec_with(), blue_fleet());
  before.to_health_gate();
  before.feed(input::Resume{});
  EXPECT_EQ(before.d().phase, Phase::clean_up);
  EXPECT_EQ(before.expect_action<action::RunHooks>().colour, Colour::green);
  EXPECT_NE(before.d().error->message.find("restarted"), std::string::npos);

  Walk after(spec_with(), blue_fleet());
  auto until = after.to_wait_after_blue_drained().until;
  after.feed(input::Resume{});
  EXPECT_EQ(after.expect_action<action::Wait>().until, until);
  EXPECT_EQ(after.d().status, DeploymentStatus::running);
}

TEST(Flow, ARestartDuringTheSwitchKeepsGreenWhenTheRecordSaysItServes) {
  // Killed between the switch and the end of AfterAllowTraffic: the record names the routed
  // fleet. Green routed: the switch stays (blue may already be gone). Blue routed: roll back.
  for (bool after_route : {false, true}) {
    SCOPED_TRACE(after_route);
    Walk green(spec_with(), blue_fleet());
    green.to_health_gate();
    green.pass_health_gate();
    green.feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
    if (after_route) green.feed(input::ActionDone{});
    green.feed(input::Resume{green.d().id});
    EXPECT_EQ(green.d().phase, Phase::allow_traffic);
    EXPECT_EQ(green.d().status, DeploymentStatus::running);
    if (after_route) {
      green.expect_action<action::RunHooks>();
    } else {
      EXPECT_EQ(green.expect_action<action::Route>().fleet_id, green.d().id);
    }

    Walk blue(spec_with(), blue_fleet());
    blue.to_health_gate();
    blue.pass_health_gate();
    blue.feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
    if (after_route) blue.feed(input::ActionDone{});
    blue.feed(input::Resume{std::string("d-blue")});
    EXPECT_EQ(blue.d().phase, Phase::roll_back);
  }
}

TEST(Flow, ARestartAfterTheSwitchRollsBackWhenBlueIsWhatServes) {
  // keep_blue by the record, but the fleet that serves is blue (green's instances are gone):
  // carrying on would stop blue, the only fleet left.
  Walk walk(spec_with(), blue_fleet());
  walk.to_wait_after_blue_drained();
  walk.feed(input::Resume{std::string("d-blue")});
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
}

TEST(Flow, ARestartLongAfterTheDeadlineDoesNotUndoASwitchTheRecordShows) {
  Walk walk(spec_with(), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
  walk.feed(input::ActionDone{});
  walk.feed(input::Resume{walk.d().id}, 24h);
  walk.feed(input::HooksRan{{passed("i-g1", "AfterAllowTraffic")}});
  EXPECT_EQ(walk.d().phase, Phase::block_traffic);
  EXPECT_EQ(walk.d().status, DeploymentStatus::running);
}

TEST(Flow, AResultForAnotherStepIsIgnoredAndTheActionRepeats) {
  Walk walk(spec_with());
  walk.feed(input::ActionDone{});
  walk.expect_action<action::FetchRevision>();
  EXPECT_TRUE(walk.logged("ignored"));
  walk.feed(input::PromoteRequested{"alice"});
  walk.expect_action<action::FetchRevision>();
  EXPECT_EQ(walk.d().promoted_by, "");
}

TEST(Flow, TheRecordSurvivesAJsonRoundTripMidFlight) {
  Walk walk(spec_with(R"(,"API_TOKEN":"secret-token-value","PROVIDER":"local")"), blue_fleet());
  walk.to_green_serving();
  walk.feed(input::HooksRan{});
  auto json = to_json(walk.d());
  EXPECT_EQ(json.dump().find("secret-token-value"), std::string::npos);

  auto back = deployment_from_json(json);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json(*back), json);
  EXPECT_EQ(back->step, Step::drain_blue);
  EXPECT_EQ(back->wait_until, walk.d().wait_until);
}

TEST(Flow, MalformedRecordsAreRejectedNamingTheField) {
  auto json = to_json(Walk(spec_with()).d());
  json["step"] = "flying";
  auto back = deployment_from_json(json);
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message.find("step"), std::string::npos);
}

// TRAFFIC_STEPS=10,50,100 with STEP_WAIT: a split per step, each held for STEP_WAIT, the
// hooks after the switch only once green gets everything.
TEST(FlowSteps, EachStepIsRoutedThenHeldForStepWaitAndOnlyTheLastIsTheSwitch) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,50,100","STEP_WAIT":"30")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{{passed("i-g1", "BeforeAllowTraffic")}});
  for (int percent : {10, 50}) {
    auto route = walk.expect_action<action::Route>();
    EXPECT_EQ(route.fleet_id, "d-green");
    EXPECT_EQ(route.percent, percent);
    walk.feed(input::ActionDone{});
    EXPECT_EQ(walk.d().step, Step::traffic_step);
    auto hold = walk.expect_action<action::Wait>();
    EXPECT_EQ(hold.until, walk.now() + 30s);
    EXPECT_FALSE(hold.watch_traffic);  // no trigger set
    EXPECT_TRUE(can_roll_back(walk.d()));
    EXPECT_FALSE(can_promote(walk.d()));  // PROMOTION=auto
    walk.feed(input::WaitEnded{}, 30s);
  }
  auto last = walk.expect_action<action::Route>();
  EXPECT_EQ(last.percent, 100);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::RunHooks>().lifecycle_events,
            std::vector<std::string>{"AfterAllowTraffic"});
  EXPECT_TRUE(walk.logged("traffic step 1 of 3: 10% of new requests go to green"));
  EXPECT_TRUE(walk.logged("50% step held: STEP_WAIT of 30 s passed"));
  // The waits asked for do not count against TIMEOUT (30 s, two waits of 30 s passed).
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.d().phase, Phase::block_traffic);
  EXPECT_EQ(walk.d().status, DeploymentStatus::running);
}

TEST(FlowSteps, TheFirstDeploymentOfAGroupSwitchesAtOnce) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,50,100")"));
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Route>().percent, 100);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().step, Step::after_allow_traffic);
}

TEST(FlowSteps, ManualPromotionWaitsForPromoteAtEachStep) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"25,100","PROMOTION":"manual")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::ActionDone{});  // preview shown
  walk.feed(input::PromoteRequested{"alice"});
  walk.feed(input::HooksRan{});  // BeforeAllowTraffic
  EXPECT_EQ(walk.expect_action<action::Route>().percent, 25);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::Wait>().until, walk.d().deadline);
  EXPECT_TRUE(can_promote(walk.d()));
  walk.feed(input::WaitEnded{});  // not a promote: nothing moves
  EXPECT_EQ(walk.d().step, Step::traffic_step);
  walk.feed(input::PromoteRequested{"bob"});
  EXPECT_EQ(walk.expect_action<action::Route>().percent, 100);
  EXPECT_TRUE(walk.logged("25% step held: promoted by bob"));
}

TEST(FlowSteps, UnpromotedManualStepTimesOutAndRollsBackToBlue) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"25,100","PROMOTION":"manual")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::ActionDone{});
  walk.feed(input::PromoteRequested{"alice"});
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  walk.feed(input::WaitEnded{}, 60s);
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
  EXPECT_NE(walk.d().error->message.find("nobody ran `promote`"), std::string::npos);
}

// A trip during a step: the very next action puts every request back on blue, and the
// deployment ends rolled_back naming the figures.
TEST(FlowSteps, ATripDuringAStepRoutesBackToBlueFirstAndEndsRolledBackWithTheFigures) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,100","MAX_ERROR_RATE":"5")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  EXPECT_TRUE(walk.expect_action<action::Wait>().watch_traffic);
  walk.feed(input::TrafficTripped{"green answered 12 of 60 requests (20.0%)"});
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  auto back = walk.expect_action<action::Route>();
  EXPECT_EQ(back.fleet_id, "d-blue");
  EXPECT_EQ(back.percent, 100);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.expect_action<action::Drain>().fleet_id, "d-green");
  walk.feed(input::Drained{0});
  walk.feed(input::HooksRan{});
  EXPECT_EQ(walk.expect_action<action::Terminate>().colour, Colour::green);
  walk.feed(input::ActionDone{});
  EXPECT_EQ(walk.d().status, DeploymentStatus::rolled_back);
  EXPECT_EQ(walk.d().rollback_by, "automatic rollback");
  EXPECT_EQ(walk.d().error->message,
            "automatic rollback: green answered 12 of 60 requests (20.0%)");
  EXPECT_EQ(walk.d().blue->instances[0].state, InstanceState::healthy);
  EXPECT_TRUE(walk.logged("automatic rollback: green answered 12 of 60"));
}

TEST(FlowSteps, ATripDuringKeepBlueRollsBackAndBlueIsNeverRetiredBeforeTheWatchEnds) {
  Walk walk(spec_with(R"(,"MAX_LATENCY_RATIO":"2")"), blue_fleet());
  auto keep = walk.to_wait_after_blue_drained();
  EXPECT_TRUE(keep.watch_traffic);
  walk.feed(input::TrafficTripped{"green's p99 latency 250 ms is 50.0 times blue's 5 ms"});
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
  EXPECT_EQ(walk.d().rollback_by, "automatic rollback");
}

// A trip reported anywhere but a watched wait (late, or with no trigger set) changes nothing:
// in particular it never stops a deployment that is retiring blue.
TEST(FlowSteps, AStaleTripOutsideAWatchedWaitIsIgnored) {
  Walk walk(spec_with(R"(,"MAX_ERROR_RATE":"5")"), blue_fleet());
  walk.to_wait_after_blue_drained();
  walk.feed(input::WaitEnded{}, 60s);
  EXPECT_EQ(walk.d().step, Step::stop_blue);
  walk.feed(input::TrafficTripped{"late"});
  EXPECT_EQ(walk.d().step, Step::stop_blue);
  EXPECT_EQ(walk.d().status, DeploymentStatus::running);

  Walk unwatched(spec_with(), blue_fleet());
  unwatched.to_wait_after_blue_drained();
  unwatched.feed(input::TrafficTripped{"no trigger set"});
  EXPECT_EQ(unwatched.d().step, Step::keep_blue);
}

// Invariant 1 of flow.h, tried on every path: from a step below 100, no sequence of results
// reaches stop_blue or terminate_blue without first routing 100% to green and keeping blue.
TEST(FlowSteps, BlueIsNeverRetiredWhileGreenHoldsAStepBelowAHundred) {
  for (const InputEvent& event :
       {InputEvent{input::WaitEnded{}}, InputEvent{input::ActionDone{}},
        InputEvent{input::HooksRan{}}, InputEvent{input::Drained{0}},
        InputEvent{input::PromoteRequested{"x"}},
        InputEvent{input::Failed{Error{ErrorKind::failed, "boom"}, {}}},
        InputEvent{input::Resume{"d-green"}}, InputEvent{input::TrafficTripped{"t"}}}) {
    Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,50,100","MAX_ERROR_RATE":"5")"), blue_fleet());
    walk.to_health_gate();
    walk.pass_health_gate();
    walk.feed(input::HooksRan{});
    walk.feed(input::ActionDone{});
    ASSERT_EQ(walk.d().step, Step::traffic_step);
    walk.feed(event);
    const Step s = walk.d().step;
    EXPECT_NE(s, Step::stop_blue);
    EXPECT_NE(s, Step::terminate_blue);
    if (walk.d().phase == Phase::roll_back) {
      EXPECT_EQ(s, Step::route_to_blue);  // blue first
    } else if (s == Step::route_to_green) {
      EXPECT_EQ(traffic_percent(walk.d()), 50);
    } else {
      EXPECT_EQ(s, Step::traffic_step);
    }
  }
}

TEST(FlowSteps, ARestartDuringAStepRollsBackToBlue) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,100")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  walk.feed(input::Resume{"d-blue"});
  EXPECT_EQ(walk.d().phase, Phase::roll_back);
  EXPECT_EQ(walk.expect_action<action::Route>().fleet_id, "d-blue");
}

TEST(FlowSteps, TheStepSurvivesAJsonRoundTrip) {
  Walk walk(spec_with(R"(,"TRAFFIC_STEPS":"10,50,100","STEP_WAIT":"1")"), blue_fleet());
  walk.to_health_gate();
  walk.pass_health_gate();
  walk.feed(input::HooksRan{});
  walk.feed(input::ActionDone{});
  walk.feed(input::WaitEnded{}, 1s);
  auto again = deployment_from_json(to_json(walk.d()));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->traffic_step, 1);
  EXPECT_EQ(again->spec.traffic_steps, (std::vector<int>{10, 50, 100}));
  EXPECT_EQ(traffic_percent(*again), 50);
}

TEST(Clock, Iso8601RoundTripsWithMilliseconds) {
  auto t = from_epoch_ms(1'700'000'123'456);
  EXPECT_EQ(to_iso8601(t), "2023-11-14T22:15:23.456Z");
  EXPECT_EQ(from_iso8601("2023-11-14T22:15:23.456Z"), t);
  EXPECT_EQ(from_iso8601("2023-11-14T22:15:23.4Z"), from_epoch_ms(1'700'000'123'400));
  EXPECT_EQ(from_iso8601("2023-11-14 22:15:23Z"), std::nullopt);
  EXPECT_EQ(from_iso8601("2023-02-30T00:00:00Z"), std::nullopt);
}

}  // namespace
}  // namespace bluegreen
