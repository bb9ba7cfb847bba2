"""What the CLI prints, through the real binary: user-supplied text (a refused GROUP_ID, a
revision's path, hook output) never reaches the terminal with its control characters, and a
deploy whose server dies under it names the deployment it was following and says the server
was lost."""

import json
import os
import re
import signal
import subprocess
import unittest

from reliability import BINARY, ReliabilityTestCase, make_bundle, wait_until

HOSTILE = "web\x1b]0;pwned\x07\x1b[2J\x9b31m\r"
# Any C0 control but newline, DEL, or a C1 control (U+0080..U+009F).
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")


def append_line(path, line):
    with open(path, "a") as f:
        f.write(f"\n{line}\n")


class CliOutputTest(ReliabilityTestCase):
    def assert_no_raw_control(self, text, what):
        found = RAW_CONTROL.search(text)
        self.assertIsNone(found, f"{what} prints a raw control character: {text!r}")

    def test_control_characters_from_users_are_escaped_in_every_text_output(self):
        # A GROUP_ID with control characters is refused (a group is known by its printed name),
        # and the refusal prints the value escaped; nothing starts.
        code, result, done = self.deploy(self.params(make_bundle(1, self.tmp), GROUP_ID=HOSTILE))
        self.assertEqual(code, 2, done.stderr)
        self.assert_no_raw_control(done.stdout + done.stderr, "a refused deploy")
        self.assertIn("GROUP_ID \"web\\u001b]0;pwned", done.stderr)
        self.assertEqual(result["status"], "rejected")
        self.assertEqual(self.history(), [])
        # The revision's path is the user's too: it reaches every text output escaped.
        hostile_dir = os.path.join(self.tmp, "rev" + HOSTILE.removeprefix("web"))
        os.makedirs(hostile_dir)
        code, result, done = self.deploy(self.params(make_bundle(1, hostile_dir)))
        self.assertEqual(code, 0, done.stderr)
        self.assert_no_raw_control(done.stdout + done.stderr, "deploy")
        self.assertIn(hostile_dir, result["revision"], "the JSON line keeps the value itself")
        self.assertIn("\\u001b", done.stdout.splitlines()[-1])
        outputs = {"status": self.cli("status"), "history": self.cli("history"),
                   "logs": self.cli("logs", result["deploymentId"])}
        for name, run in outputs.items():
            with self.subTest(command=name):
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assert_no_raw_control(run.stdout + run.stderr, name)
        self.assertIn("rev\\e]0;pwned\\x07\\e[2J\\u009b31m\\r", outputs["history"].stdout)
        # A failing hook's output reaches the deployment's error and its log.
        failing = make_bundle(2, self.tmp, lambda path: append_line(
            os.path.join(path, "scripts", "before_install.sh"),
            r"printf 'hook says \033[31mred\033[0m and \a bell\n'; exit 1"))
        code, result, done = self.deploy(self.params(failing))
        self.assertEqual(code, 1, done.stderr)
        self.assert_no_raw_control(done.stdout + done.stderr, "a failed deploy")
        for args in (["history"], ["logs", result["deploymentId"]]):
            run = self.cli(*args)
            self.assert_no_raw_control(run.stdout + run.stderr, args[0])
            self.assertIn("hook says \\e[31mred", run.stdout)
        for name in ("status", "history"):
            done = self.cli(name, "--output", "json")
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assert_no_raw_control(done.stdout, name + " --output json")
        [group] = self.groups()
        self.assertIn(hostile_dir, group["serving"]["revision"])

    def test_a_deploy_that_loses_its_server_names_the_deployment_and_says_so(self):
        bundle = make_bundle(1, self.tmp, lambda path: append_line(
            os.path.join(path, "scripts", "before_install.sh"), "sleep 5"))
        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        deploy = subprocess.Popen([BINARY, "deploy", "--params", self.params(bundle)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        try:
            running = wait_until(lambda: [d for d in self.history() if d["status"] == "running"],
                                 timeout=60, interval=0.2)
            self.assertTrue(running, self.server.log()[-2000:])
            self.server.kill(signal.SIGKILL)
            out, err = deploy.communicate(timeout=120)
        finally:
            if deploy.poll() is None:
                deploy.kill()
                deploy.communicate()
        self.assertEqual(deploy.returncode, 3, err)
        last = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(last["deploymentId"], running[0]["deploymentId"], out)
        self.assertEqual(last["status"], "server_lost", out)
        self.assertIn("lost the server", last["error"]["message"])
        self.assertIn(running[0]["deploymentId"], err)


if __name__ == "__main__":
    unittest.main()
