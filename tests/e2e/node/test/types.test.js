'use strict';
// Every CQL type written by the Node.js driver (prepared, unprepared with type hints, and as CQL literals) and read
// back equal, including boundary values, nulls, nested collections, tuples, user-defined types and counters.

const { createHash } = require('node:crypto');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useNode, nodeRegression, driverLoggedNothing, createKeyspace, cassandra } = require('../lib/harness');

const {
  BigDecimal, Duration, InetAddress, Integer, LocalDate, LocalTime, Long, TimeUuid, Tuple, Uuid, dataTypes,
} = cassandra.types;

// Maps and sets decode to Map and Set so that the order the node returns (CQL comparator order) is visible.
const ctx = useNode({ encoding: { map: Map, set: Set } });

// Column name, declared CQL type, and the type the driver must see in the result metadata (frozen is not on the wire).
const COLUMNS = [
  ['a', 'ascii', 'ascii'],
  ['b', 'bigint', 'bigint'],
  ['bl', 'blob', 'blob'],
  ['bo', 'boolean', 'boolean'],
  ['d', 'decimal', 'decimal'],
  ['db', 'double', 'double'],
  ['du', 'duration', 'duration'],
  ['f', 'float', 'float'],
  ['i4', 'inet', 'inet'],
  ['i6', 'inet', 'inet'],
  ['n', 'int', 'int'],
  ['sm', 'smallint', 'smallint'],
  ['ti', 'tinyint', 'tinyint'],
  ['tx', 'text', 'text'],
  ['vc', 'varchar', 'text'],
  ['ts', 'timestamp', 'timestamp'],
  ['u', 'uuid', 'uuid'],
  ['tu', 'timeuuid', 'timeuuid'],
  ['dt', 'date', 'date'],
  ['tm', 'time', 'time'],
  ['vi', 'varint', 'varint'],
  ['lvi', 'list<varint>', 'list<varint>'],
  ['ld', 'list<decimal>', 'list<decimal>'],
  ['l', 'list<int>', 'list<int>'],
  ['s', 'set<text>', 'set<text>'],
  ['m', 'map<text, int>', 'map<text, int>'],
  ['mi', 'map<int, frozen<list<text>>>', 'map<int, list<text>>'],
  ['fl', 'frozen<list<int>>', 'list<int>'],
  ['fs', 'frozen<set<bigint>>', 'set<bigint>'],
  ['fm', 'frozen<map<text, date>>', 'map<text, date>'],
  ['nm', 'map<text, frozen<map<int, text>>>', 'map<text, map<int, text>>'],
  ['tp', 'tuple<int, text, double>', 'tuple<int, text, double>'],
  ['tn', 'tuple<int, text>', 'tuple<int, text>'],
  ['faddr', 'frozen<address>', 'ty.address{street text, zip int, tags set<text>}'],
  ['lu', 'list<frozen<address>>', 'list<ty.address{street text, zip int, tags set<text>}>'],
  ['who', 'frozen<person>', 'ty.person{name text, home ty.address{street text, zip int, tags set<text>}}'],
];
const NAMES = COLUMNS.map(([name]) => name);

