"""The seed's whole quickstart, as a user walks it through the `mica` CLI against a real `mica server` with the
local-process provider: create a cluster (password, version 4.0), cqlsh over TLS, a NetworkTopologyStrategy
keyspace with rows, scale dc1 3 -> 4, add dc2 (3 nodes) with autoReplicate AllKeyspaces and read every row there
at LOCAL_ONE, a yaml override accepted and a forbidden key refused, 4.0 -> 4.1 accepted and a version skip
refused, NonProduction deallocate/start with the data intact, client certificates required (cqlsh refused without
one, accepted with one), then delete."""

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import test_control
from conftest import connect_one, issue, make_ca

# A loopback block of its own: node tests use 127.0-2.x.y, test_control_rolling 127.20-49, test_up 127.50-89,
# test_control_crash and test_metrics 127.100-139, test_control 127.150-199; this file takes 127.90-99.
FIRST_NODE_ADDRESS = f"127.{90 + os.getpid() % 10}.0.1"
PASSWORD = "quick-St4rt!"
ROWS = 200
# Long operations (rolling restarts of 7 nodes on 2 cores) get this long through the CLI.
CLI_TIMEOUT = 900


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setattr(test_control, "FIRST_NODE_ADDRESS", FIRST_NODE_ADDRESS)
    s = test_control.Server(tmp_path / "state")
    yield s
    s.stop()
    for pid in test_control.node_processes(str(s.state_dir)):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def cli(server, *args):
    """Runs a CLI command that must succeed and returns its JSON output."""
    return json.loads(server.cli(*args, timeout=CLI_TIMEOUT).stdout)


def addresses(server, dc):
    status = cli(server, "cluster", "status", "-c", "qs")
    return [n["address"] for d in status["dataCenters"] if d["name"] == dc for n in d["nodes"]]


def all_up_normal(server, expected, timeout=30):
    """Every node Up/Normal in the status resource, which shows the ring as the nodes' gossip sees it (a node
    that just joined may still look Joining to another node for a moment)."""
    deadline = time.time() + timeout
    while True:
        status = cli(server, "cluster", "status", "-c", "qs")
        nodes = [n for d in status["dataCenters"] for n in d["nodes"]]
        ok = len(nodes) == expected and all((n["status"], n["state"]) == ("Up", "Normal") for n in nodes)
        if ok or time.time() > deadline:
            assert ok, nodes
            return
        time.sleep(0.5)


def session_to(address, ca_pem, client_pem=None):
    return connect_one(address, ca_pem, PASSWORD, client_pem)


def read_all(address, ca_pem, consistency, client_pem=None):
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    cluster, session = session_to(address, ca_pem, client_pem)
    try:
        statement = SimpleStatement("SELECT k, v FROM shop.items",
                                    consistency_level=getattr(ConsistencyLevel, consistency))
        return sorted((r.k, r.v) for r in session.execute(statement))
    finally:
        cluster.shutdown()


