// The bluegreen dashboard: a list of deployments and a page per deployment, kept current by
// the server's event stream (GET /api/stream). Everything shown comes from the admin API; text
// from the server is always inserted as text, never as markup.
"use strict";

const TOKEN_KEY = "bluegreen.adminToken";
const PHASE_NAMES = {
  validate: "Validate", fetch_revision: "Fetch revision", launch_green: "Launch green",
  install: "Install", health_gate: "Health gate", await_promotion: "Await promotion",
  allow_traffic: "Allow traffic", block_traffic: "Block traffic", keep_blue: "Keep blue",
  terminate_blue: "Terminate blue", clean_up: "Clean up", roll_back: "Roll back",
};
const STATUS_NAMES = {
  running: "Running", succeeded: "Succeeded", failed: "Failed", rolled_back: "Rolled back",
};

// ---------- small helpers ----------

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "style") element.style.cssText = value;  // (CSP forbids style attributes)
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

// The server's clock minus ours, learnt from serverTime; countdowns use the server's.
let clockOffset = 0;
const serverNow = () => Date.now() + clockOffset;

function durationText(ms) {
  if (!(ms >= 0)) return "";
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = Math.floor(ms / 1000);
  if (s < 60) return ms < 10000 ? (ms / 1000).toFixed(1) + " s" : s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
  return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
}

function clockText(ms) {
  if (!(ms > 0)) return "0:00";
  const s = Math.ceil(ms / 1000);
  const hours = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hours ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

function timeText(iso) {
  if (!iso) return "";
  const t = new Date(iso);
  const today = new Date().toDateString() === t.toDateString();
  const time = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return today ? time : `${t.toISOString().slice(0, 10)} ${time}`;
}

// Date and time, always with the date: the history spans days.
function dateTimeText(iso) {
  if (!iso) return "";
  const t = new Date(iso);
  const day = `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, "0")}-${String(t.getDate()).padStart(2, "0")}`;
  return day + " " + t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// The file a revision names ("local:/srv/builds/hello-2.tgz" -> "hello-2.tgz").
function revisionName(revision) {
  if (!revision) return "";
  const trimmed = revision.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return name || revision;
}

const firstLine = (text) => (text || "").split("\n")[0];

function logTime(iso) {
  const t = new Date(iso);
  return t.toLocaleTimeString([], { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0");
}

function elapsed(started, finished) {
  if (!started) return "";
  const end = finished ? Date.parse(finished) : serverNow();
  return durationText(end - Date.parse(started));
}

// A link to the service behind a LISTEN address; a wildcard host is reached by this page's host.
function serviceLink(listen) {
  if (!listen) return "—";
  const at = listen.lastIndexOf(":");
  let host = listen.slice(0, at);
  if (host === "0.0.0.0" || host === "[::]" || host === "::") host = location.hostname;
  const url = `http://${host}:${listen.slice(at + 1)}/`;
  return h("a", { class: "mono", href: url, target: "_blank", rel: "noopener" }, listen);
}

const statusPill = (status) =>
  h("span", { class: `pill ${status}`, "data-status": status }, STATUS_NAMES[status] || status);
const colourChip = (colour) => h("span", { class: `colour ${colour}` }, colour);
const phaseName = (phase) => PHASE_NAMES[phase] || phase;

let toastTimer = 0;
function toast(text, isError) {
  const box = $("toast");
  box.textContent = text;
  box.className = "toast shown" + (isError ? " error" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.className = "toast"), 4200);
}

// ---------- the admin API ----------

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) throw new Unauthorized("the admin token is missing or wrong");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

function askForToken(wrong) {
  setLive("locked", "token needed");
  const dialog = $("login");
  $("login-error").textContent = wrong ? "That token was not accepted." : "";
  if (!dialog.open) dialog.showModal();
  $("login-token").focus();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("login-token").value.trim());
  $("login").close();
  start();
});

function confirmAction(title, text, label) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = label;
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

// ---------- the live feed ----------

let source = null;

function setLive(state, text) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = text;
}

