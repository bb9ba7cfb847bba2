#!/usr/bin/env python3
"""The Auto Scaling world (asg_world.py): what it is seeded with, that
deploy/iam-policy-asg.json allows every call PROVIDER=asg makes and denies what it does not
make, that moto behaves as the world's docstring says, and that its knobs do what they say.
Every call is made through boto3 with the deployer's keys; the world observes with its own."""
import os
import sys
import unittest
import uuid

import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asg_world  # noqa: E402
from asg_world import (APP, DEPLOYMENT_GROUP, GREEN_OF_TAG, GROUP, GROUP_TAG, MAIN,  # noqa: E402
                       PREVIEW, TAG)

WORLD = None
SEEDED = None  # the groups and web-main's targets as the world started


def setUpModule():
    global WORLD, SEEDED
    WORLD = asg_world.start_world()
    SEEDED = {"groups": WORLD.groups(), "main": WORLD.target_health(MAIN),
              "preview": WORLD.target_health(PREVIEW)}


def tearDownModule():
    if WORLD is not None:
        WORLD.stop()


def error_code(call):
    """The AWS error code `call` fails with; None when it succeeds. moto answers a JSON
    service's denial in XML, which botocore reads as code "403": that is AccessDenied too."""
    try:
        call()
    except botocore.exceptions.ClientError as error:
        code = error.response["Error"]["Code"]
        return "AccessDenied" if code == "403" else code
    return None


class Case(unittest.TestCase):
    def setUp(self):
        WORLD.reset()
        self.autoscaling = WORLD.deployer("autoscaling")
        self.elbv2 = WORLD.deployer("elbv2")
        self.ec2 = WORLD.deployer("ec2")

    def assertAllowed(self, call):
        code = error_code(call)
        self.assertNotIn(code, ("AccessDenied", "UnauthorizedOperation"), "denied")
        return code

    def assertDenied(self, call):
        self.assertEqual(error_code(call), "AccessDenied")

    def green_group(self, name, target_groups=(PREVIEW,), client=None, capacity=2):
        """Creates a green group as the provider does; returns its GreenIdentifier."""
        green = str(uuid.uuid4())
        (client or self.autoscaling).create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=capacity, MaxSize=capacity,
            DesiredCapacity=capacity,
            LaunchTemplate={"LaunchTemplateId": WORLD.seeded["launch_template_id"],
                            "Version": "$Default"},
            VPCZoneIdentifier=",".join(WORLD.seeded["subnets"]),
            TargetGroupARNs=[WORLD.target_group_arn(t) for t in target_groups],
            Tags=[{"Key": TAG, "Value": green, "PropagateAtLaunch": True},
                  {"Key": GREEN_OF_TAG, "Value": GROUP, "PropagateAtLaunch": True}])
        return green


class SeedTest(Case):
    def test_the_blue_group_serves_web_main_and_is_not_adopted_yet(self):
        blue = SEEDED["groups"][GROUP]
        self.assertEqual(len(blue["instances"]), 2)
        self.assertEqual(set(blue["instances"].values()), {("InService", "Healthy")})
        self.assertEqual(blue["target_groups"], [MAIN])
        self.assertEqual(blue["launch_template"], WORLD.seeded["launch_template_id"])
        self.assertNotIn(GROUP_TAG, blue["tags"])
        self.assertEqual(SEEDED["main"], {i: ("healthy", "") for i in blue["instances"]})
        self.assertEqual(SEEDED["preview"], {})

    def test_target_groups_drain_for_the_delay_set(self):
        attributes = self.elbv2.describe_target_group_attributes(
            TargetGroupArn=WORLD.target_group_arn(MAIN))["Attributes"]
        self.assertIn({"Key": "deregistration_delay.timeout_seconds",
                       "Value": str(asg_world.DEREGISTRATION_DELAY)}, attributes)

    def test_the_environment_points_every_service_at_the_world(self):
        env = WORLD.cloud_env()
        for service in ("EC2", "AUTO_SCALING", "ELASTIC_LOAD_BALANCING_V2"):
            self.assertEqual(env[f"AWS_ENDPOINT_URL_{service}"], WORLD.moto.endpoint)
        self.assertEqual(env["AWS_ENDPOINT_URL_CODEDEPLOY"], WORLD.url())
        self.assertEqual(env["AWS_ACCESS_KEY_ID"], WORLD.moto.user["access_key_id"])