// Ordinary values; `literals` below writes the same values as CQL literals.
const typical = {
  a: 'ascii ~!',
  b: Long.fromString('1099511627776'),
  bl: Buffer.from([0x00, 0x01, 0xff]),
  bo: true,
  d: BigDecimal.fromString('123.456'),
  db: 1.5,
  du: Duration.fromString('1y2mo3d1h2m3s4ns'),
  f: 2.5,
  i4: InetAddress.fromString('10.1.2.3'),
  i6: InetAddress.fromString('2001:db8::ff00:42:8329'),
  n: -7,
  sm: 300,
  ti: -5,
  tx: 'héllo ✓ 😀',
  vc: "it's",
  ts: new Date('2024-01-02T03:04:05.678Z'),
  u: Uuid.fromString('0c6e2e3e-6a52-4b6e-9f0c-2b9a3c4d5e6f'),
  tu: TimeUuid.fromString('50554d6e-29bb-11e5-b345-feff819cdc9f'),
  dt: LocalDate.fromString('2020-02-29'),
  tm: LocalTime.fromString('01:02:03.000000123'),
  vi: Integer.fromString('1000000000000000000000000000000'),
  lvi: ['0', '-1', '127', '128', '-128', '-129', '255', '256', '9223372036854775808', '-9223372036854775809']
    .map((v) => Integer.fromString(v)),
  // BigDecimal.fromString ignores an exponent ('1E+3' parses as 1), so 1E+3 is built from unscaled value and scale.
  ld: [...['0', '-1.5', '0.001'].map((v) => BigDecimal.fromString(v)), new BigDecimal(Integer.ONE, -3),
    BigDecimal.fromString('-123456789012345678901234567890.123456789')],
  l: [3, 1, 2, 3],
  s: new Set(['x', 'y', 'z']),
  m: new Map([['a', 1], ['b', 2]]),
  mi: new Map([[-1, ['x']], [2, ['p', 'q']], [10, ['']]]),
  fl: [9, 8],
  fs: new Set([Long.fromNumber(-1), Long.fromNumber(3)]),
  fm: new Map([['a', LocalDate.fromString('1969-12-31')], ['z', LocalDate.fromString('1970-01-01')]]),
  nm: new Map([['outer', new Map([[1, 'one'], [2, 'two']])]]),
  tp: new Tuple(1, 'one', 0.25),
  tn: new Tuple(7, null),
  faddr: { street: 'Elm', zip: null, tags: null },
  lu: [{ street: 'x', zip: 1, tags: null }, { street: 'y', zip: 2, tags: new Set(['t']) }],
  who: { name: 'Ada', home: { street: 'Main St', zip: 12345, tags: new Set(['home']) } },
};

// `typical` as CQL literals, written in an order that differs from the order the node must return
// (sets and map keys are sorted by their CQL type on the node).
const literals = {
  a: "'ascii ~!'",
  b: '1099511627776',
  bl: '0x0001ff',
  bo: 'true',
  d: '123.456',
  db: '1.5',
  du: '1y2mo3d1h2m3s4ns',
  f: '2.5',
  i4: "'10.1.2.3'",
  i6: "'2001:db8::ff00:42:8329'",
  n: '-7',
  sm: '300',
  ti: '-5',
  tx: "'héllo ✓ 😀'",
  vc: "'it''s'",
  ts: "'2024-01-02T03:04:05.678Z'",
  u: '0c6e2e3e-6a52-4b6e-9f0c-2b9a3c4d5e6f',
  tu: '50554d6e-29bb-11e5-b345-feff819cdc9f',
  dt: "'2020-02-29'",
  tm: "'01:02:03.000000123'",
  vi: '1000000000000000000000000000000',
  lvi: '[0, -1, 127, 128, -128, -129, 255, 256, 9223372036854775808, -9223372036854775809]',
  ld: '[0, -1.5, 0.001, 1E+3, -123456789012345678901234567890.123456789]',
  l: '[3, 1, 2, 3]',
  s: "{'z', 'x', 'y'}",
  m: "{'b': 2, 'a': 1}",
  mi: "{10: [''], -1: ['x'], 2: ['p', 'q']}",
  fl: '[9, 8]',
  fs: '{3, -1}',
  fm: "{'z': '1970-01-01', 'a': '1969-12-31'}",
  nm: "{'outer': {2: 'two', 1: 'one'}}",
  tp: "(1, 'one', 0.25)",
  tn: '(7, null)',
  faddr: "{street: 'Elm'}",
  lu: "[{street: 'x', zip: 1}, {street: 'y', zip: 2, tags: {'t'}}]",
  who: "{name: 'Ada', home: {street: 'Main St', zip: 12345, tags: {'home'}}}",
};

