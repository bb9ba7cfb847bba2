#!/usr/bin/env python3
"""The packaged bootstrap needs nothing from the Lambda image: unpacked into a root that holds
only the package (/var/task/bootstrap) and the CA bundle (Amazon Linux's path), and run
chrooted there against the Runtime API fake and the cloud fakes on 127.0.0.1, it completes a
whole Elastigroup deployment. No shell, no dynamic loader, no library, no /etc/resolv.conf,
no /proc: what it uses must be in the zip.

Needs root (chroot); skipped otherwise. Run: BLUEGREEN_LAMBDA_ZIP=<zip> python3 chroot_test.py
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cloud_world import IMAGE_CA_BUNDLE, LambdaRuntimeFake, start_world, wait_for  # noqa: E402


class ChrootTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("chroot needs root; run the test suite as root to check the package "
                          "runs with nothing but the zip and the CA bundle")
        zip_path = os.environ.get("BLUEGREEN_LAMBDA_ZIP")
        if not zip_path or not os.path.exists(zip_path):
            self.skipTest("BLUEGREEN_LAMBDA_ZIP does not name the packaged zip")
        self.world = start_world(zip_path)
        self.addCleanup(self.world.stop)

    def test_a_deployment_completes_in_a_root_holding_only_the_package_and_the_ca_bundle(self):
        with LambdaRuntimeFake() as runtime:
            bootstrap = self.world.start_function(runtime, chroot=True)
            files = sorted(os.path.relpath(os.path.join(where, name), bootstrap.dir)
                           for where, _, names in os.walk(bootstrap.dir) for name in names)
            self.assertEqual(files, sorted([IMAGE_CA_BUNDLE, "var/task/bootstrap"]))

            job = self.world.new_job()
            result = runtime.invoke(self.world.event(job, self.world.parameters()),
                                    timeout_ms=60_000, wait_seconds=80)
            self.assertIsNotNone(result, "the function never answered:\n" +
                                 "\n".join(self.world.log_lines()))
            self.assertEqual(result.kind, "response", result.body)
            results = self.world.job_results(job)
            self.assertEqual([r["type"] for r in results], ["success"], results)
            # Still serving: it went back to the Runtime API for the next event.
            self.assertTrue(wait_for(lambda: runtime.next_calls >= 2, 10))
            self.assertIsNone(bootstrap.process.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
