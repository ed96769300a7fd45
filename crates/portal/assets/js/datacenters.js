// Data Center pane: every datacenter with its nodes (address, rack, state, status, load, owns, disk, memory,
// CPU, healthy mark), Scale (node-count slider + number field, SKU dropdown), Delete with typed confirmation (the
// API's refusal shown in the form) and the Add datacenter form.

import {h, badge, replace, errorBox, field, select, formatKb} from './dom.js';
import {get, put, del, enc, describe, trackOperation, validate, writableDataCenter} from './api.js';
import {RULES} from '/portal/rules.js';

const REFRESH_MS = 4000;

function skuSelect(value, attrs) {
  return select(RULES.skus.map((s) => [s.name, `${s.name} (${s.cpus} vCPU, ${s.memoryGib} GiB)`]), value || RULES.defaultSku, attrs);
}

/** A slider and a number field that always show the same node count. */
function nodeCountControls(value, label) {
  const slider = h('input', {type: 'range', min: 1, max: RULES.maxNodesPerDataCenter, value, name: 'nodeCountSlider'});
  const number = h('input', {type: 'number', min: 1, max: RULES.maxNodesPerDataCenter, value, name: 'nodeCount', class: 'short'});
  slider.addEventListener('input', () => { number.value = slider.value; });
  number.addEventListener('input', () => { if (number.value !== '') slider.value = number.value; });
  const row = h('div', {class: 'field'}, h('label', {for: number.id = `${label}-nodes`}, 'No. of nodes'),
    h('div', {class: 'slider-row'}, slider, number));
  slider.setAttribute('aria-label', 'No. of nodes (slider)');
  return {row, slider, number};
}

