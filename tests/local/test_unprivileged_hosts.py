"""ISOLATION=namespaces on a server that is not root (adapters/local/instance_host.h): each
instance's holder also has its own user namespace, where the server's uid is root, and the
instance is reached through the sockets its holder creates in its network namespace and hands
the server, not through a veth pair (which needs root).

The server runs as nobody. Without a subordinate id range, root is an instance's only user: an
EC2 bundle (the double-forking daemon on port 80) goes version 1 → version 2 → rollback with
CAPACITY 2 under a request loop with no failure; a bundle written to break the invariants that
change for such a server finds that a hook cannot write the machine, sees only its instance's
processes, leaves none behind, and answers `hostname` with the instance id; a restarted server
reaches its instances again; a bundle that runs as ec2-user is refused, naming the way out.
With a range for nobody (added to /etc/subuid and /etc/subgid for the test, then put back), the
Python app runs as ec2-user through version 1 → 2 → rollback, and a machine account is refused.
Needs unprivileged user namespaces (skipped where the machine refuses them), newuidmap for the
second part, and root for the test itself (to run the server as nobody).
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
import unittest

from harness import BINARY, LocalTestCase, Server, free_port, wait_until
# The module, not its classes: unittest would run every test case this module names.
import test_ec2_bundles
from test_ec2_bundles import required_keys

NOBODY = 65534
# A local user of this machine other than the server's (no account needed).
OTHER_USER = 4242


def why_unprivileged_namespaces_are_missing():
    if os.geteuid() != 0:
        return "the test runs the server as nobody, which needs root"
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            "unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount",
                            "--net", "--uts", "--ipc", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"this machine refuses unprivileged user namespaces: {probe.stderr.strip()}"
    return None


MISSING = why_unprivileged_namespaces_are_missing()


def drop_to(user):
    os.setgroups([])
    os.setgid(user)
    os.setuid(user)


def drop_to_nobody():
    drop_to(NOBODY)


def build_bundle(name, version, directory):
    """test_ec2_bundles.build_bundle, owned by nobody: a server takes only its own user's."""
    archive = BUILD_BUNDLE(name, version, directory)
    os.chown(archive, NOBODY, NOBODY)
    return archive


BUILD_BUNDLE = test_ec2_bundles.build_bundle


class NobodyServer(Server):
    def before_exec(self):
        return drop_to_nobody


# Breaks the invariants a hook run as root could break: it writes to the machine, counts the
# processes it sees, starts a daemon that leaves its session, and reads its hostname. The app
# answers what the hooks found.
APP = textwrap.dedent("""\
    import http.server, json, os, socket
    HERE = os.path.dirname(os.path.abspath(__file__))
    def found():
        with open(os.path.join(HERE, "found.json")) as f:
            return json.load(f)
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass
        def do_GET(self):
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            body = json.dumps({"version": open(os.path.join(HERE, "VERSION")).read().strip(),
                               "hostname": socket.gethostname(), "uid": os.getuid(),
                               "pids": pids, "found": found()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
    """)

START = textwrap.dedent("""\
    #!/bin/bash
    set -u
    cd /opt/probe
    write_usr=$( (echo x > /usr/bluegreen-probe) 2>/dev/null && echo written || echo refused)
    write_etc=$( (echo x >> /etc/hostname) 2>/dev/null && echo written || echo refused)
    write_state=$( (touch "$STATE_DIR/intruder") 2>/dev/null && echo written || echo refused)
    # A setuid copy of id, owned by root here (the server's user on the machine), for another
    # local user to run from the instance's directory.
    cp /usr/bin/id setuid-id && chmod 4755 setuid-id
    # A daemon that leaves its session and its parent: it must still die with the instance.
    setsid bash -c 'exec -a probe-sleeper-@ID@ sleep 1000' < /dev/null > /dev/null 2>&1 &
    printf '{"usr": "%s", "etc": "%s", "state": "%s", "hostname": "%s", "id": "%s"}\\n' \\
      "$write_usr" "$write_etc" "$write_state" "$(hostname)" "$(id -u)" > found.json
    nohup python3 app.py > /var/log/probe.log 2>&1 &
    for _ in $(seq 1 50); do
      curl -fsS -o /dev/null http://localhost:8080/ && exit 0
      sleep 0.2
    done
    echo "the app did not answer" >&2
    exit 1
    """)

