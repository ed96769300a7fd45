"""Online topology changes across real `mica node` processes: bootstrap of a fourth node and decommission of
one while a writer runs at QUORUM, and removenode of a killed node. No acknowledged write may be lost."""

import os
import re
import subprocess
import threading
import time

from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from conftest import MICA_BIN
from test_replication import connect, local_rows, peers_seen, wait_for

# A short ring_delay keeps the test fast (Cassandra waits 30 s; Mica 5 s by default).
os.environ["MICA_RING_DELAY_MS"] = "2000"
ADMIN_PORT = 9180


def seeds_yaml(seed: str) -> str:
    return (
        "seed_provider:\n"
        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n"
        "    parameters:\n"
        f"      - seeds: \"{seed}\"\n"
        "num_tokens: 16\n"
        "write_request_timeout: 2000ms\n"
        "read_request_timeout: 5000ms\n"
    )


def nodetool(node, *args, check=True, timeout=120):
    token = node.directory / "data" / "data" / "admin.token"
    result = subprocess.run(
        [str(MICA_BIN), "nodetool", "-h", node.address, "-p", str(ADMIN_PORT), "--token-file", str(token), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, f"nodetool {args} failed: {result.stderr}"
    return result


def status_rows(node, keyspace=None):
    """address -> (state code like UN/UJ/UL/DN, owns percent or None, host id)."""
    out = nodetool(node, "status", *([keyspace] if keyspace else [])).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^([UD][NJLM])\s+(\S+)\s+.*?(?:(\d+\.\d+)%|\?)\s+([0-9a-f-]{36})\s", line + " ")
        if m:
            rows[m.group(2)] = (m.group(1), float(m.group(3)) if m.group(3) else None, m.group(4))
    return rows


def make_node(node_factory, name, seed):
    n = node_factory(tls=False, auth=False, name=name)
    n.config.write_text(n.config.read_text() + seeds_yaml(seed.address if seed else n.address))
    return n


def start_cluster(node_factory, count):
    first = make_node(node_factory, "n1", None)
    nodes = [first]
    first.start()
    for i in range(2, count + 1):
        n = make_node(node_factory, f"n{i}", first)
        nodes.append(n)
        n.start(timeout=60)
        wait_for(f"{n.address} to join", lambda n=n: peers_seen(n, len(nodes) - 1))
    for n in nodes:
        wait_for(f"{n.address} to see all peers", lambda n=n: peers_seen(n, count - 1))
    return nodes


class Writer:
    """Inserts keys at QUORUM in a loop, remembering the acknowledged ones."""

    def __init__(self, nodes, start=0):
        self.cluster, self.session = connect(nodes)
        self.insert = self.session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        self.insert.consistency_level = ConsistencyLevel.QUORUM
        self.acked = {}
        self.errors = 0
        self.next = start
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            k = self.next
            self.next += 1
            try:
                self.session.execute(self.insert, (k, f"v{k}"))
                self.acked[k] = f"v{k}"
            except Exception:  # noqa: BLE001 - unacknowledged writes are allowed to fail
                self.errors += 1
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.thread.join(30)
        self.cluster.shutdown()
        return self.acked


def create_schema(nodes):
    cluster, session = connect(nodes)
    try:
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
    finally:
        cluster.shutdown()


def check_complete(nodes, acked):
    """Every acknowledged key is there at QUORUM, by scan and one by one."""
    cluster, session = connect(nodes, ConsistencyLevel.QUORUM)
    try:
        rows = {r.k: r.v for r in session.execute(SimpleStatement("SELECT k, v FROM ks.t", fetch_size=500))}
        missing = [k for k in acked if rows.get(k) != acked[k]]
        assert not missing, f"{len(missing)} acknowledged keys lost, e.g. {missing[:10]}"
        select = session.prepare("SELECT v FROM ks.t WHERE k = ?")
        for k, v in acked.items():
            row = session.execute(select, (k,)).one()
            assert row is not None and row.v == v, k
    finally:
        cluster.shutdown()


def check_balanced(node, count):
    rows = status_rows(node, "ks")
    owns = [o for (_, o, _) in rows.values()]
    assert len(owns) == count and all(o is not None for o in owns), rows
    mean = sum(owns) / len(owns)
    assert all(abs(o - mean) <= 0.2 * mean for o in owns), rows


def test_bootstrap_and_decommission_under_quorum_writes(node_factory):
    nodes = start_cluster(node_factory, 3)
    n1 = nodes[0]
    create_schema(nodes)
    writer = Writer(nodes)
    wait_for("some writes", lambda: len(writer.acked) > 300)

    # A fourth node bootstraps: JOINING (UJ) while it streams, then NORMAL (UN).
    n4 = make_node(node_factory, "n4", n1)
    starter = threading.Thread(target=lambda: n4.start(timeout=120))
    starter.start()
    seen = set()

    def state_is(code):
        state = status_rows(n1).get(n4.address, (None,))[0]
        seen.add(state)
        return state == code

    wait_for("n4 to announce JOINING", lambda: state_is("UJ"), timeout=60, interval=0.1)
    wait_for("n4 to become NORMAL", lambda: state_is("UN"), timeout=120, interval=0.1)
    starter.join(60)
    assert "Bootstrap completed" in n4.log()
    time.sleep(2)
    acked = dict(writer.acked)
    check_balanced(n1, 4)
    check_complete(nodes + [n4], acked)
    # The new node holds its ranges itself: at ONE it reads its own replica first for every range it owns.
    assert set(acked) <= set(local_rows(n4))

    # Decommission n2 while writes continue.
    nodes = nodes + [n4]
    n2 = nodes[1]
    before = len(writer.acked)
    seen_leaving = set()
    watcher_running = True

    def watch_leaving():
        while watcher_running:
            try:
                seen_leaving.add(status_rows(n1).get(n2.address, ("gone",))[0])
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_leaving, daemon=True)
    watcher.start()
    nodetool(n2, "decommission", timeout=300)
    n2.proc.wait(60)
    watcher_running = False
    watcher.join(5)
    assert "UL" in seen_leaving, seen_leaving
    assert "DECOMMISSIONED" in n2.log()
    wait_for("n2 gone from status", lambda: n2.address not in status_rows(n1))
    wait_for("writes after decommission", lambda: len(writer.acked) > before + 100)
    acked = writer.stop()
    remaining = [n for n in nodes if n is not n2]
    assert peers_seen(n1, 2)
    check_balanced(n1, 3)
    check_complete(remaining, acked)
    # RF=3 on three nodes: every node holds everything.
    for n in remaining:
        assert set(acked) <= set(local_rows(n)), n.address


def test_removenode_of_a_killed_node(node_factory):
    nodes = start_cluster(node_factory, 4)
    n1, n4 = nodes[0], nodes[3]
    create_schema(nodes)
    cluster, session = connect(nodes)
    insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
    acked = {}
    for k in range(500):
        session.execute(insert, (k, f"v{k}"))
        acked[k] = f"v{k}"
    cluster.shutdown()
    host_id = status_rows(n1)[n4.address][2]

    n4.kill9()
    wait_for("n4 down", lambda: status_rows(n1)[n4.address][0] == "DN", timeout=60)
    assert nodetool(n1, "removenode", "status").stdout.strip() == "RemovalStatus: No removals in process."
    refused = nodetool(n1, "removenode", status_rows(n1)[nodes[1].address][2], check=False)
    assert refused.returncode != 0 and "is alive" in refused.stderr
    nodetool(n1, "removenode", host_id, timeout=300)
    for n in nodes[:3]:
        wait_for(f"{n.address} to forget n4", lambda n=n: n4.address not in status_rows(n))
    assert peers_seen(n1, 2)
    check_complete(nodes[:3], acked)
    for n in nodes[:3]:
        assert set(acked) <= set(local_rows(n)), n.address
    forced = nodetool(n1, "removenode", "force", check=False)
    assert forced.returncode != 0 and "removenode" in forced.stderr


def test_failed_bootstrap_stays_out_of_the_ring_and_resumes(node_factory):
    nodes = start_cluster(node_factory, 3)
    n1, n3 = nodes[0], nodes[2]
    cluster, session = connect(nodes)
    try:
        # RF=1: the ranges of a dead node have no other replica to stream from.
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        acked = {}
        for k in range(300):
            session.execute(insert, (k, f"v{k}"))
            acked[k] = f"v{k}"
    finally:
        cluster.shutdown()
    # A clean stop (kill -9 could lose writes not yet synced by the periodic commit log).
    n3.stop()
    wait_for("n3 down", lambda: status_rows(n1)[n3.address][0].startswith("D"), timeout=60)

    n4 = make_node(node_factory, "n4", n1)
    try:
        n4.start(timeout=60)
        raise AssertionError("the bootstrap should have failed")
    except RuntimeError as e:
        # The dead source is either known down already or refuses the stream: either way a clear error.
        assert "bootstrap failed" in str(e), str(e)
        assert "no live replica" in str(e) or "Error during bootstrap" in str(e), str(e)
    wait_for("n4 seen down", lambda: status_rows(n1).get(n4.address, ("?",))[0] in ("DJ", "?"), timeout=60)
    assert status_rows(n1).get(n4.address, ("?",))[0] != "UN"

    # With the source back, restarting the node resumes the bootstrap.
    n3.start()
    wait_for("n3 up", lambda: status_rows(n1)[n3.address][0] == "UN", timeout=60)
    n4.start(timeout=120)
    wait_for("n4 NORMAL", lambda: status_rows(n1)[n4.address][0] == "UN", timeout=60)
    assert "Bootstrap completed" in n4.log()
    check_complete([n1], acked)