function follow(query, handlers) {
  if (source) source.close();
  const params = new URLSearchParams(query);
  if (token()) params.set("token", token());
  const url = "/api/stream" + (params.toString() ? "?" + params : "");
  source = new EventSource(url);
  const current = source;
  current.onopen = () => setLive("live", "live");
  for (const [event, handler] of Object.entries(handlers)) {
    current.addEventListener(event, (message) => {
      if (current === source) handler(JSON.parse(message.data));
    });
  }
  current.onerror = () => {
    if (current !== source) return;
    setLive("reconnecting", "reconnecting");
    if (current.readyState === EventSource.CLOSED) {
      // The server refused the stream: find out why, then try again.
      api("/api/health")
        .then(() => setTimeout(() => current === source && follow(query, handlers), 2000))
        .catch((error) => (error instanceof Unauthorized ? askForToken(true) : setTimeout(() => follow(query, handlers), 2000)));
    }
  };
}

// ---------- the list of deployments ----------

const listState = { deployments: new Map(), groups: [] };

function showList() {
  $("crumbs").replaceChildren(h("span", {}, "Deployments"));
  document.title = "Deployments · bluegreen";
  listState.deployments.clear();
  $("main").replaceChildren(
    h("div", { class: "grid groups", id: "groups" }),
    h("section", { class: "card", id: "deployments" },
      h("header", {}, h("h2", {}, "Deployments"), h("span", { class: "muted small", id: "count" })),
      h("div", { id: "deployment-table" }, h("div", { class: "empty" }, "Loading…"))));
  follow({}, {
    deployments: (data) => {
      for (const d of data.deployments) listState.deployments.set(d.deploymentId, d);
      renderDeployments();
    },
    deployment: (d) => {
      listState.deployments.set(d.deploymentId, d);
      renderDeployments();
    },
    status: (status) => {
      listState.groups = status.groups;
      renderGroups();
    },
  });
}

function renderGroups() {
  const cards = listState.groups.map((g) => {
    const serving = g.serving;
    const connections = g.traffic.reduce((sum, t) => sum + t.activeConnections, 0);
    return h("section", { class: "card" },
      h("header", {}, h("h2", {}, g.group), g.running ? statusPill("running") : null),
      h("dl", { class: "facts" },
        g.provider === "elastigroup" || g.provider === "asg"
          ? h("div", { style: "grid-column: 1 / -1" }, h("dt", {}, "Cloud"),
            h("dd", {}, g.provider === "asg"
              ? "EC2 Auto Scaling + CodeDeploy (target groups move from blue's group to green's)"
              : "Spot Elastigroup + CodeDeploy (Spot moves the fleets)"))
          : [h("div", {}, h("dt", {}, "Service"), h("dd", {}, serviceLink(g.listen))),
            h("div", {}, h("dt", {}, "Open connections"), h("dd", {}, connections))],
        g.listenError ? h("div", { style: "grid-column: 1 / -1" }, h("dt", {}, "Listener"),
          h("dd", { class: "listen-error" }, g.listenError)) : null,
        h("div", { style: "grid-column: 1 / -1" }, h("dt", {}, "Serving"),
          h("dd", {}, serving
            ? [h("a", { class: "mono", href: "/deployments/" + serving.deploymentId }, serving.deploymentId), " ",
               h("span", { class: "muted", title: serving.revision }, revisionName(serving.revision))]
            : h("span", { class: "muted" }, "nothing yet"))),
        g.running ? h("div", { style: "grid-column: 1 / -1" }, h("dt", {}, "Deploying now"),
          h("dd", {}, h("a", { class: "mono", href: "/deployments/" + g.running.deploymentId }, g.running.deploymentId),
            " ", h("span", { class: "muted" }, phaseName(g.running.phase)))) : null));
  });
  $("groups").replaceChildren(...cards);
}

