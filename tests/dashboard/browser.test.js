// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
// during a real local deployment: examples/hello version 1, then version 2 followed on the
// page without reloading it, then a rollback pressed and confirmed on the page.
"use strict";

const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { test } = require("node:test");
const { chromium } = require("playwright-core");

const { ARTIFACTS, Server, freePort, helloParams, makeBundle, request, waitUntil } = require("./harness");

const CHROMIUM = process.env.BLUEGREEN_CHROMIUM || "/usr/bin/chromium";

// Chromium with a fresh profile (playwright passes it as --user-data-dir), closed and removed
// when the test ends.
async function launchChromium(t) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1360, height: 1500 },
    timeout: 60000,
  });
  t.after(async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return browser;
}

test("a deployment followed live on the dashboard, then rolled back from it", { timeout: 600000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const listen = `127.0.0.1:${await freePort()}`;
  const v1 = makeBundle(1, server.tmp);
  const v2 = makeBundle(2, server.tmp);

  const first = await server.deploy(helloParams(v1, listen));
  assert.equal(first.code, 0, first.stderr + server.log());

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => message.type() === "error" && problems.push(message.text()));

  await page.goto(server.url + "/");
  await page.locator("tr[data-id] .pill[data-status=succeeded]").first().waitFor({ timeout: 30000 });
  // Marks this document: a reload would lose the mark.
  await page.evaluate(() => (window.sameDocument = true));

  // Version 2, with a long BLUE_TERMINATION_WAIT so that blue is there to roll back to.
  const second = server.deploy(helloParams(v2, listen, { BLUE_TERMINATION_WAIT: "600", HEALTHY_THRESHOLD: "3" }));
  const running = page.locator("tr[data-id]:has(.pill[data-status=running])");
  await running.waitFor({ timeout: 30000 });
  const id = await running.getAttribute("data-id");
  await running.locator("a").click();
  await page.waitForURL("**/deployments/" + id);

  // The phases advance on the page while we look at it.
  const seen = new Set();
  await waitUntil("the page shows the keep_blue phase running", async () => {
    for (const phase of await page.locator(".timeline li.running, .timeline li.passed").evaluateAll(
      (items) => items.map((item) => item.dataset.phase))) {
      seen.add(phase);
    }
    return seen.has("keep_blue") && (await page.locator(".timeline li.running[data-phase=keep_blue]").count()) === 1;
  }, 120000, 100);
  for (const phase of ["install", "health_gate", "allow_traffic", "block_traffic"]) {
    assert.ok(seen.has(phase), `the page never showed ${phase}: saw ${[...seen]}`);
  }

  // A green instance with its GreenIdentifier tag, as the API records it.
  const record = JSON.parse((await server.api("/api/deployments/" + id)).body);
  const greenTag = page.locator(`tr[data-colour=green] .tag[title="GreenIdentifier=${record.greenIdentifier}"]`);
  await greenTag.first().waitFor({ timeout: 30000 });
  assert.ok(record.greenIdentifier.length > 0);
  assert.match(await page.locator("#waiting").innerText(), /BLUE_TERMINATION_WAIT/);
  assert.equal(await page.locator("#serving").getAttribute("data-colour"), "green");

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });

  // Roll back from the page: the button asks first.
  await page.locator("#rollback").click();
  const dialog = page.locator("dialog#confirm");
  await dialog.waitFor({ state: "visible" });
  assert.match(await dialog.innerText(), /back to blue/);
  await page.locator("#confirm-ok").click();

  await page.locator("#status .pill[data-status=rolled_back]").waitFor({ timeout: 120000 });
  await page.locator("#serving[data-colour=blue]").waitFor({ timeout: 30000 });
  assert.match(await page.locator("#serving").innerText(), /Blue serves/);
  assert.match(await page.locator("#outcome").innerText(), /back on blue/);
  await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-rolled-back.png"), fullPage: true });

  const answer = await request(`http://${listen}/`);
  assert.equal(answer.body.trim(), "hello from version 1");
  const ended = await second;
  assert.equal(ended.code, 1, "deploy reports the rollback: " + ended.stderr);
  // Who asked is the user the server saw connect (the CLI and the browser run as this test's
  // user), never what a client claims.
  assert.equal(record.startedBy, os.userInfo().username);
  const rolledBack = JSON.parse((await server.api("/api/deployments/" + id)).body);
  assert.equal(rolledBack.rollbackBy, os.userInfo().username);

  assert.equal(await page.evaluate(() => window.sameDocument), true, "the page was reloaded");
  assert.deepEqual(problems, [], "the page reported errors");
});

