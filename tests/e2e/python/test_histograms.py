"""`mica nodetool proxyhistograms` and `tablehistograms` against a real node: Cassandra 4.1's output shapes and
real measurements of the reads and writes the test makes."""

import re

from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from test_nodetool import nodetool

ROWS = ["50%", "75%", "95%", "98%", "99%", "Min", "Max"]


def parse_rows(lines):
    """The seven percentile rows as {label: [floats]} (NaN stays NaN)."""
    out = {}
    for line in lines:
        parts = line.split()
        if parts and parts[0] in ROWS:
            out[parts[0]] = [float(p) for p in parts[1:]]
    assert list(out) == ROWS, lines
    return out


def assert_ordered(rows, column):
    values = [rows[label][column] for label in ROWS]
    p50, p75, p95, p98, p99, low, high = values
    assert 0 < p50 <= p75 <= p95 <= p98 <= p99 <= high, values
    assert low <= p50, values


def test_histograms_measure_real_requests(node, session):
    session.execute("CREATE KEYSPACE h WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE h.t (k int, c int, v text, PRIMARY KEY (k, c))")
    session.execute("CREATE TABLE h.idle (k int PRIMARY KEY)")
    insert = session.prepare("INSERT INTO h.t (k, c, v) VALUES (?, ?, ?)")
    for k in range(20):
        for c in range(3):
            session.execute(insert, (k, c, "v" * 50))
    select = session.prepare("SELECT * FROM h.t WHERE k = ?")
    for k in range(20):
        assert len(list(session.execute(select, (k,)))) == 3
    assert len(list(session.execute("SELECT * FROM h.t"))) == 60
    applied = session.execute("INSERT INTO h.t (k, c, v) VALUES (100, 0, 'x') IF NOT EXISTS").one()
    assert applied[0] is True

    proxy = nodetool(node, "proxyhistograms").stdout
    lines = proxy.splitlines()
    assert lines[0] == "proxy histograms"
    assert re.match(
        r"Percentile\s+Read Latency\s+Write Latency\s+Range Latency\s+CAS Read Latency\s+CAS Write Latency"
        r"\s+View Write Latency$",
        lines[1],
    ), lines[1]
    assert lines[2].split() == ["(micros)"] * 6
    rows = parse_rows(lines[3:10])
    for column in (0, 1, 2, 4):  # read, write, range, CAS write
        assert_ordered(rows, column)
    assert all(rows[label][5] == 0.0 for label in ROWS), "no materialized views, no view writes"
    assert all(re.fullmatch(r"\d+\.\d\d", v) for line in lines[3:10] for v in line.split()[1:]), proxy
    assert proxy.endswith("\n\n")

    for args in (("h", "t"), ("h.t",)):
        table = nodetool(node, "tablehistograms", *args).stdout
        lines = table.splitlines()
        assert lines[0] == "h/t histograms", table
        assert re.match(
            r"Percentile\s+Read Latency\s+Write Latency\s+SSTables\s+Partition Size\s+Cell Count$", lines[1]
        ), lines[1]
        assert lines[2].split() == ["(micros)", "(micros)", "(bytes)"], lines[2]
        rows = parse_rows(lines[3:10])
        assert_ordered(rows, 0)  # local reads
        assert_ordered(rows, 1)  # local writes
        assert all(rows[label][2] == 0.0 for label in ROWS)  # SSTables per read: not reported by the engine
        assert_ordered(rows, 3)  # partition sizes over a sample of the data
        assert rows["50%"][4] == 3 and rows["Max"][4] == 3, "3 cells (one text column x 3 rows) per partition"

    idle = nodetool(node, "tablehistograms", "h", "idle").stdout.splitlines()
    assert idle[0] == "h/idle histograms"
    assert idle[1] == "No SSTables exists, unable to calculate 'Partition Size' and 'Cell Count' percentiles"
    rows = parse_rows(idle[4:11])
    assert all(rows[label][0] == 0.0 for label in ROWS), "never read"

    missing = nodetool(node, "tablehistograms", "h", "nope", check=False)
    assert missing.returncode != 0 and "Unknown table h.nope" in missing.stderr, missing.stderr
    bad = nodetool(node, "tablehistograms", "a", "b", "c", check=False)
    assert bad.returncode != 0 and "tablehistograms requires <keyspace> <table> or <keyspace.table>" in bad.stderr

    everything = nodetool(node, "tablehistograms").stdout
    assert "h/t histograms" in everything and "h/idle histograms" in everything


def test_serial_reads_count_as_cas_reads(node, session):
    session.execute("CREATE KEYSPACE hs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE hs.t (k int PRIMARY KEY, v int)")
    session.execute("INSERT INTO hs.t (k, v) VALUES (1, 1) IF NOT EXISTS")
    serial = SimpleStatement("SELECT v FROM hs.t WHERE k = 1", consistency_level=ConsistencyLevel.SERIAL)
    assert session.execute(serial).one().v == 1
    rows = parse_rows(nodetool(node, "proxyhistograms").stdout.splitlines()[3:10])
    assert_ordered(rows, 3)
