"""Invalid UserParameters: `bluegreen deploy` exits 2 with a message naming the key, before
anything starts; the server's API refuses the same parameters with 400. Among them: keys the
chosen provider does not honour (the message names the provider that does), and a COMMIT_ID
or GITHUB_REPO that is not a revision or a repository."""

import json
import os
import unittest
import urllib.request

from harness import LocalTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BLUEGREEN_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))

VALID = {"GROUP_ID": "web", "APP_NAME": "hello", "DEPLOYMENT_GROUP": "dev", "TIMEOUT": "60",
         "LOCAL_PATH": "/srv/hello"}


# The seed's parameters: API_TOKEN makes the elastigroup provider the default.
ELASTIGROUP = {"API_TOKEN": "spot-token-for-params-test", "ACCOUNT_ID": "act-12345678",
               "GROUP_ID": "sig-12345678", "APP_NAME": "hello", "DEPLOYMENT_GROUP": "dev",
               "TIMEOUT": "60", "S3_BUCKET": "b", "S3_KEY": "k.zip", "S3_BUNDLE": "zip"}
GITHUB = {**{k: v for k, v in VALID.items() if k != "LOCAL_PATH"}, "GITHUB_REPO": "owner/repo"}

# Keys only the local provider honours, each with a value it accepts.
LOCAL_ONLY = {"LOCAL_PATH": "/srv/hello", "CAPACITY": "3", "LISTEN": "127.0.0.1:18080",
              "PREVIEW_LISTEN": "127.0.0.1:18081", "HEALTH_CHECK_PATH": "/ready",
              "HEALTH_CHECK_INTERVAL": "2", "HEALTHY_THRESHOLD": "3", "DRAIN_TIMEOUT": "5",
              "BLUE_TERMINATION_WAIT": "0", "PROMOTION": "manual"}


def without(key):
    return {k: v for k, v in VALID.items() if k != key}


CASES = [
    # (what is wrong, the parameters, words the message must contain)
    ("missing GROUP_ID", without("GROUP_ID"), ["GROUP_ID"]),
    ("missing APP_NAME", without("APP_NAME"), ["APP_NAME"]),
    ("missing DEPLOYMENT_GROUP", without("DEPLOYMENT_GROUP"), ["DEPLOYMENT_GROUP"]),
    ("missing TIMEOUT", without("TIMEOUT"), ["TIMEOUT"]),
    ("both revision sources", {**VALID, "S3_BUCKET": "b", "S3_KEY": "k", "S3_BUNDLE": "zip"},
     ["LOCAL_PATH", "S3_BUCKET"]),
    ("neither revision source", without("LOCAL_PATH"), ["LOCAL_PATH", "S3_BUCKET", "GITHUB_REPO"]),
    ("incomplete S3 source", {**without("LOCAL_PATH"), "S3_BUCKET": "b", "S3_KEY": "k"},
     ["S3_BUNDLE"]),
    ("incomplete GitHub source", {**without("LOCAL_PATH"), "GITHUB_REPO": "owner/repo"},
     ["COMMIT_ID"]),
    ("S3_BUNDLE not tar/tgz/zip/YAML/JSON",
     {**without("LOCAL_PATH"), "S3_BUCKET": "b", "S3_KEY": "k", "S3_BUNDLE": "rar"},
     ["S3_BUNDLE", "rar"]),
    ("TIMEOUT zero", {**VALID, "TIMEOUT": "0"}, ["TIMEOUT"]),
    ("TIMEOUT negative", {**VALID, "TIMEOUT": "-5"}, ["TIMEOUT"]),
    ("TIMEOUT not a number", {**VALID, "TIMEOUT": "soon"}, ["TIMEOUT"]),
    ("TIMEOUT fractional", {**VALID, "TIMEOUT": "1.5"}, ["TIMEOUT"]),
    ("unknown key", {**VALID, "TIMEOUTS": "5"}, ["TIMEOUTS"]),
    ("COMMIT_ID that is an option", {**VALID, "COMMIT_ID": "--output=/etc/passwd"},
     ["COMMIT_ID"]),
    ("COMMIT_ID with a newline", {**GITHUB, "COMMIT_ID": "abc\ndef"}, ["COMMIT_ID"]),
    ("GITHUB_REPO not owner/repo", {**GITHUB, "GITHUB_REPO": "owner", "COMMIT_ID": "abc"},
     ["GITHUB_REPO"]),
] + [
    (f"{key} with the elastigroup provider", {**ELASTIGROUP, key: value},
     [key, "PROVIDER=local"])
    for key, value in LOCAL_ONLY.items()
] + [
    ("PROMOTION with PROVIDER=elastigroup",
     {**ELASTIGROUP, "PROVIDER": "elastigroup", "PROMOTION": "manual"},
     ["PROMOTION", "PROVIDER=local"]),
]


class ParamsTest(LocalTestCase):
    def test_each_invalid_parameter_exits_2_naming_the_key(self):
        for what, params, words in CASES:
            with self.subTest(what):
                code, result, done = self.deploy(json.dumps(params))
                self.assertEqual(code, 2, done.stderr)
                self.assertEqual(result["status"], "rejected")
                for word in words:
                    self.assertIn(word, done.stderr)
                    self.assertIn(word, result["error"]["message"])

    def test_a_key_the_provider_ignores_is_refused_in_words_a_user_can_act_on(self):
        code, result, done = self.deploy(json.dumps({**ELASTIGROUP, "PROMOTION": "manual"}))
        self.assertEqual(code, 2, done.stderr)
        self.assertEqual(result["error"]["kind"], "invalid_input")
        self.assertEqual(done.stderr.strip().splitlines(), [
            "bluegreen: invalid parameters: PROMOTION is honoured only by PROVIDER=local and "
            "PROVIDER=asg; the elastigroup provider (chosen because API_TOKEN is given) cannot "
            "wait for a manual promotion (Spot and CodeDeploy move traffic as soon as the greens "
            "are installed): remove it or deploy with PROVIDER=local or PROVIDER=asg"])
        self.assertNotIn(ELASTIGROUP["API_TOKEN"], done.stdout + done.stderr)
        # The README shows the same line, word for word.
        with open(os.path.join(SOURCE_DIR, "README.md")) as readme:
            self.assertIn(done.stderr.strip(), readme.read())

    def test_malformed_json_exits_2(self):
        code, result, done = self.deploy('{"GROUP_ID": "web",')
        self.assertEqual(code, 2)
        self.assertIn("JSON", done.stderr)
        self.assertEqual(result["error"]["kind"], "invalid_input")

    def test_the_server_validates_too(self):
        for what, params, words in CASES:
            with self.subTest(what):
                request = urllib.request.Request(f"{self.server.url}/api/deployments",
                                                 data=json.dumps(params).encode(), method="POST")
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with self.assertRaises(urllib.error.HTTPError) as refused:
                    opener.open(request, timeout=10)
                self.assertEqual(refused.exception.code, 400)
                error = json.loads(refused.exception.read())["error"]
                self.assertEqual(error["kind"], "invalid_input")
                for word in words:
                    self.assertIn(word, error["message"])
        history = json.loads(self.cli("history", "--output", "json").stdout)
        self.assertEqual(history["deployments"], [], "nothing was started")

    def test_an_unreachable_server_exits_3(self):
        done = self.cli("--server", "http://127.0.0.1:9", "status", server=False)
        self.assertEqual(done.returncode, 3)
        self.assertIn("cannot reach the bluegreen server", done.stderr)


if __name__ == "__main__":
    unittest.main()
