"""The disk under the journal fills up during a deployment (BLUEGREEN_TEST_JOURNAL_FULL_AT: every
journal write of the deployment fails from a given phase on), then the server restarts. Before
the switch the deployment fails and version 1 keeps serving; after it version 2 keeps serving.
Either way the restart leaves serving what served before it, and nothing else."""

import unittest

from reliability import RequestLoop, ReliabilityTestCase, make_bundle


class JournalFullTest(ReliabilityTestCase):
    def fill_up_at(self, phase):
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual((code, first["status"]), (0, "succeeded"), first)
        self.restart(BLUEGREEN_TEST_JOURNAL_FULL_AT=phase)
        _, second, _ = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertIn(second["status"], ("succeeded", "failed"), second)
        serving = 2 if second["status"] == "succeeded" else 1
        self.assert_serves(serving)

        self.restart()
        with RequestLoop(f"http://{self.listen}/", minimum=200) as loop:
            self.wait_all_ended()
        self.assertEqual(loop.failures, [], f"requests failed after the restart ({phase})")
        self.assert_serves(serving)
        self.assert_only_serving_fleet_lives()
        return second

    def test_full_before_the_switch_fails_the_deployment_and_blue_keeps_serving(self):
        second = self.fill_up_at("allow_traffic")
        self.assertEqual(second["status"], "failed", second)
        self.assertIn("journal", second["error"])

    def test_full_after_the_switch_keeps_green_serving_across_a_restart(self):
        second = self.fill_up_at("block_traffic")
        self.assertEqual(second["status"], "succeeded", second)


if __name__ == "__main__":
    unittest.main()
