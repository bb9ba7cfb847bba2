#!/usr/bin/env python3
"""`bluegreen deploy` with PROVIDER=elastigroup: the same flow as the Lambda action, run by the
CLI against the same world (moto with auth on and the deploy/ policy, the CodeDeploy and Spot
fakes; see cloud_world.py). Nothing is reported to CodePipeline: the CLI's exit code and its
summary line carry the outcome.

Run: BLUEGREEN_CLI=<build>/bin/bluegreen python3 cli_elastigroup_test.py
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud_world import CLI, GROUP, SPOT_TOKEN, TAG, WRONG_SPOT_TOKEN, SharedWorld  # noqa: E402
from planted_secrets import leaks  # noqa: E402

WORLD = SharedWorld()
setUpModule, tearDownModule = WORLD.start, WORLD.stop


class Run:
    def __init__(self, completed):
        self.code = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        lines = completed.stdout.strip().splitlines()
        self.summary = json.loads(lines[-1]) if lines else None
        # Progress goes to stdout before the summary line (to stderr with --output json).
        self.progress = "\n".join(lines[:-1]) + "\n" + completed.stderr


class CliElastigroupTest(unittest.TestCase):
    def setUp(self):
        WORLD.reset()

    def tearDown(self):
        WORLD.assert_contracts_kept(self)
        # No planted secret (raw, URL-encoded or base64) in any request URL or body.
        self.assertEqual(leaks(WORLD.planted_secrets(), WORLD.requests_to_fakes()), [])

    def deploy(self, parameters, *args):
        completed = subprocess.run(
            [CLI, "deploy", "--params", json.dumps(parameters), *args],
            env=WORLD.cloud_env(), capture_output=True, text=True, timeout=120)
        run = Run(completed)
        self.assertEqual(leaks(WORLD.planted_secrets(), [("stdout", run.stdout),
                                                         ("stderr", run.stderr)]), [])
        return run

    def spot_deployments(self):
        return [c for c in WORLD.spot_calls("POST") if c["status"] == 200]

    def test_a_deployment_succeeds_with_live_progress(self):
        run = self.deploy(WORLD.parameters(), "--name", "release-42")
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.summary["status"], "succeeded", run.summary)
        self.assertEqual(run.summary["provider"], "elastigroup")
        green = run.summary["greenIdentifier"]
        self.assertEqual(run.summary["outputs"]["DeploymentId"], run.summary["deploymentId"])
        # Progress for people: phases, the greens by id, the CodeDeploy deployment.
        self.assertIn("wait_greens", run.progress)
        self.assertRegex(run.progress, r"i-[0-9a-f]+")
        self.assertIn(run.summary["deploymentId"], run.progress)
        self.assertIn("succeeded: ", run.progress)
        self.assertNotIn("PutJob", run.progress)
        # The greens carry the tag and CodeDeploy targeted exactly it; blue was detached.
        greens = WORLD.tagged_instances(green)
        self.assertEqual(set(greens.values()), {"running"})
        creates = [c for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        self.assertEqual(len(creates), 1)
        self.assertEqual(creates[0]["body"]["targetInstances"],
                         {"tagFilters": [{"Key": TAG, "Value": green, "Type": "KEY_AND_VALUE"}]})
        with WORLD.spot._lock:
            members = {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}
        self.assertEqual(members, set(greens))
        # Nothing went to CodePipeline.
        self.assertEqual([c for c in WORLD.aws_calls() if c["service"] == "codepipeline"], [])

        # The same name again joins that deployment instead of starting a second one.
        again = self.deploy(WORLD.parameters(), "--name", "release-42")
        self.assertEqual(again.code, 0, again.stderr)
        self.assertEqual(again.summary["greenIdentifier"], green)
        self.assertEqual(len(self.spot_deployments()), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)

    def test_json_output_is_one_object_a_line(self):
        run = self.deploy(WORLD.parameters(), "--output", "json")
        self.assertEqual(run.code, 0, run.stderr)
        events = [json.loads(line) for line in run.stderr.strip().splitlines()
                  if line.startswith("{")]
        self.assertTrue(any(e.get("phase") == "wait_greens" for e in events), run.stderr)
        self.assertEqual(len(run.stdout.strip().splitlines()), 1, run.stdout)
        self.assertEqual(run.summary["status"], "succeeded")

    def test_the_closing_json_and_lines_say_what_the_deployment_cost(self):
        with WORLD.spot._lock:
            WORLD.spot.costs_answer = {"items": "object", "numbers": "strings", "hours": 0.5,
                                       "actual": 0.0123, "potential": 0.0456}
        run = self.deploy(WORLD.parameters(), "--output", "json")
        self.assertEqual(run.code, 0, run.stderr)
        cost = run.summary["cost"]
        self.assertEqual((cost["spotCostUsd"], cost["onDemandCostUsd"], cost["savingUsd"]),
                         (0.0123, 0.0456, 0.0333))
        self.assertEqual(cost["instances"], 4)  # two blue, two green
        self.assertGreater(cost["overlapSeconds"], 0)
        self.assertEqual((run.summary["outputs"]["DeploymentCost"],
                          run.summary["outputs"]["OnDemandCost"]), ("0.0123", "0.0456"))

        # For people: the last line says it, and says so when Spot has nothing yet.
        WORLD.reset()
        with WORLD.spot._lock:
            WORLD.spot.costs_answer = {"items": "empty"}
        run = self.deploy(WORLD.parameters())
        self.assertEqual(run.code, 0, run.stderr)
        self.assertIsNone(run.summary["cost"]["spotCostUsd"])
        self.assertNotIn("DeploymentCost", run.summary["outputs"])
        last = run.progress.strip().splitlines()[-1]
        self.assertIn("cost: blue and green ran together for ", last)
        self.assertIn("Spot has no costs for this window yet", last)

    def test_a_codedeploy_failure_exits_1_naming_the_event_and_stops_spot(self):
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "fail", "failing_event": "ValidateService",
                                "message": "Script at specified location: scripts/check.sh "
                                           "failed with exit code 1",
                                "log_tail": "[stderr]health check refused\n"}
        run = self.deploy(WORLD.parameters())
        self.assertEqual(run.code, 1, run.stderr)
        self.assertEqual(run.summary["status"], "failed")
        self.assertEqual(run.summary["failureType"], "JobFailed")
        self.assertIn("ValidateService failed on i-", run.summary["message"])
        self.assertIn("ValidateService", run.progress)
        stops = [c for c in WORLD.spot_calls("PUT", "/stop") if c["status"] == 200]
        self.assertEqual(len(stops), 1)
        greens = WORLD.green_tags()
        self.assertEqual(len(greens), 1)
        self.assertFalse(set(WORLD.tagged_instances(greens[0]).values()) & {"pending", "running"})

    def test_a_refused_token_is_never_echoed(self):
        for token in ("ssm:/spot/wrong-token", WRONG_SPOT_TOKEN):
            run = self.deploy(WORLD.parameters(API_TOKEN=token))  # checks stdout and stderr
            self.assertEqual(run.code, 1, run.stderr)
            self.assertEqual(run.summary["failureType"], "PermissionError", run.summary)
            self.assertIn("API_TOKEN", run.summary["message"])
        self.assertEqual(self.spot_deployments(), [])

    def test_bad_parameters_exit_2_naming_the_key_before_any_cloud_call(self):
        run = self.deploy(WORLD.parameters(DEPLOYMENT_GROUP=None))
        self.assertEqual(run.code, 2, run.stderr)
        self.assertIn("DEPLOYMENT_GROUP", run.summary["error"]["message"])
        # Parameters in another form than a JSON object are refused without being echoed
        # (deploy() checks stdout and stderr for the token).
        run = self.deploy(f"API_TOKEN={SPOT_TOKEN} GROUP_ID={GROUP}")
        self.assertEqual(run.code, 2, run.stderr)
        self.assertIn("--params is neither a JSON object", run.summary["error"]["message"])
        self.assertEqual(WORLD.aws_calls(), [])
        self.assertEqual(WORLD.spot_calls(), [])

    def test_an_unreachable_spot_api_fails_cleanly(self):
        env_port = WORLD.url(WORLD.spot_server)
        completed = subprocess.run(
            [CLI, "deploy", "--params", json.dumps(WORLD.parameters(TIMEOUT="5"))],
            env=WORLD.cloud_env({"SPOT_API_URL": "http://127.0.0.1:9"}),
            capture_output=True, text=True, timeout=120)
        run = Run(completed)
        self.assertNotEqual(run.code, 0, run.stderr)
        self.assertIn("127.0.0.1:9", run.stdout + run.stderr)
        self.assertNotIn(env_port, run.progress)
        self.assertEqual(WORLD.aws_calls("CreateDeployment"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
