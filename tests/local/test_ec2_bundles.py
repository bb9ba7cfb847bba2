"""CodeDeploy bundles written for EC2 and never changed for bluegreen (tests/local/ec2_bundles):
fixed ports, absolute paths, `runas: ec2-user` / `ubuntu`, `npm ci`, /var/www/html, a double
forking daemon with its pid file under /var/run. With ISOLATION=namespaces (the default where
the server can create namespaces) each goes version 1 → version 2 → rollback with CAPACITY 2
while a request loop through the group's address sees no failure; with ISOLATION=none each is
refused before anything starts, because two instances cannot share its port.

A bundle is built the way a pipeline would: its folder copied, `@VERSION@` stamped into its
files, the Node app's dependency packed with `npm pack` into its vendor/ folder, packed as a
tgz. Nothing in it names bluegreen, PORT or INSTANCE_ROOT."""

import base64
import ctypes
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tarfile
import unittest

from harness import (SOURCE_DIR, LocalTestCase, RequestLoop, free_port, http_get, processes_with,
                     wait_until)

BUNDLES = os.path.join(SOURCE_DIR, "tests", "local", "ec2_bundles")
NPM_PACKAGES = os.path.join(BUNDLES, "npm-packages")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x20000000, 0x40000000
CLONE_NEWUSER = 0x10000000


def why_namespaces_cannot_be_created():
    """None when this process could make an instance's namespaces (mount, UTS, PID, network;
    with a user namespace when not root), else the reason, from a child that tries."""
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNET
    if os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        libc = ctypes.CDLL(None, use_errno=True)
        error = 0 if libc.unshare(flags) == 0 else ctypes.get_errno()
        os.write(writer, str(error).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answer:
        error = int(answer.read() or "-1")
    os.waitpid(child, 0)
    if error == 0:
        return None
    who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()} (unprivileged user namespaces)"
    return (f"this machine cannot create namespaces for instances as {who}: unshare failed "
            f"with {os.strerror(error) if error > 0 else 'an unknown error'}")


NAMESPACES_MISSING = why_namespaces_cannot_be_created()


def stamp(directory, version):
    """Replaces @VERSION@ in every file below `directory` that holds it."""
    for folder, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                data = f.read()
            if b"@VERSION@" in data:
                with open(path, "wb") as f:
                    f.write(data.replace(b"@VERSION@", str(version).encode()))


def npm_environment(scratch):
    """npm that writes its cache and logs below `scratch` and never asks a registry."""
    env = dict(os.environ)
    env.update({"npm_config_cache": os.path.join(scratch, "npm-cache"),
                "npm_config_offline": "true", "npm_config_update_notifier": "false",
                "npm_config_audit": "false", "npm_config_fund": "false"})
    return env


def vendor_npm_dependencies(app, scratch):
    """Packs every `file:vendor/….tgz` dependency of package-lock.json from npm-packages/ with
    `npm pack` into app/vendor, and checks that it is the tarball the lock was written for."""
    with open(os.path.join(app, "package-lock.json")) as f:
        lock = json.load(f)
    vendor = os.path.join(app, "vendor")
    os.makedirs(vendor, exist_ok=True)
    for key, entry in lock["packages"].items():
        if not key.startswith("node_modules/"):
            continue
        name = key.removeprefix("node_modules/")
        packed = subprocess.run(["npm", "pack", "--pack-destination", vendor],
                                cwd=os.path.join(NPM_PACKAGES, name), capture_output=True,
                                text=True, timeout=120, env=npm_environment(scratch))
        if packed.returncode != 0:
            raise AssertionError(f"npm pack of {name} failed:\n{packed.stderr}")
        tarball = os.path.join(app, entry["resolved"].removeprefix("file:"))
        with open(tarball, "rb") as f:
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode()
        if integrity != entry["integrity"]:
            raise AssertionError(
                f"npm pack made {tarball} with {integrity}, but package-lock.json expects "
                f"{entry['integrity']}: run `npm install` in a copy of the app with the packed "
                "tarball in vendor/ and commit its package-lock.json")


