"""Internode TLS between real `mica node` processes: nodes whose certificates come from one cluster CA form a
cluster and replicate over `internode_encryption: all`; a node whose certificate another CA signed never
joins (it is in no other node's system.peers or nodetool status, so it is simply not in the ring)."""

import time

from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from conftest import issue, make_ca
from test_replication import connect, peers_seen, seeds_yaml, wait_for
from test_two_dcs import local_rows, nodetool

INTERNODE_TLS = """server_encryption_options:
  internode_encryption: all
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: internode.pem
  truststore: {truststore}
"""


def tls_node(node_factory, name, ca_dir, ca, seed=None):
    n = node_factory(tls=False, auth=False, name=name)
    keystore = issue(ca_dir, ca, name, n.address)
    (n.directory / "internode.pem").write_bytes(keystore.read_bytes())
    yaml = seeds_yaml(seed or n.address) + INTERNODE_TLS.format(truststore=ca_dir / "ca.pem")
    n.config.write_text(n.config.read_text() + yaml)
    return n


def test_cluster_ca_admits_peers_and_a_foreign_ca_is_refused(node_factory, tmp_path):
    cluster_dir = tmp_path / "cluster-ca"
    rogue_dir = tmp_path / "rogue-ca"
    cluster_dir.mkdir()
    rogue_dir.mkdir()
    cluster_ca = make_ca(cluster_dir)
    rogue_ca = make_ca(rogue_dir)

    n1 = tls_node(node_factory, "t1", cluster_dir, cluster_ca)
    n2 = tls_node(node_factory, "t2", cluster_dir, cluster_ca, n1.address)
    n1.start()
    wait_for("n1 up", lambda: peers_seen(n1, 0))
    n2.start()
    for n in (n1, n2):
        wait_for(f"{n.address} to see its peer over TLS", lambda n=n: peers_seen(n, 1))

    cluster, session = connect([n1], ConsistencyLevel.ALL, only=n1)
    try:
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
        # Two nodes in the ring: ALL needs both replicas, so every acknowledged write crossed the TLS link.
        for k in range(20):
            session.execute(insert, (k, f"v{k}"))
    finally:
        cluster.shutdown()
    expected = {k: f"v{k}" for k in range(20)}
    assert local_rows(n2) == expected

    # The third node's certificate is signed by another CA (and it trusts only that CA).
    rogue = tls_node(node_factory, "t3", rogue_dir, rogue_ca, n1.address)
    rogue.start()
    # Give gossip many rounds to (fail to) admit it.
    time.sleep(10)
    assert rogue.proc.poll() is None, "the foreign node keeps running on its own"
    for n in (n1, n2):
        assert peers_seen(n, 1), f"{n.address} admitted the node of a foreign CA"
        status = nodetool(n, "status").stdout
        assert rogue.address not in status, status
        assert n1.address in status and n2.address in status
    assert peers_seen(rogue, 0), "the foreign node sees no peer either"

    cluster, session = connect([n1], ConsistencyLevel.ALL, only=n1)
    try:
        # ALL still means the two members: the refused node is no replica.
        session.execute(
            SimpleStatement("INSERT INTO ks.t (k, v) VALUES (100, 'after')", consistency_level=ConsistencyLevel.ALL)
        )
        row = session.execute(
            SimpleStatement("SELECT v FROM ks.t WHERE k = 100", consistency_level=ConsistencyLevel.ALL)
        ).one()
        assert row.v == "after"
    finally:
        cluster.shutdown()
    assert local_rows(n2)[100] == "after"
