#!/usr/bin/env python3
"""PROVIDER=asg as a CodePipeline Lambda action, end to end: the real ``bootstrap`` served by
the Lambda Runtime API fake (tests/fakes/lambda_runtime_fake.py), with the environment of the
Auto Scaling world (asg_world.py: moto with auth on under deploy/iam-policy-asg.json, the
CodeDeploy fake, which also takes CodePipeline's job results). Each test seeds a service of its
own (its blue group and its main and preview target groups) and asserts what a pipeline owner
sees: the job's results in CodePipeline, the continuation tokens it was handed, and the cloud
afterwards as the world's operator reads it.

Run: BLUEGREEN_BOOTSTRAP=<build>/bootstrap python3 lambda_asg_test.py
"""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asg_world  # noqa: E402
from asg_world import GREEN_OF_TAG, GROUP_TAG, TAG  # noqa: E402
from codepipeline_action import FunctionProcess, job_event, runtime_env  # noqa: E402
from lambda_runtime_fake import LambdaRuntimeFake  # noqa: E402
from waiting import wait_for  # noqa: E402

BOOTSTRAP = os.environ.get("BLUEGREEN_BOOTSTRAP", "")
MAX_TOKEN = 2048  # CodePipeline's limit on a continuation token
WORLD = None


def setUpModule():
    global WORLD
    if not os.access(BOOTSTRAP, os.X_OK):
        raise unittest.SkipTest("BLUEGREEN_BOOTSTRAP does not name the bootstrap binary")
    WORLD = asg_world.start_world()


def tearDownModule():
    if WORLD is not None:
        WORLD.stop()


