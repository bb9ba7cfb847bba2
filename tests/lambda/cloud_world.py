"""The cloud the Lambda action's integration tests run against, on 127.0.0.1 only.

* moto_server with request authentication on (tests/fakes/moto_fixture.py). The function's
  AWS identity is an IAM user whose only policy is deploy/iam-policy.json; EC2 and SSM calls
  go to moto, so their signatures and permissions are really checked.
* The CodeDeploy / CodePipeline fake (tests/fakes/aws_fake.py), extended with what the real
  service does: one active deployment per deployment group (DeploymentLimitExceededException);
  a deployment targets the instances running in EC2 (moto) that carry its tag filter when it
  is created, and fails when none does or when one of them stops running before it is over.
* The Spot fake (tests/fakes/spot_fake.py), extended so that it acts on EC2 the way Spot does:
  green instances are launched in moto with the deployment's tags (with the temporary
  credentials of a role that may manage EC2, as Spot's cross-account role would), stopping a
  B/G deployment or detaching instances terminates them (so a flow that removed the wrong
  instances would leave nothing running), and Spot finalises a deployment (detaches blue) once
  CodeDeploy succeeded on its greens. Knobs: ``launch_seconds`` (greens appear in EC2 that
  long after the create), ``launch_gap_seconds`` (one by one, that far apart),
  ``finalise_seconds`` (Spot detaches blue that long after it first sees CodeDeploy's success;
  None: never), ``after_create`` (called once a B/G deployment is created, before the answer
  goes out). ``reclaim(instance)`` is a spot interruption: EC2 terminates a green, and
  Elastigroup (optionally) launches its replacement.
* The Lambda Runtime API fake (tests/fakes/lambda_runtime_fake.py) and the packaged
  ``bootstrap``, unpacked into an empty directory and started from there with a clean
  environment.
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))

import fake_server  # noqa: E402
import spot_fake  # noqa: E402
from codepipeline_action import (ARTIFACT_KEY_ID, ARTIFACT_SECRET_KEY,  # noqa: E402
                                 ARTIFACT_SESSION_TOKEN, CodePipelineJobs, FunctionProcess,
                                 job_event, runtime_env)
from ec2_codedeploy_fake import OneActiveDeploymentAwsFake  # noqa: E402
from lambda_runtime_fake import LambdaRuntimeFake  # noqa: E402
from moto_fixture import MotoFixture  # noqa: E402
from waiting import wait_for  # noqa: E402

REGION = "us-east-1"
SPOT_TOKEN = "spot-token-7c1f0d9e-planted"
# A token Spot refuses (401), also stored in SSM at /spot/wrong-token.
WRONG_SPOT_TOKEN = "spot-token-wrong-3b8e41-planted"
ACCOUNT = "act-12345678"
GROUP = "sig-12345678"
APP, DEPLOYMENT_GROUP = "app", "dg"
TAG = "GreenIdentifier"
POLICY_FILE = os.path.join(ROOT, "deploy", "iam-policy.json")
# Passed as extra_env to start_function: the function runs with its default pacing.
DEFAULT_PACING = {"BLUEGREEN_POLL_SECONDS": None, "BLUEGREEN_RESERVE_SECONDS": None,
                  "BLUEGREEN_CLEANUP_SECONDS": None}

# What Spot's own role may do in the account (it launches and terminates the greens).
SPOT_SERVICE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}]}


class Ec2BackedSpotFake(spot_fake.SpotFake):
    """Spot acting on (moto's) EC2, and finalising once CodeDeploy succeeded.

    Greens are launched in moto with the deployment's tags, ``launch_seconds`` after the
    create, all at once, or one by one ``launch_gap_seconds`` apart (Spot fulfils its
    requests one at a time; a green joins the group as it launches). ``reclaim`` is EC2
    taking a green back, as a spot interruption does, and Elastigroup replacing it."""

    def __init__(self, ec2, codedeploy_fake, **kwargs):
        self._timers = []
        super().__init__(**kwargs)
        self.ec2 = ec2
        self.codedeploy = codedeploy_fake
        self.greens_fail_to_start = False
        self.launch_seconds = 0
        self.launch_gap_seconds = 0
        self.finalise_seconds = 0
        self.launched = set()  # instance ids that exist in moto (the blues are Spot's only)
        self.after_create = None  # called once a deployment is created, before the answer

    def reset(self):
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        super().reset()
        with self._lock:
            self.reclaimed = []  # (instance id, its replacement's id or None), in order

    def _later(self, seconds, action):
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def create_deployment(self, request, group):
        answer = super().create_deployment(request, group)
        if answer.status != 200:
            return answer
        if self.after_create:
            self.after_create()
        record = list(self.deployments.values())[-1]
        batches = [list(record["_greens"])]
        if self.launch_gap_seconds:
            batches = [[green] for green in record["_greens"]]
            group["instances"] = [i for i in group["instances"]
                                  if i["instanceId"] not in record["_greens"]]
        for n, batch in enumerate(batches):
            delay = self.launch_seconds + n * self.launch_gap_seconds
            if delay:
                def launch_later(batch=batch):
                    with self._lock:
                        if record["state"] not in ("FAILED", "STOPPED"):
                            self._launch(record, group, batch)
                self._later(delay, launch_later)
            else:
                self._launch(record, group, batch)
        return answer

    def _launch(self, record, group, placeholders):
        """Launches the greens Spot made up as `placeholders` in moto (with the lock held)."""
        tags = {t["tagKey"]: t["tagValue"] for t in record["config"]["tags"]}
        ids = self._run_instances(len(placeholders), tags)
        if self.greens_fail_to_start:
            self.ec2.stop_instances(InstanceIds=ids)
        renamed = dict(zip(placeholders, ids))
        members = {i["instanceId"] for i in group["instances"]}
        for instance in group["instances"]:
            instance["instanceId"] = renamed.get(instance["instanceId"], instance["instanceId"])
        group["instances"] += [spot_fake.make_instance(group["id"], tags) | {"instanceId": i}
                               for p, i in renamed.items() if p not in members]
        record["_greens"] = [renamed.get(i, i) for i in record["_greens"]]

    def _run_instances(self, count, tags):
        spec = [{"ResourceType": "instance",
                 "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        launched = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count,
                                          InstanceType="t3.micro", TagSpecifications=spec)
        ids = [i["InstanceId"] for i in launched["Instances"]]
        self.launched.update(ids)
        return ids

    def reclaim(self, instance_id, replace_after=None, tag_replacement=True):
        """EC2 takes green `instance_id` back: it is terminated in moto (state reason
        Client.UserInitiatedShutdown: moto has no way to give Server.SpotInstanceTermination)
        and leaves the group. With `replace_after` (seconds), Elastigroup then launches a
        replacement into the group, which joins the deployment's greens: with the deployment's
        tags, or with none when `tag_replacement` is false. No replacement comes once the
        deployment was stopped or failed."""
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        with self._lock:
            record = next(d for d in self.deployments.values() if instance_id in d["_greens"])
            group = self.groups[record["groupId"]]
            group["instances"] = [i for i in group["instances"] if i["instanceId"] != instance_id]
            record["_greens"].remove(instance_id)
            reclaimed = [instance_id, None]
            self.reclaimed.append(reclaimed)

        def replace():
            with self._lock:
                if record["state"] in ("FAILED", "STOPPED"):
                    return
                tags = {t["tagKey"]: t["tagValue"] for t in record["config"]["tags"]} \
                    if tag_replacement else {}
                (replacement,) = self._run_instances(1, tags)
                group["instances"].append(
                    spot_fake.make_instance(group["id"], tags) | {"instanceId": replacement})
                record["_greens"].append(replacement)
                reclaimed[1] = replacement

        if replace_after is not None:
            self._later(replace_after, replace)

    def _remove(self, group, ids):
        in_ec2 = sorted(set(ids) & self.launched)
        if in_ec2:
            self.ec2.terminate_instances(InstanceIds=in_ec2)
        group["instances"] = [i for i in group["instances"] if i["instanceId"] not in ids]

    def stop_deployment(self, request, group, deployment_id):
        record = self.deployments.get(deployment_id)
        members = {x["instanceId"] for x in group["instances"]}
        greens = [i for i in record["_greens"] if i in members] if record is not None else []
        answer = super().stop_deployment(request, group, deployment_id)
        if answer.status == 200 and greens:
            self._remove(group, greens)
        return answer

    def detach(self, request, group):
        before = {i["instanceId"] for i in group["instances"]}
        answer = super().detach(request, group)
        if answer.status == 200:
            gone = (before - {i["instanceId"] for i in group["instances"]}) & self.launched
            if gone:
                self.ec2.terminate_instances(InstanceIds=sorted(gone))
        return answer

    def _finalise(self, group):
        for record in self.deployments.values():
            if record["groupId"] != group["id"] or record["state"] in ("FINISHED", "FAILED", "STOPPED"):
                continue
            tag = {t["tagKey"]: t["tagValue"] for t in record["config"]["tags"]}.get(TAG)
            with self.codedeploy._lock:
                succeeded = any(
                    self.codedeploy._status(d) == "Succeeded" and
                    any(f.get("Value") == tag for f in d["request"].get("targetInstances", {})
                        .get("tagFilters", []))
                    for d in self.codedeploy.deployments.values())
            if succeeded:
                seen = record.setdefault("_succeeded_seen", time.time())
                if self.finalise_seconds is None or time.time() < seen + self.finalise_seconds:
                    continue
                record["state"], record["status"] = "FINISHED", "FINISHED"
                self._remove(group, [i for i in record["_blues"]
                                     if i in {x["instanceId"] for x in group["instances"]}])

    def get_status(self, request, group):
        self._finalise(group)
        return super().get_status(request, group)

    def list_deployments(self, request, group):
        self._finalise(group)
        return super().list_deployments(request, group)


def unpack(zip_path, directory):
    """Extracts a Lambda package into `directory` with the file modes it was zipped with."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = archive.extract(info, directory)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)


# Where the CA bundle sits on Amazon Linux, and the build machine's bundle copied there.
IMAGE_CA_BUNDLE = "etc/pki/tls/certs/ca-bundle.crt"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class Bootstrap(FunctionProcess):
    """The packaged function: unzipped into an empty directory and run from there.

    With chroot=True (root only) the directory becomes the root of a file system that holds
    nothing but the package at /var/task (where Lambda puts it) and the CA bundle at Amazon
    Linux's path (a copy of `ca_bundle`), and the function runs chrooted into it."""

    def __init__(self, zip_path, env, log_path, chroot=False, ca_bundle=HOST_CA_BUNDLE):
        self.dir = tempfile.mkdtemp(prefix="bluegreen-lambda-")
        os.chmod(self.dir, 0o755)
        task = os.path.join(self.dir, "var", "task") if chroot else self.dir
        os.makedirs(task, exist_ok=True)
        unpack(zip_path, task)
        preexec = None
        argv = [os.path.join(task, "bootstrap")]
        if chroot:
            bundle = os.path.join(self.dir, IMAGE_CA_BUNDLE)
            os.makedirs(os.path.dirname(bundle))
            shutil.copyfile(ca_bundle, bundle)
            root = self.dir

            def preexec():
                os.chroot(root)
                os.chdir("/var/task")

            argv = ["/var/task/bootstrap"]
        super().__init__(argv, env, log_path, cwd=task, preexec_fn=preexec)

    def mapped_libraries(self):
        paths = set()
        with open(f"/proc/{self.process.pid}/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and ".so" in parts[5]:
                    paths.add(parts[5])
        return paths

    def stop(self):
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class CloudWorld:
    """Everything above, started once; reset() between tests."""

    def __init__(self, zip_path):
        self.zip_path = zip_path
        self.tmp = tempfile.mkdtemp(prefix="bluegreen-lambda-world-")
        with open(POLICY_FILE) as f:
            self.policy = json.load(f)
        self.moto = MotoFixture(policy=self.policy, role_policy=SPOT_SERVICE_POLICY,
                                seed={"ssm": [{"name": "/spot/api-token", "value": SPOT_TOKEN},
                                              {"name": "/spot/wrong-token",
                                               "value": WRONG_SPOT_TOKEN}],
                                      "secretsmanager": [{"name": "spot/api-token",
                                                          "string": SPOT_TOKEN}]},
                                log=os.path.join(self.tmp, "moto.log"))
        self.servers = []
        self.bootstraps = []
        self.functions_started = 0
        self.jobs = None

    def start(self):
        self.moto.start()
        user = self.moto.user
        self.aws = OneActiveDeploymentAwsFake(
            credentials=[(user["access_key_id"], user["secret_access_key"], None)],
            region=REGION, groups=[(APP, DEPLOYMENT_GROUP)])
        self.aws_server = fake_server.serve(self.aws)
        self.jobs = CodePipelineJobs(self.aws)
        self.ec2 = self.moto.client("ec2", who="temporary")
        self.aws.ec2 = self.ec2
        self.spot = Ec2BackedSpotFake(self.ec2, self.aws, token=SPOT_TOKEN, account_id=ACCOUNT,
                                      groups=[spot_fake.make_group(GROUP, 2)])
        self.spot_server = fake_server.serve(self.spot)
        self.servers = [self.aws_server, self.spot_server]
        return self

    def stop(self):
        try:
            for bootstrap in self.bootstraps:
                bootstrap.stop()
            for server in self.servers:
                server.shutdown()
                server.server_close()
        finally:
            self.moto.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def reset(self):
        for bootstrap in self.bootstraps:
            bootstrap.stop()
        self.bootstraps = []
        self.aws.reset()
        self.spot.reset()
        self.spot.greens_fail_to_start = False
        self.spot.launch_seconds = 0
        self.spot.launch_gap_seconds = 0
        self.spot.finalise_seconds = 0
        self.spot.after_create = None
        self.aws.after_create = None

    # --- the function ----------------------------------------------------------------------
    def url(self, server):
        return f"http://127.0.0.1:{server.server_address[1]}"

    def cloud_env(self, extra=None):
        """The environment a process needs to run the flow against this world."""
        env = self.moto.user_env(self.tmp)
        env.update({
            "AWS_ENDPOINT_URL_SSM": self.moto.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.moto.endpoint,
            "AWS_ENDPOINT_URL_CODEDEPLOY": self.url(self.aws_server),
            "AWS_ENDPOINT_URL_CODEPIPELINE": self.url(self.aws_server),
            "SPOT_API_URL": self.url(self.spot_server),
            "BLUEGREEN_POLL_SECONDS": "0.05",
            "BLUEGREEN_RESERVE_SECONDS": "1",
            "BLUEGREEN_CLEANUP_SECONDS": "10",
        })
        env.update(extra or {})
        return env

    def function_env(self, runtime, extra=None):
        """The function's environment; a None value in `extra` leaves that variable unset."""
        env = self.cloud_env(runtime_env(runtime))
        env.update(extra or {})
        return {k: v for k, v in env.items() if v is not None}

    def start_function(self, runtime, extra_env=None, name="bootstrap", chroot=False,
                       ca_bundle=HOST_CA_BUNDLE):
        # A log of its own: one named after a function of an earlier test would still hold
        # that test's lines.
        self.functions_started += 1
        bootstrap = Bootstrap(self.zip_path, self.function_env(runtime, extra_env),
                              os.path.join(self.tmp, f"{name}-{self.functions_started}.log"),
                              chroot=chroot, ca_bundle=ca_bundle)
        self.bootstraps.append(bootstrap)
        return bootstrap

    def log_lines(self):
        return [line for bootstrap in self.bootstraps for line in bootstrap.log_lines()]

    # --- jobs ------------------------------------------------------------------------------
    def new_job(self):
        return self.jobs.new_job()

    def job_results(self, job_id):
        return self.jobs.results(job_id)

    @staticmethod
    def event(job_id, parameters, continuation_token=None):
        return job_event(job_id, parameters, continuation_token, "bluegreen-elastigroup")

    @staticmethod
    def parameters(**overrides):
        params = {"API_TOKEN": SPOT_TOKEN, "ACCOUNT_ID": ACCOUNT, "GROUP_ID": GROUP,
                  "APP_NAME": APP, "DEPLOYMENT_GROUP": DEPLOYMENT_GROUP, "TIMEOUT": "120",
                  "S3_BUCKET": "artifacts", "S3_KEY": "app/app.zip", "S3_BUNDLE": "zip"}
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    # --- what happened ---------------------------------------------------------------------
    def tagged_instances(self, value):
        reservations = self.ec2.describe_instances(
            Filters=[{"Name": f"tag:{TAG}", "Values": [value]}])["Reservations"]
        return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}

    def green_tags(self):
        """The GreenIdentifier of every Spot B/G deployment created."""
        with self.spot._lock:
            return [t["tagValue"] for d in self.spot.deployments.values()
                    for t in d["config"]["tags"]]

    def spot_calls(self, method=None, suffix=None):
        with self.spot._lock:
            calls = list(self.spot.calls)
        return [c for c in calls if (method is None or c["method"] == method) and
                (suffix is None or c["path"].endswith(suffix))]

    def aws_calls(self, operation=None):
        with self.aws._lock:
            calls = list(self.aws.calls)
        return [c for c in calls if operation is None or c["operation"] == operation]

    def assert_contracts_kept(self, test):
        """Fails `test` where the CodeDeploy/CodePipeline fake or the Spot fake was called in a
        way its API's contract does not allow."""
        with self.aws._lock:
            test.assertEqual(self.aws.violations, [], "CodeDeploy/CodePipeline contract")
        with self.spot._lock:
            test.assertEqual(self.spot.violations, [], "Spot contract")

    # --- secret hygiene --------------------------------------------------------------------
    def planted_secrets(self):
        """The secret values a run is given or can reach: none may show in what it produces."""
        return {"Spot token": SPOT_TOKEN, "wrong Spot token": WRONG_SPOT_TOKEN,
                "AWS secret key": self.moto.user["secret_access_key"],
                "artifact access key id": ARTIFACT_KEY_ID,
                "artifact secret key": ARTIFACT_SECRET_KEY,
                "artifact session token": ARTIFACT_SESSION_TOKEN}

    def requests_to_fakes(self):
        """(where, data): the URL and body of every request the CodeDeploy/CodePipeline and
        Spot fakes received (the Spot token belongs in the Authorization header only)."""
        places = []
        for call in self.aws_calls():
            where = f"{call['operation'] or 'unknown'} request to the CodeDeploy/CodePipeline fake"
            places += [(where + " (URL)", call["raw_path"]), (where + " (body)", call["raw_body"])]
        for call in self.spot_calls():
            where = f"Spot request {call['method']} {call['path']}"
            places += [(where + " (URL)", call["raw_path"]), (where + " (body)", call["raw_body"])]
        return places

    def job_results_sent(self):
        """(where, result): everything sent to CodePipeline for every job (failure messages,
        execution details, output variables, continuation tokens)."""
        return self.jobs.results_sent()


__all__ = ["CloudWorld", "SharedWorld", "start_world", "LambdaRuntimeFake", "wait_for", "TAG",
           "SPOT_TOKEN", "DEFAULT_PACING", "CLI",
           "WRONG_SPOT_TOKEN", "GROUP", "APP", "DEPLOYMENT_GROUP", "threading"]

# The bluegreen binary the CLI and server tests run.
CLI = os.environ.get("BLUEGREEN_CLI", "")


def start_world(zip_path=None):
    """A started CloudWorld (stopped again if starting it fails)."""
    world = CloudWorld(zip_path)
    try:
        world.start()
    except BaseException:
        world.stop()
        raise
    return world


class SharedWorld:
    """The one CloudWorld of a test module, started before its first test and stopped after
    its last (``setUpModule, tearDownModule = WORLD.start, WORLD.stop``); the module's tests use
    it as the world itself. The module is skipped when what it runs is missing: the bluegreen
    binary (BLUEGREEN_CLI), or with ``package=True`` the packaged function
    (BLUEGREEN_LAMBDA_ZIP)."""

    def __init__(self, package=False):
        self._world = None
        self._package = package

    def start(self):
        if self._package:
            zip_path = os.environ.get("BLUEGREEN_LAMBDA_ZIP")
            if not zip_path or not os.path.exists(zip_path):
                raise unittest.SkipTest("BLUEGREEN_LAMBDA_ZIP does not name the packaged zip")
            self._world = start_world(zip_path)
            return
        if not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("BLUEGREEN_CLI does not name the bluegreen binary")
        self._world = start_world()

    def stop(self):
        if self._world is not None:
            self._world.stop()
            self._world = None

    def __getattr__(self, name):
        world = self.__dict__.get("_world")
        if world is None:
            raise AttributeError(f"{name}: the world is not started")
        return getattr(world, name)
