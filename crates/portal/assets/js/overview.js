// Cluster overview: essentials (state, version with Update to the next version only, type, health), connection
// information (cqlsh, Python and Java driver snippets, CA certificate download), Deallocate/Start with the
// Production rule, autoReplicate and scheduledEventStrategy settings, client certificate upload, and delete with
// typed confirmation.

import {h, badge, replace, errorBox, field, select, codeBlock} from './dom.js';
import {get, put, post, del, enc, describe, trackOperation} from './api.js';
import {RULES} from '/portal/rules.js';
import {health} from './clusters.js';

const NATIVE_PORT = 9042;
const REFRESH_MS = 4000;
const AUTO_REPLICATE = ['None', 'SystemKeyspaces', 'AllKeyspaces'];
const STRATEGIES = ['StopAny', 'StopByRack'];
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export async function renderOverview(ctx, name, body) {
  const path = `/clusters/${enc(name)}`;
  const essentials = h('div', {});
  const actions = h('div', {});
  const connect = h('div', {});
  const operation = h('div', {class: 'op-area'});
  const message = h('div', {'aria-live': 'polite'});
  replace(body, operation, message, essentials, actions, connect);
  let busy = false;
  let lastKey = '';

  /** Runs a mutation, shows its operation until it finishes, then redraws. */
  async function run(action) {
    busy = true;
    replace(message);
    try {
      const op = await action();
      if (op?.id) {
        const done = await trackOperation(operation, op, () => !ctx.active());
        if (done.status !== 'Succeeded') replace(message, errorBox(`${done.name} ${done.status}: ${done.error?.message || ''}`));
      }
    } catch (e) {
      replace(message, errorBox(describe(e)));
    } finally {
      busy = false;
      lastKey = '';
      await refresh();
    }
  }

  async function refresh() {
    if (busy || !ctx.active()) return;
    let cluster;
    let status = null;
    try {
      [cluster, status] = await Promise.all([get(path), get(`${path}/status`).catch(() => null)]);
    } catch (e) {
      if (e.status === 404) replace(essentials, h('p', {}, 'This cluster no longer exists. ', h('a', {href: '#/'}, 'Back to clusters')));
      else replace(message, errorBox(describe(e)));
      return;
    }
    const p = cluster.properties;
    const hl = health(status);
    const row = (k, ...v) => [h('dt', {}, k), h('dd', {}, ...v)];
    replace(essentials, h('section', {class: 'card'}, h('h2', {}, 'Essentials'), h('dl', {class: 'summary'},
      row('Status', badge(p.provisioningState)),
      row('Health', badge(p.deallocated ? 'Deallocated' : hl.word), ` ${hl.up}/${hl.nodes} nodes up`),
      row('Cassandra version', h('span', {id: 'cassandra-version'}, p.cassandraVersion)),
      row('Cluster type', p.clusterType),
      row('Deallocated', p.deallocated ? 'Yes' : 'No'),
      row('Auto replicate', p.autoReplicate || 'None'),
      row('Scheduled event strategy', p.scheduledEventStrategy || 'StopAny'),
      row('Client certificates', p.clientCertificates?.length ? `${p.clientCertificates.length} (mTLS required)` : 'None'),
      row('Seed nodes', (p.seedNodes || []).map((s) => s.ipAddress).join(', ') || '—'),
      p.provisionError ? row('Provision error', h('span', {class: 'error-text'}, `${p.provisionError.code}: ${p.provisionError.message}`)) : null)));
    // Forms are redrawn only when what they depend on changed, so typing is never interrupted by a refresh.
    const key = JSON.stringify([p.cassandraVersion, p.clusterType, p.deallocated, p.provisioningState,
      p.seedNodes, p.gossipCertificates?.length, p.clientCertificates?.length, p.autoReplicate,
      p.scheduledEventStrategy]);
    if (key !== lastKey) {
      lastKey = key;
      drawActions(p);
      drawConnect(p);
    }
  }

  function drawActions(p) {
    const next = RULES.nextVersion[p.cassandraVersion];
    const version = select(next ? [next] : [], next, {name: 'cassandraVersion'});
    const versionForm = h('form', {class: 'inline-form', onsubmit: (e) => {
      e.preventDefault();
      run(() => put(path, {properties: {cassandraVersion: version.value}}));
    }}, field('Update Cassandra version to', version,
      next ? `Versions change one step at a time (${RULES.versions.join(' → ')}).` : `${p.cassandraVersion} is the newest supported version.`),
    h('button', {type: 'submit', disabled: !next}, 'Update'));

    const type = select(['Production', 'NonProduction'], p.clusterType, {name: 'clusterType'});
    const typeForm = h('form', {class: 'inline-form', onsubmit: (e) => {
      e.preventDefault();
      run(() => put(path, {properties: {clusterType: type.value}}));
    }}, field('Cluster type', type), h('button', {type: 'submit', class: 'secondary'}, 'Save type'));

    // The same PUT as `mica cluster update --auto-replicate ... --scheduled-event-strategy ...`: only these two
    // properties, the server keeps the rest.
    const autoReplicate = select(AUTO_REPLICATE, p.autoReplicate || 'None', {name: 'autoReplicate'});
    const strategy = select(STRATEGIES, p.scheduledEventStrategy || 'StopAny', {name: 'scheduledEventStrategy'});
    const settingsForm = h('form', {class: 'stack', 'aria-label': 'Replication and maintenance', onsubmit: (e) => {
      e.preventDefault();
      run(() => put(path, {properties: {autoReplicate: autoReplicate.value, scheduledEventStrategy: strategy.value}}));
    }}, h('h3', {}, 'Replication and maintenance'),
    field('Auto replicate', autoReplicate, 'SystemKeyspaces or AllKeyspaces: keyspace replication follows datacenters as they are added or removed. None: you alter keyspaces yourself, and a datacenter they still replicate to cannot be deleted.'),
    field('Scheduled event strategy', strategy, 'How rolling restarts take nodes down: StopAny one node at a time anywhere, StopByRack one rack at a time.'),
    h('button', {type: 'submit', class: 'secondary'}, 'Save settings'));

    const production = p.clusterType !== 'NonProduction';
    const power = p.deallocated
      ? h('button', {type: 'button', onclick: () => run(() => post(`${path}/start`))}, 'Start')
      : h('button', {type: 'button', class: 'secondary', disabled: production,
        'aria-describedby': 'dealloc-rule', onclick: () => run(() => post(`${path}/deallocate`))}, 'Deallocate');
    const rule = h('p', {class: 'hint', id: 'dealloc-rule'}, production
      ? 'Production clusters cannot be deallocated: change the cluster type to NonProduction first. Deallocating stops every node (with drain) and keeps the data; Start brings the cluster back.'
      : 'Deallocate stops every node (with drain) and keeps its data; Start brings the cluster back. Do not run schema changes or writes while deallocating.');

    const certText = h('textarea', {name: 'clientCertificates', rows: 4, placeholder: '-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----'});
    const certFile = h('input', {type: 'file', accept: '.pem,.crt,.cer', multiple: true, onchange: async () => {
      const texts = await Promise.all([...certFile.files].map((file) => file.text()));
      certText.value = texts.join('\n');
    }});
    const certForm = h('form', {class: 'stack', onsubmit: (e) => {
      e.preventDefault();
      const pems = certText.value.match(PEM_BLOCK) || (certText.value.trim() ? [certText.value.trim()] : []);
      if (!pems.length) {
        replace(message, errorBox('Choose a PEM file or paste at least one certificate.'));
        return;
      }
      run(() => put(path, {properties: {clientCertificates: pems.map((pem) => ({pem}))}}));
    }}, h('h3', {}, 'Client certificates'),
    h('p', {class: 'hint'}, 'Clients must then present a certificate signed by one of these (mutual TLS).'),
    field('PEM file', certFile), field('Or paste PEM text', certText),
    h('button', {type: 'submit', class: 'secondary'}, 'Upload certificates'));

    const confirm = h('input', {name: 'confirmDelete', autocomplete: 'off', spellcheck: 'false'});
    const deleteButton = h('button', {type: 'submit', class: 'danger', disabled: true}, 'Delete');
    confirm.addEventListener('input', () => { deleteButton.disabled = confirm.value !== name; });
    const deleteForm = h('form', {class: 'stack', onsubmit: async (e) => {
      e.preventDefault();
      if (confirm.value !== name) return;
      await run(() => del(path));
      location.hash = '#/';
    }}, h('h3', {}, 'Delete cluster'),
    h('p', {class: 'hint'}, 'Deleting removes every node and all data. This cannot be undone.'),
    field(`Type the cluster name (${name}) to confirm`, confirm), deleteButton);

    replace(actions, h('section', {class: 'card'}, h('h2', {}, 'Manage'),
      h('div', {class: 'grid2'},
        h('div', {}, versionForm, typeForm, h('div', {class: 'stack'}, h('h3', {}, p.deallocated ? 'Start' : 'Deallocate'), rule, power),
          settingsForm),
        h('div', {}, certForm, deleteForm))));
  }

  function drawConnect(p) {
    const host = p.seedNodes?.[0]?.ipAddress || '<node address>';
    const ca = p.gossipCertificates?.[0]?.pem;
    const caLink = ca
      ? h('a', {class: 'button secondary', download: `${name}-ca.pem`,
        href: URL.createObjectURL(new Blob([ca], {type: 'application/x-pem-file'}))}, 'Download CA certificate')
      : h('span', {class: 'muted'}, 'The CA certificate appears once the cluster is created.');
    const python = `from ssl import SSLContext, PROTOCOL_TLS_CLIENT, CERT_REQUIRED
from cassandra.cluster import Cluster
from cassandra.auth import PlainTextAuthProvider

ssl_context = SSLContext(PROTOCOL_TLS_CLIENT)
ssl_context.load_verify_locations("${name}-ca.pem")
ssl_context.check_hostname = False
ssl_context.verify_mode = CERT_REQUIRED
cluster = Cluster(["${host}"], port=${NATIVE_PORT}, ssl_context=ssl_context,
                  auth_provider=PlainTextAuthProvider("cassandra", "<password>"))
session = cluster.connect()
print(session.execute("SELECT release_version FROM system.local").one())`;
    const java = `// DataStax Java driver 4.x; trust ${name}-ca.pem (e.g. imported into a truststore).
CqlSession session = CqlSession.builder()
    .addContactPoint(new InetSocketAddress("${host}", ${NATIVE_PORT}))
    .withLocalDatacenter("dc1")
    .withAuthCredentials("cassandra", "<password>")
    .withSslContext(sslContextTrusting("${name}-ca.pem"))
    .build();
System.out.println(session.execute("SELECT release_version FROM system.local").one().getString(0));`;
    replace(connect, h('section', {class: 'card'}, h('h2', {}, 'Connect'),
      h('p', {}, 'TLS is always on. Use the password given when the cluster was created.'),
      codeBlock(`SSL_VALIDATE=false cqlsh ${host} ${NATIVE_PORT} --ssl -u cassandra -p '<password>'`, 'cqlsh'),
      codeBlock(python, 'Python (cassandra-driver)'),
      codeBlock(java, 'Java (DataStax driver 4)'),
      h('p', {}, caLink)));
  }

  await refresh();
  ctx.every(REFRESH_MS, refresh);
}