class LambdaAsgTest(unittest.TestCase):
    services = 0

    def setUp(self):
        WORLD.reset()
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-lambda-asg-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.functions = []
        self.runtimes = []
        self.runtime = self.new_runtime()
        LambdaAsgTest.services += 1
        self.service = f"fn{LambdaAsgTest.services}"
        self.main, self.preview = WORLD.seed_service(self.service)
        self.blues = WORLD.group_instances(self.service)

    def tearDown(self):
        for function in self.functions:
            function.stop()
        for runtime in self.runtimes:
            self.assertEqual(runtime.violations, [], "Runtime API contract")
        with WORLD.aws._lock:
            self.assertEqual(WORLD.aws.violations, [], "CodeDeploy/CodePipeline contract")

    # --- the function ----------------------------------------------------------------------
    def new_runtime(self):
        runtime = LambdaRuntimeFake().__enter__()
        self.addCleanup(runtime.close)
        self.runtimes.append(runtime)
        return runtime

    def start_function(self, runtime=None, extra_env=None):
        """The bootstrap, serving `runtime`, as the deployer of the world."""
        env = WORLD.cloud_env(dict(runtime_env(runtime or self.runtime), **(extra_env or {})))
        function = FunctionProcess(
            [BOOTSTRAP], env, os.path.join(self.tmp, f"bootstrap-{len(self.functions)}.log"),
            cwd=self.tmp)
        self.functions.append(function)
        return function

    def log(self):
        return "\n".join(line for f in self.functions for line in f.log_lines()[-40:])

    def parameters(self, **overrides):
        given = {"GROUP_ID": self.service, "PREVIEW_TARGET_GROUP_ARN":
                 WORLD.target_group_arn(self.preview), "BLUE_TERMINATION_WAIT": "1",
                 "TIMEOUT": "120"}
        return WORLD.parameters(**dict(given, **overrides))

    def invoke(self, job_id, parameters, token=None, timeout_ms=60_000, runtime=None):
        """One invocation of the job, answered by the function: its (kind, body)."""
        runtime = runtime or self.runtime
        result = runtime.invoke(job_event(job_id, parameters, token), timeout_ms=timeout_ms,
                                wait_seconds=timeout_ms / 1000 + 20)
        self.assertIsNotNone(result, f"the function never answered\n{self.log()}")
        self.assertEqual(result.kind, "response", result.body)
        return result

    def only_result(self, job_id):
        results = WORLD.jobs.results(job_id)
        self.assertEqual(len(results), 1, f"{results}\n{self.log()}")
        return results[0]

    def run_to_the_end(self, job_id, parameters, timeout_ms=60_000, runtime=None):
        """Invokes the job, and its continuations (each a new job, as CodePipeline makes
        them), until CodePipeline gets a final result: (that result, the tokens handed over)."""
        token, tokens = None, []
        for _ in range(20):
            self.invoke(job_id, parameters, token, timeout_ms, runtime)
            answer = self.only_result(job_id)
            if "continuationToken" not in answer:
                return answer, tokens
            self.assertEqual(answer["type"], "success", answer)
            self.assertNotIn("outputVariables", answer)
            token = answer["continuationToken"]
            tokens.append(token)
            job_id = WORLD.jobs.new_job()
        self.fail("no final result after 20 invocations")

    # --- the cloud -------------------------------------------------------------------------
    def green_groups(self):
        """{name: group} of every group made as a green of this service."""
        return {name: group for name, group in WORLD.groups().items()
                if group["tags"].get(GREEN_OF_TAG) == self.service}

    def assert_blue_untouched(self):
        blue = WORLD.groups([self.service])[self.service]
        self.assertEqual(sorted(blue["instances"]), self.blues)
        self.assertEqual(blue["target_groups"], [self.main])
        self.assertEqual(WORLD.target_health(self.main),
                         {i: ("healthy", "") for i in self.blues})

    def assert_succeeded_with_one_green(self, success):
        """The job's success names the one green group and the one CodeDeploy deployment, and
        green serves in blue's place."""
        self.assertEqual(success["type"], "success", f"{success}\n{self.log()}")
        self.assertNotIn("continuationToken", success)
        variables = success["outputVariables"]
        green = variables["GreenIdentifier"]
        name = f"{self.service}-{green[:8]}"
        self.assertEqual(variables["GreenGroup"], name)
        greens = self.green_groups()
        self.assertEqual(list(greens), [name])
        self.assertEqual(greens[name]["tags"].get(TAG), green)
        self.assertEqual(greens[name]["tags"].get(GROUP_TAG), self.service)
        deployments = WORLD.deployments()
        self.assertEqual([d["id"] for d in deployments], [variables["DeploymentId"]])
        self.assertEqual(deployments[0]["status"], "Succeeded")
        self.assertEqual(sorted(deployments[0]["targets"]), sorted(greens[name]["instances"]))
        # Blue's group is gone with its instances; green alone serves the main target group.
        self.assertNotIn(self.service, WORLD.groups())
        self.assertEqual(set(WORLD.instance_states(self.blues).values()), {"terminated"})
        self.assertEqual(WORLD.target_health(self.main),
                         {i: ("healthy", "") for i in greens[name]["instances"]})

    def autoscaling_requests(self):
        """How many Auto Scaling requests (any action) the deployer has sent moto, read from
        moto's recorder, which writes each down as it arrives."""
        credential = f"Credential={WORLD.moto.user['access_key_id']}/"
        count = 0
        with open(WORLD.record) as f:
            for line in f:
                headers = {k.lower(): v for k, v in json.loads(line)["headers"].items()}
                authorization = headers.get("authorization", "")
                count += credential in authorization and "/autoscaling/aws4_request" in authorization
        return count

    # --- scenarios -------------------------------------------------------------------------
    def test_a_deployment_longer_than_an_invocation_continues_with_its_token_and_succeeds(self):
        # Blue is kept 30 s; every invocation has 20 s.
        self.start_function()
        final, tokens = self.run_to_the_end(
            WORLD.jobs.new_job(), self.parameters(BLUE_TERMINATION_WAIT="30"), timeout_ms=20_000)
        self.assertGreaterEqual(len(tokens), 1)
        for token in tokens:
            self.assertLessEqual(len(token), MAX_TOKEN)
        self.assert_succeeded_with_one_green(final)

    def test_a_failed_validate_service_is_the_jobs_failure_and_leaves_blue_serving(self):
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "fail", "failing_event": "ValidateService",
                                "message": "Script at specified location: scripts/validate.sh "
                                           "failed with exit code 1"}
        self.start_function()
        job = WORLD.jobs.new_job()
        failure, tokens = self.run_to_the_end(job, self.parameters())
        self.assertEqual(failure["type"], "failure", failure)
        self.assertEqual(failure["failureDetails"]["type"], "JobFailed")
        self.assertIn("ValidateService", failure["failureDetails"]["message"])
        for token in tokens:
            self.assertLessEqual(len(token), MAX_TOKEN)
        # The green group is gone with its instances; blue serves as it did.
        self.assertEqual(self.green_groups(), {})
        launched = WORLD.tagged_instances(WORLD.deployments()[0]["request"]["targetInstances"]
                                          ["tagFilters"][0]["Value"])
        self.assertTrue(launched, "no green instance was launched")
        self.assertEqual(set(launched.values()), {"terminated"})
        self.assert_blue_untouched()

    def test_manual_promotion_is_refused_before_any_auto_scaling_request(self):
        self.start_function()
        before = self.autoscaling_requests()
        job = WORLD.jobs.new_job()
        self.invoke(job, self.parameters(PROMOTION="manual"))
        failure = self.only_result(job)
        self.assertEqual(failure["type"], "failure", failure)
        self.assertEqual(failure["failureDetails"]["type"], "ConfigurationError")
        message = failure["failureDetails"]["message"]
        self.assertIn("PROMOTION", message)
        self.assertIn("bluegreen server", message)
        self.assertEqual(self.autoscaling_requests(), before)
        # The recorder does see the deployer's Auto Scaling requests: one made here is counted.
        WORLD.deployer("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.service])
        self.assertTrue(wait_for(lambda: self.autoscaling_requests() == before + 1, 5))
        self.assertEqual(WORLD.deployments(), [])
        self.assertNotIn(GROUP_TAG, WORLD.groups([self.service])[self.service]["tags"])
        self.assert_blue_untouched()

    def test_a_job_delivered_again_after_its_function_died_creates_nothing_twice(self):
        # CodeDeploy takes 8 s: the function is killed while it follows the install.
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 8}
        first = self.start_function()
        job = WORLD.jobs.new_job()
        self.runtime.enqueue(job_event(job, self.parameters()))
        self.assertTrue(wait_for(lambda: [c for c in WORLD.aws_calls("GetDeployment")
                                          if c["status"] == 200], 30), self.log())
        first.kill()  # SIGKILL mid-flow: no report, no clean-up
        self.assertEqual(WORLD.jobs.results(job), [])
        self.assertEqual(len(self.green_groups()), 1)
        # Lambda delivers the same job again, without a token, to a new instance.
        again = self.new_runtime()
        self.start_function(again)
        final, tokens = self.run_to_the_end(job, self.parameters(), runtime=again)
        for token in tokens:
            self.assertLessEqual(len(token), MAX_TOKEN)
        self.assert_succeeded_with_one_green(final)
        creates = [c for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        self.assertEqual(len(creates), 1)
        # Asked once: moto's recorder writes a request down before it answers, a refused one too.
        self.assertEqual([r["AutoScalingGroupName"]
                          for r in WORLD.deployer_requests("CreateAutoScalingGroup")
                          if r["AutoScalingGroupName"].startswith(self.service + "-")],
                         [final["outputVariables"]["GreenGroup"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
