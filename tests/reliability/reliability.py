"""Shared helpers for the reliability tests: the local test harness (tests/local/harness.py)
plus a server restarted with extra environment (the crash hook) and views of its history."""

import json
import os
import resource
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "local"))

from harness import (BINARY, LocalTestCase, RequestLoop, Server,  # noqa: E402,F401
                     environment_of, make_bundle, processes_with, replace_in, wait_until)

TERMINAL = {"succeeded", "failed", "rolled_back"}
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class ServerWith(Server):
    """`bluegreen server` with extra arguments and, when `nofile` is given, that limit (soft and
    hard) on its open files."""

    def __init__(self, state_dir, args=(), nofile=None, env=None):
        super().__init__(state_dir, env)
        self.args, self.nofile = list(args), nofile

    def _limit(self):
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def extra_args(self):
        return self.args

    def before_exec(self):
        return self._limit


class ReliabilityTestCase(LocalTestCase):
    def restart(self, **env):
        """Kills the server (SIGKILL) if it runs, then starts it with `env` added to this
        process's environment, less any BLUEGREEN_TEST_CRASH_AT that `env` does not set."""
        self.server.kill()
        environment = {k: v for k, v in os.environ.items() if k != "BLUEGREEN_TEST_CRASH_AT"}
        environment.update(env)
        replacement = Server(self.server.state_dir, environment)
        replacement.log_path = self.server.log_path
        self.server = replacement.start()

    def restart_with(self, args=(), nofile=None):
        """Stops the server (SIGKILL) and starts it again on the same state directory with
        `args` and the open-file limit `nofile`."""
        self.server.kill()
        replacement = ServerWith(self.server.state_dir, args, nofile)
        replacement.log_path = self.server.log_path
        self.server = replacement.start()

    def history(self):
        done = self.cli("history", "--output", "json")
        self.assertEqual(done.returncode, 0,
                         f"{done.stderr}\nserver exit status: {self.server.process.poll()}\n"
                         f"server log:\n{self.server.log()[-4000:]}")
        return json.loads(done.stdout)["deployments"]

    def groups(self):
        done = self.cli("status", "--output", "json")
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)["groups"]

    def wait_all_ended(self, timeout=180):
        return wait_until(lambda: all(d["status"] in TERMINAL for d in self.history()) and
                          self.history(), timeout=timeout, interval=0.3)

    def live_instance_ids(self):
        """BLUEGREEN_INSTANCE_ID of every live process of an instance of this test."""
        roots = processes_with("INSTANCE_ROOT", lambda root: root.startswith(self.tmp))
        ids = {environment_of(pid).get("BLUEGREEN_INSTANCE_ID") for pid in roots}
        return ids - {None}

    def assert_only_serving_fleet_lives(self):
        """Every process of an instance belongs to the fleet that serves: nothing orphaned."""
        [group] = self.groups()
        serving = {i["id"] for i in group["instances"]}
        self.assertTrue(serving, group)
        wait_until(lambda: self.live_instance_ids() <= serving, timeout=60)
        self.assertLessEqual(self.live_instance_ids(), serving)
