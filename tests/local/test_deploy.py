"""examples/hello version 1 then version 2 through the real binary: the service moves to
version 2 without a failed request, history lists both, rollback and one-at-a-time hold."""

import json
import subprocess
import unittest

from harness import BINARY, LocalTestCase, RequestLoop, make_bundle, wait_until

PHASES_OF_A_SECOND_DEPLOYMENT = ["validate", "fetch_revision", "launch_green", "install",
                                 "health_gate", "allow_traffic", "block_traffic", "keep_blue",
                                 "terminate_blue"]


class DeployTest(LocalTestCase):
    def test_version_1_then_2_without_a_failed_request(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        self.assertEqual(first["status"], "succeeded")
        self.assert_serves(1)

        with RequestLoop(f"http://{self.listen}/", minimum=2000) as loop:
            code, second, done = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        self.assertGreaterEqual(loop.count, 2000)
        self.assertEqual(loop.failures, [], f"{len(loop.failures)} of {loop.count} failed")
        self.assertEqual(loop.bodies, {"hello from version 1", "hello from version 2"})
        self.assert_serves(2)

        # The last line of deploy's output says what happened, with the phases and their times.
        self.assertEqual(second["status"], "succeeded")
        self.assertRegex(second["greenIdentifier"], r"^[0-9a-f-]{36}$")
        self.assertIn("hello-2", second["revision"])
        self.assertEqual([p["phase"] for p in second["phases"]], PHASES_OF_A_SECOND_DEPLOYMENT)
        self.assertTrue(all(p["started"] and p["ended"] for p in second["phases"]))

        history = self.cli("history", "--output", "json")
        self.assertEqual(history.returncode, 0, history.stderr)
        deployments = json.loads(history.stdout)["deployments"]
        self.assertEqual([d["deploymentId"] for d in deployments],
                         [second["deploymentId"], first["deploymentId"]])
        for d in deployments:
            self.assertEqual(d["status"], "succeeded")
            self.assertIn("validate", [p["phase"] for p in d["phases"]])

        # Blue was retired: none of version 1's instances has a process left.
        self.assert_no_process_of([i["id"] for i in first["instances"]])
        status = json.loads(self.cli("status", "--output", "json").stdout)["groups"][0]
        self.assertEqual(status["routedFleet"], second["deploymentId"])
        self.assertEqual(sorted(i["id"] for i in status["instances"]),
                         sorted(i["id"] for i in second["instances"]))

    def test_each_deployment_reports_its_overlap_in_instance_seconds(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        # The first deployment of a group had no blue to run beside.
        self.assertEqual((first["cost"]["instances"], first["cost"]["instanceSeconds"]), (0, 0))
        code, second, done = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        cost = second["cost"]
        # Two blue and two green instances, from the greens' launch until blue was terminated
        # (BLUE_TERMINATION_WAIT=1 at least), and no money: a local deployment costs none.
        self.assertEqual(cost["instances"], 4)
        self.assertGreaterEqual(cost["overlapSeconds"], 1)
        self.assertAlmostEqual(cost["instanceSeconds"], 4 * cost["overlapSeconds"], delta=0.01)
        self.assertIsNone(cost["spotCostUsd"])
        self.assertIsNone(cost["onDemandCostUsd"])
        self.assertIn("instance-seconds", cost["summary"])
        self.assertIn("cost: blue and green ran together for ", done.stdout)
        # The journal's record keeps it: the history shows it, as JSON and as text.
        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual([d["cost"] for d in history], [cost, first["cost"]])
        self.assertIn("  cost: " + cost["summary"], self.cli("history").stdout)

    def test_rollback_while_blue_is_kept_switches_back(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        deploy = subprocess.Popen(
            [BINARY, "--server", self.server.url, "deploy", "--params",
             self.params(make_bundle(2, self.tmp), BLUE_TERMINATION_WAIT=120)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def in_keep_blue():
                status = json.loads(self.cli("status", "--output", "json").stdout)["groups"][0]
                running = status["running"]
                return running and running["phase"] == "keep_blue"
            wait_until(in_keep_blue, timeout=120, interval=0.2)
            self.assert_serves(2)

            rollback = self.cli("rollback", "--group", "web")
            self.assertEqual(rollback.returncode, 0, rollback.stdout + rollback.stderr)
            self.assert_serves(1)
            out, err = deploy.communicate(timeout=120)
        finally:
            deploy.kill()
        self.assertEqual(deploy.returncode, 1, err)
        result = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(result["status"], "rolled_back")
        self.assert_no_process_of([i["id"] for i in result["instances"]])

    def test_a_second_deployment_of_a_running_group_is_refused(self):
        self.assertEqual(self.deploy(self.params(make_bundle(1, self.tmp)))[0], 0)
        slow = subprocess.Popen(
            [BINARY, "--server", self.server.url, "deploy", "--params",
             self.params(make_bundle(2, self.tmp), BLUE_TERMINATION_WAIT=60)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            running = wait_until(lambda: json.loads(
                self.cli("status", "--output", "json").stdout)["groups"][0]["running"])
            code, result, done = self.deploy(self.params(make_bundle(3, self.tmp)))
            self.assertEqual(code, 1)
            self.assertEqual(result["status"], "rejected")
            self.assertIn(running["deploymentId"], done.stderr)
            self.assertIn("is running on group web", done.stderr)
        finally:
            self.cli("rollback", "--group", "web")
            slow.communicate(timeout=120)


if __name__ == "__main__":
    unittest.main()
