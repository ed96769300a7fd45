"""`mica nodetool` against a real node's admin API: Cassandra-shaped output, token checks, flush/compact and
stopdaemon."""

import re
import subprocess

from conftest import MICA_BIN

ADMIN_PORT = 9180


def nodetool(node, *args, token_file=None, check=True):
    token = token_file or node.directory / "data" / "data" / "admin.token"
    result = subprocess.run(
        [str(MICA_BIN), "nodetool", "-h", node.address, "-p", str(ADMIN_PORT), "--token-file", str(token), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, f"nodetool {args} failed: {result.stderr}"
    return result


def test_status_info_describecluster_version(node, session):
    host_id = str(session.execute("SELECT host_id FROM system.local").one().host_id)

    status = nodetool(node, "status").stdout
    lines = status.splitlines()
    assert lines[0] == "Datacenter: datacenter1" or lines[0].startswith("Datacenter: "), status
    assert lines[1] == "=" * len(lines[0])
    assert lines[2:4] == ["Status=Up/Down", "|/ State=Normal/Leaving/Joining/Moving"]
    assert re.match(r"--\s+Address\s+Load\s+Tokens\s+Owns \(effective\)\s+Host ID\s+Rack$", lines[4]), lines[4]
    row = lines[5].split()
    assert row[0] == "UN" and row[1] == node.address and host_id in row, lines[5]
    assert "100.0%" in row

    info = nodetool(node, "info").stdout
    assert f"ID                     : {host_id}" in info
    assert "Native Transport active: true" in info
    assert re.search(r"Token                  : \(invoke with -T/--tokens to see all \d+ tokens\)", info)

    cluster = nodetool(node, "describecluster").stdout
    version = str(session.execute("SELECT schema_version FROM system.local").one().schema_version)
    assert cluster.startswith("Cluster Information:\n\tName: ")
    assert f"\t\t{version}: [{node.address}]" in cluster, cluster

    ring = nodetool(node, "ring").stdout.splitlines()
    assert ring[1].startswith("Datacenter: ") and ring[2] == "=========="
    assert re.match(r"Address\s+Rack\s+Status State\s+Load\s+Owns\s+Token$", ring[3]), ring[3]
    token_lines = [line for line in ring[5:] if line.strip()]
    assert token_lines and all(line.startswith(node.address) and " Up " in line for line in token_lines), ring

    release = session.execute("SELECT release_version FROM system.local").one().release_version
    assert nodetool(node, "version").stdout == f"ReleaseVersion: {release}\n"


def test_flush_compact_tablestats_and_errors(node, session):
    session.execute("CREATE KEYSPACE nt WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE nt.t (k int PRIMARY KEY, v text)")
    for k in range(100):
        session.execute("INSERT INTO nt.t (k, v) VALUES (%s, %s)", (k, "x" * 100))
    nodetool(node, "flush", "nt", "t")
    nodetool(node, "compact", "nt")
    stats = nodetool(node, "tablestats", "nt.t").stdout
    assert "Keyspace : nt" in stats and "\t\tTable: t" in stats, stats
    assert session.execute("SELECT count(*) FROM nt.t").one()[0] == 100

    missing = nodetool(node, "flush", "nope", check=False)
    assert missing.returncode != 0 and "Keyspace nope does not exist" in missing.stderr, missing.stderr
    unknown = nodetool(node, "frobnicate", check=False)
    assert unknown.returncode != 0 and "unknown or not yet supported command" in unknown.stderr

    bad = node.directory / "bad.token"
    bad.write_text("not-the-token")
    refused = nodetool(node, "status", token_file=bad, check=False)
    assert refused.returncode != 0 and "admin token" in refused.stderr and "401" in refused.stderr


def test_stopdaemon_stops_the_node(node_factory):
    node = node_factory().start()
    nodetool(node, "stopdaemon")
    assert node.proc.wait(timeout=30) == 0, "the node exits cleanly after stopdaemon"
