// The clusters list: provisioning state, version, type, datacenters, node counts and health (from each
// cluster's /status), refreshed every few seconds.

import {h, badge, replace, errorBox} from './dom.js';
import {get, enc, describe} from './api.js';

const REFRESH_MS = 5000;

/** Health of a cluster from its status: Healthy when every node is Up, else Unhealthy (with counts). */
export function health(status) {
  const nodes = (status?.dataCenters || []).flatMap((dc) => dc.nodes);
  const up = nodes.filter((n) => n.status === 'Up').length;
  return {nodes: nodes.length, up, word: nodes.length === 0 ? 'No nodes' : up === nodes.length ? 'Healthy' : 'Unhealthy'};
}

export async function renderClusters(ctx) {
  const body = h('tbody');
  const status = h('div', {'aria-live': 'polite'});
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('h1', {}, 'Clusters'),
      h('a', {class: 'button', href: '#/create'}, '+ Create')),
    status,
    h('div', {class: 'table-wrap'}, h('table', {class: 'cards-on-phone'},
      h('caption', {class: 'visually-hidden'}, 'Clusters'),
      h('thead', {}, h('tr', {}, ['Name', 'State', 'Version', 'Type', 'Datacenters', 'Nodes', 'Health']
        .map((c) => h('th', {scope: 'col'}, c)))),
      body)));

  async function refresh() {
    try {
      const clusters = (await get('/clusters')).value;
      const rows = await Promise.all(clusters.map(async (c) => {
        const name = c.name;
        const [dcs, st] = await Promise.all([
          get(`/clusters/${enc(name)}/dataCenters`).then((r) => r.value).catch(() => []),
          get(`/clusters/${enc(name)}/status`).catch(() => null),
        ]);
        const hl = health(st);
        const p = c.properties;
        const wanted = dcs.reduce((sum, dc) => sum + (dc.properties.nodeCount || 0), 0);
        // data-label names each cell where narrow screens show rows as stacked cards.
        return h('tr', {dataset: {cluster: name}},
          h('th', {scope: 'row'}, h('a', {href: `#/clusters/${enc(name)}/overview`}, name)),
          h('td', {dataset: {label: 'State'}}, badge(p.provisioningState), p.deallocated ? [' ', badge('Deallocated')] : null),
          h('td', {dataset: {label: 'Version'}}, p.cassandraVersion),
          h('td', {dataset: {label: 'Type'}}, p.clusterType),
          h('td', {dataset: {label: 'Datacenters'}}, dcs.map((d) => d.name).join(', ') || '—'),
          h('td', {class: 'num', dataset: {label: 'Nodes up'}}, `${hl.up}/${wanted}`),
          h('td', {dataset: {label: 'Health'}}, badge(p.deallocated ? 'Deallocated' : hl.word)));
      }));
      if (!ctx.active()) return;
      replace(body, rows.length ? rows
        : h('tr', {}, h('td', {colspan: 7}, 'No clusters yet. ', h('a', {href: '#/create'}, 'Create one'), '.')));
      replace(status);
    } catch (e) {
      if (ctx.active()) replace(status, errorBox(describe(e)));
    }
  }
  await refresh();
  ctx.every(REFRESH_MS, refresh);
}
