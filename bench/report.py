#!/usr/bin/env python3
"""Turns the JSON results of one bench/run into its table (stdout) and docs/performance.md.

    report.py --cutover c.json --lambda l.json --economy e.json --scale s.json \
        --machine m.txt --command "bench/run" --markdown docs/performance.md
"""
import argparse
import json


def verdict(holds):
    return "PASS" if holds else "MISS"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def cutover_rows(c):
    rows = []
    for name in ("ours", "haproxy", "nginx", "direct"):
        r = c[name]
        errors = r["non2xx"] + r["socket_errors"]
        switches = f", {r['switches']} switches" if name != "direct" else ", no switching"
        goal, holds = ("0 errors, >= 10 switches", errors == 0 and r["switches"] >= 10) \
            if name == "ours" else ("-", None)
        rows.append(("cutover", f"{name}: req/s; p50; p99; errors",
                     f"{r['rps']:.0f}; {r['p50']:.2f} ms; {r['p99']:.2f} ms; {errors}{switches}",
                     goal, holds))
    ours, haproxy, direct, nginx = c["ours"], c["haproxy"], c["direct"], c["nginx"]
    rows.append(("cutover", "throughput ours/HAProxy", f"{ours['rps'] / haproxy['rps']:.2f}",
                 ">= 0.90", ours["rps"] / haproxy["rps"] >= 0.90))
    rows.append(("cutover", "p99 ours/HAProxy", f"{ours['p99'] / haproxy['p99']:.2f}",
                 "<= 1.25", ours["p99"] / haproxy["p99"] <= 1.25))
    rows.append(("cutover", "ours/nginx-reload: throughput; p99",
                 f"{ours['rps'] / nginx['rps']:.2f}; {ours['p99'] / nginx['p99']:.2f}", "-", None))
    rows.append(("cutover", "throughput ours/direct", f"{ours['rps'] / direct['rps']:.2f}",
                 "-", None))
    return rows


def switch_rows(s):
    rows = []
    for name, label in (("ours", "proxy, warm switch"), ("haproxy", "HAProxy runtime API"),
                        ("product", "bluegreen server + deploy")):
        r = s[name]
        errors = r["non2xx"] + r["socket_errors"]
        extra = (f", {r['deployments']} deployments" if name == "product"
                 else f", {r['switches']} switches")
        goal, holds = "-", None
        if name != "haproxy":
            goal, holds = "0 errors", errors == 0
        if name == "product":
            goal, holds = "0 errors, >= 15 deployments", errors == 0 and r["deployments"] >= 15
        rows.append(("switch (Python)", f"{label}: req/s; p90; p99; errors",
                     f"{r['rps']:.0f}; {r['p90']:.1f} ms; {r['p99']:.1f} ms; {errors}{extra}",
                     goal, holds))
    ours, haproxy, product = s["ours"], s["haproxy"], s["product"]
    rows.append(("switch (Python)", "proxy/HAProxy: throughput; p99",
                 f"{ours['rps'] / haproxy['rps']:.2f}; {ours['p99'] / haproxy['p99']:.2f}",
                 ">= 1.0; <= 0.5",
                 ours["rps"] >= haproxy["rps"] and ours["p99"] <= haproxy["p99"] / 2))
    rows.append(("switch (Python)", "server+deploy/HAProxy: throughput; p99",
                 f"{product['rps'] / haproxy['rps']:.2f}; {product['p99'] / haproxy['p99']:.2f}",
                 ">= 1.0; <= 1.0",
                 product["rps"] >= haproxy["rps"] and product["p99"] <= haproxy["p99"]))
    return rows


def lambda_rows(l):
    ours, python = l["ours"], l["python"]
    rows = [
        ("lambda", f"cold start, exec to first next (median of {l['runs']}): ours; Python",
         f"{ours['cold_start_ms']:.1f} ms; {python['cold_start_ms']:.1f} ms "
         f"(ratio {ours['cold_start_ms'] / python['cold_start_ms']:.3f})",
         "ours <= 5 ms", ours["cold_start_ms"] <= 5),
        ("lambda", "VmHWM after a whole Elastigroup deployment: ours; Python (one call each)",
         f"{mib(ours['vm_hwm_kib'])}; {mib(python['vm_hwm_kib'])} "
         f"(ratio {ours['vm_hwm_kib'] / python['vm_hwm_kib']:.2f})",
         "ours <= 10 MiB", ours["vm_hwm_kib"] <= 10 * 1024),
        ("lambda", "zip size (x86_64): ours; Python (+requests)",
         f"{ours['zip_bytes'] / 1e6:.2f} MB; {python['zip_bytes'] / 1e6:.1f} MB "
         f"(ratio {ours['zip_bytes'] / python['zip_bytes']:.1f})",
         "ours <= 3 MB", ours["zip_bytes"] <= 3e6),
    ]
    arm64 = l.get("arm64")
    if arm64 is None:
        rows.append(("lambda", "arm64 package", "not built (scripts/install-deps --arm64)",
                     "-", None))
    else:
        rows.append(("lambda", "zip size (arm64)", f"{arm64['zip_bytes'] / 1e6:.2f} MB",
                     "<= 3 MB", arm64["zip_bytes"] <= 3e6))
        rows.append(("lambda", "arm64 bootstrap under qemu: one whole deployment",
                     f"{arm64['result']} ({arm64['machine']}, "
                     f"{'static' if arm64['static'] else 'dynamic'}, files {arm64['files']})",
                     "success, static, only bootstrap",
                     arm64["result"] == "success" and arm64["static"] and
                     arm64["files"] == ["bootstrap"]))
    return rows