// The smallest values of each type, empty values, and special floating point values. The driver encodes an empty
// collection as null, so empty frozen collections are written as literals in their own test below.
const minimums = {
  a: '',
  b: Long.MIN_VALUE,
  bl: Buffer.alloc(0),
  bo: false,
  d: BigDecimal.fromString('-0.000000000000000000001'),
  db: Number.NaN,
  du: Duration.fromString('-1y2mo3d'),
  f: Number.NEGATIVE_INFINITY,
  i4: InetAddress.fromString('0.0.0.0'),
  i6: InetAddress.fromString('::'),
  n: -2147483648,
  sm: -32768,
  ti: -128,
  tx: '',
  vc: '',
  ts: new Date(-1),
  u: Uuid.fromString('00000000-0000-0000-0000-000000000000'),
  tu: TimeUuid.fromString('00000000-0000-1000-8000-000000000000'),
  dt: new LocalDate(-2147483648),
  tm: LocalTime.fromString('00:00:00'),
  vi: Integer.fromString('-123456789012345678901234567890'),
  lvi: [Integer.fromString('0')],
  ld: [BigDecimal.fromString('0.00')],
  l: [-2147483648],
  s: new Set(['']),
  m: new Map([['', -2147483648]]),
  mi: new Map([[-2147483648, ['']]]),
  fl: [-2147483648],
  fs: new Set([Long.MIN_VALUE]),
  fm: new Map([['', new LocalDate(-2147483648)]]),
  nm: new Map([['', new Map([[-2147483648, '']])]]),
  tp: new Tuple(null, null, null),
  tn: new Tuple(null, ''),
  faddr: { street: null, zip: null, tags: null },
  lu: [{ street: null, zip: null, tags: null }],
  who: { name: null, home: null },
};

