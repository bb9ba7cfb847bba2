"""ISOLATION=namespaces against a hostile bundle: each test deploys a bundle written the EC2 way
(test_isolation.py's) with one more hook, run as an instance user (`runas: ec2-user`), that
tries to reach past its instance, and asserts on what it found. Each attack names the invariant
of adapters/local/instance_host.h it tries to break. Needs root (namespaces, veth pairs).
"""

import ctypes
import json
import os
import socket
import subprocess
import tempfile
import textwrap
import unittest
import uuid
from unittest import mock

from harness import (BINARY, LocalTestCase, Server, free_port, http_get, kill_namespace_holders,
                     wait_until)
import test_isolation
from test_isolation import APPSPEC, namespaces_possible

IPC_CREAT, IPC_EXCL, IPC_RMID = 0o1000, 0o2000, 0
LIBC = ctypes.CDLL(None, use_errno=True)


# Paths each instance has of its own (src/adapters/local/instance_host.h): inside an
# instance, nothing of the machine's below them is seen.
INSTANCE_OWN_PATHS = ("/tmp", "/var/tmp", "/run", "/var/run", "/dev/shm", "/home", "/root",
                      "/var/log")


def machine_dir():
    """A directory of this machine that every instance sees (read-only): the build's, unless
    the checkout lies below a path each instance has of its own (a clone in /tmp), then
    /var/lib."""
    base = os.path.realpath(os.path.dirname(BINARY))
    if any(base == own or base.startswith(own + "/") for own in INSTANCE_OWN_PATHS):
        return "/var/lib"
    return base


def message_queue(key, flags=0):
    """The id of this IPC namespace's System V message queue `key`, or -1."""
    return LIBC.msgget(ctypes.c_int32(key), flags)


class AttackCase(LocalTestCase):
    def attack_params(self, attack, runas="ec2-user", destination="/home/ec2-user/app",
                      **overrides):
        """The EC2 bundle with `attack` as an AfterInstall hook of `runas`, its app installed at
        `destination`, and the parameters that deploy it."""
        before_install = "#!/bin/bash\nmkdir -p /var/log/attack\nchmod 0777 /var/log/attack\n"
        path = test_isolation.IsolationTest.make_bundle(self, uuid.uuid4().hex[:8], before_install)
        appspec = APPSPEC.replace("destination: /home/ec2-user/app",
                                  f"destination: {destination}").replace(
            "  ApplicationStart:", "  AfterInstall:\n    - location: scripts/attack.sh\n"
            f"      timeout: 60\n      runas: {runas}\n  ApplicationStart:")
        with open(os.path.join(path, "appspec.yml"), "w") as f:
            f.write(appspec)
        with open(os.path.join(path, "scripts", "attack.sh"), "w") as f:
            f.write("#!/bin/bash\nexec > /var/log/attack/result 2>&1\n" + attack)
        os.chmod(os.path.join(path, "scripts", "attack.sh"), 0o755)
        return self.params(path, ISOLATION="namespaces", APP_PORT="8080", HEALTH_CHECK_PATH="/",
                           **overrides)

    def deploy_attack(self, attack, runas="ec2-user", **overrides):
        """Deploys attack_params(); returns {instance id: what the attack wrote to
        /var/log/attack/result in that instance}."""
        code, record, done = self.deploy(self.attack_params(attack, runas, **overrides))
        self.assertEqual(code, 0, done.stdout[-3000:] + self.server.log()[-3000:])
        results = {}
        for instance in record["instances"]:
            result = os.path.join(self.tmp, "state", "instances", instance["id"], "root", "var",
                                  "log", "attack", "result")
            with open(result) as f:
                results[instance["id"]] = f.read()
        self.assertEqual(len(results), 2)
        return results