function renderDeployments() {
  const rows = [...listState.deployments.values()].sort((a, b) => b.started.localeCompare(a.started));
  $("count").textContent = rows.length === 1 ? "1 deployment" : rows.length + " deployments";
  if (!rows.length) {
    $("deployment-table").replaceChildren(h("div", { class: "empty" },
      "No deployments yet. Start one with ", h("code", {}, "bluegreen deploy --params params.json"), "."));
    return;
  }
  const table = h("table", {},
    h("thead", {}, h("tr", {}, ["Deployment", "Status", "Group", "Revision", "Phase", "Started", "Duration", "Started by", "Error"]
      .map((title) => h("th", {}, title)))),
    h("tbody", {}, rows.map((d) => h("tr", {
      class: "link", "data-id": d.deploymentId,
      onclick: (event) => { if (!event.target.closest("a")) navigate("/deployments/" + d.deploymentId); },
    },
    h("td", { class: "nowrap" }, h("a", { class: "mono", href: "/deployments/" + d.deploymentId }, d.deploymentId)),
    h("td", {}, statusPill(d.status)),
    h("td", {}, d.group),
    h("td", { class: "mono ellipsis revision", title: d.revision }, revisionName(d.revision)),
    h("td", { class: "nowrap" }, phaseName(d.phase)),
    h("td", { class: "nowrap started", title: d.started }, dateTimeText(d.started)),
    h("td", { class: "nowrap num duration", "data-started": d.started, "data-finished": d.finished || "" }, elapsed(d.started, d.finished)),
    h("td", { class: "mono small" }, d.startedBy),
    h("td", { class: "small ellipsis error-line", title: d.error || "" }, firstLine(d.error))))));
  $("deployment-table").replaceChildren(table);
}

// ---------- one deployment ----------

const pageState = { id: "", deployment: null, status: null, events: [] };

function showDeployment(id) {
  Object.assign(pageState, { id, deployment: null, status: null, events: [] });
  $("crumbs").replaceChildren(h("a", { href: "/" }, "Deployments"), h("span", { class: "sep" }, "/"),
    h("span", { class: "mono" }, id));
  document.title = id + " · bluegreen";
  $("main").replaceChildren(h("div", { class: "empty" }, "Loading…"));
  follow({ deployment: id }, {
    deployment: (d) => {
      clockOffset = Date.parse(d.serverTime) - Date.now();
      pageState.deployment = d;
      renderDeployment();
    },
    logs: (data) => {
      pageState.events = data.events;
      renderLog(true);
    },
    log: (event) => {
      pageState.events.push(event);
      appendLogLine(event);
    },
    status: (status) => {
      pageState.status = status.groups.find((g) => pageState.deployment && g.group === pageState.deployment.group) ||
        status.groups.find((g) => g.running && g.running.deploymentId === id) || null;
      pageState.allGroups = status.groups;
      if (pageState.deployment) renderTraffic();
    },
  });
}

function renderDeployment() {
  const d = pageState.deployment;
  if (!pageState.status && pageState.allGroups) {
    pageState.status = pageState.allGroups.find((g) => g.group === d.group) || null;
  }
  if (!$("deployment-page")) {
    $("main").replaceChildren(h("div", { id: "deployment-page" },
      h("div", { class: "title-row" },
        h("h1", {}, d.deploymentId), h("span", { id: "status" }), h("span", { class: "spacer" }),
        h("div", { class: "actions", id: "actions" })),
      h("div", { id: "now" }),
      h("section", { class: "card" }, h("dl", { class: "facts", id: "facts" })),
      h("div", { class: "grid two" },
        h("section", { class: "card" }, h("header", {}, h("h2", {}, "Phases")), h("ol", { class: "timeline", id: "timeline" })),
        h("section", { class: "card" }, h("header", {}, h("h2", {}, "Traffic")), h("div", { class: "body", id: "traffic" }))),
      h("section", { class: "card" }, h("header", {}, h("h2", {}, "Instances")), h("div", { id: "instances" })),
      h("section", { class: "card" }, h("header", {}, h("h2", {}, "Lifecycle hooks")), h("div", { id: "hooks" })),
      h("section", { class: "card" },
        h("header", {}, h("h2", {}, "Log"), h("span", { class: "muted small", id: "log-count" })),
        h("div", { class: "log", id: "log" }))));
    renderLog(true);
  }
  $("status").replaceChildren(statusPill(d.status));
  renderActions(d);
  renderNow(d);
  renderFacts(d);
  renderTimeline(d);
  renderTraffic();
  renderInstances(d);
  renderHooks(d);
}

// The deployment's PROVIDER: local, elastigroup or asg.
function providerOf(d) {
  return (d.parameters && d.parameters.PROVIDER) || "local";
}

