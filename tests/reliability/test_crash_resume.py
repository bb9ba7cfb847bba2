"""The server is killed (SIGKILL, through the BLUEGREEN_TEST_CRASH_AT hook) as a deployment of
version 2 enters each phase in turn. After a restart the deployment ends in a definite state:
it succeeded and version 2 serves, or it failed and version 1 serves. The service answers every
request made while the server is up, no process of a terminated instance survives, and every
deployment in the history has a terminal status. Afterwards the group takes new deployments:
the lock the killed run held is gone."""

import os
import signal
import subprocess
import unittest

from reliability import (BINARY, RequestLoop, ReliabilityTestCase, make_bundle, replace_in,
                         wait_until)

SUCCESS_PATH = ["fetch_revision", "launch_green", "install", "health_gate", "allow_traffic",
                "block_traffic", "keep_blue", "terminate_blue"]


class CrashResumeTest(ReliabilityTestCase):
    def crash_during_version_2(self, phase, bundle_edit=None, **overrides):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual((code, first["status"]), (0, "succeeded"), first)
        self.restart(BLUEGREEN_TEST_CRASH_AT=phase)
        self.assert_serves(1)

        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        deploy = subprocess.run(
            [BINARY, "deploy", "--params",
             self.params(make_bundle(2, self.tmp, bundle_edit), **overrides)],
            capture_output=True, text=True, timeout=300, env=env)
        self.assertNotEqual(deploy.returncode, 0, "the deploy command saw its server die")
        self.server.process.wait(timeout=60)
        self.assertEqual(self.server.process.returncode, -signal.SIGKILL,
                         f"the server was not killed at {phase}\n{self.server.log()[-3000:]}")

        self.restart()
        with RequestLoop(f"http://{self.listen}/", minimum=200) as loop:
            history = self.wait_all_ended()
        self.assertEqual(loop.failures, [], f"requests failed while the server was up ({phase})")
        return first, history

    def assert_definite(self, phase, first, history):
        self.assertEqual(len(history), 2, history)
        second = history[0]
        self.assertNotEqual(second["deploymentId"], first["deploymentId"])
        self.assertIn(second["status"], ("succeeded", "failed"), second)
        self.assertTrue(all(p["outcome"] != "running" for p in second["phases"]), second)
        if second["status"] == "succeeded":
            self.assert_serves(2)
        else:
            self.assert_serves(1)
            self.assertIn("restart", second["error"])
        self.assert_only_serving_fleet_lives()

        # Nothing holds the group: the next deployment goes through.
        code, third, done = self.deploy(self.params(make_bundle(3, self.tmp)))
        self.assertEqual((code, third["status"]), (0, "succeeded"), done.stderr)
        self.assert_serves(3)
        self.assert_only_serving_fleet_lives()

    def test_killed_at_each_phase_of_a_successful_deployment(self):
        for phase in SUCCESS_PATH:
            with self.subTest(phase=phase):
                first, history = self.crash_during_version_2(phase)
                self.assert_definite(phase, first, history)
                self.reset_world()

    def test_killed_while_cleaning_up_a_failed_deployment(self):
        def break_validation(path):
            replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
                       "set -uo pipefail\nexit 1")
        first, history = self.crash_during_version_2("clean_up", break_validation)
        self.assertEqual(history[0]["status"], "failed", history[0])
        self.assert_serves(1)
        self.assert_only_serving_fleet_lives()

    def test_killed_while_rolling_back_after_the_switch(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        self.restart(BLUEGREEN_TEST_CRASH_AT="roll_back")
        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        deploy = subprocess.Popen(
            [BINARY, "deploy", "--params",
             self.params(make_bundle(2, self.tmp), BLUE_TERMINATION_WAIT=120)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.addCleanup(deploy.kill)
        wait_until(lambda: self.service()[1].strip() == "hello from version 2", timeout=120)
        self.cli("rollback", "--group", "web", "--no-wait")
        self.server.process.wait(timeout=60)
        self.assertEqual(self.server.process.returncode, -signal.SIGKILL)
        deploy.wait(timeout=60)

        self.restart()
        with RequestLoop(f"http://{self.listen}/", minimum=200) as loop:
            history = self.wait_all_ended()
        self.assertEqual(loop.failures, [])
        self.assertEqual(history[0]["status"], "rolled_back", history[0])
        self.assert_serves(1)
        self.assert_only_serving_fleet_lives()

    def reset_world(self):
        """A fresh state directory and server for the next phase."""
        self._clean_up()
        self.setUp()


if __name__ == "__main__":
    unittest.main()
