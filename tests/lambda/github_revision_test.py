#!/usr/bin/env python3
"""GitHub revisions end to end, and parameters the elastigroup provider refuses, through the
packaged Lambda function and through `bluegreen deploy` (PROVIDER=elastigroup, in the CLI's
own process), against the world of cloud_world.py (moto with auth on and the deploy/ policy,
the CodeDeploy/CodePipeline and Spot fakes).

A GitHub revision must reach CodeDeploy as CodeDeploy reads it: CreateDeployment with
revisionType GitHub, gitHubLocation {repository, commitId} and no S3 location (the fake
refuses a repository that is not account/repository). Parameters the elastigroup provider
cannot honour (PROMOTION, CAPACITY, ...) and a COMMIT_ID or GITHUB_REPO of the wrong shape
are refused before any cloud call: ConfigurationError to CodePipeline, exit 2 from the CLI,
the message naming the key.

Run: BLUEGREEN_LAMBDA_ZIP=<zip> BLUEGREEN_CLI=<build>/bin/bluegreen python3 github_revision_test.py
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud_world import GROUP, TAG, LambdaRuntimeFake, start_world  # noqa: E402
from planted_secrets import leaks  # noqa: E402

WORLD = None
ZIP = os.environ.get("BLUEGREEN_LAMBDA_ZIP", "")
CLI = os.environ.get("BLUEGREEN_CLI", "")
REPOSITORY = "octo-org/web.app_2"
COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"

# Parameters the elastigroup provider must refuse, and the key each message must name.
REFUSED = [
    ({"PROMOTION": "manual"}, "PROMOTION"),
    ({"CAPACITY": "4"}, "CAPACITY"),
    ({"HEALTH_CHECK_PATH": "/ready"}, "HEALTH_CHECK_PATH"),
    ({"BLUE_TERMINATION_WAIT": "600"}, "BLUE_TERMINATION_WAIT"),
    ({"COMMIT_ID": "--output=/etc/passwd"}, "COMMIT_ID"),
    ({"GITHUB_REPO": "octo-org"}, "GITHUB_REPO"),
]


def setUpModule():
    global WORLD
    if not ZIP or not os.path.exists(ZIP):
        raise unittest.SkipTest("BLUEGREEN_LAMBDA_ZIP does not name the packaged zip")
    if not os.access(CLI, os.X_OK):
        raise unittest.SkipTest("BLUEGREEN_CLI does not name the bluegreen binary")
    WORLD = start_world(ZIP)


def tearDownModule():
    if WORLD is not None:
        WORLD.stop()


def github_parameters(**overrides):
    return WORLD.parameters(**{"S3_BUCKET": None, "S3_KEY": None, "S3_BUNDLE": None,
                               "GITHUB_REPO": REPOSITORY, "COMMIT_ID": COMMIT, **overrides})


class GitHubRevisionTest(unittest.TestCase):
    def setUp(self):
        WORLD.reset()
        self.runtime = LambdaRuntimeFake().__enter__()
        self.addCleanup(self.runtime.close)
        self.outputs = []

    def tearDown(self):
        self.assertEqual(self.runtime.violations, [], "Runtime API contract")
        WORLD.assert_contracts_kept(self)
        produced = [("the function's log", "\n".join(WORLD.log_lines()))] + self.outputs
        produced += WORLD.job_results_sent() + WORLD.requests_to_fakes()
        self.assertEqual(leaks(WORLD.planted_secrets(), produced), [])

    # --- the two ways in -------------------------------------------------------------------
    def invoke(self, parameters):
        """One job through the packaged function; returns what it reported to CodePipeline."""
        job = WORLD.new_job()
        result = self.runtime.invoke(WORLD.event(job, parameters), timeout_ms=60_000,
                                     wait_seconds=80)
        self.assertIsNotNone(result, "the function never answered")
        self.assertEqual(result.kind, "response", result.body)
        results = WORLD.job_results(job)
        self.assertEqual(len(results), 1, results)
        return results[0]

    def deploy(self, parameters):
        """`bluegreen deploy` in the CLI's own process; returns (exit code, summary, stderr)."""
        done = subprocess.run([CLI, "deploy", "--params", json.dumps(parameters)],
                              env=WORLD.cloud_env(), capture_output=True, text=True, timeout=120)
        self.outputs += [("CLI stdout", done.stdout), ("CLI stderr", done.stderr)]
        lines = done.stdout.strip().splitlines()
        self.assertTrue(lines, done.stderr)
        return done.returncode, json.loads(lines[-1]), done.stderr

    # --- what CodeDeploy was asked ---------------------------------------------------------
    def assert_github_deployment_of(self, green):
        creates = [c for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        self.assertEqual(len(creates), 1, WORLD.aws_calls("CreateDeployment"))
        body = creates[0]["body"]
        # Exactly the GitHub location: no s3Location beside it.
        self.assertEqual(body["revision"], {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": REPOSITORY, "commitId": COMMIT}})
        self.assertEqual(body["targetInstances"],
                         {"tagFilters": [{"Key": TAG, "Value": green, "Type": "KEY_AND_VALUE"}]})
        # The greens CodeDeploy installed it on are the ones Spot launched, and now serve.
        greens = WORLD.tagged_instances(green)
        self.assertEqual(len(greens), 2)
        self.assertEqual(set(greens.values()), {"running"})
        with WORLD.spot._lock:
            members = {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}
        self.assertEqual(members, set(greens))

    def assert_no_cloud_call(self, allowed=()):
        self.assertEqual(WORLD.spot_calls(), [])
        self.assertEqual({c["operation"] for c in WORLD.aws_calls()}, set(allowed))

    # --- scenarios -------------------------------------------------------------------------
    def test_the_lambda_deploys_a_github_revision(self):
        WORLD.start_function(self.runtime)
        success = self.invoke(github_parameters())
        self.assertEqual(success["type"], "success", success)
        outputs = success["outputVariables"]
        self.assertEqual(success["executionDetails"]["externalExecutionId"],
                         outputs["DeploymentId"])
        self.assert_github_deployment_of(outputs["GreenIdentifier"])

    def test_the_cli_deploys_a_github_revision(self):
        code, summary, stderr = self.deploy(github_parameters(PROVIDER="elastigroup"))
        self.assertEqual(code, 0, stderr)
        self.assertEqual(summary["status"], "succeeded", summary)
        self.assertEqual(summary["provider"], "elastigroup")
        self.assert_github_deployment_of(summary["greenIdentifier"])

    def test_the_lambda_reports_what_elastigroup_cannot_honour_as_a_configuration_error(self):
        WORLD.start_function(self.runtime)
        for extra, key in REFUSED:
            with self.subTest(key):
                failure = self.invoke(github_parameters(**extra))
                self.assertEqual(failure["type"], "failure", failure)
                details = failure["failureDetails"]
                self.assertEqual(details["type"], "ConfigurationError", details)
                self.assertIn(key, details["message"])
        manual = self.invoke(github_parameters(PROMOTION="manual"))["failureDetails"]["message"]
        self.assertIn("PROMOTION is honoured only by PROVIDER=local", manual)
        self.assertIn("remove it or deploy with PROVIDER=local", manual)
        self.assert_no_cloud_call(allowed={"PutJobFailureResult"})

    def test_the_cli_refuses_the_same_with_exit_2_before_any_cloud_call(self):
        for extra, key in REFUSED:
            with self.subTest(key):
                code, summary, stderr = self.deploy(github_parameters(PROVIDER="elastigroup",
                                                                      **extra))
                self.assertEqual(code, 2, stderr)
                self.assertEqual(summary["status"], "rejected")
                self.assertEqual(summary["error"]["kind"], "invalid_input")
                self.assertIn(key, summary["error"]["message"])
                self.assertIn(key, stderr)
        self.assert_no_cloud_call()


if __name__ == "__main__":
    unittest.main(verbosity=2)
