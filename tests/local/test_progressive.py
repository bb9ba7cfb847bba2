"""Progressive delivery through the real binary: TRAFFIC_STEPS moves a share of the requests
to green step by step, and MAX_ERROR_RATE / MAX_LATENCY_RATIO roll back to blue from what the
switch itself sees, with blue serving throughout and the figures in the closing JSON."""

import json
import os
import re
import subprocess
import threading

from harness import (BINARY, LocalTestCase, RequestLoop, http_get, make_bundle, replace_in,
                     wait_until)

ROOT_ANSWER = 'self.answer(200, f"hello from version {self.version}\\n")'


def failing_every_fifth(path):
    """Version edit: GET / answers 500 on one request in five (20%)."""
    server = os.path.join(path, "app", "server.py")
    replace_in(server, "HERE = pathlib", "import itertools\nCOUNTER = itertools.count()\nHERE = pathlib")
    replace_in(server, ROOT_ANSWER,
               'self.answer(500 if next(COUNTER) % 5 == 0 else 200, '
               'f"hello from version {self.version}\\n")')


def sleeping_200_ms(path):
    """Version edit: GET / sleeps 200 ms before it answers."""
    server = os.path.join(path, "app", "server.py")
    replace_in(server, "HERE = pathlib", "import time\nHERE = pathlib")
    replace_in(server, ROOT_ANSWER, "time.sleep(0.2) or " + ROOT_ANSWER)


def never_answering(path):
    """Version edit: GET / never answers (the request waits for an hour)."""
    server = os.path.join(path, "app", "server.py")
    replace_in(server, "HERE = pathlib", "import time\nHERE = pathlib")
    replace_in(server, ROOT_ANSWER, "time.sleep(3600)")


class Loops:
    """Several RequestLoops side by side, so that a slow green does not starve the window."""

    def __init__(self, url, count=3, minimum=50):
        self.loops = [RequestLoop(url, minimum=minimum) for _ in range(count)]

    def __enter__(self):
        for loop in self.loops:
            loop.__enter__()
        return self

    def __exit__(self, *exc):
        for loop in self.loops:
            loop.__exit__(*exc)

    @property
    def failures(self):
        return [f for loop in self.loops for f in loop.failures]

    @property
    def bodies(self):
        return set().union(*(loop.bodies for loop in self.loops))


