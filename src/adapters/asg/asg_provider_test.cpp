// PROVIDER=asg through the whole flow (the engine's Executor, core/flow.h) on an AWS account in
// memory (asg_test_world.h): each invariant of asg_provider.h tried the ways it could break.
#include "adapters/asg/asg_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/asg/asg_test_world.h"
#include "engine/executor.h"
#include "engine/fakes.h"

namespace bluegreen::asg {
namespace {

using testing::asg_spec;
using ::testing::Contains;
using testing::FakeAsgCloud;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::World;

class AsgFlowTest : public ::testing::Test {
 protected:
  void SetUp() override { world_.seed(); }

  Deployment new_record(const DeploymentSpec& spec) {
    Deployment d = new_deployment("d-0001", spec, "test", "1a2b3c4d-0000-4000-8000-000000000001",
                                  clock_.now(), std::nullopt);
    d.cloud = CloudProgress{};
    return d;
  }

  // Runs a deployment to its end (or until the run is stopped) with a fresh provider.
  Deployment run(Deployment d, bool resume = false, const std::atomic<bool>* stop = nullptr) {
    AsgProvider provider(std::make_unique<FakeAsgCloud>(world_), clock_);
    Executor executor(provider, clock_, journal_, sink_, ProviderRun{TimePoint::max(), stop});
    return resume ? executor.resume(std::move(d), inbox_) : executor.run(std::move(d), inbox_);
  }

  int calls(std::string_view prefix) const {
    return static_cast<int>(std::ranges::count_if(
        world_.calls, [&](const std::string& c) { return c.starts_with(prefix); }));
  }
  int calls_exactly(std::string_view call) const {
    return static_cast<int>(std::ranges::count(world_.calls, call));
  }

  std::string green() const { return green_group_name("web", "1a2b3c4d"); }

  // Posts `request` once, when the deployment first reaches `step`; the flag says it was.
  const bool& post_once_at(Step step, InputEvent request) {
    sink_.on_update([this, step, request = std::move(request)](const Deployment& d) {
      if (d.step == step && !posted_) {
        posted_ = true;
        inbox_.post(request);
      }
    });
    return posted_;
  }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& e : sink_.events()) out.push_back(e.message);
    return out;
  }

  FakeClock clock_;
  World world_{clock_};
  MemoryJournal journal_;
  RecordingSink sink_;
  Inbox inbox_;
  bool posted_ = false;
};

TEST_F(AsgFlowTest, ADeploymentReplacesBlueWithGreenAndNoTargetGroupIsEverLeftWithoutAHealthyOne) {
  Deployment d = run(new_record(asg_spec()));

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  // The first deployment adopted the group named GROUP_ID; green now carries the service tag.
  EXPECT_TRUE(world_.groups.at("web").deleted);
  const auto& g = world_.groups.at(green()).g;
  EXPECT_FALSE(world_.groups.at(green()).deleted);
  EXPECT_EQ(g.tags.at("bluegreen:group"), "web");
  EXPECT_EQ(g.tags.at("GreenIdentifier"), d.green_identifier);
  EXPECT_EQ(g.launch_template.id, "lt-0abc");
  EXPECT_EQ(g.vpc_zone_identifier, "subnet-1,subnet-2");
  EXPECT_EQ(g.desired_capacity, 2);
  EXPECT_EQ(g.target_group_arns, std::vector<std::string>{World::kMain});
  // Only green's instances serve; blue's are terminated.
  std::set<std::string> serving;
  for (const auto& [id, t] : world_.target_groups.at(World::kMain).targets) serving.insert(id);
  std::set<std::string> greens;
  for (const auto& i : g.instances) greens.insert(i.id);
  EXPECT_EQ(serving, greens);
  for (const auto& i : world_.groups.at("web").g.instances) {
    EXPECT_TRUE(world_.terminated.contains(i.id));
  }
  // CodeDeploy installed on exactly the greens, by their tag.
  ASSERT_EQ(world_.deployments.size(), 1u);
  const auto& cd = world_.deployments.begin()->second;
  EXPECT_EQ(cd.request.target_tag_filters.at(0).key, "GreenIdentifier");
  EXPECT_EQ(cd.request.target_tag_filters.at(0).value, d.green_identifier);
  EXPECT_EQ(std::set<std::string>(cd.targets.begin(), cd.targets.end()), greens);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  // The phases a user sees, in order.
  std::vector<Phase> phases;
  for (const auto& p : d.phases) phases.push_back(p.phase);
  EXPECT_THAT(phases, Contains(Phase::keep_blue));
  EXPECT_EQ(phases.back(), Phase::terminate_blue);
}

