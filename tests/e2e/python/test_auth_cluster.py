"""Roles and passwords across a 3-node cluster: a change made through one node holds on every node."""

import pytest
from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy

from test_replication import connect, peers_seen, seeds_yaml, wait_for


def login(node, user, password):
    cluster = Cluster(
        contact_points=[node.address],
        port=9042,
        auth_provider=PlainTextAuthProvider(user, password),
        load_balancing_policy=WhiteListRoundRobinPolicy([node.address]),
        connect_timeout=10,
    )
    try:
        session = cluster.connect()
        return session.execute("SELECT release_version FROM system.local").one() is not None
    except NoHostAvailable as e:
        if any(isinstance(err, AuthenticationFailed) for err in e.errors.values()):
            return False
        raise
    finally:
        cluster.shutdown()


SUPERUSER = ("cassandra", "cassandra")


@pytest.fixture
def auth_nodes(node_factory):
    first = node_factory(tls=False, auth=True, name="a1")
    first.config.write_text(first.config.read_text() + seeds_yaml(first.address))
    nodes = [first]
    for i in (2, 3):
        n = node_factory(tls=False, auth=True, name=f"a{i}")
        n.config.write_text(n.config.read_text() + seeds_yaml(first.address))
        nodes.append(n)
    for n in nodes:
        n.start()
        wait_for(f"{n.address} to join", lambda n=n: peers_seen(n, nodes.index(n), auth=SUPERUSER))
    for n in nodes:
        wait_for(f"{n.address} to see both peers", lambda n=n: peers_seen(n, 2, auth=SUPERUSER))
    return nodes


def test_roles_and_passwords_reach_every_node(auth_nodes):
    a1, a2, a3 = auth_nodes
    cluster, session = connect(auth_nodes, only=a1, auth=SUPERUSER)
    try:
        session.execute("CREATE ROLE alice WITH PASSWORD = 'alice-pw' AND LOGIN = true")
        assert login(a2, "alice", "alice-pw")
        assert login(a3, "alice", "alice-pw")
        session.execute("ALTER ROLE alice WITH PASSWORD = 'changed'")
        # Cached credentials expire within roles_validity (2 s), as in Cassandra.
        wait_for("the new password on a3", lambda: login(a3, "alice", "changed"), timeout=15)
        assert not login(a2, "alice", "alice-pw")

        # A node that was down while a role was created learns it when it comes back.
        a3.kill9()
        session.execute("CREATE ROLE bob WITH PASSWORD = 'bob-pw' AND LOGIN = true")
        assert login(a2, "bob", "bob-pw")
        a3.start()
        wait_for("bob on the restarted node", lambda: login(a3, "bob", "bob-pw"), timeout=60)
        session.execute("DROP ROLE alice")
        wait_for("alice gone on a2", lambda: not login(a2, "alice", "changed"), timeout=15)
    finally:
        cluster.shutdown()
