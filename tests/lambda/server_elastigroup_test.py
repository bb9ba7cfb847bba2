#!/usr/bin/env python3
"""PROVIDER=elastigroup through `bluegreen server`: the CLI hands the deployment to the server
(--server URL, or BLUEGREEN_SERVER), which runs the same flow as the Lambda action and the
in-process CLI against the same world (moto with auth on and the deploy/ policy, the CodeDeploy
and Spot fakes; see cloud_world.py) with the credentials of its own environment, journals it
after every step, shows it in status, history, logs and the dashboard's API, and resumes it
after a SIGKILL. The CLI runs with no cloud credentials at all.

Run: BLUEGREEN_CLI=<build>/bin/bluegreen python3 server_elastigroup_test.py
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud_world import CLI, DEFAULT_PACING, GROUP, SPOT_TOKEN, TAG, SharedWorld  # noqa: E402
from planted_secrets import leaks  # noqa: E402
from server_process import ServerProcess  # noqa: E402
from waiting import wait_for  # noqa: E402


def waited(test, condition, timeout, message):
    value = wait_for(condition, timeout=timeout, interval=0.1)
    if not value:
        test.fail(message)
    return value


WORLD = SharedWorld()
setUpModule, tearDownModule = WORLD.start, WORLD.stop
# Requests to the loopback admin API never go through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Server(ServerProcess):
    """`bluegreen server` with the world's cloud in its environment, in its own state dir."""

    def __init__(self, state_dir, extra_env=None):
        super().__init__(CLI, state_dir, WORLD.cloud_env(extra_env))

    def get(self, path):
        with OPENER.open(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())


