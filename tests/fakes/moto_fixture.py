#!/usr/bin/env python3
"""moto_server with request authentication on, an IAM user and temporary credentials.

Starts moto_server (``moto_server_arns.py -H 127.0.0.1 -p <free port>``: moto's, with EC2
tagging authorised per resource ARN) with INITIAL_NO_AUTH_ACTION_COUNT=0, so every AWS request
is checked: the SigV4 signature is recomputed with botocore and the action is evaluated
against the caller's IAM policies.
Setup needs unauthenticated calls, so it opens a window through the moto API (never
authenticated): ``POST /moto-api/reset-auth`` with a large count as ``text/plain``, makes its
setup calls, then closes the window by posting ``0``.

Setup creates:
  * an IAM user with an access key and one managed policy (the caller's policy document);
  * a role whose trust policy lets any principal assume it, with an inline policy (by default
    the user's policy), and temporary credentials from ``sts:AssumeRole`` on it: an ASIA key,
    a secret and a session token, like CodePipeline's artifactCredentials;
  * the seed data the caller asks for (see SEED below), created inside the window so the
    user's policy need not allow it;
  * whatever ``setup(fixture)`` makes, when the caller passes that callable (from Python only):
    it runs last inside the window, where ``fixture.client(service, who="admin")`` works.

Command line (for tests in any language)::

    moto_fixture.py [--policy JSON | --policy-file FILE] [--role-policy JSON]
                    [--seed JSON | --seed-file FILE] [--region us-east-1] [--user deployer]
                    [--log FILE]

prints one line ``READY {json}`` on stdout, then runs until stdin reaches end-of-file or it
receives SIGTERM, and stops moto on the way out. The JSON is::

    {"endpoint": "http://127.0.0.1:PORT", "port": PORT, "region": "us-east-1",
     "moto_pid": PID,
     "user": {"name", "arn", "access_key_id", "secret_access_key"},
     "temporary": {"role_arn", "access_key_id", "secret_access_key", "session_token"},
     "seeded": {"ec2_instances": {"<tag key>=<tag value>": ["i-...", ...]}}}

From Python::

    with MotoFixture(policy=POLICY, seed=SEED) as moto:
        s3 = moto.client("s3", who="user")   # or "temporary", or "admin" (no auth: fails)

POLICY is an IAM policy document (dict or JSON text); the default allows the actions the
cloud tests expect (S3 reads and writes, SSM GetParameter, Secrets Manager GetSecretValue,
CloudWatch Logs, CodeDeploy, and nothing of EC2 or CodePipeline), so EC2 calls are the
"outside the policy" case.

SEED (dict or JSON text), every part optional::

    {"s3": [{"bucket": "b", "objects": {"key": {"text": "..."} | {"base64": "..."} |
                                               {"file": "/path"}}}],
     "ssm": [{"name": "/app/token", "value": "...", "type": "SecureString"}],
     "secretsmanager": [{"name": "app/token", "string": "..."}],
     "logs": [{"group": "g", "streams": ["s"]}],
     "ec2": [{"count": 2, "tags": {"GreenIdentifier": "abc"}}],
     "codedeploy": [{"application": "app", "groups": ["dg"]}]}
"""
import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

DEFAULT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": [
            "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:CreateBucket",
            "ssm:GetParameter", "secretsmanager:GetSecretValue",
            "logs:PutLogEvents", "logs:CreateLogStream", "logs:GetLogEvents",
            "codedeploy:*", "iam:GetUser",
        ],
        "Resource": "*",
    }],
}

TRUST_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}

# moto_server, with EC2 tagging checked against the tagged resources' ARNs (see the file).
MOTO_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto_server_arns.py")
ADMIN = {"aws_access_key_id": "AKIASETUPWINDOW00000", "aws_secret_access_key": "setup-window"}
NO_RETRIES = Config(retries={"max_attempts": 1})


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_document(value, default):
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


