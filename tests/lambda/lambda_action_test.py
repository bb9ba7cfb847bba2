#!/usr/bin/env python3
"""Integration tests of the CodePipeline Lambda action: the packaged bootstrap, unpacked into
an empty directory, served by the Runtime API fake, against moto (auth on, deploy/ policy),
the CodeDeploy/CodePipeline fake and the Spot fake (see cloud_world.py).

After every test, everything the function produced is searched for the planted secrets (the
Spot tokens, the AWS secret key, the artifact credentials), raw, URL-encoded and in base64:
its log, every result it sent to CodePipeline, every body it posted to the Runtime API, and
the URL and body of every request it sent to the CodeDeploy/CodePipeline and Spot fakes.

Run: BLUEGREEN_LAMBDA_ZIP=<zip> python3 lambda_action_test.py
"""
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore.exceptions  # noqa: E402
from cloud_world import (APP, DEFAULT_PACING, DEPLOYMENT_GROUP, GROUP, SPOT_TOKEN,  # noqa: E402
                         TAG, WRONG_SPOT_TOKEN, LambdaRuntimeFake, SharedWorld, wait_for)
from planted_secrets import leaks  # noqa: E402

WORLD = SharedWorld(package=True)
# (service, operation) pairs the function called at the CodeDeploy/CodePipeline fake that were
# already replayed against moto under the deploy/ policy.
ALLOWED_BY_POLICY = set()


setUpModule, tearDownModule = WORLD.start, WORLD.stop


