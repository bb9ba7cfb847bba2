#!/usr/bin/env python3
"""A fake of the Spot Elastigroup API (the calls of shared/reference/spot-api.md §2-3).

It checks every call against the documented contract and answers like Spot:

* ``Authorization: Bearer <token>`` must carry the configured token (else 401 with an errors
  list); ``accountId`` must be in the query and equal the configured account (else 403);
* the method and path must be one of the routes below (else 404), GETs and the stop PUT carry
  no body, POST/PUT bodies are JSON with ``Content-Type: application/json`` and exactly the
  documented members and types (else 400 ``VALIDATION_ERROR`` naming the field).
Contract breaches are also listed in ``violations`` (see GET /__fake/calls), so a test can
assert that a client made none. Auth failures are not violations (a test may cause them).

Routes (every one also needs ``?accountId=``)::

  GET  /aws/ec2/group/{groupId}                                       the group
  GET  /aws/ec2/group/{groupId}/status                                its instances
  POST /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment        start a B/G deployment
  GET  /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment        its B/G deployments
  PUT  /aws/ec2/group/{groupId}/codeDeploy/blueGreenDeployment/{id}/stop
  PUT  /aws/ec2/group/{groupId}/detachInstances
  GET  /aws/ec2/group/{groupId}/costs?fromDate=&toDate=               (both required)

State: groups hold instances; a group's blue instances are those present at start. Creating
a B/G deployment launches ``capacity.target`` green instances tagged with the deployment's
tags (they appear in /status at once, next to blue), state STARTING / status INITIALIZING.
Every GET of the group's B/G deployments advances each running deployment one step along
``progression`` (default STARTING/INITIALIZING -> IN_PROGRESS/DEPLOYING) and it stays at the
last step until a test finishes it through the control API (FINISHED detaches blue) or a
client stops it (STOPPED: its green instances leave the group, as Spot's clean-up on failure
terminates them). detachInstances really removes the instances it names from the group.
Spot's real state words are not published; tests choose them.
Unknown group ids answer 400 ``GROUP_DOESNT_EXIST``; a second running deployment 400
``DEPLOYMENT_ALREADY_IN_PROGRESS``; detaching instances not in the group 400
``INSTANCES_NOT_IN_GROUP``.

Control API (no auth)::

  GET  /__fake/calls      {"calls": [{method, path, query, auth_ok, account_ok, body, status,
                           fault, raw_path, raw_body}], "violations": ["..."]}   (raw_*: as
                           received, the body as text; no header is recorded, so neither is
                           the token)
  POST /__fake/script     {"faults": [...]} replaces the scripted failures (see
                           fake_server.FaultScript: error_400, rate_limit, server_error, drop;
                           "after": true applies the call before failing); GET shows the rest
  POST /__fake/reset      forget calls, faults and deployments; groups back to their start
  POST /__fake/groups     {"id", "capacity": {...}, "instances": <count> | [{instanceId...}]}
  GET  /__fake/state      {"groups": {...}, "deployments": {...}} including green instance ids
  POST /__fake/progression       {"progression": [["STATE", "STATUS"], ...]}
  POST /__fake/costs      how /costs answers from now on (until reset), every member optional:
                          {"items": "array" (default) | "object" (one item, not in a list, as
                           PYSDK2's fixture has it) | "empty" (no items: nothing for the window),
                           "numbers": "numbers" (default) | "strings" ("0.2681"),
                           "hours": running hours (default: the group's instance count; 0 is
                           Spot having nothing for the window yet), "actual", "potential": USD
                           (default: hours x 0.0123 and hours x 0.0432)}
  POST /__fake/deployments/{id}  {"state", "status", "detach_blue": bool}: move a deployment

Command line::

  spot_fake.py --token T --account act-12345678 [--group sig-1 --instances 2] [--port 0]

prints ``READY {"url": ..., "port": ...}`` and serves until stdin closes or SIGTERM.
From Python: ``fake = SpotFake("T", "act-1"); server = fake_server.serve(fake)``.
"""
import argparse
import copy
import datetime
import itertools
import re
import threading
import uuid

import fake_server
from fake_server import Answer

