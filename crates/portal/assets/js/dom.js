// Small DOM helpers shared by every view: element construction, form fields, formatting and status badges.

let uid = 0;

/** Builds an element: h('button', {type: 'button', onclick: f}, 'Text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A fresh id for label/input pairs. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form row: label, control, optional hint (linked with aria-describedby). */
export function field(label, control, hint) {
  if (!control.id) control.id = nextId();
  const row = h('div', {class: 'field'}, h('label', {for: control.id}, label), control);
  if (hint) {
    const hintId = `${control.id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    row.append(h('p', {class: 'hint', id: hintId}, hint));
  }
  return row;
}

/** A <select> of options ([value, label] pairs or plain values). */
export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h('option', {value: v, selected: v === value}, label);
  }));
}

/** A status badge whose colour follows the word. */
export function badge(text) {
  const word = String(text ?? 'Unknown');
  const kind = /^(Succeeded|Healthy|Up|Normal|Running)$/.test(word) ? 'ok'
    : /^(Failed|Unhealthy|Down|Canceled)$/.test(word) ? 'bad'
      : /^(Creating|Updating|Deleting|InProgress|Joining|Leaving|Moving|Degraded)$/.test(word) ? 'busy'
        : 'neutral';
  return h('span', {class: `badge ${kind}`}, word);
}

/** An inline error box (role=alert so screen readers announce it). */
export function errorBox(message) {
  return h('div', {class: 'error', role: 'alert'}, message);
}

export function formatTime(seconds) {
  if (!seconds) return '—';
  return new Date(seconds * 1000).toLocaleString();
}

export function formatDuration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatKb(kb) {
  if (kb === undefined || kb === null) return '—';
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = kb;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${value.toFixed(value < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

/** Copy-to-clipboard button next to a code block. */
export function codeBlock(text, label) {
  const code = h('pre', {class: 'code', tabindex: 0, 'aria-label': label}, h('code', {}, text));
  const copy = h('button', {type: 'button', class: 'secondary small', onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Select and copy';
    }
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  }}, 'Copy');
  return h('div', {class: 'code-wrap'}, h('div', {class: 'code-head'}, h('span', {}, label), copy), code);
}

/** Base64 of a UTF-8 string, and back (atob/btoa only handle Latin-1). */
export function toBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(encoded) {
  const binary = atob(encoded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