def build_bundle(name, version, directory):
    """tests/local/ec2_bundles/<name> as a tgz revision of `version`, built below `directory`."""
    tree = os.path.join(directory, f"{name}-{version}")
    shutil.copytree(os.path.join(BUNDLES, name), tree)
    stamp(tree, version)
    if os.path.exists(os.path.join(tree, "app", "package-lock.json")):
        vendor_npm_dependencies(os.path.join(tree, "app"), directory)
    archive = f"{tree}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for entry in sorted(os.listdir(tree)):
            tar.add(os.path.join(tree, entry), arcname=entry)
    return archive


def read_built(name, version, directory, path):
    with open(os.path.join(directory, f"{name}-{version}", path)) as f:
        return f.read().strip()


def required_keys(group, revision, listen):
    """The keys every deployment needs; nothing that tunes polls, waits or timeouts."""
    return {"GROUP_ID": group, "APP_NAME": group, "DEPLOYMENT_GROUP": "ec2", "TIMEOUT": "300",
            "LOCAL_PATH": revision, "LISTEN": listen}


class UntouchedTest(unittest.TestCase):
    def test_no_bundle_names_bluegreen_or_its_variables(self):
        for folder, _, files in os.walk(BUNDLES):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, errors="replace") as f:
                    text = f.read()
                for word in ("bluegreen", "INSTANCE_ROOT", "$PORT", "${PORT", "BLUEGREEN_"):
                    self.assertNotIn(word, text, f"{path} names {word}")


class Ec2BundleCase(LocalTestCase):
    def deploy_keys(self, keys, *extra):
        done = self.cli("deploy", "--params", json.dumps(keys), *extra)
        lines = done.stdout.strip().splitlines()
        self.assertTrue(lines,
                        f"deploy printed nothing\n{done.stderr}\n{self.server.log()[-3000:]}")
        return done.returncode, json.loads(lines[-1]), done

    def assert_every_instance_answers_as(self, instances, user):
        """GET /whoami (the Python app's "<hostname> <user>") reaches each of `instances`,
        each answering its id as hostname, and `user`."""
        ids = {i["id"] for i in instances}
        seen = set()
        for _ in range(200):
            hostname, answered = self.body("/whoami").split()
            self.assertEqual(answered, user)
            seen.add(hostname)
            if seen == ids:
                break
        self.assertEqual(seen, ids)

    def body(self, path="/"):
        status, body = http_get(f"http://{self.listen}{path}")
        self.assertEqual(status, 200, f"{body}\n{self.server.log()[-3000:]}")
        return body.strip()