GROUP_ROUTE = re.compile(r"^/aws/ec2/group/(?P<group>[^/]+)(?P<rest>/.*)?$")
DEFAULT_PROGRESSION = [["STARTING", "INITIALIZING"], ["IN_PROGRESS", "DEPLOYING"]]
# The date forms /costs takes (spot-api.md §3.5): a day, an ISO time with milliseconds, or Unix
# seconds.
COST_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}\.\d{3}Z)?|\d+)$")


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ContractViolation(Exception):
    def __init__(self, message, field=""):
        super().__init__(message)
        self.field = field


def require(condition, message, field=""):
    if not condition:
        raise ContractViolation(message, field)


def check_members(value, where, required, optional=()):
    require(isinstance(value, dict), f"{where} must be an object", where)
    unknown = set(value) - set(required) - set(optional)
    require(not unknown, f"{where} has unknown members {sorted(unknown)}", where)
    for name in required:
        require(name in value, f"{where}.{name} is required", f"{where}.{name}")


def json_request_body(request):
    """The body of a POST/PUT, which must be JSON sent as application/json."""
    require((request.header("Content-Type") or "").startswith("application/json"),
            "Content-Type must be application/json", "Content-Type")
    try:
        return fake_server.json_body(request)
    except ValueError as error:
        raise ContractViolation(f"body is not JSON: {error}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class SpotFake:
    def __init__(self, token, account_id, groups=None):
        self.token = token
        self.account_id = account_id
        self._lock = threading.Lock()
        self._initial_groups = groups if groups is not None else [make_group("sig-1", 2)]
        self.faults = fake_server.FaultScript()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self):
        with self._lock:
            self.groups = {g["id"]: copy.deepcopy(g) for g in self._initial_groups}
            self.deployments = {}  # id -> deployment
            self.calls = []
            self.violations = []
            self.progression = copy.deepcopy(DEFAULT_PROGRESSION)
            self.costs_answer = {}
        self.faults.replace([])

    # --- dispatch ------------------------------------------------------------------------------
    def handle(self, request):
        if request.path.startswith("/__fake/"):
            return self.control(request)
        call = {"method": request.method, "path": request.path,
                "query": {k: v for k, v in request.query.items()},
                "auth_ok": request.header("Authorization") == f"Bearer {self.token}",
                "account_ok": request.query.get("accountId") == self.account_id,
                "body": None, "status": None, "fault": None, "raw_path": request.raw_path,
                "raw_body": request.body.decode(errors="replace")}
        if request.body:
            try:
                call["body"] = fake_server.json_body(request)
            except ValueError:
                call["body"] = request.body.decode(errors="replace")
        with self._lock:
            self.calls.append(call)
        answer = self._answer(request, call)
        call["status"] = None if answer.drop else answer.status
        return answer

    def _answer(self, request, call):
        if not call["auth_ok"]:
            return self.error(request, 401, [{"code": "UNAUTHORIZED",
                                              "message": "Bearer token is missing or invalid"}])
        if "accountId" not in request.query:
            self._violation("accountId query parameter missing", call)
            return self.error(request, 400, [{"code": "VALIDATION_ERROR",
                                              "message": "accountId is required", "field": "accountId"}])
        if not call["account_ok"]:
            return self.error(request, 403, [{"code": "ACCOUNT_MISMATCH",
                                              "message": "the token has no access to this account"}])
        fault = self.faults.take(request)
        if fault:
            call["fault"] = fault["answer"]
            if not fault.get("after"):
                return self.fault_answer(request, fault)
        try:
            answer = self.route(request)
        except ContractViolation as violation:
            self._violation(str(violation), call)
            answer = self.error(request, 400, [{"code": "VALIDATION_ERROR", "message": str(violation),
                                                "field": violation.field}])
        if fault:
            return self.fault_answer(request, fault)
        return answer

    def _violation(self, message, call):
        with self._lock:
            self.violations.append(f"{call['method']} {call['path']}: {message}")

    def route(self, request):
        match = GROUP_ROUTE.match(request.path)
        require(match is not None, "unknown route")
        group_id, rest = match.group("group"), match.group("rest") or ""
        bg = "/codeDeploy/blueGreenDeployment"
        routes = [
            ("GET", "", self.get_group),
            ("GET", "/status", self.get_status),
            ("POST", bg, self.create_deployment),
            ("GET", bg, self.list_deployments),
            ("PUT", "/detachInstances", self.detach),
            ("GET", "/costs", self.costs),
        ]
        for method, suffix, handler in routes:
            if rest == suffix and request.method == method:
                return self._with_group(request, group_id, handler)
        stop = re.fullmatch(bg + r"/(?P<id>[^/]+)/stop", rest)
        if stop and request.method == "PUT":
            return self._with_group(request, group_id,
                                    lambda r, g: self.stop_deployment(r, g, stop.group("id")))
        raise ContractViolation(f"no route {request.method} {request.path}")

    def _with_group(self, request, group_id, handler):
        if request.method in ("GET",) or request.path.endswith("/stop"):
            require(not request.body, "this call takes no body")
        with self._lock:
            group = self.groups.get(group_id)
            if group is None:
                return self.error(request, 400, [{"code": "GROUP_DOESNT_EXIST",
                                                  "message": f"Group {group_id} does not exist"}])
            return handler(request, group)

    # --- answers -------------------------------------------------------------------------------
    def envelope(self, request, kind, items):
        return {"request": {"id": str(uuid.uuid4()), "url": request.raw_path,
                            "method": request.method, "timestamp": now_text()},
                "response": {"status": {"code": 200, "message": "OK"}, "kind": kind,
                             "items": items, "count": len(items)}}

    def error(self, request, status, errors):
        return Answer(status, {"request": {"id": str(uuid.uuid4()), "url": request.raw_path,
                                           "method": request.method, "timestamp": now_text()},
                               "response": {"status": {"code": status, "message": "Error"},
                                            "errors": errors}})

    def fault_answer(self, request, fault):
        kind = fault["answer"]
        if kind == "drop":
            return Answer(drop=True)
        if kind == "rate_limit":
            reset = fault.get("reset_seconds", 1)
            return Answer(429, {"request": {"id": str(uuid.uuid4()), "url": request.raw_path,
                                            "method": request.method, "timestamp": now_text()},
                                "response": {"status": {"code": 429, "message": "Too Many Requests"},
                                             "data": "Rate limit exceeded"}},
                          {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": str(reset)})
        if kind == "server_error":
            return self.error(request, 500, [{"code": "INTERNAL_SERVER_ERROR",
                                              "message": "Something went wrong"}])
        return self.error(request, 400, fault.get("errors") or [
            {"code": "BAD_REQUEST", "message": "scripted failure"}])

    # --- routes (called with the lock held) ----------------------------------------------------
    def get_group(self, request, group):
        public = {k: v for k, v in group.items() if k != "instances"}
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:group", [public]))

    def get_status(self, request, group):
        items = [{k: v for k, v in i.items() if k != "tags"} for i in group["instances"]]
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:group:status", items))

    def create_deployment(self, request, group):
        body = json_request_body(request)
        check_members(body, "body", ["deployment"])
        deployment = body["deployment"]
        check_members(deployment, "deployment", ["timeout", "tags", "deploymentGroups"])
        require(is_int(deployment["timeout"]) and deployment["timeout"] > 0,
                "deployment.timeout must be a positive integer (seconds)", "deployment.timeout")
        require(isinstance(deployment["tags"], list) and deployment["tags"],
                "deployment.tags must be a non-empty array", "deployment.tags")
        for tag in deployment["tags"]:
            check_members(tag, "deployment.tags[]", ["tagKey", "tagValue"])
            require(isinstance(tag["tagKey"], str) and tag["tagKey"] and isinstance(tag["tagValue"], str)
                    and tag["tagValue"], "tags need non-empty string tagKey and tagValue",
                    "deployment.tags")
        groups = deployment["deploymentGroups"]
        require(isinstance(groups, list) and groups,
                "deployment.deploymentGroups must be a non-empty array", "deployment.deploymentGroups")
        for dg in groups:
            check_members(dg, "deployment.deploymentGroups[]", ["applicationName", "deploymentGroupName"])
            require(all(isinstance(dg[k], str) and dg[k] for k in dg),
                    "applicationName and deploymentGroupName must be non-empty strings",
                    "deployment.deploymentGroups")
        if any(d["groupId"] == group["id"] and d["state"] not in ("FINISHED", "FAILED", "STOPPED")
               for d in self.deployments.values()):
            return self.error(request, 400, [{"code": "DEPLOYMENT_ALREADY_IN_PROGRESS",
                                              "message": "A deployment is already in progress"}])
        deployment_id = f"cdbg-{next(self._ids):08x}"
        tags = {t["tagKey"]: t["tagValue"] for t in deployment["tags"]}
        greens = []
        for _ in range(group["capacity"]["target"]):
            instance = make_instance(group["id"], tags)
            group["instances"].append(instance)
            greens.append(instance["instanceId"])
        record = {"id": deployment_id, "groupId": group["id"], "state": self.progression[0][0],
                  "status": self.progression[0][1], "config": deployment,
                  "_step": 0, "_greens": greens,
                  "_blues": [i["instanceId"] for i in group["instances"] if i["instanceId"] not in greens]}
        self.deployments[deployment_id] = record
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment",
                                         [public_deployment(record)]))

    def list_deployments(self, request, group):
        items = []
        for record in self.deployments.values():
            if record["groupId"] != group["id"]:
                continue
            if record["state"] not in ("FINISHED", "FAILED", "STOPPED") and \
                    record["_step"] + 1 < len(self.progression):
                record["_step"] += 1
                record["state"], record["status"] = self.progression[record["_step"]]
            items.append(public_deployment(record))
        items.reverse()  # newest first
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment",
                                         items))

    def stop_deployment(self, request, group, deployment_id):
        record = self.deployments.get(deployment_id)
        if record is None or record["groupId"] != group["id"]:
            return self.error(request, 400, [{"code": "DEPLOYMENT_DOESNT_EXIST",
                                              "message": f"Deployment {deployment_id} does not exist"}])
        record["state"], record["status"] = "STOPPED", "STOPPED"
        group["instances"] = [i for i in group["instances"] if i["instanceId"] not in record["_greens"]]
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment",
                                         []))

    def detach(self, request, group):
        body = json_request_body(request)
        check_members(body, "body", ["instancesToDetach", "shouldTerminateInstances",
                                     "shouldDecrementTargetCapacity"], ["drainingTimeout"])
        ids = body["instancesToDetach"]
        require(isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids),
                "instancesToDetach must be a non-empty array of instance ids", "instancesToDetach")
        for flag in ("shouldTerminateInstances", "shouldDecrementTargetCapacity"):
            require(isinstance(body[flag], bool), f"{flag} must be a boolean", flag)
        if "drainingTimeout" in body:
            require(is_int(body["drainingTimeout"]) and body["drainingTimeout"] >= 0,
                    "drainingTimeout must be a non-negative integer", "drainingTimeout")
        known = {i["instanceId"] for i in group["instances"]}
        missing = [i for i in ids if i not in known]
        if missing:
            return self.error(request, 400, [{"code": "INSTANCES_NOT_IN_GROUP",
                                              "message": f"Instances {missing} are not in the group"}])
        group["instances"] = [i for i in group["instances"] if i["instanceId"] not in ids]
        if body["shouldDecrementTargetCapacity"]:
            group["capacity"]["target"] = max(0, group["capacity"]["target"] - len(ids))
        return Answer(200, self.envelope(request, "spotinst:aws:ec2:detachInstances", []))

    def costs(self, request, group):
        for name in ("fromDate", "toDate"):
            value = request.query.get(name)
            require(value, f"{name} is required", name)
            require(COST_DATE.match(value), f"{name} must be YYYY-MM-DD, "
                    "YYYY-MM-DDTHH:mm:ss.SSSZ or Unix seconds", name)
        answer = self.costs_answer
        hours = float(answer.get("hours", len(group["instances"])))
        actual = answer.get("actual", round(hours * 0.0123, 4))
        potential = answer.get("potential", round(hours * 0.0432, 4))
        savings = round(100 * (1 - actual / potential), 1) if potential else 0
        number = str if answer.get("numbers") == "strings" else (lambda value: value)
        item = {"running": {"value": number(hours), "unit": "hours"},
                "savings": {"value": number(savings), "unit": "percentage"},
                "costs": {"actual": number(actual), "potential": number(potential)}}
        shape = answer.get("items", "array")
        items = [] if shape == "empty" else item if shape == "object" else [item]
        body = self.envelope(request, "spotinst:aws:ec2:group:stats", [])
        body["response"]["items"] = items
        body["response"]["count"] = 0 if shape == "empty" else 1
        return Answer(200, body)

    # --- control API ---------------------------------------------------------------------------
    def control(self, request):
        path = request.path
        if path == "/__fake/calls":
            with self._lock:
                return Answer(200, {"calls": copy.deepcopy(self.calls),
                                    "violations": list(self.violations)})
        if path == "/__fake/script":
            if request.method == "POST":
                self.faults.replace(fake_server.json_body(request).get("faults", []))
            return Answer(200, {"faults": self.faults.remaining()})
        if path == "/__fake/reset" and request.method == "POST":
            self.reset()
            return Answer(200, {"status": "ok"})
        if path == "/__fake/state":
            with self._lock:
                return Answer(200, {"groups": copy.deepcopy(self.groups),
                                    "deployments": {k: dict(public_deployment(v), greens=v["_greens"],
                                                            blues=v["_blues"])
                                                    for k, v in self.deployments.items()}})
        if path == "/__fake/groups" and request.method == "POST":
            spec = fake_server.json_body(request)
            group = make_group(spec["id"], spec.get("instances", 2), spec.get("capacity"))
            with self._lock:
                self.groups[group["id"]] = group
            return Answer(200, group)
        if path == "/__fake/costs" and request.method == "POST":
            with self._lock:
                self.costs_answer = fake_server.json_body(request)
            return Answer(200, {"status": "ok"})
        if path == "/__fake/progression" and request.method == "POST":
            with self._lock:
                self.progression = fake_server.json_body(request)["progression"]
            return Answer(200, {"status": "ok"})
        moved = re.fullmatch(r"/__fake/deployments/(?P<id>[^/]+)", path)
        if moved and request.method == "POST":
            spec = fake_server.json_body(request)
            with self._lock:
                record = self.deployments.get(moved.group("id"))
                if record is None:
                    return Answer(404, {"error": "no such deployment"})
                record["state"] = spec.get("state", record["state"])
                record["status"] = spec.get("status", record["status"])
                if spec.get("detach_blue"):
                    group = self.groups[record["groupId"]]
                    group["instances"] = [i for i in group["instances"]
                                          if i["instanceId"] not in record["_blues"]]
                return Answer(200, public_deployment(record))
        return Answer(404, {"error": f"no control route {request.method} {path}"})


