"""ISOLATION=namespaces: each local instance is a lightweight host (adapters/local/instance_host.h).

Each test tries to break one of the header's invariants with a bundle written the EC2 way
(absolute paths, a fixed port, `runas: ec2-user`, a daemon that double-forks): the machine is
read-only to hooks, two instances listen on the same port, a detached daemon dies with its
instance, `hostname` answers the instance id, a runas user unknown on this machine runs, and
nothing outside the instance's directory is written. Needs root (namespaces, veth pairs).
"""

import json
import os
import pwd
import textwrap
import unittest
import uuid

from harness import LocalTestCase, RequestLoop, processes_named, wait_until

APP = textwrap.dedent("""\
    import http.server, json, os, pwd, socket, sys

    VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"version": VERSION, "hostname": socket.gethostname(),
                               "user": pwd.getpwuid(os.getuid()).pw_name,
                               "home": os.environ.get("HOME", "")}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
    """)

APPSPEC = textwrap.dedent("""\
    version: 0.0
    os: linux
    files:
      - source: app
        destination: /home/ec2-user/app
    permissions:
      - object: /home/ec2-user/app
        owner: ec2-user
        group: ec2-user
    hooks:
      BeforeInstall:
        - location: scripts/before_install.sh
          timeout: 30
      ApplicationStart:
        - location: scripts/start.sh
          timeout: 30
          runas: ec2-user
      ValidateService:
        - location: scripts/validate.sh
          timeout: 30
          runas: ec2-user
      ApplicationStop:
        - location: scripts/stop.sh
          timeout: 30
          runas: ec2-user
    """)

# Written as for EC2: fixed paths and port, no variable of bluegreen's.
BEFORE_INSTALL = """#!/bin/bash
set -euo pipefail
mkdir -p /var/log/isolated-app
echo "before install of $DEPLOYMENT_ID ($LIFECYCLE_EVENT) on $(hostname)" >> /var/log/isolated-app/hooks.log
echo scratch > /tmp/isolated-app-scratch
"""

# The daemon double-forks and leaves its session; its command line carries the bundle's token.
START = """#!/bin/bash
set -euo pipefail
cd /home/ec2-user/app
( setsid python3 /home/ec2-user/app/server.py TOKEN </dev/null >>/tmp/app.log 2>&1 & echo $! > /tmp/app.pid ) &
exit 0
"""

VALIDATE = """#!/bin/bash
for _ in $(seq 1 100); do
  curl -fsS --max-time 2 http://localhost:8080/ && exit 0
  sleep 0.1
done
cat /tmp/app.log >&2
exit 1
"""

STOP = """#!/bin/bash
[ -f /tmp/app.pid ] && kill "$(cat /tmp/app.pid)" 2>/dev/null
exit 0
"""


def slot_of(address):
    """The /30 of 10.213.0.0/16 whose instance end is `address`."""
    third, fourth = (int(part) for part in address.split(".")[2:])
    return (third * 256 + fourth) // 4


def namespaces_possible():
    return os.geteuid() == 0


