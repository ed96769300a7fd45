"""A node's compatibility level follows `mica.release_version`: protocol versions, CQL version and gated CQL
features behave as that Cassandra release, as seen by the Python driver and a raw socket."""
import socket
import ssl
import struct

import pytest
from cassandra import InvalidRequest
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import SyntaxException

BETA_ERROR = "Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset"


def start(node_factory, release):
    return node_factory(tls=False, auth=False, extra_yaml=f"mica:\n  release_version: '{release}'\n").start()


def raw_options(node, version, flags=0):
    """Sends OPTIONS in `version` and returns (response header, body)."""
    with socket.create_connection((node.address, node.port), timeout=5) as s:
        s.sendall(struct.pack(">BBhBI", version, flags, 0, 0x05, 0))
        header = b""
        while len(header) < 9:
            chunk = s.recv(9 - len(header))
            assert chunk, "connection closed before a response"
            header += chunk
        length = struct.unpack(">I", header[5:9])[0]
        body = b""
        while len(body) < length:
            chunk = s.recv(length - len(body))
            assert chunk, "connection closed mid-body"
            body += chunk
        return header, body


def error_message(body):
    code, n = struct.unpack(">iH", body[:6])
    return code, body[6 : 6 + n].decode()


def supported(body):
    """Decodes a SUPPORTED [string multimap]."""
    out, pos = {}, 2
    (count,) = struct.unpack(">H", body[:2])

    def string():
        nonlocal pos
        (n,) = struct.unpack(">H", body[pos : pos + 2])
        pos += 2 + n
        return body[pos - n : pos].decode()

    for _ in range(count):
        key = string()
        (values,) = struct.unpack(">H", body[pos : pos + 2])
        pos += 2
        out[key] = [string() for _ in range(values)]
    return out


def test_3_11_offers_v5_only_as_beta(node_factory):
    node = start(node_factory, "3.11.17")

    # v5 without USE_BETA: Cassandra 3.11's protocol error, on stream 0, in the client's version.
    header, body = raw_options(node, 5)
    assert header[0] == 0x85 and header[4] == 0x00
    assert struct.unpack(">h", header[2:4])[0] == 0
    assert error_message(body) == (0x000A, BETA_ERROR)

    # v4 works and SUPPORTED lists 3.11's versions.
    header, body = raw_options(node, 4)
    assert header[0] == 0x84 and header[4] == 0x06
    options = supported(body)
    assert options["PROTOCOL_VERSIONS"] == ["3/v3", "4/v4", "5/v5-beta"]
    assert options["CQL_VERSION"] == ["3.4.4"]

    # Versions the codec does not know list the 3.11 set.
    header, body = raw_options(node, 6)
    assert error_message(body) == (
        0x000A,
        "Invalid or unsupported protocol version (6); supported versions are (3/v3, 4/v4, 5/v5-beta)",
    )

    # A driver asking for v5 explicitly fails as against Cassandra 3.11 (no downgrade).
    cluster = node.cluster(protocol_version=5)
    with pytest.raises(NoHostAvailable) as failure:
        cluster.connect()
    cluster.shutdown()
    assert BETA_ERROR in str(failure.value)

    # The default negotiation downgrades to v4 on the beta error.
    cluster = node.cluster()
    session = cluster.connect()
    try:
        assert cluster.protocol_version == 4
        row = session.execute("SELECT release_version, cql_version, native_protocol_version FROM system.local").one()
        assert (row.release_version, row.cql_version, row.native_protocol_version) == ("3.11.17", "3.4.4", "4")
    finally:
        cluster.shutdown()


def test_3_11_and_4_x_refuse_5_0_features(node_factory):
    node = start(node_factory, "4.1.5")
    cluster = node.cluster()
    session = cluster.connect()
    try:
        assert cluster.protocol_version == 5
        session.execute(
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        with pytest.raises(SyntaxException) as e:
            session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v vector<float, 3>)")
        assert "line 1:46 mismatched input '<' expecting ')' (....t (k int PRIMARY KEY, v vector[<]...)" in str(e.value)

        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, c int, v list<float>)")
        with pytest.raises(InvalidRequest) as e:
            session.execute("CREATE INDEX ON ks.t (c) USING 'sai'")
        assert "Cannot specify index class for a non-CUSTOM index" in str(e.value)
        with pytest.raises(SyntaxException) as e:
            session.execute("SELECT * FROM ks.t ORDER BY v ANN OF [1.0, 2.0, 3.0] LIMIT 1")
        assert "mismatched input 'ANN' expecting EOF" in str(e.value)
        # Server-side DESCRIBE exists from 4.0.
        assert session.execute("DESCRIBE KEYSPACES").all()
    finally:
        cluster.shutdown()

    old = start(node_factory, "3.11.17")
    cluster = old.cluster()
    session = cluster.connect()
    try:
        with pytest.raises(SyntaxException) as e:
            session.execute("CREATE TABLE system.t (k int PRIMARY KEY, v vector<float, 3>)")
        assert "mismatched input '<' expecting ')'" in str(e.value)
        with pytest.raises(SyntaxException) as e:
            session.execute("DESCRIBE KEYSPACES")
        assert "no viable alternative at input 'DESCRIBE'" in str(e.value)
    finally:
        cluster.shutdown()


@pytest.mark.parametrize("release", ["5.0.2", None])
def test_5_0_and_the_default_serve_v5_and_vectors(node_factory, release):
    node = start(node_factory, release) if release else node_factory(tls=False, auth=False).start()
    header, body = raw_options(node, 5)
    assert header[0] == 0x85 and header[4] == 0x06
    assert supported(body)["PROTOCOL_VERSIONS"] == ["3/v3", "4/v4", "5/v5"]

    cluster = node.cluster(protocol_version=5)
    session = cluster.connect()
    try:
        assert cluster.protocol_version == 5
        row = session.execute("SELECT release_version, cql_version FROM system.local").one()
        assert row.release_version == (release or "4.1.5")
        assert row.cql_version == ("3.4.7" if release else "3.4.6")
        session.execute(
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("CREATE TABLE ks.t (k int PRIMARY KEY, v vector<float, 3>)")
        session.execute("INSERT INTO ks.t (k, v) VALUES (1, [1.0, 2.5, 3.0])")
        assert list(session.execute("SELECT v FROM ks.t WHERE k = 1").one().v) == [1.0, 2.5, 3.0]
    finally:
        cluster.shutdown()
