// End-to-end test of the Mica web portal: starts the real `mica server` (MICA_BIN) with a temporary state
// directory, drives the portal in headless Debian Chromium (playwright-core) through the portal quickstart —
// create a cluster with the wizard, scale with the slider, add a datacenter, edit autoReplicate, delete a
// datacenter with typed confirmation, override cassandra.yaml (a forbidden key shown as an error, an allowed key
// applied), update the version, deallocate/start, live metrics, delete — and
// checks every step both in the page and through the REST API. Screenshots of each step go to
// tests/e2e/portal/screenshots (or $SCREENSHOT_DIR). No request may leave 127.0.0.1.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MICA_BIN = process.env.MICA_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || path.join(HERE, '..', 'screenshots');
// Our own loopback block, so concurrent test suites never hand out the same node addresses.
const FIRST_NODE_ADDRESS = `127.${200 + (process.pid % 40)}.0.1`;
const CLUSTER = 'portal1';
const PASSWORD = 'portal-pass-1';
/** Long-running operations (node starts, rolling restarts) may take minutes on a busy machine. */
const OP_TIMEOUT_MS = 5 * 60 * 1000;
/** The server scrapes node metrics this often (seconds), so the Metrics pane has real points quickly. */
const METRICS_INTERVAL_SECONDS = 1;

