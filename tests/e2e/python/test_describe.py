"""DESCRIBE, request tracing, ALTER TABLE/TYPE and cqlsh COPY against a real node, with the Python driver and cqlsh."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cassandra import InvalidRequest
from cassandra.query import SimpleStatement

KEYSPACE_CQL = (
    "CREATE KEYSPACE dks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"
    "  AND durable_writes = true;"
)

TABLE_OPTIONS = """    AND additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND cdc = false
    AND comment = ''
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}
    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}
    AND memtable = 'default'
    AND crc_check_chance = 1.0
    AND default_time_to_live = 0
    AND extensions = {}
    AND gc_grace_seconds = 864000
    AND max_index_interval = 2048
    AND memtable_flush_period_in_ms = 0
    AND min_index_interval = 128
    AND read_repair = 'BLOCKING'
    AND speculative_retry = '99p';"""

EVENTS_CQL = (
    """CREATE TABLE dks.events (
    day date,
    at timestamp,
    "Kind" text,
    owner frozen<person>,
    payload text,
    tags set<text>,
    PRIMARY KEY (day, at)
) WITH CLUSTERING ORDER BY (at DESC)
"""
    + TABLE_OPTIONS
)

TYPE_CQL = "CREATE TYPE dks.person (\n    name text,\n    age int\n);"


def cqlsh(node, statements: str | None, *extra: str) -> subprocess.CompletedProcess:
    """Runs cqlsh over TLS as the default superuser with `-e statements` (or only `extra`, e.g. `-f file`)."""
    env = dict(os.environ, SSL_VALIDATE="false", CQLSH_NO_BUNDLED="TRUE")
    exe = Path(sys.executable).parent / "cqlsh"
    args = [str(exe), node.address, str(node.port), "--ssl", "-u", "cassandra", "-p", "cassandra", *extra]
    if statements is not None:
        args += ["-e", statements]
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def printed(r: subprocess.CompletedProcess) -> str:
    """cqlsh's output without its version-mismatch warning line, trimmed."""
    lines = [line for line in r.stdout.splitlines() if not line.startswith("WARNING: cqlsh was built against")]
    return "\n".join(lines).strip()


