// The create wizard: tabs Basics / Data center / Review + create (as in the portal quickstart). Review runs the
// API's own validation (POST /portal/validate) and shows its message inline; Create sends PUT /clusters/{c},
// waits for the operation, then PUT /clusters/{c}/dataCenters/{dc}, showing progress until Succeeded or Failed.

import {h, field, select, replace, errorBox, nextId} from './dom.js';
import {get, put, enc, validate, trackOperation, describe, ApiError} from './api.js';
import {RULES} from '/portal/rules.js';

const TABS = [['basics', 'Basics'], ['datacenter', 'Data center'], ['review', 'Review + create']];

/** Which tab holds the property a validation error names. */
function tabOf(property = '') {
  if (/dataCenterName|nodeCount|sku|diskCapacity|availabilityZone|dataCenterLocation|YamlFragment/.test(property)) {
    return 'datacenter';
  }
  return 'basics';
}

export async function renderCreate(ctx) {
  const input = (attrs) => h('input', attrs);
  const f = {
    name: input({name: 'clusterName', required: true, autocomplete: 'off', maxlength: RULES.maxNameLength}),
    location: input({name: 'location', value: 'local'}),
    version: select(RULES.versions, RULES.defaultVersion, {name: 'cassandraVersion'}),
    lucene: input({type: 'checkbox', name: 'lucene', disabled: true}),
    password: input({type: 'password', name: 'password', autocomplete: 'new-password',
      minlength: RULES.minPasswordLength, maxlength: RULES.maxPasswordLength}),
    confirm: input({type: 'password', name: 'confirmPassword', autocomplete: 'new-password'}),
    autoReplicate: select(['None', 'SystemKeyspaces', 'AllKeyspaces'], 'None', {name: 'autoReplicate'}),
    strategy: select(['StopAny', 'StopByRack'], 'StopAny', {name: 'scheduledEventStrategy'}),
    clusterType: select(['Production', 'NonProduction'], 'Production', {name: 'clusterType'}),
    dcName: input({name: 'dataCenterName', value: 'dc1', required: true, maxlength: RULES.maxNameLength}),
    zone: input({type: 'checkbox', name: 'availabilityZone'}),
    sku: select(RULES.skus.map((s) => [s.name, `${s.name} (${s.cpus} vCPU, ${s.memoryGib} GiB)`]), RULES.defaultSku,
      {name: 'sku'}),
    disks: input({type: 'number', name: 'diskCapacity', min: 1, max: RULES.maxDiskCapacity, value: 1}),
    nodes: input({type: 'number', name: 'nodeCount', min: 1, max: RULES.maxNodesPerDataCenter, value: 3}),
  };

  const panels = {
    basics: h('div', {},
      h('h2', {}, 'Project details'),
      field('Cluster name', f.name, `1 to ${RULES.maxNameLength} characters: a letter first, then letters, digits and single hyphens.`),
      field('Location', f.location, 'Where the datacenter is (free text for the local provider).'),
      field('Cassandra version', f.version),
      h('div', {class: 'field check'}, f.lucene, h('label', {for: f.lucene.id = nextId()}, 'Extension: Cassandra Lucene Index (not available in Mica)')),
      field('Initial Cassandra admin password', f.password, `${RULES.minPasswordLength} to ${RULES.maxPasswordLength} bytes; set on the cassandra role.`),
      field('Confirm Cassandra admin password', f.confirm),
      field('Auto replicate', f.autoReplicate, 'SystemKeyspaces or AllKeyspaces alter keyspace replication when datacenters are added or removed.'),
      field('Scheduled event strategy', f.strategy, 'StopAny: one node at a time anywhere. StopByRack: one rack at a time.'),
      field('Cluster type', f.clusterType, 'NonProduction clusters can be deallocated to save resources; Production clusters cannot.')),
    datacenter: h('div', {},
      h('h2', {}, 'Data center'),
      field('Data center name', f.dcName),
      h('div', {class: 'field check'}, f.zone, h('label', {for: f.zone.id = nextId()}, 'Availability zone (spread racks over zones)')),
      field('SKU size', f.sku),
      field('No. of disks', f.disks, `Data directories per node, 1 to ${RULES.maxDiskCapacity}.`),
      field('No. of nodes', f.nodes, `1 to ${RULES.maxNodesPerDataCenter}.`)),
    review: h('div', {}),
  };

  const tabButtons = {};
  const tabList = h('div', {role: 'tablist', 'aria-label': 'Create cluster steps', class: 'tabs'});
  const panelWrap = h('div', {});
  for (const [key, label] of TABS) {
    const id = `tab-${key}`;
    tabButtons[key] = h('button', {type: 'button', role: 'tab', id, 'aria-controls': `panel-${key}`,
      onclick: () => show(key),
      onkeydown: (event) => {
        const order = TABS.map(([k]) => k);
        const i = order.indexOf(key);
        const next = event.key === 'ArrowRight' ? order[(i + 1) % order.length]
          : event.key === 'ArrowLeft' ? order[(i + order.length - 1) % order.length] : null;
        if (next) {
          event.preventDefault();
          show(next);
          tabButtons[next].focus();
        }
      }}, label);
    tabList.append(tabButtons[key]);
    panelWrap.append(h('section', {role: 'tabpanel', id: `panel-${key}`, 'aria-labelledby': id, class: 'panel'},
      panels[key]));
  }
  const prev = h('button', {type: 'button', class: 'secondary'}, 'Previous');
  const next = h('button', {type: 'button'}, 'Next');
  const createButton = h('button', {type: 'submit', hidden: true}, 'Create');
  const progress = h('div', {class: 'progress-area'});
  const form = h('form', {class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); create(); }},
    tabList, panelWrap, h('div', {class: 'actions'}, prev, next, createButton));
  replace(ctx.main, h('h1', {}, 'Create Managed Instance for Apache Cassandra cluster'), form, progress);

  let currentTab = 'basics';
  function show(key) {
    currentTab = key;
    for (const [k] of TABS) {
      const selected = k === key;
      tabButtons[k].setAttribute('aria-selected', String(selected));
      tabButtons[k].tabIndex = selected ? 0 : -1;
      document.getElementById(`panel-${k}`).hidden = !selected;
    }
    const i = TABS.findIndex(([k]) => k === key);
    prev.hidden = i === 0;
    next.hidden = i === TABS.length - 1;
    createButton.hidden = key !== 'review';
    if (key === 'review') review();
  }
  prev.addEventListener('click', () => show(TABS[TABS.findIndex(([k]) => k === currentTab) - 1][0]));
  next.addEventListener('click', () => show(TABS[TABS.findIndex(([k]) => k === currentTab) + 1][0]));

  function request() {
    const cluster = {
      cassandraVersion: f.version.value,
      clusterType: f.clusterType.value,
      autoReplicate: f.autoReplicate.value,
      scheduledEventStrategy: f.strategy.value,
    };
    if (f.password.value) cluster.initialCassandraAdminPassword = f.password.value;
    const dataCenter = {
      dataCenterLocation: f.location.value || undefined,
      availabilityZone: f.zone.checked,
      sku: f.sku.value,
      diskCapacity: Number(f.disks.value),
      nodeCount: f.nodes.value === '' ? undefined : Number(f.nodes.value),
    };
    return {clusterName: f.name.value, cluster, dataCenterName: f.dcName.value, dataCenter};
  }

  /** Client-side checks the API cannot make (it never sees the confirmation), then the API's own rules. */
  async function problems() {
    if (f.password.value !== f.confirm.value) {
      return {detail: 'The password and its confirmation do not match.', tab: 'basics', focus: f.confirm};
    }
    const problem = await validate(request());
    if (problem) return {...problem, tab: tabOf(problem.property)};
    return null;
  }

  async function review() {
    const r = request();
    const row = (k, v) => [h('dt', {}, k), h('dd', {}, v === undefined || v === '' ? '—' : String(v))];
    const summary = h('dl', {class: 'summary'},
      row('Cluster name', r.clusterName), row('Location', r.dataCenter.dataCenterLocation),
      row('Cassandra version', r.cluster.cassandraVersion),
      row('Initial admin password', r.cluster.initialCassandraAdminPassword ? '••••••••' : '(none)'),
      row('Auto replicate', r.cluster.autoReplicate), row('Scheduled event strategy', r.cluster.scheduledEventStrategy),
      row('Cluster type', r.cluster.clusterType), row('Data center name', r.dataCenterName),
      row('Availability zone', r.dataCenter.availabilityZone ? 'Yes' : 'No'), row('SKU size', r.dataCenter.sku),
      row('No. of disks', r.dataCenter.diskCapacity), row('No. of nodes', r.dataCenter.nodeCount));
    const verdict = h('div', {'aria-live': 'polite', class: 'verdict'}, 'Validating…');
    replace(panels.review, h('h2', {}, 'Review + create'), verdict, summary);
    const problem = await problems();
    createButton.disabled = Boolean(problem);
    if (problem) {
      replace(verdict, errorBox(['Validation failed. ', problem.detail, ' ',
        h('button', {type: 'button', class: 'link', onclick: () => { show(problem.tab); (problem.focus || firstField(problem))?.focus(); }},
          `Fix it on the ${TABS.find(([k]) => k === problem.tab)[1]} tab`)]));
    } else {
      replace(verdict, h('p', {class: 'ok-box'}, 'Validation passed.'));
    }
  }

  function firstField(problem) {
    const map = {clusterName: f.name, initialCassandraAdminPassword: f.password, cassandraVersion: f.version,
      dataCenterName: f.dcName, nodeCount: f.nodes, sku: f.sku, diskCapacity: f.disks};
    const key = Object.keys(map).find((k) => (problem.property || '').includes(k));
    return key ? map[key] : null;
  }

  async function create() {
    const problem = await problems();
    if (problem) {
      await review();
      return;
    }
    const r = request();
    const name = r.clusterName;
    form.querySelectorAll('button, input, select').forEach((el) => { el.disabled = true; });
    const heading = h('h2', {tabindex: -1}, 'Deployment is in progress');
    const clusterOp = h('div', {});
    const dcOp = h('div', {});
    const outcome = h('div', {'aria-live': 'polite'});
    replace(progress, h('section', {class: 'card'}, heading, clusterOp, dcOp, outcome));
    heading.focus();
    const fail = (message) => {
      heading.textContent = 'Deployment failed';
      replace(outcome, errorBox(message));
      form.querySelectorAll('button, input, select').forEach((el) => { el.disabled = false; });
    };
    try {
      try {
        await get(`/clusters/${enc(name)}`);
        fail(`A cluster named '${name}' already exists; choose another name.`);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      const op1 = await put(`/clusters/${enc(name)}`, {location: r.dataCenter.dataCenterLocation, properties: r.cluster});
      const done1 = await trackOperation(clusterOp, op1, () => !ctx.active());
      if (done1.status !== 'Succeeded') {
        fail(`Creating the cluster ${done1.status}: ${done1.error?.message || 'no reason given'}`);
        return;
      }
      const op2 = await put(`/clusters/${enc(name)}/dataCenters/${enc(r.dataCenterName)}`, {properties: r.dataCenter});
      const done2 = await trackOperation(dcOp, op2, () => !ctx.active());
      if (done2.status !== 'Succeeded') {
        fail(`Creating datacenter ${r.dataCenterName} ${done2.status}: ${done2.error?.message || 'no reason given'}`);
        return;
      }
      heading.textContent = 'Your deployment is complete';
      replace(outcome, h('p', {class: 'ok-box'}, 'Cluster ', h('strong', {}, name), ' is ready. ',
        h('a', {class: 'button', href: `#/clusters/${enc(name)}/overview`}, 'Go to resource')));
    } catch (e) {
      fail(describe(e));
    }
  }

  show('basics');
  f.name.focus();
}
