// Activity pane: the cluster's operations (GET /clusters/{c}/operations, newest first) with their steps, timings
// and errors; polled quickly while one runs, slowly otherwise.

import {h, badge, replace, errorBox, formatTime, formatDuration} from './dom.js';
import {get, enc, describe} from './api.js';

const FAST_MS = 1000;
const SLOW_MS = 5000;

export async function renderActivity(ctx, name, body) {
  const list = h('div', {'aria-live': 'polite'});
  const message = h('div', {});
  replace(body, message, list);
  const open = new Set();
  let lastPoll = 0;
  let running = false;

  async function refresh() {
    const now = Date.now();
    if (!running && now - lastPoll < SLOW_MS) return;
    lastPoll = now;
    try {
      const ops = (await get(`/clusters/${enc(name)}/operations`)).value;
      if (!ctx.active()) return;
      running = ops.some((op) => op.status === 'InProgress');
      replace(list, ops.length ? h('ol', {class: 'activity'}, ops.map((op) => {
        const end = op.endTime || Math.floor(Date.now() / 1000);
        const details = h('details', {open: op.status !== 'Succeeded' || open.has(op.id), dataset: {status: op.status}},
          h('summary', {}, h('strong', {}, op.name), ' ', badge(op.status),
            h('span', {class: 'muted'}, ` ${formatTime(op.startTime)} · ${formatDuration(end - op.startTime)} · ${op.percentComplete}%`)),
          op.error ? h('p', {class: 'error', role: 'alert'}, `${op.error.code}: ${op.error.message}`) : null,
          op.steps?.length ? h('ol', {class: 'steps'}, op.steps.map((s) => h('li', {},
            h('span', {class: 'muted'}, `${new Date(s.time * 1000).toLocaleTimeString()} (+${formatDuration(s.time - op.startTime)}) `), s.name)))
            : h('p', {class: 'muted'}, 'No steps recorded yet.'),
          h('p', {class: 'muted small'}, `Operation ${op.id} on ${op.resourceId}`));
        details.addEventListener('toggle', () => { if (details.open) open.add(op.id); else open.delete(op.id); });
        return h('li', {}, details);
      })) : h('p', {}, 'No operations yet.'));
      replace(message);
    } catch (e) {
      if (ctx.active()) replace(message, errorBox(describe(e)));
    }
  }

  await refresh();
  ctx.every(FAST_MS, refresh);
}
