'use strict';
// The Node.js driver connects to a real mica node over TLS with a password, negotiates the protocol version,
// and loads the cluster and schema metadata (keyspaces, tables, columns, user-defined types, token map).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { useNode, driverLoggedNothing, createKeyspace, cassandra } = require('../lib/harness');

const ctx = useNode();

test('connects with TLS and PlainTextAuthProvider, negotiating protocol v4', async () => {
  const { client, node } = ctx;
  // The driver first offers DSE_V2 (0x42) and v5, which it does not support for Cassandra, and must settle on v4.
  assert.equal(client.controlConnection.protocolVersion, cassandra.types.protocolVersion.v4);
  const hosts = client.getState().getConnectedHosts();
  assert.deepEqual(hosts.map((h) => h.address), [`${node.address}:${node.port}`]);
  assert.equal(hosts[0].datacenter, 'dc1');
  assert.equal(hosts[0].rack, 'rack1');
  assert.match(hosts[0].cassandraVersion, /^4\.1\./);
});

test('reads system.local', async () => {
  const rs = await ctx.client.execute(
    'SELECT key, cluster_name, data_center, rack, release_version, partitioner FROM system.local');
  assert.equal(rs.rowLength, 1);
  const row = rs.first();
  assert.equal(row.key, 'local');
  assert.equal(row.cluster_name, 'Mica Test');
  assert.equal(row.data_center, 'dc1');
  assert.equal(row.rack, 'rack1');
  assert.match(row.release_version, /^4\.1\./);
  assert.equal(row.partitioner, 'org.apache.cassandra.dht.Murmur3Partitioner');
});

test('rejects a wrong password with an AuthenticationError', async () => {
  const { node } = ctx;
  const bad = new cassandra.Client(node.clientOptions(cassandra, {
    authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'wrong'),
  }));
  try {
    await assert.rejects(bad.connect(), (err) => {
      assert.ok(err instanceof cassandra.errors.NoHostAvailableError, `expected NoHostAvailableError, got ${err}`);
      const inner = Object.values(err.innerErrors);
      assert.equal(inner.length, 1, `one inner error expected: ${JSON.stringify(err.innerErrors)}`);
      assert.ok(inner[0] instanceof cassandra.errors.AuthenticationError,
        `expected AuthenticationError, got ${inner[0] && inner[0].constructor.name}: ${inner[0]}`);
      return true;
    });
  } finally {
    await bad.shutdown();
  }
});

test('lists the system keyspaces in metadata', () => {
  const names = Object.keys(ctx.client.metadata.keyspaces);
  for (const ks of ['system', 'system_schema', 'system_auth', 'system_distributed', 'system_traces']) {
    assert.ok(names.includes(ks), `keyspace ${ks} missing from metadata.keyspaces: ${names.join(', ')}`);
  }
  const system = ctx.client.metadata.keyspaces.system;
  assert.equal(system.strategy, 'org.apache.cassandra.locator.LocalStrategy');
});

test('describes a system table through metadata.getTable', async () => {
  const table = await ctx.client.metadata.getTable('system', 'local');
  assert.ok(table, 'metadata.getTable(system, local) returned nothing');
  assert.deepEqual(table.partitionKeys.map((c) => c.name), ['key']);
  const columns = table.columns.map((c) => c.name);
  for (const col of ['cluster_name', 'release_version', 'tokens', 'host_id', 'schema_version']) {
    assert.ok(columns.includes(col), `column ${col} missing from system.local metadata: ${columns.join(', ')}`);
  }
});

test('sees a new keyspace, table and user-defined types in metadata', async () => {
  const { client } = ctx;
  await createKeyspace(client, 'meta');
  await client.execute('CREATE TYPE meta.address (street text, zip int, tags frozen<set<text>>)');
  await client.execute('CREATE TYPE meta.person (name text, home frozen<address>)');
  await client.execute(`CREATE TABLE meta.events (
      tenant text, day date, at timeuuid, seq int, who frozen<person>, payload map<text, blob>, note text static,
      PRIMARY KEY ((tenant, day), at, seq)
    ) WITH CLUSTERING ORDER BY (at DESC, seq ASC) AND comment = 'events table'`);

  const ks = await client.metadata.refreshKeyspace('meta');
  assert.ok(ks, 'refreshKeyspace(meta) returned nothing');
  assert.equal(ks.strategy, 'org.apache.cassandra.locator.SimpleStrategy');
  assert.equal(String(ks.strategyOptions.replication_factor), '1');
  assert.ok(client.metadata.keyspaces.meta, 'keyspace meta missing from metadata.keyspaces after refresh');

  const table = await client.metadata.getTable('meta', 'events');
  assert.ok(table, 'metadata.getTable(meta, events) returned nothing');
  assert.equal(table.name, 'events');
  assert.equal(table.comment, 'events table');
  assert.deepEqual(table.partitionKeys.map((c) => c.name), ['tenant', 'day']);
  assert.deepEqual(table.clusteringKeys.map((c) => c.name), ['at', 'seq']);
  assert.deepEqual(table.clusteringOrder, ['DESC', 'ASC']);
  const types = Object.fromEntries(table.columns.map((c) => [c.name, c.type]));
  const codes = cassandra.types.dataTypes;
  assert.equal(types.tenant.code, codes.text);
  assert.equal(types.day.code, codes.date);
  assert.equal(types.at.code, codes.timeuuid);
  assert.equal(types.seq.code, codes.int);
  assert.equal(types.payload.code, codes.map);
  assert.deepEqual(types.payload.info.map((t) => t.code), [codes.text, codes.blob]);
  assert.equal(types.who.code, codes.udt);
  assert.equal(types.who.info.name, 'person');
  assert.ok(table.columnsByName.note.isStatic, 'note should be a static column');

  const address = await client.metadata.getUdt('meta', 'address');
  assert.ok(address, 'metadata.getUdt(meta, address) returned nothing');
  assert.deepEqual(address.fields.map((f) => f.name), ['street', 'zip', 'tags']);
  assert.deepEqual(address.fields.map((f) => f.type.code), [codes.text, codes.int, codes.set]);
  const person = await client.metadata.getUdt('meta', 'person');
  assert.ok(person, 'metadata.getUdt(meta, person) returned nothing');
  assert.deepEqual(person.fields.map((f) => f.name), ['name', 'home']);
  assert.equal(person.fields[1].type.code, codes.udt);
  assert.equal(person.fields[1].type.info.name, 'address');
});

test('builds a token map: the single node owns every token', async () => {
  const { client, node } = ctx;
  await client.metadata.refreshKeyspace('meta');
  const replicas = client.getReplicas('meta', Buffer.from('any partition key'));
  assert.ok(Array.isArray(replicas), `getReplicas returned ${replicas}`);
  assert.deepEqual(replicas.map((h) => h.address), [`${node.address}:${node.port}`]);
});

test('connects straight into a keyspace with the keyspace option', async () => {
  const { node } = ctx;
  await ctx.client.execute('CREATE TABLE meta.kv (k int PRIMARY KEY, v text)');
  const scoped = new cassandra.Client(node.clientOptions(cassandra, { keyspace: 'meta' }));
  try {
    await scoped.connect();
    assert.equal(scoped.keyspace, 'meta');
    await scoped.execute("INSERT INTO kv (k, v) VALUES (1, 'one')");
    const rs = await scoped.execute('SELECT v FROM kv WHERE k = 1');
    assert.equal(rs.first().v, 'one');
  } finally {
    await scoped.shutdown();
  }
});

driverLoggedNothing(ctx);