function renderActions(d) {
  const buttons = [];
  // Spot and CodeDeploy move a PROVIDER=elastigroup deployment's traffic and end it themselves:
  // no button would ever be offered, so none is shown.
  const movesItsOwnTraffic = providerOf(d) === "elastigroup";
  if (d.status === "running" && !movesItsOwnTraffic) {
    const manual = d.parameters && d.parameters.PROMOTION === "manual";
    // Shown only while there is something to promote (green waits on the preview listener).
    if (manual && d.actions.promote) {
      buttons.push(h("button", { class: "button primary", id: "promote", disabled: !d.actions.promote,
        onclick: () => act("promote", d, "Promote " + d.deploymentId + "?",
          "Traffic moves to green now. Blue is kept for BLUE_TERMINATION_WAIT, so a rollback can still switch back.", "Promote") }, "Promote"));
    }
    if (!d.trafficMoved) {
      buttons.push(h("button", { class: "button warn", id: "abort", disabled: !d.actions.abort,
        onclick: () => act("abort", d, "Abort " + d.deploymentId + "?",
          "The deployment stops and its green instances are terminated. Blue keeps serving, untouched.", "Abort") }, "Abort"));
    } else {
      buttons.push(h("button", { class: "button warn", id: "rollback", disabled: !d.actions.rollback,
        onclick: () => act("rollback", d, "Roll back " + d.deploymentId + "?",
          "Traffic goes back to blue" + (d.blueFleet ? " (fleet " + d.blueFleet.fleetId + ")" : "") +
          (providerOf(d) === "asg"
            ? " once blue's Auto Scaling group is healthy in the target groups again." : " at once.") +
          " Green is drained and terminated.", "Roll back") }, "Roll back"));
    }
  }
  $("actions").replaceChildren(...buttons);
}

async function act(action, d, title, text, label) {
  if (!(await confirmAction(title, text, label))) return;
  const path = action === "promote" ? "/api/promote" : "/api/rollback";
  try {
    await api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ deploymentId: d.deploymentId }),
    });
    toast(action === "promote" ? "Promotion requested" : action === "abort" ? "Abort requested" : "Rollback requested");
  } catch (error) {
    if (error instanceof Unauthorized) askForToken(true);
    else toast(error.message, true);
  }
}

function renderNow(d) {
  const box = $("now");
  if (d.status === "running" && d.waitingOn) {
    const w = d.waitingOn;
    box.replaceChildren(h("div", { class: "now running", id: "waiting" },
      h("div", { class: "what" },
        h("span", { class: "muted small" }, phaseName(d.phase) + " · waiting on"),
        h("strong", {}, w.what)),
      w.until ? h("div", { class: "left" },
        h("div", { class: "clock", "data-until": w.until }, clockText(Date.parse(w.until) - serverNow())),
        h("div", { class: "muted small" }, "left before " + w.bound)) : null));
    return;
  }
  const summary = {
    succeeded: "Green serves; the deployment is complete.",
    failed: "The deployment failed; blue kept serving and green was terminated.",
    rolled_back: d.trafficMoved ? "Rolled back: traffic is back on blue and green was terminated."
      : "Stopped: green was terminated and blue kept serving.",
  }[d.status];
  box.replaceChildren(h("div", { class: "now " + d.status, id: "outcome" },
    h("div", { class: "what" },
      h("strong", {}, summary || STATUS_NAMES[d.status] || d.status),
      d.error ? h("span", { class: "small error-text" }, d.error) : null,
      // What blue and green running together cost (the record's cost; a line of words, which
      // says so when Spot had no costs yet rather than showing a zero).
      d.cost ? h("span", { class: "small cost-line", id: "cost" }, "Cost: " + d.cost.summary) : null),
    h("div", { class: "left" }, h("div", { class: "muted small" }, "took"),
      h("div", { class: "clock" }, elapsed(d.started, d.finished)))));
}