def scale_rows(s):
    rows = []
    for r in s:
        rows.append(("engine", f"CAPACITY {r['capacity']}: total; orchestration/instance; server VmHWM",
                     f"{r['total_s']:.2f} s; {r['orchestration_ms_per_instance']:.1f} ms; "
                     f"{mib(r['server_vm_hwm_kib'])}",
                     "<= 20 ms/instance", r["orchestration_ms_per_instance"] <= 20))
    by = {r["capacity"]: r["orchestration_s"] for r in s}
    if {1, 10, 50, 200} <= set(by):
        low = (by[50] - by[10]) / 40 * 1000
        high = (by[200] - by[50]) / 150 * 1000
        marginal = (by[200] - by[1]) / 199 * 1000
        rows.append(("engine", "marginal orchestration per added instance (1 -> 200)",
                     f"{marginal:.1f} ms", "<= 20 ms", marginal <= 20))
        rows.append(("engine", "linear growth: ms per added instance 10->50; 50->200",
                     f"{low:.1f}; {high:.1f}", "50->200 <= 1.5 x 10->50 + 1 ms",
                     high <= 1.5 * low + 1))
    return rows


def economy_rows(e):
    calls_per_minute = e["calls_per_minute"]
    timeline = e["timeline"]
    # The pause between two GetDeployment polls: the backoff. (The requests of one round go
    # out back to back; only the rounds are spaced.)
    polls = [at for at, name in timeline if name == "GetDeployment"]
    pauses = [b - a for a, b in zip(polls, polls[1:])]
    grows = len(pauses) >= 2 and all(b >= a - 0.5 for a, b in zip(pauses, pauses[1:])) and \
        pauses[-1] > pauses[0]
    return [
        ("cloud API", f"calls per deployment (CodeDeploy busy {e['codedeploy_seconds']:.0f} s)",
         f"{e['calls']} ({e['codedeploy_calls']} CodeDeploy/CodePipeline, {e['spot_calls']} Spot) "
         f"in {e['invocation_seconds']:.0f} s",
         "-", None),
        ("cloud API", "calls per minute while waiting",
         f"{calls_per_minute:.2f} ({e['waiting_calls']} in {e['waiting_seconds']:.0f} s)",
         "<= 6", calls_per_minute <= 6),
        ("cloud API", "shortest gap between two polling rounds while waiting",
         f"{min(pauses):.1f} s", ">= 1 s (no busy polling)", min(pauses) >= 1),
        ("cloud API", "pause between GetDeployment polls",
         " ".join(f"{g:.1f}" for g in pauses) + " s", "growing (backoff)", grows),
    ]


def prompt_rows(p):
    if not p:
        return []
    return [("cloud API",
             f"prompt deployment, default pacing: Lambda's own time (median of "
             f"{len(p['lambda_all_seconds'])}); the cloud's time (Spot launch "
             f"{p['spot_launch_seconds']} s + CodeDeploy {p['codedeploy_seconds']} s)",
             f"{p['lambda_seconds']:.1f} s; {p['cloud_seconds']} s",
             "<= 45 s", p["lambda_seconds"] <= 45)]


def table(rows):
    header = ("area", "figure", "measured", "goal", "holds")
    cells = [header] + [(a, f, m, g, "-" if h is None else verdict(h)) for a, f, m, g, h in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = ["| " + " | ".join(c.replace("|", "/").ljust(w) for c, w in zip(row, widths)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switch-only", help="print the switch rows of this file and stop")
    for name in ("cutover", "switch", "lambda", "economy", "scale", "machine", "command",
                 "markdown", "notes"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    load = lambda path: json.load(open(path))  # noqa: E731
    if args.switch_only:
        print(table(switch_rows(load(args.switch_only))))
        return
    economy = load(args.economy)["economy"]
    rows = (cutover_rows(load(args.cutover)) + switch_rows(load(args.switch)) +
            lambda_rows(load(getattr(args, "lambda"))) +
            scale_rows(load(args.scale)) + economy_rows(economy) +
            prompt_rows(load(args.economy).get("prompt")))
    text = table(rows)
    print(text)
    machine = open(args.machine).read().strip()
    notes = open(args.notes).read().strip() if args.notes else ""
    with open(args.markdown, "w") as f:
        f.write(f"""# Performance

Regenerated by one command, on one machine, in one run; the figures below are that run's.

```
{args.command}
```

## Machine

```
{machine}
```

## Results

{text}

"holds" is PASS when the measured figure meets the goal beside it, MISS when it does not, and
`-` for figures that are printed for comparison only.

{notes}
""")


if __name__ == "__main__":
    main()