class ProviderCallsTest(Case):
    def test_a_whole_deployment_is_allowed_and_moto_follows_it(self):
        blues = sorted(SEEDED["groups"][GROUP]["instances"])
        main, preview = WORLD.target_group_arn(MAIN), WORLD.target_group_arn(PREVIEW)
        by_tag = lambda: [g["AutoScalingGroupName"] for g in  # noqa: E731
                          self.autoscaling.describe_auto_scaling_groups(Filters=[
                              {"Name": f"tag:{GROUP_TAG}", "Values": [GROUP]}])
                          ["AutoScalingGroups"]]
        self.assertEqual(by_tag(), [])
        # Adoption: the untagged group may be tagged, and only then moved or deleted.
        self.assertDenied(lambda: self.autoscaling.detach_load_balancer_target_groups(
            AutoScalingGroupName=GROUP, TargetGroupARNs=[main]))
        self.autoscaling.create_or_update_tags(Tags=[{
            "ResourceId": GROUP, "ResourceType": "auto-scaling-group", "Key": GROUP_TAG,
            "Value": GROUP, "PropagateAtLaunch": False}])
        self.assertEqual(by_tag(), [GROUP])
        named = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
        self.assertEqual([g["AutoScalingGroupName"] for g in named], [GROUP])

        green = self.green_group("web-green-1")
        group = WORLD.groups(["web-green-1"])["web-green-1"]
        greens = sorted(group["instances"])
        self.assertEqual(set(group["instances"].values()), {("InService", "Healthy")})
        self.assertEqual(group["tags"], {TAG: green, GREEN_OF_TAG: GROUP})
        self.assertEqual(WORLD.tagged_instances(green), {i: "running" for i in greens})
        self.assertEqual(WORLD.tagged_instances("web-green-1", key="aws:autoscaling:groupName"),
                         {i: "running" for i in greens})
        health = WORLD.target_health(PREVIEW)
        self.assertEqual({i: health.get(i) for i in greens}, {i: ("healthy", "") for i in greens})

        statuses = self.ec2.describe_instance_status(InstanceIds=greens)["InstanceStatuses"]
        self.assertEqual({(s["InstanceId"], s["InstanceStatus"]["Status"],
                           s["SystemStatus"]["Status"]) for s in statuses},
                         {(i, "ok", "ok") for i in greens})
        listed = self.elbv2.describe_target_health(TargetGroupArn=preview)
        self.assertLessEqual(set(greens), {d["Target"]["Id"]
                                           for d in listed["TargetHealthDescriptions"]})

        self.autoscaling.attach_load_balancer_target_groups(
            AutoScalingGroupName="web-green-1", TargetGroupARNs=[main])
        self.assertEqual(WORLD.target_health(MAIN),
                         {i: ("healthy", "") for i in blues + greens})
        self.autoscaling.detach_load_balancer_target_groups(
            AutoScalingGroupName=GROUP, TargetGroupARNs=[main])
        # Deregistered at once: no longer listed, no draining.
        self.assertEqual(WORLD.target_health(MAIN), {i: ("healthy", "") for i in greens})
        self.assertEqual(WORLD.target_health(MAIN, ids=blues),
                         {i: ("unused", "Target.NotRegistered") for i in blues})

        self.autoscaling.create_or_update_tags(Tags=[{
            "ResourceId": "web-green-1", "ResourceType": "auto-scaling-group",
            "Key": GROUP_TAG, "Value": GROUP, "PropagateAtLaunch": False}])
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
        self.assertNotIn(GROUP, WORLD.groups())
        self.assertEqual(WORLD.instance_states(blues), {i: "terminated" for i in blues})
        self.assertEqual(by_tag(), ["web-green-1"])

    def test_a_rolled_back_green_is_detached_and_deleted(self):
        self.green_group("web-green-2", target_groups=(PREVIEW, MAIN))
        greens = WORLD.group_instances("web-green-2")
        self.autoscaling.detach_load_balancer_target_groups(
            AutoScalingGroupName="web-green-2",
            TargetGroupARNs=[WORLD.target_group_arn(MAIN), WORLD.target_group_arn(PREVIEW)])
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-green-2",
                                                   ForceDelete=True)
        self.assertEqual(WORLD.instance_states(greens), {i: "terminated" for i in greens})
        self.assertFalse(set(greens) & set(WORLD.target_health(MAIN)))

    def test_a_deleted_groups_registered_instances_stay_listed_healthy(self):
        # moto does not deregister terminated instances: a provider must detach before it
        # deletes, as AWS would also have it drain first.
        self.green_group("web-green-3", target_groups=(PREVIEW,))
        greens = WORLD.group_instances("web-green-3")
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-green-3",
                                                   ForceDelete=True)
        self.assertEqual(WORLD.instance_states(greens), {i: "terminated" for i in greens})
        health = WORLD.target_health(PREVIEW)
        self.assertEqual({i: health.get(i) for i in greens}, {i: ("healthy", "") for i in greens})

    def test_codedeploy_targets_the_green_instances_by_tag(self):
        green = self.green_group("web-green-4", target_groups=())
        greens = WORLD.group_instances("web-green-4")
        codedeploy = WORLD.deployer("codedeploy")
        with WORLD.aws._lock:  # in progress until the test is done with it
            WORLD.aws.script = {"outcome": "succeed", "steps": ["Created"] + ["InProgress"] * 9
                                + ["Succeeded"]}
        self.assertEqual(codedeploy.get_deployment_group(
            applicationName=APP, deploymentGroupName=DEPLOYMENT_GROUP)
            ["deploymentGroupInfo"]["deploymentGroupName"], DEPLOYMENT_GROUP)
        deployment = codedeploy.create_deployment(
            applicationName=APP, deploymentGroupName=DEPLOYMENT_GROUP,
            revision={"revisionType": "S3", "s3Location": {
                "bucket": "artifacts", "key": "web/web.zip", "bundleType": "zip"}},
            targetInstances={"tagFilters": [{"Key": TAG, "Value": green,
                                             "Type": "KEY_AND_VALUE"}]})["deploymentId"]
        (created,) = WORLD.deployments()
        self.assertEqual((created["id"], created["targets"]), (deployment, greens))
        status = lambda: codedeploy.get_deployment(  # noqa: E731
            deploymentId=deployment)["deploymentInfo"]["status"]
        self.assertEqual([status(), status()], ["Created", "InProgress"])
        self.assertEqual(sorted(codedeploy.list_deployment_targets(deploymentId=deployment)
                                ["targetIds"]), greens)
        codedeploy.batch_get_deployment_targets(deploymentId=deployment, targetIds=greens)
        WORLD.stop_instance(greens[0])
        self.assertEqual(status(), "Failed")
        WORLD.terminate_instance(greens[1])
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-green-4",
                                                   ForceDelete=True)

    def test_the_codedeploy_calls_are_in_the_policy(self):
        # moto evaluates the policy before its own CodeDeploy answers (here: not found); the
        # CodeDeploy fake checks keys and signatures only.
        codedeploy = WORLD.deployer("codedeploy", endpoint=WORLD.moto.endpoint)
        calls = {
            "GetDeploymentGroup": lambda: codedeploy.get_deployment_group(
                applicationName="none", deploymentGroupName="none"),
            "CreateDeployment": lambda: codedeploy.create_deployment(
                applicationName="none", deploymentGroupName="none"),
            "GetDeployment": lambda: codedeploy.get_deployment(deploymentId="d-NONE00000"),
            "ListDeploymentTargets": lambda: codedeploy.list_deployment_targets(
                deploymentId="d-NONE00000"),
            "BatchGetDeploymentTargets": lambda: codedeploy.batch_get_deployment_targets(
                deploymentId="d-NONE00000", targetIds=["i-0"]),
            "StopDeployment": lambda: codedeploy.stop_deployment(deploymentId="d-NONE00000"),
            "GetDeploymentConfig": lambda: codedeploy.get_deployment_config(
                deploymentConfigName="CodeDeployDefault.OneAtATime"),
        }
        for name, call in calls.items():
            with self.subTest(name):
                self.assertAllowed(call)
        self.assertDenied(lambda: codedeploy.delete_application(applicationName="none"))


