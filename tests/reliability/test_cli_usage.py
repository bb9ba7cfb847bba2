"""The CLI as a careful user meets it, through the real binary: Ctrl-C on deploy, deploy
--until serving, messages that name the cause and the cure, one JSON object per command with
--output json, what a terminal shows (tested through a pty), and the READMEs' promises."""

import http.server
import json
import os
import pty
import re
import select
import signal
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from reliability import (BINARY, ReliabilityTestCase, make_bundle, replace_in,  # noqa: F401
                         wait_until)
from harness import SOURCE_DIR, free_port, http_get

NOTHING_RUNNING = 4
INTERRUPTED = 130


def append_line(path, line):
    with open(path, "a") as f:
        f.write(f"\n{line}\n")


def slow_install(seconds):
    return lambda path: append_line(os.path.join(path, "scripts", "before_install.sh"),
                                    f"sleep {seconds}")


def run_in_pty(args, env, timeout=120):
    """Runs `args` with standard output (and error) on a pseudo-terminal; returns
    (exit code, everything written)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, env=env)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        process.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return process.returncode, b"".join(chunks).decode(errors="replace")


class NotBluegreen(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body>welcome to nginx</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


STARTING = {"kind": "unavailable", "code": "starting",
            "message": "the server is starting: it reads its journal back and resumes the "
                       "deployments it was running first; try again in a moment"}
DISK_FULL = {"kind": "unavailable", "message": "journal: database or disk is full"}


def starting_front(target, starting_answers, refusal):
    """A front for the server at `target` that answers its first `starting_answers` deploys
    with 503 and `refusal` (by default as a server still reading its journal back does), and
    passes everything else on."""
    state = {"left": starting_answers, "refused": 0}

    class Front(http.server.BaseHTTPRequestHandler):
        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.command == "POST" and self.path == "/api/deployments" and state["left"] > 0:
                state["left"] -= 1
                state["refused"] += 1
                self.answer(503, json.dumps({"error": refusal}).encode())
                return
            headers = {"Content-Type": "application/json"}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            request = urllib.request.Request(target + self.path, data=body, method=self.command,
                                             headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    self.answer(reply.status, reply.read())
            except urllib.error.HTTPError as refused:
                self.answer(refused.code, refused.read())

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = relay

        def log_message(self, *args):
            pass

    front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    return front, state


class CliUsageTest(ReliabilityTestCase):
    def env(self):
        return dict(os.environ, BLUEGREEN_SERVER=self.server.url)

    def start_deploy(self, params, *extra):
        return subprocess.Popen([BINARY, "deploy", "--params", params, *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())

    def wait_running(self, phase=None):
        def running():
            found = [d for d in self.history() if d["status"] == "running"]
            return found if found and (phase is None or found[0].get("phase") == phase) else None
        return wait_until(running, timeout=60, interval=0.2)[0]

    def final(self, deployment_id, timeout=120):
        def ended():
            [d] = [d for d in self.history() if d["deploymentId"] == deployment_id]
            return d if d["status"] != "running" else None
        return wait_until(ended, timeout=timeout, interval=0.3)

    # 1. Ctrl-C on deploy.
    def test_ctrl_c_on_deploy_says_the_deployment_goes_on_and_how_to_follow_and_stop_it(self):
        deploy = self.start_deploy(self.params(make_bundle(1, self.tmp, slow_install(8))))
        running = self.wait_running()
        deploy.send_signal(signal.SIGINT)
        out, err = deploy.communicate(timeout=30)
        self.assertEqual(deploy.returncode, INTERRUPTED, err)
        d = running["deploymentId"]
        self.assertIn(f"deployment {d} goes on in the server", err)
        self.assertIn(f"bluegreen status --watch --deployment {d}", err)
        self.assertIn(f"bluegreen rollback --deployment {d}", err)
        last = json.loads(out.strip().splitlines()[-1])
        self.assertEqual((last["deploymentId"], last["interrupted"]), (d, "left_running"))
        # It did go on: it ends by itself and serves.
        self.assertEqual(self.final(d)["status"], "succeeded")
        self.assert_serves(1)

    def test_a_second_ctrl_c_within_seconds_asks_the_server_to_roll_back(self):
        deploy = self.start_deploy(self.params(make_bundle(1, self.tmp, slow_install(6))))
        running = self.wait_running()
        deploy.send_signal(signal.SIGINT)
        time.sleep(0.5)
        deploy.send_signal(signal.SIGINT)
        out, err = deploy.communicate(timeout=30)
        self.assertEqual(deploy.returncode, INTERRUPTED, err)
        d = running["deploymentId"]
        self.assertIn(f"asked the server to roll back deployment {d}", err)
        self.assertEqual(json.loads(out.strip().splitlines()[-1])["interrupted"],
                         "rollback_requested")
        self.assertIn(self.final(d)["status"], {"rolled_back", "failed"})

    # 2. deploy --until serving.
    def test_until_serving_returns_once_green_serves_and_blue_is_retired_later(self):
        code, _, done = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        done = self.cli("deploy", "--until", "serving", "--params",
                        self.params(make_bundle(2, self.tmp), BLUE_TERMINATION_WAIT="6",
                                    DRAIN_TIMEOUT="1"))
        self.assertEqual(done.returncode, 0, done.stderr)
        last = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertEqual(last["status"], "running", done.stdout)
        self.assertIn("blueRetiredBy", last)
        self.assertRegex(done.stdout, r"the server retires blue fleet d-\S+ (at|by) \S+ \(in ")
        self.assert_serves(2)
        # Blue's wait goes on in the server, which then retires blue.
        [row] = [d for d in self.history() if d["deploymentId"] == last["deploymentId"]]
        self.assertEqual(row["status"], "running")
        self.assertEqual(self.final(last["deploymentId"], timeout=60)["status"], "succeeded")
        [group] = self.groups()
        self.assertTrue(all(i["colour"] != "blue" for i in group["instances"]), group)

    # 6. Messages.
    def test_unknown_keys_get_a_did_you_mean(self):
        for key, meant in (("HEALTH_CHECK_INTERVALL", "HEALTH_CHECK_INTERVAL"),
                           ("timeout", "TIMEOUT")):
            params = json.loads(self.params("/nonexistent"))
            params[key] = "1"
            done = self.cli("deploy", "--params", json.dumps(params))
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn(f"unknown key {key}; did you mean {meant}?", done.stderr)

    def test_server_address_without_scheme_and_one_that_is_not_bluegreen(self):
        bare = self.server.url.removeprefix("http://")
        done = self.cli("--server", bare, "status")
        self.assertEqual(done.returncode, 0, done.stderr)
        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotBluegreen)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        self.addCleanup(other.server_close)
        self.addCleanup(other.shutdown)
        done = self.cli("status", "--server", f"127.0.0.1:{other.server_port}")
        self.assertEqual(done.returncode, 3, done.stderr)
        self.assertIn("is not a bluegreen server", done.stderr)

    def deploy_through_front(self, version, answers, refusal=STARTING):
        """Deploys `version` through a starting_front; returns the CLI's run and the front's
        count of refused deploys."""
        front, state = starting_front(self.server.url, answers, refusal)
        self.addCleanup(front.server_close)
        self.addCleanup(front.shutdown)
        done = subprocess.run(
            [BINARY, "deploy", "--params", self.params(make_bundle(version, self.tmp)),
             "--server", f"127.0.0.1:{front.server_port}"],
            capture_output=True, text=True, timeout=300, env=dict(os.environ))
        return done, state

    def test_a_deploy_to_a_server_that_is_still_starting_waits_for_it(self):
        done, state = self.deploy_through_front(1, answers=2)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(state["refused"], 2)
        self.assertEqual(done.stdout.count("waiting: the server is starting"), 1, done.stdout)
        self.assertEqual(json.loads(done.stdout.strip().splitlines()[-1])["status"], "succeeded")
        self.assert_serves(1)

        # Any other refusal of the server is reported at once, not waited on.
        done, state = self.deploy_through_front(2, answers=5, refusal=DISK_FULL)
        self.assertEqual(done.returncode, 3, done.stderr)
        self.assertEqual(state["refused"], 1)
        self.assertIn("database or disk is full", done.stderr)
        self.assert_serves(1)

    def test_nothing_to_roll_back_and_a_listen_held_by_another_group_and_status_of_one_group(self):
        done = self.cli("rollback", "--group", "web")
        self.assertEqual(done.returncode, NOTHING_RUNNING, done.stderr)
        self.assertIn("nothing to roll back", done.stderr)
        code, result, done = self.deploy(self.params(make_bundle(1, self.tmp), CAPACITY="1"))
        self.assertEqual(code, 0, done.stderr)
        done = self.cli("rollback", "--group", "web")
        self.assertEqual(done.returncode, NOTHING_RUNNING, done.stderr)
        self.assertIn("nothing to roll back", done.stderr)
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp), GROUP_ID="api",
                                                     CAPACITY="1"))
        self.assertEqual(code, 2, done.stderr)
        self.assertIn(f"LISTEN {self.listen} is taken: group web listens there",
                      result["error"]["message"])
        code, _, done = self.deploy(self.params(make_bundle(3, self.tmp), GROUP_ID="api",
                                                CAPACITY="1",
                                                LISTEN=f"127.0.0.1:{free_port()}"))
        self.assertEqual(code, 0, done.stderr)
        done = self.cli("status", "--group", "api")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("group api\n", done.stdout)
        self.assertNotIn("group web", done.stdout)
        done = self.cli("status", "--group", "api", "--output", "json")
        self.assertEqual([g["group"] for g in json.loads(done.stdout)["groups"]], ["api"])

    def test_in_a_pipe_await_promotion_prints_the_preview_address_and_the_promote_command(self):
        preview = f"127.0.0.1:{free_port()}"
        deploy = self.start_deploy(self.params(make_bundle(1, self.tmp), PROMOTION="manual",
                                               PREVIEW_LISTEN=preview, CAPACITY="1"))
        try:
            line = ""
            deadline = time.monotonic() + 60
            while "waits for promotion" not in line and time.monotonic() < deadline:
                line = deploy.stdout.readline()
                if not line:
                    break
            self.assertIn(f"green answers on http://{preview}", line)
            d = re.search(r"bluegreen promote --deployment (d-\S+?)`", line).group(1)
            self.assertEqual(http_get(f"http://{preview}/")[0], 200)
            done = self.cli("promote", "--deployment", d)
            self.assertEqual(done.returncode, 0, done.stderr)
            out, err = deploy.communicate(timeout=60)
        finally:
            if deploy.poll() is None:
                deploy.kill()
                deploy.communicate()
        self.assertEqual(deploy.returncode, 0, err)

    # 7. --output json everywhere.
    def test_every_command_writes_one_json_object_with_output_json_errors_included(self):
        def one_object(*args, code):
            done = self.cli(*args, "--output", "json")
            self.assertEqual(done.returncode, code, (args, done.stdout, done.stderr))
            value = json.loads(done.stdout)  # exactly one JSON document
            self.assertIsInstance(value, dict, args)
            return value
        self.assertIn("error", one_object("status", "--watch", code=NOTHING_RUNNING))
        self.assertIn("error", one_object("rollback", code=NOTHING_RUNNING))
        self.assertIn("error", one_object("rollback", "--group", "web", code=NOTHING_RUNNING))
        self.assertIn("error", one_object("promote", code=NOTHING_RUNNING))
        self.assertIn("error", one_object("logs", code=2))
        self.assertIn("error", one_object("logs", "d-000000000000", code=2))
        self.assertIn("error", one_object("history", "--limit", "many", code=2))
        rejected = one_object("deploy", "--params", '{"GROUP_ID": "web"}', code=2)
        self.assertEqual(rejected["status"], "rejected")
        self.assertIn("groups", one_object("status", code=0))
        self.assertIn("deployments", one_object("history", code=0))
        unreachable = self.cli("status", "--output", "json", "--server",
                               f"http://127.0.0.1:{free_port()}")
        self.assertEqual(unreachable.returncode, 3)
        self.assertEqual(json.loads(unreachable.stdout)["error"]["kind"], "unavailable")

    # 8. What a terminal shows.
    def test_a_terminal_gets_no_closing_json_line_and_a_pipe_or_output_json_does(self):
        code, text = run_in_pty([BINARY, "deploy", "--params",
                                 self.params(make_bundle(1, self.tmp), CAPACITY="1")], self.env())
        self.assertEqual(code, 0, text)
        self.assertIn("succeeded", text)
        self.assertNotIn('"deploymentId"', text)
        code, text = run_in_pty([BINARY, "deploy", "--output", "json", "--params",
                                 self.params(make_bundle(2, self.tmp), CAPACITY="1")], self.env())
        self.assertEqual(code, 0, text)
        self.assertIn('"deploymentId"', text)
        code, result, done = self.deploy(self.params(make_bundle(3, self.tmp), CAPACITY="1"))
        self.assertEqual((code, result["status"]), (0, "succeeded"), done.stderr)

    def test_a_multi_line_error_keeps_the_history_table_one_row_per_deployment(self):
        filler = "x" * 150
        lines = "; ".join(f"echo 'hook line {n} {filler}'" for n in range(8))
        failing = make_bundle(1, self.tmp, lambda path: append_line(
            os.path.join(path, "scripts", "before_install.sh"), f"{lines}; exit 1"))
        code, result, done = self.deploy(self.params(failing, CAPACITY="1"))
        self.assertEqual(code, 1, done.stderr)
        code, _, done = self.deploy(self.params(make_bundle(2, self.tmp), CAPACITY="1"))
        self.assertEqual(code, 0, done.stderr)
        table = self.cli("history").stdout.splitlines()
        rows = [line for line in table if re.match(r"d-[0-9a-f]+ ", line)]
        self.assertEqual(len(rows), 2, table)
        # Each row may be followed by its error (indented four spaces) and its cost line.
        for line in table[1:]:
            self.assertTrue(line in rows or line.startswith("    ") or line.startswith("  cost: "),
                            table)
            self.assertLessEqual(len(line), 120, line)
        self.assertTrue(any("hook line 0" in line for line in table), table)
        self.assertTrue(any(f"bluegreen logs {result['deploymentId']}" in line
                            for line in table), table)

    def test_each_commands_help_lists_server_and_output_and_only_its_own_examples(self):
        commands = ["deploy", "status", "history", "logs", "rollback", "promote", "shutdown"]
        for command in commands:
            with self.subTest(command=command):
                done = self.cli(command, "--help")
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn("--server", done.stdout)
                self.assertIn("--output", done.stdout)
                examples = re.findall(r"^\s+bluegreen (\w+)", done.stdout, re.M)
                self.assertTrue(examples, done.stdout)
                self.assertEqual(set(examples), {command}, done.stdout)
                self.assertIn("Exit codes:", done.stdout)

    # 10. The Lambda user's path in deploy/README.md.
    def test_the_readmes_name_the_blog_post_one_timeout_and_one_table_of_keys(self):
        def read(*path):
            with open(os.path.join(SOURCE_DIR, *path)) as f:
                return " ".join(f.read().split())
        deploy, main = read("deploy", "README.md"), read("README.md")
        self.assertIn('["Using CodePipeline for blue/green deployment and cloud cost optimization"]'
                      "(https://spot.io/blog/", deploy)
        self.assertIn("The handler is the field of the function's settings that names the code "
                      "Lambda runs", deploy)
        timeout = re.search(r"`TIMEOUT` is the seconds [^.]*\)\. Past it [^.]*\.", main)
        self.assertTrue(timeout, "README.md defines TIMEOUT in one sentence")
        self.assertIn(timeout.group(0), deploy)
        # The one table of keys: every key parse_spec accepts, each with the provider(s).
        with open(os.path.join(SOURCE_DIR, "src", "core", "spec.cpp")) as f:
            source = f.read()
        listed = source[source.index("spec_keys() {"):]
        keys = re.findall(r'"([A-Z_]+)"', listed[:listed.index("return keys")])
        self.assertGreater(len(keys), 15)
        with open(os.path.join(SOURCE_DIR, "README.md")) as f:
            lines = f.read().splitlines()
        providers = r"(all|(local|elastigroup|asg)(, (local|elastigroup|asg))*)"
        for key in keys:
            rows = [line for line in lines if line.startswith(f"| `{key}` |")]
            self.assertEqual(len(rows), 1, f"{key} has one row in README.md's table")
            self.assertRegex(rows[0], rf"\| {providers} \|$",
                             f"{key}'s row ends with the provider(s) honouring it")
        self.assertNotIn("| key | meaning |", deploy, "deploy/README.md has a second table")


if __name__ == "__main__":
    unittest.main()