def cqlsh(tmp_path, address, ca_file, statement, client_pem=None):
    """cqlsh --ssl with the password, verifying the node against the cluster CA; with a client certificate when
    given (cqlshrc [ssl] usercert/userkey)."""
    rc = tmp_path / "cqlshrc"
    lines = ["[ssl]", f"certfile = {ca_file}", "validate = true"]
    if client_pem:
        lines += [f"usercert = {client_pem}", f"userkey = {client_pem}"]
    rc.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, CQLSH_NO_BUNDLED="TRUE")
    env.pop("SSL_CERTFILE", None)
    command = [str(Path(sys.executable).parent / "cqlsh"), address, "9042", "--ssl", "-u", "cassandra",
               "-p", PASSWORD, "--cqlshrc", str(rc), "-e", statement]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_quickstart_through_the_cli(server, tmp_path):
    # Create the cluster (version 4.0, password) and its first datacenter.
    created = cli(server, "cluster", "create", "-c", "qs", "-i", PASSWORD, "--cassandra-version", "4.0")
    assert created["properties"]["provisioningState"] == "Succeeded"
    ca_pem = created["properties"]["gossipCertificates"][0]["pem"]
    ca_file = tmp_path / "cluster-ca.pem"
    ca_file.write_text(ca_pem)
    dc1 = cli(server, "datacenter", "create", "-c", "qs", "-d", "dc1", "-n", "3")
    assert dc1["properties"]["provisioningState"] == "Succeeded", dc1
    all_up_normal(server, 3)
    first = addresses(server, "dc1")[0]
    # Internode traffic is encrypted too: every node presents its certificate and trusts only the cluster CA.
    node_yaml = (server.state_dir / "clusters" / "qs" / "nodes" / "dc1-0" / "cassandra.yaml").read_text()
    assert "internode_encryption: all" in node_yaml, node_yaml

    # cqlsh with --ssl and the password.
    out = cqlsh(tmp_path, first, ca_file, "SELECT release_version FROM system.local;")
    assert out.returncode == 0 and "4.0." in out.stdout, out.stderr + out.stdout

    # A NetworkTopologyStrategy keyspace with rows written at QUORUM.
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    cluster, session = session_to(first, ca_pem)
    session.execute("CREATE KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
    session.execute("CREATE TABLE shop.items (k int PRIMARY KEY, v text)")
    insert = SimpleStatement("INSERT INTO shop.items (k, v) VALUES (%s, %s)",
                             consistency_level=ConsistencyLevel.QUORUM)
    expected = [(k, f"item-{k}") for k in range(ROWS)]
    for k, v in expected:
        session.execute(insert, (k, v))
    cluster.shutdown()

    # Scale dc1 3 -> 4: the new node bootstraps; every node Up/Normal, every row readable at QUORUM.
    scaled = cli(server, "datacenter", "update", "-c", "qs", "-d", "dc1", "-n", "4")
    assert scaled["properties"]["nodeCount"] == 4 and scaled["properties"]["provisioningState"] == "Succeeded"
    all_up_normal(server, 4)
    assert read_all(addresses(server, "dc1")[3], ca_pem, "QUORUM") == expected

    # Add dc2 (3 nodes) with autoReplicate AllKeyspaces: the keyspace gains dc2 and dc2 rebuilds from dc1, so
    # every row is served by dc2's own replicas (LOCAL_ONE through each dc2 node).
    cli(server, "cluster", "update", "-c", "qs", "--auto-replicate", "AllKeyspaces")
    dc2 = cli(server, "datacenter", "create", "-c", "qs", "-d", "dc2", "-n", "3")
    assert dc2["properties"]["provisioningState"] == "Succeeded", dc2
    all_up_normal(server, 7)
    dc2_addresses = addresses(server, "dc2")
    cluster, session = session_to(dc2_addresses[0], ca_pem)
    replication = session.execute(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'shop'").one().replication
    cluster.shutdown()
    assert (replication.get("dc1"), replication.get("dc2")) == ("3", "3"), replication
    for address in dc2_addresses:
        assert read_all(address, ca_pem, "LOCAL_ONE") == expected, address

    # A yaml override is accepted (and reaches the nodes through a rolling restart); a forbidden key is refused
    # with a 400 that names it, and nothing changes.
    fragment = base64.b64encode(b"compaction_throughput: 96MiB/s\n").decode()
    updated = cli(server, "datacenter", "update", "-c", "qs", "-d", "dc1", "-b", fragment)
    assert updated["properties"]["base64EncodedCassandraYamlFragment"] == fragment
    nodes_dir = server.state_dir / "clusters" / "qs" / "nodes"
    assert "compaction_throughput: 96MiB/s" in (nodes_dir / "dc1-0" / "cassandra.yaml").read_text()
    out = cli(server, "cluster", "invoke-command", "-c", "qs", "--host", first,
              "--command-name", "getcompactionthroughput")
    assert out["exitCode"] == 0 and "96" in out["commandOutput"], out
    forbidden = base64.b64encode(b"authenticator: AllowAllAuthenticator\n").decode()
    refused = server.cli("datacenter", "update", "-c", "qs", "-d", "dc1", "-b", forbidden, check=False)
    assert refused.returncode != 0 and "authenticator" in refused.stderr, refused.stderr
    shown = cli(server, "datacenter", "show", "-c", "qs", "-d", "dc1")
    assert shown["properties"]["base64EncodedCassandraYamlFragment"] == fragment

    # Versions move one step at a time: 4.0 -> 5.0 is refused, 4.0 -> 4.1 rolls through every node.
    skipped = server.cli("cluster", "update", "-c", "qs", "--cassandra-version", "5.0", check=False)
    assert skipped.returncode != 0 and "4.1" in skipped.stderr, skipped.stderr
    upgraded = cli(server, "cluster", "update", "-c", "qs", "--cassandra-version", "4.1")
    assert upgraded["properties"]["cassandraVersion"] == "4.1"
    out = cqlsh(tmp_path, dc2_addresses[2], ca_file, "SELECT release_version FROM system.local;")
    assert out.returncode == 0 and "4.1." in out.stdout, out.stderr + out.stdout

    # NonProduction, deallocate, start: the cluster comes back with every row.
    refused = server.cli("cluster", "deallocate", "-c", "qs", check=False)
    assert refused.returncode != 0 and "NonProduction" in refused.stderr, refused.stderr
    cli(server, "cluster", "update", "-c", "qs", "--cluster-type", "NonProduction")
    cli(server, "cluster", "deallocate", "-c", "qs")
    assert test_control.node_processes(str(server.state_dir / "clusters" / "qs")) == []
    cli(server, "cluster", "start", "-c", "qs")
    all_up_normal(server, 7)
    assert read_all(first, ca_pem, "QUORUM") == expected

    # Client certificates: cqlsh without one is refused, with one the CA signed it is accepted.
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    client_ca = make_ca(client_dir)
    client_pem = issue(client_dir, client_ca, "app", None)
    cli(server, "cluster", "update", "-c", "qs", "--client-certificates", str(client_dir / "ca.pem"))
    without = cqlsh(tmp_path, first, ca_file, "SELECT cluster_name FROM system.local;")
    assert without.returncode != 0, without.stdout
    with_cert = cqlsh(tmp_path, first, ca_file, "SELECT cluster_name FROM system.local;", client_pem)
    assert with_cert.returncode == 0 and "qs" in with_cert.stdout, with_cert.stderr + with_cert.stdout
    assert read_all(dc2_addresses[1], ca_pem, "LOCAL_QUORUM", client_pem) == expected

    # Deleting a datacenter that a keyspace still replicates to is refused without autoReplicate (nothing
    # changes); with AllKeyspaces the service strips it from every keyspace first, then its nodes leave the ring.
    cli(server, "cluster", "update", "-c", "qs", "--auto-replicate", "None")
    refused = server.cli("datacenter", "delete", "-c", "qs", "-d", "dc2", "--yes", check=False)
    assert refused.returncode != 0 and "shop" in refused.stderr and "dc2" in refused.stderr, refused.stderr
    assert len(cli(server, "datacenter", "list", "-c", "qs")) == 2
    cli(server, "cluster", "update", "-c", "qs", "--auto-replicate", "AllKeyspaces")
    cli(server, "datacenter", "delete", "-c", "qs", "-d", "dc2", "--yes")
    assert [d["name"] for d in cli(server, "datacenter", "list", "-c", "qs")] == ["dc1"]
    all_up_normal(server, 4)
    cluster, session = session_to(first, ca_pem, client_pem)
    replication = session.execute(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'shop'").one().replication
    cluster.shutdown()
    assert "dc2" not in replication and replication.get("dc1") == "3", replication
    assert read_all(first, ca_pem, "QUORUM", client_pem) == expected

    # Delete: every node process and directory goes.
    deleted = cli(server, "cluster", "delete", "-c", "qs", "--yes")
    assert deleted["status"] == "Succeeded"
    assert test_control.node_processes(str(server.state_dir / "clusters" / "qs")) == []
    assert cli(server, "cluster", "list") == []
