#!/usr/bin/env python3
"""A fake of the CodeDeploy and CodePipeline operations moto lacks or does not animate.

CodeDeploy (JSON 1.1, X-Amz-Target CodeDeploy_20141006.*): CreateDeployment, GetDeployment
(progressing Created -> InProgress -> Succeeded, or to Failed with a failing lifecycle event),
StopDeployment, ListDeploymentTargets, BatchGetDeploymentTargets, GetDeploymentGroup.
CodePipeline (CodePipeline_20150709.*): PutJobSuccessResult, PutJobFailureResult.

Every request is checked the way AWS would:

* SigV4: the Authorization header is parsed, the access key must be one the fake knows
  (else 400 UnrecognizedClientException), a key registered with a session token must come
  with that X-Amz-Security-Token (else 403 UnrecognizedClientException), the credential scope
  must name the target's service (else 403 InvalidSignatureException), X-Amz-Date must be
  within 15 minutes of now (else 403 InvalidSignatureException "Signature expired"), and the
  signature is recomputed with botocore's SigV4Auth over the signed headers (else 403
  InvalidSignatureException);
* the body is validated against botocore's service model for the operation: unknown members,
  missing required members, wrong types, enum values, string/list length limits, number
  ranges and patterns give 400 ValidationException naming the member, and are recorded as
  violations (see GET /__fake/calls);
* business rules as the real services answer them: InvalidRevisionException (the location
  revisionType names missing or incomplete, another location beside it, a GitHub repository
  that is not account/repository; also recorded as violations), DeploymentGroupDoesNotExistException,
  DeploymentDoesNotExistException, DeploymentAlreadyCompletedException,
  DeploymentNotStartedException, more than 25 target ids, JobNotFoundException,
  InvalidJobStateException (a second result for one job), output variables with a
  continuation token.

Deployments: CreateDeployment needs a registered application/deployment group. Its targets
are the instances registered for its targetInstances tag filter (POST
/__fake/codedeploy/instances), else two made-up ids. Each GetDeployment of a deployment moves
it one step along its outcome's path (the first poll sees Created); the outcome is taken from the script (POST
/__fake/codedeploy/script) when it is created: {"outcome": "succeed"} (default) or
{"outcome": "fail", "failing_event": "ValidateService", "failing_target": 0 (or an id),
"message": "...", "log_tail": "...", "error_code": "ScriptFailed"}; "steps": ["Created", "InProgress", ...] overrides the
path of statuses; "seconds": N moves it by time instead, spreading the steps over N seconds
from its creation (the last step, e.g. Succeeded, is seen from N seconds on).

Control API (no auth)::

  GET  /__fake/calls                     {"calls": [...], "violations": [...]}; a call is
                                         {service, operation, access_key_id, signature_ok,
                                          body, status, error_code, raw_path, raw_body}
                                         (raw_*: as received, the body as text)
  POST /__fake/reset                     forget calls, deployments, jobs and scripts
  POST /__fake/credentials               {"access_key_id", "secret_access_key",
                                          "session_token"?} another key the fake accepts
  POST /__fake/codedeploy/groups         {"application", "group", ...GetDeploymentGroup fields}
  POST /__fake/codedeploy/instances      {"key", "value", "instances": ["i-..."]}
  POST /__fake/codedeploy/script         the outcome of the next deployments (see above)
  GET  /__fake/codedeploy/deployments    every deployment with its targets and script
  POST /__fake/codepipeline/jobs         {"id": "<uuid>"} a job the fake accepts results for
  GET  /__fake/codepipeline/jobs         {"<id>": {"state", "results": [...]}}
  POST /__fake/script                    {"faults": [...]} as fake_server.FaultScript, with
                                         "operation" to match and answers "throttle" (400
                                         ThrottlingException), "server_error" (500), "drop",
                                         or "error" with "status", "code", "message"

Command line::

  aws_fake.py --access-key-id AK --secret-access-key SK [--session-token T]
              [--group app/dg ...] [--job <uuid> ...] [--region us-east-1] [--port 0]

prints ``READY {"url": ..., "port": ...}`` and serves until stdin closes or SIGTERM.
"""
import argparse
import copy
import datetime
import random
import re
import string
import threading
import time
import uuid

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import fake_server
from fake_server import Answer