function renderFacts(d) {
  const fact = (name, value, mono) => h("div", {}, h("dt", {}, name), h("dd", { class: mono ? "mono" : "" }, value || "—"));
  const p = d.parameters || {};
  $("facts").replaceChildren(
    fact("Group", d.group),
    fact("Revision", h("span", { title: d.revision }, revisionName(d.revision)), true),
    fact("Started by", d.startedBy, true),
    fact("Started", h("span", { title: d.started }, timeText(d.started))),
    fact("Duration", h("span", { "data-started": d.started, "data-finished": d.finished || "" }, elapsed(d.started, d.finished))),
    fact("GreenIdentifier", d.greenIdentifier, true),
    fact("Promotion", p.PROMOTION),
    fact("Timeout", p.TIMEOUT ? p.TIMEOUT + " s" : ""));
}

// The phases a deployment like this one passes when all goes well, to show what is still ahead.
// In the cloud CodeDeploy fetches the revision; Spot also gates, switches and retires blue itself.
function plannedPhases(d) {
  const provider = providerOf(d);
  if (provider === "elastigroup") return ["validate", "launch_green", "install", "terminate_blue"];
  const manual = d.parameters && d.parameters.PROMOTION === "manual";
  const phases = provider === "local" ? ["validate", "fetch_revision"] : ["validate"];
  phases.push("launch_green", "install", "health_gate");
  if (manual) phases.push("await_promotion");
  phases.push("allow_traffic");
  if (d.blueFleet) phases.push("block_traffic", "keep_blue", "terminate_blue");
  return phases;
}

function renderTimeline(d) {
  const seen = new Set(d.phases.map((p) => p.phase));
  const items = d.phases.map((p) => {
    const mark = { passed: "✓", failed: "!", stopped: "–", running: "" }[p.outcome] || "";
    return h("li", { class: p.outcome, "data-phase": p.phase },
      h("span", { class: "dot" }, mark),
      h("span", { class: "name" }, phaseName(p.phase)),
      h("span", { class: "when", title: p.started },
        h("span", { "data-started": p.started, "data-finished": p.ended || "" }, elapsed(p.started, p.ended))),
      p.message ? h("span", { class: "message" }, p.message) : null);
  });
  if (d.status === "running" && !d.phases.some((p) => p.phase === "clean_up" || p.phase === "roll_back")) {
    for (const phase of plannedPhases(d)) {
      if (!seen.has(phase)) {
        items.push(h("li", { class: "pending", "data-phase": phase },
          h("span", { class: "dot" }), h("span", { class: "name" }, phaseName(phase)), h("span", { class: "when" }, "")));
      }
    }
  }
  $("timeline").replaceChildren(...items);
}

// Which colour of this deployment a fleet is, or "" for a fleet of another deployment.
function colourOf(d, fleetId) {
  if (fleetId === d.deploymentId) return "green";
  if (d.blueFleet && fleetId === d.blueFleet.fleetId) return "blue";
  return "";
}

// A cloud deployment's traffic, which moves in AWS: by Spot itself (PROVIDER=elastigroup), or by
// the flow through the load balancer's target groups (PROVIDER=asg).
function renderCloudTraffic(d, box) {
  const c = d.cloud;
  const p = d.parameters || {};
  const fact = (name, value) => h("div", {}, h("dt", {}, name), h("dd", { class: "mono" }, value || "—"));
  if (providerOf(d) === "asg") {
    box.replaceChildren(
      h("p", { id: "traffic-mover" }, "EC2 Auto Scaling + CodeDeploy: CodeDeploy installs green's Auto Scaling ",
        "group, then the service's target groups move from blue's Auto Scaling group to green's."),
      h("dl", { class: "facts" },
        fact("Blue's Auto Scaling group", d.blueFleet && d.blueFleet.fleetId.replace(/^asg:/, "")),
        p.PREVIEW_TARGET_GROUP_ARN ? fact("Preview target group", p.PREVIEW_TARGET_GROUP_ARN) : null,
        fact("CodeDeploy deployment", c.codeDeployDeploymentId),
        fact("Provider stage", c.flowPhase),
        fact("GreenIdentifier", d.greenIdentifier)));
    return;
  }
  box.replaceChildren(
    h("p", { id: "traffic-mover" }, "Spot Elastigroup + CodeDeploy move this group's traffic."),
    h("dl", { class: "facts" },
      fact("Spot B/G deployment", c.spotDeploymentId),
      fact("CodeDeploy deployment", c.codeDeployDeploymentId),
      fact("Provider stage", c.flowPhase),
      fact("GreenIdentifier", d.greenIdentifier)));
}

