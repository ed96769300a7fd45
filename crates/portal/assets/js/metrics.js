// Metrics pane: read/write throughput and p99/mean latency charts per cluster and datacenter, drawn as inline
// SVG from GET /clusters/{c}/metrics ({intervalSeconds, series: [{dataCenter, points: [...]}]}). A 404 means the
// server does not collect metrics yet, which the pane says instead of failing.

import {h, replace, errorBox} from './dom.js';
import {get, enc, describe} from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 180;
const PAD = {left: 48, right: 10, top: 10, bottom: 24};
const MIN_REFRESH_MS = 5000;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

/** One line chart; `lines` are [{label, key, cls}] over `points`. */
export function chart(title, unit, points, lines) {
  const times = points.map((p) => p.time);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const max = niceMax(Math.max(0, ...points.flatMap((p) => lines.map((l) => p[l.key] || 0))));
  const x = (t) => PAD.left + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (WIDTH - PAD.left - PAD.right));
  const y = (v) => HEIGHT - PAD.bottom - (v / max) * (HEIGHT - PAD.top - PAD.bottom);
  const svg = s('svg', {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', class: 'chart',
    'aria-label': `${title}: ${lines.map((l) => `${l.label} latest ${(points.at(-1)?.[l.key] ?? 0).toFixed(1)} ${unit}`).join(', ')}`});
  for (const frac of [0, 0.5, 1]) {
    const yy = y(max * frac);
    svg.append(s('line', {x1: PAD.left, x2: WIDTH - PAD.right, y1: yy, y2: yy, class: 'grid'}),
      s('text', {x: PAD.left - 4, y: yy + 4, 'text-anchor': 'end', class: 'axis'}, `${+(max * frac).toPrecision(3)}`));
  }
  if (points.length) {
    svg.append(s('text', {x: PAD.left, y: HEIGHT - 6, class: 'axis'}, new Date(t0 * 1000).toLocaleTimeString()),
      s('text', {x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end', class: 'axis'}, new Date(t1 * 1000).toLocaleTimeString()));
  }
  for (const line of lines) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.time).toFixed(1)},${y(p[line.key] || 0).toFixed(1)}`).join(' ');
    if (d) svg.append(s('path', {d, class: `series ${line.cls}`}));
  }
  const legend = h('ul', {class: 'legend'}, lines.map((l) => h('li', {class: l.cls},
    `${l.label}: ${(points.at(-1)?.[l.key] ?? 0).toFixed(1)} ${unit}`)));
  return h('figure', {class: 'chart-box'}, h('figcaption', {}, title), svg, legend);
}

export async function renderMetrics(ctx, name, body) {
  const area = h('div', {});
  replace(body, area);
  let refreshMs = MIN_REFRESH_MS;
  let timer = null;

  async function refresh() {
    let data;
    try {
      data = await get(`/clusters/${enc(name)}/metrics`);
    } catch (e) {
      if (!ctx.active()) return;
      if (e.status === 404 && !/cluster '.*' does not exist/.test(e.problem?.detail || '')) {
        replace(area, h('p', {class: 'notice'}, 'Metrics are not available yet: this server does not collect node metrics.'));
      } else {
        replace(area, errorBox(describe(e)));
      }
      return;
    }
    if (!ctx.active()) return;
    const series = [...(data.series || [])].sort((a, b) => (a.dataCenter === null ? -1 : b.dataCenter === null ? 1 : a.dataCenter.localeCompare(b.dataCenter)));
    replace(area, h('p', {class: 'muted'}, `One point every ${data.intervalSeconds}s.`),
      series.length ? series.map((one) => h('section', {class: 'card', dataset: {dc: one.dataCenter ?? ''}},
        h('h2', {}, one.dataCenter === null ? 'Whole cluster' : `Datacenter ${one.dataCenter}`),
        one.points.length ? h('div', {class: 'charts'},
          chart('Throughput', 'ops/s', one.points, [
            {label: 'Reads', key: 'readsPerSecond', cls: 'read'},
            {label: 'Writes', key: 'writesPerSecond', cls: 'write'}]),
          chart('Latency', 'ms', one.points, [
            {label: 'Read p99', key: 'readLatencyP99Ms', cls: 'read'},
            {label: 'Write p99', key: 'writeLatencyP99Ms', cls: 'write'},
            {label: 'Read mean', key: 'readLatencyMeanMs', cls: 'read dashed'},
            {label: 'Write mean', key: 'writeLatencyMeanMs', cls: 'write dashed'}]))
          : h('p', {class: 'muted'}, 'No samples yet.')))
        : h('p', {class: 'muted'}, 'No samples yet.'));
    const wanted = Math.max(MIN_REFRESH_MS, (data.intervalSeconds || 10) * 1000);
    if (wanted !== refreshMs) {
      refreshMs = wanted;
      clearInterval(timer);
      timer = setInterval(() => { if (ctx.active()) refresh(); }, refreshMs);
    }
  }

  await refresh();
  timer = setInterval(() => { if (ctx.active()) refresh(); }, refreshMs);
  ctx.onLeave(() => clearInterval(timer));
}
