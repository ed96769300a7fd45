'use strict';
// Prepared statements, paging through 10,000 rows in every way the Node.js driver offers, and batches.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useNode, driverLoggedNothing, createKeyspace, cassandra } = require('../lib/harness');

const ctx = useNode();

const PARTITIONS = 10;
const ROWS_PER_PARTITION = 1000;
const TOTAL_ROWS = PARTITIONS * ROWS_PER_PARTITION;
const FETCH_SIZE = 333;

const key = (k, c) => `${k}/${c}`;

test('creates the schema', async () => {
  await createKeyspace(ctx.client, 'q');
  await ctx.client.execute('CREATE TABLE q.t (k int, c int, v text, PRIMARY KEY (k, c))');
  await ctx.client.execute('CREATE TABLE q.kv (k text PRIMARY KEY, n int, s set<int>)');
  await ctx.client.execute('CREATE TABLE q.hits (page text PRIMARY KEY, views counter, clicks counter)');
});

test('prepares statements and executes them with bound values', async () => {
  const { client } = ctx;
  const insert = 'INSERT INTO q.kv (k, n, s) VALUES (?, ?, ?)';
  await client.execute(insert, ['a', 1, [1, 2]], { prepare: true });
  await client.execute(insert, ['b', 2, null], { prepare: true });
  const rs = await client.execute('SELECT k, n, s FROM q.kv WHERE k = ?', ['a'], { prepare: true });
  assert.equal(rs.rowLength, 1);
  assert.deepEqual(rs.columns.map((c) => c.name), ['k', 'n', 's']);
  const row = rs.first();
  assert.equal(row.k, 'a');
  assert.equal(row.n, 1);
  assert.deepEqual(row.s, [1, 2]);
  const b = (await client.execute('SELECT n, s FROM q.kv WHERE k = ?', ['b'], { prepare: true })).first();
  assert.equal(b.n, 2);
  assert.equal(b.s, null);
  // Named parameters are resolved against the prepared metadata's column names.
  await client.execute('UPDATE q.kv SET n = :n WHERE k = :k', { k: 'a', n: 41 }, { prepare: true });
  const named = await client.execute('SELECT n FROM q.kv WHERE k = :k', { k: 'a' }, { prepare: true });
  assert.equal(named.first().n, 41);
  // The same query string reuses the driver's prepared cache; the node must still answer correctly.
  for (let i = 0; i < 5; i++) {
    const again = await client.execute('SELECT n FROM q.kv WHERE k = ?', ['a'], { prepare: true });
    assert.equal(again.first().n, 41);
  }
});

test('inserts 10,000 rows with prepared statements in unlogged batches', async () => {
  const { client } = ctx;
  const insert = 'INSERT INTO q.t (k, c, v) VALUES (?, ?, ?)';
  for (let k = 0; k < PARTITIONS; k++) {
    const queries = [];
    for (let c = 0; c < ROWS_PER_PARTITION; c++) {
      queries.push({ query: insert, params: [k, c, `v${k}-${c}`] });
    }
    await client.batch(queries, { prepare: true, logged: false });
  }
  const count = await client.execute('SELECT count(*) FROM q.t');
  assert.equal(count.first().count.toString(), String(TOTAL_ROWS));
});

function checkAllRows(seen) {
  assert.equal(seen.length, TOTAL_ROWS, `expected ${TOTAL_ROWS} rows, got ${seen.length}`);
  const unique = new Set(seen.map((r) => key(r.k, r.c)));
  assert.equal(unique.size, TOTAL_ROWS, 'rows were repeated across pages');
  for (const r of seen) {
    assert.equal(r.v, `v${r.k}-${r.c}`);
  }
}

test('pages through 10,000 rows with eachRow and autoPage', async () => {
  const seen = [];
  await new Promise((resolve, reject) => {
    ctx.client.eachRow('SELECT k, c, v FROM q.t', [], { prepare: true, fetchSize: FETCH_SIZE, autoPage: true },
      (_n, row) => seen.push(row),
      (err) => (err ? reject(err) : resolve()));
  });
  checkAllRows(seen);
});

test('pages through 10,000 rows by hand with pageState', async () => {
  const seen = [];
  let pageState;
  let pages = 0;
  do {
    const rs = await ctx.client.execute('SELECT k, c, v FROM q.t', [],
      { prepare: true, fetchSize: FETCH_SIZE, pageState });
    assert.ok(rs.rowLength <= FETCH_SIZE, `page of ${rs.rowLength} rows is larger than fetchSize ${FETCH_SIZE}`);
    seen.push(...rs.rows);
    pageState = rs.pageState;
    pages++;
  } while (pageState);
  checkAllRows(seen);
  assert.ok(pages >= Math.ceil(TOTAL_ROWS / FETCH_SIZE), `only ${pages} pages`);
});