// What blue and green running together cost, counted from the record as for a local
// deployment: from green's launch to blue's end, on both groups' instances; no money.
TEST_F(AsgFlowTest, ADeploymentsCostIsTheOverlapOfBothGroupsInInstanceSeconds) {
  Deployment d = run(new_record(asg_spec()));
  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  ASSERT_TRUE(d.cost);
  auto launch = std::ranges::find(d.phases, Phase::launch_green, &PhaseRecord::phase);
  ASSERT_NE(launch, d.phases.end());
  ASSERT_TRUE(d.finished);
  EXPECT_EQ(d.cost->overlap, *d.finished - launch->started);
  EXPECT_GT(d.cost->overlap, Duration::zero());
  EXPECT_EQ(d.cost->instances, 4);  // blue's two and green's two
  EXPECT_FALSE(d.cost->spot_usd);
  EXPECT_THAT(describe(*d.cost), HasSubstr("on 4 instance(s): "));
  EXPECT_THAT(describe(*d.cost), HasSubstr(" instance-seconds"));
}

TEST_F(AsgFlowTest, BlueIsDetachedOnlyOnceGreenIsHealthyInEveryTargetGroup) {
  // A second target group of blue's, where green is slow to pass.
  const std::string second =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-api/00000000000000aa";
  world_.target_groups[second];
  for (const auto& i : world_.groups.at("web").g.instances) {
    world_.target_groups[second].targets[i.id] = World::Target{"healthy", 99, {}};
  }
  world_.groups.at("web").g.target_group_arns.push_back(second);
  world_.reads_until_healthy = 6;

  Deployment d = run(new_record(asg_spec()));

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  // The detach of blue came after green's last health read that was not yet healthy.
  auto detach = std::ranges::find(world_.calls, "DetachLoadBalancerTargetGroups web");
  ASSERT_NE(detach, world_.calls.end());
  EXPECT_EQ(calls_exactly("DetachLoadBalancerTargetGroups web"), 1);
}

TEST_F(AsgFlowTest, AGreenThatNeverPassesInTheMainTargetGroupLeavesBlueServingAndIsRemoved) {
  Deployment record = new_record(asg_spec(R"(,"TIMEOUT":"300")"));
  // Every green the group launches is sick: it never passes the main target group's check.
  world_.reads_until_healthy = 2;
  for (int i = world_.next_instance; i < world_.next_instance + 10; ++i) {
    world_.sick.insert(fmt::format("i-{:017x}", i));
  }

  Deployment d = run(std::move(record));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("TIMEOUT of 300 s passed during allow_traffic"));
  EXPECT_THAT(d.error->message, HasSubstr("nothing was detached"));
  EXPECT_EQ(calls_exactly("DetachLoadBalancerTargetGroups web"), 0);
  EXPECT_FALSE(world_.groups.at("web").deleted);
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  for (const auto& i : world_.groups.at("web").g.instances) {
    EXPECT_EQ(world_.target_groups.at(World::kMain).targets.at(i.id).state, "healthy");
  }
}

