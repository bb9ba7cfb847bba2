// A strict reader of the Prometheus text exposition format (version 0.0.4), for the /metrics
// test. It throws on the first line that breaks the format, naming the line, and checks what a
// scraper relies on: HELP and TYPE at most once per family and before its samples, samples of
// a family together, metric and label names, label value escapes, numbers, and for histograms
// cumulative buckets ending with le="+Inf", a _count equal to that bucket, and a _sum.
"use strict";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseNumber(text, where) {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: "${text}" is not a number`);
  return Number(text);
}

// `{a="1",b="x\"y"}` starting at text[0] -> [labels, rest of the line].
function parseLabels(text, where) {
  const labels = {};
  let i = 1;
  while (true) {
    if (text[i] === "}") return [labels, text.slice(i + 1)];
    const name = /^[^=]*/.exec(text.slice(i))[0];
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    i += name.length;
    if (text[i] !== "=" || text[i + 1] !== '"') throw new Error(`${where}: label ${name} has no quoted value`);
    i += 2;
    let value = "";
    for (;; i++) {
      if (i >= text.length) throw new Error(`${where}: unterminated value of label ${name}`);
      const c = text[i];
      if (c === '"') break;
      if (c === "\\") {
        const next = text[++i];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`${where}: bad escape \\${next} in label ${name}`);
      } else if (c === "\n") {
        throw new Error(`${where}: raw newline in label ${name}`);
      } else {
        value += c;
      }
    }
    labels[name] = value;
    i += 1;
    if (text[i] === ",") i += 1;
    else if (text[i] !== "}") throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

// The family a sample belongs to: its own name, or a histogram's/summary's base name.
function familyOf(name, families) {
  if (families.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
    if (base && families.has(base) && ["histogram", "summary"].includes(families.get(base).type)) return base;
  }
  return null;
}

function checkHistogram(name, family) {
  const series = new Map();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, { buckets: [], sum: null, count: null });
    const entry = series.get(key);
    if (sample.name === name + "_bucket") {
      if (le === undefined) throw new Error(`${name}: a bucket without le`);
      entry.buckets.push([parseNumber(le, name + " le"), sample.value]);
    } else if (sample.name === name + "_sum") {
      entry.sum = sample.value;
    } else if (sample.name === name + "_count") {
      entry.count = sample.value;
    } else {
      throw new Error(`${name}: unexpected sample ${sample.name} in a histogram`);
    }
  }
  for (const [key, entry] of series) {
    const { buckets } = entry;
    if (!buckets.length || buckets[buckets.length - 1][0] !== Infinity) {
      throw new Error(`${name}${key}: the last bucket must be le="+Inf"`);
    }
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i][0] > buckets[i - 1][0])) throw new Error(`${name}${key}: bucket bounds not ascending`);
      if (buckets[i][1] < buckets[i - 1][1]) throw new Error(`${name}${key}: buckets not cumulative`);
    }
    if (entry.sum === null || entry.count === null) throw new Error(`${name}${key}: _sum or _count missing`);
    if (entry.count !== buckets[buckets.length - 1][1]) throw new Error(`${name}${key}: _count differs from the +Inf bucket`);
  }
}

// Returns Map(family name -> { type, help, samples: [{ name, labels, value }] }).
function parsePrometheus(text) {
  if (text.length && !text.endsWith("\n")) throw new Error("the text must end with a newline");
  const families = new Map();
  let current = null;
  const finished = new Set();
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, index) => {
    const where = `line ${index + 1} "${line}"`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return;  // any other comment
      const [, keyword, name, rest] = match;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (finished.has(name) || (families.has(name) && families.get(name).samples.length)) {
        throw new Error(`${where}: ${keyword} after the samples of ${name}`);
      }
      if (current && current !== name) finished.add(current);
      current = name;
      const family = families.get(name) || { type: "untyped", help: null, samples: [], typed: false };
      families.set(name, family);
      if (keyword === "TYPE") {
        if (family.typed) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type "${rest}"`);
        family.type = rest;
        family.typed = true;
      } else {
        if (family.help !== null) throw new Error(`${where}: second HELP for ${name}`);
        family.help = rest;
      }
      return;
    }
    const name = /^[^{\s]*/.exec(line)[0];
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
    let rest = line.slice(name.length);
    let labels = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, where);
    const parts = rest.trim().split(/ +/);
    if (!rest.startsWith(" ") || parts.length < 1 || parts.length > 2) throw new Error(`${where}: expected " value [timestamp]"`);
    const value = parseNumber(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    const familyName = familyOf(name, families) || name;
    if (!families.has(familyName)) families.set(familyName, { type: "untyped", help: null, samples: [], typed: false });
    if (finished.has(familyName)) throw new Error(`${where}: samples of ${familyName} are not together`);
    if (current && current !== familyName) finished.add(current);
    current = familyName;
    const family = families.get(familyName);
    if (family.type === "counter" && !(value >= 0)) throw new Error(`${where}: a counter below zero`);
    family.samples.push({ name, labels, value });
  });
  for (const [name, family] of families) {
    if (family.type === "histogram") checkHistogram(name, family);
  }
  return families;
}

// The value of the one sample of `name` whose labels include `labels`.
function valueOf(families, familyName, sampleName, labels = {}) {
  const family = families.get(familyName);
  if (!family) throw new Error(`no family ${familyName}`);
  const matches = family.samples.filter((s) => s.name === sampleName &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${sampleName} with ${JSON.stringify(labels)}`);
  return matches[0].value;
}

module.exports = { parsePrometheus, valueOf };
