"""cqlsh (from PyPI) against a node with TLS and PasswordAuthenticator, as the README tells users to connect."""

import os
import subprocess
import sys
from pathlib import Path


def cqlsh(node, statements: str, password: str = "cassandra") -> subprocess.CompletedProcess:
    env = dict(os.environ, SSL_VALIDATE="false", CQLSH_NO_BUNDLED="TRUE")
    bindir = Path(sys.executable).parent
    exe = bindir / "cqlsh"
    return subprocess.run(
        [str(exe), node.address, str(node.port), "--ssl", "-u", "cassandra", "-p", password, "-e", statements],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cqlsh_crud_over_tls_with_password(node):
    r = cqlsh(
        node,
        "CREATE KEYSPACE c WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};"
        "CREATE TABLE c.t (k int PRIMARY KEY, v text);"
        "INSERT INTO c.t (k, v) VALUES (1, 'one');"
        "UPDATE c.t SET v = 'uno' WHERE k = 1;"
        "INSERT INTO c.t (k, v) VALUES (2, 'two');"
        "DELETE FROM c.t WHERE k = 2;"
        "SELECT k, v FROM c.t;",
    )
    assert r.returncode == 0, r.stderr + r.stdout
    assert "uno" in r.stdout
    assert "two" not in r.stdout
    assert "(1 rows)" in r.stdout


def test_cqlsh_alter_role_password(node):
    r = cqlsh(node, "ALTER ROLE cassandra WITH PASSWORD = 'changed';")
    assert r.returncode == 0, r.stderr + r.stdout
    r = cqlsh(node, "SELECT release_version FROM system.local;", password="changed")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "4.1" in r.stdout
    r = cqlsh(node, "SELECT release_version FROM system.local;", password="cassandra")
    assert r.returncode != 0