TEST_F(AsgFlowTest, AFailingValidateServiceEndsFailedNamingItAndRemovesOnlyGreen) {
  world_.codedeploy_fails_at = "ValidateService";
  Deployment d = run(new_record(asg_spec()));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("lifecycle event ValidateService failed on i-"));
  EXPECT_THAT(d.error->message, HasSubstr("ScriptFailed"));
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  EXPECT_FALSE(world_.groups.at("web").deleted);
  EXPECT_EQ(calls("AttachLoadBalancerTargetGroups"), 0);
  EXPECT_EQ(calls_exactly("DetachLoadBalancerTargetGroups web"), 0);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  // Each instance's failing event is a hook result of the record.
  EXPECT_TRUE(std::ranges::any_of(d.hooks, [](const HookResult& h) {
    return h.lifecycle_event == "ValidateService" && h.exit_code != 0;
  }));
}

TEST_F(AsgFlowTest, AFailedEventReadBeforeTheDeploymentSaysFailedIsStillNamed) {
  world_.codedeploy_fails_at = "ValidateService";
  world_.codedeploy_targets_ahead = world_.codedeploy_takes;
  Deployment d = run(new_record(asg_spec()));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("lifecycle event ValidateService failed on i-"));
  EXPECT_THAT(d.error->message, Not(HasSubstr("no lifecycle event failed")));
}

TEST_F(AsgFlowTest, ManualPromotionWaitsWithGreenInThePreviewTargetGroupGatedByItsHealth) {
  std::string preview = World::kPreview;
  bool promoted = false;
  std::vector<std::string> preview_targets_at_promotion;
  sink_.on_update([&](const Deployment& d) {
    if (d.step == Step::await_promotion && !promoted) {
      promoted = true;
      std::lock_guard lock(world_.mutex);
      for (const auto& [id, t] : world_.target_groups.at(preview).targets) {
        if (t.state == "healthy") preview_targets_at_promotion.push_back(id);
      }
      inbox_.post(input::PromoteRequested{"alice"});
    }
  });
  Deployment d = run(new_record(
      asg_spec(R"(,"PROMOTION":"manual","PREVIEW_TARGET_GROUP_ARN":")" + preview + R"(")")));

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_TRUE(promoted);
  // Green passed the preview target group's check before anyone could promote it.
  EXPECT_EQ(preview_targets_at_promotion.size(), 2u);
  EXPECT_EQ(d.promoted_by, "alice");
  // Green serves through main alone: the preview target group is left for the next green.
  EXPECT_EQ(world_.groups.at(green()).g.target_group_arns, std::vector<std::string>{World::kMain});
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgFlowTest, ARollbackDuringKeepBlueReattachesBlueBeforeGreenLeaves) {
  const bool& rolled = post_once_at(Step::keep_blue, input::RollbackRequested{"bob"});
  Deployment d = run(new_record(asg_spec(R"(,"BLUE_TERMINATION_WAIT":"600")")));

  EXPECT_EQ(d.status, DeploymentStatus::rolled_back) << (d.error ? d.error->message : "");
  EXPECT_TRUE(rolled);
  EXPECT_FALSE(world_.groups.at("web").deleted);
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  EXPECT_EQ(world_.groups.at("web").g.tags.at("bluegreen:group"), "web");
  for (const auto& i : world_.groups.at("web").g.instances) {
    EXPECT_EQ(world_.target_groups.at(World::kMain).targets.at(i.id).state, "healthy");
  }
  // Blue came back before green left (no moment without a healthy target), and green left.
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  for (const auto& i : world_.groups.at(green()).g.instances) {
    EXPECT_FALSE(world_.target_groups.at(World::kMain).targets.contains(i.id) &&
                 world_.target_groups.at(World::kMain).targets.at(i.id).state == "healthy");
  }
}

