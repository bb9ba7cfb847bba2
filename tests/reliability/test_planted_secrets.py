"""Secret hygiene of a full local run: unique secret values are planted (the admin token, AWS
access key id, secret key and session token in the server's environment, an API_TOKEN in the
parameters), deployments succeed, fail and are
rejected, and then everything the run produced is searched for them, also URL-encoded and in
base64: the server's log, every CLI answer, every GET answer of the admin API (dashboard pages
and /metrics included), every row of the SQLite journal and every file under the state
directory. (The Lambda action's log is searched the same way by tests/lambda.)"""

import base64
import json
import os
import sqlite3
import subprocess
import unittest
import urllib.parse
import urllib.request
import uuid

from reliability import BINARY, ReliabilityTestCase, make_bundle, replace_in

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def planted(label):
    return f"planted{label}{uuid.uuid4().hex}"


SECRETS = {
    "admin token": planted("admintoken"),
    "AWS access key id": "AKIA" + uuid.uuid4().hex[:16].upper(),
    "AWS secret key": planted("awssecret"),
    "AWS session token": planted("sessiontoken"),
    "API token": planted("apitoken"),
}


def forms(secret):
    raw = secret.encode()
    return {raw, urllib.parse.quote(secret, safe="").encode(), base64.b64encode(raw),
            base64.urlsafe_b64encode(raw).rstrip(b"=")}


class PlantedSecretsTest(ReliabilityTestCase):
    def setUp(self):
        self.env_backup = {k: os.environ.get(k) for k in
                           ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                            "BLUEGREEN_ADMIN_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                            "AWS_EC2_METADATA_DISABLED")}
        os.environ.update({
            "AWS_ACCESS_KEY_ID": SECRETS["AWS access key id"],
            "AWS_SECRET_ACCESS_KEY": SECRETS["AWS secret key"],
            "AWS_SESSION_TOKEN": SECRETS["AWS session token"],
            "BLUEGREEN_ADMIN_TOKEN": SECRETS["admin token"],
            # Nothing listens there: the S3 fetch fails, signed with the planted keys.
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        self.addCleanup(self.restore_environment)
        self.outputs = []
        super().setUp()

    def restore_environment(self):
        for key, value in self.env_backup.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def cli(self, *args, **kwargs):
        done = super().cli(*args, **kwargs)
        self.outputs.append((f"bluegreen {args[0]}", (done.stdout + done.stderr).encode()))
        return done

    def get(self, path):
        request = urllib.request.Request(
            self.server.url + path,
            headers={"Authorization": f"Bearer {SECRETS['admin token']}", "Accept": "text/html"})
        try:
            with _opener.open(request, timeout=30) as answer:
                body = answer.read()
                status = answer.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        self.outputs.append((f"GET {path}", body))
        return status, body

    def test_no_secret_in_anything_a_local_run_produces(self):
        token = SECRETS["API token"]
        with_token = dict(API_TOKEN=token, PROVIDER="local")
        code, first, _ = self.deploy(self.params(make_bundle(1, self.tmp), **with_token))
        self.assertEqual(code, 0, first)

        def break_validation(path):
            replace_in(os.path.join(path, "scripts", "validate.sh"), "set -uo pipefail",
                       "set -uo pipefail\nenv >&2\nexit 1")  # a hook that prints its environment
        code, failed, _ = self.deploy(self.params(make_bundle(2, self.tmp, break_validation),
                                                  **with_token))
        self.assertEqual(failed["status"], "failed")
        # A revision from S3: signed with the planted keys, fails to connect.
        params = json.loads(self.params("unused", **with_token))
        del params["LOCAL_PATH"]
        params.update({"S3_BUCKET": "bucket", "S3_KEY": "app.zip",
                       "S3_BUNDLE": "zip"})
        code, s3, _ = self.deploy(json.dumps(params))
        self.assertNotEqual(code, 0)
        # Rejected: the elastigroup provider on a local server, and an invalid key.
        self.deploy(self.params(make_bundle(3, self.tmp), API_TOKEN=token))
        self.deploy(self.params(os.path.join(self.tmp, "hello-3"), **with_token, TIMEOUT="soon"))
        code, last, _ = self.deploy(self.params(make_bundle(4, self.tmp), **with_token))
        self.assertEqual(code, 0, last)

        for args in (("status",), ("status", "--output", "json"), ("history",),
                     ("history", "--output", "json"), ("logs", first["deploymentId"]),
                     ("logs", failed["deploymentId"]), ("logs", last["deploymentId"])):
            self.cli(*args)
        paths = ["/", "/api/health", "/api/status", "/api/deployments", "/metrics"]
        for d in (first, failed, s3, last):
            if d.get("deploymentId"):
                paths += [f"/api/deployments/{d['deploymentId']}",
                          f"/api/deployments/{d['deploymentId']}/logs",
                          f"/deployments/{d['deploymentId']}"]
        for path in paths:
            status, _ = self.get(path)
            self.assertLess(status, 500, path)

        self.cli("shutdown", timeout=120)
        self.server.process.wait(timeout=120)
        self.assert_nothing_holds_a_secret()

    def assert_nothing_holds_a_secret(self):
        places = list(self.outputs)
        places.append(("server log", self.server.log().encode()))
        db = os.path.join(self.server.state_dir, "journal.db")
        self.assertTrue(os.path.exists(db))
        with sqlite3.connect(db) as connection:
            tables = [r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):
                    places.append((f"journal table {table}", repr(row).encode()))
        for root, _, files in os.walk(self.server.state_dir):
            for name in files:
                path = os.path.join(root, name)
                if "/instances/" in path and "/root/" in path:
                    continue  # the application's own files (its bundle), not ours
                try:
                    with open(path, "rb") as f:
                        places.append((path, f.read()))
                except OSError:
                    pass
        self.assertGreater(len(places), 20)
        found = []
        for what, secret in SECRETS.items():
            for form in forms(secret):
                for place, data in places:
                    if form in data:
                        found.append(f"{what} ({form[:12]!r}…) in {place}")
        self.maxDiff = None
        self.assertEqual(found, [])


if __name__ == "__main__":
    unittest.main()