function renderTraffic() {
  const d = pageState.deployment;
  const box = $("traffic");
  if (!d || !box) return;
  const g = pageState.status;
  if (d.cloud) {
    renderCloudTraffic(d, box);
    if (pageState.deployment) renderInstances(pageState.deployment);
    return;
  }
  if (!g) {
    box.replaceChildren(h("div", { class: "muted" }, "The group's traffic switch is not running."));
    return;
  }
  const routed = g.routedFleet;
  const colour = routed ? colourOf(d, routed) : "";
  let headline = !routed ? "Nothing serves" : colour ? (colour === "blue" ? "Blue serves" : "Green serves")
    : "A later deployment serves";
  const perColour = { blue: null, green: null };
  for (const t of g.traffic) {
    const c = colourOf(d, t.fleetId);
    if (c) perColour[c] = t;
  }
  const share = { blue: colour === "blue" ? 100 : 0, green: colour === "green" ? 100 : 0 };
  // Traffic steps: the switch's current weights, when it reports them.
  if (g.weights && g.weights.length) {
    share.blue = 0;
    share.green = 0;
    for (const w of g.weights) {
      const c = colourOf(d, w.fleetId);
      if (c) share[c] += w.percent;
    }
    if (share.blue > 0 && share.green > 0) headline = `Traffic step: ${share.green}% to green`;
  }
  const row = (c) => {
    const t = perColour[c];
    const fleet = c === "green" ? d.deploymentId : d.blueFleet && d.blueFleet.fleetId;
    return h("tr", { "data-colour": c },
      h("td", {}, colourChip(c)),
      h("td", { class: "mono small" }, fleet || "—"),
      h("td", { class: "num" }, share[c] + "%"),
      h("td", { class: "num" }, t ? t.activeConnections : 0),
      h("td", { class: "num" }, t ? t.requestsTotal : "—"),
      h("td", { class: "num" }, t ? t.errorsTotal : "—"));
  };
  // A preview listener belongs to the deployment that shows green on it; once that ended it
  // answers 503 for nobody, so it is not offered.
  const preview = d.status === "running" && d.previewShown && g.previewListen;
  box.replaceChildren(
    h("div", { class: "serving " + colour, id: "serving", "data-colour": colour || "none" },
      h("strong", {}, headline),
      routed ? h("span", { class: "mono small muted" }, routed) : null),
    h("div", { class: "split", title: "share of new requests" },
      h("i", { class: "blue", style: `width:${share.blue}%` }), h("i", { class: "green", style: `width:${share.green}%` })),
    h("table", { class: "traffic-table" },
      h("thead", {}, h("tr", {}, ["Colour", "Fleet", "Share", "Open conns", "Requests", "Errors"]
        .map((t, i) => h("th", { class: i > 1 ? "num" : "" }, t)))),
      h("tbody", {}, d.blueFleet ? row("blue") : null, row("green"))),
    h("p", { class: "muted small" }, "Service on ", serviceLink(g.listen),
      preview ? [", preview on ", h("span", { id: "preview" }, serviceLink(g.previewListen))] : null));
  if (pageState.deployment) renderInstances(pageState.deployment);
}

