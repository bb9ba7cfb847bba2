"""Shared helpers for the reliability tests: the local test harness (tests/local/harness.py)
plus a server started with extra environment (the crash hook) and views of its history."""

import json
import os
import re
import select
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "local"))

from harness import (BINARY, LocalTestCase, RequestLoop, Server,  # noqa: E402,F401
                     http_get, make_bundle, processes_with, replace_in, wait_until)

TERMINAL = {"succeeded", "failed", "rolled_back"}


class HookedServer(Server):
    """A `bluegreen server` whose environment can carry BLUEGREEN_TEST_CRASH_AT."""

    def __init__(self, state_dir, env=None):
        super().__init__(state_dir)
        self.env = env or {}

    def start(self):
        if self.process and self.process.stdout:
            self.process.stdout.close()
        os.makedirs(self.state_dir, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "BLUEGREEN_TEST_CRASH_AT"}
        env.update(self.env)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [BINARY, "server", "--state-dir", self.state_dir, "--admin", "127.0.0.1:0"],
                stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            raise AssertionError("bluegreen server did not start within 30 s")
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise AssertionError(f"unexpected first line from the server: {line!r}\n{self.log()}")
        self.url = match.group(1)
        return self


class ReliabilityTestCase(LocalTestCase):
    def restart(self, **env):
        """Kills the server (SIGKILL) if it runs, then starts it with `env` added."""
        self.server.kill()
        replacement = HookedServer(self.server.state_dir, env)
        replacement.log_path = self.server.log_path
        self.server = replacement.start()

    def history(self):
        done = self.cli("history", "--output", "json")
        self.assertEqual(done.returncode, 0, done.stderr)
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
        ids = set()
        for pid in roots:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    for item in f.read().split(b"\0"):
                        if item.startswith(b"BLUEGREEN_INSTANCE_ID="):
                            ids.add(item.split(b"=", 1)[1].decode())
            except OSError:
                pass
        return ids

    def assert_only_serving_fleet_lives(self):
        """Every process of an instance belongs to the fleet that serves: nothing orphaned."""
        [group] = self.groups()
        serving = {i["id"] for i in group["instances"]}
        self.assertTrue(serving, group)
        wait_until(lambda: self.live_instance_ids() <= serving, timeout=60)
        self.assertLessEqual(self.live_instance_ids(), serving)
