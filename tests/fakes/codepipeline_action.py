"""The pieces of a CodePipeline Lambda action under test that every world shares.

* ``job_event``: the event CodePipeline invokes the function with (the job, its
  UserParameters, the artifact credentials every event carries, a continuation token).
* ``CodePipelineJobs``: jobs registered with the CodeDeploy/CodePipeline fake (aws_fake.py),
  which accepts results only for jobs it knows, and the results the function sent for them.
* ``runtime_env``: what the function's environment needs to serve the Runtime API fake
  (lambda_runtime_fake.py).
* ``FunctionProcess``: a ``bootstrap`` started with exactly the environment it is given, its
  output appended to a log of its own.
"""
import json
import signal
import subprocess
import uuid

# The artifact credentials every CodePipeline event carries (the function has no use for them).
ARTIFACT_KEY_ID = "ASIAPLANTEDARTIFACT0"
ARTIFACT_SECRET_KEY = "planted-artifact-secret-0d6c"
ARTIFACT_SESSION_TOKEN = "planted-artifact-session-token-91ab"
HANDLER = "bluegreen.lambda_handler"


def job_event(job_id, parameters, continuation_token=None, function_name="bluegreen"):
    """The Lambda event of CodePipeline job `job_id`; `parameters` a dict (sent as JSON) or
    the UserParameters text itself."""
    data = {
        "actionConfiguration": {"configuration": {
            "FunctionName": function_name,
            "UserParameters": parameters if isinstance(parameters, str) else json.dumps(parameters)}},
        "inputArtifacts": [],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": ARTIFACT_KEY_ID,
                                "secretAccessKey": ARTIFACT_SECRET_KEY,
                                "sessionToken": ARTIFACT_SESSION_TOKEN},
    }
    if continuation_token is not None:
        data["continuationToken"] = continuation_token
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}


class CodePipelineJobs:
    """The jobs of the CodeDeploy/CodePipeline fake `aws` (an aws_fake.AwsFake)."""

    def __init__(self, aws):
        self.aws = aws

    def new_job(self):
        """Registers a new job (InProgress, no result yet); returns its id."""
        job_id = str(uuid.uuid4())
        with self.aws._lock:
            self.aws.jobs[job_id] = {"state": "InProgress", "results": []}
        return job_id

    def results(self, job_id):
        """Every result the fake accepted for `job_id`, in order: {"type": "success" |
        "failure", "executionDetails", "outputVariables", "continuationToken",
        "failureDetails"} as sent."""
        with self.aws._lock:
            return list(self.aws.jobs[job_id]["results"])

    def results_sent(self):
        """(where, result) of every result of every job."""
        with self.aws._lock:
            return [(f"result {n} of job {job_id}", result)
                    for job_id, job in self.aws.jobs.items()
                    for n, result in enumerate(job["results"])]


def runtime_env(runtime):
    """The variables Lambda gives a custom runtime, for the Runtime API fake `runtime`."""
    return {"AWS_LAMBDA_RUNTIME_API": runtime.address, "_HANDLER": HANDLER}


class FunctionProcess:
    """`argv` (a bootstrap) started from `cwd` with exactly `env`; its stdout and stderr are
    appended to `log_path`."""

    def __init__(self, argv, env, log_path, cwd=None, preexec_fn=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        preexec_fn=preexec_fn)

    def kill(self):
        """SIGKILL: the function dies where it stands (no report, no clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; closes the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def log_lines(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()
