#!/usr/bin/env python3
"""The packaged bootstrap needs nothing from the Lambda image: unpacked into a root that holds
only the package (/var/task/bootstrap) and the CA bundle (Amazon Linux's path), and run
chrooted there against the Runtime API fake and the cloud fakes on 127.0.0.1, it completes a
whole Elastigroup deployment. No shell, no dynamic loader, no library, no /etc/resolv.conf,
no /proc: what it uses must be in the zip. The Spot API is served over HTTPS with a test CA
that only the root's CA bundle vouches for, so the deployment also shows that the static
binary finds the image's bundle by itself and verifies the peer against it; with the host's
bundle alone, the same call is refused.

Needs root (chroot); skipped otherwise. Run: BLUEGREEN_LAMBDA_ZIP=<zip> python3 chroot_test.py
"""
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fake_server  # noqa: E402
from cloud_world import (HOST_CA_BUNDLE, IMAGE_CA_BUNDLE, LambdaRuntimeFake,  # noqa: E402
                         start_world, wait_for)


class ChrootTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("chroot needs root; run the test suite as root to check the "
                                    "package runs with nothing but the zip and the CA bundle")
        zip_path = os.environ.get("BLUEGREEN_LAMBDA_ZIP")
        if not zip_path or not os.path.exists(zip_path):
            raise unittest.SkipTest("BLUEGREEN_LAMBDA_ZIP does not name the packaged zip")
        cls.tmp = tempfile.mkdtemp(prefix="bluegreen-chroot-test-")
        cert, key = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                        "/CN=bluegreen test CA", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        # The image's bundle: the host's CAs plus the test CA.
        cls.bundle = os.path.join(cls.tmp, "ca-bundle.crt")
        with open(cls.bundle, "w") as out:
            for path in (HOST_CA_BUNDLE, cert):
                with open(path) as f:
                    out.write(f.read())
        cls.world = start_world(zip_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        cls.spot_https = fake_server.serve(cls.world.spot, wrap=context.wrap_socket)

    @classmethod
    def tearDownClass(cls):
        cls.spot_https.shutdown()
        cls.spot_https.server_close()
        cls.world.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.world.reset()
        self.spot_url = f"https://127.0.0.1:{self.spot_https.server_address[1]}"

    def run_job(self, ca_bundle):
        with LambdaRuntimeFake() as runtime:
            bootstrap = self.world.start_function(runtime, {"SPOT_API_URL": self.spot_url},
                                                  chroot=True, ca_bundle=ca_bundle)
            files = sorted(os.path.relpath(os.path.join(where, name), bootstrap.dir)
                           for where, _, names in os.walk(bootstrap.dir) for name in names)
            self.assertEqual(files, sorted([IMAGE_CA_BUNDLE, "var/task/bootstrap"]))
            job = self.world.new_job()
            result = runtime.invoke(self.world.event(job, self.world.parameters()),
                                    timeout_ms=60_000, wait_seconds=80)
            self.assertIsNotNone(result, "the function never answered:\n" +
                                 "\n".join(self.world.log_lines()))
            self.assertEqual(result.kind, "response", result.body)
            # Still serving: it went back to the Runtime API for the next event.
            self.assertTrue(wait_for(lambda: runtime.next_calls >= 2, 10))
            self.assertIsNone(bootstrap.process.poll())
            return self.world.job_results(job)

    def test_a_deployment_completes_in_a_root_holding_only_the_package_and_the_ca_bundle(self):
        results = self.run_job(self.bundle)
        self.assertEqual([r["type"] for r in results], ["success"], results)
        self.assertTrue(self.world.spot_calls("POST"), "no Spot call went over HTTPS")

    def test_a_spot_api_the_bundle_does_not_vouch_for_is_refused(self):
        results = self.run_job(HOST_CA_BUNDLE)
        self.assertEqual([r["type"] for r in results], ["failure"], results)
        self.assertEqual(self.world.spot_calls("POST"), [])
        self.assertTrue(any("TLS peer not trusted" in line for line in self.world.log_lines()),
                        self.world.log_lines())


if __name__ == "__main__":
    unittest.main(verbosity=2)
