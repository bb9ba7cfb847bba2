// GET /metrics of a real server: Prometheus text that a strict parser accepts, whose counters
// move with deployments and with requests through the traffic switch. Also the server's log,
// which in a file is one JSON object per line.
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");

const { Server, freePort, helloParams, makeBundle, request } = require("./harness");
const { parsePrometheus, valueOf } = require("./prometheus");

test("the parser refuses what Prometheus would refuse", () => {
  const good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n" +
    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";
  assert.equal(parsePrometheus(good).get("a_total").samples[0].labels.x, "q\"\\\n");
  const bad = {
    "buckets not cumulative": "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
    "no +Inf bucket": "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
    "count differs": "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
    "bad escape": "a{x=\"\\t\"} 1\n",
    "TYPE after samples": "a 1\n# TYPE a gauge\n",
    "families interleaved": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",
    "bad value": "a one\n",
    "bad label name": "a{1x=\"v\"} 1\n",
    "no final newline": "a 1",
  };
  for (const [what, text] of Object.entries(bad)) {
    assert.throws(() => parsePrometheus(text), Error, what);
  }
});

async function scrape(server) {
  const answer = await server.api("/metrics");
  assert.equal(answer.status, 200, answer.body);
  assert.match(answer.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(answer.body);
}

const succeeded = (metrics) =>
  valueOf(metrics, "bluegreen_deployments_total", "bluegreen_deployments_total", { group: "hello", outcome: "succeeded" });
const requests = (metrics, colour) =>
  valueOf(metrics, "bluegreen_proxy_requests_total", "bluegreen_proxy_requests_total", { group: "hello", colour });
const latencyCount = (metrics, colour) =>
  valueOf(metrics, "bluegreen_proxy_request_duration_seconds", "bluegreen_proxy_request_duration_seconds_count", { group: "hello", colour });
const installTimings = (metrics) =>
  valueOf(metrics, "bluegreen_phase_duration_seconds", "bluegreen_phase_duration_seconds_count", { phase: "install" });

// The proxy counts a request when its head arrives and records its latency once the answer
// has been sent, which may be just after the client read it: a scrape right after the last
// answer may miss that one. Scrapes until `ready` holds, for at most ten seconds.
async function scrapeUntil(server, ready) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const metrics = await scrape(server);
    if (ready(metrics) || Date.now() >= deadline) return metrics;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function call(url, times) {
  for (let i = 0; i < times; i++) {
    const answer = await request(url);
    assert.equal(answer.status, 200, answer.body);
  }
}

test("metrics parse and move with deployments and requests", { timeout: 600000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const listen = `127.0.0.1:${await freePort()}`;

  const empty = await scrape(server);
  for (const family of ["bluegreen_deployments_total", "bluegreen_phase_duration_seconds", "bluegreen_proxy_requests_total",
    "bluegreen_proxy_errors_total", "bluegreen_proxy_request_duration_seconds", "bluegreen_proxy_open_connections"]) {
    assert.ok(empty.has(family), `no ${family}`);
    assert.ok(empty.get(family).help, `${family} has no HELP`);
  }

  const first = await server.deploy(helloParams(makeBundle(1, server.tmp), listen));
  assert.equal(first.code, 0, first.stderr + server.log());
  const afterFirst = await scrape(server);
  assert.equal(succeeded(afterFirst), 1);
  assert.ok(installTimings(afterFirst) >= 1);
  assert.equal(valueOf(afterFirst, "bluegreen_proxy_open_connections", "bluegreen_proxy_open_connections", { group: "hello", colour: "green" }), 0);

  // With no deployment running, the serving fleet is blue.
  await call(`http://${listen}/`, 40);
  const afterRequests = await scrapeUntil(
    server, (m) => latencyCount(m, "blue") >= latencyCount(afterFirst, "blue") + 40);
  assert.ok(requests(afterRequests, "blue") >= requests(afterFirst, "blue") + 40);
  assert.ok(latencyCount(afterRequests, "blue") >= latencyCount(afterFirst, "blue") + 40);

  const second = await server.deploy(helloParams(makeBundle(2, server.tmp), listen));
  assert.equal(second.code, 0, second.stderr + server.log());
  await call(`http://${listen}/`, 10);
  const afterSecond = await scrapeUntil(
    server, (m) => requests(m, "blue") >= requests(afterRequests, "blue") + 10);
  assert.equal(succeeded(afterSecond), 2);
  assert.ok(installTimings(afterSecond) >= installTimings(afterFirst) + 1);
  // Version 1's fleet is gone, but what it served stays counted.
  assert.ok(requests(afterSecond, "blue") >= requests(afterRequests, "blue") + 10);
  assert.equal(valueOf(afterSecond, "bluegreen_deployments_running", "bluegreen_deployments_running", { group: "hello" }), 0);
});

test("the server's log in a file is one JSON object per line", { timeout: 300000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const deployed = await server.deploy(helloParams(makeBundle(1, server.tmp), `127.0.0.1:${await freePort()}`));
  assert.equal(deployed.code, 0, deployed.stderr + server.log());
  const lines = server.log().trim().split("\n");
  const records = lines.map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`not JSON: ${line}`);
    }
  });
  for (const record of records) {
    assert.match(record.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(["info", "warning", "error"].includes(record.level), record.level);
    assert.equal(typeof record.message, "string");
  }
  const id = JSON.parse(deployed.stdout.trim().split("\n").pop()).deploymentId;
  const ours = records.filter((r) => r.deployment_id === id);
  assert.ok(ours.some((r) => r.phase === "install" && r.instance), "no line about an instance during install");
  assert.ok(ours.some((r) => r.phase === "health_gate"));
});
