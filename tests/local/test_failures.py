"""Deployments that fail: the caller gets exit 1 and the cause, version 1 keeps serving, and
no process of any green instance is left."""

import os
import time
import unittest

from harness import LocalTestCase, make_bundle, replace_in


class FailureTest(LocalTestCase):
    def setUp(self):
        super().setUp()
        code, self.first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, self.first)

    def assert_failed_cleanly(self, code, result, done, *words):
        self.assertEqual(code, 1, done.stdout + done.stderr)
        self.assertEqual(result["status"], "failed")
        for word in words:
            self.assertIn(word, result["error"])
            self.assertIn(word, done.stderr)
        self.assert_serves(1)
        self.assertTrue(result["instances"], "the green instances are named")
        self.assert_no_process_of([i["id"] for i in result["instances"]])

    def test_failing_validate_service_leaves_version_1_serving(self):
        def break_validation(path):
            replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
                       "set -uo pipefail\necho 'version 2 refuses to validate' >&2\nexit 1")
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp, break_validation)))
        self.assert_failed_cleanly(code, result, done, "ValidateService")
        self.assertIn("version 2 refuses to validate", result["error"])
        install = next(p for p in result["phases"] if p["phase"] == "install")
        self.assertEqual(install["outcome"], "failed")

    def test_a_hook_past_its_timeout_is_killed_and_named(self):
        def hang_before_install(path):
            replace_in(os.path.join(path, "appspec.yml"),
                       "location: scripts/before_install.sh\n      timeout: 60",
                       "location: scripts/before_install.sh\n      timeout: 2")
            replace_in(os.path.join(path, "scripts", "before_install.sh"), "set -euo pipefail",
                       "set -euo pipefail\nsleep 600")
        started = time.monotonic()
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp, hang_before_install)))
        self.assert_failed_cleanly(code, result, done, "BeforeInstall")
        self.assertIn("timed out", result["error"])
        self.assertLess(time.monotonic() - started, 120, "the hook ran far past its timeout")

    def test_a_deployment_past_its_timeout_fails_naming_timeout(self):
        def slow_validation(path):
            replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
                       "set -uo pipefail\nsleep 600")
        started = time.monotonic()
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp, slow_validation),
                                                     TIMEOUT=4))
        self.assert_failed_cleanly(code, result, done, "TIMEOUT")
        self.assertLess(time.monotonic() - started, 120)


if __name__ == "__main__":
    unittest.main()