TEST_F(AsgFlowTest, ARollbackToABlueThatNeverBecomesHealthyAgainLeavesGreenServing) {
  for (const auto& i : world_.groups.at("web").g.instances) world_.sick.insert(i.id);
  const bool& rolled = post_once_at(Step::keep_blue, input::RollbackRequested{"bob"});
  Deployment d = run(new_record(asg_spec(R"(,"BLUE_TERMINATION_WAIT":"600")")));

  EXPECT_TRUE(rolled);
  EXPECT_NE(d.status, DeploymentStatus::succeeded);
  // Green was never removed from under the traffic: it still serves, its group is there.
  EXPECT_FALSE(world_.groups.at(green()).deleted);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
  int green_healthy = 0;
  for (const auto& i : world_.groups.at(green()).g.instances) {
    auto& targets = world_.target_groups.at(World::kMain).targets;
    green_healthy += targets.contains(i.id) && targets.at(i.id).state == "healthy" ? 1 : 0;
  }
  EXPECT_EQ(green_healthy, 2);
  EXPECT_FALSE(world_.groups.at("web").deleted);
  std::string said = d.phases.back().message;
  EXPECT_THAT(said, HasSubstr("green group " + green() + " is left as it is"));
}

TEST_F(AsgFlowTest, TimeoutWhileGreensLaunchEndsFailedAndRemovesTheGreenGroup) {
  world_.instances_never_in_service = true;
  Deployment d = run(new_record(asg_spec(R"(,"TIMEOUT":"120")")));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("TIMEOUT of 120 s passed during launch_green"));
  EXPECT_THAT(d.error->message, HasSubstr("0 of 2 instance(s) InService"));
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  EXPECT_FALSE(world_.groups.at("web").deleted);
}

TEST_F(AsgFlowTest, TimeoutDuringTheInstallStopsCodeDeployAndRemovesTheGreenGroup) {
  world_.codedeploy_takes = std::chrono::hours(2);
  Deployment d = run(new_record(asg_spec(R"(,"TIMEOUT":"600")")));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("TIMEOUT of 600 s passed during install"));
  EXPECT_EQ(calls("StopDeployment"), 1);
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  EXPECT_FALSE(world_.groups.at("web").deleted);
}

TEST_F(AsgFlowTest, ARunStoppedMidInstallResumesWithoutASecondGroupOrDeployment) {
  std::atomic<bool> stop{false};
  sink_.on_update([&](const Deployment& d) {
    if (d.step == Step::install && d.cloud && !d.cloud->codedeploy_deployment_id.empty()) {
      stop = true;
    }
  });
  Deployment first = run(new_record(asg_spec()), false, &stop);
  ASSERT_EQ(first.status, DeploymentStatus::running);
  ASSERT_EQ(first.step, Step::install);

  sink_.on_update(nullptr);
  auto saved = journal_.saved(first.id);
  ASSERT_TRUE(saved);
  Deployment d = run(*saved, /*resume=*/true);

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_EQ(calls("CreateAutoScalingGroup"), 1);
  EXPECT_EQ(calls("CreateDeployment"), 1);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgFlowTest, ACodeDeployCreateAnsweredButNotSavedIsAdoptedFromTheDeploymentGroup) {
  // The run is stopped while the greens pass their status checks.
  std::atomic<bool> stop{false};
  sink_.on_update([&](const Deployment& d) {
    if (d.step == Step::launch_green && d.cloud &&
        d.cloud->token.find("\"green_sent\":true") != std::string::npos) {
      stop = true;
    }
  });
  Deployment first = run(new_record(asg_spec()), false, &stop);
  ASSERT_EQ(first.step, Step::launch_green);
  // As if a later run died between CodeDeploy's answer and the save: the state says the
  // create went out, and names no deployment; CodeDeploy has it.
  Deployment saved = *journal_.saved(first.id);
  auto state = asg_state_from(saved.cloud->token);
  ASSERT_TRUE(state);
  state->codedeploy_create_sent = true;
  saved.cloud->token = to_json_text(*state);
  FakeAsgCloud cloud(world_);
  aws::CreateDeploymentRequest request;
  request.target_tag_filters = {{"GreenIdentifier", saved.green_identifier}};
  auto made = cloud.create_deployment(request, TimePoint::max());
  ASSERT_TRUE(made) << made.error().describe();

  sink_.on_update(nullptr);
  Deployment d = run(saved, /*resume=*/true);

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_EQ(world_.deployments.size(), 1u);
  EXPECT_EQ(d.cloud->codedeploy_deployment_id, *made);
  EXPECT_EQ(calls("CreateAutoScalingGroup"), 1);
}

