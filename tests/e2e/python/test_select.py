"""SELECT features through the Python driver (protocol v4 and v5): aggregates, GROUP BY, functions, CAST,
SELECT JSON, clustering slices, paging and prepared statements with computed selectors."""

import datetime
import decimal
import json
import uuid

import pytest
from cassandra import InvalidRequest, ProtocolVersion
from cassandra.cqltypes import (
    BytesType,
    DateType,
    DecimalType,
    DoubleType,
    Int32Type,
    LongType,
    SimpleDateType,
    VarcharType,
)
from cassandra.query import SimpleStatement, tuple_factory

VERSIONS = [ProtocolVersion.V4, ProtocolVersion.V5]


@pytest.fixture(params=VERSIONS, ids=["v4", "v5"])
def sess(request, node):
    cluster = node.cluster(protocol_version=request.param)
    s = cluster.connect()
    s.row_factory = tuple_factory
    s.execute("CREATE KEYSPACE sel WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.set_keyspace("sel")
    s.execute("CREATE TABLE g (a int, b int, c int, d double, e decimal, s text static, PRIMARY KEY (a, b, c))")
    insert = s.prepare("INSERT INTO g (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)")
    for a, b, c, d, e in [
        (1, 1, 1, 1.5, "1.5"),
        (1, 1, 2, 2.5, "2.0"),
        (1, 2, 1, 3.0, "3.5"),
        (2, 1, 1, 4.0, "4.0"),
        (3, 5, 9, 10.0, "1.0"),
    ]:
        s.execute(insert, (a, b, c, d, decimal.Decimal(e)))
    s.execute("UPDATE g SET s = 'static' WHERE a = 1")
    yield s
    cluster.shutdown()


def test_aggregates_names_types_and_values(sess):
    rs = sess.execute("SELECT count(*), count(d), sum(c), avg(c), min(d), max(d), sum(e), avg(e) FROM g")
    assert rs.column_names == [
        "count",
        "system.count(d)",
        "system.sum(c)",
        "system.avg(c)",
        "system.min(d)",
        "system.max(d)",
        "system.sum(e)",
        "system.avg(e)",
    ]
    assert [t for t in rs.column_types] == [
        LongType,
        LongType,
        Int32Type,
        Int32Type,
        DoubleType,
        DoubleType,
        DecimalType,
        DecimalType,
    ]
    assert rs.one() == (5, 5, 14, 2, 1.5, 10.0, decimal.Decimal("12.0"), decimal.Decimal("2.4"))
    # An aggregate over many pages comes back as a single page.
    rs = sess.execute(SimpleStatement("SELECT count(*) AS n FROM g", fetch_size=1))
    assert rs.column_names == ["n"]
    assert list(rs) == [(5,)]
    assert rs.paging_state is None
    # Plain columns next to aggregates take the first row's values.
    assert sess.execute("SELECT a, b, count(*) FROM g WHERE a = 1").one() == (1, 1, 3)
    with pytest.raises(InvalidRequest, match="aggregate functions cannot be used as arguments of aggregate functions"):
        sess.execute("SELECT max(sum(c)) FROM g")


def test_group_by_and_distinct(sess):
    rows = sorted(sess.execute("SELECT a, b, count(*), max(d) FROM g GROUP BY a, b"))
    assert rows == [(1, 1, 2, 2.5), (1, 2, 1, 3.0), (2, 1, 1, 4.0), (3, 5, 1, 10.0)]
    rows = list(sess.execute("SELECT a, b, c FROM g WHERE a = 1 GROUP BY a, b"))
    assert rows == [(1, 1, 1), (1, 2, 1)]
    rows = list(sess.execute("SELECT b, sum(c) FROM g WHERE a = 1 GROUP BY b PER PARTITION LIMIT 1"))
    assert rows == [(1, 3)]
    # GROUP BY pages by groups.
    statement = SimpleStatement("SELECT a, b, count(*) FROM g GROUP BY a, b", fetch_size=1)
    rs = sess.execute(statement)
    assert len(rs.current_rows) == 1 and rs.has_more_pages
    assert sorted(rs) == rows_all_groups(sess)
    assert sorted(sess.execute("SELECT DISTINCT a, s FROM g")) == [(1, "static"), (2, None), (3, None)]
    with pytest.raises(InvalidRequest, match="Group by currently only support groups of columns following"):
        sess.execute("SELECT a, count(*) FROM g WHERE a = 1 GROUP BY c")
    with pytest.raises(InvalidRequest, match="SELECT DISTINCT queries must only request partition key"):
        sess.execute("SELECT DISTINCT a, b FROM g")


def rows_all_groups(sess):
    return sorted(sess.execute("SELECT a, b, count(*) FROM g GROUP BY a, b"))


def test_functions_cast_and_arithmetic(sess):
    sess.execute("CREATE TABLE f (k int PRIMARY KEY, t timeuuid, ts timestamp, v int, bl blob, m map<text, int>)")
    sess.execute(
        "INSERT INTO f (k, t, ts, v, bl, m) VALUES (1, maxTimeuuid('2020-01-02 03:04:05+0000'),"
        " '2020-01-02 03:04:05+0000', 7, intAsBlob(42), {'a': 1, 'b': 2})"
    )
    rs = sess.execute(
        "SELECT now(), toTimestamp(t), toDate(ts), toUnixTimestamp(ts), token(k), CAST(v AS text),"
        " CAST(v AS double), v * 2 + 1, blobAsInt(bl), toJson(m), m['b'], writetime(v) FROM f WHERE k = 1"
    )
    assert rs.column_names == [
        "system.now()",
        "system.totimestamp(t)",
        "system.todate(ts)",
        "system.tounixtimestamp(ts)",
        "system.token(k)",
        "cast(v as text)",
        "cast(v as double)",
        "v * 2 + 1",
        "system.blobasint(bl)",
        "system.tojson(m)",
        "m['b']",
        "writetime(v)",
    ]
    row = rs.one()
    assert isinstance(row[0], uuid.UUID) and row[0].version == 1
    assert row[1] == datetime.datetime(2020, 1, 2, 3, 4, 5)
    assert str(row[2]) == "2020-01-02"
    assert row[3] == 1577934245000
    assert isinstance(row[4], int)
    assert row[5:11] == ("7", 7.0, 15, 42, '{"a": 1, "b": 2}', 2)
    assert row[11] > 0
    # The token function agrees with token() restrictions.
    assert sess.execute(f"SELECT k FROM f WHERE token(k) = {row[4]}").one() == (1,)
    assert sess.execute("SELECT k FROM f WHERE t <= maxTimeuuid('2020-01-02 03:04:05+0000') ALLOW FILTERING").one() == (1,)
    with pytest.raises(InvalidRequest, match="Cannot infer type for term 42 in selection clause"):
        sess.execute("SELECT 42 FROM f")
    with pytest.raises(InvalidRequest, match="v cannot be cast to boolean"):
        sess.execute("SELECT CAST(v AS boolean) FROM f")


def test_select_json(sess):
    sess.execute('CREATE TABLE j (k int PRIMARY KEY, "CamelCase" text, l list<int>, ts timestamp)')
    sess.execute("INSERT INTO j (k, \"CamelCase\", l, ts) VALUES (1, 'x', [1, 2], '2021-03-04 05:06:07.089+0000')")
    rs = sess.execute("SELECT JSON * FROM j")
    assert rs.column_names == ["[json]"]
    doc = rs.one()[0]
    assert json.loads(doc) == {"k": 1, '"CamelCase"': "x", "l": [1, 2], "ts": "2021-03-04 05:06:07.089Z"}
    doc = sess.execute("SELECT JSON k AS key, count(*) FROM j").one()[0]
    assert json.loads(doc) == {"key": 1, "count": 1}


def test_clustering_slices_and_relations(sess):
    sess.execute("CREATE TABLE s (k int, c1 int, c2 int, PRIMARY KEY (k, c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)")
    insert = sess.prepare("INSERT INTO s (k, c1, c2) VALUES (0, ?, ?)")
    for c1 in range(10):
        for c2 in range(3):
            sess.execute(insert, (c1, c2))
    select = sess.prepare("SELECT c1, c2 FROM s WHERE k = 0 AND c1 > ? AND c1 <= ?")
    assert [r[0] for r in sess.execute(select, (6, 8))] == [8, 8, 8, 7, 7, 7]
    rows = list(sess.execute("SELECT c1, c2 FROM s WHERE k = 0 AND (c1, c2) >= (8, 1)"))
    assert rows == [(9, 0), (9, 1), (9, 2), (8, 1), (8, 2)]
    rows = list(sess.execute("SELECT c1, c2 FROM s WHERE k = 0 AND (c1, c2) IN ((1, 1), (5, 2))"))
    assert rows == [(5, 2), (1, 1)]
    rows = list(sess.execute("SELECT c1 FROM s WHERE k = 0 AND c1 IN (2, 4) AND c2 = 0 ORDER BY c1 ASC"))
    assert rows == [(2,), (4,)]
    # A slice paged with a small fetch size returns every row exactly once.
    statement = SimpleStatement("SELECT c1, c2 FROM s WHERE k = 0 AND c1 < 5", fetch_size=4)
    rows = list(sess.execute(statement))
    assert len(rows) == 15 and len(set(rows)) == 15 and rows[0] == (4, 0)
    with pytest.raises(InvalidRequest, match=r'PRIMARY KEY column "c2" cannot be restricted as preceding column "c1" is not restricted'):
        sess.execute("SELECT * FROM s WHERE k = 0 AND c2 = 1")
    with pytest.raises(InvalidRequest, match="use ALLOW FILTERING"):
        sess.execute("SELECT * FROM s WHERE c1 = 1")
    assert len(list(sess.execute("SELECT * FROM s WHERE c1 = 1 ALLOW FILTERING"))) == 3


def test_prepared_selectors_metadata(sess):
    sess.execute("CREATE TABLE p (k int, c int, v double, t timeuuid, PRIMARY KEY (k, c))")
    sess.execute("INSERT INTO p (k, c, v, t) VALUES (1, 2, 3.5, now())")
    prepared = sess.prepare(
        "SELECT count(*), sum(c), avg(v), cast(c AS text), toTimestamp(t), toDate(t), c + 1.5, intAsBlob(?) AS b"
        " FROM p WHERE k = ?"
    )
    names = [m[2] for m in prepared.result_metadata]
    types = [m[3] for m in prepared.result_metadata]
    assert names == [
        "count",
        "system.sum(c)",
        "system.avg(v)",
        "cast(c as text)",
        "system.totimestamp(t)",
        "system.todate(t)",
        "c + 1.5",
        "b",
    ]
    assert types == [LongType, Int32Type, DoubleType, VarcharType, DateType, SimpleDateType, DoubleType, BytesType]
    assert [c.name for c in prepared.column_metadata] == ["arg0(system.intasblob)", "k"]
    row = sess.execute(prepared, (5, 1)).one()
    assert row[:4] == (1, 2, 3.5, "2")
    assert isinstance(row[4], datetime.datetime)
    assert row[6] == 3.5
    assert row[7] == b"\x00\x00\x00\x05"
    json_prepared = sess.prepare("SELECT JSON k, v FROM p WHERE k = ?")
    assert [(m[2], m[3]) for m in json_prepared.result_metadata] == [("[json]", VarcharType)]
    assert json.loads(sess.execute(json_prepared, (1,)).one()[0]) == {"k": 1, "v": 3.5}