APPSPEC = textwrap.dedent("""\
    version: 0.0
    os: linux
    files:
      - source: app
        destination: /opt/probe
    hooks:
      ApplicationStart:
        - location: scripts/start.sh
          timeout: 60
    """)


@unittest.skipIf(MISSING, MISSING)
class UnprivilegedHostsTest(LocalTestCase):
    v1_v2_rollback = test_ec2_bundles.NamespacesTest.v1_v2_rollback
    processes_of = staticmethod(test_ec2_bundles.NamespacesTest.processes_of)
    body = test_ec2_bundles.Ec2BundleCase.body
    assert_every_instance_answers_as = (
        test_ec2_bundles.Ec2BundleCase.assert_every_instance_answers_as)
    deploy_keys = test_ec2_bundles.Ec2BundleCase.deploy_keys

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-test-")
        os.chmod(self.tmp, 0o755)
        os.mkdir(os.path.join(self.tmp, "state"), 0o700)
        os.chown(os.path.join(self.tmp, "state"), NOBODY, NOBODY)
        # Nothing of root's: nobody cannot read /root (programs root installed there included).
        env = {name: value for name, value in os.environ.items() if "/root" not in value}
        env.update({"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME": self.tmp})
        self.server = NobodyServer(os.path.join(self.tmp, "state"), env=env).start()
        self.listen = f"127.0.0.1:{free_port()}"
        self.addCleanup(self._clean_up)
        # NamespacesTest.v1_v2_rollback builds its bundles with the module's build_bundle.
        test_ec2_bundles.build_bundle = build_bundle
        self.addCleanup(setattr, test_ec2_bundles, "build_bundle", BUILD_BUNDLE)

    def cli(self, *args, timeout=300, server=True):
        """The CLI as nobody: it sends its requests only to a server of its own user."""
        env = dict(self.server.env, BLUEGREEN_SERVER=self.server.url)
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout,
                              env=env, preexec_fn=drop_to_nobody)

    def probe_bundle(self, version, marker):
        tree = os.path.join(self.tmp, f"probe-{version}")
        os.makedirs(os.path.join(tree, "app"))
        os.makedirs(os.path.join(tree, "scripts"))
        with open(os.path.join(tree, "appspec.yml"), "w") as f:
            f.write(APPSPEC)
        with open(os.path.join(tree, "app", "app.py"), "w") as f:
            f.write(APP)
        with open(os.path.join(tree, "app", "VERSION"), "w") as f:
            f.write(f"{version}\n")
        start = os.path.join(tree, "scripts", "start.sh")
        with open(start, "w") as f:
            f.write(START.replace("@ID@", marker).replace("$STATE_DIR", self.server.state_dir))
        os.chmod(start, 0o755)
        archive = f"{tree}.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            for entry in sorted(os.listdir(tree)):
                tar.add(os.path.join(tree, entry), arcname=entry)
        os.chown(archive, NOBODY, NOBODY)
        return archive

    def test_daemon_bundle_v1_v2_rollback_through_namespace_sockets(self):
        first, second = self.v1_v2_rollback("daemon", lambda v: f"greeter version {v}")
        for instance in first["instances"] + second["instances"]:
            self.assertTrue(instance["host"].startswith("channel:"), instance)
        status = self.cli("status", "--group", "daemon")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("namespace sockets", status.stdout)
        self.assertNotIn("10.213.", status.stdout)
        # The instances run as the server's user on this machine: nothing of theirs is root's.
        for pid in self.processes_of(first["instances"]):
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
            self.assertEqual(set(uids), {str(NOBODY)}, f"pid {pid}")

    def test_a_hook_is_contained_without_root(self):
        marker = f"m{os.getpid()}"
        keys = required_keys("probe", self.probe_bundle(1, marker), self.listen)
        keys.update({"CAPACITY": "2", "APP_PORT": "8080", "ISOLATION": "namespaces",
                     "BLUE_TERMINATION_WAIT": "0"})
        code, result, done = self.deploy_keys(keys)
        self.assertEqual((code, result["status"]), (0, "succeeded"),
                         f"{result}\n{done.stderr}\n{self.server.log()[-4000:]}")
        ids = {i["id"] for i in result["instances"]}
        seen = {}
        for _ in range(100):
            answer = json.loads(self.body())
            seen[answer["hostname"]] = answer
            if set(seen) == ids:
                break
        # Hostname: each instance answers its own id.
        self.assertEqual(set(seen), ids)
        for instance_id, answer in seen.items():
            found = answer["found"]
            self.assertEqual(found["hostname"], instance_id)
            # Root inside (the server's uid and its only id), yet the machine stays read-only,
            # and the server's state directory is out of sight.
            self.assertEqual((answer["uid"], found["id"]), (0, "0"))
            self.assertEqual((found["usr"], found["etc"], found["state"]),
                             ("refused", "refused", "refused"), found)
            # Only its own processes: the holder (1), the app, the daemon.
            self.assertEqual(answer["pids"][0], 1)
            self.assertLessEqual(len(answer["pids"]), 6, answer["pids"])
        self.assertFalse(os.path.exists("/usr/bluegreen-probe"))
        self.assertFalse(os.path.exists(os.path.join(self.server.state_dir, "intruder")))
        # Another local user reaches nothing the instance wrote: not the setuid program its
        # hook left (which would run as the server's user), not even by its path.
        for instance_id in ids:
            setuid = os.path.join(self.server.state_dir, "instances", instance_id, "root", "opt",
                                  "probe", "setuid-id")
            self.assertTrue(os.stat(setuid).st_mode & 0o4000, setuid)
            try:
                ran = subprocess.run([setuid, "-u"], capture_output=True, text=True,
                                     preexec_fn=lambda: drop_to(OTHER_USER))
            except PermissionError:
                continue
            self.fail(f"uid {OTHER_USER} ran {setuid} as uid {ran.stdout.strip()}")
        sleepers = lambda: [p for p in os.listdir("/proc") if p.isdigit() and
                            f"probe-sleeper-{marker}".encode() in _cmdline(p)]
        self.assertEqual(len(sleepers()), 2)
        # Dies with the instance: the detached daemon too, once the instances are gone.
        keys["LOCAL_PATH"] = self.probe_bundle(2, f"n{os.getpid()}")
        code, result, done = self.deploy_keys(keys)
        self.assertEqual((code, result["status"]), (0, "succeeded"), done.stderr)
        wait_until(lambda: not sleepers(), timeout=60)

    def test_a_restarted_server_reaches_its_instances_through_their_channels_again(self):
        keys = required_keys("probe", self.probe_bundle(1, f"r{os.getpid()}"), self.listen)
        keys.update({"CAPACITY": "2", "APP_PORT": "8080", "BLUE_TERMINATION_WAIT": "0"})
        code, first, done = self.deploy_keys(keys)
        self.assertEqual((code, first["status"]), (0, "succeeded"), done.stderr)
        self.server.kill()
        # A namespaced instance's directory opened to other users is closed again at the start.
        directories = [os.path.join(self.server.state_dir, "instances", i["id"])
                       for i in first["instances"]]
        for directory in directories:
            os.chmod(directory, 0o711)
        self.server.start()
        for directory in directories:
            self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700, directory)
        ids = {i["id"] for i in first["instances"]}
        seen = set()
        for _ in range(100):
            seen.add(json.loads(self.body())["hostname"])
            if seen == ids:
                break
        self.assertEqual(seen, ids)
        # Its holders were found again: the next deployment replaces them, and they end.
        keys["LOCAL_PATH"] = self.probe_bundle(2, f"s{os.getpid()}")
        code, second, done = self.deploy_keys(keys)
        self.assertEqual((code, second["status"]), (0, "succeeded"), done.stderr)
        self.assertEqual(json.loads(self.body())["version"], "2")
        wait_until(lambda: not self.processes_of(first["instances"]), timeout=60)

    def test_a_bundle_that_runs_as_another_user_is_refused_with_the_way_out(self):
        keys = required_keys("python-app", build_bundle("python-app", 1, self.tmp), self.listen)
        keys.update({"APP_PORT": "8080", "HEALTH_CHECK_PATH": "/health", "CAPACITY": "1"})
        code, result, done = self.deploy_keys(keys)
        self.assertNotEqual(result["status"], "succeeded", result)
        text = done.stdout + done.stderr
        self.assertIn("user ec2-user", text)
        self.assertIn(f"runs as nobody (uid {NOBODY}), not root", text)
        self.assertIn("give nobody a subordinate id range in /etc/subuid and /etc/subgid", text)
        self.assertIn("or run the server as root", text)


