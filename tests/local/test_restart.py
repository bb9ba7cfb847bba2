"""A restarted server recovers its history, the serving fleet and its instances; after
`shutdown` (which stops the instances) the next start deploys the serving revision again.
A restart never terminates a fleet that was serving before it, and restores its address: not
when the LISTEN port is held by another process, not when journal.db is missing, not when the
instance directories were moved away while their processes run, not when a
second server is started on the same state directory, and not for LISTEN port 0."""

import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import unittest

from harness import (BINARY, LocalTestCase, http_get, make_bundle, processes_with,
                     wait_until)


class RestartTest(LocalTestCase):
    def deploy_two_versions(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        second = self.deploy(self.params(make_bundle(2, self.tmp)))[1]
        self.assertEqual((first["status"], second["status"]), ("succeeded", "succeeded"))
        return first, second

    def status(self):
        return json.loads(self.cli("status", "--output", "json").stdout)["groups"]

    def test_a_killed_server_comes_back_with_history_fleet_and_instances(self):
        first, second = self.deploy_two_versions()
        self.server.kill(signal.SIGKILL)
        self.server.start()

        self.assert_serves(2)
        history = json.loads(self.cli("history", "--output", "json").stdout)["deployments"]
        self.assertEqual([d["deploymentId"] for d in history],
                         [second["deploymentId"], first["deploymentId"]])
        self.assertTrue(all(d["phases"] for d in history))
        [group] = self.status()
        self.assertEqual(group["listen"], self.listen)
        self.assertEqual(group["routedFleet"], second["deploymentId"])
        self.assertEqual(sorted(i["id"] for i in group["instances"]),
                         sorted(i["id"] for i in second["instances"]))

        # The recovered fleet is a normal blue: the next deployment retires it.
        third = self.deploy(self.params(make_bundle(3, self.tmp)))[1]
        self.assertEqual(third["status"], "succeeded")
        self.assert_serves(3)
        self.assert_no_process_of([i["id"] for i in second["instances"]])

    def test_after_shutdown_the_next_start_restores_the_serving_revision(self):
        _, second = self.deploy_two_versions()
        done = self.cli("shutdown")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.server.process.wait(timeout=60)
        self.assert_no_process_of([i["id"] for i in second["instances"]])
        self.assertEqual(self.service()[0], 0, "nothing listens while the server is stopped")

        self.server.start()
        wait_until(lambda: self.service()[0] == 200, timeout=120, interval=0.2)
        self.assert_serves(2)

    def instance_processes(self, deployment):
        ids = {i["id"] for i in deployment["instances"]}
        return processes_with("BLUEGREEN_INSTANCE_ID", lambda value: value in ids)

    def start_refused_server(self):
        """Starts another server on the state directory; returns (exit code, stderr). Fails
        the test if it keeps running (it would have taken the instances over)."""
        process = subprocess.Popen(
            [BINARY, "server", "--state-dir", self.server.state_dir, "--admin", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            self.fail("the server started instead of refusing")
        return process.returncode, errors

    def test_a_restart_while_another_process_holds_the_listen_port_keeps_the_fleet(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        pids = self.instance_processes(first)
        self.assertTrue(pids)
        self.server.kill(signal.SIGKILL)

        host, port = self.listen.rsplit(":", 1)
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, int(port)))
        holder.listen(1)
        try:
            self.server.start()
            [group] = self.status()
            self.assertEqual(self.instance_processes(first), pids,
                             "the serving instances keep running")
            self.assertEqual(sorted(i["id"] for i in group["instances"]),
                             sorted(i["id"] for i in first["instances"]))
            self.assertIn(f"listener {self.listen} not bound yet", group.get("listenError") or "")
            # It names who holds the port (here this test's own user).
            self.assertIn(f"held by a process of user {pwd.getpwuid(os.geteuid()).pw_name} "
                          f"(uid {os.geteuid()})", group["listenError"])
        finally:
            holder.close()
        wait_until(lambda: self.service()[0] == 200, timeout=30, interval=0.2)
        self.assert_serves(1)
        [group] = self.status()
        self.assertIsNone(group.get("listenError"))
        self.assertEqual(group["routedFleet"], first["deploymentId"])

    def test_a_missing_journal_with_live_instances_stops_the_server_not_them(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        self.server.kill(signal.SIGKILL)
        for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
            if os.path.exists(os.path.join(self.server.state_dir, name)):
                os.remove(os.path.join(self.server.state_dir, name))

        code, errors = self.start_refused_server()
        self.assertEqual(code, 3, errors)
        self.assertIn(os.path.abspath(self.server.state_dir), errors)
        self.assertIn("journal.db", errors)
        self.assertTrue(self.instance_processes(first), "the instances keep running")
        # Nothing listens while no server runs; the instances themselves still answer.
        [instance] = first["instances"][:1]
        status, body = http_get(f"http://127.0.0.1:{instance['port']}/")
        self.assertEqual((status, body.strip()), (200, "hello from version 1"))

    def test_moved_instance_directories_with_live_instances_stop_the_server_not_them(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        pids = self.instance_processes(first)
        self.assertTrue(pids)
        self.server.kill(signal.SIGKILL)
        instances = os.path.join(self.server.state_dir, "instances")
        os.rename(instances, instances + ".bak")

        code, errors = self.start_refused_server()
        self.assertEqual(code, 3, errors)
        for instance in first["instances"]:
            self.assertIn(instance["id"], errors)
        self.assertIn("still run but their directories are missing", errors)
        self.assertEqual(self.instance_processes(first), pids, "the instances keep running")
        self.assertFalse(os.path.exists(instances) and os.listdir(instances),
                         "no second fleet was started")
        # Put back, the next start takes the fleet over again.
        os.rename(instances + ".bak", instances)
        self.server.start()
        self.assert_serves(1)

    def test_an_unreadable_journal_with_live_instances_stops_the_server_not_them(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        self.server.kill(signal.SIGKILL)
        for name in ("journal.db-wal", "journal.db-shm"):
            if os.path.exists(os.path.join(self.server.state_dir, name)):
                os.remove(os.path.join(self.server.state_dir, name))
        with open(os.path.join(self.server.state_dir, "journal.db"), "wb") as f:
            f.write(b"not a database" * 512)

        code, errors = self.start_refused_server()
        self.assertEqual(code, 3, errors)
        self.assertIn(os.path.abspath(self.server.state_dir), errors)
        self.assertTrue(self.instance_processes(first), "the instances keep running")

    def test_a_second_server_after_server_lock_was_deleted_leaves_the_fleet_alone(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        os.remove(os.path.join(self.server.state_dir, "server.lock"))

        code, errors = self.start_refused_server()
        self.assertEqual(code, 3, errors)
        self.assertIn("another bluegreen server", errors)
        self.assert_serves(1)
        self.assertTrue(self.instance_processes(first))
        [group] = self.status()
        self.assertEqual(group["routedFleet"], first["deploymentId"])

    def test_a_group_on_port_zero_comes_back_on_the_same_port(self):
        self.listen = "127.0.0.1:0"
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        [group] = self.status()
        self.assertNotEqual(group["listen"], "127.0.0.1:0")
        self.listen = group["listen"]
        self.assert_serves(1)

        self.server.kill(signal.SIGKILL)
        self.server.start()
        [group] = self.status()
        self.assertEqual(group["listen"], self.listen)
        self.assert_serves(1)

    def assert_private_modes(self, state):
        """The modes of instance_layout.h: traversed, never listed; nothing readable by others
        but each instance's bundle copy and install root."""
        def mode(*path):
            return stat.S_IMODE(os.stat(os.path.join(state, *path)).st_mode)
        self.assertEqual(mode(), 0o711)
        for name in ("journal.db", "journal.db-wal", "journal.db-shm", "server.lock"):
            self.assertTrue(os.path.exists(os.path.join(state, name)), name)
            self.assertEqual(mode(name), 0o600, name)
        self.assertEqual(mode("bundles"), 0o700)
        self.assertEqual(mode("instances"), 0o711)
        instances = sorted(os.listdir(os.path.join(state, "instances")))
        self.assertTrue(instances)
        for instance in instances:
            # Namespaced hooks reach their files through their view's mounts, never by path.
            with open(os.path.join(state, "instances", instance, "instance.json")) as f:
                namespaced = json.load(f).get("isolation") == "namespaces"
            self.assertEqual(mode("instances", instance), 0o700 if namespaced else 0o711,
                             instance)
            self.assertEqual(mode("instances", instance, "logs"), 0o700, instance)
            self.assertEqual(mode("instances", instance, "instance.json"), 0o600, instance)
            if os.path.exists(os.path.join(state, "instances", instance, "pid-namespace")):
                self.assertEqual(mode("instances", instance, "pid-namespace"), 0o600, instance)

    def test_the_state_directory_is_private(self):
        first = self.deploy(self.params(make_bundle(1, self.tmp)))[1]
        self.assertEqual(first["status"], "succeeded")
        state = self.server.state_dir
        self.assert_private_modes(state)

        # A state directory made readable by others is made private again at the next start.
        self.server.kill(signal.SIGKILL)
        os.chmod(state, 0o755)
        os.chmod(os.path.join(state, "journal.db"), 0o644)
        os.chmod(os.path.join(state, "bundles"), 0o755)
        os.chmod(os.path.join(state, "instances"), 0o755)
        instances = os.path.join(state, "instances")
        instance = os.path.join(instances, sorted(os.listdir(instances))[0])
        os.chmod(instance, 0o755)
        os.chmod(os.path.join(instance, "logs"), 0o755)
        os.chmod(os.path.join(instance, "instance.json"), 0o644)
        self.server.start()
        self.assert_private_modes(state)
        self.assert_serves(1)


if __name__ == "__main__":
    unittest.main()
