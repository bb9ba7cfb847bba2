"""unittest for the fakes themselves: they must refuse what the real services refuse, or a
client test passing against them would prove nothing. Run: python3 -m unittest test_fakes"""
import base64
import json
import unittest
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

import aws_fake
import fake_server
import planted_secrets
import spot_fake

JOB = "11111111-2222-3333-4444-555555555555"


def call(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class SpotFakeTest(unittest.TestCase):
    def setUp(self):
        self.fake = spot_fake.SpotFake("tok", "act-1")
        self.server = fake_server.serve(self.fake)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.auth = {"Authorization": "Bearer tok", "Content-Type": "application/json"}

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_bad_body_shapes_are_refused_and_recorded(self):
        status, answer = call(f"{self.url}/aws/ec2/group/sig-1/codeDeploy/blueGreenDeployment?accountId=act-1",
                              "POST", {"deployment": {"timeout": "20", "tags": [], "deploymentGroups": []}},
                              self.auth)
        self.assertEqual(status, 400)
        self.assertEqual(answer["response"]["errors"][0]["code"], "VALIDATION_ERROR")
        self.assertEqual(len(self.fake.violations), 1)

    def test_token_and_account_are_checked(self):
        status, _ = call(f"{self.url}/aws/ec2/group/sig-1?accountId=act-1", headers={"Authorization": "Bearer x"})
        self.assertEqual(status, 401)
        status, _ = call(f"{self.url}/aws/ec2/group/sig-1?accountId=act-2", headers=self.auth)
        self.assertEqual(status, 403)
        status, _ = call(f"{self.url}/aws/ec2/group/sig-1", headers=self.auth)
        self.assertEqual(status, 400)
        self.assertIn("accountId", self.fake.violations[0])

    def test_scripted_rate_limit_carries_the_reset_header(self):
        self.fake.faults.replace([{"answer": "rate_limit", "reset_seconds": 4}])
        request = urllib.request.Request(f"{self.url}/aws/ec2/group/sig-1/status?accountId=act-1", headers=self.auth)
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(raised.exception.code, 429)
        self.assertEqual(raised.exception.headers["X-RateLimit-Reset"], "4")
        self.assertEqual(call(f"{self.url}/aws/ec2/group/sig-1/status?accountId=act-1", headers=self.auth)[0], 200)

    def test_deployments_progress_and_launch_greens(self):
        path = f"{self.url}/aws/ec2/group/sig-1/codeDeploy/blueGreenDeployment?accountId=act-1"
        body = {"deployment": {"timeout": 60, "tags": [{"tagKey": "GreenIdentifier", "tagValue": "g"}],
                               "deploymentGroups": [{"applicationName": "a", "deploymentGroupName": "d"}]}}
        self.assertEqual(call(path, "POST", body, self.auth)[0], 200)
        self.assertEqual(call(path, "POST", body, self.auth)[1]["response"]["errors"][0]["code"],
                         "DEPLOYMENT_ALREADY_IN_PROGRESS")
        self.assertEqual(call(path, headers=self.auth)[1]["response"]["items"][0]["state"], "IN_PROGRESS")
        status = call(f"{self.url}/aws/ec2/group/sig-1/status?accountId=act-1", headers=self.auth)[1]
        self.assertEqual(status["response"]["count"], 4)
        self.assertEqual(self.fake.violations, [])

    def test_costs_answer_in_each_documented_shape(self):
        path = (f"{self.url}/aws/ec2/group/sig-1/costs?accountId=act-1"
                "&fromDate=2018-06-20T11%3A35%3A01.000Z&toDate=1529494501")
        items = call(path, headers=self.auth)[1]["response"]["items"]
        self.assertEqual(items[0]["costs"], {"actual": 0.0246, "potential": 0.0864})
        self.assertEqual(items[0]["running"], {"value": 2.0, "unit": "hours"})
        control = f"{self.url}/__fake/costs"
        call(control, "POST", {"items": "object", "numbers": "strings", "hours": 3,
                               "actual": 0.2681, "potential": 0.9})
        answer = call(path, headers=self.auth)[1]["response"]
        self.assertEqual(answer["items"]["costs"], {"actual": "0.2681", "potential": "0.9"})
        self.assertEqual(answer["items"]["running"]["value"], "3.0")
        call(control, "POST", {"items": "empty"})
        self.assertEqual(call(path, headers=self.auth)[1]["response"]["items"], [])
        self.assertEqual(self.fake.violations, [])
        status, _ = call(f"{self.url}/aws/ec2/group/sig-1/costs?accountId=act-1&fromDate=yesterday"
                         "&toDate=1529494501", headers=self.auth)
        self.assertEqual(status, 400)
        self.assertIn("fromDate", self.fake.violations[0])


class AwsFakeTest(unittest.TestCase):
    def setUp(self):
        self.fake = aws_fake.AwsFake([("AKIDFAKE", "secret", None)], "us-east-1", [("app", "dg")], [JOB])
        self.server = fake_server.serve(self.fake)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def client(self, service, secret="secret"):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="AKIDFAKE",
                            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1},
                                                                        parameter_validation=False))

    def test_model_validation_refuses_bad_enums_and_patterns(self):
        codepipeline = self.client("codepipeline")
        with self.assertRaises(codepipeline.exceptions.ValidationException):
            codepipeline.put_job_failure_result(jobId=JOB, failureDetails={"type": "Oops", "message": "x"})
        with self.assertRaises(codepipeline.exceptions.ValidationException):
            codepipeline.put_job_success_result(jobId="not-a-uuid")
        self.assertTrue(any("Oops" in v for v in self.fake.violations))

    def test_revisions_codedeploy_would_refuse_are_refused(self):
        codedeploy = self.client("codedeploy")
        good = {"revisionType": "GitHub",
                "gitHubLocation": {"repository": "owner/repo", "commitId": "0123abc"}}
        self.assertTrue(codedeploy.create_deployment(
            applicationName="app", deploymentGroupName="dg", revision=good)["deploymentId"])
        s3 = {"bucket": "b", "key": "k", "bundleType": "zip"}
        for revision, words in (
                ({"revisionType": "GitHub",
                  "gitHubLocation": {"repository": "owner-only", "commitId": "0123abc"}},
                 "account/repository"),
                ({"revisionType": "GitHub",
                  "gitHubLocation": {"repository": "a/b/c", "commitId": "0123abc"}},
                 "account/repository"),
                ({"revisionType": "GitHub", "gitHubLocation": {"repository": "owner/repo"}},
                 "commitId is required"),
                ({"revisionType": "GitHub"}, "gitHubLocation is required"),
                ({"revisionType": "GitHub", "s3Location": s3}, "s3Location does not go"),
                ({"revisionType": "S3", "s3Location": s3, "gitHubLocation": good["gitHubLocation"]},
                 "gitHubLocation does not go"),
                ({"gitHubLocation": good["gitHubLocation"]}, "revisionType is required")):
            with self.assertRaises(codedeploy.exceptions.InvalidRevisionException) as refused:
                codedeploy.create_deployment(applicationName="app", deploymentGroupName="dg",
                                             revision=revision)
            self.assertIn(words, str(refused.exception))
            self.assertTrue(any(words in v for v in self.fake.violations), self.fake.violations)
        self.assertEqual(len(self.fake.deployments), 1)

    def test_signatures_are_verified(self):
        with self.assertRaises(Exception) as raised:
            self.client("codedeploy", secret="wrong").get_deployment_group(applicationName="app",
                                                                          deploymentGroupName="dg")
        self.assertIn("InvalidSignatureException", str(raised.exception))

    def test_job_takes_one_result(self):
        codepipeline = self.client("codepipeline")
        codepipeline.put_job_success_result(jobId=JOB, continuationToken="t")
        with self.assertRaises(codepipeline.exceptions.InvalidJobStateException):
            codepipeline.put_job_success_result(jobId=JOB)
        self.assertEqual(self.fake.jobs[JOB]["state"], "Continued")