def public_deployment(record):
    return {k: v for k, v in record.items() if not k.startswith("_")}


def make_instance(group_id, tags=None):
    spot = uuid.uuid4().hex
    return {"instanceId": "i-" + spot[:17], "spotInstanceRequestId": "sir-" + spot[17:25],
            "instanceType": "t3.micro", "product": "Linux/UNIX", "groupId": group_id,
            "availabilityZone": "us-east-1a", "privateIp": "10.0.0.%d" % (int(spot[:2], 16) % 250 + 2),
            "publicIp": None, "createdAt": now_text(), "status": "fulfilled", "tags": tags or {}}


def make_group(group_id, instances=2, capacity=None):
    if isinstance(instances, int):
        members = [make_instance(group_id) for _ in range(instances)]
    else:
        members = [dict(make_instance(group_id), **i) for i in instances]
    capacity = capacity or {"target": len(members), "minimum": 0, "maximum": max(10, 2 * len(members)),
                            "unit": "instance"}
    return {"id": group_id, "name": f"group {group_id}", "region": "us-east-1",
            "capacity": capacity, "instances": members,
            "thirdPartiesIntegration": {"codeDeploy": {"cleanUpOnFailure": True,
                                                       "terminateInstanceOnFailure": True}}}


def main():
    parser = argparse.ArgumentParser(description="fake Spot Elastigroup API")
    parser.add_argument("--token", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--group", default="sig-1")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = SpotFake(args.token, args.account, [make_group(args.group, args.instances)])
    fake_server.run_main(fake, args.port, lambda server: {
        "url": f"http://127.0.0.1:{server.server_address[1]}", "port": server.server_address[1],
        "account": args.account, "group": args.group})


if __name__ == "__main__":
    main()
