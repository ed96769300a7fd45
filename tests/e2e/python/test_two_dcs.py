"""Two datacenters of real `mica node` processes: adding dc2 to a keyspace, `nodetool rebuild dc1` on each
dc2 node, LOCAL_ONE reads served by dc2 alone, then losing all of dc1 (LOCAL_QUORUM keeps working in dc2,
EACH_QUORUM and QUORUM are Unavailable with Cassandra's fields). Also `nodetool cleanup` after a scale-out."""

import subprocess

import pytest
from cassandra import ConsistencyLevel, Unavailable
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import DCAwareRoundRobinPolicy, WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

from conftest import MICA_BIN
from test_replication import connect, peers_seen, seeds_yaml, wait_for

ADMIN_PORT = 9180
ROWS = 200


def nodetool(node, *args, check=True):
    token = node.directory / "data" / "data" / "admin.token"
    result = subprocess.run(
        [str(MICA_BIN), "nodetool", "-h", node.address, "-p", str(ADMIN_PORT), "--token-file", str(token), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, f"nodetool {args} on {node.address} failed: {result.stderr}"
    return result


def make_node(node_factory, name, dc, seed=None):
    n = node_factory(tls=False, auth=False, name=name)
    n.config.write_text(n.config.read_text() + seeds_yaml(seed or n.address))
    (n.directory / "cassandra-rackdc.properties").write_text(f"dc={dc}\nrack=rack1\n")
    return n


def start_one_by_one(nodes, already):
    """Starts nodes one at a time so each allocates its tokens from the ring it sees."""
    for i, n in enumerate(nodes):
        n.start()
        wait_for(f"{n.address} to join", lambda n=n, i=i: peers_seen(n, already + i))


def dc_session(nodes, dc, consistency):
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=dc),
        consistency_level=consistency,
        request_timeout=20,
    )
    cluster = Cluster(
        contact_points=[n.address for n in nodes],
        port=9042,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=10,
    )
    return cluster, cluster.connect()


def local_rows(node, table="ks.t"):
    """The rows `node` holds itself: at ONE through its own coordinator, which reads locally first."""
    cluster, session = connect([node], ConsistencyLevel.ONE, only=node)
    try:
        return {r.k: r.v for r in session.execute(SimpleStatement(f"SELECT k, v FROM {table}", fetch_size=500))}
    finally:
        cluster.shutdown()


def unavailable(session, statement):
    try:
        session.execute(statement)
    except Unavailable as e:
        return e
    return None


def test_rebuild_second_dc_and_lose_the_first(node_factory):
    dc1 = [make_node(node_factory, "a1", "dc1")]
    dc1 += [make_node(node_factory, f"a{i}", "dc1", dc1[0].address) for i in (2, 3)]
    start_one_by_one(dc1, 0)
    cluster, session = connect(dc1, only=dc1[0])
    try:
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        for k in range(ROWS):
            session.execute(insert, (k, f"v{k}"))
    finally:
        cluster.shutdown()

    dc2 = [make_node(node_factory, f"b{i}", "dc2", dc1[0].address) for i in (1, 2, 3)]
    start_one_by_one(dc2, 3)
    everyone = dc1 + dc2
    for n in everyone:
        wait_for(f"{n.address} to see 5 peers", lambda n=n: peers_seen(n, 5))

    cluster, session = connect(dc1, only=dc1[0])
    try:
        session.execute(
            "ALTER KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}"
        )
        session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
    finally:
        cluster.shutdown()

    # Once a dc2 node sees the keyspace replicate into dc2, it reads at ONE from itself: it holds nothing yet.
    for n in dc2:
        wait_for(f"{n.address} to replicate ks, empty", lambda n=n: local_rows(n) == {})

    # An unknown source datacenter is refused with Cassandra's message.
    bad = nodetool(dc2[0], "rebuild", "dc9", check=False)
    assert bad.returncode != 0
    assert (
        "Provided datacenter 'dc9' is not a valid datacenter, available datacenters are: dc1,dc2" in bad.stderr
    ), bad.stderr

    for n in dc2:
        out = nodetool(n, "rebuild", "dc1")
        assert out.stdout == ""  # Cassandra 4.1's nodetool rebuild prints nothing on success.
    expected = {k: f"v{k}" for k in range(ROWS)}
    for n in dc2:
        assert local_rows(n) == expected, f"{n.address} holds its rebuilt data locally"

    cluster, session = dc_session(dc2, "dc2", ConsistencyLevel.LOCAL_ONE)
    try:
        rows = {r.k: r.v for r in session.execute(SimpleStatement("SELECT k, v FROM ks.t", fetch_size=50))}
        assert rows == expected
        for k in (0, 17, ROWS - 1):
            assert session.execute("SELECT v FROM ks.t WHERE k = %s", (k,)).one().v == f"v{k}"
    finally:
        cluster.shutdown()

    for n in dc1:
        n.kill9()
    cluster, session = dc_session(dc2, "dc2", ConsistencyLevel.LOCAL_QUORUM)
    try:
        each = SimpleStatement(
            "INSERT INTO ks.t (k, v) VALUES (9999, 'each')", consistency_level=ConsistencyLevel.EACH_QUORUM
        )
        # Gossip convicts the three dead nodes one by one: wait until none of them counts as alive.
        def each_unavailable():
            e = unavailable(session, each)
            return e if e is not None and e.alive_replicas == 0 else None

        error = wait_for("EACH_QUORUM to be unavailable", each_unavailable, timeout=60)
        assert error.consistency == ConsistencyLevel.EACH_QUORUM
        assert error.required_replicas == 2 and error.alive_replicas == 0, error

        quorum = SimpleStatement("SELECT v FROM ks.t WHERE k = 1", consistency_level=ConsistencyLevel.QUORUM)
        error = wait_for("QUORUM to be unavailable", lambda: unavailable(session, quorum), timeout=30)
        assert error.required_replicas == 4 and error.alive_replicas == 3, error

        # A rebuild needs a live source for every range: with dc1 down it fails, naming the range. Until this
        # node's own failure detector has convicted every dc1 node, it may still pick one as a source and fail
        # to connect instead (as Cassandra's stream session would).
        def rebuild_refused():
            r = nodetool(dc2[0], "rebuild", "-ks", "ks", "dc1", check=False)
            assert r.returncode != 0, r.stdout
            return r if "Unable to find sufficient sources" in r.stderr else None

        refused = wait_for("rebuild from a dead dc to fail", rebuild_refused, timeout=30)
        assert "Unable to find sufficient sources for streaming range" in refused.stderr, refused.stderr
        assert "no live replica in datacenter dc1" in refused.stderr, refused.stderr

        # dc2 alone serves LOCAL_QUORUM writes and reads.
        session.execute("INSERT INTO ks.t (k, v) VALUES (5000, 'dc2 only')")
        assert session.execute("SELECT v FROM ks.t WHERE k = 5000").one().v == "dc2 only"
        assert session.execute("SELECT v FROM ks.t WHERE k = 42").one().v == "v42"
    finally:
        cluster.shutdown()

    for n in dc1:
        n.start()
    for n in dc1:
        wait_for(f"{n.address} back", lambda n=n: peers_seen(n, 5))
    # Once dc1 is back (and hints delivered), EACH_QUORUM succeeds again.
    cluster, session = dc_session(dc2, "dc2", ConsistencyLevel.LOCAL_QUORUM)
    try:
        each = SimpleStatement(
            "INSERT INTO ks.t (k, v) VALUES (9998, 'each')", consistency_level=ConsistencyLevel.EACH_QUORUM
        )
        wait_for("EACH_QUORUM to succeed", lambda: session.execute(each) is not None, timeout=60)
    finally:
        cluster.shutdown()


