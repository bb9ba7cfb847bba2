"""Every process a hook starts dies with its instance: daemons that clear the instance's marker
from their environment, start their own session, fork twice and rename themselves are gone
after the clean-up of a failed deployment, after blue is terminated, and after a server
restart followed by termination."""

import os
import random
import signal
import unittest

from harness import LocalTestCase, make_bundle, processes_named, replace_in, wait_for


class ContainmentTest(LocalTestCase):
    def setUp(self):
        super().setUp()
        self.token = f"{random.randrange(10**8, 10**9)}"
        self.started = os.path.join(self.tmp, "daemons-started")
        self.addCleanup(self._kill_escapees)

    def _kill_escapees(self):
        for pid in processes_named(self.token):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def escaping_bundle(self, version, fail_validation=False):
        """hello whose ApplicationStart also leaves two daemons that escape every marker: the
        one from the report (`env -u BLUEGREEN_INSTANCE_ID setsid sleep 3000 &`) and a double
        fork with an empty environment that renames itself. Each notes that it started."""
        def edit(path):
            replace_in(os.path.join(path, "scripts", "start.sh"), "cd \"$app\"\n",
                       "cd \"$app\"\n"
                       f"echo setsid >> {self.started}\n"
                       f"env -u BLUEGREEN_INSTANCE_ID setsid sleep 3000.{self.token} &\n"
                       f"( env -i setsid /bin/bash -c 'echo renamed >> {self.started}; "
                       f"exec -a bg-daemon-{self.token} sleep 3000' "
                       "</dev/null >/dev/null 2>&1 & )\n")
            if fail_validation:
                replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
                           "set -uo pipefail\necho 'this version refuses to validate' >&2\n"
                           "exit 1")
        return make_bundle(version, self.tmp, edit)

    def daemons_started(self):
        try:
            with open(self.started) as f:
                return len(f.read().split())
        except OSError:
            return 0

    def assert_daemons_gone(self):
        # Termination has finished when the CLI returns; a short bounded wait only absorbs the
        # kernel's reaping.
        wait_for(lambda: not processes_named(self.token), 10, 0.1)
        self.assertEqual(processes_named(self.token), [], "the hooks' daemons are still alive")

    def test_daemons_of_a_failed_deployment_die_in_its_clean_up(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        code, result, done = self.deploy(self.params(self.escaping_bundle(2,
                                                                          fail_validation=True)))
        self.assertEqual((code, result["status"]), (1, "failed"), done.stdout + done.stderr)
        # The first instance to fail stops the other, maybe before its daemons started.
        self.assertGreaterEqual(self.daemons_started(), 2, "the daemons of one instance at least")
        self.assert_daemons_gone()
        self.assert_serves(1)

    def test_daemons_of_blue_die_when_blue_is_terminated(self):
        code, first, _ = self.deploy(self.params(self.escaping_bundle(1)))
        self.assertEqual(code, 0, first)
        self.assertEqual(len(processes_named(self.token)), 4, "the daemons run with blue")
        code, second, _ = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertEqual(code, 0, second)
        self.assert_daemons_gone()
        self.assert_serves(2)

    def test_daemons_are_found_again_after_a_server_restart(self):
        code, first, _ = self.deploy(self.params(self.escaping_bundle(1)))
        self.assertEqual(code, 0, first)
        self.server.kill(signal.SIGKILL)
        self.server.start()
        self.assertEqual(len(processes_named(self.token)), 4,
                         "a restart leaves the serving instances' processes alone")
        self.assert_serves(1)
        code, second, _ = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertEqual(code, 0, second)
        self.assert_daemons_gone()
        self.assert_serves(2)


def peak_memory_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class HookOutputTest(LocalTestCase):
    def test_a_hook_printing_a_hundred_megabytes_keeps_one_mebibyte_and_says_so(self):
        def loud(path):
            replace_in(os.path.join(path, "scripts", "before_install.sh"), "set -euo pipefail",
                       "set -euo pipefail\nhead -c 100000000 /dev/zero | tr '\\0' x\n"
                       "echo\necho 'the last words'\nexit 1")
        memory_before = peak_memory_kib(self.server.process.pid)
        code, result, done = self.deploy(self.params(make_bundle(1, self.tmp, loud)))
        self.assertEqual((code, result["status"]), (1, "failed"), done.stdout + done.stderr)
        note = "[\u2026 94.4 MiB of earlier output dropped]"
        self.assertIn(note, result["error"])
        self.assertIn("the last words", result["error"])
        notes = []
        for instance in result["instances"]:
            # The other instance may have been stopped early by the first one's failure.
            log = os.path.join(self.server.state_dir, "instances", instance["id"], "logs",
                               "BeforeInstall-1.log")
            if not os.path.exists(log):
                continue
            with open(log, "rb") as f:
                first_line = f.readline().decode()
            if first_line.startswith("[\u2026 "):
                notes.append(first_line)
            self.assertLessEqual(os.path.getsize(log), 1024 * 1024 + len(first_line.encode()))
        self.assertIn(note + "\n", notes)
        growth = peak_memory_kib(self.server.process.pid) - memory_before
        self.assertLess(growth, 64 * 1024, "KiB of server memory added by 100 MB of output")


if __name__ == "__main__":
    unittest.main()