@unittest.skipIf(NAMESPACES_MISSING, NAMESPACES_MISSING)
class NamespacesTest(Ec2BundleCase):
    """Each bundle as it is, in instances that are lightweight hosts."""

    def v1_v2_rollback(self, name, served, **tuning):
        """Deploys `name` version 1, then version 2 (until it serves), then rolls back, under a
        request loop through LISTEN. `served(version)` is what GET / answers for a version.
        Returns the deployments' closing JSON lines."""
        keys = required_keys(name, build_bundle(name, 1, self.tmp), self.listen)
        keys.update(tuning)
        code, first, done = self.deploy_keys(keys)
        self.assertEqual((code, first["status"]), (0, "succeeded"),
                         f"{first}\n{done.stderr}\n{self.server.log()[-4000:]}")
        self.assertEqual(self.body(), served(1))
        # Two hosts of their own, each reached at its own address on the app's port.
        app_port = int(tuning.get("APP_PORT", 80))
        self.assertEqual([(i["isolation"], i["port"]) for i in first["instances"]],
                         [("namespaces", app_port)] * 2, first["instances"])
        self.assertEqual(len({i["host"] for i in first["instances"]}), 2, first["instances"])

        keys["LOCAL_PATH"] = build_bundle(name, 2, self.tmp)
        with RequestLoop(f"http://{self.listen}/", minimum=1000) as loop:
            code, second, done = self.deploy_keys(keys, "--until", "serving")
            self.assertEqual((code, second["status"]), (0, "running"),
                             f"{second}\n{done.stderr}\n{self.server.log()[-4000:]}")
            self.assertEqual(self.body(), served(2))
            rollback = self.cli("rollback", "--group", name, "--output", "json")
            self.assertEqual(rollback.returncode, 0, rollback.stdout + rollback.stderr)
            self.assertEqual(self.body(), served(1))
        self.assertGreaterEqual(loop.count, 1000)
        self.assertEqual(loop.failures[:5], [], f"{len(loop.failures)} of {loop.count} failed")
        self.assertEqual(loop.bodies, {served(1), served(2)})

        # rollback returned once version 2 ended: its instances are gone, version 1 serves on.
        self.assertEqual(json.loads(rollback.stdout)["status"], "rolled_back", rollback.stdout)
        self.assertEqual(self.body(), served(1))
        wait_until(lambda: not self.processes_of(second["instances"]), timeout=60)
        self.assertTrue(self.processes_of(first["instances"]),
                        "version 1's instances lost their processes")
        return first, second

    @staticmethod
    def processes_of(instances):
        ids = {i["id"] for i in instances}
        return processes_with("BLUEGREEN_INSTANCE_ID", lambda value: value in ids)

    def test_python_app_on_port_8080_as_ec2_user(self):
        first, _ = self.v1_v2_rollback("python-app", lambda v: f"python app version {v}",
                                       ISOLATION="namespaces", APP_PORT="8080",
                                       HEALTH_CHECK_PATH="/health")
        # Each instance is its own host: its hostname is its id, and the app runs as
        # ec2-user, a user this machine does not have.
        self.assert_every_instance_answers_as(first["instances"], "ec2-user")
        with self.assertRaises(KeyError):
            pwd.getpwnam("ec2-user")

    @unittest.skipUnless(shutil.which("node") and shutil.which("npm"),
                         "node and npm are not installed")
    def test_node_app_installed_by_npm_ci(self):
        self.v1_v2_rollback("node-app", lambda v: f"hello from node app version {v}",
                            APP_PORT="3000", HEALTH_CHECK_PATH="/health")

    def test_static_site_in_var_www_html_on_port_80(self):
        self.v1_v2_rollback(
            "static-site", lambda v: read_built("static-site", v, self.tmp, "site/index.html"),
            HEALTH_CHECK_PATH="/index.html")

    def test_double_forking_daemon_with_defaults(self):
        """No key but the required ones: default APP_PORT (80), health path, polls and
        waits."""
        _, second = self.v1_v2_rollback("daemon", lambda v: f"greeter version {v}")
        # The rollback ran version 2's ApplicationStop, which found the daemon by its pid file.
        for instance in second["instances"]:
            log = os.path.join(self.server.state_dir, "instances", instance["id"], "logs",
                               "ApplicationStop-1.log")
            with open(log) as f:
                self.assertRegex(f.read(), r"stopped greeterd, pid \d+")


class IsolationNoneTest(Ec2BundleCase):
    """Without namespaces, two instances of a bundle on a fixed port cannot both listen: each
    bundle is refused before anything starts, with the reason."""

    def test_fixed_port_bundles_are_refused_with_capacity_2(self):
        for name, port in (("python-app", 8080), ("node-app", 3000), ("static-site", 80),
                           ("daemon", 80)):
            with self.subTest(bundle=name):
                if name == "node-app" and not shutil.which("npm"):
                    self.skipTest("npm is not installed")
                keys = required_keys(name, build_bundle(name, 1, self.tmp),
                                     f"127.0.0.1:{free_port()}")
                keys.update({"ISOLATION": "none", "APP_PORT": str(port), "CAPACITY": "2"})
                code, result, done = self.deploy_keys(keys)
                self.assertEqual((code, result["status"]), (2, "rejected"),
                                 f"{result}\n{done.stderr}")
                # The message names the key, the way out, and why.
                self.assertIn(f"APP_PORT {port} needs ISOLATION=namespaces", done.stderr)
                self.assertIn(f"2 instances share this machine's network and cannot all "
                              f"listen on port {port}", done.stderr)
        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual(history, [])
        instances = os.path.join(self.server.state_dir, "instances")
        self.assertEqual(os.listdir(instances) if os.path.isdir(instances) else [], [])


if __name__ == "__main__":
    unittest.main()
