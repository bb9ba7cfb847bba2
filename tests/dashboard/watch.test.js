// `bluegreen status --watch` follows the running deployment to its end: outside a terminal it
// prints each log line once, then the outcome, and exits like `deploy` would.
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");

const { Server, freePort, helloParams, makeBundle, waitUntil } = require("./harness");

test("status --watch follows a deployment with plain lines outside a terminal", { timeout: 300000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const listen = `127.0.0.1:${await freePort()}`;

  const idle = await server.cli(["status", "--watch"]);
  assert.equal(idle.code, 4, "nothing to follow (exit 4, as rollback with nothing running): " + idle.stderr);
  assert.match(idle.stderr, /no deployment is running/);

  const deploying = server.deploy(helloParams(makeBundle(1, server.tmp), listen, { HEALTHY_THRESHOLD: "6" }));
  await waitUntil("the deployment runs", async () =>
    JSON.parse((await server.api("/api/status")).body).groups.some((g) => g.running));
  const watched = await server.cli(["status", "--watch"]);
  const deployed = await deploying;
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.equal(watched.code, 0, watched.stderr);

  const lines = watched.stdout.trim().split("\n");
  assert.ok(!watched.stdout.includes("\x1b["), "no terminal control sequences in a pipe");
  assert.ok(lines.some((line) => /health_gate\s+phase_ended/.test(line)), watched.stdout);
  // The outcome, then what the deployment cost.
  assert.match(lines[lines.length - 2], /succeeded/);
  assert.match(lines[lines.length - 1], /^cost: /);
  assert.equal(new Set(lines).size, lines.length, "a line was printed twice");
});
