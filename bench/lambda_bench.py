#!/usr/bin/env python3
"""Lambda figures for bench/run: cold start, memory and zip size of the packaged bootstrap next
to a Python 3 function (bench/lambda_python/bootstrap.py), and the cloud API calls of one
deployment whose CodeDeploy part takes --codedeploy-seconds of real time.

    lambda_bench.py --zip dist/bluegreen-lambda-x86_64.zip --runs 10 --json out.json

Everything runs on 127.0.0.1 against the test tree's fakes (tests/lambda/cloud_world.py).

* Cold start: the harness records time.monotonic() just before Popen of the function, and the
  Runtime API fake records time.monotonic() when the first GET .../invocation/next arrives (same
  process, same clock). Median of --runs runs, each with a fresh fake and a fresh process.
* Memory: VmHWM of the function's process after it answered one invocation: for bluegreen a
  whole Elastigroup deployment (Spot B/G deployment, CodeDeploy, job result) against the fakes;
  for Python one call to each of those services (a lower bound of the original's work).
* API economy: every request the function makes to the CodeDeploy/CodePipeline fake, the Spot
  fake and moto (EC2, SSM) is time-stamped; with the default poll setting, CodeDeploy stays
  InProgress for --codedeploy-seconds. Calls per minute of waiting = calls made while the
  deployment was waiting on the cloud (from the first CodeDeploy call to the last call) per
  minute of that span; the gaps between consecutive calls show the backoff.
* arm64 (--arm64-zip): the cross-compiled package's size, and one whole Elastigroup deployment
  by its bootstrap run under qemu-aarch64-static against the same fakes (a functional check:
  no time or memory figure, which would be qemu's).
* Prompt deployment: default pacing (no BLUEGREEN_* variable), Spot launching the greens 2 s
  after the create, status checks passing at once, CodeDeploy taking 6 s: the Lambda's own
  time (invocation to answer, the job reported) next to the cloud's time (2 + 6 s, what no
  orchestrator can save). Median of --prompt-runs runs.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lambda"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))

import aws_fake  # noqa: E402
import cloud_world  # noqa: E402
import spot_fake  # noqa: E402
from cloud_world import CloudWorld, wait_for  # noqa: E402
from lambda_runtime_fake import LambdaRuntimeFake  # noqa: E402

PYTHON_FUNCTION = os.path.join(HERE, "lambda_python", "bootstrap.py")
PYTHON_PACKAGES = ["requests", "urllib3", "idna", "charset_normalizer", "certifi"]


class StampedRuntime(LambdaRuntimeFake):
    """The Runtime API fake, remembering when the first `next` arrived."""

    def __init__(self):
        super().__init__()
        self.first_next = None
        # A function stopped after its first `next` resets that connection: not news.
        self._server.handle_error = lambda *args: None

    def _next(self):
        if self.first_next is None:
            self.first_next = time.monotonic()
        return super()._next()


def stamped(cls):
    """A fake class whose call log entries carry the monotonic time they arrived."""

    class Stamped(cls):
        def handle(self, request):
            at = time.monotonic()
            answer = super().handle(request)
            if not request.path.startswith("/__fake/"):
                with self._lock:
                    for call in reversed(self.calls):
                        if "at" not in call:
                            call["at"] = at
                            break
            return answer

    return Stamped


class SlowCodeDeploy(stamped(cloud_world.OneActiveDeploymentAwsFake)):
    """CodeDeploy deployments stay InProgress until `succeed_after` seconds after creation."""

    succeed_after = 0.0

    def _advance(self, deployment):
        if deployment["step"] >= 1 and aws_fake.epoch() - deployment["createTime"] < self.succeed_after:
            return
        super()._advance(deployment)


def unzip(zip_path):
    directory = tempfile.mkdtemp(prefix="bench-lambda-")
    cloud_world.unpack(zip_path, directory)
    return directory


def python_zip(directory):
    """The Python function as it would be shipped: its file plus requests and its
    dependencies (boto3 is part of Lambda's Python runtime)."""
    import importlib
    path = os.path.join(directory, "python-function.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.write(PYTHON_FUNCTION, "bootstrap.py")
        for name in PYTHON_PACKAGES:
            package = os.path.dirname(importlib.import_module(name).__file__)
            for root, dirs, files in os.walk(package):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for file in sorted(files):
                    full = os.path.join(root, file)
                    archive.write(full, os.path.relpath(full, os.path.dirname(package)))
    return os.path.getsize(path)


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cold_start_ms(argv, cwd, env):
    with StampedRuntime() as runtime:
        env = dict(env, AWS_LAMBDA_RUNTIME_API=runtime.address)
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_for(lambda: runtime.first_next is not None, 30, interval=0.002):
                raise RuntimeError(f"{argv[0]} never asked for an invocation")
            return (runtime.first_next - started) * 1000
        finally:
            stop(process)


def one_invocation(world, argv, cwd, env, timeout_ms, log_path, timeout="900"):
    """Runs the function for one invocation; returns (result, VmHWM KiB, job results, seconds)."""
    with StampedRuntime() as runtime:
        env = dict(env, AWS_LAMBDA_RUNTIME_API=runtime.address)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
        try:
            job = world.new_job()
            started = time.monotonic()
            result = runtime.invoke(world.event(job, world.parameters(TIMEOUT=timeout)),
                                    timeout_ms=timeout_ms, wait_seconds=timeout_ms / 1000 + 20)
            elapsed = time.monotonic() - started
            if result is None or result.kind != "response":
                raise RuntimeError(f"{argv[-1]}: no response: {result and result.body}; see {log_path}")
            memory = vm_hwm_kib(process.pid)
            return result, memory, world.job_results(job), elapsed
        finally:
            stop(process)


def elf_machine(path):
    """'x86_64', 'arm64' or another e_machine number, and whether the ELF file is static."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            raise RuntimeError(f"{path} is not a 64-bit ELF file")
        machine = int.from_bytes(header[18:20], "little")
        phoff = int.from_bytes(header[32:40], "little")
        phentsize = int.from_bytes(header[54:56], "little")
        phnum = int.from_bytes(header[56:58], "little")
        static = True
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if int.from_bytes(f.read(4), "little") in (2, 3):  # PT_DYNAMIC, PT_INTERP
                static = False
    return {62: "x86_64", 183: "arm64"}.get(machine, str(machine)), static


def run_arm64(world, zip_path, base_env, work, out):
    """The arm64 package: size, and one whole deployment under qemu."""
    directory = unzip(zip_path)
    try:
        bootstrap = os.path.join(directory, "bootstrap")
        machine, static = elf_machine(bootstrap)
        entry = {"zip_bytes": os.path.getsize(zip_path), "machine": machine, "static": static,
                 "files": sorted(os.listdir(directory))}
        world.reset()
        _, _, results, elapsed = one_invocation(world, ["qemu-aarch64-static", bootstrap],
                                                directory, base_env, 120_000,
                                                os.path.join(work, "arm64.log"))
        entry["result"] = results[0]["type"] if results else "none"
        entry["seconds"] = round(elapsed, 1)
        out["arm64"] = entry
        print(f"arm64: {entry}", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def economy(world, start):
    """Calls of one invocation, from the fakes' logs."""
    with world.aws._lock:
        aws_calls = [dict(c) for c in world.aws.calls]
    with world.spot._lock:
        spot_calls = [dict(c) for c in world.spot.calls]
    calls = sorted([(c["at"], c["operation"]) for c in aws_calls if "at" in c] +
                   [(c["at"], f"spot {c['method']} {c['path'].rsplit('/', 1)[-1]}")
                    for c in spot_calls if "at" in c])
    calls = [(at - start, name) for at, name in calls]
    first_codedeploy = next(at for at, name in calls if name == "CreateDeployment")
    waiting = [at for at, _ in calls if at >= first_codedeploy]
    span = waiting[-1] - waiting[0]
    polls = [at for at, name in calls if name == "GetDeployment"]
    spot = sum(1 for _, name in calls if name.startswith("spot "))
    return {
        "calls": len(calls),
        "spot_calls": spot,
        "codedeploy_calls": len(calls) - spot,
        "by_operation": {name: sum(1 for _, n in calls if n == name) for _, name in calls},
        "waiting_seconds": span,
        "waiting_calls": len(waiting),
        "calls_per_minute": len(waiting) / (span / 60) if span > 0 else float(len(waiting)),
        "waiting_gaps": [round(b - a, 2) for a, b in zip(waiting, waiting[1:])],
        "poll_gaps": [round(b - a, 1) for a, b in zip(polls, polls[1:])],
        "timeline": [(round(at, 1), name) for at, name in calls],
    }


PROMPT_LAUNCH_SECONDS, PROMPT_CODEDEPLOY_SECONDS = 2, 6


def run_prompt(world, ours, ours_dir, base_env, work, args, out):
    env = {k: v for k, v in base_env.items()
           if k not in ("BLUEGREEN_POLL_SECONDS", "BLUEGREEN_RESERVE_SECONDS",
                        "BLUEGREEN_CLEANUP_SECONDS")}
    times = []
    for run in range(args.prompt_runs):
        world.reset()
        world.aws.succeed_after = 0
        world.spot.launch_seconds = PROMPT_LAUNCH_SECONDS
        with world.aws._lock:
            world.aws.script = {"outcome": "succeed", "seconds": PROMPT_CODEDEPLOY_SECONDS}
        _, _, results, elapsed = one_invocation(world, ours, ours_dir, env, 900_000,
                                                os.path.join(work, f"prompt-{run}.log"),
                                                timeout="120")
        if not results or results[0]["type"] != "success" or "continuationToken" in results[0]:
            raise RuntimeError(f"the prompt deployment did not succeed at once: {results}")
        times.append(elapsed)
        print(f"prompt deployment {run + 1}: {elapsed:.1f} s", file=sys.stderr)
    out["prompt"] = {"lambda_seconds": statistics.median(times),
                     "lambda_all_seconds": [round(t, 2) for t in times],
                     "cloud_seconds": PROMPT_LAUNCH_SECONDS + PROMPT_CODEDEPLOY_SECONDS,
                     "spot_launch_seconds": PROMPT_LAUNCH_SECONDS,
                     "codedeploy_seconds": PROMPT_CODEDEPLOY_SECONDS}


def run_economy(world, ours, ours_dir, base_env, work, args, out):
    # API economy: default polling, CodeDeploy in progress for codedeploy_seconds.
    world.reset()
    world.aws.succeed_after = args.codedeploy_seconds
    env = dict(base_env)
    env.pop("BLUEGREEN_POLL_SECONDS")
    env["BLUEGREEN_RESERVE_SECONDS"] = "30"
    start = time.monotonic()
    _, _, results, elapsed = one_invocation(world, ours, ours_dir, env, 600_000,
                                            os.path.join(work, "economy.log"))
    if not results or results[0]["type"] != "success":
        raise RuntimeError(f"the slow deployment did not succeed: {results}")
    out["economy"] = economy(world, start)
    out["economy"]["codedeploy_seconds"] = args.codedeploy_seconds
    out["economy"]["invocation_seconds"] = elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codedeploy-seconds", type=float, default=600)
    parser.add_argument("--prompt-runs", type=int, default=3)
    parser.add_argument("--json", required=True)
    parser.add_argument("--arm64-zip", help="with --part start or all: the arm64 package, "
                        "checked under qemu-aarch64-static")
    parser.add_argument("--part", choices=["start", "economy", "prompt", "all-cloud", "all", "arm64"], default="all",
                        help="start: cold start, memory, zip size; economy: the API calls; "
                             "prompt: a deployment whose clouds answer at once; all-cloud: "
                             "prompt then economy; arm64: only the --arm64-zip check")
    args = parser.parse_args()
    # Stopped by bench/run: still stop moto, the fakes and the function.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    cloud_world.OneActiveDeploymentAwsFake = SlowCodeDeploy
    cloud_world.Ec2BackedSpotFake = stamped(cloud_world.Ec2BackedSpotFake)
    world = CloudWorld(args.zip).start()
    work = tempfile.mkdtemp(prefix="bench-lambda-work-")
    ours_dir = unzip(args.zip)
    out = {"runs": args.runs, "codedeploy_seconds": args.codedeploy_seconds}
    try:
        python = [sys.executable, PYTHON_FUNCTION]
        ours = [os.path.join(ours_dir, "bootstrap")]
        base_env = world.function_env(type("Unset", (), {"address": ""})())  # set per run

        if args.part == "arm64":
            run_arm64(world, args.arm64_zip, base_env, work, out)
            return
        if args.part == "economy":
            run_economy(world, ours, ours_dir, base_env, work, args, out)
            return
        if args.part in ("prompt", "all-cloud"):
            run_prompt(world, ours, ours_dir, base_env, work, args, out)
            if args.part == "all-cloud":
                run_economy(world, ours, ours_dir, base_env, work, args, out)
            return
        for name, argv, cwd in (("ours", ours, ours_dir), ("python", python, work)):
            times = [cold_start_ms(argv, cwd, base_env) for _ in range(args.runs)]
            out[name] = {"cold_start_ms": statistics.median(times),
                         "cold_start_all_ms": [round(t, 1) for t in times]}
            print(f"{name}: cold start median {statistics.median(times):.1f} ms of {len(times)}",
                  file=sys.stderr)

        # Memory after one whole invocation (fast fakes: polling every 0.05 s).
        for name, argv, cwd in (("ours", ours, ours_dir), ("python", python, work)):
            world.reset()
            result, memory, results, _ = one_invocation(world, argv, cwd, base_env, 120_000,
                                                        os.path.join(work, f"{name}.log"))
            if not results or results[0]["type"] != "success":
                raise RuntimeError(f"{name}: the invocation did not succeed: {results} {result.body}")
            out[name]["vm_hwm_kib"] = memory
        out["ours"]["zip_bytes"] = os.path.getsize(args.zip)
        out["python"]["zip_bytes"] = python_zip(work)
        if args.arm64_zip:
            run_arm64(world, args.arm64_zip, base_env, work, out)

        if args.part == "all":
            run_prompt(world, ours, ours_dir, base_env, work, args, out)
            run_economy(world, ours, ours_dir, base_env, work, args, out)
    finally:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        world.stop()
        shutil.rmtree(ours_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
