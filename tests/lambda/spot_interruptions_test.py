#!/usr/bin/env python3
"""Spot interruptions during an Elastigroup deployment, end to end: the packaged bootstrap
against moto (auth on, deploy/iam-policy.json), the CodeDeploy/CodePipeline fake and the Spot
fake (see cloud_world.py), with EC2 taking a green back while the greens launch, while
CodeDeploy installs, and after CodeDeploy's success.

EC2 (moto) terminates the green with state reason Client.UserInitiatedShutdown (moto has no
way to give Server.SpotInstanceTermination), so the flow names it as "terminated … without
this deployment asking". Elastigroup's replacement comes tagged, untagged, or not at all.
CodeDeploy targets the running instances that carry a deployment's tag when it is created
(looked up in moto), and a target that stops running before its deployment is over fails it.

Each test checks what a user sees: the result sent to CodePipeline (its summary and output
variables), the instances left running in moto and in the Spot group, which instances each
CodeDeploy deployment targeted, and the function's log lines naming the reclaimed instance.
After every test, the fakes' contracts were kept, every log line is one JSON object, and no
planted secret shows in anything the function produced.

Run: BLUEGREEN_LAMBDA_ZIP=<zip> python3 spot_interruptions_test.py
"""
import json
import os
import sys
import unittest

import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud_world import (DEFAULT_PACING, GROUP, TAG, LambdaRuntimeFake,  # noqa: E402
                         SharedWorld, wait_for)
from planted_secrets import leaks  # noqa: E402

WORLD = SharedWorld(package=True)
REPLACEMENT_TAG = "GreenReplacement"


setUpModule, tearDownModule = WORLD.start, WORLD.stop


