// The admin address bound to every interface: without a token the server refuses to start;
// with one, every admin endpoint (API, pages, event stream, metrics) answers 401 to a request
// without it and answers normally with it. The test reaches the server through 127.0.0.1.
"use strict";

const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { test } = require("node:test");

const { BINARY, Server, request } = require("./harness");

const TOKEN = "test-token-" + "7f3c9a1e5b2d4806";

// Every route of the admin address, with what it answers when the token is right.
const ENDPOINTS = [
  ["GET", "/api/health", null, 200],
  ["GET", "/api/status", null, 200],
  ["GET", "/api/deployments", null, 200],
  ["POST", "/api/deployments", "{}", 400],
  ["GET", "/api/deployments/d-000000000000", null, 404],
  ["GET", "/api/deployments/d-000000000000/logs", null, 404],
  ["POST", "/api/promote", "{\"deploymentId\":\"d-000000000000\"}", 404],
  ["POST", "/api/rollback", "{\"deploymentId\":\"d-000000000000\"}", 404],
  ["GET", "/", null, 200],
  ["GET", "/deployments/d-000000000000", null, 200],
  ["GET", "/api/stream", null, 200],
  ["GET", "/metrics", null, 200],
  ["GET", "/no/such/thing", null, 404],
  ["POST", "/api/shutdown", "{}", null],  // answered with the token only when the test ends
];

// The status of a request, without waiting for the end of a stream.
async function statusOf(url, method, headers, body) {
  const aborter = new AbortController();
  const timer = setTimeout(() => aborter.abort(), 15000);
  try {
    const response = await fetch(url, { method, headers, body, signal: aborter.signal });
    return { status: response.status, type: response.headers.get("content-type") || "" };
  } finally {
    clearTimeout(timer);
    aborter.abort();
  }
}

test("without a token the server refuses an address other machines reach", (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-refused-"));
  t.after(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env.BLUEGREEN_ADMIN_TOKEN;
  const refused = spawnSync(BINARY, ["server", "--state-dir", stateDir, "--admin", "0.0.0.0:0"],
    { env, encoding: "utf8", timeout: 30000 });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /BLUEGREEN_ADMIN_TOKEN/);
  assert.match(refused.stderr, /0\.0\.0\.0:0/);
});

test("on 0.0.0.0 every admin endpoint wants the token", { timeout: 300000 }, async (t) => {
  const server = await new Server({ admin: "0.0.0.0:0", token: TOKEN }).start();
  t.after(() => server.stop());

  for (const [method, path, body] of ENDPOINTS) {
    for (const headers of [{}, { Authorization: "Bearer " + TOKEN.slice(0, -1) + "x" }, { Authorization: TOKEN }]) {
      const answer = await statusOf(server.url + path, method, headers, body ?? undefined);
      assert.equal(answer.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
    }
  }
  const withToken = { Authorization: "Bearer " + TOKEN };
  for (const [method, path, body, expected] of ENDPOINTS) {
    if (expected === null) continue;
    const answer = await statusOf(server.url + path, method, withToken, body ?? undefined);
    assert.equal(answer.status, expected, `${method} ${path} with the token`);
  }

  // A browser (which cannot send the header when it navigates) gets the page, which asks.
  const page = await request(server.url + "/", { headers: { Accept: "text/html" } });
  assert.equal(page.status, 401);
  assert.match(page.body, /Admin token/);
  // EventSource cannot set headers either: the stream takes the token as ?token=.
  const stream = await statusOf(server.url + "/api/stream?token=" + TOKEN, "GET", {});
  assert.equal(stream.status, 200);
  assert.match(stream.type, /^text\/event-stream/);
  const elsewhere = await statusOf(server.url + "/api/status?token=" + TOKEN, "GET", {});
  assert.equal(elsewhere.status, 401, "the query token is only for the stream");

  // The CLI sends BLUEGREEN_ADMIN_TOKEN.
  const status = await server.cli(["status", "--output", "json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.ok(Array.isArray(JSON.parse(status.stdout).groups));
  server.token = "";
  const denied = await server.cli(["status"]);
  server.token = TOKEN;
  assert.equal(denied.code, 3);
  assert.match(denied.stderr, /BLUEGREEN_ADMIN_TOKEN/);
  assert.ok(!server.log().includes(TOKEN), "the token appears in the server's log");
});
