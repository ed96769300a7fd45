"""Replacing a dead node (Cassandra's replace_address_first_boot) across real `mica node` processes: the
replacement takes over the dead node's tokens, streams its data, receives the writes made meanwhile, and the
dead node disappears from every node's view. A replacement of an unknown or a live node is refused."""

import os

from cassandra import ConsistencyLevel

from conftest import next_address
from test_replication import connect, local_rows, wait_for
from test_topology import Writer, check_complete, create_schema, make_node, start_cluster, status_rows

os.environ["MICA_RING_DELAY_MS"] = "2000"


def tokens_of(node, address):
    """The tokens `node` knows for `address` (system.local for itself, system.peers otherwise)."""
    cluster, session = connect([node], ConsistencyLevel.ONE, only=node)
    try:
        if address == node.address:
            return sorted(int(t) for t in session.execute("SELECT tokens FROM system.local").one().tokens)
        for row in session.execute("SELECT peer, tokens FROM system.peers"):
            if str(row.peer) == address:
                return sorted(int(t) for t in row.tokens)
        return None
    finally:
        cluster.shutdown()


def peer_addresses(node):
    cluster, session = connect([node], ConsistencyLevel.ONE, only=node)
    try:
        return {str(r.peer) for r in session.execute("SELECT peer FROM system.peers")}
    finally:
        cluster.shutdown()


def replacing(node_factory, name, seed, address):
    n = make_node(node_factory, name, seed)
    n.config.write_text(n.config.read_text() + f"mica:\n  replace_address_first_boot: {address}\n")
    return n


def test_replace_a_dead_node(node_factory):
    nodes = start_cluster(node_factory, 3)
    n1, n2, n3 = nodes
    create_schema(nodes)
    cluster, session = connect(nodes)
    insert = session.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)")
    insert.consistency_level = ConsistencyLevel.QUORUM
    acked = {}
    for k in range(300):
        session.execute(insert, (k, f"v{k}"))
        acked[k] = f"v{k}"
    cluster.shutdown()
    dead_tokens = tokens_of(n1, n3.address)
    assert dead_tokens and len(dead_tokens) == 16

    # A live node cannot be replaced.
    live = replacing(node_factory, "live", n1, n2.address)
    try:
        live.start(timeout=60)
        raise AssertionError("replacing a live node should have failed")
    except RuntimeError as e:
        assert f"Cannot replace a live node /{n2.address}" in str(e), str(e)

    n3.kill9()
    wait_for("n3 down", lambda: status_rows(n1)[n3.address][0] == "DN", timeout=60)

    # Nor an address gossip does not know (given through the environment variable this time).
    unknown = next_address()
    stranger = make_node(node_factory, "stranger", n1)
    os.environ["MICA_REPLACE_ADDRESS_FIRST_BOOT"] = unknown
    try:
        stranger.start(timeout=60)
        raise AssertionError("replacing an unknown node should have failed")
    except RuntimeError as e:
        assert f"Cannot replace_address /{unknown} because it doesn't exist in gossip" in str(e), str(e)
    finally:
        del os.environ["MICA_REPLACE_ADDRESS_FIRST_BOOT"]

    # QUORUM writes go on while n4 replaces n3: they must reach n4 too (it is the pending replica).
    writer = Writer([n1, n2], start=1000)
    wait_for("some writes", lambda: len(writer.acked) > 50)
    n4 = replacing(node_factory, "n4", n1, n3.address)
    n4.start(timeout=180)
    assert "Bootstrap completed" in n4.log()
    wait_for("n4 NORMAL on n1", lambda: status_rows(n1).get(n4.address, ("?",))[0] == "UN", timeout=60)
    before = len(writer.acked)
    wait_for("writes after the replacement", lambda: len(writer.acked) > before + 50)
    acked.update(writer.stop())
    assert writer.errors == 0 or len(writer.acked) > 0

    # n4 holds n3's tokens, and n3 is gone from every node's view.
    assert tokens_of(n4, n4.address) == dead_tokens
    for n in (n1, n2, n4):
        wait_for(f"{n.address} to forget n3", lambda n=n: n3.address not in status_rows(n), timeout=60)
        assert set(status_rows(n)) == {n1.address, n2.address, n4.address}, status_rows(n)
        assert {s for (s, _, _) in status_rows(n).values()} == {"UN"}
        wait_for(f"{n.address} peers", lambda n=n: n3.address not in peer_addresses(n), timeout=30)
    assert peer_addresses(n1) == {n2.address, n4.address}
    assert tokens_of(n1, n4.address) == dead_tokens
    assert tokens_of(n2, n4.address) == dead_tokens

    check_complete([n1, n2, n4], acked)
    # RF=3 on three nodes: the replacement holds every row itself, old and written during the replacement.
    held = local_rows(n4)
    missing = [k for k in acked if held.get(k) != acked[k]]
    assert not missing, f"{len(missing)} rows missing on n4, e.g. {missing[:10]}"

    # A restart ignores the option: the node keeps its tokens and stays NORMAL.
    n4.stop()
    wait_for("n4 down", lambda: status_rows(n1)[n4.address][0] == "DN", timeout=60)
    n4.start(timeout=60)
    assert "replace_address_first_boot" in n4.log() and "ignored" in n4.log()
    wait_for("n4 up again", lambda: status_rows(n1)[n4.address][0] == "UN", timeout=60)
    assert tokens_of(n4, n4.address) == dead_tokens