@unittest.skipUnless(namespaces_possible(), "ISOLATION=namespaces needs root here")
class IsolationAttackTest(AttackCase):
    def test_system_v_ipc_is_the_instances_own(self):
        # Invariant 3 (its own processes): a message queue, shared memory or semaphore of this
        # machine or of another instance is out of reach, and what an instance makes stays in it.
        machine_key, instance_key = (0x6267_0000 | (os.getpid() & 0xFFFF), 0x6267_F00D)
        machine_queue = message_queue(machine_key, IPC_CREAT | IPC_EXCL | 0o666)
        self.assertGreaterEqual(machine_queue, 0, os.strerror(ctypes.get_errno()))
        self.addCleanup(LIBC.msgctl, machine_queue, IPC_RMID, None)
        posix_name = f"/bluegreen-attack-{os.getpid()}".encode()
        posix_queue = LIBC.mq_open(posix_name, os.O_CREAT | os.O_RDWR, 0o666, None)
        self.assertGreaterEqual(posix_queue, 0, os.strerror(ctypes.get_errno()))
        self.addCleanup(LIBC.mq_unlink, posix_name)
        self.addCleanup(os.close, posix_queue)
        results = self.deploy_attack(textwrap.dedent(f"""\
            python3 - <<'PY'
            import ctypes
            libc = ctypes.CDLL(None)
            print("machine", libc.msgget(ctypes.c_int32({machine_key}), 0))
            print("posix", libc.mq_open({posix_name!r}, {os.O_RDWR}))
            print("own", libc.msgget(ctypes.c_int32({instance_key}), {IPC_CREAT | IPC_EXCL | 0o600}))
            PY
            """))
        leaked = message_queue(instance_key)
        if leaked >= 0:
            LIBC.msgctl(leaked, IPC_RMID, None)
        for instance_id, result in results.items():
            lines = dict(line.split() for line in result.splitlines() if len(line.split()) == 2)
            self.assertEqual(lines.get("machine"), "-1",
                             f"{instance_id} reached this machine's message queue\n{result}")
            self.assertEqual(lines.get("posix"), "-1",
                             f"{instance_id} opened this machine's POSIX queue\n{result}")
            self.assertGreaterEqual(int(lines.get("own", "-1")), 0,
                                    f"{instance_id} found another instance's queue\n{result}")
        self.assertEqual(leaked, -1, "an instance's message queue appeared on this machine")

    @unittest.skipUnless(os.path.isfile("/etc/machine-id"), "this machine has no machine id")
    def test_each_instance_has_a_machine_id_of_its_own(self):
        # Instances as hosts: software that tells hosts apart by /etc/machine-id (systemd,
        # D-Bus, agents that register a host) sees each instance as one, not all as the machine.
        with open("/etc/machine-id") as f:
            machine = f.read().strip()
        results = self.deploy_attack("cat /etc/machine-id\n")
        ids = {result.strip() for result in results.values()}
        self.assertEqual(len(ids), 2, results)
        self.assertNotIn(machine, ids)
        for machine_id in ids:
            self.assertRegex(machine_id, r"^[0-9a-f]{32}$")

    def test_the_machines_loopback_and_other_instances_are_out_of_reach(self):
        # Invariant 2 (network): an instance reaches this machine's end of its own pair, and
        # there only what listens on every address; the admin API and the group's listener (on
        # 127.0.0.1), and the other instance, are out of reach.
        admin = int(self.server.url.rstrip("/").rsplit(":", 1)[1])
        listener = int(self.listen.rsplit(":", 1)[1])
        with socket.socket() as everywhere:
            everywhere.bind(("0.0.0.0", 0))
            everywhere.listen()
            open_port = everywhere.getsockname()[1]
            results = self.deploy_attack(textwrap.dedent(f"""\
                own=$(ip -4 -o addr show eth0 | awk '{{print $4}}' | cut -d/ -f1)
                machine=${{own%.*}}.$(( ${{own##*.}} - 1 ))
                try() {{ timeout 5 bash -c "echo > /dev/tcp/$1/$2" 2>/dev/null && echo "$3 reached" || echo "$3 refused"; }}
                try $machine {admin} admin
                try $machine {listener} listener
                try 127.0.0.1 {admin} loopback-admin
                try $machine {open_port} open
                for address in $(seq 0 15 | sed 's/^/10.213.0./'); do
                  [ "$address" != "$own" ] && [ "$address" != "$machine" ] && try $address {open_port} other
                done
                true
                """))
        for instance_id, result in results.items():
            outcomes = {}
            for line in result.splitlines():
                name, outcome = line.split()
                outcomes.setdefault(name, set()).add(outcome)
            self.assertEqual(outcomes, {"admin": {"refused"}, "listener": {"refused"},
                                        "loopback-admin": {"refused"}, "open": {"reached"},
                                        "other": {"refused"}}, f"{instance_id}\n{result}")

    @unittest.skipUnless(os.path.isfile("/etc/hostname"), "this machine has no /etc/hostname")
    def test_every_name_of_the_host_is_the_instance_id(self):
        # Invariant 5 (hostname): the machine's name shows nowhere a bundle reads its own.
        with open("/etc/hostname") as f:
            machine = f.read().strip()
        results = self.deploy_attack("hostname\ncat /etc/hostname\nuname -n\ncat /etc/hosts\n")
        for instance_id, result in results.items():
            names = result.split()
            self.assertEqual(names[:3], [instance_id] * 3, f"the machine is {machine}")
            self.assertNotIn(machine, names, f"{instance_id}'s /etc/hosts names the machine")
            self.assertIn(instance_id, names[3:], "its own name resolves")

    def test_a_mount_made_on_the_machine_later_is_read_only_inside(self):
        # Invariant 1 (files): the machine's file system stays read-only to the instance, even
        # what this machine mounts after the instance was made (a volume, an automount) below a
        # shared mount, which the kernel propagates to the namespaces that follow it.
        shared = tempfile.mkdtemp(prefix="bluegreen-shared-", dir=machine_dir())
        self.addCleanup(os.rmdir, shared)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", shared], check=True)
        self.addCleanup(subprocess.run, ["umount", "-R", shared], check=True)
        subprocess.run(["mount", "--make-shared", shared], check=True)
        os.makedirs(os.path.join(shared, "volume"))
        report = "/var/log/attack/volume"
        self.deploy_attack(textwrap.dedent(f"""\
            ( setsid bash -c 'for _ in $(seq 1 600); do
                if [ -e {shared}/go ]; then
                  touch {shared}/volume/written 2>/dev/null && echo written || echo refused
                  exit
                fi
                sleep 0.1
              done' </dev/null >{report} 2>&1 & )
            """))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs",
                        os.path.join(shared, "volume")], check=True)
        open(os.path.join(shared, "go"), "w").close()
        reports = [os.path.join(self.tmp, "state", "instances", name, "root", report[1:])
                   for name in os.listdir(os.path.join(self.tmp, "state", "instances"))]
        self.assertEqual(len(reports), 2)

        def answers():
            found = []
            for path in reports:
                with open(path) as f:
                    found.append(f.read().strip())
            return found if all(found) else None

        self.assertEqual(wait_until(answers, timeout=60), ["refused", "refused"])
        self.assertFalse(os.path.exists(os.path.join(shared, "volume", "written")))

    def test_pid_1_shows_nothing_of_the_servers_command_line(self):
        # docs/security.md: the namespace's helpers carry none of the server's credentials. The
        # holder, pid 1 of every instance, is a fork of the server: its command line is the
        # server's, --admin-token included, readable by every user of the instance.
        token = f"admin-token-{uuid.uuid4().hex}"

        class TokenServer(Server):
            def extra_args(self):
                return ["--admin-token", token]

        self.server.kill()
        self.server = TokenServer(self.server.state_dir).start()
        with mock.patch.dict(os.environ, {"BLUEGREEN_ADMIN_TOKEN": token}):
            results = self.deploy_attack("tr '\\0' ' ' </proc/1/cmdline\necho\nps -e -o args\n")
        for instance_id, result in results.items():
            self.assertNotIn(token, result, f"{instance_id}'s pid 1 shows the server's token")

    def test_a_system_account_of_the_machine_keeps_its_home_as_it_is(self):
        # Invariants 1 and 4: `runas: nobody` or `daemon` (accounts of this machine whose home
        # is /nonexistent, /usr/sbin) runs as on EC2; their home is not replaced by an empty
        # directory of the instance, which would hide /usr/sbin from every hook, nor refused.
        for user in ("nobody", "daemon"):
            with self.subTest(user=user):
                results = self.deploy_attack("id -un\nls /usr/sbin/nologin\n", runas=user)
                for instance_id, result in results.items():
                    self.assertEqual(result.split(), [user, "/usr/sbin/nologin"], instance_id)

    def test_a_destination_that_would_hide_the_views_own_paths_is_refused(self):
        # Invariant 1 (files): a destination is an empty directory of the instance; one above a
        # path the view itself provides would hide it, and the instance could not be made.
        for destination, hidden in (("/etc", "/etc/passwd"), ("/var", "/var/tmp"),
                                    ("/opt", "/opt/codedeploy-agent/deployment-root/"
                                             "deployment-archive")):
            with self.subTest(destination=destination):
                code, record, done = self.deploy(self.attack_params("true\n",
                                                                    destination=destination))
                self.assertNotEqual(code, 0)
                self.assertIn(f"files destination {destination} would hide {hidden}, which "
                              "ISOLATION=namespaces gives the instance", record["error"])

    def test_another_server_never_takes_the_address_of_an_instance_this_one_records(self):
        # instance_network.h: restarts, concurrent instances and servers never share a /30. The
        # instances of this server die while it is down (a reboot, an OOM kill of their
        # holders): their veth pairs go with their network namespaces, but this server still
        # records their addresses and routes its group to them when it starts again.
        code, first, done = self.deploy(self.attack_params("true\n"))
        self.assertEqual(code, 0, done.stdout[-3000:])
        self.server.kill()
        kill_namespace_holders(os.path.join(self.tmp, "state"))
        other = Server(os.path.join(self.tmp, "other", "state")).start()
        self.addCleanup(kill_namespace_holders, os.path.join(self.tmp, "other"))
        self.addCleanup(other.kill)
        params = json.loads(self.attack_params("true\n", LISTEN=f"127.0.0.1:{free_port()}"))
        with open(os.path.join(params["LOCAL_PATH"], "app", "VERSION"), "w") as f:
            f.write("the other server's\n")
        done = subprocess.run([BINARY, "deploy", "--params", json.dumps(params)],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, BLUEGREEN_SERVER=other.url))
        self.assertEqual(done.returncode, 0, done.stdout[-3000:] + done.stderr)
        second = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertFalse({i["host"] for i in first["instances"]} &
                         {i["host"] for i in second["instances"]},
                         "the other server took addresses this one records")
        self.server.start()
        for _ in range(10):
            status, body = http_get(f"http://{self.listen}/")
            self.assertNotIn("the other server's", body, "this group serves another server's app")


