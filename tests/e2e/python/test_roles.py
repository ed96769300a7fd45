"""Roles and permissions on a node with PasswordAuthenticator and CassandraAuthorizer, with real logins
through the Python driver and cqlsh."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cassandra import InvalidRequest, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchStatement, SimpleStatement

KS = "roles_ks"


def cqlsh(node, user: str, password: str, statements: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SSL_VALIDATE="false", CQLSH_NO_BUNDLED="TRUE")
    exe = Path(sys.executable).parent / "cqlsh"
    return subprocess.run(
        [str(exe), node.address, str(node.port), "--ssl", "-u", user, "-p", password, "-e", statements],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def secured(node_factory):
    """A node with CassandraAuthorizer (the fixture's default with auth), a keyspace with one row and a
    login role `alice` that may read the keyspace."""
    node = node_factory(tls=True, auth=True).start()
    cluster = node.cluster()
    admin = cluster.connect()
    admin.execute(f"CREATE KEYSPACE {KS} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    admin.execute(f"CREATE TABLE {KS}.t (k int PRIMARY KEY, v text)")
    admin.execute(f"INSERT INTO {KS}.t (k, v) VALUES (1, 'one')")
    admin.execute("CREATE ROLE alice WITH PASSWORD = 'alice-pw' AND LOGIN = true")
    admin.execute(f"GRANT SELECT ON KEYSPACE {KS} TO alice")
    yield node, admin
    cluster.shutdown()


def login(node, user, password):
    cluster = node.cluster(auth_provider=PlainTextAuthProvider(user, password))
    return cluster, cluster.connect()


def test_granted_select_and_denied_writes(secured):
    node, admin = secured
    cluster, alice = login(node, "alice", "alice-pw")
    try:
        assert [tuple(r) for r in alice.execute(f"SELECT k, v FROM {KS}.t")] == [(1, "one")]
        # The driver's own metadata queries on system tables work for a non-superuser.
        assert alice.execute("SELECT release_version FROM system.local").one() is not None
        assert KS in cluster.metadata.keyspaces

        with pytest.raises(Unauthorized) as err:
            alice.execute(f"INSERT INTO {KS}.t (k, v) VALUES (2, 'two')")
        assert f"User alice has no MODIFY permission on <table {KS}.t> or any of its parents" in str(err.value)
        with pytest.raises(Unauthorized) as err:
            alice.execute(
                "CREATE KEYSPACE nope WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
        assert "User alice has no CREATE permission on <all keyspaces> or any of its parents" in str(err.value)
        with pytest.raises(Unauthorized):
            alice.execute("SELECT * FROM system_auth.roles")
        with pytest.raises(Unauthorized) as err:
            alice.execute("CREATE ROLE mallory")
        assert "does not have sufficient privileges" in str(err.value)

        # Prepared statements and batches are checked when executed.
        insert = alice.prepare(f"INSERT INTO {KS}.t (k, v) VALUES (?, ?)")
        with pytest.raises(Unauthorized):
            alice.execute(insert, (3, "three"))
        batch = BatchStatement()
        batch.add(insert, (4, "four"))
        with pytest.raises(Unauthorized):
            alice.execute(batch)

        # Grants and revokes are seen by existing sessions at once.
        admin.execute(f"GRANT MODIFY ON {KS}.t TO alice")
        alice.execute(insert, (3, "three"))
        alice.execute(batch)
        admin.execute(f"REVOKE SELECT ON KEYSPACE {KS} FROM alice")
        with pytest.raises(Unauthorized) as err:
            alice.execute(SimpleStatement(f"SELECT * FROM {KS}.t"))
        assert f"User alice has no SELECT permission on <table {KS}.t> or any of its parents" in str(err.value)
        rows = admin.execute(f"SELECT k FROM {KS}.t")
        assert sorted(r.k for r in rows) == [1, 3, 4]
    finally:
        cluster.shutdown()


def test_permissions_through_granted_roles(secured):
    node, admin = secured
    admin.execute("CREATE ROLE writer")
    admin.execute(f"GRANT MODIFY ON KEYSPACE {KS} TO writer")
    admin.execute("GRANT writer TO alice")
    cluster, alice = login(node, "alice", "alice-pw")
    try:
        alice.execute(f"INSERT INTO {KS}.t (k, v) VALUES (5, 'five')")
        rows = alice.execute("LIST ROLES")
        assert [r.role for r in rows] == ["alice", "writer"]
        with pytest.raises(Unauthorized) as err:
            alice.execute("LIST ALL PERMISSIONS")
        assert "You are not authorized to view everyone's permissions" in str(err.value)
        mine = alice.execute("LIST ALL PERMISSIONS OF alice")
        assert [tuple(r) for r in mine] == [
            ("alice", "alice", f"<keyspace {KS}>", "SELECT"),
            ("writer", "writer", f"<keyspace {KS}>", "MODIFY"),
        ]
        admin.execute("REVOKE writer FROM alice")
        with pytest.raises(Unauthorized):
            alice.execute(f"INSERT INTO {KS}.t (k, v) VALUES (6, 'six')")
    finally:
        cluster.shutdown()


def test_list_roles_and_permissions_result_sets(secured):
    node, admin = secured
    admin.execute("CREATE ROLE reporting")
    rs = admin.execute("LIST ROLES")
    assert rs.column_names == ["role", "super", "login", "options", "datacenters"]
    assert [tuple(r) for r in rs] == [
        ("alice", False, True, {}, "ALL"),
        ("cassandra", True, True, {}, "ALL"),
        ("reporting", False, False, {}, "ALL"),
    ]
    rs = admin.execute("LIST USERS")
    assert rs.column_names == ["name", "super", "datacenters"]
    assert [tuple(r) for r in rs] == [("alice", False, "ALL"), ("cassandra", True, "ALL")]

    rs = admin.execute(f"LIST ALL PERMISSIONS ON {KS}.t OF alice")
    assert rs.column_names == ["role", "username", "resource", "permission"]
    assert [tuple(r) for r in rs] == [("alice", "alice", f"<keyspace {KS}>", "SELECT")]
    assert list(admin.execute(f"LIST ALL PERMISSIONS ON {KS}.t OF alice NORECURSIVE")) == []
    # The creator of the keyspace, table and roles holds every permission on them.
    everything = [tuple(r) for r in admin.execute("LIST ALL PERMISSIONS OF cassandra")]
    assert ("cassandra", "cassandra", f"<table {KS}.t>", "SELECT") in everything
    assert ("cassandra", "cassandra", "<role alice>", "AUTHORIZE") in everything
    assert ("cassandra", "cassandra", f"<all functions in {KS}>", "EXECUTE") in everything

    with pytest.raises(InvalidRequest) as err:
        admin.execute("GRANT SELECT ON KEYSPACE missing TO alice")
    assert "Resource <keyspace missing> doesn't exist" in str(err.value)
    with pytest.raises(InvalidRequest) as err:
        admin.execute("CREATE ROLE alice")
    assert "alice already exists" in str(err.value)


def test_login_rules(secured):
    node, admin = secured
    with pytest.raises(NoHostAvailable) as err:
        login(node, "alice", "wrong")
    assert "Provided username alice and/or password are incorrect" in str(err.value)

    admin.execute("ALTER ROLE alice WITH LOGIN = false")
    with pytest.raises(NoHostAvailable) as err:
        login(node, "alice", "alice-pw")
    assert "alice is not permitted to log in" in str(err.value)

    # A role may change its own password, and a superuser may drop it afterwards.
    admin.execute("ALTER ROLE alice WITH LOGIN = true")
    cluster, alice = login(node, "alice", "alice-pw")
    try:
        alice.execute("ALTER ROLE alice WITH PASSWORD = 'second-pw'")
        with pytest.raises(Unauthorized) as err:
            alice.execute("ALTER ROLE alice WITH SUPERUSER = true")
        assert "You aren't allowed to alter your own superuser status" in str(err.value)
    finally:
        cluster.shutdown()
    cluster, _ = login(node, "alice", "second-pw")
    cluster.shutdown()
    admin.execute("DROP ROLE alice")
    with pytest.raises(NoHostAvailable):
        login(node, "alice", "second-pw")


def test_cqlsh_list_roles_and_unauthorized(secured):
    node, admin = secured
    r = cqlsh(node, "cassandra", "cassandra", "LIST ROLES;")
    assert r.returncode == 0, r.stderr + r.stdout
    lines = [line.split("|") for line in r.stdout.splitlines() if "|" in line]
    cells = [[c.strip() for c in line] for line in lines]
    assert cells[0] == ["role", "super", "login", "options", "datacenters"]
    assert ["alice", "False", "True", "{}", "ALL"] in cells
    assert ["cassandra", "True", "True", "{}", "ALL"] in cells
    assert "(2 rows)" in r.stdout

    r = cqlsh(node, "alice", "alice-pw", f"SELECT v FROM {KS}.t WHERE k = 1;")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "one" in r.stdout
    r = cqlsh(node, "alice", "alice-pw", f"INSERT INTO {KS}.t (k, v) VALUES (9, 'nine');")
    assert r.returncode != 0
    assert "Unauthorized" in r.stderr
    assert f"User alice has no MODIFY permission on <table {KS}.t> or any of its parents" in r.stderr