// The largest values of each type.
const maximums = {
  a: '\x7f'.repeat(3),
  b: Long.MAX_VALUE,
  bl: Buffer.alloc(70000, 0xab),
  bo: true,
  d: BigDecimal.fromString('99999999999999999999999999999999999999.99999999999999999999'),
  db: Number.MAX_VALUE,
  du: new Duration(2147483647, 2147483647, Long.MAX_VALUE),
  f: 3.4028234663852886e38,
  i4: InetAddress.fromString('255.255.255.255'),
  i6: InetAddress.fromString('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
  n: 2147483647,
  sm: 32767,
  ti: 127,
  tx: 'x'.repeat(100000),
  vc: '\u{10ffff}',
  ts: new Date('9999-12-31T23:59:59.999Z'),
  u: Uuid.fromString('ffffffff-ffff-ffff-ffff-ffffffffffff'),
  tu: TimeUuid.fromString('ffffffff-ffff-1fff-bfff-ffffffffffff'),
  dt: new LocalDate(2147483647),
  tm: LocalTime.fromString('23:59:59.999999999'),
  vi: Integer.fromString('9'.repeat(200)),
  lvi: Array.from({ length: 300 }, (_, i) => Integer.fromNumber(i - 150)),
  ld: [new BigDecimal(Integer.ONE, -2147483647), new BigDecimal(Integer.ONE, 2147483647)],
  l: Array.from({ length: 5000 }, (_, i) => i),
  s: new Set(Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`)),
  m: new Map(Array.from({ length: 100 }, (_, i) => [`k${String(i).padStart(3, '0')}`, i])),
  mi: new Map([[2147483647, ['a', 'b', 'c']]]),
  fl: [2147483647],
  fs: new Set([Long.MAX_VALUE]),
  fm: new Map([['max', new LocalDate(2147483647)]]),
  nm: new Map([['a', new Map([[1, 'x']])], ['b', new Map([[2, 'y']])]]),
  tp: new Tuple(2147483647, 'max', Number.MAX_VALUE),
  tn: new Tuple(2147483647, 'z'),
  faddr: { street: 'z'.repeat(1000), zip: 2147483647, tags: new Set(['z']) },
  lu: Array.from({ length: 20 }, (_, i) => ({ street: `s${i}`, zip: i, tags: null })),
  who: { name: 'Max', home: { street: 'Top', zip: 99999, tags: new Set(['a', 'b', 'c']) } },
};

// Turns a driver value into plain data that assert.deepStrictEqual compares exactly and prints readably.
function plain(v) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) {
    return { blob: v.length > 64 ? `${v.length} bytes, sha256 ${createHash('sha256').update(v).digest('hex')}` : v.toString('hex') };
  }
  if (v instanceof Date) return { timestamp: v.getTime() };
  if (v instanceof Long) return { bigint: v.toString() };
  if (v instanceof BigDecimal) return { decimal: `${v._intVal.toString()}E${-v._scale}` };
  if (v instanceof Integer) return { varint: v.toString() };
  if (v instanceof Uuid) return { uuid: v.toString() };
  if (v instanceof InetAddress) return { inet: v.toString() };
  if (v instanceof LocalDate) return { date: v.toString() };
  if (v instanceof LocalTime) return { time: v.toString() };
  if (v instanceof Duration) return { duration: [v.months, v.days, v.nanoseconds.toString()] };
  if (v instanceof Tuple) return { tuple: v.values().map(plain) };
  if (v instanceof Map) return { map: [...v.entries()].map(([k, x]) => [plain(k), plain(x)]) };
  if (v instanceof Set) return { set: [...v].map(plain) };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, plain(v[k])]));
  return v;
}

const TYPE_NAMES = Object.fromEntries(
  Object.entries(dataTypes).filter(([, code]) => typeof code === 'number').map(([name, code]) => [code, name]));
TYPE_NAMES[dataTypes.varchar] = 'text';

// Renders a type from result or prepared metadata the way COLUMNS spells it.
function typeName(type) {
  const name = TYPE_NAMES[type.code];
  switch (type.code) {
    case dataTypes.list:
    case dataTypes.set:
      return `${name}<${typeName(type.info)}>`;
    case dataTypes.map:
      return `map<${typeName(type.info[0])}, ${typeName(type.info[1])}>`;
    case dataTypes.tuple:
      return `tuple<${type.info.map(typeName).join(', ')}>`;
    case dataTypes.udt:
      return `${type.info.keyspace}.${type.info.name}{${type.info.fields.map((f) => `${f.name} ${typeName(f.type)}`).join(', ')}}`;
    default:
      return name;
  }
}

async function readRow(k) {
  const rs = await ctx.client.execute(`SELECT ${NAMES.join(', ')} FROM ty.all WHERE k = ?`, [k], { prepare: true });
  assert.equal(rs.rowLength, 1, `row ${k} not found`);
  return { row: rs.first(), columns: rs.columns };
}

// Compares column by column so that a failure names the column.
function assertRowEquals(row, expected, label) {
  for (const name of NAMES) {
    assert.deepStrictEqual(plain(row[name]), plain(expected[name]), `${label}: column ${name} read back differently`);
  }
}

const insertCql = `INSERT INTO ty.all (k, ${NAMES.join(', ')}) VALUES (?, ${NAMES.map(() => '?').join(', ')})`;

test('creates a table with a column of every type', async () => {
  const { client } = ctx;
  await createKeyspace(client, 'ty');
  await client.execute('CREATE TYPE ty.address (street text, zip int, tags frozen<set<text>>)');
  await client.execute('CREATE TYPE ty.person (name text, home frozen<address>)');
  await client.execute(`CREATE TABLE ty.all (k int PRIMARY KEY, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
  await client.execute('CREATE TABLE ty.counts (k int PRIMARY KEY, c1 counter, c2 counter)');
});

test('result and prepared metadata describe every column type', async () => {
  const { columns } = await ctx.client.execute(`SELECT ${NAMES.join(', ')} FROM ty.all`);
  assert.deepEqual(columns.map((c) => c.name), NAMES);
  const expected = Object.fromEntries(COLUMNS.map(([n, , wire]) => [n, wire]));
  assert.deepEqual(Object.fromEntries(columns.map((c) => [c.name, typeName(c.type)])), expected);
});

test('typical values round-trip through a prepared statement', async () => {
  await ctx.client.execute(insertCql, [1, ...NAMES.map((n) => typical[n])], { prepare: true });
  const { row } = await readRow(1);
  assertRowEquals(row, typical, 'prepared typical values');
});

test('typical values round-trip as CQL literals', async () => {
  await ctx.client.execute(`INSERT INTO ty.all (k, ${NAMES.join(', ')}) VALUES (2, ${NAMES.map((n) => literals[n]).join(', ')})`);
  const { row } = await readRow(2);
  assertRowEquals(row, typical, 'CQL literals');
});

test('typical values round-trip unprepared, typed by hints from the result metadata', async () => {
  // The hints are the node's own result metadata, so this also checks that it is complete enough to encode with.
  const { columns } = await ctx.client.execute(`SELECT k, ${NAMES.join(', ')} FROM ty.all LIMIT 1`);
  await ctx.client.execute(insertCql, [3, ...NAMES.map((n) => typical[n])],
    { prepare: false, hints: columns.map((c) => c.type) });
  const { row } = await readRow(3);
  assertRowEquals(row, typical, 'unprepared typical values');
});

test('minimum, empty and special values round-trip', async () => {
  await ctx.client.execute(insertCql, [4, ...NAMES.map((n) => minimums[n])], { prepare: true });
  const { row } = await readRow(4);
  assertRowEquals(row, minimums, 'minimum values');
});

test('maximum and large values round-trip', async () => {
  await ctx.client.execute(insertCql, [5, ...NAMES.map((n) => maximums[n])], { prepare: true });
  const { row } = await readRow(5);
  assertRowEquals(row, maximums, 'maximum values');
});

test('unset columns and explicit nulls read back as null', async () => {
  await ctx.client.execute('INSERT INTO ty.all (k) VALUES (6)');
  await ctx.client.execute(insertCql, [7, ...NAMES.map(() => null)], { prepare: true });
  for (const k of [6, 7]) {
    const { row } = await readRow(k);
    for (const name of NAMES) {
      assert.equal(row[name], null, `row ${k}: column ${name} should be null, got ${JSON.stringify(plain(row[name]))}`);
    }
  }
});

test('empty non-frozen collections are stored as null, as in Cassandra', async () => {
  await ctx.client.execute('INSERT INTO ty.all (k, l, s, m) VALUES (?, ?, ?, ?)', [8, [], new Set(), new Map()],
    { prepare: true });
  const { row } = await readRow(8);
  assert.equal(row.l, null);
  assert.equal(row.s, null);
  assert.equal(row.m, null);
});

test('collection element updates', async () => {
  const { client } = ctx;
  await client.execute(insertCql, [9, ...NAMES.map((n) => typical[n])], { prepare: true });
  await client.execute('UPDATE ty.all SET l = l + ?, s = s - ?, m[?] = ? WHERE k = ?',
    [[4], new Set(['y']), 'c', 3, 9], { prepare: true });
  await client.execute("UPDATE ty.all SET nm['outer'] = {5: 'five'} WHERE k = 9");
  await client.execute("DELETE m['a'] FROM ty.all WHERE k = 9");
  const { row } = await readRow(9);
  assert.deepStrictEqual(plain(row.l), plain([3, 1, 2, 3, 4]));
  assert.deepStrictEqual(plain(row.s), plain(new Set(['x', 'z'])));
  assert.deepStrictEqual(plain(row.m), plain(new Map([['b', 2], ['c', 3]])));
  assert.deepStrictEqual(plain(row.nm), plain(new Map([['outer', new Map([[5, 'five']])]])));
});

nodeRegression('prepends to a list with l = [x] + l',
  "`SET l = [0] + l` appends instead of prepending (reads [3, 1, 2, 0] for [3, 1, 2]); Cassandra "
    + 'gives prepended elements cell paths that sort before every existing element',
  async () => {
    await ctx.client.execute('INSERT INTO ty.all (k, l) VALUES (12, [3, 1, 2])');
    await ctx.client.execute('UPDATE ty.all SET l = [0] + l WHERE k = 12');
    await ctx.client.execute('UPDATE ty.all SET l = ? + l WHERE k = 12', [[-2, -1]], { prepare: true });
    const { row } = await readRow(12);
    assert.deepStrictEqual(plain(row.l), plain([-2, -1, 0, 3, 1, 2]));
  });

nodeRegression('removes list elements by value and sets them by index',
  "`SET l = l - [1]` answers 0x2200 'Removing elements from l is not supported yet' and "
    + "`SET l[0] = 9` answers 0x2200 'Element assignment on l is not supported yet'; Cassandra supports both",
  async () => {
    await ctx.client.execute('INSERT INTO ty.all (k, l) VALUES (13, [1, 2, 1, 3])');
    await ctx.client.execute('UPDATE ty.all SET l = l - [1] WHERE k = 13');
    await ctx.client.execute('UPDATE ty.all SET l[0] = 9 WHERE k = 13');
    const { row } = await readRow(13);
    assert.deepStrictEqual(plain(row.l), plain([9, 3]));
  });

nodeRegression('removes map keys with m = m - {keys}',
  "`SET m = m - {'a'}` on a map<text, int> is refused with 0x2200 'Invalid set literal for m of type "
    + "map<text, int>'; Cassandra (since 2.1, CASSANDRA-6599) removes the listed keys",
  async () => {
    await ctx.client.execute("INSERT INTO ty.all (k, m) VALUES (11, {'a': 1, 'b': 2, 'c': 3})");
    await ctx.client.execute("UPDATE ty.all SET m = m - {'a', 'c'} WHERE k = 11");
    await ctx.client.execute('UPDATE ty.all SET m = m - ? WHERE k = 11', [new Set(['b'])], { prepare: true });
    const { row } = await readRow(11);
    assert.equal(row.m, null);
  });

test('empty frozen collections written as CQL literals read back empty, not null', async () => {
  await ctx.client.execute(
    "INSERT INTO ty.all (k, fl, fs, fm, mi, faddr) VALUES (10, [], {}, {}, {1: []}, {street: 'e', tags: {}})");
  const { row } = await readRow(10);
  assert.deepStrictEqual(plain(row.fl), plain([]));
  assert.deepStrictEqual(plain(row.fs), plain(new Set()));
  assert.deepStrictEqual(plain(row.fm), plain(new Map()));
  assert.deepStrictEqual(plain(row.mi), plain(new Map([[1, []]])));
  assert.deepStrictEqual(plain(row.faddr), plain({ street: 'e', zip: null, tags: new Set() }));
});

test('counters increment, decrement and read back as bigint', async () => {
  const { client } = ctx;
  const update = 'UPDATE ty.counts SET c1 = c1 + ?, c2 = c2 - ? WHERE k = ?';
  await client.execute(update, [Long.fromNumber(5), Long.fromNumber(2), 1], { prepare: true });
  await client.execute(update, [Long.fromNumber(-1), Long.fromNumber(-10), 1], { prepare: true });
  await client.execute('UPDATE ty.counts SET c1 = c1 + 9223372036854775806 WHERE k = 2');
  await client.execute('UPDATE ty.counts SET c1 = c1 + 1 WHERE k = 2');
  const rs = await client.execute('SELECT k, c1, c2 FROM ty.counts WHERE k IN (1, 2)');
  assert.deepEqual(rs.columns.map((c) => [c.name, TYPE_NAMES[c.type.code]]),
    [['k', 'int'], ['c1', 'counter'], ['c2', 'counter']]);
  const got = Object.fromEntries(rs.rows.map((r) => [r.k, [plain(r.c1), plain(r.c2)]]));
  assert.deepStrictEqual(got, {
    1: [{ bigint: '4' }, { bigint: '8' }],
    2: [{ bigint: Long.MAX_VALUE.toString() }, null],
  });
});

// Non-frozen UDTs (Cassandra 3.6+): a whole value written with INSERT, and single fields set with UPDATE.
nodeRegression('non-frozen user-defined type column: whole value and field updates',
  'INSERT of a whole value into a non-frozen UDT column is refused with 0x2200 '
    + "'Invalid value for collection column addr' (prepared and literal); Cassandra 3.6+ accepts it",
  async () => {
    const { client } = ctx;
    await client.execute('CREATE TABLE ty.nf (k int PRIMARY KEY, addr address)');
    const value = { street: 'Main St', zip: 12345, tags: new Set(['a', 'b']) };
    await client.execute('INSERT INTO ty.nf (k, addr) VALUES (?, ?)', [1, value], { prepare: true });
    await client.execute("INSERT INTO ty.nf (k, addr) VALUES (2, {street: 'Main St', zip: 12345, tags: {'b', 'a'}})");
    await client.execute('UPDATE ty.nf SET addr.zip = ? WHERE k = ?', [54321, 2], { prepare: true });
    const rs = await client.execute('SELECT k, addr FROM ty.nf WHERE k IN (1, 2)');
    const got = Object.fromEntries(rs.rows.map((r) => [r.k, plain(r.addr)]));
    assert.deepStrictEqual(got, { 1: plain(value), 2: plain({ ...value, zip: 54321 }) });
  });

driverLoggedNothing(ctx);
