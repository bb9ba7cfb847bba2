"""A restarted server recovers its history, the serving fleet and its instances; after
`shutdown` (which stops the instances) the next start deploys the serving revision again."""

import json
import signal
import unittest

from harness import LocalTestCase, make_bundle, wait_until


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


if __name__ == "__main__":
    unittest.main()
