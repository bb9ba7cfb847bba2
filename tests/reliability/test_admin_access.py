"""Who may use the admin address. The server runs as root (as scripts/demo starts it); another
local user (nobody, through setpriv) is refused on every route and changes nothing, unless the
operator grants it with --allow-user. Who started a deployment is the user the server saw
connect, never what a header claims."""

import json
import os
import subprocess
import time
import unittest
from urllib.parse import urlparse

from reliability import BINARY, NOBODY, ReliabilityTestCase, make_bundle, wait_until

ROUTES = [
    ("GET", "/api/health"), ("GET", "/api/status"), ("GET", "/api/deployments"),
    ("GET", "/api/deployments/{id}"), ("GET", "/api/deployments/{id}/logs"),
    ("GET", "/api/stream"), ("GET", "/api/stream?deployment={id}"), ("GET", "/metrics"),
    ("GET", "/"), ("GET", "/deployments/{id}"),
    ("POST", "/api/deployments"), ("POST", "/api/promote"), ("POST", "/api/rollback"),
    ("POST", "/api/shutdown"),
]

# Run as another user: holds `fillers` idle connections to the admin port so that the server
# accepts late, then connects, sends the whole request and closes at once, `attempts` times. By
# the time the server accepts it the client's socket is closed (FIN_WAIT2 or TIME_WAIT), which
# the kernel reports with uid 0.
CLOSED_CLIENT_RACE = r"""
import resource, socket, sys, time
port, request = int(sys.argv[1]), open(sys.argv[2], "rb").read()
fillers, attempts = int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, fillers + 64), hard))
for _ in range(attempts):
    held = []
    try:
        for _ in range(fillers):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            held.append(s)
    except OSError:
        pass
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(request)
    c.close()
    time.sleep(0.5)
    for s in held:
        s.close()
    time.sleep(0.5)
"""

# Run as another user: listens on a free loopback port (printed first), counts the bytes its
# clients send, and prints that count when its standard input closes.
SQUATTER = r"""
import select, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
received = 0
while True:
    ready, _, _ = select.select([s, sys.stdin], [], [], 60)
    if not ready or sys.stdin in ready:
        break
    c, _ = s.accept()
    c.settimeout(1)
    try:
        received += len(c.recv(65536))
    except OSError:
        pass
    c.close()
print(received, flush=True)
"""


def append_line(path, line):
    with open(path, "a") as f:
        f.write(f"\n{line}\n")


def curl(url, method="GET", body=None, headers=(), user=()):
    """(HTTP status, body) of one request made with curl, as `user` (a setpriv prefix)."""
    command = [*user, "curl", "-sS", "--noproxy", "*", "--max-time", "10", "-X", method,
               "-o", "-", "-w", "\n%{http_code}", url]
    for header in headers:
        command += ["-H", header]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", body]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    text, _, status = done.stdout.rpartition("\n")
    return int(status or 0), text


