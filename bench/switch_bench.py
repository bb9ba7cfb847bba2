#!/usr/bin/env python3
"""Switching under load with the backend many teams run, for bench/run.

    switch_bench.py --proxy-bench build-bench/bench/proxy_bench \
        --bluegreen build-bench/bin/bluegreen --seconds 40 --json out.json

Backend: bench/python_backend.py (http.server + ThreadingMixIn, listen backlog 5, keep-alive),
two instances a fleet. Load: wrk -t2 -c64 --latency for --seconds, on each of three targets in
turn, in one run:
  ours      proxy_bench (the built-in proxy) between two pre-started pairs, switched every
            --switch-every s the way the engine does: warm, route, drain the old pair
  haproxy   HAProxy between the same two pairs, switched through its runtime API (green's
            servers ready, blue's in maintenance) on the same schedule
  product   `bluegreen server`: wrk against the group's LISTEN while deployments (POST
            /api/deployments, what `bluegreen deploy` sends) replace the fleet one after the
            other: each launches two new instances of bench/python_bundle, health-gates them,
            switches and stops the old pair (DRAIN_TIMEOUT 5, BLUE_TERMINATION_WAIT 0)
Everything listens on 127.0.0.1; everything started here is stopped on exit.
"""
import argparse
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
import threading
import time

# The admin API without the environment's HTTP proxy, and a deployment followed to its end.
from engine_scale import api, deploy

HERE = os.path.dirname(os.path.abspath(__file__))
processes = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, **kwargs):
    process = subprocess.Popen(args, **kwargs)
    processes.append(process)
    return process


def read_port(process, what):
    ready, _, _ = select.select([process.stdout], [], [], 30)
    match = ready and re.match(r"port (\d+)", process.stdout.readline())
    if not match:
        raise RuntimeError(f"{what} did not start")
    return int(match.group(1))


def python_backend(name):
    process = start([sys.executable, os.path.join(HERE, "python_backend.py"), "--name", name],
                    stdout=subprocess.PIPE, text=True)
    return read_port(process, f"python_backend {name}")


def ms(value):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(text):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not rps:
        raise RuntimeError(f"wrk failed:\n{text}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(rps.group(1)),
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
        "p90": ms(re.search(r"^\s+90%\s+(\S+)", text, re.M).group(1)),
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
    }