class ServerElastigroupTest(unittest.TestCase):
    def setUp(self):
        WORLD.reset()
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-server-eg-")
        self.state_dir = os.path.join(self.tmp, "state")
        self.server = None
        self.clients = []
        with WORLD.spot._lock:
            self.blues = {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}

    def tearDown(self):
        for client in self.clients:
            if client.poll() is None:
                client.kill()
            client.wait()
        if self.server:
            self.server.kill(signal.SIGTERM)
        WORLD.assert_contracts_kept(self)
        self.assertEqual(leaks(WORLD.planted_secrets(), WORLD.requests_to_fakes()), [])
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------
    def start_server(self, extra_env=None):
        self.server = Server(self.state_dir, extra_env).start()
        return self.server

    def client_env(self, with_server_variable=True):
        """The CLI's environment: no AWS credentials, region, endpoint or Spot URL."""
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp}
        if with_server_variable:
            env["BLUEGREEN_SERVER"] = self.server.url
        return env

    def cli(self, *args, env=None):
        completed = subprocess.run([CLI, *args], env=env or self.client_env(),
                                   capture_output=True, text=True, timeout=300)
        self.assertEqual(leaks(WORLD.planted_secrets(), [("stdout", completed.stdout),
                                                         ("stderr", completed.stderr)]), [])
        return completed

    def deploy(self, parameters, *args, env=None):
        completed = self.cli("deploy", "--params", json.dumps(parameters), *args, env=env)
        lines = completed.stdout.strip().splitlines()
        summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        return completed, summary

    def deploy_in_background(self, parameters):
        client = subprocess.Popen(
            [CLI, "deploy", "--params", json.dumps(parameters)], env=self.client_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.clients.append(client)
        return client

    def record(self, deployment_id):
        return self.server.get(f"/api/deployments/{deployment_id}")

    def the_deployment(self):
        """The id of the one deployment the server knows (once it has one)."""
        def one():
            deployments = self.server.get("/api/deployments")["deployments"]
            return deployments[0]["deploymentId"] if deployments else None
        return waited(self, one, 30, "the server never showed the deployment")

    def wait_until_codedeploy_runs(self, deployment_id):
        def running():
            record = self.record(deployment_id)
            cloud = record.get("cloud") or {}
            return record["status"] == "running" and record["phase"] == "install" and \
                cloud.get("codeDeployDeploymentId") and record
        return waited(self, running, 60, "CodeDeploy never started")

    def wait_until_ended(self, deployment_id, timeout=120):
        def ended():
            record = self.record(deployment_id)
            return record["status"] != "running" and record
        return waited(self, ended, timeout, f"{deployment_id} never ended")

    def created(self):
        """(Spot B/G deployments, CodeDeploy deployments) the fakes created."""
        spot = [c for c in WORLD.spot_calls("POST", "/blueGreenDeployment") if c["status"] == 200]
        codedeploy = [c for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        return len(spot), len(codedeploy)

    def assert_no_secret_kept(self):
        """The Spot token is in none of what the server keeps or shows: its log, the journal's
        files, status, history, every deployment's logs and its view in the dashboard."""
        places = [("server log", self.server.log())]
        for path in glob.glob(os.path.join(self.state_dir, "journal.db*")):
            with open(path, "rb") as f:
                places.append((os.path.basename(path), f.read()))
        places.append(("status --output json", self.cli("status", "--output", "json").stdout))
        history = self.cli("history", "--output", "json").stdout
        places.append(("history --output json", history))
        for item in json.loads(history)["deployments"]:
            deployment_id = item["deploymentId"]
            places.append((f"logs {deployment_id}",
                           self.cli("logs", deployment_id, "--output", "json").stdout))
            places.append((f"dashboard view of {deployment_id}",
                           json.dumps(self.server.dashboard_view(deployment_id))))
        self.assertEqual(leaks({"Spot token": SPOT_TOKEN}, places), [])

    # --- tests -----------------------------------------------------------------------------
    def test_a_deployment_through_the_server_shows_phases_greens_and_lifecycle_events(self):
        with WORLD.spot._lock:
            WORLD.spot.costs_answer = {"hours": 0.5, "actual": 0.0123, "potential": 0.0456}
        self.start_server()
        completed, summary = self.deploy(WORLD.parameters())
        self.assertEqual(completed.returncode, 0, completed.stderr + self.server.log())
        self.assertEqual(summary["status"], "succeeded", summary)
        deployment_id = summary["deploymentId"]
        green = summary["greenIdentifier"]
        self.assertEqual(WORLD.green_tags(), [green])
        self.assertEqual(self.created(), (1, 1))
        greens = WORLD.tagged_instances(green)
        self.assertEqual(set(greens.values()), {"running"})

        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual(len(history), 1)
        item = history[0]
        self.assertEqual(item["provider"], "elastigroup")
        self.assertEqual([(p["phase"], p["outcome"]) for p in item["phases"]],
                         [("validate", "passed"), ("launch_green", "passed"),
                          ("install", "passed"), ("terminate_blue", "passed")])
        self.assertEqual({g["id"] for g in item["greens"]}, set(greens))
        for g in item["greens"]:
            self.assertEqual(g["tags"][TAG], green)
        self.assertTrue(item["spotDeploymentId"].startswith("cdbg-"), item)
        self.assertTrue(item["codeDeployDeploymentId"], item)
        # What blue and green running together cost, from Spot's costs of the group.
        cost = item["cost"]
        self.assertEqual((cost["spotCostUsd"], cost["onDemandCostUsd"]), (0.0123, 0.0456))
        self.assertEqual(cost["instances"], 4)
        # The text forms name the same things.
        text = self.cli("history").stdout
        self.assertIn(item["spotDeploymentId"], text)
        self.assertIn(f"GreenIdentifier={green}", text)
        self.assertIn("  cost: blue and green ran together for ", text)
        self.assertIn("spot $0.0123, on demand $0.0456, saved $0.0333 (73%)", text)

        status = json.loads(self.cli("status", "--output", "json").stdout)["groups"]
        self.assertEqual([(g["group"], g["provider"]) for g in status], [(GROUP, "elastigroup")])
        self.assertEqual(status[0]["serving"]["deploymentId"], deployment_id)
        self.assertEqual({i["id"]: i["tags"][TAG] for i in status[0]["instances"]},
                         {i: green for i in greens})
        self.assertIn("Spot Elastigroup", self.cli("status").stdout)

        events = json.loads(self.cli("logs", deployment_id, "--output", "json").stdout)["events"]
        lifecycle = [e for e in events if "ValidateService Succeeded" in e["message"]]
        self.assertEqual({e["instanceId"] for e in lifecycle}, set(greens))
        self.assertEqual({e["phase"] for e in lifecycle}, {"install"})

        # The dashboard's view of it: the cloud ids, and no promote or rollback to offer.
        view = self.server.dashboard_view(deployment_id)
        self.assertEqual(view["cloud"]["codeDeployDeploymentId"], item["codeDeployDeploymentId"])
        self.assertEqual(view["actions"], {"promote": False, "rollback": False, "abort": False})
        self.assertEqual(view["cost"]["summary"], cost["summary"])
        # Blue left the group: only the greens remain.
        with WORLD.spot._lock:
            members = {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}
        self.assertEqual(members, set(greens))
        # The group's name is the Elastigroup's on this server: a local deployment naming it is
        # refused at once, even with --wait (only a running deployment's conflict ends by
        # itself; this one would wait out the local TIMEOUT of 15 minutes).
        local = {"GROUP_ID": GROUP, "APP_NAME": "hello", "DEPLOYMENT_GROUP": "dg",
                 "LOCAL_PATH": self.tmp, "TIMEOUT": "900", "LISTEN": "127.0.0.1:0"}
        completed, _ = self.deploy(local, "--wait")
        self.assertNotEqual(completed.returncode, 0, completed.stdout)
        self.assertIn(f"GROUP_ID {GROUP}: on this server that name is the Elastigroup {GROUP} "
                      "(PROVIDER=elastigroup)", completed.stderr)
        self.assertNotIn("waiting:", completed.stdout + completed.stderr)
        self.assertEqual(len(json.loads(self.cli("history", "--output", "json").stdout)
                             ["deployments"]), 1)
        self.assert_no_secret_kept()

    def test_a_failed_deployment_cleans_up_its_greens_and_keeps_blue(self):
        self.start_server()
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "fail", "failing_event": "ValidateService",
                                "message": "Script at specified location: scripts/check.sh "
                                           "failed with exit code 1"}
        completed, summary = self.deploy(WORLD.parameters(),
                                         "--server", self.server.url,
                                         env=self.client_env(with_server_variable=False))
        self.assertEqual(completed.returncode, 1, completed.stderr + self.server.log())
        self.assertEqual(summary["status"], "failed", summary)
        self.assertIn("ValidateService failed on i-", summary["error"])
        self.assertEqual(summary["phases"][-1]["phase"], "clean_up")
        stops = [c for c in WORLD.spot_calls("PUT", "/stop") if c["status"] == 200]
        self.assertEqual(len(stops), 1)
        green = summary["greenIdentifier"]
        self.assertFalse(set(WORLD.tagged_instances(green).values()) & {"pending", "running"})
        with WORLD.spot._lock:
            members = {i["instanceId"] for i in WORLD.spot.groups[GROUP]["instances"]}
        self.assertEqual(members, self.blues)
        record = self.record(summary["deploymentId"])
        self.assertTrue(record["greenFleet"]["instances"])
        self.assertEqual({i["state"] for i in record["greenFleet"]["instances"]}, {"terminated"})
        # Nothing of it is left in status: the group had no deployment that succeeded.
        self.assertEqual(json.loads(self.cli("status", "--output", "json").stdout)["groups"], [])

    def test_a_server_killed_while_codedeploy_runs_resumes_without_a_second_deployment(self):
        self.start_server()
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 6}
        # A reference: the restarted server resolves it again.
        self.deploy_in_background(WORLD.parameters(API_TOKEN="ssm:/spot/api-token"))
        deployment_id = self.the_deployment()
        self.wait_until_codedeploy_runs(deployment_id)
        # One deployment per group: a second one is refused, naming the first.
        second, _ = self.deploy(WORLD.parameters(API_TOKEN="ssm:/spot/api-token"))
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn(f"deployment {deployment_id} is running", second.stderr)

        self.server.kill(signal.SIGKILL)
        self.assertEqual(self.created(), (1, 1))
        self.start_server()
        record = self.wait_until_ended(deployment_id)
        self.assertEqual(record["status"], "succeeded", record.get("error"))
        self.assertEqual(self.created(), (1, 1))
        self.assertIn(f"deployment {deployment_id} was running", self.server.log())
        greens = WORLD.tagged_instances(record["greenIdentifier"])
        self.assertEqual(set(greens.values()), {"running"})
        self.assertEqual({i["id"] for i in record["greenFleet"]["instances"]}, set(greens))

    def test_a_server_killed_as_each_create_is_answered_makes_no_second_deployment(self):
        # The server dies after Spot, then CodeDeploy, created a deployment and before it could
        # journal the answer; CodeDeploy finishes while the server is down.
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 0}
        self.start_server()
        WORLD.spot.after_create = lambda: self.server.kill()
        self.deploy_in_background(WORLD.parameters(API_TOKEN="ssm:/spot/api-token"))
        self.server.process.wait(timeout=60)
        # The fakes record a call once their answer is made, which is after the kill returns:
        # the count catches up a moment after the server has gone.
        waited(self, lambda: self.created() == (1, 0), 10, f"created {self.created()}")
        WORLD.spot.after_create = None

        WORLD.aws.after_create = lambda: self.server.kill()
        self.start_server()
        self.server.process.wait(timeout=60)
        waited(self, lambda: self.created() == (1, 1), 10,
               f"created {self.created()}\n{self.server.log()[-3000:]}")
        WORLD.aws.after_create = None

        self.start_server()
        record = self.wait_until_ended(self.the_deployment())
        self.assertEqual(record["status"], "succeeded", record.get("error"))
        self.assertEqual(self.created(), (1, 1))
        greens = WORLD.tagged_instances(record["greenIdentifier"])
        self.assertEqual(set(greens.values()), {"running"})
        self.assert_no_secret_kept()

    def test_a_literal_token_lost_in_a_crash_ends_the_deployment_saying_why(self):
        self.start_server()
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 30}
        self.deploy_in_background(WORLD.parameters())  # API_TOKEN given literally
        deployment_id = self.the_deployment()
        running = self.wait_until_codedeploy_runs(deployment_id)
        self.server.kill(signal.SIGKILL)
        spot_calls = len(WORLD.spot_calls())

        self.start_server()
        record = self.wait_until_ended(deployment_id)
        self.assertEqual(record["status"], "failed")
        self.assertIn("API_TOKEN was given literally", record["error"])
        codedeploy = running["cloud"]["codeDeployDeploymentId"]
        self.assertIn(f"CodeDeploy deployment {codedeploy} was stopped", record["error"])
        self.assertIn(running["cloud"]["spotDeploymentId"], record["error"])
        stops = [c for c in WORLD.aws_calls("StopDeployment") if c["status"] == 200]
        self.assertEqual([c["body"]["deploymentId"] for c in stops], [codedeploy])
        # The restarted server never called Spot with what the journal holds.
        self.assertEqual(len(WORLD.spot_calls()), spot_calls)
        self.assertEqual(self.created(), (1, 1))
        self.assert_no_secret_kept()

    def test_a_name_is_refused_when_the_server_names_the_deployment(self):
        self.start_server()
        completed, summary = self.deploy(WORLD.parameters(), "--name", "release-42")
        self.assertEqual(completed.returncode, 2, completed.stderr)
        self.assertEqual(summary["status"], "rejected")
        self.assertIn("--name", summary["error"]["message"])
        self.assertEqual(WORLD.spot_calls(), [])
        self.assertEqual(self.server.get("/api/deployments")["deployments"], [])

    def test_a_deployment_with_the_default_polls(self):
        self.start_server(DEFAULT_PACING)
        completed, summary = self.deploy(WORLD.parameters(API_TOKEN="secretsmanager:spot/api-token"))
        self.assertEqual(completed.returncode, 0, completed.stderr + self.server.log())
        self.assertEqual(summary["status"], "succeeded", summary)
        self.assertEqual(self.created(), (1, 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
