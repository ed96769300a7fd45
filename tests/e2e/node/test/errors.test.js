'use strict';
// Bad CQL gets the Cassandra error code the Node.js driver maps to the right error class, with Cassandra's wording,
// and the connection keeps working afterwards.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useNode, nodeRegression, driverLoggedNothing, createKeyspace, cassandra } = require('../lib/harness');

const ctx = useNode();
const codes = cassandra.types.responseErrorCodes;
const codeName = (code) => Object.keys(codes).find((k) => codes[k] === code) || `0x${code.toString(16)}`;

// Runs `query` and checks that it fails with a ResponseError of `code` whose message matches `message`.
async function expectError(query, params, options, code, message) {
  await assert.rejects(ctx.client.execute(query, params, options), (err) => {
    assert.ok(err instanceof cassandra.errors.ResponseError,
      `${query}: expected a ResponseError, got ${err && err.constructor.name}: ${err}`);
    assert.equal(codeName(err.code), codeName(code), `${query}: wrong error code (message: ${err.message})`);
    if (message) {
      assert.match(err.message, message, `${query}: unexpected message`);
    }
    return true;
  });
}

test('creates the schema', async () => {
  await createKeyspace(ctx.client, 'e');
  await ctx.client.execute('CREATE TABLE e.t (k int PRIMARY KEY, v text)');
});

test('a syntax error is a syntaxError (0x2000), simple and prepared', async () => {
  await expectError('SELEKT * FROM e.t', [], {}, codes.syntaxError, /line 1:0 no viable alternative at input 'SELEKT'/);
  await expectError('SELEKT * FROM e.t', [], { prepare: true }, codes.syntaxError, /SELEKT/);
  await expectError('SELECT * FROM e.t WHERE', [], {}, codes.syntaxError);
});

test('an unknown table is invalid (0x2200) with "unconfigured table"', async () => {
  await expectError('SELECT * FROM e.nope', [], {}, codes.invalid, /unconfigured table nope/);
  await expectError('SELECT * FROM e.nope WHERE k = ?', [1], { prepare: true }, codes.invalid, /unconfigured table nope/);
});

test('an unknown keyspace is invalid (0x2200)', async () => {
  await expectError('SELECT * FROM nokeyspace.t', [], {}, codes.invalid, /[Kk]eyspace '?nokeyspace'? does not exist/);
});

test('an unknown column is invalid (0x2200)', async () => {
  await expectError('SELECT nope FROM e.t', [], {}, codes.invalid, /Undefined column name nope/);
  await expectError('INSERT INTO e.t (k, nope) VALUES (1, 2)', [], {}, codes.invalid, /Undefined column name nope/);
});

test('a missing partition key is invalid (0x2200)', async () => {
  await expectError("INSERT INTO e.t (v) VALUES ('x')", [], {}, codes.invalid, /Some partition key parts are missing: k/);
});

test('a wrongly typed bound value is invalid (0x2200), worded like Cassandra', async () => {
  // Without prepared metadata or a hint the driver sends a JavaScript number as an 8-byte double.
  await expectError('INSERT INTO e.t (k, v) VALUES (?, ?)', [1, 'x'], { prepare: false }, codes.invalid,
    /Expected 4 or 0 byte int \(8\)/);
});

test('a wrong number of bound values is invalid (0x2200)', async () => {
  await expectError('INSERT INTO e.t (k, v) VALUES (?, ?)', ['1'], { prepare: false }, codes.invalid,
    /There were 2 markers\(\?\) in CQL but 1 bound variables/);
});

test('creating an existing keyspace or table is alreadyExists (0x2400) naming it', async () => {
  await assert.rejects(
    ctx.client.execute("CREATE KEYSPACE e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"),
    (err) => {
      assert.equal(codeName(err.code), 'alreadyExists', err.message);
      assert.equal(err.keyspace, 'e');
      assert.ok(!err.table, `table should be empty for a keyspace, got ${err.table}`);
      return true;
    });
  await assert.rejects(ctx.client.execute('CREATE TABLE e.t (k int PRIMARY KEY)'), (err) => {
    assert.equal(codeName(err.code), 'alreadyExists', err.message);
    assert.equal(err.keyspace, 'e');
    assert.equal(err.table, 't');
    return true;
  });
  // IF NOT EXISTS turns both into no-ops.
  await ctx.client.execute(
    "CREATE KEYSPACE IF NOT EXISTS e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  await ctx.client.execute('CREATE TABLE IF NOT EXISTS e.t (k int PRIMARY KEY)');
});

nodeRegression("alreadyExists messages use Cassandra's wording",
  "the node says 'Keyspace e already exists' and 'Object e.t already exists'; Cassandra 4.1 says "
    + "'Cannot add existing keyspace \"e\"' and 'Cannot add already existing table \"t\" to keyspace \"e\"'",
  async () => {
    await assert.rejects(
      ctx.client.execute("CREATE KEYSPACE e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"),
      /Cannot add existing keyspace "e"/);
    await assert.rejects(ctx.client.execute('CREATE TABLE e.t (k int PRIMARY KEY)'),
      /Cannot add already existing table "t" to keyspace "e"/);
  });

test('a batch with a bad statement is rejected whole', async () => {
  await assert.rejects(ctx.client.batch([
    { query: "INSERT INTO e.t (k, v) VALUES (100, 'a')" },
    { query: "INSERT INTO e.nope (k, v) VALUES (101, 'b')" },
  ]), (err) => {
    assert.equal(codeName(err.code), 'invalid', err.message);
    assert.match(err.message, /unconfigured table nope/);
    return true;
  });
  const rs = await ctx.client.execute('SELECT k FROM e.t WHERE k = 100');
  assert.equal(rs.rowLength, 0, 'no statement of a rejected batch may be applied');
});

test('the connection keeps working after errors', async () => {
  await ctx.client.execute("INSERT INTO e.t (k, v) VALUES (1, 'still fine')");
  const rs = await ctx.client.execute('SELECT v FROM e.t WHERE k = ?', [1], { prepare: true });
  assert.equal(rs.first().v, 'still fine');
  assert.equal(ctx.client.getState().getConnectedHosts().length, 1);
});

driverLoggedNothing(ctx);
