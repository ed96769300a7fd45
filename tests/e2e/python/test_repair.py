"""`mica nodetool repair` across real `mica node` processes with hints off: a replica that missed writes
(inserts, updates, deletes) while killed with -9 is brought back in line by Merkle-tree anti-entropy repair,
full and primary-range; repairing with a replica down fails with Cassandra's message."""

import re
import subprocess

import pytest
from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from conftest import MICA_BIN
from test_replication import connect, create_schema, local_rows, peers_seen, seeds_yaml, wait_for

ADMIN_PORT = 9180
NO_HINTS = "hinted_handoff_enabled: false\n"


def nodetool(node, *args, check=True):
    token = node.directory / "data" / "data" / "admin.token"
    result = subprocess.run(
        [str(MICA_BIN), "nodetool", "-h", node.address, "-p", str(ADMIN_PORT), "--token-file", str(token), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, f"nodetool {args} failed: {result.stdout}\n{result.stderr}"
    return result


def sees(node, other, state):
    """Whether `node`'s nodetool status shows `other` as `state` (UN, DN)."""
    out = nodetool(node, "status").stdout
    return re.search(rf"^{state}\s+{re.escape(other.address)}\s", out, re.MULTILINE) is not None


@pytest.fixture
def three_nodes(node_factory):
    first = node_factory(tls=False, auth=False, name="n1")
    first.config.write_text(first.config.read_text() + seeds_yaml(first.address) + NO_HINTS)
    nodes = [first]
    for i in (2, 3):
        n = node_factory(tls=False, auth=False, name=f"n{i}")
        n.config.write_text(n.config.read_text() + seeds_yaml(first.address) + NO_HINTS)
        nodes.append(n)
    for n in nodes:
        n.start()
        wait_for(f"{n.address} to join", lambda n=n: peers_seen(n, nodes.index(n)))
    for n in nodes:
        wait_for(f"{n.address} to see both peers", lambda n=n: peers_seen(n, 2))
    return nodes


def miss_writes(nodes, victim, session, acknowledged, base):
    """Kills `victim`, changes data at QUORUM (new rows, updates, deletes), restarts it."""
    victim.kill9()
    insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
    delete = session.prepare("DELETE FROM ks.t WHERE k = ?")
    for k in range(base, base + 50):
        session.execute(insert, (k, f"new{k}"))
        acknowledged[k] = f"new{k}"
    for k in list(acknowledged)[:15]:
        session.execute(insert, (k, f"upd{base}-{k}"))
        acknowledged[k] = f"upd{base}-{k}"
    for k in list(acknowledged)[15:25]:
        session.execute(delete, (k,))
        del acknowledged[k]
    victim.start()
    wait_for("the victim back in gossip", lambda: peers_seen(victim, 2))
    for n in nodes:
        if n is not victim:
            wait_for(f"{n.address} to see {victim.address} up", lambda n=n: sees(n, victim, "UN"))
    held = local_rows(victim)
    assert held != acknowledged
    assert not set(range(base, base + 50)) & set(held), "hints are off: the victim must not have the new rows"


def test_repair_brings_a_replica_that_missed_writes_back_in_line(three_nodes):
    n1, n2, n3 = three_nodes
    cluster, session = connect(three_nodes)
    try:
        create_schema(session)
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        acknowledged = {}
        for k in range(100):
            session.execute(insert, (k, f"v{k}"))
            acknowledged[k] = f"v{k}"
        for n in three_nodes:
            wait_for(f"{n.address} to hold all rows", lambda n=n: local_rows(n) == acknowledged)

        # Full repair from a node that did not miss anything.
        miss_writes(three_nodes, n3, session, acknowledged, 1000)
        out = nodetool(n1, "repair", "ks").stdout
        assert re.search(
            r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] Starting repair command #\d+ \([0-9a-f-]{36}\), repairing "
            r"keyspace ks with repair options \(parallelism: parallel, primary range: false, incremental: false, "
            r"job threads: 1, ColumnFamilies: \[\], dataCenters: \[\], hosts: \[\], previewKind: NONE, "
            r"# of ranges: 24, pull repair: false",
            out,
            re.MULTILINE,
        ), out
        assert "running a full repair" in out
        assert len(re.findall(r"Repair session [0-9a-f-]{36} for range \[\(-?\d+,-?\d+\]\] finished", out)) == 24, out
        assert "(progress: 100%)" in out and "Repair completed successfully" in out
        assert re.search(r"Repair command #\d+ finished in \d+ seconds?", out), out
        for n in three_nodes:
            assert local_rows(n) == acknowledged, f"{n.address} differs after repair"

        # Primary-range repair on each node in turn covers the whole ring.
        miss_writes(three_nodes, n2, session, acknowledged, 2000)
        for n in three_nodes:
            out = nodetool(n, "repair", "-pr", "-full", "ks", "t").stdout
            assert "primary range: true" in out and "ColumnFamilies: [t]" in out and "# of ranges: 8" in out, out
            assert "running a full repair" not in out
            assert "Repair completed successfully" in out, out
        for n in three_nodes:
            assert local_rows(n) == acknowledged, f"{n.address} differs after primary-range repairs"
        rows = {
            r.k: r.v
            for r in session.execute(
                SimpleStatement("SELECT k, v FROM ks.t", fetch_size=100, consistency_level=ConsistencyLevel.ALL)
            )
        }
        assert rows == acknowledged

        # Node-local keyspaces need no repair.
        out = nodetool(n1, "repair", "system").stdout
        assert re.search(r"\] Replication factor is 1\. No repair is needed for keyspace 'system'$", out, re.M), out

        # A replica down makes the repair fail with Cassandra's message.
        n3.kill9()
        wait_for("n1 to see n3 down", lambda: sees(n1, n3, "DN"), timeout=60)
        failed = nodetool(n1, "repair", "ks", check=False)
        assert failed.returncode != 0
        assert re.search(
            rf"Repair command #\d+ failed with error Endpoint not alive: /{re.escape(n3.address)}:\d+", failed.stdout
        ), failed.stdout
        assert re.search(r"Repair command #\d+ finished with error", failed.stdout), failed.stdout
        assert re.search(
            rf"^error: Repair job has failed with the error message: Repair command #\d+ failed with error Endpoint "
            rf"not alive: /{re.escape(n3.address)}:\d+\. Check the logs on the repair participants for further details",
            failed.stderr,
            re.M,
        ), failed.stderr
    finally:
        cluster.shutdown()
