// Helpers for the dashboard tests: the real `bluegreen` binary, a server on free ports in a
// temporary state directory, hello bundles, bounded waits, and a clean-up that leaves no
// process behind.
//
// Environment (set by CTest): BLUEGREEN_BINARY (the bluegreen executable),
// BLUEGREEN_SOURCE_DIR (the repository, for examples/hello) and BLUEGREEN_ARTIFACTS (where
// screenshots go).
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const SOURCE_DIR = process.env.BLUEGREEN_SOURCE_DIR || path.resolve(__dirname, "..", "..");
const BINARY = process.env.BLUEGREEN_BINARY || path.join(SOURCE_DIR, "build", "bin", "bluegreen");
const ARTIFACTS = process.env.BLUEGREEN_ARTIFACTS || path.join(SOURCE_DIR, "build", "test-artifacts");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Polls `probe` until it returns something truthy; fails after `timeoutMs` saying `what`.
async function waitUntil(what, probe, timeoutMs = 60000, intervalMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`not within ${timeoutMs / 1000} s: ${what} (last: ${last})`);
}

// (status, body text) of a request; status 0 when nothing answered.
async function request(url, { method = "GET", headers = {}, body, timeoutMs = 10000 } = {}) {
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text(), headers: response.headers };
  } catch (error) {
    return { status: 0, body: String(error), headers: new Headers() };
  }
}

function makeBundle(version, directory) {
  const output = path.join(directory, `hello-${version}.tgz`);
  execFileSync(path.join(SOURCE_DIR, "examples", "hello", "make-bundle"), [String(version), output]);
  return output;
}

// Pids of processes whose environment has INSTANCE_ROOT below `directory`: instances of a
// server that could not stop them.
function instanceProcessesBelow(directory) {
  const found = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
    } catch {
      continue;
    }
    if (environ.some((item) => item.startsWith("INSTANCE_ROOT=" + directory))) found.push(Number(entry));
  }
  return found;
}

// `bluegreen server` with its own state directory, on a free admin port unless told otherwise.
class Server {
  constructor({ admin = "127.0.0.1:0", token = "", extraArgs = [] } = {}) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-dashboard-"));
    this.stateDir = path.join(this.tmp, "state");
    this.logPath = path.join(this.tmp, "server.log");
    this.admin = admin;
    this.token = token;
    this.extraArgs = extraArgs;
  }

  env() {
    const env = { ...process.env, BLUEGREEN_SERVER: this.url || "" };
    delete env.BLUEGREEN_ADMIN_TOKEN;
    if (this.token) env.BLUEGREEN_ADMIN_TOKEN = this.token;
    return env;
  }

  // Starts the server and learns its admin URL; always reached through 127.0.0.1.
  async start() {
    const log = fs.openSync(this.logPath, "a");
    this.process = spawn(BINARY, ["server", "--state-dir", this.stateDir, "--admin", this.admin, ...this.extraArgs], {
      env: this.env(),
      stdio: ["ignore", "pipe", log],
    });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.process.once("exit", (code) => resolve(code)));
    let output = "";
    this.process.stdout.on("data", (chunk) => (output += chunk));
    const url = await Promise.race([
      waitUntil("the server prints its admin URL", () => (output.match(/http:\/\/(\S+):(\d+)/) || [])[2], 30000, 50),
      this.exited.then((code) => {
        throw new Error(`bluegreen server exited with ${code}:\n${this.log()}`);
      }),
    ]);
    this.url = `http://127.0.0.1:${url}`;
    return this;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  authorization() {
    return this.token ? { Authorization: "Bearer " + this.token } : {};
  }

  api(pathname, options = {}) {
    return request(this.url + pathname, { ...options, headers: { ...this.authorization(), ...(options.headers || {}) } });
  }

  // Runs the CLI against this server: { code, stdout, stderr }.
  cli(args, { timeoutMs = 300000 } = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(BINARY, args, { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`bluegreen ${args[0]} took longer than ${timeoutMs / 1000} s\n${stderr}`));
      }, timeoutMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  deploy(params, options) {
    return this.cli(["deploy", "--params", JSON.stringify(params)], options);
  }

  // Stops the server with its instances (/api/shutdown), then whatever is left.
  async stop() {
    if (this.process && this.process.exitCode === null && this.url) {
      await this.api("/api/shutdown", { method: "POST", body: "{}", timeoutMs: 120000 });
      await Promise.race([this.exited, sleep(10000)]);
      this.stoppedWith = this.process.exitCode;
    }
    if (this.process && this.process.exitCode === null) {
      this.process.kill("SIGKILL");
      await this.exited;
    }
    for (const pid of instanceProcessesBelow(this.tmp)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const log = this.log();
    fs.rmSync(this.tmp, { recursive: true, force: true });
    // A server that ends unwell (a sanitizer's report, a crash) fails the test that ran it.
    if (this.stoppedWith !== undefined && this.stoppedWith !== 0) {
      throw new Error(`bluegreen server exited with ${this.stoppedWith} after /api/shutdown:\n${log.slice(-4000)}`);
    }
  }
}

// UserParameters for examples/hello on `listen`.
function helloParams(bundle, listen, overrides = {}) {
  return {
    GROUP_ID: "hello", APP_NAME: "hello", DEPLOYMENT_GROUP: "dev", TIMEOUT: "120",
    LOCAL_PATH: bundle, LISTEN: listen, CAPACITY: "2", HEALTH_CHECK_INTERVAL: "0.5",
    DRAIN_TIMEOUT: "2", BLUE_TERMINATION_WAIT: "1", ...overrides,
  };
}

module.exports = { ARTIFACTS, BINARY, Server, freePort, helloParams, makeBundle, request, sleep, waitUntil };
