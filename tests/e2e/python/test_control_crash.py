"""The control plane survives `kill -9` in the middle of a topology change: a real `mica server` is killed while a
scale-out (and a datacenter add) is in flight, restarted on the same state directory, and must finish the operation
with exactly one node process per slot (the nodes left running by the killed server are adopted, never started a
second time), every node answering its admin API and every row written before the crash still readable."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import MICA_BIN, connect_one

# A loopback block of its own: node tests use 127.0-2.x.y, test_control.py 127.150-199.x.y and the Rust CLI test
# 127.2xx.x.250; this file takes 127.100-139.x.y.
FIRST_NODE_ADDRESS = f"127.{100 + os.getpid() % 40}.0.1"
PASSWORD = "crash-s3cret"
# How often the test looks at the operation while waiting for the moment to kill the server.
POLL_SECONDS = 0.02
# How long after the scale-in request the server is killed (before or while it stops the node).
SCALE_IN_KILL_DELAY_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `mica server` process that can be killed with SIGKILL and started again on the same state directory."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.log_path = state_dir.parent / "server.log"
        self.proc = None
        self.start()

    def start(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab")
        url_file = self.state_dir / "server.url"
        if url_file.exists():
            url_file.unlink()
        self.proc = subprocess.Popen(
            [str(MICA_BIN), "server", "--state-dir", str(self.state_dir), "--listen", f"127.0.0.1:{self.port}",
             "--first-node-address", FIRST_NODE_ADDRESS],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + 30
        while not url_file.exists() or not self._listening():
            assert self.proc.poll() is None, self.read_log()
            assert time.time() < deadline, "server did not start: " + self.read_log()
            time.sleep(0.05)
        self.token = (self.state_dir / "api.token").read_text().strip()

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cli(self, *args, timeout=120):
        env = dict(os.environ, MICA_STATE_DIR=str(self.state_dir))
        env.pop("MICA_SERVER", None)
        env.pop("MICA_TOKEN", None)
        result = subprocess.run([str(MICA_BIN), *args], capture_output=True, text=True, env=env, timeout=timeout)
        assert result.returncode == 0, result.stderr + self.read_log()[-3000:]
        return json.loads(result.stdout)

    def http(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_operation(server, op_id, timeout=120):
    deadline = time.time() + timeout
    while True:
        status, op = server.http("GET", op_id)
        assert status == 200, op
        if op["status"] != "InProgress":
            return op
        assert time.time() < deadline, op
        time.sleep(0.2)


def kill_when_step(server, op_id, fragment):
    """Kills the server with SIGKILL as soon as the operation records a step containing `fragment` (the moment a
    node process was spawned but before it answers), and returns the steps seen."""
    deadline = time.time() + 60
    while time.time() < deadline:
        _, op = server.http("GET", op_id)
        names = [s["name"] for s in op["steps"]]
        if any(fragment in n for n in names):
            server.kill9()
            return names
        assert op["status"] == "InProgress", f"finished before the crash point: {op}"
        time.sleep(POLL_SECONDS)
    pytest.fail(f"no step '{fragment}' within 60s")


def processes(marker: str) -> dict[int, str]:
    """Command lines of the processes that mention `marker` (a cluster's directory), by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found[int(entry.name)] = cmdline
    return found


def node_configs(marker: str) -> list[str]:
    """The node directory names (`dc1-0`, ...) of the running node processes, one entry per process."""
    return sorted(Path(c.split("--config ")[1].split()[0]).parent.name for c in processes(marker).values()
                  if "--config " in c)


def admin_info(server, cluster, dir_name, address):
    token = (server.state_dir / "clusters" / cluster / "nodes" / dir_name / "admin.token").read_text().strip()
    req = urllib.request.Request(f"http://{address}:9180/v1/info")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def dc_addresses(server, cluster, dc) -> list[str]:
    """Node addresses of a datacenter in ordinal order, from the status resource."""
    status, body = server.http("GET", f"/clusters/{cluster}/status")
    assert status == 200, body
    nodes = [n for d in body["dataCenters"] if d["name"] == dc for n in d["nodes"]]
    return [n["address"] for n in nodes]


def connect(address, ca_pem):
    return connect_one(address, ca_pem, PASSWORD)


def write_rows(addresses, ca_pem) -> dict[str, list[tuple[int, str]]]:
    """Writes a few rows at QUORUM through every node, each node its own keys; returns them by address."""
    from cassandra import ConsistencyLevel

    written = {}
    for n, address in enumerate(sorted(addresses)):
        cluster, session = connect(address, ca_pem)
        session.default_consistency_level = ConsistencyLevel.QUORUM
        session.execute("CREATE KEYSPACE IF NOT EXISTS crash WITH replication = "
                        "{'class': 'NetworkTopologyStrategy', 'dc1': 2}")
        session.execute("CREATE TABLE IF NOT EXISTS crash.kv (k int PRIMARY KEY, v text)")
        cluster.control_connection.wait_for_schema_agreement(wait_time=30)
        rows = [(100 * n + i, f"{address}-{i}") for i in range(5)]
        for k, v in rows:
            session.execute("INSERT INTO crash.kv (k, v) VALUES (%s, %s)", (k, v))
        written[address] = rows
        cluster.shutdown()
    return written


def check_rows(written, ca_pem, addresses=None, consistency="QUORUM"):
    """Every node (of `addresses`, by default those written through) coordinates a read of every row written
    through any node (data replicates)."""
    from cassandra import ConsistencyLevel

    expected = sorted(row for rows in written.values() for row in rows)
    for address in addresses or written:
        cluster, session = connect(address, ca_pem)
        session.default_consistency_level = getattr(ConsistencyLevel, consistency)
        got = sorted((r.k, r.v) for r in session.execute("SELECT k, v FROM crash.kv"))
        cluster.shutdown()
        assert got == expected, (address, got)


def check_nodes(server, cluster, expected_dirs):
    """Exactly one process per expected node directory, each answering its admin API as a node of the cluster."""
    marker = str(server.state_dir / "clusters" / cluster)
    assert node_configs(marker) == sorted(expected_dirs), processes(marker)
    for name in expected_dirs:
        dc, ordinal = name.rsplit("-", 1)
        address = dc_addresses(server, cluster, dc)[int(ordinal)]
        info = admin_info(server, cluster, name, address)
        assert (info["clusterName"], info["dataCenter"], info["listenAddress"]) == (cluster, dc, address), info
        pid = int((server.state_dir / "clusters" / cluster / "nodes" / name / "node.pid").read_text())
        assert pid in processes(marker), f"{name}: node.pid {pid} is not the running process"


def wait_ready(server, cluster, expected_dirs, timeout=60):
    """Waits until check_nodes holds (nodes restarted by the control plane take a moment to answer)."""
    deadline = time.time() + timeout
    while True:
        try:
            check_nodes(server, cluster, expected_dirs)
            return
        except (AssertionError, OSError, IndexError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "state")
    yield s
    s.stop()
    # Whatever a failed test left behind is stopped so later tests get their addresses back.
    for pid in processes(str(s.state_dir)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_during_scale_out_and_datacenter_add(server):
    created = server.cli("cluster", "create", "-c", "crash", "-i", PASSWORD, "--cluster-type", "NonProduction",
                         "--auto-replicate", "AllKeyspaces")
    ca_pem = created["properties"]["gossipCertificates"][0]["pem"]
    server.cli("datacenter", "create", "-c", "crash", "-d", "dc1", "-n", "2")
    marker = str(server.state_dir / "clusters" / "crash")
    check_nodes(server, "crash", ["dc1-0", "dc1-1"])
    written = write_rows(dc_addresses(server, "crash", "dc1"), ca_pem)

    # Scale out 2 -> 3; the server dies the moment the third node's process is spawned.
    status, op = server.http("PUT", "/clusters/crash/dataCenters/dc1", {"properties": {"nodeCount": 3}})
    assert status == 202, op
    steps = kill_when_step(server, op["id"], "started node crash/dc1/2")
    assert "allocated node crash/dc1/2" in steps[-2], steps
    # The nodes outlive the control plane, including the one just spawned.
    assert len(processes(marker)) == 3
    server.start()
    done = wait_operation(server, op["id"])
    assert done["status"] == "Succeeded", (done, server.read_log()[-3000:])
    check_nodes(server, "crash", ["dc1-0", "dc1-1", "dc1-2"])
    dc = server.cli("datacenter", "show", "-c", "crash", "-d", "dc1")
    assert dc["properties"]["provisioningState"] == "Succeeded" and dc["properties"]["nodeCount"] == 3
    check_rows(written, ca_pem)

    # Add dc2 (2 nodes) with turnkey replication; the server dies once its first node's process is spawned,
    # again right after the restart (before any step of its own), and once more while dc2 rebuilds from dc1.
    status, op = server.http("PUT", "/clusters/crash/dataCenters/dc2", {"properties": {"nodeCount": 2}})
    assert status == 202, op
    kill_when_step(server, op["id"], "started node crash/dc2/0")
    server.start()
    server.kill9()
    server.start()
    kill_when_step(server, op["id"], "rebuilding datacenter dc2 from dc1")
    server.start()
    done = wait_operation(server, op["id"])
    assert done["status"] == "Succeeded", (done, server.read_log()[-3000:])
    names = [s["name"] for s in done["steps"]]
    assert any(n.startswith("replicated keyspace crash to every datacenter: {'dc1': 2, 'dc2': 2}") for n in names), names
    assert "rebuilt datacenter dc2 from dc1" in names, names
    check_nodes(server, "crash", ["dc1-0", "dc1-1", "dc1-2", "dc2-0", "dc2-1"])
    check_rows(written, ca_pem)
    # dc2's own replicas hold every row: LOCAL_ONE through a dc2 node reads only dc2.
    check_rows(written, ca_pem, dc_addresses(server, "crash", "dc2"), "LOCAL_ONE")

    # Scale in 3 -> 2, with the server killed a moment after the request: the highest ordinal is decommissioned
    # (its data streams to the remaining replicas), then its process and directory go.
    status, op = server.http("PUT", "/clusters/crash/dataCenters/dc1", {"properties": {"nodeCount": 2}})
    assert status == 202, op
    time.sleep(SCALE_IN_KILL_DELAY_SECONDS)
    server.kill9()
    server.start()
    done = wait_operation(server, op["id"])
    assert done["status"] == "Succeeded", (done, server.read_log()[-3000:])
    check_nodes(server, "crash", ["dc1-0", "dc1-1", "dc2-0", "dc2-1"])
    assert not (server.state_dir / "clusters" / "crash" / "nodes" / "dc1-2").exists()
    names = [s["name"] for s in done["steps"]]
    assert any(n.startswith("decommissioning node crash/dc1/2") for n in names), names
    # The ring forgot the node: every remaining node is Up/Normal in the status resource, and QUORUM reads work.
    status, body = server.http("GET", "/clusters/crash/status")
    nodes = [n for d in body["dataCenters"] for n in d["nodes"]]
    assert len(nodes) == 4 and all((n["status"], n["state"]) == ("Up", "Normal") for n in nodes), nodes
    check_rows(written, ca_pem)

    # A graceful stop also stops the nodes this server adopted from the killed ones; the next start brings the
    # cluster back with its data.
    server.stop()
    assert processes(marker) == {}
    server.start()
    wait_ready(server, "crash", ["dc1-0", "dc1-1", "dc2-0", "dc2-1"])
    check_rows(written, ca_pem)

    deleted = server.cli("cluster", "delete", "-c", "crash", "--yes")
    assert deleted["status"] == "Succeeded"
    assert processes(marker) == {}
    assert not Path(marker).exists()