test('pages through 10,000 rows with for await and with a stream (unprepared)', async () => {
  const rs = await ctx.client.execute('SELECT k, c, v FROM q.t', [], { fetchSize: FETCH_SIZE });
  assert.ok(rs.isPaged(), 'a 10,000 row result with fetchSize 333 must be paged');
  const iterated = [];
  for await (const row of rs) {
    iterated.push(row);
  }
  checkAllRows(iterated);

  const streamed = [];
  await new Promise((resolve, reject) => {
    ctx.client.stream('SELECT k, c, v FROM q.t', [], { fetchSize: FETCH_SIZE })
      .on('readable', function onReadable() {
        let row;
        while ((row = this.read()) !== null) {
          streamed.push(row);
        }
      })
      .on('end', resolve)
      .on('error', reject);
  });
  checkAllRows(streamed);
});

test('pages within one partition, in clustering order, forwards and reversed', async () => {
  const forward = [];
  for await (const row of await ctx.client.execute('SELECT c FROM q.t WHERE k = ?', [7],
    { prepare: true, fetchSize: 100 })) {
    forward.push(row.c);
  }
  assert.deepEqual(forward, Array.from({ length: ROWS_PER_PARTITION }, (_, i) => i));
  const reversed = [];
  for await (const row of await ctx.client.execute('SELECT c FROM q.t WHERE k = ? ORDER BY c DESC', [7],
    { prepare: true, fetchSize: 100 })) {
    reversed.push(row.c);
  }
  assert.deepEqual(reversed, forward.slice().reverse());
});

test('applies a logged batch of mixed statements atomically', async () => {
  const { client } = ctx;
  await client.batch([
    { query: 'INSERT INTO q.kv (k, n) VALUES (?, ?)', params: ['batch1', 10] },
    { query: "INSERT INTO q.kv (k, n) VALUES ('batch2', 20)" },
    { query: 'UPDATE q.kv SET s = s + ? WHERE k = ?', params: [[5], 'batch1'] },
    { query: 'DELETE FROM q.kv WHERE k = ?', params: ['b'] },
  ], { prepare: true });
  const rows = (await client.execute('SELECT k, n, s FROM q.kv')).rows;
  const byKey = Object.fromEntries(rows.map((r) => [r.k, r]));
  assert.deepEqual(Object.keys(byKey).sort(), ['a', 'batch1', 'batch2']);
  assert.equal(byKey.batch1.n, 10);
  assert.deepEqual(byKey.batch1.s, [5]);
  assert.equal(byKey.batch2.n, 20);
});

test('applies an unprepared batch with bound values', async () => {
  // Unprepared values carry no type information, so the int column needs a hint (without it the driver sends a
  // double and the node, like Cassandra, refuses it: see errors.test.js).
  await ctx.client.batch([
    { query: 'INSERT INTO q.kv (k, n) VALUES (?, ?)', params: ['u1', 1] },
    { query: 'INSERT INTO q.kv (k, n) VALUES (?, ?)', params: ['u2', 2] },
  ], { prepare: false, hints: [[null, 'int'], [null, 'int']] });
  const rs = await ctx.client.execute("SELECT k, n FROM q.kv WHERE k IN ('u1', 'u2')");
  assert.deepEqual(rs.rows.map((r) => [r.k, r.n]).sort(), [['u1', 1], ['u2', 2]]);
});

test('applies a counter batch', async () => {
  const { client } = ctx;
  const incr = 'UPDATE q.hits SET views = views + ?, clicks = clicks + ? WHERE page = ?';
  const long = cassandra.types.Long;
  await client.batch([
    { query: incr, params: [long.fromNumber(3), long.fromNumber(1), 'home'] },
    { query: incr, params: [long.fromNumber(2), long.fromNumber(-4), 'home'] },
    { query: incr, params: [long.fromNumber(1), long.fromNumber(0), 'about'] },
  ], { prepare: true, counter: true });
  const rs = await client.execute('SELECT page, views, clicks FROM q.hits');
  const got = Object.fromEntries(rs.rows.map((r) => [r.page, [r.views.toString(), r.clicks.toString()]]));
  assert.deepEqual(got, { home: ['5', '-3'], about: ['1', '0'] });
});

driverLoggedNothing(ctx);
