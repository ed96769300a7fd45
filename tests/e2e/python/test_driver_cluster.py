"""The Python driver against a 3-node cluster: discovery, token-aware routing, restarts, schema agreement."""

import subprocess

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import SimpleStatement

from conftest import MICA_BIN
from test_replication import connect, local_rows, peers_seen, three_nodes, wait_for  # noqa: F401 - fixture

__all__ = ["three_nodes"]


def token_aware(nodes):
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc="dc1"), shuffle_replicas=False),
        consistency_level=ConsistencyLevel.ONE,
        request_timeout=20,
    )
    cluster = Cluster(contact_points=[nodes[0].address], port=9042, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return cluster, cluster.connect()


def getendpoints(node, keyspace, table, key) -> list[str]:
    token = node.directory / "data" / "data" / "admin.token"
    out = subprocess.run(
        [str(MICA_BIN), "nodetool", "-h", node.address, "--token-file", str(token), "getendpoints", keyspace, table, str(key)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.split()


def test_driver_discovers_the_ring_and_routes_to_the_replica(three_nodes):
    cluster, session = token_aware(three_nodes)
    try:
        # Discovery from one contact point: every node, with its tokens, in the driver's token map.
        wait_for("all hosts up", lambda: len([h for h in cluster.metadata.all_hosts() if h.is_up]) == 3)
        assert {h.address for h in cluster.metadata.all_hosts()} == {n.address for n in three_nodes}
        assert len(cluster.metadata.token_map.ring) == 3 * 8

        session.execute("CREATE KEYSPACE one WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}")
        session.execute("CREATE TABLE one.t (k int PRIMARY KEY, v int)")
        cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        cluster.refresh_schema_metadata()
        insert = session.prepare("INSERT INTO one.t (k, v) VALUES (?, ?)")
        used = set()
        for k in range(60):
            bound = insert.bind((k, k))
            replicas = cluster.metadata.get_replicas("one", bound.routing_key)
            assert len(replicas) == 1
            result = session.execute(bound)
            host = result.response_future.attempted_hosts[0]
            # Token-aware: the request went straight to the one replica of the key.
            assert host == replicas[0], (k, host, replicas)
            used.add(host.address)
        assert used == {n.address for n in three_nodes}
        # The driver's placement agrees with the node's own (nodetool getendpoints).
        for k in range(0, 60, 7):
            replica = cluster.metadata.get_replicas("one", insert.bind((k, k)).routing_key)[0].address
            assert getendpoints(three_nodes[0], "one", "t", k) == [replica]
        # With one replica per key, every node coordinates reads of the keys it does not hold.
        for n in three_nodes:
            assert local_rows_of(n) == set(range(60))
    finally:
        cluster.shutdown()


def local_rows_of(node):
    cluster, session = connect([node], ConsistencyLevel.ONE, only=node)
    try:
        return {r.k for r in session.execute(SimpleStatement("SELECT k FROM one.t", fetch_size=1000))}
    finally:
        cluster.shutdown()


def test_driver_survives_a_node_restart(three_nodes):
    cluster, session = connect(three_nodes, ConsistencyLevel.QUORUM)
    try:
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        restarted = three_nodes[1]
        restarted.stop()
        wait_for("the driver to mark the node down", lambda: not cluster.metadata.get_host(restarted.address).is_up)
        for k in range(100):
            session.execute(insert, (k, "x"))
        restarted.start()
        wait_for("the driver to mark the node up", lambda: cluster.metadata.get_host(restarted.address).is_up)
        # Requests reach the restarted node again, and every write is readable at QUORUM.
        hosts = set()
        for k in range(100, 160):
            hosts.add(session.execute(insert, (k, "y")).response_future.attempted_hosts[0].address)
        assert restarted.address in hosts
        rows = session.execute(SimpleStatement("SELECT k FROM ks.t", fetch_size=50))
        assert sorted(r.k for r in rows) == list(range(160))
    finally:
        cluster.shutdown()


def test_schema_agreement_after_ddl_on_another_node(three_nodes):
    cluster, session = connect(three_nodes, ConsistencyLevel.QUORUM, only=three_nodes[0])
    other, other_session = connect(three_nodes, ConsistencyLevel.QUORUM, only=three_nodes[2])
    try:
        other_session.execute("CREATE KEYSPACE ks2 WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2}")
        other_session.execute("CREATE TABLE ks2.t (k int PRIMARY KEY, v int)")
        assert cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        wait_for("the schema change event", lambda: "t" in cluster.metadata.keyspaces.get("ks2", _empty).tables)
        session.execute("INSERT INTO ks2.t (k, v) VALUES (1, 2)")
        assert other_session.execute("SELECT v FROM ks2.t WHERE k = 1").one().v == 2
    finally:
        other.shutdown()
        cluster.shutdown()


class _Empty:
    tables: dict = {}


_empty = _Empty()