let server;
let stateDir;
let baseUrl;
let apiToken;
let browser;
let page;
let shot = 0;
const offending = [];
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function until(what, fn, timeoutMs = OP_TIMEOUT_MS, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last?.stack || JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

async function api(method, urlPath, body) {
  const response = await fetch(baseUrl + urlPath, {
    method,
    headers: {Authorization: `Bearer ${apiToken}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, body: text ? JSON.parse(text) : null};
}

async function operations() {
  const r = await api('GET', `/clusters/${CLUSTER}/operations`);
  return r.status === 200 ? r.body.value : [];
}

/** Waits for an operation started after `before` (an operation count) to finish; asserts it succeeded. */
async function nextOperationDone(beforeCount, name) {
  const op = await until(`operation '${name}'`, async () => {
    const ops = await operations();
    return ops.length > beforeCount && ops[0].status !== 'InProgress' ? ops[0] : null;
  });
  assert.equal(op.status, 'Succeeded', `${op.name}: ${JSON.stringify(op.error)}`);
  assert.match(op.name, name);
  return op;
}

async function screenshot(name) {
  shot += 1;
  await page.screenshot({path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true});
}

async function pane(name) {
  await page.getByRole('link', {name, exact: true}).click();
  await page.waitForFunction((n) => document.querySelector('.pane-nav a[aria-current=page]')?.textContent === n, name);
}

before(async () => {
  assert.ok(MICA_BIN, 'set MICA_BIN to the mica binary');
  fs.mkdirSync(SHOTS, {recursive: true});
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mica-portal-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(stateDir, 'server.log'), 'w');
  server = spawn(MICA_BIN, ['server', '--state-dir', path.join(stateDir, 'state'), '--listen', `127.0.0.1:${port}`,
    '--first-node-address', FIRST_NODE_ADDRESS], {stdio: ['ignore', log, log],
    env: {...process.env, MICA_METRICS_INTERVAL_SECONDS: String(METRICS_INTERVAL_SECONDS)}});
  await until('the server to listen', async () => {
    assert.equal(server.exitCode, null, 'mica server exited');
    const r = await fetch(`${baseUrl}/openapi.json`);
    return r.ok;
  }, 30000, 100);
  apiToken = fs.readFileSync(path.join(stateDir, 'state', 'api.token'), 'utf8').trim();
  browser = await chromium.launch({executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']});
  page = await browser.newPage({viewport: {width: 1280, height: 900}});
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['blob:', 'data:'].includes(url.protocol) && url.hostname !== '127.0.0.1') offending.push(request.url());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  // Console errors catch Content-Security-Policy violations too; a 404 the page expects (metrics) is not one.
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) pageErrors.push(message.text());
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    // The server drains and stops its nodes on SIGTERM; give it a minute, then kill it.
    const killer = setTimeout(() => server.kill('SIGKILL'), 60000);
    await new Promise((resolve) => { if (server.exitCode !== null) resolve(); else server.once('exit', resolve); });
    clearTimeout(killer);
  }
  if (process.env.KEEP_STATE) console.log(`state kept in ${stateDir}`);
  else fs.rmSync(stateDir, {recursive: true, force: true});
});

test('the portal walks the quickstart against a real mica server', {timeout: 30 * 60 * 1000}, async (t) => {
  // Each step builds on the previous one: after a failure the rest are skipped instead of timing out one by one.
  let failed = false;
  const step = (name, fn) => t.test(name, {skip: failed && 'an earlier step failed'}, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      await screenshot('failure').catch(() => {});
      throw e;
    }
  });
  await step('sign in from the #token fragment; assets are local and cached correctly', async () => {
    const index = await fetch(`${baseUrl}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /text\/html/);
    const js = await fetch(`${baseUrl}/portal/js/app.js`);
    assert.match(js.headers.get('content-type'), /text\/javascript/);
    assert.equal(js.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(`${baseUrl}/clusters`)).status, 401, 'the API still needs the token');
    await page.goto(`${baseUrl}/#token=${apiToken}`);
    await page.getByRole('heading', {name: 'Clusters'}).waitFor();
    await page.getByText('No clusters yet').waitFor();
    assert.ok(!page.url().includes(apiToken), 'the token is removed from the address bar');
    await screenshot('clusters-empty');
  });

  await step('create wizard: validation shown inline, then create and watch it succeed', async () => {
    await page.getByRole('link', {name: '+ Create'}).click();
    // The tabs are a keyboard-operable tablist: arrows move between them.
    await page.getByRole('tab', {name: 'Basics'}).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', {name: 'Data center'}).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getByRole('tab', {name: 'Basics'}).getAttribute('aria-selected'), 'true');
    await page.getByLabel('Cluster name').fill('1bad');
    await page.getByLabel('Cassandra version').selectOption('4.0');
    await page.getByLabel('Initial Cassandra admin password').fill(PASSWORD);
    await page.getByLabel('Confirm Cassandra admin password').fill('something-else');
    await page.getByLabel('Cluster type').selectOption('NonProduction');
    await page.getByRole('tab', {name: 'Review + create'}).click();
    await page.getByText('do not match').waitFor();
    await page.getByRole('button', {name: 'Fix it on the Basics tab'}).click();
    assert.equal(await page.getByLabel('Confirm Cassandra admin password').evaluate((el) => el === document.activeElement), true,
      'the fix-it button focuses the field at fault');
    await page.getByLabel('Confirm Cassandra admin password').fill(PASSWORD);
    await page.getByRole('tab', {name: 'Review + create'}).click();
    // The API's own message for a bad cluster name (same rule, same words as a 400 from PUT /clusters).
    await page.getByText("'1bad' must start with a letter").waitFor();
    assert.equal(await page.getByRole('button', {name: 'Create', exact: true}).isDisabled(), true);
    assert.equal(await page.getByRole('button', {name: 'Next'}).isVisible(), false, 'no Next on the last tab');
    await screenshot('wizard-validation-error');
    await page.getByRole('tab', {name: 'Basics'}).click();
    assert.equal(await page.getByRole('button', {name: 'Create', exact: true}).isVisible(), false, 'Create only on Review');
    await page.getByLabel('Cluster name').fill(CLUSTER);
    await page.getByRole('tab', {name: 'Data center'}).click();
    await page.getByLabel('No. of nodes').fill('1');
    await screenshot('wizard-datacenter');
    await page.getByRole('button', {name: 'Next'}).click();
    await page.getByText('Validation passed.').waitFor();
    await screenshot('wizard-review');
    await page.getByRole('button', {name: 'Create', exact: true}).click();
    await page.getByText('Deployment is in progress').waitFor();
    await screenshot('deployment-in-progress');
    await page.getByText('Your deployment is complete').waitFor({timeout: OP_TIMEOUT_MS});
    await screenshot('deployment-complete');
    const cluster = (await api('GET', `/clusters/${CLUSTER}`)).body.properties;
    assert.equal(cluster.provisioningState, 'Succeeded');
    assert.equal(cluster.cassandraVersion, '4.0');
    assert.equal(cluster.clusterType, 'NonProduction');
    const dc = (await api('GET', `/clusters/${CLUSTER}/dataCenters/dc1`)).body.properties;
    assert.equal(dc.nodeCount, 1);
    assert.equal(dc.provisioningState, 'Succeeded');
  });

  await step('overview and the clusters list show the new cluster', async () => {
    await page.getByRole('link', {name: 'Go to resource'}).click();
    await page.getByText('Healthy').first().waitFor();
    await page.getByText(/SSL_VALIDATE=false cqlsh 127\./).waitFor();
    const ca = page.getByRole('link', {name: 'Download CA certificate'});
    const [download] = await Promise.all([page.waitForEvent('download'), ca.click()]);
    const pem = fs.readFileSync(await download.path(), 'utf8');
    const apiCa = (await api('GET', `/clusters/${CLUSTER}`)).body.properties.gossipCertificates[0].pem;
    assert.equal(pem, apiCa);
    await screenshot('overview');
    await page.getByRole('link', {name: 'Clusters', exact: true}).first().click();
    const row = page.locator(`tr[data-cluster=${CLUSTER}]`);
    await row.getByText('Healthy').waitFor();
    assert.match(await row.innerText(), /Succeeded[\s\S]*4\.0[\s\S]*NonProduction[\s\S]*dc1[\s\S]*1\/1/);
    await page.setViewportSize({width: 390, height: 844});
    await screenshot('clusters-phone-width');
    await page.setViewportSize({width: 1280, height: 900});
    await row.getByRole('link', {name: CLUSTER}).click();
  });

  await step('scale dc1 from 1 to 2 nodes with the slider', async () => {
    await pane('Data Center');
    const section = page.locator('section[data-dc=dc1]');
    await section.locator('tr[data-address]').first().waitFor();
    const before = (await operations()).length;
    await section.getByRole('button', {name: 'Scale'}).click();
    const form = page.getByRole('form', {name: 'Scale dc1'});
    await form.getByRole('slider').fill('2');
    assert.equal(await form.getByLabel('No. of nodes', {exact: true}).inputValue(), '2', 'the number field follows the slider');
    await screenshot('scale-slider');
    await form.getByRole('button', {name: 'Scale'}).click();
    await nextOperationDone(before, /update dataCenter dc1/);
    assert.equal((await api('GET', `/clusters/${CLUSTER}/dataCenters/dc1`)).body.properties.nodeCount, 2);
    const status = (await api('GET', `/clusters/${CLUSTER}/status`)).body;
    assert.deepEqual(status.dataCenters[0].nodes.map((n) => n.status), ['Up', 'Up']);
    await until('two healthy rows', async () => (await section.locator('tr[data-address] .healthy').count()) === 2, 30000);
    await screenshot('scaled');
  });

  await step('add datacenter dc2 with one node', async () => {
    const before = (await operations()).length;
    await page.getByRole('button', {name: '+ Add'}).click();
    const form = page.getByRole('form', {name: 'Add data center'});
    await form.getByLabel('Data center name').fill('dc2');
    await form.getByLabel('No. of nodes', {exact: true}).fill('1');
    await screenshot('add-datacenter');
    await form.getByRole('button', {name: 'Add'}).click();
    await nextOperationDone(before, /create dataCenter dc2/);
    const dc2 = (await api('GET', `/clusters/${CLUSTER}/dataCenters/dc2`)).body.properties;
    assert.equal(dc2.provisioningState, 'Succeeded');
    assert.equal(dc2.nodeCount, 1);
    const section = page.locator('section[data-dc=dc2]');
    await until('dc2 healthy in the pane', async () => (await section.locator('tr[data-address] .healthy').count()) === 1, 30000);
    // Ownership as the nodes report it: a fraction per node in the API, a percentage in the pane.
    const status = (await api('GET', `/clusters/${CLUSTER}/status`)).body;
    const nodes = status.dataCenters.flatMap((d) => d.nodes);
    assert.ok(nodes.every((n) => typeof n.owns === 'number' && n.owns > 0 && n.owns <= 1), JSON.stringify(nodes));
    const owns = page.locator('section[data-dc=dc1] tr[data-address] td:nth-of-type(5)');
    await until('owns shown for dc1', async () => (await owns.allTextContents()).join().match(/^\d+\.\d%,\d+\.\d%$/), 15000);
    await screenshot('datacenters');
  });

  await step('overview: edit autoReplicate and the scheduled event strategy after creation', async () => {
    await pane('Overview');
    const form = page.getByRole('form', {name: 'Replication and maintenance'});
    assert.equal(await form.getByLabel('Auto replicate').inputValue(), 'None');
    await form.getByLabel('Auto replicate').selectOption('AllKeyspaces');
    await form.getByLabel('Scheduled event strategy').selectOption('StopByRack');
    await screenshot('replication-settings');
    const before = (await operations()).length;
    await form.getByRole('button', {name: 'Save settings'}).click();
    await nextOperationDone(before, /update cluster/);
    const cluster = (await api('GET', `/clusters/${CLUSTER}`)).body.properties;
    assert.equal(cluster.autoReplicate, 'AllKeyspaces');
    assert.equal(cluster.scheduledEventStrategy, 'StopByRack');
    assert.equal(cluster.cassandraVersion, '4.0', 'the PUT changed only the two settings');
    await page.locator('dd', {hasText: 'AllKeyspaces'}).waitFor({timeout: 15000});
    assert.equal(await page.getByRole('form', {name: 'Replication and maintenance'}).getByLabel('Scheduled event strategy').inputValue(), 'StopByRack');
  });

  await step('delete dc2 with typed confirmation; deleting the last datacenter is refused inline', async () => {
    await pane('Data Center');
    const dc2 = page.locator('section[data-dc=dc2]');
    await dc2.getByRole('button', {name: 'Delete', exact: true}).click();
    let form = page.getByRole('form', {name: 'Delete dc2'});
    const confirm = form.getByLabel(/Type the data center name/);
    await confirm.fill('dc1');
    assert.equal(await form.getByRole('button', {name: 'Delete', exact: true}).isDisabled(), true);
    await confirm.fill('dc2');
    await screenshot('datacenter-delete-confirm');
    const before = (await operations()).length;
    await form.getByRole('button', {name: 'Delete', exact: true}).click();
    await nextOperationDone(before, /delete dataCenter dc2/);
    assert.equal((await api('GET', `/clusters/${CLUSTER}/dataCenters/dc2`)).status, 404);
    assert.deepEqual((await api('GET', `/clusters/${CLUSTER}/dataCenters`)).body.value.map((d) => d.name), ['dc1']);
    await until('dc2 gone from the pane', async () => (await dc2.count()) === 0, 15000);
    // The API's 400 for the last datacenter is shown in the form, and nothing is deleted.
    await page.locator('section[data-dc=dc1]').getByRole('button', {name: 'Delete', exact: true}).click();
    form = page.getByRole('form', {name: 'Delete dc1'});
    await form.getByLabel(/Type the data center name/).fill('dc1');
    await form.getByRole('button', {name: 'Delete', exact: true}).click();
    await form.getByText("datacenter 'dc1' is the cluster's last datacenter; delete the cluster instead").waitFor();
    assert.equal((await api('GET', `/clusters/${CLUSTER}/dataCenters/dc1`)).body.properties.provisioningState, 'Succeeded');
    await screenshot('datacenter-delete-refused');
    await form.getByRole('button', {name: 'Cancel'}).click();
    await page.getByRole('form', {name: 'Delete dc1'}).waitFor({state: 'detached'});
  });

  await step('cassandra.yaml override: forbidden key refused before submit, allowed key applied', async () => {
    await pane('Cassandra Configuration');
    const section = page.locator('section[data-dc=dc1]');
    await section.getByRole('button', {name: 'Update'}).click();
    const editor = section.getByLabel('cassandra.yaml overrides for dc1');
    await editor.fill('authenticator: AllowAllAuthenticator\n');
    await section.getByText("cassandra.yaml key 'authenticator' is managed by the service").waitFor();
    const form = page.getByRole('form', {name: 'Update configuration of dc1'});
    assert.equal(await form.getByRole('button', {name: 'Update'}).isDisabled(), true);
    await screenshot('yaml-forbidden-key');
    await editor.fill('compaction_thruput: 64MiB/s\n');
    await section.getByText("unknown cassandra.yaml key 'compaction_thruput'").waitFor();
    const before = (await operations()).length;
    await editor.fill('compaction_throughput: 64MiB/s\n');
    await until('no key errors', async () => !(await form.getByRole('button', {name: 'Update'}).isDisabled()), 5000, 100);
    await form.getByRole('button', {name: 'Update'}).click();
    await nextOperationDone(before, /update dataCenter dc1/);
    const fragment = (await api('GET', `/clusters/${CLUSTER}/dataCenters/dc1`)).body.properties.base64EncodedCassandraYamlFragment;
    assert.equal(Buffer.from(fragment, 'base64').toString(), 'compaction_throughput: 64MiB/s\n');
    await section.locator('.yaml-current').getByText('compaction_throughput: 64MiB/s').waitFor({timeout: 15000});
    await screenshot('yaml-applied');
  });

  await step('version update offers only the next version (4.0 -> 4.1)', async () => {
    await pane('Overview');
    const version = page.getByLabel('Update Cassandra version to');
    await version.waitFor();
    assert.deepEqual(await version.locator('option').allTextContents(), ['4.1']);
    await screenshot('version-update');
    const before = (await operations()).length;
    await page.getByRole('button', {name: 'Update', exact: true}).click();
    await nextOperationDone(before, /update cluster/);
    assert.equal((await api('GET', `/clusters/${CLUSTER}`)).body.properties.cassandraVersion, '4.1');
    await until('4.1 shown', async () => (await page.locator('#cassandra-version').innerText()) === '4.1', 15000);
    assert.deepEqual(await page.getByLabel('Update Cassandra version to').locator('option').allTextContents(), ['5.0']);
    await screenshot('version-updated');
  });

  await step('deallocate and start the NonProduction cluster (Production cannot be deallocated)', async () => {
    let before = (await operations()).length;
    await page.getByLabel('Cluster type').selectOption('Production');
    await page.getByRole('button', {name: 'Save type'}).click();
    await nextOperationDone(before, /update cluster/);
    assert.equal((await api('GET', `/clusters/${CLUSTER}`)).body.properties.clusterType, 'Production');
    await page.getByText('Production clusters cannot be deallocated').waitFor({timeout: 15000});
    assert.equal(await page.getByRole('button', {name: 'Deallocate', exact: true}).isDisabled(), true);
    // The API enforces the same rule the page explains.
    const refused = await api('POST', `/clusters/${CLUSTER}/deallocate`);
    assert.equal(refused.status, 400);
    assert.match(refused.body.detail, /Production cluster cannot be deallocated/);
    await screenshot('production-rule');
    before = (await operations()).length;
    await page.getByLabel('Cluster type').selectOption('NonProduction');
    await page.getByRole('button', {name: 'Save type'}).click();
    await nextOperationDone(before, /update cluster/);
    await until('Deallocate enabled', async () => !(await page.getByRole('button', {name: 'Deallocate', exact: true}).isDisabled()), 15000);
    before = (await operations()).length;
    await page.getByRole('button', {name: 'Deallocate', exact: true}).click();
    await nextOperationDone(before, /deallocate cluster/);
    assert.equal((await api('GET', `/clusters/${CLUSTER}`)).body.properties.deallocated, true);
    await page.getByRole('button', {name: 'Start', exact: true}).waitFor({timeout: 15000});
    await screenshot('deallocated');
    before = (await operations()).length;
    await page.getByRole('button', {name: 'Start', exact: true}).click();
    await nextOperationDone(before, /start cluster/);
    const cluster = (await api('GET', `/clusters/${CLUSTER}`)).body.properties;
    assert.notEqual(cluster.deallocated, true);
    const status = (await api('GET', `/clusters/${CLUSTER}/status`)).body;
    assert.ok(status.dataCenters.flatMap((d) => d.nodes).every((n) => n.status === 'Up'), JSON.stringify(status));
    await page.getByRole('button', {name: 'Deallocate', exact: true}).waitFor({timeout: 15000});
    await screenshot('started');
  });

  await step('activity lists every operation; metrics charts from the live endpoint and from a sample', async () => {
    await pane('Activity');
    const ops = await operations();
    const items = page.locator('ol.activity > li');
    await until('every operation listed', async () => (await items.count()) === ops.length, 15000);
    assert.match(await items.first().innerText(), /start cluster/);
    await screenshot('activity');
    await pane('Metrics');
    // The real collector (one scrape a second here): the pane draws what GET /clusters/{c}/metrics returns, a
    // section per series and six lines per series with points (a fresh cluster's rates may all be zero).
    const live = await until('live metrics points', async () => {
      const r = await api('GET', `/clusters/${CLUSTER}/metrics`);
      return r.status === 200 && r.body.series.length && r.body.series.every((one) => one.points.length >= 2) ? r.body : null;
    }, 60000);
    assert.equal(live.intervalSeconds, METRICS_INTERVAL_SECONDS);
    assert.deepEqual(live.series.map((one) => one.dataCenter).sort(), ['dc1', null].sort());
    await page.getByText(`One point every ${METRICS_INTERVAL_SECONDS}s.`).waitFor({timeout: 15000});
    await until('live charts drawn', async () => (await page.locator('svg.chart path.series').count()) === 6 * live.series.length, 15000);
    assert.deepEqual(await page.locator('.pane section h2').allTextContents(), ['Whole cluster', 'Datacenter dc1']);
    const first = live.series[0].points[0];
    for (const key of ['time', 'readsPerSecond', 'writesPerSecond', 'readLatencyP99Ms', 'writeLatencyP99Ms']) {
      assert.equal(typeof first[key], 'number', `${key} in ${JSON.stringify(first)}`);
    }
    await screenshot('metrics');
    // The charts themselves, from a response of the agreed shape (served through the page's own origin).
    const now = Math.floor(Date.now() / 1000);
    const points = (scale) => Array.from({length: 12}, (_, i) => ({time: now - (11 - i) * 10,
      readsPerSecond: scale * (100 + i * 5), writesPerSecond: scale * (50 + i), readLatencyP99Ms: 3 + i / 10,
      writeLatencyP99Ms: 2 + i / 20, readLatencyMeanMs: 1.2, writeLatencyMeanMs: 0.8}));
    const sample = {intervalSeconds: 10, series: [{dataCenter: 'dc1', points: points(1)},
      {dataCenter: null, points: points(2)}, {dataCenter: 'dc2', points: points(1)}]};
    await page.route(`**/clusters/${CLUSTER}/metrics`, (route) => route.fulfill({json: sample}));
    await pane('Overview');
    await pane('Metrics');
    await page.locator('svg.chart').nth(5).waitFor();
    const headings = await page.locator('.pane section h2').allTextContents();
    assert.deepEqual(headings, ['Whole cluster', 'Datacenter dc1', 'Datacenter dc2']);
    assert.equal(await page.locator('svg.chart path.series').count(), 18);
    await page.getByText('Reads: 310.0 ops/s').waitFor();
    await screenshot('metrics-charts');
    await page.unroute(`**/clusters/${CLUSTER}/metrics`);
  });

  await step('upload a client certificate from a PEM file', async () => {
    await pane('Overview');
    const pem = (await api('GET', `/clusters/${CLUSTER}`)).body.properties.gossipCertificates[0].pem;
    const file = path.join(stateDir, 'client-ca.pem');
    fs.writeFileSync(file, pem);
    await page.getByLabel('PEM file').setInputFiles(file);
    // The page reads the file asynchronously into the text area, where it can still be edited.
    await until('the PEM in the text area', async () => /BEGIN CERTIFICATE/.test(await page.getByLabel('Or paste PEM text').inputValue()), 5000, 100);
    const before = (await operations()).length;
    await page.getByRole('button', {name: 'Upload certificates'}).click();
    await nextOperationDone(before, /update cluster/);
    const certs = (await api('GET', `/clusters/${CLUSTER}`)).body.properties.clientCertificates;
    assert.equal(certs.length, 1);
    assert.equal(certs[0].pem.trim(), pem.trim());
    await page.getByText('1 (mTLS required)').waitFor({timeout: 15000});
    await screenshot('client-certificates');
  });

  await step('delete with typed confirmation', async () => {
    await pane('Overview');
    const confirm = page.getByLabel(/Type the cluster name/);
    const button = page.getByRole('button', {name: 'Delete', exact: true});
    await confirm.fill('wrong');
    assert.equal(await button.isDisabled(), true);
    await confirm.fill(CLUSTER);
    await screenshot('delete-confirm');
    await button.click();
    await until('cluster deleted', async () => (await api('GET', `/clusters/${CLUSTER}`)).status === 404);
    await page.getByRole('heading', {name: 'Clusters'}).waitFor();
    await page.getByText('No clusters yet').waitFor({timeout: 15000});
    await screenshot('deleted');
  });

  await step('no request left 127.0.0.1 and the page raised no errors', () => {
    assert.deepEqual(offending, []);
    assert.deepEqual(pageErrors, []);
  });
});