class OutsideThePolicyTest(Case):
    def test_calls_the_provider_does_not_make_are_denied(self):
        self.green_group("web-green-5")
        greens = WORLD.group_instances("web-green-5")
        denied = {
            "UpdateAutoScalingGroup": lambda: self.autoscaling.update_auto_scaling_group(
                AutoScalingGroupName="web-green-5", DesiredCapacity=0),
            "SetDesiredCapacity": lambda: self.autoscaling.set_desired_capacity(
                AutoScalingGroupName="web-green-5", DesiredCapacity=0),
            "TerminateInstances": lambda: self.ec2.terminate_instances(InstanceIds=greens[:1]),
            "DescribeInstances": lambda: self.ec2.describe_instances(),
            "RegisterTargets": lambda: self.elbv2.register_targets(
                TargetGroupArn=WORLD.target_group_arn(MAIN), Targets=[{"Id": greens[0]}]),
            "ModifyTargetGroupAttributes": lambda: self.elbv2.modify_target_group_attributes(
                TargetGroupArn=WORLD.target_group_arn(MAIN), Attributes=[
                    {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]),
        }
        for name, call in denied.items():
            with self.subTest(name):
                self.assertDenied(call)
        self.assertEqual(WORLD.instance_states(greens), {i: "running" for i in greens})

    def test_tag_conditions_hold(self):
        unrelated = "other-service"
        WORLD.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=unrelated, MinSize=1, MaxSize=1, DesiredCapacity=1,
            LaunchTemplate={"LaunchTemplateId": WORLD.seeded["launch_template_id"],
                            "Version": "$Default"},
            VPCZoneIdentifier=",".join(WORLD.seeded["subnets"]))
        main = [WORLD.target_group_arn(MAIN)]
        # A group that is neither the service's nor a green: not moved, not deleted.
        self.assertDenied(lambda: self.autoscaling.delete_auto_scaling_group(
            AutoScalingGroupName=unrelated, ForceDelete=True))
        self.assertDenied(lambda: self.autoscaling.attach_load_balancer_target_groups(
            AutoScalingGroupName=unrelated, TargetGroupARNs=main))
        # Only bluegreen:group may be put on a group.
        self.assertDenied(lambda: self.autoscaling.create_or_update_tags(Tags=[{
            "ResourceId": unrelated, "ResourceType": "auto-scaling-group", "Key": "team",
            "Value": "x", "PropagateAtLaunch": False}]))
        # A group is created only as a green: tagged GreenIdentifier and bluegreen:green-of,
        # nothing else.
        template = {"LaunchTemplateId": WORLD.seeded["launch_template_id"], "Version": "$Default"}
        subnets = ",".join(WORLD.seeded["subnets"])
        for tags in ([], [{"Key": TAG, "Value": "g"}],
                     [{"Key": TAG, "Value": "g"}, {"Key": GREEN_OF_TAG, "Value": GROUP},
                      {"Key": "team", "Value": "x"}]):
            with self.subTest(tags=[t["Key"] for t in tags]):
                self.assertDenied(lambda: self.autoscaling.create_auto_scaling_group(
                    AutoScalingGroupName="not-a-green", MinSize=1, MaxSize=1,
                    DesiredCapacity=1, LaunchTemplate=template, VPCZoneIdentifier=subnets,
                    Tags=tags))
        self.assertNotIn("not-a-green", WORLD.groups())
        WORLD.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=unrelated,
                                                    ForceDelete=True)


