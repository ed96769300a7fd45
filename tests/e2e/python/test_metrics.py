"""Metrics end to end: a node's Prometheus endpoint (`GET /metrics` on its admin API, no token) counts real CQL
reads and writes made through the Python driver, and `mica server` turns its nodes' endpoints into the
throughput/latency series of `GET /clusters/{c}/metrics`."""

import json
import math
import os
import re
import time
import urllib.error
import urllib.request

import pytest

import test_control
from conftest import connect_one
from test_control import Server, wait_operation

ADMIN_PORT = 9180
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
POINT_FIELDS = {"time", "readsPerSecond", "writesPerSecond", "readLatencyP99Ms", "writeLatencyP99Ms",
                "readLatencyMeanMs", "writeLatencyMeanMs"}


def parse(text: str):
    """Exposition format 0.0.4 by hand: {(name, frozenset(labels)): value} and {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            assert family not in types, f"family {family} declared twice"
            types[family] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no TYPE line before it"
        key = (name, frozenset(LABEL.findall(labels)))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value.replace("+Inf", "inf"))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(address: str):
    with urllib.request.urlopen(f"http://{address}:{ADMIN_PORT}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
        return parse(r.read().decode())


def check_histograms(samples, types):
    """Every histogram's buckets are cumulative and its +Inf bucket equals its count."""
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset(l for l in labels if l[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((float(le.replace("+Inf", "inf")), v))
        for rest, buckets in series.items():
            buckets.sort()
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), (family, rest, buckets)
            assert math.isinf(buckets[-1][0])
            assert buckets[-1][1] == samples[(family + "_count", rest)], (family, rest)


def test_node_metrics_count_real_reads_and_writes(node, session):
    # Only /metrics is open without a token; the rest of the admin API still refuses.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{node.address}:{ADMIN_PORT}/v1/info", timeout=10)
    assert refused.value.code == 401

    session.execute("CREATE KEYSPACE metrics_ks WITH replication = {'class': 'SimpleStrategy', "
                    "'replication_factor': 1}")
    session.execute("CREATE TABLE metrics_ks.t (k int PRIMARY KEY, v text)")
    before, types = scrape(node.address)
    check_histograms(before, types)
    assert types["mica_client_request_latency_seconds"] == "histogram"
    assert value(before, "mica_node_up") == 1
    assert value(before, "mica_node_native_transport_active") == 1
    assert value(before, "mica_node_uptime_seconds") > 0
    assert value(before, "process_resident_memory_bytes") > 0
    info = [labels for (name, labels) in before if name == "mica_node_info"]
    assert len(info) == 1 and ("data_center", "dc1") in info[0] and ("cluster", "Mica Test") in info[0], info

    insert = session.prepare("INSERT INTO metrics_ks.t (k, v) VALUES (?, ?)")
    select = session.prepare("SELECT v FROM metrics_ks.t WHERE k = ?")
    for k in range(40):
        session.execute(insert, (k, "value %d" % k))
    for k in range(25):
        assert session.execute(select, (k,)).one().v == "value %d" % k

    after, types = scrape(node.address)
    check_histograms(after, types)
    client = "mica_client_request_latency_seconds_count"
    assert value(after, client, operation="write") - value(before, client, operation="write") >= 40
    assert value(after, client, operation="read") - value(before, client, operation="read") >= 25
    assert value(after, "mica_client_request_latency_seconds_sum", operation="write") > \
        value(before, "mica_client_request_latency_seconds_sum", operation="write")
    table = dict(keyspace="metrics_ks", table="t")
    assert value(after, "mica_table_write_latency_seconds_count", **table) >= 40
    assert value(after, "mica_table_read_latency_seconds_count", **table) >= 25
    assert ("mica_table_live_disk_space_used_bytes", frozenset(table.items())) in after
    assert value(after, "mica_node_disk_used_bytes") > 0


@pytest.fixture
def metrics_server(tmp_path, monkeypatch):
    # A loopback block of its own, apart from test_control's and the node fixtures'; one scrape a second.
    monkeypatch.setattr(test_control, "FIRST_NODE_ADDRESS", f"127.{100 + os.getpid() % 40}.0.1")
    monkeypatch.setenv("MICA_METRICS_INTERVAL_SECONDS", "1")
    s = Server(tmp_path / "state")
    yield s
    s.stop()


def test_server_collects_cluster_metrics(metrics_server):
    server = metrics_server
    created = json.loads(server.cli("cluster", "create", "-c", "m1", "-i", "metrics-pass",
                                    "--cluster-type", "NonProduction").stdout)
    ca_pem = created["properties"]["gossipCertificates"][0]["pem"]
    op = json.loads(server.cli("datacenter", "create", "-c", "m1", "-d", "dc1", "-n", "1", "--no-wait").stdout)
    assert wait_operation(server, op)["status"] == "Succeeded"
    address = json.loads(server.cli("datacenter", "show", "-c", "m1", "-d", "dc1").stdout)[
        "properties"]["seedNodes"][0]["ipAddress"]

    status, _, problem = server.http("GET", "/clusters/nope/metrics")
    assert status == 404 and problem["status"] == 404, problem
    assert server.http("GET", "/clusters/m1/metrics", token=False)[0] == 401

    cluster, session = connect_one(address, ca_pem, "metrics-pass")
    try:
        session.execute("CREATE KEYSPACE load WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}")
        session.execute("CREATE TABLE load.t (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO load.t (k, v) VALUES (?, ?)")
        select = session.prepare("SELECT v FROM load.t WHERE k = ?")
        # Writes and reads for a few scrape intervals, then wait until the series show them.
        deadline, k, body = time.time() + 60, 0, None
        while time.time() < deadline:
            for _ in range(50):
                session.execute(insert, (k, "v"))
                session.execute(select, (k,))
                k += 1
            status, _, body = server.http("GET", "/clusters/m1/metrics")
            assert status == 200, body
            whole = body["series"][0]["points"]
            if any(p["writesPerSecond"] > 0 and p["readsPerSecond"] > 0 for p in whole):
                break
            time.sleep(0.2)
    finally:
        cluster.shutdown()

    assert body["intervalSeconds"] == 1
    assert [s["dataCenter"] for s in body["series"]] == [None, "dc1"], body
    for series in body["series"]:
        assert series["points"], body
        for p in series["points"]:
            assert set(p) == POINT_FIELDS, p
            assert all(isinstance(p[f], float) for f in POINT_FIELDS - {"time"}), p
    busy = [p for p in body["series"][1]["points"] if p["writesPerSecond"] > 0]
    assert busy, body
    assert all(p["writeLatencyMeanMs"] > 0 and p["writeLatencyP99Ms"] > 0 for p in busy), busy
    times = [p["time"] for p in body["series"][0]["points"]]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 30, times

    shown = json.loads(server.cli("cluster", "show", "-c", "m1").stdout)
    assert shown["properties"]["prometheusEndpoint"] == {"ipAddress": address}, shown["properties"]
