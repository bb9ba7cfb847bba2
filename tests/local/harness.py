"""Helpers for the local integration tests: the real `bluegreen` binary, a server on free
ports in a temporary state directory, hello bundles, and a sweep that leaves no process behind.

Environment (set by CTest): BLUEGREEN_BINARY (the bluegreen executable) and
BLUEGREEN_SOURCE_DIR (the repository, for examples/hello).
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))

from waiting import wait_for  # noqa: E402

SOURCE_DIR = os.environ.get("BLUEGREEN_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY = os.environ.get("BLUEGREEN_BINARY", os.path.join(SOURCE_DIR, "build", "bin", "bluegreen"))
HELLO = os.path.join(SOURCE_DIR, "examples", "hello")

# Requests to loopback services never go through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body) of a GET; status 0 when no answer arrived."""
    try:
        with _opener.open(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
    except http.client.HTTPException as error:  # an answer cut short (IncompleteRead, …)
        return 0, f"answer cut short: {error!r}"


def environment_of(pid):
    """The environment of process `pid` as {name: value}; empty when it cannot be read."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            items = f.read().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in items if b"=" in item)


def processes_with(variable, predicate):
    """pids of processes whose environment has `variable` with a value `predicate` accepts."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        environment = environment_of(entry)
        if variable in environment and predicate(environment[variable]):
            found.append(int(entry))
    return found


def processes_named(token):
    """pids of live processes whose command line contains `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token in command and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def make_bundle(version, directory, edit=None):
    """A hello revision as a directory (LOCAL_PATH). `edit(path)` may change it first."""
    path = os.path.join(directory, f"hello-{version}")
    shutil.copytree(HELLO, path, ignore=shutil.ignore_patterns("make-bundle", "README.md"))
    with open(os.path.join(path, "app", "VERSION"), "w") as f:
        f.write(f"{version}\n")
    if edit:
        edit(path)
    return path


def replace_in(path, old, new):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise AssertionError(f"{old!r} not in {path}")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


class Server:
    """`bluegreen server` on a free admin port with its own state directory. `env`, when given,
    is the server's whole environment (otherwise it inherits this process's)."""

    def __init__(self, state_dir, env=None):
        self.state_dir = state_dir
        self.env = env
        self.process = None
        self.url = None
        self.log_path = os.path.join(state_dir, "..", "server.log")

    def start(self):
        if self.process and self.process.stdout:
            self.process.stdout.close()
        os.makedirs(self.state_dir, exist_ok=True)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [BINARY, "server", "--state-dir", self.state_dir, "--admin", "127.0.0.1:0",
                 *self.extra_args()],
                stdout=subprocess.PIPE, stderr=log, text=True, env=self.env,
                preexec_fn=self.before_exec())
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            raise AssertionError("bluegreen server did not start within 30 s")
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise AssertionError(f"unexpected first line from the server: {line!r}\n{self.log()}")
        self.url = match.group(1)
        return self

    def extra_args(self):
        """Arguments for the server after its state directory and admin address: none here."""
        return []

    def before_exec(self):
        """What the server's process runs before exec (a preexec_fn): nothing here."""
        return None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        if self.process and self.process.stdout:
            self.process.stdout.close()


def kill_namespace_holders(below):
    """SIGKILLs the PID-namespace holder of every instance below `below` (and with it every
    process of that instance). Each instance's `pid-namespace` file names its holders as
    `holder PID start STARTTIME …` lines; a pid whose start time differs is someone else's."""
    for directory, _, files in os.walk(below):
        if "pid-namespace" not in files:
            continue
        try:
            with open(os.path.join(directory, "pid-namespace")) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split()
            if len(words) < 4 or words[0] != "holder" or words[2] != "start":
                continue
            try:
                with open(f"/proc/{words[1]}/stat") as f:
                    start = f.read().rsplit(")", 1)[1].split()[19]
                if start == words[3]:
                    os.kill(int(words[1]), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass


class LocalTestCase(unittest.TestCase):
    """A temporary state directory and a server per test; everything is stopped afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-test-")
        self.server = Server(os.path.join(self.tmp, "state")).start()
        self.listen = f"127.0.0.1:{free_port()}"
        self.addCleanup(self._clean_up)

    def _clean_up(self):
        if self.server.process and self.server.process.poll() is None:
            self.cli("shutdown", timeout=120)
        self.server.kill()
        # Whatever a failed test left: every process of an instance below our state directory.
        for pid in processes_with("INSTANCE_ROOT", lambda root: root.startswith(self.tmp)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kill_namespace_holders(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def params(self, revision, **overrides):
        values = {"GROUP_ID": "web", "APP_NAME": "hello", "DEPLOYMENT_GROUP": "dev",
                  "TIMEOUT": "120", "LOCAL_PATH": revision, "LISTEN": self.listen,
                  "CAPACITY": "2", "HEALTH_CHECK_INTERVAL": "0.3", "DRAIN_TIMEOUT": "2",
                  "BLUE_TERMINATION_WAIT": "1",
                  # These tests check the shared-machine mode (PORT, INSTANCE_ROOT, processes
                  # seen from here); test_isolation.py checks ISOLATION=namespaces.
                  "ISOLATION": "none"}
        values.update({key: str(value) for key, value in overrides.items()})
        return json.dumps(values)

    def cli(self, *args, timeout=300, server=True):
        env = dict(os.environ)
        if server:
            env["BLUEGREEN_SERVER"] = self.server.url
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout,
                              env=env)

    def deploy(self, params, timeout=300):
        """Runs `bluegreen deploy`; returns (exit code, last stdout line as JSON, process)."""
        done = self.cli("deploy", "--params", params, timeout=timeout)
        lines = done.stdout.strip().splitlines()
        self.assertTrue(lines, f"deploy printed nothing\n{done.stderr}\n{self.server.log()}")
        return done.returncode, json.loads(lines[-1]), done

    def service(self, path="/"):
        return http_get(f"http://{self.listen}{path}")

    def assert_serves(self, version):
        status, body = self.service()
        self.assertEqual((status, body.strip()), (200, f"hello from version {version}"),
                         self.server.log()[-3000:])

    def assert_no_process_of(self, instance_ids):
        left = processes_with("BLUEGREEN_INSTANCE_ID", lambda value: value in instance_ids)
        self.assertEqual(left, [], f"processes of {instance_ids} are still alive")


class RequestLoop:
    """Calls the service in a loop on another thread until stopped and at least `minimum`
    requests were made (never more than `maximum`); records every failure."""

    def __init__(self, url, minimum=2000, maximum=50000):
        self.url, self.minimum, self.maximum = url, minimum, maximum
        self.count, self.failures, self.bodies = 0, [], set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=300)

    def _run(self):
        while self.count < self.maximum and (self.count < self.minimum or not self._stop.is_set()):
            status, body = http_get(self.url, timeout=10)
            self.count += 1
            if status != 200:
                self.failures.append((status, body[:200]))
            else:
                self.bodies.add(body.strip())


def wait_until(predicate, timeout=60, interval=0.1):
    """`wait_for` that fails the test when `predicate` never returned something true."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"not true within {timeout} s")
    return value