class LambdaActionTest(unittest.TestCase):
    def setUp(self):
        WORLD.reset()
        self.runtimes = []
        self.runtime = self.new_runtime()

    def new_runtime(self):
        runtime = LambdaRuntimeFake().__enter__()
        self.addCleanup(runtime.close)
        self.runtimes.append(runtime)
        return runtime

    def tearDown(self):
        self.assertEqual(self.runtime.violations, [], "Runtime API contract")
        WORLD.assert_contracts_kept(self)
        self.maxDiff = None
        self.assertEqual(leaks(WORLD.planted_secrets(), self.everything_produced()), [])
        for line in WORLD.log_lines():
            json.loads(line)  # every log line is one JSON object
        # Every CodeDeploy/CodePipeline operation the function made is one the deploy/ policy
        # allows: replayed with its own body against moto as the same IAM user (EC2, SSM and
        # Secrets Manager calls went to moto under that policy in the first place).
        for call in WORLD.aws_calls():
            key = (call["service"], call["operation"])
            if call["status"] != 200 or key in ALLOWED_BY_POLICY:
                continue
            self.assertNotIn(self.moto_verdict(*key, call["body"]), ("AccessDenied", "AuthFailed"),
                             key)
            ALLOWED_BY_POLICY.add(key)

    def everything_produced(self):
        """(where, data) for everything the function produced that a person or another system
        sees."""
        places = [("the function's log", "\n".join(WORLD.log_lines()))]
        places += WORLD.job_results_sent()
        for runtime in self.runtimes:
            with runtime._lock:
                places += [(f"Runtime API POST {path}", body) for path, body in runtime.posted]
        places += WORLD.requests_to_fakes()
        return places

    def invoke(self, job_id, parameters, token=None, timeout_ms=60_000, runtime=None):
        runtime = runtime or self.runtime
        result = runtime.invoke(WORLD.event(job_id, parameters, token), timeout_ms=timeout_ms,
                                wait_seconds=timeout_ms / 1000 + 20)
        self.assertIsNotNone(result, "the function never answered")
        return result

    def only_result(self, job_id):
        results = WORLD.job_results(job_id)
        self.assertEqual(len(results), 1, results)
        return results[0]

    # --- scenarios ---------------------------------------------------------------------------
    def test_successful_deployment_from_the_unpacked_package(self):
        bootstrap = WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        result_box = {}
        worker = threading.Thread(target=lambda: result_box.update(
            r=self.invoke(job, WORLD.parameters())))
        worker.start()
        # While it runs, it is the unpacked `bootstrap` itself and maps no shared library: it
        # loads nothing from the image (a sanitizer build's package is the exception).
        self.assertTrue(wait_for(lambda: self.runtime.next_calls >= 1, 10))
        self.assertEqual(os.readlink(f"/proc/{bootstrap.process.pid}/exe"),
                         os.path.join(bootstrap.dir, "bootstrap"))
        if os.environ.get("BLUEGREEN_LAMBDA_DYNAMIC") != "1":
            self.assertEqual(bootstrap.mapped_libraries(), set())
        worker.join(90)
        self.assertEqual(result_box["r"].kind, "response", result_box["r"].body)

        success = self.only_result(job)
        self.assertEqual(success["type"], "success", success)
        self.assertNotIn("continuationToken", success)
        green = success["outputVariables"]["GreenIdentifier"]
        deployment_id = success["outputVariables"]["DeploymentId"]
        self.assertEqual(success["executionDetails"]["externalExecutionId"], deployment_id)
        self.assertEqual(success["executionDetails"]["percentComplete"], 100)
        # Greens launched with the tag, running; CodeDeploy targeted exactly that tag.
        greens = WORLD.tagged_instances(green)
        self.assertEqual(len(greens), 2)
        self.assertEqual(set(greens.values()), {"running"})
        creates = [c for c in WORLD.aws_calls("CreateDeployment") if c["status"] == 200]
        self.assertEqual(len(creates), 1)
        self.assertEqual(creates[0]["body"]["targetInstances"],
                         {"tagFilters": [{"Key": TAG, "Value": green, "Type": "KEY_AND_VALUE"}]})
        self.assertEqual(creates[0]["body"]["revision"]["s3Location"]["bundleType"], "zip")
        # Blue detached: the group holds only the greens.
        with WORLD.spot._lock:
            members = {i["instanceId"] for i in WORLD.spot.groups["sig-12345678"]["instances"]}
        self.assertEqual(members, set(greens))
        spot_tags = [c["body"]["deployment"]["tags"] for c in WORLD.spot_calls("POST")]
        self.assertEqual(spot_tags, [[{"tagKey": TAG, "tagValue": green}]])

    # --- the cost of a deployment ----------------------------------------------------------
    def deploy_with_costs(self, costs_answer, faults=()):
        """Runs one deployment to its end with Spot's /costs answering as `costs_answer` says
        (spot_fake's POST /__fake/costs); returns the job's only result."""
        with WORLD.spot._lock:
            WORLD.spot.costs_answer = costs_answer
        WORLD.spot.faults.replace(list(faults))
        WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        result = self.invoke(job, WORLD.parameters())
        self.assertEqual(result.kind, "response", result.body)
        costs_calls = WORLD.spot_calls("GET", "/costs")
        self.assertEqual(len(costs_calls), 1, "one request for the costs")
        # The window is the overlap: it ends when the deployment ended, not in the future.
        query = costs_calls[0]["query"]
        self.assertLess(query["fromDate"], query["toDate"])
        return self.only_result(job)

    def assert_cost_reported(self, answer, spot, on_demand, saved):
        self.assertEqual(answer["type"], "success", answer)
        variables = answer["outputVariables"]
        self.assertEqual((variables["DeploymentCost"], variables["OnDemandCost"]), (spot, on_demand))
        summary = answer["executionDetails"]["summary"]
        self.assertLessEqual(len(summary), 2048)
        self.assertIn("cost: blue and green ran together for ", summary)
        self.assertIn(f"spot ${spot}, on demand ${on_demand}, saved ${saved}", summary)

    def test_the_report_carries_the_cost_from_spots_costs_as_a_list(self):
        answer = self.deploy_with_costs({"items": "array", "hours": 0.25, "actual": 0.0123,
                                         "potential": 0.0456})
        self.assert_cost_reported(answer, "0.0123", "0.0456", "0.0333")

    def test_the_report_carries_the_cost_from_one_item_with_numbers_as_strings(self):
        # The shape of PYSDK2's fixture (spot-api.md §3.5): items an object, numbers strings.
        answer = self.deploy_with_costs({"items": "object", "numbers": "strings", "hours": 3,
                                         "actual": 0.2681, "potential": 0.9})
        self.assert_cost_reported(answer, "0.2681", "0.9000", "0.6319")

    def assert_no_costs_yet(self, answer):
        self.assertEqual(answer["type"], "success", answer)
        summary = answer["executionDetails"]["summary"]
        self.assertIn("Spot has no costs for this window yet", summary)
        self.assertNotIn("$", summary)
        self.assertNotIn("DeploymentCost", answer.get("outputVariables", {}))
        self.assertNotIn("OnDemandCost", answer.get("outputVariables", {}))

    def test_no_costs_for_the_window_yet_is_said_in_words_without_variables(self):
        self.assert_no_costs_yet(self.deploy_with_costs({"items": "empty"}))

    def test_zero_running_hours_are_no_costs_yet_rather_than_a_zero(self):
        self.assert_no_costs_yet(self.deploy_with_costs(
            {"items": "object", "numbers": "strings", "hours": 0, "actual": 0, "potential": 0}))

    def test_a_failed_costs_request_leaves_the_deployment_succeeded_and_names_why(self):
        # Spot refuses, quoting the request back with the token: the cause is named, the token
        # (tearDown searches everything the function produced) is not.
        answer = self.deploy_with_costs({}, faults=[{
            "method": "GET", "path_regex": r".*/costs", "answer": "error_400",
            "errors": [{"code": "COSTS_UNAVAILABLE",
                        "message": f"no costs for Authorization: Bearer {SPOT_TOKEN}"}]}])
        self.assertEqual(answer["type"], "success", answer)
        summary = answer["executionDetails"]["summary"]
        self.assertIn("could not read Spot's costs: spot group costs: HTTP 400 COSTS_UNAVAILABLE",
                      summary)
        self.assertNotIn("DeploymentCost", answer["outputVariables"])
        self.assertIn("DeploymentId", answer["outputVariables"])

    def test_codedeploy_failure_names_the_lifecycle_event_and_stops_spot(self):
        WORLD.start_function(self.runtime)
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "fail", "failing_event": "AfterInstall",
                                "message": "Script at specified location: scripts/migrate.sh failed "
                                           "with exit code 3",
                                "log_tail": "[stderr]migration 42 failed\n"}
        job = WORLD.new_job()
        result = self.invoke(job, WORLD.parameters())
        self.assertEqual(result.kind, "response", result.body)
        failure = self.only_result(job)
        self.assertEqual(failure["type"], "failure")
        self.assertEqual(failure["failureDetails"]["type"], "JobFailed")
        message = failure["failureDetails"]["message"]
        self.assertIn("AfterInstall failed on i-", message)
        self.assertIn("migration 42 failed", message)
        stops = [c for c in WORLD.spot_calls("PUT", "/stop") if c["status"] == 200]
        self.assertEqual(len(stops), 1)
        with WORLD.spot._lock:
            states = [d["state"] for d in WORLD.spot.deployments.values()]
        self.assertEqual(states, ["STOPPED"])
        for tag_value in WORLD.green_tags():
            self.assertFalse({s for s in WORLD.tagged_instances(tag_value).values()}
                             & {"pending", "running"})

    def test_greens_that_never_become_ready_fail_at_timeout_with_nothing_left_running(self):
        WORLD.spot.greens_fail_to_start = True
        WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        started = time.monotonic()
        result = self.invoke(job, WORLD.parameters(TIMEOUT="4"))
        self.assertEqual(result.kind, "response", result.body)
        self.assertLess(time.monotonic() - started, 30)
        failure = self.only_result(job)
        self.assertEqual(failure["failureDetails"]["type"], "JobFailed")
        self.assertIn("TIMEOUT (4 s) passed while waiting for the green instances",
                      failure["failureDetails"]["message"])
        self.assertEqual(WORLD.aws_calls("CreateDeployment"), [])
        for tag_value in WORLD.green_tags():
            self.assertFalse({s for s in WORLD.tagged_instances(tag_value).values()}
                             & {"pending", "running"})

    def test_a_long_deployment_continues_across_invocations(self):
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed",
                                "steps": ["Created"] + ["InProgress"] * 12 + ["Succeeded"]}
        # Polls 0.2 s apart, rounds up to 1.2 s apart: about 12 s of following CodeDeploy,
        # in invocations of 2 s (3 s less the 1 s reserve).
        WORLD.start_function(self.runtime, {"BLUEGREEN_POLL_SECONDS": "0.2"})
        job, token, invocations = WORLD.new_job(), None, 0
        while invocations < 40:
            invocations += 1
            result = self.invoke(job, WORLD.parameters(), token=token, timeout_ms=3000)
            self.assertEqual(result.kind, "response", result.body)
            answer = self.only_result(job)
            if "continuationToken" not in answer:
                break
            token = answer["continuationToken"]
            self.assertLessEqual(len(token), 2048)
            self.assertNotIn("outputVariables", answer)
            job = WORLD.new_job()  # CodePipeline continues under a new job id
        self.assertGreaterEqual(invocations, 3)
        final = self.only_result(job)
        self.assertEqual(final["type"], "success")
        self.assertIn("DeploymentId", final["outputVariables"])
        self.assertEqual(len([c for c in WORLD.spot_calls("POST") if c["status"] == 200]), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)

    def run_to_the_end(self, job, parameters, timeout_ms):
        """Invokes the job, and its continuations, until CodePipeline gets a final result;
        returns (the final result, the number of invocations)."""
        token, invocations = None, 0
        while invocations < 60:
            invocations += 1
            result = self.invoke(job, parameters, token=token, timeout_ms=timeout_ms)
            self.assertEqual(result.kind, "response", result.body)
            answer = self.only_result(job)
            if "continuationToken" not in answer:
                return answer, invocations
            token = answer["continuationToken"]
            self.assertLessEqual(len(token), 2048)
            job = WORLD.new_job()  # CodePipeline continues under a new job id
        self.fail("no final result after 60 invocations")

    def test_with_the_default_pacing_a_prompt_deployment_succeeds_within_45_seconds(self):
        # Spot launches the greens in 2 s, they pass their status checks at once, CodeDeploy
        # takes 6 s. No pacing variable is set; TIMEOUT 45 makes "within 45 s" the job's own
        # limit.
        WORLD.spot.launch_seconds = 2
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 6}
        WORLD.start_function(self.runtime, DEFAULT_PACING)
        job = WORLD.new_job()
        result = self.invoke(job, WORLD.parameters(TIMEOUT="45"), timeout_ms=120_000)
        self.assertEqual(result.kind, "response", result.body)
        success = self.only_result(job)
        self.assertEqual(success["type"], "success", success)
        self.assertNotIn("continuationToken", success)

    def test_a_fifteen_second_function_timeout_completes_through_continuations(self):
        # Default pacing and reserve; every invocation has 15 s.
        WORLD.spot.launch_seconds = 2
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed", "seconds": 20,
                                "steps": ["Created", "InProgress", "InProgress", "Succeeded"]}
        WORLD.start_function(self.runtime, DEFAULT_PACING)
        final, invocations = self.run_to_the_end(WORLD.new_job(), WORLD.parameters(), 15_000)
        self.assertEqual(final["type"], "success", final)
        self.assertGreaterEqual(invocations, 2)
        self.assertEqual(len([c for c in WORLD.spot_calls("POST") if c["status"] == 200]), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)

    def test_greens_that_codedeploy_finished_are_never_removed(self):
        # Spot never detaches blue; TIMEOUT passes in a continuation. The Spot fake really
        # terminates what a stop or a detach names: a flow that cleaned up here would leave
        # nothing running.
        WORLD.spot.finalise_seconds = None
        WORLD.start_function(self.runtime)
        final, _ = self.run_to_the_end(WORLD.new_job(), WORLD.parameters(TIMEOUT="8"), 3000)
        self.assertEqual(final["type"], "failure", final)
        self.assertEqual(final["failureDetails"]["type"], "JobFailed")
        message = final["failureDetails"]["message"]
        with WORLD.spot._lock:
            group = WORLD.spot.groups[GROUP]
            members = {i["instanceId"] for i in group["instances"]}
            deployment = list(WORLD.spot.deployments.values())[0]
            blues, spot_id = list(deployment["_blues"]), deployment["id"]
            spot_state = deployment["state"]
        self.assertIn("TIMEOUT (8 s) passed before Spot finished", message)
        self.assertIn(f"still has blue instance(s) {', '.join(sorted(blues))} attached", message)
        self.assertIn(spot_id, message)
        self.assertIn("Nothing was stopped, detached or terminated", message)
        green = WORLD.green_tags()[0]
        greens = WORLD.tagged_instances(green)
        self.assertEqual(len(greens), 2)
        self.assertEqual(set(greens.values()), {"running"})
        self.assertEqual(members, set(greens) | set(blues))
        self.assertNotEqual(spot_state, "STOPPED")
        self.assertEqual(WORLD.spot_calls("PUT"), [])  # no stop, no detachInstances

    def test_clouds_unreachable_until_timeout_is_system_unavailable(self):
        with WORLD.spot._lock:
            WORLD.spot.faults.replace([{"answer": "server_error", "times": 100_000}])
        WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        result = self.invoke(job, WORLD.parameters(TIMEOUT="3"))
        self.assertEqual(result.kind, "response", result.body)
        failure = self.only_result(job)["failureDetails"]
        self.assertEqual(failure["type"], "SystemUnavailable", failure)
        self.assertIn("TIMEOUT (3 s) passed", failure["message"])
        self.assertGreater(len(WORLD.spot_calls()), 1)
        with WORLD.spot._lock:
            WORLD.spot.faults.replace([])

    def test_the_same_job_delivered_twice_starts_one_deployment(self):
        second_runtime = self.new_runtime()
        WORLD.start_function(self.runtime)
        WORLD.start_function(second_runtime, name="duplicate")
        job = WORLD.new_job()
        results = {}
        threads = [threading.Thread(target=lambda r=r, k=k: results.update(
            {k: self.invoke(job, WORLD.parameters(), runtime=r)}))
            for k, r in (("first", self.runtime), ("second", second_runtime))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertEqual({r.kind for r in results.values()}, {"response"})
        outcomes = sorted(json.loads(r.body)["outcome"] for r in results.values())
        self.assertEqual(outcomes, ["already_reported", "succeeded"])
        self.assertEqual(self.only_result(job)["type"], "success")
        self.assertEqual(len([c for c in WORLD.spot_calls("POST") if c["status"] == 200]), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)
        # Delivered once more after it finished: nothing new starts.
        again = self.invoke(job, WORLD.parameters())
        self.assertEqual(json.loads(again.body)["outcome"], "already_reported")
        self.assertEqual(len([c for c in WORLD.spot_calls("POST") if c["status"] == 200]), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)

    def test_a_function_killed_mid_deployment_finishes_it_when_the_job_comes_again(self):
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "succeed",
                                "steps": ["Created"] + ["InProgress"] * 30 + ["Succeeded"]}
        first = WORLD.start_function(self.runtime, {"BLUEGREEN_POLL_SECONDS": "0.1"})
        job = WORLD.new_job()
        self.runtime.enqueue(WORLD.event(job, WORLD.parameters()))
        self.assertTrue(wait_for(lambda: [c for c in WORLD.aws_calls("GetDeployment")
                                          if c["status"] == 200], 30))
        first.process.kill()  # SIGKILL mid-flow: no report, no cleanup
        first.process.wait()
        self.assertEqual(WORLD.job_results(job), [])
        again = self.new_runtime()
        WORLD.start_function(again, name="redelivered")
        result = self.invoke(job, WORLD.parameters(), runtime=again)
        self.assertEqual(json.loads(result.body)["outcome"], "succeeded")
        self.assertEqual(len([c for c in WORLD.spot_calls("POST") if c["status"] == 200]), 1)
        self.assertEqual(len([c for c in WORLD.aws_calls("CreateDeployment")
                              if c["status"] == 200]), 1)
        self.runtime.violations.clear()  # the killed runtime never answered its invocation

    def test_invalid_parameters_are_a_configuration_error_before_any_cloud_call(self):
        WORLD.start_function(self.runtime)
        for broken, key in ((WORLD.parameters(DEPLOYMENT_GROUP=None), "DEPLOYMENT_GROUP"),
                            (WORLD.parameters(S3_BUNDLE="rar"), "S3_BUNDLE"),
                            (WORLD.parameters(GROUP_ID="my-group"), "GROUP_ID")):
            job = WORLD.new_job()
            result = self.invoke(job, broken)
            self.assertEqual(result.kind, "response", result.body)
            failure = self.only_result(job)
            self.assertEqual(failure["failureDetails"]["type"], "ConfigurationError")
            self.assertIn(key, failure["failureDetails"]["message"])
        self.assertEqual(WORLD.spot_calls(), [])
        self.assertEqual({c["operation"] for c in WORLD.aws_calls()}, {"PutJobFailureResult"})

    def test_spot_rate_limit_is_waited_out(self):
        with WORLD.spot._lock:
            WORLD.spot.faults.replace([{"method": "POST", "answer": "rate_limit",
                                        "reset_seconds": 1, "times": 1}])
        WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        result = self.invoke(job, WORLD.parameters())
        self.assertEqual(result.kind, "response", result.body)
        self.assertEqual(self.only_result(job)["type"], "success")
        posts = WORLD.spot_calls("POST")
        self.assertEqual([c["status"] for c in posts], [429, 200])

    def test_an_api_token_reference_is_resolved_from_ssm_or_secrets_manager(self):
        WORLD.start_function(self.runtime)
        for reference in ("ssm:/spot/api-token", "secretsmanager:spot/api-token"):
            WORLD.spot.reset()
            job = WORLD.new_job()
            result = self.invoke(job, WORLD.parameters(API_TOKEN=reference))
            self.assertEqual(result.kind, "response", result.body)
            self.assertEqual(self.only_result(job)["type"], "success", reference)
        job = WORLD.new_job()
        self.invoke(job, WORLD.parameters(API_TOKEN="ssm:/spot/missing"))
        failure = self.only_result(job)["failureDetails"]
        self.assertEqual(failure["type"], "ConfigurationError")
        self.assertIn("ssm:/spot/missing", failure["message"])

    def test_a_token_from_ssm_and_a_refused_token_are_never_echoed(self):
        # The places a token is most likely to leak: resolved from SSM and then used for a
        # deployment that fails, and refused by Spot (401), given as a reference or as it is.
        # tearDown searches everything the function produced; the messages are checked here.
        WORLD.start_function(self.runtime)
        with WORLD.aws._lock:
            WORLD.aws.script = {"outcome": "fail", "failing_event": "ValidateService"}
        job = WORLD.new_job()
        self.invoke(job, WORLD.parameters(API_TOKEN="ssm:/spot/api-token"))
        failure = self.only_result(job)["failureDetails"]
        self.assertEqual(failure["type"], "JobFailed")
        self.assertIn("ValidateService failed on i-", failure["message"])
        for token in ("ssm:/spot/wrong-token", WRONG_SPOT_TOKEN):
            job = WORLD.new_job()
            result = self.invoke(job, WORLD.parameters(API_TOKEN=token))
            self.assertEqual(result.kind, "response", result.body)
            failure = self.only_result(job)["failureDetails"]
            self.assertEqual(failure["type"], "PermissionError", failure)
            self.assertIn("API_TOKEN", failure["message"])
            self.assertEqual(leaks(WORLD.planted_secrets(), [("message", failure["message"]),
                                                             ("invocation result", result.body)]),
                             [])
        refused = [c for c in WORLD.spot_calls() if c["status"] == 401]
        self.assertGreaterEqual(len(refused), 2)

    def test_the_function_calls_pass_under_the_deploy_policy_and_others_are_denied(self):
        # A full run, with a token in SSM. tearDown replays its CodeDeploy and CodePipeline
        # calls against moto under the policy; EC2 and SSM went to moto in the first place.
        WORLD.start_function(self.runtime)
        job = WORLD.new_job()
        self.invoke(job, WORLD.parameters(API_TOKEN="ssm:/spot/api-token"))
        self.assertEqual(self.only_result(job)["type"], "success")
        # The cleanup call this run did not need is allowed too.
        self.assertNotIn(self.moto_verdict("codedeploy", "StopDeployment",
                                           {"deploymentId": "d-AB1CDEF23",
                                            "autoRollbackEnabled": True}),
                         ("AccessDenied", "AuthFailed"))
        # Calls outside the policy are denied.
        for service, operation, body in (
                ("ec2", "TerminateInstances", {"InstanceIds": ["i-0123456789abcdef0"]}),
                ("ec2", "RunInstances", {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1}),
                ("codedeploy", "CreateApplication", {"applicationName": "x"}),
                ("codedeploy", "DeleteDeploymentGroup", {"applicationName": APP,
                                                        "deploymentGroupName": DEPLOYMENT_GROUP}),
                ("ssm", "PutParameter", {"Name": "/x", "Value": "y", "Type": "String"}),
                ("s3", "ListBuckets", {})):
            self.assertEqual(self.moto_verdict(service, operation, body), "AccessDenied", operation)

    def test_runtime_errors_use_the_runtime_api(self):
        # Not a CodePipeline event: an invocation error, and the runtime goes on serving.
        WORLD.start_function(self.runtime)
        result = self.runtime.invoke({"Records": []}, timeout_ms=10_000, wait_seconds=30)
        self.assertEqual(result.kind, "error")
        self.assertEqual(result.error_type, "Runtime.InvalidEvent")
        self.assertIn("CodePipeline.job", json.loads(result.body)["errorMessage"])
        job = WORLD.new_job()
        self.assertEqual(self.invoke(job, WORLD.parameters(TIMEOUT="x")).kind, "response")
        # A handler other than the seed's: an init error, and the process ends.
        other = self.new_runtime()
        bootstrap = WORLD.start_function(other, {"_HANDLER": "index.handler"}, name="wrong-handler")
        self.assertTrue(wait_for(lambda: other.init_errors, 10))
        self.assertEqual(other.init_errors[0].error_type, "Runtime.InvalidConfiguration")
        self.assertIn("bluegreen.lambda_handler", other.init_errors[0].body)
        self.assertTrue(wait_for(lambda: bootstrap.process.poll() is not None, 10))
        self.assertEqual(other.next_calls, 0)

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def moto_verdict(service, operation, body):
        """"AccessDenied" when moto's IAM refuses the call, else what it answered."""
        client = WORLD.moto.client(service, who="user")
        try:
            client._make_api_call(operation, body)
            return "allowed"
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
                return "AccessDenied"
            if code in ("SignatureDoesNotMatch", "InvalidClientTokenId", "InvalidAccessKeyId"):
                return "AuthFailed"
            # moto answers JSON-protocol auth failures in XML, which botocore cannot read.
            if status == 403:
                return "AccessDenied"
            return code or str(status)


if __name__ == "__main__":
    unittest.main(verbosity=2)
