// A cluster's page: its header (name, state) and the panes Overview, Data Center, Cassandra Configuration,
// Activity and Metrics, each a module that draws into the pane and registers its own refresh timers.

import {h, badge, replace, errorBox} from './dom.js';
import {get, enc, describe} from './api.js';

const PANES = [
  ['overview', 'Overview', () => import('./overview.js').then((m) => m.renderOverview)],
  ['datacenters', 'Data Center', () => import('./datacenters.js').then((m) => m.renderDataCenters)],
  ['configuration', 'Cassandra Configuration', () => import('./config.js').then((m) => m.renderConfiguration)],
  ['activity', 'Activity', () => import('./activity.js').then((m) => m.renderActivity)],
  ['metrics', 'Metrics', () => import('./metrics.js').then((m) => m.renderMetrics)],
];

/** Header refresh period (state badge). */
const HEAD_REFRESH_MS = 3000;

export async function renderCluster(ctx, name, paneKey) {
  const pane = PANES.find(([k]) => k === paneKey) || PANES[0];
  const state = h('span', {'aria-live': 'polite'});
  const body = h('div', {class: 'pane'});
  const nav = h('nav', {class: 'pane-nav', 'aria-label': 'Cluster settings'},
    PANES.map(([key, label]) => h('a', {href: `#/clusters/${enc(name)}/${key}`,
      'aria-current': key === pane[0] ? 'page' : undefined}, label)));
  replace(ctx.main,
    h('p', {class: 'crumbs'}, h('a', {href: '#/'}, 'Clusters'), ' › ', name),
    h('div', {class: 'page-head'}, h('h1', {}, name, ' ', h('span', {class: 'muted small'}, pane[1])), state),
    h('div', {class: 'cluster-layout'}, nav, body));

  async function head() {
    try {
      const cluster = await get(`/clusters/${enc(name)}`);
      if (!ctx.active()) return;
      const p = cluster.properties;
      replace(state, badge(p.provisioningState), p.deallocated ? [' ', badge('Deallocated')] : null);
    } catch (e) {
      if (ctx.active() && e.status === 404) replace(state, badge('Deleted'));
    }
  }
  await head();
  ctx.every(HEAD_REFRESH_MS, head);
  try {
    const render = await pane[2]();
    await render(ctx, name, body);
  } catch (e) {
    if (ctx.active()) replace(body, errorBox(describe(e)));
  }
}