export async function renderDataCenters(ctx, name, body) {
  const base = `/clusters/${enc(name)}`;
  const operation = h('div', {class: 'op-area'});
  const message = h('div', {'aria-live': 'polite'});
  const list = h('div', {});
  const addArea = h('div', {});
  const addButton = h('button', {type: 'button', onclick: () => drawAdd()}, '+ Add');
  replace(body, h('div', {class: 'toolbar'}, addButton), operation, message, addArea, list);
  let busy = false;
  // A datacenter whose Scale or Delete form is open: refreshes wait so typing is never interrupted.
  let openScale = null;

  async function run(action) {
    busy = true;
    replace(message);
    try {
      const op = await action();
      const done = await trackOperation(operation, op, () => !ctx.active());
      if (done.status !== 'Succeeded') replace(message, errorBox(`${done.name} ${done.status}: ${done.error?.message || ''}`));
      return done;
    } catch (e) {
      replace(message, errorBox(describe(e)));
      return null;
    } finally {
      busy = false;
      await refresh();
    }
  }

  function drawAdd() {
    const dcName = h('input', {name: 'dataCenterName', required: true, maxlength: RULES.maxNameLength});
    const location = h('input', {name: 'dataCenterLocation', value: 'local'});
    const zone = h('input', {type: 'checkbox', name: 'availabilityZone', id: 'add-zone'});
    const sku = skuSelect(RULES.defaultSku, {name: 'sku'});
    const disks = h('input', {type: 'number', name: 'diskCapacity', min: 1, max: RULES.maxDiskCapacity, value: 1});
    const nodes = nodeCountControls(3, 'add');
    const error = h('div', {'aria-live': 'polite'});
    const form = h('form', {class: 'card', 'aria-label': 'Add data center', onsubmit: async (e) => {
      e.preventDefault();
      const properties = {dataCenterLocation: location.value || undefined, availabilityZone: zone.checked,
        sku: sku.value, diskCapacity: Number(disks.value), nodeCount: Number(nodes.number.value)};
      const problem = await validate({dataCenterName: dcName.value, dataCenter: properties});
      if (problem) {
        replace(error, errorBox(problem.detail));
        return;
      }
      replace(addArea);
      await run(() => put(`${base}/dataCenters/${enc(dcName.value)}`, {properties}));
    }},
    h('h2', {}, 'Add data center'),
    field('Data center name', dcName), field('Location', location),
    h('div', {class: 'field check'}, zone, h('label', {for: 'add-zone'}, 'Availability zone')),
    field('SKU size', sku), field('No. of disks', disks), nodes.row, error,
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Add'),
      h('button', {type: 'button', class: 'secondary', onclick: () => replace(addArea)}, 'Cancel')));
    replace(addArea, form);
    dcName.focus();
  }

  function scaleForm(dc) {
    const p = dc.properties;
    const nodes = nodeCountControls(p.nodeCount, dc.name);
    const sku = skuSelect(p.sku, {name: 'sku'});
    return h('form', {class: 'card scale-form', 'aria-label': `Scale ${dc.name}`, onsubmit: async (e) => {
      e.preventDefault();
      openScale = null;
      const properties = {...writableDataCenter(p), nodeCount: Number(nodes.number.value), sku: sku.value};
      await run(() => put(`${base}/dataCenters/${enc(dc.name)}`, {properties}));
    }},
    h('h3', {}, `Scale ${dc.name}`),
    h('p', {class: 'hint'}, 'Horizontal: move the slider or edit the number (one node joins or leaves at a time). Vertical: choose another SKU size (rolling restart).'),
    nodes.row, field('SKU size', sku),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Scale'),
      h('button', {type: 'button', class: 'secondary', onclick: () => { openScale = null; refresh(true); }}, 'Cancel')));
  }

  /** Delete with typed confirmation; a refusal (400: keyspaces still replicate there, last datacenter) stays inline. */
  function deleteForm(dc) {
    const confirm = h('input', {name: 'confirmDeleteDataCenter', autocomplete: 'off', spellcheck: 'false'});
    const button = h('button', {type: 'submit', class: 'danger', disabled: true}, 'Delete');
    const error = h('div', {'aria-live': 'polite'});
    confirm.addEventListener('input', () => { button.disabled = confirm.value !== dc.name; });
    const close = () => { openScale = null; refresh(true); };
    const form = h('form', {class: 'card delete-form', 'aria-label': `Delete ${dc.name}`, onsubmit: async (e) => {
      e.preventDefault();
      if (confirm.value !== dc.name) return;
      button.disabled = true;
      let op;
      try {
        op = await del(`${base}/dataCenters/${enc(dc.name)}`);
      } catch (err) {
        replace(error, errorBox(describe(err)));
        button.disabled = false;
        return;
      }
      openScale = null;
      await run(() => op);
    }},
    h('h3', {}, `Delete ${dc.name}`),
    h('p', {class: 'hint'}, 'Its nodes are decommissioned and removed with their data. With autoReplicate SystemKeyspaces or AllKeyspaces the service first removes the datacenter from keyspace replication; with None, keyspaces must no longer replicate to it.'),
    field(`Type the data center name (${dc.name}) to confirm`, confirm), error,
    h('div', {class: 'actions'}, button, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Cancel')));
    return {form, confirm};
  }

  function nodeTable(nodes) {
    const cols = ['Address', 'Rack', 'State', 'Status', 'Load', 'Owns', 'Disk used / free', 'Memory used / total', 'CPU', 'Health'];
    return h('div', {class: 'table-wrap'}, h('table', {class: 'nodes'},
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, nodes.length ? nodes.map((n) => {
        const healthy = n.status === 'Up' && n.state === 'Normal';
        return h('tr', {dataset: {address: n.address}},
          h('th', {scope: 'row'}, n.address), h('td', {}, n.rack || '—'), h('td', {}, badge(n.state)),
          h('td', {}, badge(n.status)), h('td', {}, n.load || '—'),
          h('td', {}, n.owns === undefined || n.owns === null ? '—' : `${(n.owns * 100).toFixed(1)}%`),
          h('td', {}, `${formatKb(n.diskUsedKB)} / ${formatKb(n.diskFreeKB)}`),
          h('td', {}, `${formatKb(n.memoryUsedKB)} / ${formatKb(n.memoryTotalKB)}`),
          h('td', {}, n.cpuUsage === undefined || n.cpuUsage === null ? '—' : `${n.cpuUsage.toFixed(1)}%`),
          h('td', {}, healthy ? h('span', {class: 'healthy'}, '✔ Healthy') : h('span', {class: 'unhealthy'}, '✖ Unhealthy')));
      }) : h('tr', {}, h('td', {colspan: cols.length}, 'No nodes yet.')))));
  }

  async function refresh(force = false) {
    if ((busy && !force) || !ctx.active()) return;
    if (openScale && !force) return;
    try {
      const [dcs, status] = await Promise.all([
        get(`${base}/dataCenters`).then((r) => r.value),
        get(`${base}/status`).catch(() => ({dataCenters: []})),
      ]);
      if (!ctx.active() || (openScale && !force)) return;
      replace(list, dcs.length ? dcs.map((dc) => {
        const p = dc.properties;
        const nodes = status.dataCenters.find((d) => d.name === dc.name)?.nodes || [];
        const scaleArea = h('div', {});
        const scale = h('button', {type: 'button', class: 'secondary', 'aria-expanded': 'false', onclick: () => {
          openScale = dc.name;
          scale.setAttribute('aria-expanded', 'true');
          replace(scaleArea, scaleForm(dc));
          scaleArea.querySelector('input[type=range]').focus();
        }}, 'Scale');
        const remove = h('button', {type: 'button', class: 'secondary', 'aria-expanded': 'false', onclick: () => {
          openScale = dc.name;
          remove.setAttribute('aria-expanded', 'true');
          const {form, confirm} = deleteForm(dc);
          replace(scaleArea, form);
          confirm.focus();
        }}, 'Delete');
        return h('section', {class: 'card dc', dataset: {dc: dc.name}},
          h('div', {class: 'page-head'}, h('h2', {}, dc.name, ' ', badge(p.provisioningState)),
            h('div', {class: 'actions'}, scale, remove)),
          h('p', {class: 'muted'}, `${p.nodeCount} node(s) · ${p.sku || RULES.defaultSku} · ${p.diskCapacity || 1} disk(s) · ${p.dataCenterLocation || 'local'}`
            + `${p.availabilityZone ? ' · availability zones' : ''} · seeds ${(p.seedNodes || []).map((s) => s.ipAddress).join(', ') || '—'}`),
          p.provisionError ? errorBox(`${p.provisionError.code}: ${p.provisionError.message}`) : null,
          scaleArea, nodeTable(nodes));
      }) : h('p', {}, 'No datacenters yet. Select Add to create one.'));
    } catch (e) {
      if (ctx.active()) replace(message, errorBox(describe(e)));
    }
  }

  await refresh();
  ctx.every(REFRESH_MS, refresh);
}
