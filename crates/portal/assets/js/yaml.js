// Key checks for the Cassandra Configuration editor: the top-level keys of a YAML fragment against the API's
// forbidden and known cassandra.yaml keys (both from rules.js), so mistakes show while typing. Values are left
// to the API's own check (POST /portal/validate) before anything is submitted.

import {RULES} from '/portal/rules.js';

const forbidden = new Set(RULES.forbiddenYamlKeys);
const known = new Set(RULES.knownYamlKeys);
const legacy = RULES.legacyYamlKeys;

/** Top-level keys of a block-style YAML map with their 1-based line numbers. */
export function topLevelKeys(text) {
  const keys = [];
  text.split('\n').forEach((line, i) => {
    if (/^\s/.test(line) || /^(#|---|\.\.\.|-\s|$)/.test(line)) return;
    const match = /^("([^"]*)"|'([^']*)'|[^:#\s][^:#]*?)\s*:(\s|$)/.exec(line);
    if (match) keys.push({key: (match[2] ?? match[3] ?? match[1]).trim(), line: i + 1});
    else keys.push({key: null, line: i + 1, text: line});
  });
  return keys;
}

/** Problems with the fragment's keys, worded as the API words them. */
export function keyProblems(text) {
  const problems = [];
  const seen = new Map();
  for (const {key, line, text: raw} of topLevelKeys(text)) {
    if (key === null) {
      problems.push(`line ${line}: '${raw}' is not a 'key: value' line`);
      continue;
    }
    const canonical = legacy[key] || key;
    if (forbidden.has(key) || forbidden.has(canonical)) {
      problems.push(`line ${line}: cassandra.yaml key '${key}' is managed by the service and cannot be overridden; remove it from the fragment`);
    } else if (!known.has(key) && !(key in legacy)) {
      problems.push(`line ${line}: unknown cassandra.yaml key '${key}'; check its spelling against Cassandra's cassandra.yaml`);
    } else if (seen.has(canonical)) {
      problems.push(`line ${line}: '${key}' is set twice (under its old and new name); keep one`);
    }
    seen.set(canonical, line);
  }
  return problems;
}