@unittest.skipUnless(os.geteuid() == 0, "the server must run as root to be tried by another user")
class AdminAccessTest(ReliabilityTestCase):
    def as_nobody(self, *args):
        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        return subprocess.run([*NOBODY, *args], capture_output=True, text=True, timeout=120,
                              env=env, cwd="/")

    def first_deployment(self):
        code, result, done = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        return result

    def test_another_local_user_is_refused_everywhere_and_changes_nothing(self):
        deployment_id = self.first_deployment()["deploymentId"]
        marker = os.path.join("/tmp", f"bluegreen-access-{os.getpid()}")
        evil = make_bundle(2, self.tmp, lambda path: append_line(
            os.path.join(path, "scripts", "before_install.sh"), f"touch {marker}"))
        os.chmod(self.tmp, 0o755)  # nobody could name the bundle; only the server reads it
        before = self.history()
        body = {"POST /api/deployments": self.params(evil),
                "POST /api/promote": json.dumps({"group": "web"}),
                "POST /api/rollback": json.dumps({"deploymentId": deployment_id}),
                "POST /api/shutdown": "{}"}
        for method, path in ROUTES:
            route = f"{method} {path}"
            with self.subTest(route=route):
                status, answer = curl(self.server.url + path.format(id=deployment_id), method,
                                      body.get(f"{method} {path}"), user=NOBODY)
                self.assertEqual(status, 403, f"{route}: {answer[:300]}")
                self.assertIn("--allow-user nobody", answer)
                self.assertNotIn(deployment_id, answer)
        # The CLI as nobody gets the same refusal, with the way to be let in.
        done = self.as_nobody(BINARY, "status")
        self.assertEqual(done.returncode, 3, done.stdout)
        self.assertIn("--allow-user nobody", done.stderr)
        # Nothing changed: the same history, the server serves, the hook never ran.
        self.assertEqual(self.server.process.poll(), None, "nobody shut the server down")
        self.assertEqual([(d["deploymentId"], d["status"]) for d in self.history()],
                         [(d["deploymentId"], d["status"]) for d in before])
        self.assert_serves(1)
        self.assertFalse(os.path.exists(marker), "nobody's hook ran")

    def test_a_client_that_closes_before_it_is_accepted_is_not_taken_for_root(self):
        self.first_deployment()
        marker = os.path.join("/tmp", f"bluegreen-race-{os.getpid()}")
        evil = make_bundle(2, self.tmp, lambda path: append_line(
            os.path.join(path, "scripts", "before_install.sh"), f"touch {marker}"))
        body = self.params(evil).encode()
        request = os.path.join(self.tmp, "request")
        with open(request, "wb") as f:
            f.write(b"POST /api/deployments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body))
        os.chmod(self.tmp, 0o755)
        before = self.history()
        done = subprocess.run([*NOBODY, "python3", "-c", CLOSED_CLIENT_RACE,
                               str(urlparse(self.server.url).port), request, "2000", "3"],
                              capture_output=True, text=True, timeout=120, cwd="/")
        self.assertEqual(done.returncode, 0, done.stderr)
        time.sleep(1)  # a request that got in would be a deployment by now
        self.assertEqual([d["deploymentId"] for d in self.history()],
                         [d["deploymentId"] for d in before], "nobody started a deployment")
        self.assertFalse(os.path.exists(marker), "nobody's hook ran")
        self.assertEqual(self.server.process.poll(), None)

    def squatter(self):
        """A listener of user nobody: (process, port). Closing its stdin makes it print the
        number of bytes it received and exit."""
        squatter = subprocess.Popen([*NOBODY, "python3", "-c", SQUATTER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, cwd="/")
        self.addCleanup(squatter.kill)
        return squatter, int(squatter.stdout.readline())

    def received(self, squatter):
        squatter.stdin.close()
        squatter.wait(timeout=30)
        return int(squatter.stdout.readline())

    def test_the_cli_sends_nothing_to_a_port_another_user_listens_on(self):
        squatter, port = self.squatter()
        env = dict(os.environ, BLUEGREEN_ADMIN_TOKEN="admin-token-for-the-real-server")
        done = subprocess.run(
            [BINARY, "--server", f"http://127.0.0.1:{port}", "deploy", "--params",
             self.params(make_bundle(1, self.tmp))],
            capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(done.returncode, 3, done.stdout + done.stderr)
        self.assertIn(f"127.0.0.1:{port} is served by a process of user nobody (uid 65534), not "
                      "by you or root: refusing to send it your request; is a bluegreen server "
                      "running?", done.stderr)
        self.assertEqual(self.received(squatter), 0)
        # A user named in BLUEGREEN_SERVER_USER is trusted: the request reaches the port.
        squatter, port = self.squatter()
        subprocess.run([BINARY, "--server", f"http://127.0.0.1:{port}", "status"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, BLUEGREEN_SERVER_USER="nobody"))
        self.assertGreater(self.received(squatter), 0)

    def test_a_granted_user_gets_in_and_is_named_whatever_it_claims(self):
        self.restart_with(["--allow-user", "nobody"])
        os.chmod(self.tmp, 0o755)
        bundle = make_bundle(1, self.tmp)
        status, answer = curl(self.server.url + "/api/deployments", "POST", self.params(bundle),
                              headers=["X-Bluegreen-Started-By: root"], user=NOBODY)
        self.assertEqual(status, 202, answer)
        record = json.loads(answer)
        self.assertEqual(record["startedBy"], "nobody")
        wait_until(lambda: self.history()[0]["status"] != "running", timeout=120, interval=0.3)
        self.assertEqual(self.history()[0]["status"], "succeeded", self.server.log()[-3000:])
        self.assertEqual(self.history()[0]["startedBy"], "nobody")
        done = self.as_nobody(BINARY, "status", "--output", "json")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["groups"][0]["group"], "web")
        # The server's own user is unchanged by the grant, and a forged name is ignored for it
        # too.
        status, answer = curl(self.server.url + "/api/rollback", "POST",
                              json.dumps({"group": "nobody-has-no-such-group"}),
                              headers=["X-Bluegreen-Started-By: nobody"])
        self.assertEqual(status, 404, answer)

    def test_the_server_user_keeps_its_commands_and_cannot_be_impersonated(self):
        result = self.first_deployment()
        self.assertEqual(result["startedBy"], "root")
        status, answer = curl(self.server.url + "/api/deployments", "POST",
                              self.params(make_bundle(2, self.tmp)),
                              headers=["X-Bluegreen-Started-By: mallory"])
        self.assertEqual(status, 202, answer)
        self.assertEqual(json.loads(answer)["startedBy"], "root")
        self.wait_all_ended()
        done = self.cli("history")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("mallory", done.stdout + json.dumps(self.history()))


if __name__ == "__main__":
    unittest.main()