class ProgressiveTest(LocalTestCase):
    def first_version(self):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, first)
        self.assert_serves(1)
        return first

    def status(self):
        done = self.cli("status", "--output", "json")
        return json.loads(done.stdout)["groups"][0] if done.returncode == 0 else {}

    def test_traffic_steps_move_a_share_at_a_time_and_end_on_green(self):
        first = self.first_version()
        seen = []  # green's percent in `status` while the deployment runs
        scraped = []  # and in /metrics
        stop = threading.Event()
        gauge = re.compile(r'^bluegreen_proxy_traffic_weight_percent\{[^}]*colour="green"[^}]*\} '
                           r'(\d+)', re.M)

        def watch_status():  # each look starts the CLI, which a loaded machine makes slow
            while not stop.is_set():
                for weight in self.status().get("weights", []):
                    if weight["colour"] == "green" and weight["percent"] not in seen:
                        seen.append(weight["percent"])
                stop.wait(0.1)

        def watch_metrics():
            while not stop.is_set():
                status, text = http_get(self.server.url + "/metrics")
                for value in gauge.findall(text) if status == 200 else []:
                    if int(value) not in scraped:
                        scraped.append(int(value))
                stop.wait(0.1)

        watchers = [threading.Thread(target=watch, daemon=True)
                    for watch in (watch_status, watch_metrics)]
        for watcher in watchers:
            watcher.start()
        try:
            with RequestLoop(f"http://{self.listen}/", minimum=200) as loop:
                code, second, done = self.deploy(self.params(
                    make_bundle(2, self.tmp), TRAFFIC_STEPS="10,50,100", STEP_WAIT="4"))
        finally:
            stop.set()
            for watcher in watchers:
                watcher.join(timeout=30)
        self.assertEqual(code, 0, done.stderr)
        self.assertEqual(second["status"], "succeeded")
        self.assertEqual(loop.failures, [], f"{len(loop.failures)} of {loop.count} failed")
        self.assertEqual(loop.bodies, {"hello from version 1", "hello from version 2"})
        self.assert_serves(2)
        # Each step showed in `status` as green's share, in order.
        self.assertEqual([p for p in seen if p in (10, 50)], [10, 50], seen)
        self.assertEqual([p for p in scraped if p in (10, 50)], [10, 50], scraped)
        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual(history[0]["deploymentId"], second["deploymentId"])
        self.assertEqual(history[1]["deploymentId"], first["deploymentId"])

    def green_percent(self):
        for weight in self.status().get("weights", []):
            if weight["colour"] == "green":
                return weight["percent"]
        return None

    def test_manual_promotion_moves_one_step_per_promote(self):
        self.first_version()
        deploy = subprocess.Popen(
            [BINARY, "--server", self.server.url, "deploy", "--params",
             self.params(make_bundle(2, self.tmp), PROMOTION="manual", TRAFFIC_STEPS="30,100")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: (self.status().get("running") or {}).get("phase")
                       == "await_promotion")
            self.assertEqual(self.cli("promote", "--group", "web").returncode, 0)
            wait_until(lambda: self.green_percent() == 30)
            bodies = {self.service()[1].strip() for _ in range(100)}
            self.assertEqual(bodies, {"hello from version 1", "hello from version 2"})
            self.assertEqual(self.green_percent(), 30)  # holds until the next promote
            self.assertEqual(self.cli("promote", "--group", "web").returncode, 0)
            out, err = deploy.communicate(timeout=120)
        finally:
            if deploy.poll() is None:
                deploy.kill()
                deploy.communicate()
        result = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(result["status"], "succeeded", err)
        self.assert_serves(2)

    def test_with_the_defaults_a_failing_green_rolls_back_during_the_first_step(self):
        """Besides the keys every deployment needs, only TRAFFIC_STEPS and MAX_ERROR_RATE are
        set: every poll, window, drain and wait is the one a user gets."""
        def defaults(revision, **keys):
            return json.dumps({"GROUP_ID": "web", "APP_NAME": "hello", "DEPLOYMENT_GROUP": "dev",
                               "TIMEOUT": "600", "LOCAL_PATH": revision, "LISTEN": self.listen,
                               **keys})

        code, first, done = self.deploy(defaults(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        with Loops(f"http://{self.listen}/") as loops:
            code, second, done = self.deploy(defaults(
                make_bundle(2, self.tmp, failing_every_fifth), TRAFFIC_STEPS="50,100",
                MAX_ERROR_RATE="5"))
        self.assertEqual(second["status"], "rolled_back", done.stderr)
        self.assertRegex(second["error"], r"^automatic rollback: green answered \d+ of \d+ "
                                          r"requests .*MAX_ERROR_RATE is 5%")
        for status, body in loops.failures:
            self.assertIn("version 2", body, (status, body))
        self.assert_serves(1)
        self.assertEqual(self.status()["routedFleet"], first["deploymentId"])
        self.assert_no_process_of([i["id"] for i in second["instances"]])

    def rolled_back_by(self, edit, **triggers):
        """Deploys version 2 (changed by `edit`) under load with `triggers`; returns the
        closing JSON, the loops and the first deployment, after checking that blue serves."""
        first = self.first_version()
        with Loops(f"http://{self.listen}/") as loops:
            code, second, done = self.deploy(self.params(
                make_bundle(2, self.tmp, edit), MIN_REQUESTS="20", ROLLBACK_WINDOW="10",
                **triggers))
        self.assertEqual(second["status"], "rolled_back", done.stderr)
        self.assertTrue(second["error"].startswith("automatic rollback: "), second["error"])
        # Blue served throughout: every answer that was not a 200 came from green, blue's
        # instances still run, and the service is version 1 again.
        for status, body in loops.failures:
            self.assertIn("version 2", body, (status, body))
        self.assertIn("hello from version 1", loops.bodies)
        self.assert_serves(1)
        self.assertEqual(self.status()["routedFleet"], first["deploymentId"])
        self.assertEqual([(w["fleetId"], w["percent"]) for w in self.status().get("weights")],
                         [(first["deploymentId"], 100)])
        self.assert_no_process_of([i["id"] for i in second["instances"]])
        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual(history[0]["status"], "rolled_back")
        self.assertEqual(history[0]["error"], second["error"])
        events = self.cli("logs", second["deploymentId"])
        if events.returncode == 0:
            self.assertIn("automatic rollback", events.stdout)
        return second

    def test_a_green_failing_one_request_in_five_rolls_back_during_a_step(self):
        second = self.rolled_back_by(failing_every_fifth, TRAFFIC_STEPS="50,100", STEP_WAIT="60",
                                     MAX_ERROR_RATE="5")
        found = re.search(r"green answered (\d+) of (\d+) requests \((\d+\.\d)%\) with a 5xx "
                          r"or a failure over the last [\d.]+ s; MAX_ERROR_RATE is 5%",
                          second["error"])
        self.assertIsNotNone(found, second["error"])
        failed, total, rate = int(found[1]), int(found[2]), float(found[3])
        self.assertAlmostEqual(rate, 100 * failed / total, delta=0.06)
        # One in five of the green's answers fail (health checks take their share of the
        # failing turns): what tripped is that rate, not a stray failure.
        self.assertGreaterEqual(failed, 2, second["error"])
        self.assertTrue(10 <= rate <= 50, second["error"])

    def test_a_green_200_ms_slower_rolls_back_during_a_step(self):
        second = self.rolled_back_by(sleeping_200_ms, TRAFFIC_STEPS="50,100", STEP_WAIT="60",
                                     MAX_LATENCY_RATIO="1.5")
        self.assertRegex(second["error"],
                         r"green's p99 latency \d+ ms is [\d.]+ times blue's \d+ ms over the last "
                         r"[\d.]+ s \(\d+ requests on green, \d+ on blue\); MAX_LATENCY_RATIO is 1.5")

    def test_a_green_failing_after_the_switch_rolls_back_during_keep_blue(self):
        second = self.rolled_back_by(failing_every_fifth, BLUE_TERMINATION_WAIT="60",
                                     MAX_ERROR_RATE="5")
        self.assertIn("MAX_ERROR_RATE is 5%", second["error"])
        phases = [p["phase"] for p in second["phases"]]
        self.assertIn("keep_blue", phases)
        self.assertEqual(phases[-1], "roll_back")

    def test_a_green_that_never_answers_rolls_back_during_a_step(self):
        """Green completes no request at all: what it keeps waiting on is what trips."""
        first = self.first_version()
        stop = threading.Event()
        answers = []

        def call():  # clients that give up after 2 s, as browsers and load balancers do
            while not stop.is_set():
                answers.append(http_get(f"http://{self.listen}/", timeout=2))

        callers = [threading.Thread(target=call, daemon=True) for _ in range(8)]
        for caller in callers:
            caller.start()
        try:
            code, second, done = self.deploy(self.params(
                make_bundle(2, self.tmp, never_answering), TRAFFIC_STEPS="50,100", STEP_WAIT="10",
                BLUE_TERMINATION_WAIT="10", MAX_LATENCY_RATIO="2", MIN_REQUESTS="5"))
        finally:
            stop.set()
            for caller in callers:
                caller.join(timeout=30)
        self.assertEqual(second["status"], "rolled_back", done.stderr)
        self.assertRegex(second["error"], r"^automatic rollback: green's p99 latency .* "
                                          r"MAX_LATENCY_RATIO is 2$")
        self.assertNotIn("keep_blue", [p["phase"] for p in second["phases"]])
        self.assertIn((200, "hello from version 1\n"), answers)
        self.assert_serves(1)
        self.assertEqual(self.status()["routedFleet"], first["deploymentId"])