function renderInstances(d) {
  const box = $("instances");
  if (!box) return;
  // Live states from the group's status where it knows the instance; the record otherwise.
  const live = new Map(((pageState.status && pageState.status.instances) || []).map((i) => [i.id, i]));
  const rows = [];
  const add = (colour, fleet) => {
    for (const instance of (fleet && fleet.instances) || []) {
      const current = live.get(instance.id) || instance;
      rows.push(h("tr", { "data-instance": instance.id, "data-colour": colour },
        h("td", {}, colourChip(colour)),
        h("td", { class: "mono nowrap" }, instance.id),
        h("td", {}, h("span", { class: "state " + current.state }, current.state)),
        h("td", { class: "mono nowrap reached" }, current.reachedAt ||
          (current.host && current.port ? `${current.host}:${current.port}` : "")),
        h("td", { class: "isolation" }, current.isolation || "none"),
        h("td", {}, Object.entries(current.tags || {}).map(([k, v]) =>
          h("span", { class: "tag", title: k + "=" + v }, h("b", {}, k), "=", v)))));
    }
  };
  add("blue", d.blueFleet);
  add("green", d.greenFleet);
  if (!rows.length) {
    box.replaceChildren(h("div", { class: "empty" }, "No instances yet."));
    return;
  }
  box.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, ["Colour", "Instance", "State", "Address", "Isolation", "Tags"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}

function renderHooks(d) {
  const box = $("hooks");
  const running = d.runningHooks || [];
  if (!d.hooks.length && !running.length) {
    box.replaceChildren(h("div", { class: "empty" }, "No hook has run yet."));
    return;
  }
  const open = new Set([...box.querySelectorAll("details[open]")].map((e) => e.dataset.key));
  box.replaceChildren(h("table", {},
    h("thead", {}, h("tr", {}, ["Event", "Instance", "Script", "Result", "Time"].map((t) => h("th", {}, t)))),
    h("tbody", {}, d.hooks.map((hook, index) => {
      const ok = hook.exitCode === 0 && !hook.timedOut;
      const key = hook.instanceId + "/" + hook.lifecycleEvent + "/" + index;
      return h("tr", { "data-event": hook.lifecycleEvent },
        h("td", { class: "nowrap" }, hook.lifecycleEvent),
        h("td", { class: "mono small nowrap" }, hook.instanceId),
        h("td", {}, h("span", { class: "mono small" }, hook.script),
          hook.outputTail ? h("details", { class: "tail", "data-key": key, open: open.has(key) || !ok },
            h("summary", {}, "output"), h("pre", {}, hook.outputTail)) : null),
        h("td", { class: ok ? "exit-ok" : "exit-bad" }, hook.timedOut ? "timed out" : ok ? "passed" : "exit " + hook.exitCode),
        h("td", { class: "num nowrap" }, durationText(hook.durationMs)));
    }), running.map((hook) => h("tr", { "data-event": hook.lifecycleEvent, class: "hook-running" },
      h("td", { class: "nowrap" }, hook.lifecycleEvent),
      h("td", { class: "mono small nowrap" }, hook.instanceId),
      h("td", {}, h("span", { class: "mono small" }, hook.script)),
      h("td", {}, "running"),
      h("td", {}))))));
}

function logLine(event) {
  return h("div", { class: "line" },
    h("span", { class: "t", title: event.at }, logTime(event.at)),
    h("span", { class: "p" }, event.phase),
    h("span", { class: "k " + event.kind }, event.kind.replace("_", " ")),
    h("span", { class: "m" }, event.instanceId ? h("span", { class: "inst" }, event.instanceId) : null, event.message));
}

function renderLog() {
  const box = $("log");
  if (!box) return;
  box.replaceChildren(...pageState.events.map(logLine));
  $("log-count").textContent = pageState.events.length + " lines";
  box.scrollTop = box.scrollHeight;
}

function appendLogLine(event) {
  const box = $("log");
  if (!box) return;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.append(logLine(event));
  $("log-count").textContent = pageState.events.length + " lines";
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// Durations and countdowns move every second without a message from the server.
setInterval(() => {
  for (const element of document.querySelectorAll("[data-started]")) {
    if (!element.dataset.finished) element.textContent = elapsed(element.dataset.started, "");
  }
  for (const element of document.querySelectorAll("[data-until]")) {
    element.textContent = clockText(Date.parse(element.dataset.until) - serverNow());
  }
}, 1000);

// ---------- routing ----------

function navigate(path) {
  history.pushState({}, "", path);
  route();
}

function route() {
  const match = location.pathname.match(/^\/deployments\/([^/]+)$/);
  if (match) showDeployment(decodeURIComponent(match[1]));
  else showList();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", route);

async function start() {
  try {
    await api("/api/health");
  } catch (error) {
    if (error instanceof Unauthorized) return askForToken(Boolean(token()));
    setLive("reconnecting", "server unreachable");
    setTimeout(start, 2000);
    return;
  }
  route();
}

start();