class KnobsTest(Case):
    def test_a_stopped_instance_is_no_longer_a_serving_target(self):
        self.green_group("web-green-6", target_groups=(PREVIEW,))
        stopped, running = WORLD.group_instances("web-green-6")
        WORLD.stop_instance(stopped)
        health = WORLD.target_health(PREVIEW)
        self.assertEqual((health[stopped], health[running]),
                         (("unused", "Target.InvalidState"), ("healthy", "")))
        (status,) = self.ec2.describe_instance_status(
            InstanceIds=[stopped], IncludeAllInstances=True)["InstanceStatuses"]
        self.assertEqual((status["InstanceState"]["Name"], status["InstanceStatus"]["Status"]),
                         ("stopped", "not-applicable"))
        # Auto Scaling in moto neither notices nor replaces it.
        self.assertEqual(WORLD.groups(["web-green-6"])["web-green-6"]["instances"][stopped],
                         ("InService", "Healthy"))
        WORLD.start_instance(stopped)
        self.assertEqual(WORLD.target_health(PREVIEW)[stopped], ("healthy", ""))
        self.autoscaling.detach_load_balancer_target_groups(
            AutoScalingGroupName="web-green-6", TargetGroupARNs=[WORLD.target_group_arn(PREVIEW)])
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-green-6",
                                                   ForceDelete=True)


if __name__ == "__main__":
    unittest.main()
