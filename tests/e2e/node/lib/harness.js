'use strict';
// Shared set-up for the test files: one mica node and one connected driver client per file, started in `before`
// and torn down (client shut down, node killed) in `after`, with the node's log printed when a test failed.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const cassandra = require('cassandra-driver');
const { MicaNode } = require('./mica-node');

const SETUP_TIMEOUT_MS = 60000;

// Registers the hooks and returns an object whose `node` and `client` fields are filled in once `before` has run.
// `driverLog` collects every warning and error the driver logs, which `driverLoggedNothing` turns into a test.
function useNode(clientExtra = {}) {
  const ctx = { node: null, client: null, failed: false, driverLog: [] };
  before(async () => {
    ctx.node = await new MicaNode().start();
    ctx.client = new cassandra.Client(ctx.node.clientOptions(cassandra, clientExtra));
    ctx.client.on('log', (level, source, message) => {
      if (level === 'warning' || level === 'error') {
        ctx.driverLog.push(`${level} ${source}: ${message}`);
      }
    });
    await ctx.client.connect();
  }, { timeout: SETUP_TIMEOUT_MS });
  afterEach((t) => {
    if (t.passed === false) {
      ctx.failed = true;
    }
  });
  after(async () => {
    if (ctx.client) {
      await ctx.client.shutdown();
    }
    if (ctx.node) {
      if (ctx.failed) {
        process.stderr.write(`--- mica node log (${ctx.node.address}, ${ctx.node.dir}) ---\n${ctx.node.log()}\n`
          + '--- end of node log ---\n');
      }
      await ctx.node.kill();
    }
  }, { timeout: SETUP_TIMEOUT_MS });
  return ctx;
}

// A check that once failed because of the node bug described by `bug` (found by this suite and since fixed); it is an
// ordinary test that fails if the bug returns.
function nodeRegression(name, bug, fn) {
  test(`${name} [regression: ${bug.split(';')[0]}]`, fn);
}

// The last test of a file: the driver logged no warning or error (schema parsing, protocol, pool problems).
function driverLoggedNothing(ctx) {
  test('the driver logged no warnings or errors', () => {
    assert.deepEqual(ctx.driverLog, []);
  });
}

// Creates a keyspace with SimpleStrategy RF 1, the only replication a single node needs.
async function createKeyspace(client, name) {
  await client.execute(
    `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
}

module.exports = { useNode, nodeRegression, driverLoggedNothing, createKeyspace, cassandra };