TARGET_PREFIXES = {"CodeDeploy_20141006": "codedeploy", "CodePipeline_20150709": "codepipeline"}
OPERATIONS = {
    "codedeploy": {"CreateDeployment", "GetDeployment", "StopDeployment", "ListDeploymentTargets",
                   "BatchGetDeploymentTargets", "GetDeploymentGroup"},
    "codepipeline": {"PutJobSuccessResult", "PutJobFailureResult"},
}
LIFECYCLE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
             "ApplicationStart", "ValidateService", "BeforeAllowTraffic", "AllowTraffic",
             "AfterAllowTraffic"]
MAX_SKEW_SECONDS = 15 * 60
AUTH_HEADER = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                         r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?"
                         r"Signature=(?P<signature>[0-9a-f]{64})$")


class AwsFailure(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def epoch():
    return time.time()


# --- botocore model validation ------------------------------------------------------------------
def validate(shape, value, where, problems):
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{where} must be an object")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{where}.{name} is required")
        for name, member_value in value.items():
            if name not in shape.members:
                problems.append(f"{where} has unknown member {name}")
            else:
                validate(shape.members[name], member_value, f"{where}.{name}", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where} must be a string")
            return
        check_size(shape, len(value), where, "length", problems)
        if shape.enum and value not in shape.enum:
            problems.append(f"{where} must be one of {shape.enum}, not {value!r}")
        pattern = shape.metadata.get("pattern")
        if pattern:
            try:
                if not re.fullmatch(pattern, value):
                    problems.append(f"{where} does not match pattern {pattern}")
            except re.error:
                pass  # a Java-only construct; the service would check it, the fake cannot
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where} must be an integer")
            return
        check_size(shape, value, where, "value", problems)
    elif kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{where} must be a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where} must be a boolean")
    elif kind == "timestamp":
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            problems.append(f"{where} must be a timestamp")
    elif kind == "blob":
        if not isinstance(value, str):
            problems.append(f"{where} must be base64 text")
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{where} must be an array")
            return
        check_size(shape, len(value), where, "length", problems)
        for index, item in enumerate(value):
            validate(shape.member, item, f"{where}[{index}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{where} must be an object")
            return
        check_size(shape, len(value), where, "size", problems)
        for key, item in value.items():
            validate(shape.key, key, f"{where} key", problems)
            validate(shape.value, item, f"{where}.{key}", problems)


# --- CodeDeploy's own revision rules ------------------------------------------------------------
# The model leaves every RevisionLocation member optional and unconstrained; the service does
# not: the location revisionType names must be there and complete, no other location goes with
# it, and a GitHub repository is account/repository as GitHub names them (InvalidRevisionException).
REVISION_LOCATIONS = {"S3": "s3Location", "GitHub": "gitHubLocation", "String": "string",
                      "AppSpecContent": "appSpecContent"}
REVISION_REQUIRED = {"S3": ("bucket", "key", "bundleType"), "GitHub": ("repository", "commitId")}
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}")


def revision_problems(revision):
    kind = revision.get("revisionType")
    if kind is None:
        return ["revision.revisionType is required"]
    member = REVISION_LOCATIONS.get(kind)
    location = revision.get(member)
    problems = [f"revision.{other} does not go with revisionType {kind}"
                for other in REVISION_LOCATIONS.values() if other != member and other in revision]
    if not isinstance(location, dict):
        return problems + [f"revision.{member} is required for revisionType {kind}"]
    for name in REVISION_REQUIRED.get(kind, ()):
        if not location.get(name):
            problems.append(f"revision.{member}.{name} is required for revisionType {kind}")
    repository = location.get("repository")
    if kind == "GitHub" and repository and (
            not GITHUB_REPOSITORY.fullmatch(repository) or
            repository.partition("/")[2] in (".", "..")):
        problems.append(f"revision.gitHubLocation.repository must be account/repository, "
                        f"not {repository!r}")
    return problems