@unittest.skipUnless(namespaces_possible(), "ISOLATION=namespaces needs root here")
class IsolationTest(LocalTestCase):
    def make_bundle(self, version, before_install=BEFORE_INSTALL):
        self.token = getattr(self, "token", f"isolation-{uuid.uuid4().hex[:12]}")
        path = os.path.join(self.tmp, f"ec2-app-{version}")
        os.makedirs(os.path.join(path, "app"))
        os.makedirs(os.path.join(path, "scripts"))
        files = {"appspec.yml": APPSPEC, "app/server.py": APP, "app/VERSION": f"{version}\n",
                 "scripts/before_install.sh": before_install,
                 "scripts/start.sh": START.replace("TOKEN", self.token),
                 "scripts/validate.sh": VALIDATE, "scripts/stop.sh": STOP}
        for name, text in files.items():
            with open(os.path.join(path, name), "w") as f:
                f.write(text)
            if name.startswith("scripts/"):
                os.chmod(os.path.join(path, name), 0o755)
        return path

    def params(self, revision, **overrides):
        values = {"ISOLATION": "namespaces", "APP_PORT": "8080", "HEALTH_CHECK_PATH": "/"}
        values.update(overrides)
        return super().params(revision, **values)

    def answer(self):
        status, body = self.service()
        self.assertEqual(status, 200, f"{body}\n{self.server.log()[-3000:]}")
        return json.loads(body)

    def daemons(self):
        """pids of this bundle's daemons, however they detached, as this machine sees them."""
        return processes_named(self.token)

    def status_instances(self):
        done = self.cli("status", "--output", "json")
        self.assertEqual(done.returncode, 0, done.stderr)
        groups = json.loads(done.stdout)
        return [instance for group in groups["groups"] for instance in group["instances"]]

    def test_ec2_bundle_runs_unchanged_two_instances_on_one_port(self):
        self.assertRaises(KeyError, pwd.getpwnam, "ec2-user")  # unknown on this machine
        code, record, done = self.deploy(self.params(self.make_bundle("v1")))
        self.assertEqual(code, 0, done.stdout[-3000:] + done.stderr + self.server.log()[-3000:])
        ids = sorted(instance["id"] for instance in record["instances"])
        self.assertEqual(len(ids), 2)
        for instance in record["instances"]:
            self.assertEqual(instance["isolation"], "namespaces")
            self.assertEqual(instance["port"], 8080)
            self.assertTrue(instance["host"].startswith("10.213."), instance)
        self.assertNotEqual(record["instances"][0]["host"], record["instances"][1]["host"])
        # Both apps listen on 0.0.0.0:8080; each answers as ec2-user with its own hostname.
        hostnames = set()
        for _ in range(40):
            answer = self.answer()
            self.assertEqual((answer["version"], answer["user"], answer["home"]),
                             ("v1", "ec2-user", "/home/ec2-user"))
            hostnames.add(answer["hostname"])
        self.assertEqual(hostnames, set(ids))
        # The hooks got the agent's environment and wrote where EC2 would let them: into the
        # instance, never onto this machine.
        for instance_id in ids:
            root = os.path.join(self.tmp, "state", "instances", instance_id, "root")
            with open(os.path.join(root, "var", "log", "isolated-app", "hooks.log")) as f:
                line = f.read()
            self.assertIn(f"({'BeforeInstall'}) on {instance_id}", line)
            self.assertIn(record["deploymentId"], line)
            # permissions gave the files to the instance's ec2-user, an id no local account has.
            installed = os.stat(os.path.join(root, "home", "ec2-user", "app", "server.py"))
            self.assertGreaterEqual(installed.st_uid, 1913000000)
            self.assertRaises(KeyError, pwd.getpwuid, installed.st_uid)
        self.assertFalse(os.path.exists("/var/log/isolated-app"))
        self.assertFalse(os.path.exists("/tmp/isolated-app-scratch"))
        self.assertFalse(os.path.exists("/home/ec2-user"))
        self.assertFalse(os.path.exists("/tmp/app.pid"))
        # Status and its JSON say how each instance runs.
        instances = self.status_instances()
        self.assertEqual({i["id"]: i["isolation"] for i in instances},
                         {i: "namespaces" for i in ids})
        text = self.cli("status")
        self.assertIn("namespaces", text.stdout)

    def test_daemon_that_double_forks_dies_with_its_instance(self):
        code, record, done = self.deploy(self.params(self.make_bundle("v1")))
        self.assertEqual(code, 0, done.stdout[-3000:] + self.server.log()[-3000:])
        first = self.daemons()
        self.assertEqual(len(first), 2, "one daemon per instance")
        with RequestLoop(f"http://{self.listen}/", minimum=200) as loop:
            code, second, done = self.deploy(self.params(self.make_bundle("v2")))
        self.assertEqual(code, 0, done.stdout[-3000:] + self.server.log()[-3000:])
        self.assertEqual(loop.failures[:3], [], f"{len(loop.failures)} of {loop.count} failed\n"
                         f"{done.stdout[-6000:]}\n{self.server.log()[-3000:]}")
        self.assertEqual(self.answer()["version"], "v2")
        # The blue daemons (double-forked, own session) went with their instances.
        wait_until(lambda: not set(first) & set(self.daemons()), timeout=60)
        # Their veth pairs and /30s went too: the next launch may reuse them, never while they
        # run.
        addresses = os.listdir(os.path.join(self.tmp, "state", "addresses"))
        self.assertEqual(len(addresses), 2, addresses)
        blue_slots = {slot_of(instance["host"]) for instance in record["instances"]}
        self.assertFalse(blue_slots & {int(slot) for slot in addresses})
        wait_until(lambda: not any(os.path.exists(f"/sys/class/net/bg-{slot}")
                                   for slot in blue_slots), timeout=30)

    def test_hook_cannot_write_to_the_machine(self):
        for target in ("/usr/bluegreen-isolation-probe", "/etc/bluegreen-isolation-probe"):
            with self.subTest(target=target):
                bundle = self.make_bundle(f"w{len(target)}{target[1]}",
                                          f"#!/bin/bash\nset -e\ntouch {target}\n")
                code, record, done = self.deploy(self.params(bundle))
                self.assertNotEqual(code, 0)
                self.assertEqual(record["status"], "failed")
                self.assertIn("Read-only file system", record["error"])
                self.assertFalse(os.path.exists(target))

    def test_fixed_port_refused_without_namespaces(self):
        done = self.cli("deploy", "--params",
                        self.params(self.make_bundle("v1"), ISOLATION="none"))
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("APP_PORT 8080 needs ISOLATION=namespaces: with ISOLATION=none the 2 "
                      "instances share this machine's network and cannot all listen on port 8080",
                      done.stderr + done.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state", "instances")) and
                         os.listdir(os.path.join(self.tmp, "state", "instances")))

    def test_restart_readopts_namespaced_instances(self):
        code, record, done = self.deploy(self.params(self.make_bundle("v1")))
        self.assertEqual(code, 0, done.stdout[-3000:] + self.server.log()[-3000:])
        self.server.kill()
        self.server.start()
        self.assertEqual(self.answer()["version"], "v1")
        instances = self.status_instances()
        self.assertEqual(sorted((i["id"], i["host"], i["isolation"]) for i in instances),
                         sorted((i["id"], i["host"], "namespaces") for i in record["instances"]))
        code, second, done = self.deploy(self.params(self.make_bundle("v2")))
        self.assertEqual(code, 0, done.stdout[-3000:] + self.server.log()[-3000:])
        self.assertEqual(self.answer()["version"], "v2")
        old_hosts = {i["host"] for i in record["instances"]}
        self.assertFalse(old_hosts & {i["host"] for i in second["instances"]})


if __name__ == "__main__":
    unittest.main()