class MotoFixture:
    """A running moto_server with auth on; see the module docstring."""

    def __init__(self, policy=None, role_policy=None, seed=None, region="us-east-1",
                 user="deployer", log=None, setup=None, env=None):
        self.setup = setup
        self.env = dict(env or {})  # more of moto_server's environment (e.g. its recorder)
        self.policy = as_document(policy, DEFAULT_POLICY)
        self.role_policy = as_document(role_policy, self.policy)
        self.seed = as_document(seed, {})
        self.region = region
        self.user_name = user
        self.log_path = log
        self.process = None
        self.endpoint = None
        self.port = None
        self.user = {}
        self.temporary = {}
        self.seeded = {"ec2_instances": {}}

    # --- lifecycle -------------------------------------------------------------------------
    def start(self):
        for _ in range(3):
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
            env = dict(os.environ, **self.env, INITIAL_NO_AUTH_ACTION_COUNT="0")
            self.process = subprocess.Popen(
                [sys.executable, MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
            if self._wait_until_up():
                break
            self.stop()
        else:
            raise RuntimeError("moto_server did not start")
        self._post_reset_auth(10**9)
        try:
            self._create_identities()
            self._create_seed()
            if self.setup:
                self.setup(self)
        finally:
            self._post_reset_auth(0)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _wait_until_up(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=1).read()
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def _post_reset_auth(self, count):
        # text/plain: a form-encoded body would be swallowed by Flask before moto reads it.
        request = urllib.request.Request(self.endpoint + "/moto-api/reset-auth",
                                         data=str(count).encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).read()

    # --- clients ---------------------------------------------------------------------------
    def client(self, service, who="user"):
        """A boto3 client as `who`: "user", "temporary" or "admin" (only works in setup)."""
        if who == "user":
            keys = {"aws_access_key_id": self.user["access_key_id"],
                    "aws_secret_access_key": self.user["secret_access_key"]}
        elif who == "temporary":
            keys = {"aws_access_key_id": self.temporary["access_key_id"],
                    "aws_secret_access_key": self.temporary["secret_access_key"],
                    "aws_session_token": self.temporary["session_token"]}
        else:
            keys = ADMIN
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            config=NO_RETRIES, **keys)

    # --- setup -----------------------------------------------------------------------------
    def user_env(self, home):
        """The environment a bluegreen process needs to call moto as the fixture's IAM user:
        region, keys, no instance metadata, and moto as the EC2 endpoint (add the others)."""
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.user["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.user["secret_access_key"],
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_EC2": self.endpoint,
        }

    def _create_identities(self):
        iam = self.client("iam", who="admin")
        created = iam.create_user(UserName=self.user_name)["User"]
        key = iam.create_access_key(UserName=self.user_name)["AccessKey"]
        policy_arn = iam.create_policy(PolicyName=f"{self.user_name}-policy",
                                       PolicyDocument=json.dumps(self.policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=self.user_name, PolicyArn=policy_arn)
        self.user = {"name": self.user_name, "arn": created["Arn"],
                     "access_key_id": key["AccessKeyId"],
                     "secret_access_key": key["SecretAccessKey"]}
        role_name = f"{self.user_name}-temporary"
        role = iam.create_role(RoleName=role_name,
                               AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE))["Role"]
        iam.put_role_policy(RoleName=role_name, PolicyName=f"{role_name}-policy",
                            PolicyDocument=json.dumps(self.role_policy))
        assumed = self.client("sts", who="admin").assume_role(
            RoleArn=role["Arn"], RoleSessionName="bluegreen-tests")["Credentials"]
        self.temporary = {"role_arn": role["Arn"], "access_key_id": assumed["AccessKeyId"],
                          "secret_access_key": assumed["SecretAccessKey"],
                          "session_token": assumed["SessionToken"]}

    def _create_seed(self):
        seed = self.seed
        if seed.get("s3"):
            s3 = self.client("s3", who="admin")
            for bucket in seed["s3"]:
                if self.region == "us-east-1":
                    s3.create_bucket(Bucket=bucket["bucket"])
                else:
                    s3.create_bucket(Bucket=bucket["bucket"], CreateBucketConfiguration={
                        "LocationConstraint": self.region})
                for key, content in bucket.get("objects", {}).items():
                    s3.put_object(Bucket=bucket["bucket"], Key=key, Body=object_bytes(content))
        for parameter in seed.get("ssm", []):
            self.client("ssm", who="admin").put_parameter(
                Name=parameter["name"], Value=parameter["value"],
                Type=parameter.get("type", "SecureString"), Overwrite=True)
        for secret in seed.get("secretsmanager", []):
            self.client("secretsmanager", who="admin").create_secret(
                Name=secret["name"], SecretString=secret["string"])
        for group in seed.get("logs", []):
            logs = self.client("logs", who="admin")
            logs.create_log_group(logGroupName=group["group"])
            for stream in group.get("streams", []):
                logs.create_log_stream(logGroupName=group["group"], logStreamName=stream)
        for launch in seed.get("ec2", []):
            tags = [{"Key": k, "Value": v} for k, v in launch.get("tags", {}).items()]
            spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
            reservation = self.client("ec2", who="admin").run_instances(
                ImageId=launch.get("image", "ami-12c6146b"), MinCount=launch.get("count", 1),
                MaxCount=launch.get("count", 1), InstanceType="t3.micro",
                TagSpecifications=spec)
            label = ",".join(f"{k}={v}" for k, v in launch.get("tags", {}).items())
            self.seeded["ec2_instances"].setdefault(label, []).extend(
                i["InstanceId"] for i in reservation["Instances"])
        for app in seed.get("codedeploy", []):
            codedeploy = self.client("codedeploy", who="admin")
            codedeploy.create_application(applicationName=app["application"],
                                          computePlatform="Server")
            for group in app.get("groups", []):
                codedeploy.create_deployment_group(
                    applicationName=app["application"], deploymentGroupName=group,
                    serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")

    def description(self):
        return {"endpoint": self.endpoint, "port": self.port, "region": self.region,
                "moto_pid": self.process.pid, "user": self.user, "temporary": self.temporary,
                "seeded": self.seeded}


def object_bytes(content):
    if "text" in content:
        return content["text"].encode()
    if "base64" in content:
        return base64.b64decode(content["base64"])
    with open(content["file"], "rb") as source:
        return source.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy")
    parser.add_argument("--policy-file")
    parser.add_argument("--role-policy")
    parser.add_argument("--seed")
    parser.add_argument("--seed-file")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--user", default="deployer")
    parser.add_argument("--log")
    args = parser.parse_args()
    policy = args.policy
    if args.policy_file:
        with open(args.policy_file, encoding="utf-8") as source:
            policy = source.read()
    seed = args.seed
    if args.seed_file:
        with open(args.seed_file, encoding="utf-8") as source:
            seed = source.read()

    fixture = MotoFixture(policy=policy, role_policy=args.role_policy, seed=seed,
                          region=args.region, user=args.user, log=args.log)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        fixture.start()
        print("READY " + json.dumps(fixture.description()), flush=True)
        sys.stdin.read()  # until the parent closes stdin (or dies)
    finally:
        fixture.stop()


if __name__ == "__main__":
    main()