TEST_F(AsgFlowTest, ARestartAfterTheTagMovedNeverDeletesTheServingGroup) {
  std::atomic<bool> stop{false};
  sink_.on_update([&](const Deployment& d) {
    if (d.step == Step::terminate_blue) stop = true;
  });
  Deployment first = run(new_record(asg_spec()), false, &stop);
  sink_.on_update(nullptr);
  Deployment d = run(*journal_.saved(first.id), /*resume=*/true);

  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");
  EXPECT_FALSE(world_.groups.at(green()).deleted);
  EXPECT_EQ(world_.groups.at(green()).g.tags.at("bluegreen:group"), "web");
  EXPECT_TRUE(world_.groups.at("web").deleted);
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgFlowTest, TwoGroupsCarryingTheServiceTagAreRefusedNamingBoth) {
  world_.groups.at("web").g.tags["bluegreen:group"] = "web";
  World::Group other = world_.groups.at("web");
  other.g.name = "web-old";
  world_.groups["web-old"] = other;

  Deployment d = run(new_record(asg_spec()));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("several Auto Scaling groups are tagged "
                                          "bluegreen:group=web (web, web-old)"));
  EXPECT_EQ(calls("CreateAutoScalingGroup"), 0);
}

TEST_F(AsgFlowTest, NoGroupOfThatNameOrTagIsAClearErrorAndCreatesNothing) {
  DeploymentSpec spec = asg_spec();
  spec.group_id = "shop";
  Deployment d = run(new_record(spec));
  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_TRUE(d.error);
  EXPECT_THAT(d.error->message, HasSubstr("no Auto Scaling group is tagged bluegreen:group=shop "
                                          "and none is named shop"));
  EXPECT_EQ(calls("CreateAutoScalingGroup"), 0);
}

// -- Attacks: AWS errors, lost answers, a group changed under the deployment, a deployment
// delivered again.

aws::AwsError throttling(const std::string& call) {
  return testing::aws_error(call, ErrorKind::throttled, "Throttling", "Rate exceeded");
}

TEST_F(AsgFlowTest,
       ADeploymentDeliveredAgainAfterItSucceededNeverDetachesOrDeletesItsServingGreen) {
  // A job delivered again without its record after it succeeded (its report was lost): the
  // same deployment id and GreenIdentifier start over, and the group tagged bluegreen:group is
  // now the green this deployment made.
  Deployment first = run(new_record(asg_spec()));
  ASSERT_EQ(first.status, DeploymentStatus::succeeded);
  ASSERT_THAT(world_.serving_violations, IsEmpty());

  Deployment again = run(new_record(asg_spec()));

  EXPECT_THAT(world_.serving_violations, IsEmpty());
  EXPECT_FALSE(world_.groups.at(green()).deleted) << "the serving group was deleted";
  int healthy = 0;
  for (const auto& [id, t] : world_.target_groups.at(World::kMain).targets) {
    healthy += t.state == "healthy" ? 1 : 0;
  }
  EXPECT_EQ(healthy, 2);
}

TEST_F(AsgFlowTest, ACleanUpThatCannotDeleteGreenNeverSaysGreenWasTerminated) {
  world_.codedeploy_fails_at = "ValidateService";
  const std::string g = green();
  world_.fault = [&](const std::string& call) -> std::optional<aws::AwsError> {
    if (call != "DeleteAutoScalingGroup " + g) return std::nullopt;
    return testing::aws_error("DeleteAutoScalingGroup", ErrorKind::permission_denied,
                              "AccessDenied", "not authorized to perform DeleteAutoScalingGroup");
  };
  Deployment d = run(new_record(asg_spec()));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  ASSERT_FALSE(world_.groups.at(g).deleted);
  // The group and its instances still run: the account of the clean-up must say so.
  EXPECT_THAT(d.phases.back().message, Not(HasSubstr("green terminated")));
  std::string told = d.phases.back().message + " | " + (d.error ? d.error->message : "");
  EXPECT_THAT(told, HasSubstr(g));
  EXPECT_THAT(told, HasSubstr("AccessDenied"));
}

