"""The Python driver against one real node: connect with TLS and a password, DDL, DML, paging, batches."""

import uuid

import pytest
from cassandra import InvalidRequest, ProtocolVersion
from cassandra.query import BatchStatement, SimpleStatement


@pytest.mark.parametrize("version", [ProtocolVersion.V4, ProtocolVersion.V5])
def test_connect_and_read_system_local(node, version):
    cluster = node.cluster(protocol_version=version)
    session = cluster.connect()
    row = session.execute("SELECT cluster_name, data_center, rack, release_version FROM system.local").one()
    assert row.cluster_name == "Mica Test"
    assert row.data_center == "dc1"
    assert row.rack == "rack1"
    assert row.release_version.startswith("4.1")
    assert cluster.protocol_version == version
    # Schema metadata loaded without error and describes the system keyspaces.
    assert "system" in cluster.metadata.keyspaces
    assert "local" in cluster.metadata.keyspaces["system"].tables
    cluster.shutdown()


def test_create_insert_select(session):
    session.execute(
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.execute("CREATE TABLE ks.t (k int, c text, v bigint, s text static, PRIMARY KEY (k, c))")
    session.execute("INSERT INTO ks.t (k, c, v) VALUES (1, 'a', 10)")
    session.execute("INSERT INTO ks.t (k, c, v, s) VALUES (1, 'b', 20, 'static!')")
    session.execute("UPDATE ks.t SET v = 30 WHERE k = 2 AND c = 'z'")
    rows = list(session.execute("SELECT k, c, v, s FROM ks.t WHERE k = 1"))
    assert [(r.k, r.c, r.v, r.s) for r in rows] == [(1, "a", 10, "static!"), (1, "b", 20, "static!")]
    rows = list(session.execute("SELECT c FROM ks.t WHERE k = 1 ORDER BY c DESC"))
    assert [r.c for r in rows] == ["b", "a"]
    session.execute("DELETE FROM ks.t WHERE k = 1 AND c = 'a'")
    rows = list(session.execute("SELECT c, v FROM ks.t WHERE k = 1"))
    assert [(r.c, r.v) for r in rows] == [("b", 20)]
    assert session.execute("SELECT count(*) FROM ks.t").one()[0] == 2


def test_prepared_paging_and_batch(session):
    session.execute("CREATE KEYSPACE p WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE p.t (k int, c int, v text, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO p.t (k, c, v) VALUES (?, ?, ?)")
    for k in range(10):
        batch = BatchStatement()
        for c in range(1000):
            batch.add(insert, (k, c, f"v{k}-{c}"))
        session.execute(batch)
    statement = SimpleStatement("SELECT k, c, v FROM p.t", fetch_size=333)
    seen = [(r.k, r.c, r.v) for r in session.execute(statement)]
    assert len(seen) == 10000
    assert len(set(seen)) == 10000
    select = session.prepare("SELECT v FROM p.t WHERE k = ? AND c = ?")
    assert session.execute(select, (7, 123)).one().v == "v7-123"


def test_invalid_queries_get_cassandra_errors(session):
    with pytest.raises(InvalidRequest, match="unconfigured table"):
        session.execute("SELECT * FROM system.nope")
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM nokeyspace.t")
    from cassandra.protocol import SyntaxException

    with pytest.raises(SyntaxException):
        session.execute("SELEKT * FROM system.local")
    # The connection keeps working after errors.
    assert session.execute("SELECT key FROM system.local").one().key == "local"


def test_types_round_trip(session):
    session.execute("CREATE KEYSPACE ty WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute(
        "CREATE TABLE ty.t (k uuid PRIMARY KEY, a ascii, b bigint, bl blob, bo boolean, d decimal, db double,"
        " f float, i inet, n int, sm smallint, ti tinyint, tx text, ts timestamp, tu timeuuid, dt date, tm time,"
        " vi varint, l list<int>, s set<text>, m map<text, int>, fl frozen<list<int>>, tp tuple<int, text>)"
    )
    import datetime
    import decimal
    import ipaddress

    from cassandra.util import Date, Time, uuid_from_time

    k = uuid.uuid4()
    values = dict(
        k=k,
        a="ascii",
        b=2**40,
        bl=b"\x00\x01\xff",
        bo=True,
        d=decimal.Decimal("123.456"),
        db=1.5,
        f=2.5,
        i=ipaddress.ip_address("10.1.2.3"),
        n=-7,
        sm=300,
        ti=-5,
        tx="héllo",
        ts=datetime.datetime(2024, 1, 2, 3, 4, 5, 678000),
        tu=uuid_from_time(1700000000),
        dt=Date(datetime.date(2020, 2, 29)),
        tm=Time(3723000000123),
        vi=10**30,
        l=[3, 1, 2],
        s={"x", "y"},
        m={"a": 1, "b": 2},
        fl=[9, 8],
        tp=(1, "one"),
    )
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    session.execute(session.prepare(f"INSERT INTO ty.t ({cols}) VALUES ({marks})"), list(values.values()))
    row = session.execute("SELECT * FROM ty.t WHERE k = %s", [k]).one()
    got = row._asdict()
    for name, expected in values.items():
        actual = got[name]
        if name == "i":
            actual = ipaddress.ip_address(actual)
        if name == "s":
            actual = set(actual)
        if name == "m":
            actual = dict(actual)
        if name in ("l", "fl"):
            actual = list(actual)
        assert actual == expected, name