test("a finished deployment's page says what blue and green running together cost", { timeout: 600000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const listen = `127.0.0.1:${await freePort()}`;
  const first = await server.deploy(helloParams(makeBundle(1, server.tmp), listen));
  assert.equal(first.code, 0, first.stderr + server.log());
  const second = await server.deploy(helloParams(makeBundle(2, server.tmp), listen));
  assert.equal(second.code, 0, second.stderr + server.log());
  const id = JSON.parse(second.stdout.trim().split("\n").pop()).deploymentId;
  const record = JSON.parse((await server.api("/api/deployments/" + id)).body);
  assert.equal(record.cost.instances, 4, JSON.stringify(record.cost));

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(server.url + "/deployments/" + id);
  const cost = page.locator("#outcome #cost");
  await cost.waitFor({ timeout: 30000 });
  const line = await cost.innerText();
  // A local deployment costs no money: the overlap, in instance-seconds.
  assert.equal(line, "Cost: " + record.cost.summary);
  assert.match(line, /^Cost: blue and green ran together for [\d.]+ s on 4 instance\(s\): [\d.]+ instance-seconds$/);
  assert.doesNotMatch(line, /\$/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-cost.png"), fullPage: true });
});

test("on an address other machines reach, the page asks for the admin token", { timeout: 300000 }, async (t) => {
  const token = "browser-token-" + "0f4e8d2c6a1b3957";
  const server = await new Server({ admin: "0.0.0.0:0", token }).start();
  t.after(() => server.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage();

  const first = await page.goto(server.url + "/");
  assert.equal(first.status(), 401);
  const login = page.locator("dialog#login");
  await login.waitFor({ state: "visible", timeout: 30000 });
  await page.locator("#login-token").fill("not-the-token-at-all");
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#login-error").filter({ hasText: "not accepted" }).waitFor({ timeout: 30000 });

  await page.locator("#login-token").fill(token);
  await page.locator("#login-form button[type=submit]").click();
  await page.locator("#deployments").getByText("No deployments yet").waitFor({ timeout: 30000 });
  await page.locator("#live[data-state=live]").waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("bluegreen.adminToken")), token);
});

// examples/hello version `version` unpacked into a folder (a LOCAL_PATH may be one), with
// `edit(folder)` applied.
function helloFolder(version, directory, edit) {
  const folder = path.join(directory, `hello-${version}`);
  fs.mkdirSync(folder, { recursive: true });
  execFileSync("tar", ["-xzf", makeBundle(version, directory), "-C", folder]);
  if (edit) edit(folder);
  return folder;
}

function insertAfter(file, marker, text) {
  const body = fs.readFileSync(file, "utf8");
  assert.ok(body.includes(marker), `${file} has no ${marker}`);
  fs.writeFileSync(file, body.replace(marker, marker + "\n" + text));
}

