#!/usr/bin/env python3
"""Engine scale for bench/run: local blue/green deployments of CAPACITY 1, 10, 50, 200.

    engine_scale.py --bluegreen build/bin/bluegreen --responder build/bench/bench_responder \
        --capacities 1,10,50,200 --json out.json

For each capacity, a fresh `bluegreen server` (own state directory, admin on a free loopback
port) runs deployments of bench/scale_bundle: the first starts blue, each of the next --repeat
(3) replaces the one before (green launched, installed, health-gated, switched, blue drained
and stopped); the median of those, by orchestration time, is reported.
The bundle's only hook is ApplicationStart, which is bench_responder itself: it detaches a
responder on $PORT and returns once it listens, so every instance is healthy at once.
DRAIN_TIMEOUT and BLUE_TERMINATION_WAIT are 0 and HEALTHY_THRESHOLD 1: no waiting is asked for.

Figures, from the measured deployment's own record (phase timestamps, hook durations):
  total           finished - started
  hook time       the longest per-instance sum of hook durations (green's ApplicationStart,
                  blue's ApplicationStop if any): instances run their hooks in parallel, so
                  this is the hooks' share of the critical path
  orchestration   total - hook time: launching, installing, probing, routing, draining and
                  terminating done by bluegreen itself, health probes included
  per instance    orchestration / CAPACITY
  peak memory     VmHWM of the server process after both deployments
"""
import argparse
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url, path, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with _opener.open(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"{}")


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def instance_processes(root):
    """pids of processes whose INSTANCE_ROOT lies below `root` (what a failure may leave)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(b"INSTANCE_ROOT=" + root.encode()) for item in environ):
            found.append(int(entry))
    return found


def make_bundle(directory, responder):
    bundle = os.path.join(directory, "bundle")
    os.makedirs(bundle)
    shutil.copy(os.path.join(HERE, "scale_bundle", "appspec.yml"), bundle)
    shutil.copy(responder, os.path.join(bundle, "responder"))
    return bundle


def deploy(url, params, timeout):
    record = api(url, "/api/deployments", params)
    deployment_id = record["deploymentId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = api(url, f"/api/deployments/{deployment_id}")
        if record["status"] != "running":
            return record
        time.sleep(0.05)
    raise RuntimeError(f"deployment {deployment_id} still running after {timeout} s")


def figures(record, capacity):
    """What one blue-to-green deployment's record says about its cost."""
    total = when(record["finished"]) - when(record["started"])
    per_instance_hooks = {}
    for hook in record["hooks"]:
        per_instance_hooks[hook["instanceId"]] = (per_instance_hooks.get(hook["instanceId"], 0)
                                                  + hook["durationMs"] / 1000)
    hook_time = max(per_instance_hooks.values(), default=0.0)
    phases = {p["phase"]: round(when(p["ended"]) - when(p["started"]), 3)
              for p in record["phases"] if p["ended"]}
    orchestration = total - hook_time
    return {"capacity": capacity, "total_s": total, "hook_s": hook_time,
            "orchestration_s": orchestration,
            "orchestration_ms_per_instance": orchestration * 1000 / capacity,
            "hooks": len(record["hooks"]), "phases_s": phases}


def measure(binary, responder, capacity, timeout, repeat):
    tmp = tempfile.mkdtemp(prefix=f"bench-scale-{capacity}-")
    server = None
    try:
        bundle = make_bundle(tmp, responder)
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen([binary, "server", "--state-dir", os.path.join(tmp, "state"),
                                   "--admin", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=log, text=True)
        ready, _, _ = select.select([server.stdout], [], [], 30)
        match = ready and re.search(r"(http://\S+)", server.stdout.readline())
        if not match:
            raise RuntimeError("bluegreen server did not start")
        url = match.group(1)
        params = {"GROUP_ID": "scale", "APP_NAME": "scale", "DEPLOYMENT_GROUP": "bench",
                  "TIMEOUT": str(timeout), "LOCAL_PATH": bundle, "CAPACITY": str(capacity),
                  "LISTEN": f"127.0.0.1:{free_port()}", "HEALTH_CHECK_PATH": "/healthz",
                  "HEALTH_CHECK_INTERVAL": "0.1", "HEALTHY_THRESHOLD": "1",
                  "DRAIN_TIMEOUT": "0", "BLUE_TERMINATION_WAIT": "0",
                  # Its bundle serves on 127.0.0.1:$PORT, on this machine's network.
                  "ISOLATION": "none"}
        records = [deploy(url, params, timeout) for _ in range(1 + repeat)]
        for record in records:
            if record["status"] != "succeeded":
                raise RuntimeError(f"CAPACITY {capacity}: deployment {record['status']}: "
                                   f"{record.get('error')}")
        memory = vm_hwm_kib(server.pid)
        # The first deployment only starts blue; of the others, the median one is reported.
        rows = sorted((figures(record, capacity) for record in records[1:]),
                      key=lambda row: row["orchestration_s"])
        row = rows[len(rows) // 2]
        row.update(server_vm_hwm_kib=memory, measured_deployments=len(rows))
        api(url, "/api/shutdown", {}, timeout=300)
        server.wait(timeout=120)
        return row
    finally:
        if server and server.poll() is None:
            server.kill()
            server.wait()
        for pid in instance_processes(tmp):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bluegreen", required=True)
    parser.add_argument("--responder", required=True)
    parser.add_argument("--capacities", default="1,10,50,200")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3,
                        help="measured deployments per capacity; the median is reported")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    rows = []
    for capacity in map(int, args.capacities.split(",")):
        row = measure(args.bluegreen, args.responder, capacity, args.timeout, max(1, args.repeat))
        print(f"CAPACITY {capacity}: total {row['total_s']:.2f} s, orchestration "
              f"{row['orchestration_ms_per_instance']:.1f} ms/instance, server VmHWM "
              f"{row['server_vm_hwm_kib'] / 1024:.1f} MiB; phases {row['phases_s']}", file=sys.stderr)
        rows.append(row)
    with open(args.json, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