class PlantedSecretsTest(unittest.TestCase):
    SECRET = "planted-token-5f1c2a"

    def test_every_form_is_found_also_inside_longer_encoded_text(self):
        raw = self.SECRET.encode()
        for before in (b"", b"a", b"ab", b"abc"):
            for after in (b"", b"z", b"yz"):
                for encode in (base64.b64encode, base64.urlsafe_b64encode):
                    blob = encode(before + raw + after)
                    self.assertTrue(planted_secrets.leaks({"t": self.SECRET}, [("x", blob)]),
                                    (before, after, encode))
        for data in (f"Bearer {self.SECRET}", {"nested": [f"token={self.SECRET}"]},
                     "q=planted-token-5f1c2a%0A"):
            self.assertTrue(planted_secrets.leaks({"t": self.SECRET}, [("x", data)]), data)
        found = planted_secrets.leaks({"t": "a/b+c d&e"}, [("url", "?k=a%2Fb%2Bc%20d%26e")])
        self.assertEqual(len(found), 1, found)  # the URL-encoded form
        self.assertTrue(found[0].endswith(" in url"), found)

    def test_other_values_are_not_mistaken_for_the_secret(self):
        others = [("x", "planted-token-5f1c2b"),
                  ("y", base64.b64encode(b"planted-token-other")),
                  ("z", {"token": "planted-token"})]
        self.assertEqual(planted_secrets.leaks({"t": self.SECRET}, others), [])


if __name__ == "__main__":
    unittest.main()