def create_schema(session):
    session.execute(
        "CREATE KEYSPACE dks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.execute("CREATE TYPE dks.person (name text, age int)")
    session.execute(
        'CREATE TABLE dks.events (day date, at timestamp, "Kind" text, payload text, tags set<text>, '
        "owner frozen<person>, PRIMARY KEY (day, at)) WITH CLUSTERING ORDER BY (at DESC)"
    )
    session.execute("CREATE TABLE dks.simple (id int PRIMARY KEY, v text)")


@pytest.mark.parametrize("protocol_version", [4, 5])
def test_describe_with_the_driver(node, protocol_version):
    cluster = node.cluster(protocol_version=protocol_version)
    session = cluster.connect()
    try:
        create_schema(session)
        rows = list(session.execute("DESCRIBE KEYSPACE dks"))
        assert [(r.keyspace_name, r.type, r.name) for r in rows] == [
            ("dks", "keyspace", "dks"),
            ("dks", "type", "person"),
            ("dks", "table", "events"),
            ("dks", "table", "simple"),
        ]
        assert rows[0].create_statement == KEYSPACE_CQL
        assert rows[1].create_statement == TYPE_CQL
        assert rows[2].create_statement == EVENTS_CQL

        table = list(session.execute("DESCRIBE TABLE dks.simple"))
        assert table[0].create_statement == (
            "CREATE TABLE dks.simple (\n    id int PRIMARY KEY,\n    v text\n) WITH additional_write_policy = '99p'\n"
            + TABLE_OPTIONS.split("\n", 1)[1]
        )
        names = [r.name for r in session.execute("DESCRIBE KEYSPACES")]
        assert "dks" in names and "system" in names and names == sorted(names)
        tables = [(r.keyspace_name, r.name) for r in session.execute("DESCRIBE TABLES") if r.keyspace_name == "dks"]
        assert tables == [("dks", "events"), ("dks", "simple")]

        cluster_row = session.execute("DESCRIBE CLUSTER").one()
        assert cluster_row.cluster == "Mica Test"
        assert cluster_row.partitioner == "Murmur3Partitioner"

        with pytest.raises(InvalidRequest, match="'nope' not found in keyspaces"):
            session.execute("DESCRIBE KEYSPACE nope")
        with pytest.raises(InvalidRequest, match="Table 'nope' not found in keyspace 'dks'"):
            session.execute("DESCRIBE TABLE dks.nope")
    finally:
        cluster.shutdown()


def test_cqlsh_describe(node):
    r = cqlsh(
        node,
        "CREATE KEYSPACE dks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
        "CREATE TYPE dks.person (name text, age int);"
        "CREATE TABLE dks.events (day date, at timestamp, \"Kind\" text, payload text, tags set<text>, "
        "owner frozen<person>, PRIMARY KEY (day, at)) WITH CLUSTERING ORDER BY (at DESC);",
    )
    assert r.returncode == 0, r.stderr + r.stdout

    r = cqlsh(node, "DESCRIBE KEYSPACE dks")
    assert r.returncode == 0, r.stderr + r.stdout
    assert printed(r) == "\n\n".join([KEYSPACE_CQL, TYPE_CQL, EVENTS_CQL])

    r = cqlsh(node, "DESCRIBE TABLE dks.events")
    assert r.returncode == 0, r.stderr + r.stdout
    assert printed(r) == EVENTS_CQL

    r = cqlsh(node, "DESCRIBE KEYSPACES")
    assert r.returncode == 0, r.stderr + r.stdout
    listed = r.stdout.split()
    for ks in ("dks", "system", "system_auth", "system_schema", "system_traces"):
        assert ks in listed

    r = cqlsh(node, "USE dks; DESCRIBE TABLES; DESCRIBE CLUSTER")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "events" in r.stdout
    assert "Cluster: Mica Test" in r.stdout and "Range ownership:" in r.stdout

    r = cqlsh(node, "DESCRIBE KEYSPACE nope")
    assert "'nope' not found in keyspaces" in r.stderr


def test_cqlsh_tracing_prints_the_trace(node):
    r = cqlsh(
        node,
        "CREATE KEYSPACE tks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
        "CREATE TABLE tks.t (k int PRIMARY KEY, v text);"
        "INSERT INTO tks.t (k, v) VALUES (1, 'one');"
        "TRACING ON;"
        "SELECT * FROM tks.t WHERE k = 1;",
    )
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Tracing session: " in r.stdout
    assert "Parsing SELECT * FROM tks.t WHERE k = 1" in r.stdout
    assert "Executing single-partition query on t" in r.stdout
    assert "Read 1 live rows and 0 tombstone cells" in r.stdout
    assert "Request complete" in r.stdout
    assert "Unable to fetch query trace" not in r.stdout + r.stderr


@pytest.mark.parametrize("protocol_version", [4, 5])
def test_driver_query_trace(node, protocol_version):
    cluster = node.cluster(protocol_version=protocol_version)
    session = cluster.connect()
    try:
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS tr WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("CREATE TABLE IF NOT EXISTS tr.t (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO tr.t (k, v) VALUES (?, ?)")
        result = session.execute(insert, (1, "x"), trace=True)
        trace = result.get_query_trace(max_wait_sec=5)
        assert trace.request_type == "Execute CQL3 prepared query"
        assert trace.duration is not None and trace.started_at is not None
        assert any(e.description == "Adding to t memtable" for e in trace.events)

        result = session.execute(SimpleStatement("SELECT * FROM tr.t"), trace=True)
        trace = result.get_query_trace(max_wait_sec=5)
        assert trace.parameters["query"] == "SELECT * FROM tr.t"
        assert trace.coordinator == node.address
        descriptions = [e.description for e in trace.events]
        assert descriptions[0] == "Parsing SELECT * FROM tr.t"
        assert "Read 1 live rows and 0 tombstone cells" in descriptions
        # Untraced requests record no session.
        count = "SELECT count(*) FROM system_traces.sessions"
        before = session.execute(count).one()[0]
        session.execute("SELECT * FROM tr.t")
        assert session.execute(count).one()[0] == before
    finally:
        cluster.shutdown()


def test_alter_table_and_type(node_factory):
    node = node_factory().start()
    r = cqlsh(
        node,
        "CREATE KEYSPACE aks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
        "CREATE TYPE aks.addr (street text);"
        "CREATE TABLE aks.t (k int, c int, v text, PRIMARY KEY (k, c));"
        "INSERT INTO aks.t (k, c, v) VALUES (1, 1, 'old');"
        "ALTER TABLE aks.t ADD n int;"
        "ALTER TABLE aks.t ADD home frozen<addr>;"
        "INSERT INTO aks.t (k, c, n, home) VALUES (1, 2, 42, {street: 'main'});"
        "SELECT k, c, n, v FROM aks.t WHERE k = 1;",
    )
    assert r.returncode == 0, r.stderr + r.stdout
    assert "42" in r.stdout and "(2 rows)" in r.stdout

    cluster = node.cluster()
    session = cluster.connect()
    try:
        # The driver sees the new column after the SCHEMA_CHANGE event.
        assert "n" in cluster.metadata.keyspaces["aks"].tables["t"].columns

        session.execute("ALTER TABLE aks.t DROP v")
        assert session.execute("SELECT * FROM aks.t WHERE k = 1 AND c = 1").one().n is None
        session.execute("ALTER TABLE aks.t ADD v text")
        assert session.execute("SELECT v FROM aks.t WHERE k = 1 AND c = 1").one().v is None
        dropped = session.execute(
            "SELECT column_name FROM system_schema.dropped_columns WHERE keyspace_name = 'aks'"
        ).one()
        assert dropped.column_name == "v"

        session.execute("ALTER TABLE aks.t RENAME c TO ck")
        session.execute("ALTER TABLE aks.t WITH comment = 'renamed'")
        session.execute("ALTER TYPE aks.addr ADD city text")
        session.execute("ALTER TYPE aks.addr RENAME street TO road")

        with pytest.raises(InvalidRequest, match="Column with name 'n' already exists"):
            session.execute("ALTER TABLE aks.t ADD n int")
        with pytest.raises(InvalidRequest, match="Cannot drop PRIMARY KEY column k"):
            session.execute("ALTER TABLE aks.t DROP k")
        with pytest.raises(InvalidRequest, match="Cannot rename non PRIMARY KEY column n"):
            session.execute("ALTER TABLE aks.t RENAME n TO m")
    finally:
        cluster.shutdown()

    # Everything survives a restart.
    node.stop()
    node.start()
    cluster = node.cluster()
    session = cluster.connect()
    try:
        row = session.execute("SELECT k, ck, n, v, home FROM aks.t WHERE k = 1 AND ck = 2").one()
        assert row.n == 42 and row.v is None and row.home.road == "main"
        create = session.execute("DESCRIBE TABLE aks.t").one().create_statement
        assert "    ck int,\n" in create and "PRIMARY KEY (k, ck)" in create
        assert "AND comment = 'renamed'" in create
        ty = session.execute("DESCRIBE TYPE aks.addr").one().create_statement
        assert ty == "CREATE TYPE aks.addr (\n    road text,\n    city text\n);"
    finally:
        cluster.shutdown()


def test_cqlsh_copy_to_and_from(node, tmp_path):
    lines = [
        "CREATE KEYSPACE cks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};",
        "CREATE TABLE cks.src (k int, c int, v text, PRIMARY KEY (k, c));",
        "CREATE TABLE cks.dst (k int, c int, v text, PRIMARY KEY (k, c));",
    ]
    lines += [f"INSERT INTO cks.src (k, c, v) VALUES ({i % 13}, {i}, 'value {i}');" for i in range(200)]
    script = tmp_path / "load.cql"
    script.write_text("\n".join(lines))
    r = cqlsh(node, None, "-f", str(script))
    assert r.returncode == 0, r.stderr + r.stdout

    csv = tmp_path / "src.csv"
    r = cqlsh(node, f"COPY cks.src (k, c, v) TO '{csv}' WITH HEADER = true")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "200 rows exported" in r.stdout, r.stdout
    exported = csv.read_text().splitlines()
    assert exported[0] == "k,c,v" and len(exported) == 201
    assert "5,5,value 5" in exported

    r = cqlsh(node, f"COPY cks.dst (k, c, v) FROM '{csv}' WITH HEADER = true")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "200 rows imported" in r.stdout, r.stdout

    cluster = node.cluster()
    session = cluster.connect()
    try:
        src = sorted(tuple(r) for r in session.execute("SELECT k, c, v FROM cks.src"))
        dst = sorted(tuple(r) for r in session.execute("SELECT k, c, v FROM cks.dst"))
        assert len(dst) == 200 and dst == src
    finally:
        cluster.shutdown()