def run_wrk(url, seconds, switch=None, every=2.0):
    """wrk against url; `switch(colour)` is called every `every` s (first after half of it)
    while wrk runs. Returns the parsed figures and the number of switches."""
    wrk = start(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    switches = 0
    if switch:
        began = time.monotonic()
        colour = "green"
        while True:
            delay = began + every / 2 + switches * every - time.monotonic()
            try:
                wrk.wait(timeout=max(delay, 0))
                break
            except subprocess.TimeoutExpired:
                pass
            switch(colour)
            switches += 1
            colour = "blue" if colour == "green" else "green"
    output = wrk.communicate()[0]
    row = parse_wrk(output)
    row["switches"] = switches
    return row


def ours(proxy_bench, blue, green, seconds, every):
    process = start([proxy_bench, "--threads", "2", "--warm", "1", "--blue", ",".join(map(str, blue)),
                     "--green", ",".join(map(str, green))],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = read_port(process, "proxy_bench")

    def switch(colour):
        process.stdin.write(colour + "\n")
        process.stdin.flush()

    row = run_wrk(f"http://127.0.0.1:{port}/", seconds, switch, every)
    process.stdin.close()
    log = process.stdout.read()
    process.wait(timeout=30)
    warmed = [int(n) for n in re.findall(r"^warmed (\d+) connections", log, re.M)]
    row["warmed_per_switch"] = round(sum(warmed) / len(warmed), 1) if warmed else 0
    return row


def haproxy(work, blue, green, seconds, every):
    port = free_port()
    sock = os.path.join(work, "haproxy.sock")
    servers = "".join(f"  server blue{i} 127.0.0.1:{p}\n" for i, p in enumerate(blue))
    servers += "".join(f"  server green{i} 127.0.0.1:{p} disabled\n" for i, p in enumerate(green))
    config = os.path.join(work, "haproxy.cfg")
    with open(config, "w") as f:
        f.write(f"""global
  nbthread 2
  maxconn 4096
  stats socket {sock} mode 600 level admin
defaults
  mode http
  option http-keep-alive
  timeout connect 3s
  timeout client 60s
  timeout server 60s
frontend service
  bind 127.0.0.1:{port}
  default_backend be
backend be
{servers}""")
    start(["haproxy", "-db", "-f", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)

    def command(text):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall((text + "\n").encode())
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass

    def switch(colour):
        old = "blue" if colour == "green" else "green"
        command("; ".join([f"set server be/{colour}{i} state ready" for i in range(len(green))] +
                          [f"set server be/{old}{i} state maint" for i in range(len(blue))]))

    return run_wrk(f"http://127.0.0.1:{port}/", seconds, switch, every)


def product(binary, work, seconds):
    bundle = os.path.join(work, "bundle")
    shutil.copytree(os.path.join(HERE, "python_bundle"), bundle)
    shutil.copy(os.path.join(HERE, "python_backend.py"), bundle)
    server = start([binary, "server", "--state-dir", os.path.join(work, "state"),
                    "--admin", "127.0.0.1:0"], stdout=subprocess.PIPE,
                   stderr=open(os.path.join(work, "server.log"), "w"), text=True)
    ready, _, _ = select.select([server.stdout], [], [], 30)
    match = ready and re.search(r"(http://\S+)", server.stdout.readline())
    if not match:
        raise RuntimeError("bluegreen server did not start")
    url = match.group(1)
    listen = free_port()
    params = {"GROUP_ID": "web", "APP_NAME": "web", "DEPLOYMENT_GROUP": "bench",
              "TIMEOUT": "120", "LOCAL_PATH": bundle, "CAPACITY": "2",
              "LISTEN": f"127.0.0.1:{listen}", "HEALTH_CHECK_PATH": "/",
              "HEALTH_CHECK_INTERVAL": "0.2", "HEALTHY_THRESHOLD": "1",
              "DRAIN_TIMEOUT": "5", "BLUE_TERMINATION_WAIT": "0",
              # Its bundle serves on 127.0.0.1:$PORT, on this machine's network.
              "ISOLATION": "none"}
    first = deploy(url, params, 120)
    if first["status"] != "succeeded":
        raise RuntimeError(f"first deployment {first['status']}: {first.get('error')}")
    results = []
    stop = threading.Event()

    def deploy_loop():
        while not stop.is_set():
            results.append(deploy(url, params, 120))

    deployer = threading.Thread(target=deploy_loop)
    wrk_started = time.monotonic()
    deployer_started = False
    try:
        wrk = start(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency",
                     f"http://127.0.0.1:{listen}/"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        deployer.start()
        deployer_started = True
        output = wrk.communicate()[0]
    finally:
        stop.set()
        if deployer_started:
            deployer.join(timeout=180)
    elapsed = time.monotonic() - wrk_started
    row = parse_wrk(output)
    finished_in_run = [r for r in results]
    row["deployments"] = len(finished_in_run)
    row["deployments_succeeded"] = sum(r["status"] == "succeeded" for r in finished_in_run)
    row["seconds"] = round(elapsed, 1)
    try:
        api(url, "/api/shutdown", {}, timeout=120)
        server.wait(timeout=60)
    except Exception:  # the finally of main() kills it
        pass
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy-bench", required=True)
    parser.add_argument("--bluegreen", required=True)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--switch-every", type=float, default=2.0)
    parser.add_argument("--parts", default="ours,haproxy,product")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    parts = args.parts.split(",")
    work = tempfile.mkdtemp(prefix="bench-switch-")
    rows = {}
    try:
        blue = [python_backend(f"blue-{i}") for i in range(2)]
        green = [python_backend(f"green-{i}") for i in range(2)]
        if "ours" in parts:
            rows["ours"] = ours(args.proxy_bench, blue, green, args.seconds, args.switch_every)
            print("ours:", rows["ours"], file=sys.stderr)
        if "haproxy" in parts:
            rows["haproxy"] = haproxy(work, blue, green, args.seconds, args.switch_every)
            print("haproxy:", rows["haproxy"], file=sys.stderr)
        if "product" in parts:
            rows["product"] = product(args.bluegreen, work, args.seconds)
            print("product:", rows["product"], file=sys.stderr)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.kill()
            process.wait()
        # Instances the server left behind (it is killed above only if it did not stop).
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"INSTANCE_ROOT={work}".encode() in f.read():
                        os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    with open(args.json, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