class SubordinateIds:
    """Gives nobody a subordinate id range in /etc/subuid and /etc/subgid for as long as it
    lasts, then puts the files back as they were."""

    FILES = ("/etc/subuid", "/etc/subgid")

    def __enter__(self):
        self.saved = {}
        for path in self.FILES:
            try:
                with open(path) as f:
                    self.saved[path] = f.read()
            except FileNotFoundError:
                self.saved[path] = None
            with open(path, "a") as f:
                f.write("nobody:3000000000:65536\n")
        return self

    def __exit__(self, *exc):
        for path, text in self.saved.items():
            if text is None:
                os.remove(path)
            else:
                with open(path, "w") as f:
                    f.write(text)


@unittest.skipIf(MISSING, MISSING)
@unittest.skipUnless(shutil.which("newuidmap") and shutil.which("newgidmap"),
                     "newuidmap is not installed (Debian package uidmap)")
class SubordinateIdsTest(UnprivilegedHostsTest):
    """With a subordinate id range for the server's user, the users an instance adds exist in
    its user namespace: `runas: ec2-user` works, as on EC2, without such an account here."""

    def setUp(self):
        ids = SubordinateIds().__enter__()
        self.addCleanup(ids.__exit__)
        super().setUp()

    # The other cases are the parent's; only these run here.
    test_daemon_bundle_v1_v2_rollback_through_namespace_sockets = None
    test_a_hook_is_contained_without_root = None
    test_a_restarted_server_reaches_its_instances_through_their_channels_again = None
    test_a_bundle_that_runs_as_another_user_is_refused_with_the_way_out = None

    def test_python_app_as_ec2_user_v1_v2_rollback(self):
        first, second = self.v1_v2_rollback("python-app", lambda v: f"python app version {v}",
                                            APP_PORT="8080", HEALTH_CHECK_PATH="/health")
        # What ec2-user wrote (its server.log) is not the server's to remove, yet terminated
        # instances leave nothing installed behind.
        for instance in second["instances"]:
            root = os.path.join(self.server.state_dir, "instances", instance["id"], "root")
            wait_until(lambda: not os.path.exists(root), timeout=30)
        self.assert_every_instance_answers_as(first["instances"], "ec2-user")
        # On this machine its processes run with ids of nobody's range, never root's.
        for pid in self.processes_of(first["instances"]):
            with open(f"/proc/{pid}/status") as f:
                uid = int(next(line for line in f if line.startswith("Uid:")).split()[1])
            self.assertIn(uid, {NOBODY} | set(range(3000000000, 3000065536)), f"pid {pid}")

    def test_a_machine_account_is_refused_naming_it(self):
        bundle = self.probe_bundle(1, f"d{os.getpid()}")
        # The same bundle, its hook run as daemon, an account of this machine.
        tree = os.path.join(self.tmp, "probe-1")
        with open(os.path.join(tree, "appspec.yml"), "a") as f:
            f.write("      runas: daemon\n")
        os.remove(bundle)
        with tarfile.open(bundle, "w:gz") as tar:
            for entry in sorted(os.listdir(tree)):
                tar.add(os.path.join(tree, entry), arcname=entry)
        os.chown(bundle, NOBODY, NOBODY)
        keys = required_keys("probe", bundle, self.listen)
        keys.update({"CAPACITY": "1", "APP_PORT": "8080"})
        code, result, done = self.deploy_keys(keys)
        self.assertNotEqual(result["status"], "succeeded", result)
        self.assertIn("user daemon (runas or permissions owner)", done.stderr)
        self.assertIn("daemon is an account of this machine", done.stderr)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


if __name__ == "__main__":
    unittest.main()
