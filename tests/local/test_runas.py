"""Hooks with `runas` through the real server: a bundle whose BeforeInstall and
ApplicationStart run as nobody deploys and serves, while nobody cannot read the server's state
(journal, bundles, the state directory's listing) nor another instance's hook output. No hook,
whatever its user, finds the server's environment in its PID namespace's first process."""

import os
import pwd
import subprocess
import unittest
import uuid

from harness import LocalTestCase, make_bundle, replace_in

NOBODY = pwd.getpwnam("nobody")
PLANTED = {name: f"planted{name.lower()}{uuid.uuid4().hex}"
           for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN")}

APPSPEC = """version: 0.0
os: linux
files:
  - source: app
    destination: /opt/hello
permissions:
  - object: /opt/hello
    pattern: "server.py"
    mode: 755
    type:
      - file
hooks:
  BeforeInstall:
    - location: scripts/before_install.sh
      timeout: 60
    - location: scripts/as_nobody.sh
      timeout: 60
      runas: nobody
  AfterInstall:
    - location: scripts/after_install.sh
      timeout: 60
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
      runas: nobody
  ValidateService:
    - location: scripts/validate.sh
      timeout: 60
  ApplicationStop:
    - location: scripts/stop.sh
      timeout: 60
"""


def runas_bundle(version, directory):
    """hello with BeforeInstall's second script and ApplicationStart run as nobody. The root
    BeforeInstall hands the run and log directories to nobody and copies /proc/1/environ;
    nobody's records `id -u` and tries the same."""
    def edit(path):
        with open(os.path.join(path, "appspec.yml"), "w") as f:
            f.write(APPSPEC)
        replace_in(os.path.join(path, "scripts", "before_install.sh"),
                   "mkdir -p \"${INSTANCE_ROOT:-}/var/run/hello\" \"${INSTANCE_ROOT:-}/var/log/hello\"\n",
                   "mkdir -p \"${INSTANCE_ROOT:-}/var/run/hello\" \"${INSTANCE_ROOT:-}/var/log/hello\"\n"
                   "chown nobody \"$INSTANCE_ROOT/var/run/hello\" \"$INSTANCE_ROOT/var/log/hello\"\n"
                   "tr '\\0' '\\n' < /proc/1/environ > \"$INSTANCE_ROOT/var/run/hello/environ-root\"\n")
        script = os.path.join(path, "scripts", "as_nobody.sh")
        with open(script, "w") as f:
            f.write("#!/bin/bash\n"
                    "set -uo pipefail\n"
                    "id -u > \"$INSTANCE_ROOT/var/run/hello/uid\"\n"
                    "tr '\\0' '\\n' < /proc/1/environ > \"$INSTANCE_ROOT/var/run/hello/environ-nobody\" "
                    "2>/dev/null\n"
                    "exit 0\n")
        os.chmod(script, 0o755)
    return make_bundle(version, directory, edit)


def as_nobody(*argv):
    """Runs argv as nobody (no supplementary groups); returns the CompletedProcess."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30,
                          user=NOBODY.pw_uid, group=NOBODY.pw_gid, extra_groups=[])


class RunasTest(LocalTestCase):
    def setUp(self):
        saved = {name: os.environ.get(name) for name in PLANTED}
        os.environ.update(PLANTED)
        try:
            super().setUp()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        # nobody must reach the state directory, as it would reach /opt/codedeploy-agent.
        os.chmod(self.tmp, 0o711)

    def instance_dirs(self):
        instances = os.path.join(self.server.state_dir, "instances")
        return [os.path.join(instances, name) for name in sorted(os.listdir(instances))]

    def read(self, path):
        with open(path, errors="replace") as f:
            return f.read()

    def assert_no_planted_secret(self, text, where):
        for name, value in PLANTED.items():
            self.assertNotIn(value, text, f"{name} of the server's environment is in {where}")

    def test_runas_nobody_hooks_deploy_and_serve_without_reaching_the_servers_state(self):
        code, result, done = self.deploy(self.params(runas_bundle(1, self.tmp)))
        self.assertEqual(code, 0, f"{result}\n{done.stderr}\n{self.server.log()[-3000:]}")
        self.assertEqual(result["status"], "succeeded", result)
        self.assert_serves(1)

        dirs = self.instance_dirs()
        self.assertEqual(len(dirs), 2)
        for directory in dirs:
            run = os.path.join(directory, "root", "var", "run", "hello")
            self.assertEqual(self.read(os.path.join(run, "uid")).strip(), str(NOBODY.pw_uid))
            # The service ApplicationStart started runs as nobody.
            servers = [pid for pid in os.listdir("/proc") if pid.isdigit()
                       and directory in self._cmdline(pid) and "server.py" in self._cmdline(pid)]
            self.assertTrue(servers, f"no service of {directory} runs")
            for pid in servers:
                self.assertEqual(os.stat(f"/proc/{pid}").st_uid, NOBODY.pw_uid)

        state = self.server.state_dir
        first, second = dirs
        refused = {
            "journal.db": ["cat", os.path.join(state, "journal.db")],
            "the state directory's listing": ["ls", state],
            "the bundles": ["ls", os.path.join(state, "bundles")],
            "the instances' listing": ["ls", os.path.join(state, "instances")],
            "an instance's listing": ["ls", first],
            "another instance's logs": ["ls", os.path.join(second, "logs")],
            "another instance's hook log":
                ["cat", os.path.join(second, "logs", "BeforeInstall-1.log")],
            "another instance's record": ["cat", os.path.join(second, "instance.json")],
        }
        for what, argv in refused.items():
            self.assertTrue(os.path.exists(argv[-1]), argv[-1])
            attempt = as_nobody(*argv)
            self.assertNotEqual(attempt.returncode, 0, f"nobody can read {what}: {attempt.stdout}")
        # What its hooks run from stays readable.
        attempt = as_nobody("cat", os.path.join(second, "deployment-archive", "appspec.yml"))
        self.assertEqual(attempt.returncode, 0, attempt.stderr)

    def test_no_hook_finds_the_servers_environment_in_its_namespace(self):
        code, result, done = self.deploy(self.params(runas_bundle(1, self.tmp)))
        self.assertEqual(code, 0, f"{result}\n{done.stderr}\n{self.server.log()[-3000:]}")
        checked = 0
        for directory in self.instance_dirs():
            record = os.path.join(directory, "pid-namespace")
            if not os.path.exists(record):
                self.skipTest("this machine gives instances no PID namespace")
            run = os.path.join(directory, "root", "var", "run", "hello")
            seen_by_root = self.read(os.path.join(run, "environ-root"))
            self.assert_no_planted_secret(seen_by_root, "/proc/1/environ seen by a root hook")
            nobody_copy = os.path.join(run, "environ-nobody")
            if os.path.exists(nobody_copy):
                self.assert_no_planted_secret(self.read(nobody_copy),
                                              "/proc/1/environ seen by a runas hook")
            holder = int(self.read(record).split()[1])
            with open(f"/proc/{holder}/environ", "rb") as f:
                outside = f.read().decode(errors="replace")
            self.assert_no_planted_secret(outside, f"/proc/{holder}/environ (the holder)")
            checked += 1
        self.assertEqual(checked, 2)

    @staticmethod
    def _cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""


if __name__ == "__main__":
    unittest.main()
