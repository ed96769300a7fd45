"""`mica up` end to end: the real binary starts the control plane and creates a 3-node cluster, prints how to
connect; the Python driver connects over TLS (trusting the printed cluster CA) with the printed password and
writes and reads at QUORUM with RF 3; SIGTERM stops every node; a second `mica up` on the same state directory
brings the same cluster back with the same password and data."""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import MICA_BIN

# A loopback block of its own: node tests use 127.0-2.x.y, test_control 127.150-199, test_control_crash
# 127.100-139, the Rust CLI test 127.2xx.x.250; this file takes 127.50-89.
FIRST_NODE_ADDRESS = f"127.{50 + os.getpid() % 40}.0.1"
# Debug builds on a small machine start three nodes slowly.
READY_TIMEOUT = 600
STOP_TIMEOUT = 120

CQLSH_LINE = re.compile(r"cqlsh:\s+SSL_VALIDATE=false cqlsh (\S+) (\d+) --ssl -u cassandra -p (\S+)")
CA_LINE = re.compile(r"trust the cluster CA (\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_processes(marker: str) -> list[int]:
    """Pids of processes whose command line mentions `marker` (the cluster's directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                pids.append(int(entry.name))
    return pids


class Up:
    """One run of `mica up`, its output going to a log file."""

    def __init__(self, state_dir: Path, port: int, log: Path):
        self.log_path = log
        self.log = open(log, "wb")
        env = dict(os.environ)
        for name in ("MICA_STATE_DIR", "MICA_SERVER", "MICA_TOKEN", "RUST_LOG"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [str(MICA_BIN), "up", "--state-dir", str(state_dir), "--listen", f"127.0.0.1:{port}",
             "--first-node-address", FIRST_NODE_ADDRESS, "--nodes", "3"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self):
        """Waits for the connection instructions; returns (host, port, password, CA path)."""
        deadline = time.time() + READY_TIMEOUT
        while True:
            out = self.output()
            cqlsh, ca = CQLSH_LINE.search(out), CA_LINE.search(out)
            if cqlsh and ca and "Press Ctrl-C" in out:
                return cqlsh.group(1), int(cqlsh.group(2)), cqlsh.group(3), Path(ca.group(1))
            assert self.proc.poll() is None, "mica up exited early:\n" + out
            assert time.time() < deadline, "mica up was not ready in time:\n" + out[-5000:]
            time.sleep(0.5)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code


def connect(host, port, password, ca_path):
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster, NoHostAvailable
    from cassandra.policies import WhiteListRoundRobinPolicy

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # Node certificates name their IP; the CA check is what matters here.
    ctx.load_verify_locations(cafile=str(ca_path))
    deadline = time.time() + 60
    while True:
        cluster = Cluster([host], port=port, ssl_context=ctx,
                          auth_provider=PlainTextAuthProvider("cassandra", password),
                          load_balancing_policy=WhiteListRoundRobinPolicy([host]))
        try:
            return cluster, cluster.connect()
        except NoHostAvailable:
            cluster.shutdown()
            if time.time() > deadline:
                raise
            time.sleep(1)


def cli(state_dir: Path, *args):
    env = dict(os.environ, MICA_STATE_DIR=str(state_dir))
    env.pop("MICA_SERVER", None)
    env.pop("MICA_TOKEN", None)
    result = subprocess.run([str(MICA_BIN), *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_up_creates_a_three_node_cluster_that_survives_a_restart(tmp_path):
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    state_dir = tmp_path / "state"
    marker = str(state_dir / "clusters" / "default")
    port = free_port()

    first = Up(state_dir, port, tmp_path / "up1.log")
    try:
        host, cql_port, password, ca_path = first.wait_ready()
        out = first.output()
        assert "Creating cluster 'default'" in out and "Creating datacenter dc1 with 3 node(s)" in out, out
        assert cql_port == 9042 and host == FIRST_NODE_ADDRESS
        assert ca_path == state_dir / "clusters" / "default" / "ca.pem" and ca_path.exists()
        assert f"http://127.0.0.1:{port}" in out and str(state_dir / "api.token") in out, out
        assert "mica cluster status -c default -o table" in out, out
        assert "mica cluster invoke-command -c default --host" in out, out
        # The portal URL carries the API token in its fragment, ready to click.
        portal = re.search(r"Portal: (http://\S+)/#token=(\S+)", out)
        assert portal and portal.group(1) == f"http://127.0.0.1:{port}", out
        assert portal.group(2) == (state_dir / "api.token").read_text().strip()
        with urllib.request.urlopen(portal.group(1) + "/", timeout=10) as page:
            assert b"/portal/js/app.js" in page.read()
        # The generated password is strong and kept privately for later runs.
        password_file = state_dir / "up-admin-password"
        assert password_file.read_text() == password and len(password) >= 16
        assert password_file.stat().st_mode & 0o777 == 0o600

        cluster, session = connect(host, cql_port, password, ca_path)
        session.execute("CREATE KEYSPACE up_ks WITH replication = "
                        "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
        session.execute("CREATE TABLE up_ks.t (k int PRIMARY KEY, v text)")
        insert = SimpleStatement("INSERT INTO up_ks.t (k, v) VALUES (%s, %s)",
                                 consistency_level=ConsistencyLevel.QUORUM)
        for k in range(20):
            session.execute(insert, (k, f"value-{k}"))
        select = SimpleStatement("SELECT k, v FROM up_ks.t", consistency_level=ConsistencyLevel.QUORUM)
        assert sorted((r.k, r.v) for r in session.execute(select)) == [(k, f"value-{k}") for k in range(20)]
        cluster.shutdown()

        status = json.loads(cli(state_dir, "cluster", "status", "-c", "default"))
        nodes = [n for dc in status["dataCenters"] for n in dc["nodes"]]
        assert len(nodes) == 3 and all(n["status"] == "Up" for n in nodes), status
        table = cli(state_dir, "cluster", "status", "-c", "default", "-o", "table").splitlines()
        assert len(table) == 4 and all(line.split()[2] == "Up" for line in table[1:]), table
        assert len(node_processes(marker)) == 3
    finally:
        code = first.stop()
    assert code == 0, first.output()[-3000:]
    assert node_processes(marker) == []

    # Same state directory: the same cluster comes back, nothing is created, the password and data hold.
    second = Up(state_dir, port, tmp_path / "up2.log")
    try:
        host2, cql_port2, password2, ca_path2 = second.wait_ready()
        out = second.output()
        assert "Creating cluster" not in out and "Creating datacenter" not in out, out
        assert (host2, cql_port2, password2, ca_path2) == (host, cql_port, password, ca_path)
        cluster, session = connect(host2, cql_port2, password2, ca_path2)
        select = SimpleStatement("SELECT k, v FROM up_ks.t", consistency_level=ConsistencyLevel.QUORUM)
        assert sorted((r.k, r.v) for r in session.execute(select)) == [(k, f"value-{k}") for k in range(20)]
        cluster.shutdown()
        assert len(node_processes(marker)) == 3
    finally:
        code = second.stop()
    assert code == 0, second.output()[-3000:]
    assert node_processes(marker) == []
