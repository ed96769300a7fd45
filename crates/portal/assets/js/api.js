// The REST API client: every call carries the user's bearer token (kept in sessionStorage); errors become
// ApiError with the server's RFC 9457 problem document. Also: operation tracking and the portal's
// validation helper (POST /portal/validate runs the API's own checks without changing anything).

import {h, badge, formatDuration, replace} from './dom.js';

const TOKEN_KEY = 'mica.apiToken';
/** How often a running operation is polled. */
export const POLL_MS = 1000;

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A failed API call: HTTP status plus the problem document (title, detail, property). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let onUnauthorized = () => {};
/** Called when the server answers 401 (the token is missing or wrong). */
export function handleUnauthorized(callback) {
  onUnauthorized = callback;
}

/** One API call. Resolves to the parsed JSON body (null when empty). */
export async function api(method, path, body) {
  const headers = {Authorization: `Bearer ${token() || ''}`, Accept: 'application/json'};
  const init = {method, headers};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {detail: text};
    }
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const put = (path, body) => api('PUT', path, body);
export const post = (path, body) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

export const enc = encodeURIComponent;

/**
 * Runs the API's validation on a request without sending it: resolves to null when valid, else the problem
 * document the API would answer.
 */
export async function validate(request) {
  const response = await fetch('/portal/validate', {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(request),
  });
  if (response.ok) return null;
  try {
    return await response.json();
  } catch {
    return {detail: `validation failed (HTTP ${response.status})`};
  }
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Polls an operation until it leaves InProgress, calling onUpdate with each state; resolves to the final
 * operation. `isCancelled()` stops polling early (the view was left).
 */
export async function waitOperation(operation, onUpdate = () => {}, isCancelled = () => false) {
  let op = operation;
  onUpdate(op);
  while (op.status === 'InProgress' && !isCancelled()) {
    await sleep(POLL_MS);
    try {
      op = await get(op.id);
    } catch (e) {
      if (e.status === 404) throw e;
      continue;
    }
    onUpdate(op);
  }
  return op;
}

/** Renders an operation's progress (status, percent, steps, error) into a fresh element. */
export function operationView(op) {
  const elapsed = (op.endTime || Math.floor(Date.now() / 1000)) - op.startTime;
  return h('div', {class: 'operation', dataset: {status: op.status}},
    h('div', {class: 'op-head'},
      h('strong', {}, op.name), ' ', badge(op.status),
      h('span', {class: 'muted'}, ` ${op.percentComplete}% · ${formatDuration(elapsed)}`)),
    h('progress', {max: 100, value: op.percentComplete, 'aria-label': `${op.name} progress`}),
    op.steps?.length
      ? h('ol', {class: 'steps'}, op.steps.map((s) => h('li', {},
        h('span', {class: 'muted'}, `+${formatDuration(s.time - op.startTime)} `), s.name)))
      : null,
    op.error ? h('p', {class: 'error', role: 'alert'}, `${op.error.code}: ${op.error.message}`) : null);
}

/**
 * Shows an operation in `container` (an aria-live region) until it finishes; resolves to the final operation.
 */
export async function trackOperation(container, op, isCancelled) {
  container.setAttribute('aria-live', 'polite');
  return waitOperation(op, (current) => replace(container, operationView(current)), isCancelled);
}

/** The message to show for any error thrown by an API call. */
export function describe(error) {
  if (error instanceof ApiError) {
    const title = error.problem.title ? `${error.problem.title}: ` : '';
    return `${title}${error.problem.detail || error.message}`;
  }
  return String(error?.message || error);
}

/** Writable properties of a datacenter (read-only ones stripped), for a PUT that changes a few of them. */
export function writableDataCenter(properties) {
  const copy = {...properties};
  for (const key of ['provisioningState', 'seedNodes', 'provisionError', 'deallocated']) delete copy[key];
  return copy;
}
