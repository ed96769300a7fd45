"""The write side of CQL through the Python driver: lightweight transactions, INSERT JSON,
collection/UDT element operations and secondary indexes, over protocol v4 and v5."""

import pytest
from cassandra import ConsistencyLevel, InvalidRequest, ProtocolVersion
from cassandra.query import BatchStatement, SimpleStatement

VERSIONS = [ProtocolVersion.V4, ProtocolVersion.V5]


@pytest.fixture(params=VERSIONS, ids=["v4", "v5"])
def ks(node, request):
    cluster = node.cluster(protocol_version=request.param)
    session = cluster.connect()
    session.execute("CREATE KEYSPACE w WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.set_keyspace("w")
    yield session
    cluster.shutdown()


def test_lwt_results(ks):
    s = ks
    s.execute("CREATE TABLE t (k int, c int, v text, n int, PRIMARY KEY (k, c))")
    r = s.execute("INSERT INTO t (k, c, v, n) VALUES (1, 1, 'a', 10) IF NOT EXISTS")
    assert r.was_applied
    assert r.column_names == ["[applied]"]

    r = s.execute("INSERT INTO t (k, c, v, n) VALUES (1, 1, 'b', 20) IF NOT EXISTS")
    assert not r.was_applied
    assert r.column_names == ["[applied]", "k", "c", "n", "v"]
    row = r.one()
    assert (row.k, row.c, row.n, row.v) == (1, 1, 10, "a")

    r = s.execute("UPDATE t SET n = 11 WHERE k = 1 AND c = 1 IF v = 'a' AND n = 10")
    assert r.was_applied
    r = s.execute("UPDATE t SET n = 12 WHERE k = 1 AND c = 1 IF v = 'zz'")
    assert not r.was_applied
    assert r.column_names == ["[applied]", "v"]
    assert r.one().v == "a"
    r = s.execute("UPDATE t SET n = 1 WHERE k = 1 AND c = 2 IF EXISTS")
    assert not r.was_applied
    assert r.column_names == ["[applied]"]
    assert s.execute("DELETE FROM t WHERE k = 1 AND c = 1 IF n IN (1, 11)").was_applied
    assert s.execute("SELECT * FROM t WHERE k = 1").one() is None

    # Prepared conditional statements: the driver gets full metadata with every result.
    insert = s.prepare("INSERT INTO t (k, c, v) VALUES (?, ?, ?) IF NOT EXISTS")
    assert s.execute(insert, (2, 1, "x")).was_applied
    r = s.execute(insert, (2, 1, "y"))
    assert not r.was_applied
    assert (r.one().k, r.one().v) == (2, "x")
    cas = s.prepare("UPDATE t SET v = ? WHERE k = ? AND c = ? IF v = ?")
    assert s.execute(cas, ("z", 2, 1, "x")).was_applied
    r = s.execute(cas, ("q", 2, 1, "x"))
    assert not r.was_applied and r.one().v == "z"

    # Serial consistency levels are accepted.
    stmt = SimpleStatement(
        "UPDATE t SET v = 'w' WHERE k = 2 AND c = 1 IF v = 'z'",
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
    )
    assert s.execute(stmt).was_applied

    with pytest.raises(InvalidRequest, match="Cannot provide custom timestamp for conditional updates"):
        s.execute("INSERT INTO t (k, c) VALUES (3, 3) IF NOT EXISTS USING TIMESTAMP 5")


def test_conditional_batch(ks):
    s = ks
    s.execute("CREATE TABLE t (k int, c int, v text, PRIMARY KEY (k, c))")
    insert = s.prepare("INSERT INTO t (k, c, v) VALUES (?, ?, ?) IF NOT EXISTS")
    batch = BatchStatement()
    batch.add(insert, (1, 1, "a"))
    batch.add(insert, (1, 2, "b"))
    assert s.execute(batch).was_applied

    batch = BatchStatement()
    batch.add("UPDATE t SET v = 'x' WHERE k = 1 AND c = 1 IF v = 'a'")
    batch.add("UPDATE t SET v = 'y' WHERE k = 1 AND c = 2 IF v = 'nope'")
    r = s.execute(batch)
    assert not r.was_applied
    assert r.column_names == ["[applied]", "k", "c", "v"]
    assert [(row.k, row.c, row.v) for row in r] == [(1, 1, "a"), (1, 2, "b")]

    batch = BatchStatement()
    batch.add(insert, (1, 3, "c"))
    batch.add(insert, (2, 1, "d"))
    with pytest.raises(InvalidRequest, match="Batch with conditions cannot span multiple partitions"):
        s.execute(batch)


def test_concurrent_inserts_if_not_exists(ks):
    s = ks
    s.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
    insert = s.prepare("INSERT INTO t (k, v) VALUES (?, ?) IF NOT EXISTS")
    for key in range(5):
        futures = [s.execute_async(insert, (key, i)) for i in range(32)]
        results = [f.result() for f in futures]
        winners = [i for i, r in enumerate(results) if r.was_applied]
        assert len(winners) == 1
        # Every loser sees the winner's value.
        assert {r.one().v for r in results if not r.was_applied} == {winners[0]}
        assert s.execute("SELECT v FROM t WHERE k = %s", (key,)).one().v == winners[0]


def test_insert_json(ks):
    s = ks
    s.execute('CREATE TABLE j (k int PRIMARY KEY, v text, "Mixed" int, m map<text, int>, l list<int>)')
    s.execute("""INSERT INTO j JSON '{"k": 1, "v": "a", "\\"Mixed\\"": 3, "m": {"x": 1}, "l": [1, 2]}'""")
    row = s.execute("SELECT * FROM j WHERE k = 1").one()
    assert (row.k, row.v, row.Mixed, row.m, row.l) == (1, "a", 3, {"x": 1}, [1, 2])

    prepared = s.prepare("INSERT INTO j JSON ? DEFAULT UNSET")
    s.execute(prepared, ('{"k": 1, "v": "b"}',))
    row = s.execute("SELECT v, \"Mixed\", l FROM j WHERE k = 1").one()
    assert (row.v, row.Mixed, row.l) == ("b", 3, [1, 2])
    s.execute("""INSERT INTO j JSON '{"k": 1, "v": "c"}'""")
    row = s.execute("SELECT v, \"Mixed\", l FROM j WHERE k = 1").one()
    assert (row.v, row.Mixed, row.l) == ("c", None, None)

    with pytest.raises(InvalidRequest, match="JSON values map contains unrecognized column: nope"):
        s.execute("""INSERT INTO j JSON '{"k": 2, "nope": 1}'""")
    with pytest.raises(InvalidRequest, match="Error decoding JSON value for l"):
        s.execute("""INSERT INTO j JSON '{"k": 2, "l": "x"}'""")


def test_collection_and_udt_element_operations(ks):
    s = ks
    s.execute("CREATE TYPE addr (street text, zip int)")
    s.execute("CREATE TABLE c (k int PRIMARY KEY, l list<int>, m map<text, int>, st set<text>, u addr)")
    s.execute("INSERT INTO c (k, l, m, st, u) VALUES (1, [1, 2, 3, 2], {'a': 1, 'b': 2}, {'x', 'y'}, {street: 'main', zip: 1})")
    s.execute("UPDATE c SET l[0] = 10 WHERE k = 1")
    s.execute("UPDATE c SET l = l - [2] WHERE k = 1")
    s.execute("UPDATE c SET l = [0] + l WHERE k = 1")
    s.execute("DELETE l[1] FROM c WHERE k = 1")
    s.execute("UPDATE c SET m = m + {'c': 3}, m = m - {'a'} WHERE k = 1")
    s.execute("DELETE m['b'], st['x'] FROM c WHERE k = 1")
    s.execute("UPDATE c SET u.zip = 2 WHERE k = 1")
    s.execute("DELETE u.street FROM c WHERE k = 1")
    row = s.execute("SELECT l, m, st, u FROM c WHERE k = 1").one()
    assert row.l == [0, 3]
    assert row.m == {"c": 3}
    assert row.st == {"y"}
    assert (row.u.street, row.u.zip) == (None, 2)

    set_index = s.prepare("UPDATE c SET l[?] = ? WHERE k = ?")
    s.execute(set_index, (1, 30, 1))
    assert s.execute("SELECT l FROM c WHERE k = 1").one().l == [0, 30]
    with pytest.raises(InvalidRequest, match="List index 5 out of bound, list has size 2"):
        s.execute(set_index, (5, 1, 1))
    with pytest.raises(InvalidRequest, match="Attempted to set an element on a list which is null"):
        s.execute(set_index, (0, 1, 2))


def test_secondary_index(ks, node):
    s = ks
    s.execute("CREATE TABLE t (k int, c int, v text, m map<text, int>, PRIMARY KEY (k, c))")
    for k in range(5):
        s.execute("INSERT INTO t (k, c, v, m) VALUES (%s, 0, %s, %s)", (k, "even" if k % 2 == 0 else "odd", {f"key{k}": k}))
    with pytest.raises(InvalidRequest, match="ALLOW FILTERING"):
        s.execute("SELECT k FROM t WHERE v = 'even'")
    s.execute("CREATE INDEX ON t (v)")
    s.execute("CREATE INDEX mk ON t (keys(m))")
    rows = s.execute("SELECT index_name, options FROM system_schema.indexes WHERE keyspace_name = 'w' AND table_name = 't'")
    assert sorted((r.index_name, r.options["target"]) for r in rows) == [("mk", "keys(m)"), ("t_v_idx", "v")]
    # The driver's schema metadata picks the indexes up from the schema change events.
    s.cluster.refresh_table_metadata("w", "t")
    indexes = s.cluster.metadata.keyspaces["w"].tables["t"].indexes
    assert sorted(indexes) == ["mk", "t_v_idx"]
    assert indexes["t_v_idx"].as_cql_query() == "CREATE INDEX t_v_idx ON w.t (v)"
    assert indexes["mk"].as_cql_query() == "CREATE INDEX mk ON w.t (keys(m))"

    assert sorted(r.k for r in s.execute("SELECT k FROM t WHERE v = 'even'")) == [0, 2, 4]
    by_value = s.prepare("SELECT k FROM t WHERE v = ?")
    assert sorted(r.k for r in s.execute(by_value, ("odd",))) == [1, 3]
    assert [r.k for r in s.execute("SELECT k FROM t WHERE m CONTAINS KEY 'key3'")] == [3]

    s.execute("UPDATE t SET v = 'odd' WHERE k = 0 AND c = 0")
    s.execute("DELETE FROM t WHERE k = 4")
    assert [r.k for r in s.execute("SELECT k FROM t WHERE v = 'even'")] == [2]

    # Paged index reads.
    for k in range(10, 40):
        s.execute("INSERT INTO t (k, c, v) VALUES (%s, 1, 'many')", (k,))
    statement = SimpleStatement("SELECT k FROM t WHERE v = 'many'", fetch_size=7)
    assert sorted(r.k for r in s.execute(statement)) == list(range(10, 40))

    s.execute("DROP INDEX t_v_idx")
    with pytest.raises(InvalidRequest, match="ALLOW FILTERING"):
        s.execute("SELECT k FROM t WHERE v = 'even'")


def test_index_survives_restart(node_factory):
    node = node_factory().start()
    cluster = node.cluster()
    s = cluster.connect()
    s.execute("CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE r.t (k int PRIMARY KEY, v text)")
    s.execute("CREATE INDEX ON r.t (v)")
    s.execute("INSERT INTO r.t (k, v) VALUES (1, 'a')")
    cluster.shutdown()
    node.stop()
    node.start()
    cluster = node.cluster()
    s = cluster.connect()
    assert [r.k for r in s.execute("SELECT k FROM r.t WHERE v = 'a'")] == [1]
    s.execute("INSERT INTO r.t (k, v) VALUES (2, 'a')")
    assert sorted(r.k for r in s.execute("SELECT k FROM r.t WHERE v = 'a'")) == [1, 2]
    cluster.shutdown()