class SpotInterruptionTest(unittest.TestCase):
    def setUp(self):
        WORLD.reset()
        self.runtime = LambdaRuntimeFake().__enter__()
        self.addCleanup(self.runtime.close)

    def tearDown(self):
        self.assertEqual(self.runtime.violations, [], "Runtime API contract")
        WORLD.assert_contracts_kept(self)
        produced = [("the function's log", "\n".join(WORLD.log_lines()))]
        produced += WORLD.job_results_sent() + WORLD.requests_to_fakes()
        self.assertEqual(leaks(WORLD.planted_secrets(), produced), [])
        for line in WORLD.log_lines():
            json.loads(line)  # every log line is one JSON object

    # --- running the job ---------------------------------------------------------------------
    def start_job(self, parameters, extra_env=None):
        """Starts the function and hands it a new job; returns (job id, invocation)."""
        WORLD.start_function(self.runtime, extra_env)
        job = WORLD.new_job()
        invocation = self.runtime.enqueue(WORLD.event(job, parameters), timeout_ms=120_000)
        return job, invocation

    def final_result(self, job, invocation):
        """What CodePipeline got for `job`, once the invocation answered."""
        self.assertTrue(invocation.answered.wait(150), "the function never answered")
        self.assertEqual(invocation.result.kind, "response", invocation.result.body)
        results = WORLD.job_results(job)
        self.assertEqual(len(results), 1, results)
        self.assertNotIn("continuationToken", results[0])
        return results[0]

    # --- what happened -----------------------------------------------------------------------
    @staticmethod
    def events(name):
        """The function's log lines whose event is `name` (a line still being written is
        skipped)."""
        found = []
        for line in WORLD.log_lines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                found.append(entry)
        return found

    def wait_for_event(self, name, containing="", timeout=60):
        """The first log line of event `name` whose message contains `containing`, waiting
        for it up to `timeout` s."""
        found = wait_for(lambda: [e for e in self.events(name) if containing in e["message"]],
                         timeout)
        self.assertTrue(found, f"no {name} event with {containing!r} in the function's log")
        return found[0]

    def the_green_tag(self):
        tags = WORLD.green_tags()
        self.assertEqual(len(tags), 1, tags)
        return tags[0]

    def the_only_running_green(self):
        running = [i for i, state in WORLD.tagged_instances(self.the_green_tag()).items()
                   if state == "running"]
        self.assertEqual(len(running), 1, running)
        return running[0]

    @staticmethod
    def instance_tags(instance_id):
        reservations = WORLD.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}

    @staticmethod
    def codedeploy_deployments():
        """Every CodeDeploy deployment created: (its tag filters, the instances it targeted,
        its status), oldest first."""
        with WORLD.aws._lock:
            return [(d["request"]["targetInstances"]["tagFilters"], sorted(d["targets"]),
                     WORLD.aws._status(d)) for d in WORLD.aws.deployments.values()]

    @staticmethod
    def group_members():
        with WORLD.spot._lock:
            return {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}

    @staticmethod
    def spot_deployment():
        with WORLD.spot._lock:
            (record,) = WORLD.spot.deployments.values()
            return {"state": record["state"], "blues": set(record["_blues"])}

    @staticmethod
    def replacement_of(instance_id):
        with WORLD.spot._lock:
            return dict(WORLD.spot.reclaimed)[instance_id]

    def succeeded(self, job, invocation):
        """The job's result, which must be a success."""
        success = self.final_result(job, invocation)
        self.assertEqual(success["type"], "success", success)
        return success

    def assert_reclaim_logged(self, instance_id, then):
        """The function's log names `instance_id` as a green taken from it, once, saying what
        it does about it."""
        logged = [e for e in self.events("green_reclaimed") if e.get("instance") == instance_id]
        self.assertEqual(len(logged), 1, self.events("green_reclaimed"))
        self.assertEqual(logged[0]["level"], "warning")
        self.assertIn(f"green {instance_id} was terminated at ", logged[0]["message"])
        # With EC2's state reason (Client.UserInitiatedShutdown) when moto has set it: its
        # terminate sets the state first, so a describe at that moment may see no reason.
        self.assertIn("without this deployment asking (EC2 state terminated",
                      logged[0]["message"])
        self.assertIn(then, logged[0]["message"])

    @staticmethod
    def tag_filter(key, value):
        return [{"Key": key, "Value": value, "Type": "KEY_AND_VALUE"}]

    # --- scenarios ---------------------------------------------------------------------------
    def test_a_green_reclaimed_while_launching_is_replaced_and_the_untagged_replacement_tagged(self):
        # Spot launches the greens 4 s apart; the first is reclaimed once the function has
        # seen it, and Elastigroup's replacement comes half a second later without any tag.
        WORLD.spot.launch_gap_seconds = 4
        job, invocation = self.start_job(WORLD.parameters(TIMEOUT="30"))
        self.wait_for_event("greens", "1 green instance(s) tagged")
        reclaimed = self.the_only_running_green()
        WORLD.spot.reclaim(reclaimed, replace_after=0.5, tag_replacement=False)

        success = self.succeeded(job, invocation)
        green = success["outputVariables"]["GreenIdentifier"]
        replacement = self.replacement_of(reclaimed)
        self.assertIsNotNone(replacement)
        # The replacement now carries the deployment's tag, which only the function's EC2
        # CreateTags (under deploy/iam-policy.json) can have put there.
        self.assertEqual(self.instance_tags(replacement), {TAG: green})
        greens = WORLD.tagged_instances(green)
        self.assertEqual(greens.pop(reclaimed), "terminated")
        self.assertEqual(set(greens.values()), {"running"})
        self.assertEqual(len(greens), 2)
        self.assertIn(replacement, greens)
        # One install, on a full green fleet: the survivor and the replacement.
        self.assertEqual(self.codedeploy_deployments(),
                         [(self.tag_filter(TAG, green), sorted(greens), "Succeeded")])
        # Blue detached: the group holds the two greens only.
        self.assertEqual(self.group_members(), set(greens))
        summary = success["executionDetails"]["summary"]
        self.assertIn("to 2 green instance(s)", summary)
        self.assertIn(f"Spot interruptions: {reclaimed} was terminated at ", summary)
        self.assertNotIn("reduced capacity", summary)
        self.assertEqual(success["outputVariables"]["ReclaimedInstances"], reclaimed)
        self.assert_reclaim_logged(reclaimed, "waiting for Elastigroup's replacement")
        tagged = self.events("replacement_tagged")
        self.assertEqual(len(tagged), 1, tagged)
        self.assertIn(f"Elastigroup launched {replacement} without this deployment's tag",
                      tagged[0]["message"])

    def test_a_green_reclaimed_during_an_install_that_succeeded_gets_the_revision_alone(self):
        # CodeDeploy takes 4 s and finishes on the rest: the reclaimed green had done its part
        # (one at a time) before it went. Elastigroup's replacement comes 5 s later, after
        # that success (so Spot is detaching blue meanwhile), without any tag.
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 4, "lost_target": "finished"}
        job, invocation = self.start_job(WORLD.parameters(TIMEOUT="60"))
        self.assertTrue(wait_for(lambda: [c for c in WORLD.aws_calls("CreateDeployment")
                                          if c["status"] == 200], 60))
        ((_, first_targets, status),) = self.codedeploy_deployments()
        self.assertNotIn(status, ("Succeeded", "Failed"))
        reclaimed, survivor = first_targets
        WORLD.spot.reclaim(reclaimed, replace_after=5, tag_replacement=False)

        success = self.succeeded(job, invocation)
        green = success["outputVariables"]["GreenIdentifier"]
        replacement = self.replacement_of(reclaimed)
        self.assertIsNotNone(replacement)
        # A second install, targeted at the replacement alone through a tag of its own; the
        # function put both tags on it.
        self.assertEqual(self.codedeploy_deployments(), [
            (self.tag_filter(TAG, green), sorted([reclaimed, survivor]), "Succeeded"),
            (self.tag_filter(REPLACEMENT_TAG, f"{green}-r1"), [replacement], "Succeeded")])
        self.assertEqual(self.instance_tags(replacement),
                         {TAG: green, REPLACEMENT_TAG: f"{green}-r1"})
        creates = [c["body"] for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        self.assertEqual(creates[1]["revision"], creates[0]["revision"])
        greens = WORLD.tagged_instances(green)
        self.assertEqual(greens, {reclaimed: "terminated", survivor: "running",
                                  replacement: "running"})
        self.assertEqual(self.group_members(), {survivor, replacement})
        first, second = (WORLD.aws.deployments.keys())
        summary = success["executionDetails"]["summary"]
        self.assertIn(f"CodeDeploy deployment {first} succeeded, the replacements were installed "
                      f"by {second}", summary)
        self.assertIn("the green fleet is whole", summary)
        self.assertEqual(success["outputVariables"]["DeploymentId"], first)
        self.assertEqual(success["outputVariables"]["ReclaimedInstances"], reclaimed)
        self.assertEqual(success["executionDetails"]["externalExecutionId"], second)
        self.assert_reclaim_logged(reclaimed, "waiting for Elastigroup's replacement")
        self.assertIn("the replacements alone", self.events("replacing_greens")[0]["message"])
        self.assertEqual(len(self.events("replacement_tagged")), 1)
        # Spot detached blue once the first install succeeded, while the replacement was
        # awaited: the deployment ending, not blue lost early.
        self.assertEqual(self.events("blue_left_early"), [])

    def test_an_install_that_failed_only_on_a_reclaimed_green_is_made_again_on_every_green(self):
        # The reclaimed green's agent stops answering, so CodeDeploy fails on it alone.
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 4}
        job, invocation = self.start_job(WORLD.parameters(TIMEOUT="60"))
        self.assertTrue(wait_for(lambda: [c for c in WORLD.aws_calls("CreateDeployment")
                                          if c["status"] == 200], 60))
        ((_, first_targets, _),) = self.codedeploy_deployments()
        reclaimed, survivor = first_targets
        WORLD.spot.reclaim(reclaimed, replace_after=0.5)

        success = self.succeeded(job, invocation)
        green = success["outputVariables"]["GreenIdentifier"]
        replacement = self.replacement_of(reclaimed)
        self.assertEqual(self.codedeploy_deployments(), [
            (self.tag_filter(TAG, green), sorted([reclaimed, survivor]), "Failed"),
            (self.tag_filter(TAG, green), sorted([survivor, replacement]), "Succeeded")])
        self.assertEqual(WORLD.tagged_instances(green), {
            reclaimed: "terminated", survivor: "running", replacement: "running"})
        self.assertEqual(self.group_members(), {survivor, replacement})
        self.assertEqual(success["outputVariables"]["ReclaimedInstances"], reclaimed)
        self.assertIn("the green fleet is whole", success["executionDetails"]["summary"])
        failed = [e for e in self.events("lifecycle_event") if e.get("status") == "Failed"]
        self.assertEqual([e["instance"] for e in failed], [reclaimed])
        self.assertIn("every green again", self.events("replacing_greens")[0]["message"])
        self.assert_reclaim_logged(reclaimed, "waiting for Elastigroup's replacement")

    def test_no_replacement_by_timeout_fails_naming_the_reclaimed_green_and_cleans_up(self):
        # Spot launches the greens 4 s apart; the first is reclaimed once the function has
        # seen it.
        WORLD.spot.launch_gap_seconds = 4
        job, invocation = self.start_job(WORLD.parameters(TIMEOUT="8"))
        self.wait_for_event("greens", "1 green instance(s) tagged")
        reclaimed = self.the_only_running_green()
        WORLD.spot.reclaim(reclaimed)  # Elastigroup never replaces it

        failure = self.final_result(job, invocation)
        self.assertEqual(failure["type"], "failure", failure)
        self.assertEqual(failure["failureDetails"]["type"], "JobFailed")
        message = failure["failureDetails"]["message"]
        self.assertIn("TIMEOUT (8 s) passed while waiting for Elastigroup to replace reclaimed "
                      f"green instance(s): {reclaimed} was terminated at ", message)
        self.assertIn("no green instance is left running and the blue instances keep serving",
                      message)
        # Nothing was installed, no green is left running, and blue is still in the group.
        self.assertEqual(WORLD.aws_calls("CreateDeployment"), [])
        greens = WORLD.tagged_instances(self.the_green_tag())
        self.assertEqual(len(greens), 2)
        self.assertEqual(set(greens.values()), {"terminated"})
        spot = self.spot_deployment()
        self.assertEqual(spot["state"], "STOPPED")
        self.assertEqual(self.group_members(), spot["blues"])
        self.assertEqual(len(spot["blues"]), 2)
        self.assert_reclaim_logged(reclaimed, "waiting for Elastigroup's replacement")

    def test_with_the_default_pacing_a_green_reclaimed_after_codedeploys_success_is_reported(self):
        # No pacing variable is set. Spot detaches blue 10 s after it sees CodeDeploy's
        # success; a green is reclaimed as soon as the function has seen that success, and
        # Elastigroup does not replace it before the end.
        WORLD.spot.finalise_seconds = 10
        job, invocation = self.start_job(WORLD.parameters(TIMEOUT="90"), DEFAULT_PACING)
        self.wait_for_event("codedeploy_succeeded", timeout=90)
        green = self.the_green_tag()
        ((_, targets, _),) = self.codedeploy_deployments()
        reclaimed, survivor = targets
        WORLD.spot.reclaim(reclaimed)

        success = self.succeeded(job, invocation)
        summary = success["executionDetails"]["summary"]
        self.assertIn(f"Spot interruptions: {reclaimed} was terminated at ", summary)
        self.assertIn("reduced capacity: 1 of 2 green instance(s) serve", summary)
        self.assertEqual(success["outputVariables"]["ReclaimedInstances"], reclaimed)
        # The other green serves; Spot detached blue; nothing was stopped or detached by the
        # function, and nothing was installed again.
        self.assertEqual(WORLD.tagged_instances(green),
                         {reclaimed: "terminated", survivor: "running"})
        self.assertEqual(self.group_members(), {survivor})
        self.assertEqual(self.spot_deployment()["state"], "FINISHED")
        self.assertEqual(WORLD.spot_calls("PUT"), [])
        self.assertEqual(len(self.codedeploy_deployments()), 1)
        self.assert_reclaim_logged(reclaimed, "nothing is removed: the other greens keep serving")

    def test_the_deploy_policy_lets_the_function_tag_instances_and_nothing_else(self):
        # moto checks EC2 tagging against each tagged resource's ARN, as AWS does
        # (tests/fakes/moto_server_arns.py): the policy's CreateTags is scoped to instances.
        instance = WORLD.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                           InstanceType="t3.micro")["Instances"][0]["InstanceId"]
        self.addCleanup(WORLD.ec2.terminate_instances, InstanceIds=[instance])
        group = WORLD.ec2.create_security_group(GroupName=f"not-a-green-{instance}",
                                                Description="not an instance")["GroupId"]
        self.addCleanup(WORLD.ec2.delete_security_group, GroupId=group)
        function = WORLD.moto.client("ec2", who="user")
        function.create_tags(Resources=[instance], Tags=[{"Key": TAG, "Value": "checked"}])
        self.assertEqual(self.instance_tags(instance), {TAG: "checked"})
        for resources in ([group], [instance, group]):
            with self.assertRaises(botocore.exceptions.ClientError) as denied:
                function.create_tags(Resources=resources, Tags=[{"Key": TAG, "Value": "x"}])
            self.assertIn(denied.exception.response["Error"]["Code"],
                          ("AccessDenied", "UnauthorizedOperation"), resources)
        self.assertEqual(self.instance_tags(instance), {TAG: "checked"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