@unittest.skipUnless(namespaces_possible(), "ISOLATION=namespaces needs root here")
class VisibleStateDirectoryTest(AttackCase):
    """A state directory the machine's view shows (not below /tmp, which each instance has of
    its own), as /var/lib/bluegreen would be."""

    def setUp(self):
        with mock.patch.object(tempfile, "tempdir", machine_dir()):
            super().setUp()
        os.chmod(self.tmp, 0o755)  # as /var/lib is

    def test_an_instance_user_cannot_read_another_instances_files(self):
        # Invariant 1 (files): another instance's directories are not the instance's. Its users
        # have the same uid in every instance, so the modes of their files keep nothing apart.
        secret = f"secret-{uuid.uuid4().hex}"
        first = self.deploy_attack(f"umask 077\necho {secret} > /home/ec2-user/secret\n")
        instances = os.path.join(self.tmp, "state", "instances")
        reads = "".join(f"cat {instances}/{instance_id}/root/home/ec2-user/secret\n"
                        for instance_id in first) + "true\n"
        second = self.deploy_attack(reads, GROUP_ID="other", LISTEN=f"127.0.0.1:{free_port()}")
        for instance_id, result in second.items():
            self.assertNotIn(secret, result, f"{instance_id} read another instance's file")
            self.assertIn("No such file or directory", result)
        self.assertEqual(len(second.keys() | first.keys()), 4)

    def test_a_destination_among_the_instances_is_refused(self):
        instances = os.path.join(self.tmp, "state", "instances")
        code, record, done = self.deploy(self.attack_params("true\n",
                                                            destination=f"{instances}/app"))
        self.assertNotEqual(code, 0)
        self.assertIn(f"files destination {instances}/app: {instances} holds the server's "
                      "instances and is out of an instance's sight", record["error"])


if __name__ == "__main__":
    unittest.main()