test("the page names the running hook, a wrong health path and keeps errors readable", { timeout: 600000 }, async (t) => {
  const server = await new Server().start();
  t.after(() => server.stop());
  const listen = `127.0.0.1:${await freePort()}`;
  const previewListen = `127.0.0.1:${await freePort()}`;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });

  const v1 = makeBundle(1, server.tmp);
  const first = await server.deploy(helloParams(v1, listen));
  assert.equal(first.code, 0, first.stderr + server.log());

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));

  // A deployment refused because its LISTEN is taken leaves no group on the page.
  const holder = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => holder.once("listening", resolve));
  t.after(() => holder.close());
  const refused = await server.deploy(helloParams(v1, `127.0.0.1:${holder.address().port}`, { GROUP_ID: "ghost" }));
  assert.notEqual(refused.code, 0);
  await page.goto(server.url + "/");
  await page.locator("#groups h2", { hasText: "hello" }).waitFor({ timeout: 30000 });
  assert.deepEqual(await page.locator("#groups h2").allInnerTexts(), ["hello"]);

  // Install takes a while: the banner names the hook and the instances it runs on. Promotion
  // is manual, and Promote shows only once green waits for it.
  const slow = helloFolder(2, server.tmp, (folder) =>
    insertAfter(path.join(folder, "scripts", "after_install.sh"), "set -euo pipefail", "sleep 4"));
  const second = server.deploy(helloParams(slow, listen, { PROMOTION: "manual", PREVIEW_LISTEN: previewListen }));
  const running = page.locator("tr[data-id]:has(.pill[data-status=running])");
  await running.waitFor({ timeout: 30000 });
  const id = await running.getAttribute("data-id");
  await running.locator("a").click();
  await page.waitForURL("**/deployments/" + id);
  await page.locator("#waiting", { hasText: "AfterInstall (scripts/after_install.sh) on" }).waitFor({ timeout: 60000 });
  // The hooks card fills as hooks end, and shows the ones running now.
  assert.ok(await page.locator("#hooks tr.hook-running[data-event=AfterInstall]").count() >= 1);
  assert.ok(await page.locator("#hooks tr[data-event=BeforeInstall] .exit-ok").count() >= 1);
  assert.equal(await page.locator("#promote").count(), 0, "nothing to promote during install");
  assert.equal(await page.locator("#preview").count(), 0, "green is not on the preview listener yet");
  await shot(page, "dashboard-running-hook.png");

  await page.locator("#promote:enabled").waitFor({ timeout: 60000 });
  assert.equal(await page.locator("#preview").innerText(), previewListen);
  await page.locator("#promote").click();
  await page.locator("#confirm-ok").click();
  await page.locator("#status .pill[data-status=succeeded]").waitFor({ timeout: 120000 });
  assert.equal((await second).code, 0);
  assert.equal(await page.locator("#promote").count(), 0);
  // The group's preview listener is still open, but no deployment shows anything on it.
  const status = JSON.parse((await server.api("/api/status")).body);
  assert.equal(status.groups[0].previewListen, previewListen);
  assert.equal(await page.locator("#preview").count(), 0, "a preview listener of no deployment");

  // A wrong HEALTH_CHECK_PATH is named in the banner during the health gate.
  const wrongPath = server.deploy(helloParams(v1, listen, { HEALTH_CHECK_PATH: "/health", TIMEOUT: "30" }));
  await page.goto(server.url + "/");
  const checking = page.locator("tr[data-id]:has(.pill[data-status=running])");
  await checking.waitFor({ timeout: 30000 });
  await checking.locator("a").click();
  await page.locator("#waiting", { hasText: "GET /health answered 404 on every green: set HEALTH_CHECK_PATH" })
    .waitFor({ timeout: 60000 });
  await shot(page, "dashboard-wrong-health-path.png");
  assert.equal((await wrongPath).code, 1);

  // A failed deployment's error keeps its lines on its page; the history shows its first.
  const failing = helloFolder(3, server.tmp, (folder) =>
    insertAfter(path.join(folder, "scripts", "validate.sh"), "set -uo pipefail",
      "echo 'first problem' >&2\necho 'second problem' >&2\nexit 1"));
  const failed = await server.deploy(helloParams(failing, listen));
  assert.equal(failed.code, 1);
  const failedId = JSON.parse(failed.stdout.trim().split("\n").pop()).deploymentId;
  await page.goto(server.url + "/deployments/" + failedId);
  const error = page.locator("#outcome .error-text");
  await error.waitFor({ timeout: 30000 });
  assert.match(await error.innerText(), /first problem\nsecond problem/);
  assert.equal(await error.evaluate((e) => getComputedStyle(e).whiteSpace), "pre-wrap");
  assert.match(await page.locator(".timeline li.failed .message").innerText(), /first problem\nsecond problem/);
  await shot(page, "dashboard-failed.png");

  await page.goto(server.url + "/");
  const row = page.locator(`tr[data-id="${failedId}"]`);
  await row.waitFor({ timeout: 30000 });
  const line = await row.locator(".error-line").innerText();
  assert.ok(line.length > 0 && !line.includes("second problem"), line);
  assert.match(await row.locator(".error-line").getAttribute("title"), /first problem\nsecond problem/);
  assert.equal(await row.locator(".revision").innerText(), "hello-3");
  assert.equal(await row.locator(".revision").getAttribute("title"), "local:" + failing);
  assert.match(await row.locator(".started").innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.match(await row.locator(".duration").innerText(), /\d/);
  const firstRow = page.locator("tr[data-id]").last();
  assert.equal(await firstRow.locator(".revision").innerText(), "hello-1.tgz");
  await shot(page, "dashboard-history.png");
  assert.deepEqual(problems, [], "the page reported errors");
});
