"""One deployment per group at a time: a second one is refused with an error naming the
running one, or, with `deploy --wait`, starts once the running one ended. A group held by a
deployment whose server was killed is freed by the restart, without anyone's help."""

import os
import signal
import subprocess
import unittest

from reliability import BINARY, ReliabilityTestCase, make_bundle, replace_in, wait_until


def slow_validation(path):
    replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
               "set -uo pipefail\nsleep 4")


class OnePerGroupTest(ReliabilityTestCase):
    def start_in_background(self, params):
        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        process = subprocess.Popen([BINARY, "deploy", "--params", params], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process

    def running_id(self):
        running = [d for d in self.history() if d["status"] == "running"]
        return running[0]["deploymentId"] if running else None

    def test_a_second_deployment_is_refused_naming_the_running_one_or_waits(self):
        self.assertEqual(self.deploy(self.params(make_bundle(1, self.tmp)))[0], 0)
        second = self.start_in_background(self.params(make_bundle(2, self.tmp, slow_validation)))
        running = wait_until(self.running_id, timeout=60)

        code, refused, done = self.deploy(self.params(make_bundle(3, self.tmp)))
        self.assertEqual(code, 1, done.stderr)
        self.assertEqual(refused["status"], "rejected")
        self.assertIn(running, done.stderr)
        self.assertIn("running", done.stderr)
        self.assertIn(running, refused["error"]["message"])

        waited = self.cli("deploy", "--wait", "--params", self.params(make_bundle(4, self.tmp)))
        self.assertEqual(waited.returncode, 0, waited.stderr)
        self.assertEqual(second.wait(timeout=120), 0)
        self.assert_serves(4)
        statuses = [d["status"] for d in self.history()]
        self.assertEqual(statuses, ["succeeded", "succeeded", "succeeded"])

    def test_a_group_held_by_a_killed_server_is_freed_by_the_restart(self):
        self.assertEqual(self.deploy(self.params(make_bundle(1, self.tmp)))[0], 0)
        self.restart(BLUEGREEN_TEST_CRASH_AT="health_gate")
        self.start_in_background(self.params(make_bundle(2, self.tmp)))
        self.server.process.wait(timeout=120)
        self.assertEqual(self.server.process.returncode, -signal.SIGKILL)

        self.restart()
        done = self.cli("deploy", "--wait", "--params", self.params(make_bundle(3, self.tmp)))
        self.assertEqual(done.returncode, 0, done.stderr + self.server.log()[-2000:])
        self.assert_serves(3)
        history = self.history()
        self.assertEqual([d["status"] for d in history][0], "succeeded")
        self.assertTrue(all(d["status"] != "running" for d in history), history)
        self.assert_only_serving_fleet_lives()


if __name__ == "__main__":
    unittest.main()