TEST_F(AsgFlowTest, OneThrottledDeleteOfBlueDoesNotLeaveTheNextDeploymentRefused) {
  int throttled = 0;
  world_.fault = [&](const std::string& call) -> std::optional<aws::AwsError> {
    if (call != "DeleteAutoScalingGroup web" || throttled++ > 0) return std::nullopt;
    return throttling("DeleteAutoScalingGroup");
  };
  Deployment d = run(new_record(asg_spec()));
  ASSERT_EQ(d.status, DeploymentStatus::succeeded) << (d.error ? d.error->message : "");

  // Blue's group keeps running (its instances cost) with the service tag it had.
  EXPECT_TRUE(world_.groups.at("web").deleted) << "blue's group was left running";
  Deployment next_record =
      new_deployment("d-0002", asg_spec(), "test", "5e6f7a8b-0000-4000-8000-000000000002",
                     clock_.now(), std::nullopt);
  next_record.cloud = CloudProgress{};
  Deployment next = run(std::move(next_record));
  EXPECT_EQ(next.status, DeploymentStatus::succeeded) << (next.error ? next.error->message : "");
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

TEST_F(AsgFlowTest, ACodeDeployCreateWhoseAnswerWasLostIsStoppedByTheCleanUp) {
  // CreateDeployment reached CodeDeploy, its answer did not come back.
  world_.codedeploy_takes = std::chrono::hours(1);
  int lost = 0;
  world_.lost_answer = [&](const std::string& call) -> std::optional<aws::AwsError> {
    if (call != "CreateDeployment" || lost++ > 0) return std::nullopt;
    return testing::aws_error("CreateDeployment", ErrorKind::unavailable, "RequestTimeout",
                              "the request timed out");
  };
  Deployment d = run(new_record(asg_spec()));

  EXPECT_EQ(d.status, DeploymentStatus::failed);
  EXPECT_TRUE(world_.groups.at(green()).deleted);
  ASSERT_EQ(world_.deployments.size(), 1u);
  // Left running, CodeDeploy's deployment holds the deployment group: the next
  // CreateDeployment is refused with DeploymentLimitExceededException.
  EXPECT_EQ(world_.status_of(world_.deployments.begin()->second), "Stopped");
}

TEST_F(AsgFlowTest, AGreenInstanceReplacedAfterTheInstallNeverServesWithoutTheRevision) {
  // Auto Scaling replaces one green (a failed EC2 health check, a Spot rebalance) after the
  // health gate, just before the switch: its replacement boots blue's launch template and
  // CodeDeploy never installs the revision on it.
  bool replaced = false;
  sink_.on_update([&](const Deployment& d) {
    if (d.step == Step::route_to_green && !replaced) {
      replaced = true;
      std::lock_guard lock(world_.mutex);
      world_.replace_instance(green(), world_.groups.at(green()).g.instances.front().id);
    }
  });
  Deployment d = run(new_record(asg_spec()));
  ASSERT_TRUE(replaced);

  ASSERT_EQ(world_.deployments.size(), 1u);
  const auto& installed = world_.deployments.begin()->second.targets;
  for (const auto& [id, t] : world_.target_groups.at(World::kMain).targets) {
    if (t.state != "healthy") continue;
    bool blue = std::ranges::any_of(world_.groups.at("web").g.instances,
                                    [&](const GroupInstance& i) { return i.id == id; });
    EXPECT_TRUE(blue || std::ranges::find(installed, id) != installed.end())
        << id << " serves in the main target group without the revision (deployment "
        << to_string(d.status) << ")";
  }
  EXPECT_THAT(world_.serving_violations, IsEmpty());
}

}  // namespace
}  // namespace bluegreen::asg