def test_cleanup_removes_only_what_the_node_no_longer_replicates(node_factory):
    n1 = make_node(node_factory, "c1", "dc1")
    start_one_by_one([n1], 0)
    cluster, session = connect([n1], only=n1)
    try:
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        for k in range(60):
            session.execute(insert, (k, f"v{k}"))
    finally:
        cluster.shutdown()
    assert len(local_rows(n1)) == 60

    # Scale out: n2 takes over part of n1's ranges (RF=1, so n1 stops replicating them).
    n2 = make_node(node_factory, "c2", "dc1", n1.address)
    start_one_by_one([n2], 1)
    wait_for("n1 to see n2", lambda: peers_seen(n1, 1))
    # Cleanup of a system keyspace is skipped and of an unknown one refused.
    assert nodetool(n1, "cleanup", "system").stdout == ""
    missing = nodetool(n1, "cleanup", "nope", check=False)
    assert missing.returncode != 0 and "Keyspace nope does not exist" in missing.stderr

    owner = {}
    for k in range(60):
        endpoints = nodetool(n1, "getendpoints", "ks", "t", str(k)).stdout.split()
        assert len(endpoints) == 1
        owner[k] = endpoints[0]
    mine = {k for k, addr in owner.items() if addr == n1.address}
    assert 0 < len(mine) < 60, owner

    def set_rf(rf):
        cluster, session = connect([n1], only=n1)
        try:
            session.execute(
                f"ALTER KEYSPACE ks WITH replication = {{'class': 'NetworkTopologyStrategy', 'dc1': {rf}}}"
            )
            session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        finally:
            cluster.shutdown()

    # With RF=2 both nodes replicate every row and a read at ONE through n1 answers from n1's own engine,
    # so it shows what n1 holds: before the cleanup, everything (n2 never streamed anything).
    set_rf(2)
    wait_for("n1 to read its own copies", lambda: len(local_rows(n1)) == 60)
    set_rf(1)
    # Cleanup runs against n1's current ring view; at RF=1 it drops every partition n2 owns.
    assert nodetool(n1, "cleanup", "ks").stdout == ""
    # A second cleanup removes nothing more, and compaction does not bring anything back.
    nodetool(n1, "cleanup")
    nodetool(n1, "compact", "ks")
    # With n2 down and RF=2, every read at ONE through n1 is answered by n1 alone (while n1 still sees RF=1
    # or n2 up, reads of n2's ranges fail or reach the empty n2, and are retried).
    set_rf(2)
    n2.kill9()
    held = wait_for(
        "n1 alone to answer", lambda: (lambda r: r if set(r) == mine else None)(local_rows(n1)), timeout=60
    )
    assert held == {k: f"v{k}" for k in mine}