def check_size(shape, size, where, what, problems):
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(f"{where} {what} {size} is below the minimum {low}")
    if high is not None and size > high:
        problems.append(f"{where} {what} {size} is above the maximum {high}")


# --- the fake ------------------------------------------------------------------------------------
class AwsFake:
    def __init__(self, credentials, region=None, groups=(), jobs=()):
        """credentials: [(access_key_id, secret_access_key, session_token or None)]."""
        session = botocore.session.get_session()
        self.models = {name: session.get_service_model(name) for name in OPERATIONS}
        self.region = region
        self._lock = threading.Lock()
        self._initial = (list(credentials), list(groups), list(jobs))
        self.faults = fake_server.FaultScript()
        self.reset()

    def reset(self):
        credentials, groups, jobs = self._initial
        with self._lock:
            self.keys = {ak: (sk, token) for ak, sk, token in credentials}
            self.groups = {}
            for application, group in groups:
                self.groups[(application, group)] = make_group(application, group)
            self.jobs = {job: {"state": "InProgress", "results": []} for job in jobs}
            self.deployments = {}
            self.instances_by_tag = {}
            self.script = {"outcome": "succeed"}
            self.calls = []
            self.violations = []
        self.faults.replace([])

    # --- request handling ----------------------------------------------------------------------
    def handle(self, request):
        if request.path.startswith("/__fake/"):
            return self.control(request)
        call = {"service": None, "operation": None, "access_key_id": None, "signature_ok": False,
                "body": None, "status": None, "error_code": None, "raw_path": request.raw_path,
                "raw_body": request.body.decode(errors="replace")}
        with self._lock:
            self.calls.append(call)
        try:
            answer = self._serve(request, call)
        except AwsFailure as failure:
            answer = Answer(failure.status, {"__type": failure.code, "message": failure.message},
                            {"Content-Type": "application/x-amz-json-1.1"})
            call["error_code"] = failure.code
        answer.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        call["status"] = None if answer.drop else answer.status
        return answer

    def _serve(self, request, call):
        target = request.header("X-Amz-Target") or ""
        prefix, _, operation = target.partition(".")
        service = TARGET_PREFIXES.get(prefix)
        call["service"], call["operation"] = service, operation
        if request.method != "POST" or request.path != "/" or service is None:
            self._violation(call, f"not a JSON-protocol call: {request.method} {request.path} target {target!r}")
            raise AwsFailure(400, "UnknownOperationException", "Unknown operation " + target)
        if not (request.header("Content-Type") or "").startswith("application/x-amz-json-1.1"):
            self._violation(call, "Content-Type must be application/x-amz-json-1.1")
        self._check_signature(request, service, call)
        try:
            body = fake_server.json_body(request) if request.body else {}
        except ValueError:
            self._violation(call, "body is not JSON")
            raise AwsFailure(400, "SerializationException", "Start of structure or map found where not expected.")
        call["body"] = body
        model = self.models[service]
        if operation not in model.operation_names:
            self._violation(call, f"unknown operation {operation}")
            raise AwsFailure(400, "UnknownOperationException", f"Unknown operation {operation}")
        if operation not in OPERATIONS[service]:
            raise AwsFailure(400, "UnknownOperationException", f"{operation} is not faked")
        problems = []
        validate(model.operation_model(operation).input_shape, body, operation, problems)
        if problems:
            for problem in problems:
                self._violation(call, problem)
            raise AwsFailure(400, "ValidationException", "; ".join(problems))
        fault = self.faults.take(request, operation)
        if fault and not fault.get("after"):
            return self.fault_answer(fault, call)
        with self._lock:
            result = getattr(self, f"{service}_{operation}")(body)
        if fault:
            return self.fault_answer(fault, call)
        return Answer(200, result, {"Content-Type": "application/x-amz-json-1.1"})

    def _violation(self, call, message):
        with self._lock:
            self.violations.append(f"{call['service']} {call['operation']}: {message}")

    def _check_signature(self, request, service, call):
        match = AUTH_HEADER.match(request.header("Authorization") or "")
        if not match:
            raise AwsFailure(400, "MissingAuthenticationTokenException",
                             "Missing Authentication Token")
        key = match.group("key")
        call["access_key_id"] = key
        if key not in self.keys:
            raise AwsFailure(400, "UnrecognizedClientException",
                             "The security token included in the request is invalid.")
        secret, token = self.keys[key]
        if token is not None and request.header("X-Amz-Security-Token") != token:
            raise AwsFailure(403, "UnrecognizedClientException",
                             "The security token included in the request is invalid.")
        if match.group("service") != service:
            raise AwsFailure(403, "InvalidSignatureException",
                             f"Credential should be scoped to correct service: '{service}'.")
        if self.region and match.group("region") != self.region:
            raise AwsFailure(403, "InvalidSignatureException",
                             f"Credential should be scoped to a valid region, not '{match.group('region')}'.")
        amz_date = request.header("X-Amz-Date") or ""
        try:
            signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise AwsFailure(400, "IncompleteSignatureException", "X-Amz-Date is missing or malformed")
        if abs(epoch() - signed_at) > MAX_SKEW_SECONDS:
            raise AwsFailure(403, "InvalidSignatureException", "Signature expired: " + amz_date)
        if amz_date[:8] != match.group("date"):
            raise AwsFailure(403, "InvalidSignatureException", "Date in Credential scope does not match")
        signed = match.group("signed").split(";")
        for needed in ("host", "x-amz-date"):
            if needed not in signed:
                raise AwsFailure(403, "InvalidSignatureException", f"{needed} must be signed")
        aws_request = AWSRequest(method=request.method,
                                 url=f"http://{request.header('Host')}{request.raw_path}",
                                 data=request.body)
        for name in signed:
            value = request.header(name)
            if value is None:
                raise AwsFailure(403, "InvalidSignatureException", f"signed header {name} is missing")
            aws_request.headers[name] = value
        signer = botocore.auth.SigV4Auth(Credentials(key, secret, token), match.group("service"),
                                         match.group("region"))
        aws_request.context["timestamp"] = amz_date
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        if expected != match.group("signature"):
            raise AwsFailure(403, "InvalidSignatureException",
                             "The request signature we calculated does not match the signature you "
                             "provided. Check your AWS Secret Access Key and signing method.")
        call["signature_ok"] = True

    def fault_answer(self, fault, call):
        kind = fault["answer"]
        call["error_code"] = kind
        if kind == "drop":
            return Answer(drop=True)
        if kind == "throttle":
            return Answer(400, {"__type": "ThrottlingException", "message": "Rate exceeded"},
                          {"Content-Type": "application/x-amz-json-1.1"})
        if kind == "server_error":
            return Answer(500, {"__type": "InternalFailure", "message": "scripted failure"},
                          {"Content-Type": "application/x-amz-json-1.1"})
        return Answer(fault.get("status", 400), {"__type": fault.get("code", "ValidationException"),
                                                 "message": fault.get("message", "scripted failure")},
                      {"Content-Type": "application/x-amz-json-1.1"})

    # --- CodeDeploy (called with the lock held) ------------------------------------------------
    def _group(self, application, group):
        if not any(app == application for app, _ in self.groups):
            raise AwsFailure(400, "ApplicationDoesNotExistException", f"No application found for name: {application}")
        if (application, group) not in self.groups:
            raise AwsFailure(400, "DeploymentGroupDoesNotExistException",
                             f"No Deployment Group found for name: {group}")
        return self.groups[(application, group)]

    def _deployment(self, deployment_id):
        if deployment_id not in self.deployments:
            raise AwsFailure(400, "DeploymentDoesNotExistException",
                             f"The deployment {deployment_id} could not be found.")
        return self.deployments[deployment_id]

    def codedeploy_CreateDeployment(self, body):
        if "deploymentGroupName" not in body:
            raise AwsFailure(400, "DeploymentGroupNameRequiredException", "Deployment group name is missing")
        if "revision" not in body:
            raise AwsFailure(400, "RevisionRequiredException", "Revision is missing")
        problems = revision_problems(body["revision"])
        if problems:
            self.violations.extend(f"codedeploy CreateDeployment: {p}" for p in problems)
            raise AwsFailure(400, "InvalidRevisionException", "; ".join(problems))
        group = self._group(body["applicationName"], body["deploymentGroupName"])
        targets = self._targets_of(body)
        script = copy.deepcopy(self.script)
        steps = script.get("steps") or (["Created", "InProgress", "Succeeded"]
                                        if script.get("outcome", "succeed") == "succeed"
                                        else ["Created", "InProgress", "Failed"])
        deployment_id = "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))
        self.deployments[deployment_id] = {
            "id": deployment_id, "request": body, "targets": targets, "script": script,
            "steps": steps, "step": 0, "createTime": epoch(), "stopped": False,
            "autoRollbackEnabled": None}
        group["lastAttemptedDeployment"] = {"deploymentId": deployment_id, "status": "Created",
                                            "createTime": epoch()}
        return {"deploymentId": deployment_id}

    def _targets_of(self, body):
        """The instances a new deployment targets: those registered for its tag filters, else
        two made-up ids. A subclass with an EC2 behind it may look them up there instead."""
        targets = []
        for tag in body.get("targetInstances", {}).get("tagFilters", []):
            targets += self.instances_by_tag.get((tag.get("Key"), tag.get("Value")), [])
        return targets or ["i-" + uuid.uuid4().hex[:17] for _ in range(2)]

    def _status(self, deployment):
        seconds = deployment["script"].get("seconds")
        if seconds is not None and not deployment["stopped"]:
            last = len(deployment["steps"]) - 1
            elapsed = epoch() - deployment["createTime"]
            deployment["step"] = last if elapsed >= seconds else \
                max(deployment["step"], min(last - 1, int(elapsed * last / seconds)))
        return "Stopped" if deployment["stopped"] else deployment["steps"][deployment["step"]]

    def _advance(self, deployment):
        if deployment["script"].get("seconds") is None and not deployment["stopped"] and \
                deployment["step"] + 1 < len(deployment["steps"]):
            deployment["step"] += 1
        request = deployment["request"]
        group = self.groups[(request["applicationName"], request["deploymentGroupName"])]
        group["lastAttemptedDeployment"]["status"] = self._status(deployment)
        if self._status(deployment) == "Succeeded":
            group["lastSuccessfulDeployment"] = dict(group["lastAttemptedDeployment"])

    def _target_info(self, deployment, index, target):
        status = self._status(deployment)
        script = deployment["script"]
        failing = script.get("outcome") == "fail" and status == "Failed"
        failing_target = script.get("failing_target", 0)
        failing_event = script.get("failing_event", "ValidateService")
        events = []
        for position, name in enumerate(LIFECYCLE):
            event = {"lifecycleEventName": name, "status": "Pending"}
            if status == "Succeeded":
                event["status"] = "Succeeded"
            elif status == "InProgress" or status == "Stopped":
                event["status"] = "Succeeded" if position < LIFECYCLE.index("BeforeInstall") else "Pending"
            elif failing:
                if index == failing_target or target == failing_target:
                    at = LIFECYCLE.index(failing_event)
                    event["status"] = "Succeeded" if position < at else ("Failed" if position == at else "Skipped")
                    if position == at:
                        event["diagnostics"] = {
                            "errorCode": script.get("error_code", "ScriptFailed"), "scriptName": script.get("script", "scripts/check.sh"),
                            "message": script.get("message", "Script at specified location: scripts/check.sh "
                                                             "run as user root failed with exit code 1"),
                            "logTail": script.get("log_tail", "[stderr]health check failed\n")}
                else:
                    event["status"] = "Succeeded"
            events.append(event)
        target_status = {"Created": "Pending", "InProgress": "InProgress", "Succeeded": "Succeeded",
                         "Stopped": "Failed", "Failed": "Succeeded"}.get(status, "Unknown")
        if failing and (index == failing_target or target == failing_target):
            target_status = "Failed"
        return {"deploymentTargetType": "InstanceTarget", "instanceTarget": {
            "deploymentId": deployment["id"], "targetId": target,
            "targetArn": f"arn:aws:ec2:us-east-1:123456789012:instance/{target}",
            "status": target_status, "lastUpdatedAt": epoch(), "instanceLabel": "Green",
            "lifecycleEvents": events}}

    def codedeploy_GetDeployment(self, body):
        deployment = self._deployment(body["deploymentId"])
        request = deployment["request"]
        status = self._status(deployment)
        targets = [self._target_info(deployment, i, t)["instanceTarget"]["status"]
                   for i, t in enumerate(deployment["targets"])]
        info = {"deploymentId": deployment["id"], "applicationName": request["applicationName"],
                "deploymentGroupName": request["deploymentGroupName"], "status": status,
                "revision": request["revision"], "createTime": deployment["createTime"],
                "creator": "user", "computePlatform": "Server",
                "deploymentOverview": {k: targets.count(v) for k, v in (
                    ("Pending", "Pending"), ("InProgress", "InProgress"), ("Succeeded", "Succeeded"),
                    ("Failed", "Failed"), ("Skipped", "Skipped"), ("Ready", "Ready"))}}
        if "targetInstances" in request:
            info["targetInstances"] = request["targetInstances"]
        if status in ("Succeeded", "Failed", "Stopped"):
            info["completeTime"] = epoch()
        if status == "Failed":
            info["errorInformation"] = {"code": "HOOK_EXECUTION_FAILURE", "message": (
                "The deployment failed because one or more instances failed the "
                f"{deployment['script'].get('failing_event', 'ValidateService')} lifecycle event.")}
        if deployment["stopped"]:
            info["errorInformation"] = {"code": "MANUAL_STOP", "message": "The deployment was stopped by the user."}
        self._advance(deployment)  # the next poll sees the next step
        return {"deploymentInfo": info}

    def codedeploy_StopDeployment(self, body):
        deployment = self._deployment(body["deploymentId"])
        if self._status(deployment) in ("Succeeded", "Failed", "Stopped"):
            raise AwsFailure(400, "DeploymentAlreadyCompletedException",
                             f"Deployment {deployment['id']} has already completed.")
        deployment["stopped"] = True
        deployment["autoRollbackEnabled"] = body.get("autoRollbackEnabled")
        return {"status": "Pending", "statusMessage": "Stopping deployment " + deployment["id"]}

    def codedeploy_ListDeploymentTargets(self, body):
        deployment = self._deployment(body["deploymentId"])
        if self._status(deployment) == "Created":
            raise AwsFailure(400, "DeploymentNotStartedException", "The deployment has not started.")
        page_size = 2
        start = int(body.get("nextToken") or 0)
        page = deployment["targets"][start:start + page_size]
        result = {"targetIds": page}
        if start + page_size < len(deployment["targets"]):
            result["nextToken"] = str(start + page_size)
        return result

    def codedeploy_BatchGetDeploymentTargets(self, body):
        deployment = self._deployment(body["deploymentId"])
        if len(body["targetIds"]) > 25:
            raise AwsFailure(400, "DeploymentTargetListSizeExceededException",
                             "The maximum number of targets that can be requested is 25.")
        result = []
        for target in body["targetIds"]:
            if target not in deployment["targets"]:
                raise AwsFailure(400, "DeploymentTargetDoesNotExistException",
                                 f"The provided target ID {target} does not exist.")
            result.append(self._target_info(deployment, deployment["targets"].index(target), target))
        return {"deploymentTargets": result}

    def codedeploy_GetDeploymentGroup(self, body):
        return {"deploymentGroupInfo": copy.deepcopy(self._group(body["applicationName"],
                                                                 body["deploymentGroupName"]))}

    # --- CodePipeline --------------------------------------------------------------------------
    def _job(self, job_id):
        if job_id not in self.jobs:
            raise AwsFailure(400, "JobNotFoundException", f"The job {job_id} could not be found.")
        job = self.jobs[job_id]
        if job["state"] != "InProgress":
            raise AwsFailure(400, "InvalidJobStateException",
                             f"The job {job_id} is in state {job['state']}; it takes no more results.")
        return job

    def codepipeline_PutJobSuccessResult(self, body):
        if "continuationToken" in body and "outputVariables" in body:
            raise AwsFailure(400, "ValidationException",
                             "outputVariables can only be sent without a continuationToken")
        job = self._job(body["jobId"])
        job["state"] = "Continued" if "continuationToken" in body else "Succeeded"
        job["results"].append({"type": "success", **body})
        return {}

    def codepipeline_PutJobFailureResult(self, body):
        job = self._job(body["jobId"])
        job["state"] = "Failed"
        job["results"].append({"type": "failure", **body})
        return {}

    # --- control API ---------------------------------------------------------------------------
    def control(self, request):
        path, method = request.path, request.method
        body = fake_server.json_body(request) if request.body else {}
        with self._lock:
            if path == "/__fake/calls":
                return Answer(200, {"calls": copy.deepcopy(self.calls), "violations": list(self.violations)})
            if path == "/__fake/credentials" and method == "POST":
                self.keys[body["access_key_id"]] = (body["secret_access_key"], body.get("session_token"))
                return Answer(200, {"status": "ok"})
            if path == "/__fake/codedeploy/groups" and method == "POST":
                group = make_group(body["application"], body["group"])
                group.update({k: v for k, v in body.items() if k not in ("application", "group")})
                self.groups[(body["application"], body["group"])] = group
                return Answer(200, group)
            if path == "/__fake/codedeploy/instances" and method == "POST":
                self.instances_by_tag[(body["key"], body["value"])] = list(body["instances"])
                return Answer(200, {"status": "ok"})
            if path == "/__fake/codedeploy/script" and method == "POST":
                self.script = body
                return Answer(200, {"status": "ok"})
            if path == "/__fake/codedeploy/deployments":
                return Answer(200, {k: {"status": self._status(v), "targets": v["targets"],
                                        "script": v["script"], "request": v["request"],
                                        "autoRollbackEnabled": v["autoRollbackEnabled"]}
                                    for k, v in self.deployments.items()})
            if path == "/__fake/codepipeline/jobs":
                if method == "POST":
                    self.jobs[body["id"]] = {"state": "InProgress", "results": []}
                return Answer(200, copy.deepcopy(self.jobs))
        if path == "/__fake/reset" and method == "POST":
            self.reset()
            return Answer(200, {"status": "ok"})
        if path == "/__fake/script":
            if method == "POST":
                self.faults.replace(body.get("faults", []))
            return Answer(200, {"faults": self.faults.remaining()})
        return Answer(404, {"error": f"no control route {method} {path}"})


def make_group(application, group):
    return {"applicationName": application, "deploymentGroupName": group,
            "deploymentGroupId": str(uuid.uuid4()), "deploymentConfigName": "CodeDeployDefault.OneAtATime",
            "serviceRoleArn": "arn:aws:iam::123456789012:role/CodeDeployServiceRole",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
            "computePlatform": "Server"}


def main():
    parser = argparse.ArgumentParser(description="fake CodeDeploy and CodePipeline")
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-access-key", required=True)
    parser.add_argument("--session-token")
    parser.add_argument("--group", action="append", default=[], help="application/deployment-group")
    parser.add_argument("--job", action="append", default=[], help="a CodePipeline job id")
    parser.add_argument("--region")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = AwsFake([(args.access_key_id, args.secret_access_key, args.session_token)], args.region,
                   [tuple(g.split("/", 1)) for g in args.group], args.job)
    fake_server.run_main(fake, args.port, lambda server: {
        "url": f"http://127.0.0.1:{server.server_address[1]}", "port": server.server_address[1]})


if __name__ == "__main__":
    main()
