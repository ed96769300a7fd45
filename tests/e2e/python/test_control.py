"""The control plane end to end: a real `mica server` with the local-process provider, driven through the
`mica cluster` / `mica datacenter` CLI and its REST API; nodes checked through their admin API and with the
Python driver over TLS with a password; deletion leaves no node process behind."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import MICA_BIN

# A loopback block of its own (node tests use 127.0.x.y, the Rust CLI test 127.2xx.x.250).
FIRST_NODE_ADDRESS = f"127.{150 + os.getpid() % 50}.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, state_dir: Path, env: dict | None = None):
        """`env`: extra environment variables of the server process (e.g. MICA_REPAIR_INTERVAL_SECONDS)."""
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(state_dir.parent / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(MICA_BIN), "server", "--state-dir", str(state_dir), "--listen", f"127.0.0.1:{self.port}",
             "--first-node-address", FIRST_NODE_ADDRESS],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        deadline = time.time() + 30
        while not (state_dir / "server.url").exists() or not self._listening():
            assert self.proc.poll() is None, self.read_log()
            assert time.time() < deadline, "server did not start: " + self.read_log()
            time.sleep(0.1)
        self.token = (state_dir / "api.token").read_text().strip()

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def read_log(self) -> str:
        return (self.state_dir.parent / "server.log").read_text(errors="replace")

    def cli(self, *args, check=True, timeout=180):
        env = dict(os.environ, MICA_STATE_DIR=str(self.state_dir))
        env.pop("MICA_SERVER", None)
        env.pop("MICA_TOKEN", None)
        result = subprocess.run([str(MICA_BIN), *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check:
            assert result.returncode == 0, result.stderr + self.read_log()[-3000:]
        return result

    def http(self, method, path, body=None, token=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def wait_operation(server, op, timeout=180):
    """Polls a long-running operation until it finishes."""
    deadline = time.time() + timeout
    while op["status"] == "InProgress":
        assert time.time() < deadline, op
        time.sleep(0.2)
        op = server.http("GET", op["id"])[2]
    return op


def node_processes(marker: str) -> list[int]:
    """Pids of processes whose command line mentions `marker` (a cluster's directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "state")
    yield s
    s.stop()


def test_create_two_node_cluster_connect_and_delete(server):
    created = json.loads(server.cli("cluster", "create", "-c", "e2e", "-i", "s3cret-pass",
                                    "--cassandra-version", "4.0", "--cluster-type", "NonProduction").stdout)
    assert created["properties"]["provisioningState"] == "Succeeded"
    assert "initialCassandraAdminPassword" not in json.dumps(created)
    ca_pem = created["properties"]["gossipCertificates"][0]["pem"]

    # The initial admin password is set through CQL once the nodes are up; the operation shows that step and
    # the datacenter (and cluster) are Succeeded only after it.
    op = json.loads(server.cli("datacenter", "create", "-c", "e2e", "-d", "dc1", "-n", "2", "--no-wait").stdout)
    op = wait_operation(server, op)
    assert op["status"] == "Succeeded", op
    step_names = [s["name"] for s in op["steps"]]
    assert step_names[-1] == "set the password of the cassandra role on 2 node(s)", step_names
    dc = json.loads(server.cli("datacenter", "show", "-c", "e2e", "-d", "dc1").stdout)
    assert dc["properties"]["provisioningState"] == "Succeeded"
    addresses = [s["ipAddress"] for s in dc["properties"]["seedNodes"]]
    assert len(addresses) == 2

    shown = json.loads(server.cli("cluster", "show", "-c", "e2e").stdout)
    assert shown["properties"]["provisioningState"] == "Succeeded"
    assert [c["name"] for c in json.loads(server.cli("cluster", "list").stdout)] == ["e2e"]
    assert [d["name"] for d in json.loads(server.cli("datacenter", "list", "-c", "e2e").stdout)] == ["dc1"]

    # Every node answers its admin API as a node of this cluster, at the requested version.
    nodes_dir = server.state_dir / "clusters" / "e2e" / "nodes"
    for i, address in enumerate(addresses):
        token = (nodes_dir / f"dc1-{i}" / "admin.token").read_text().strip()
        req = urllib.request.Request(f"http://{address}:9180/v1/info")
        req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            info = json.loads(r.read())
        assert info["clusterName"] == "e2e"
        assert info["releaseVersion"] == "4.0.13"
        assert (info["dataCenter"], info["rack"]) == ("dc1", "rack1")

    status, _, body = server.http("GET", "/clusters/e2e/status")
    assert status == 200
    nodes = body["dataCenters"][0]["nodes"]
    assert sorted(n["address"] for n in nodes) == sorted(addresses)
    assert all(n["status"] == "Up" and n["state"] == "Normal" for n in nodes)
    # Ownership comes from the nodes' ring view: a fraction per Up node (the two share the whole ring at RF 1
    # without user keyspaces, more with replicated ones), and tokens and load from each node itself.
    assert all(isinstance(n["owns"], float) and 0 < n["owns"] <= 1 for n in nodes), nodes
    assert 0.99 <= sum(n["owns"] for n in nodes) <= 2.01, nodes
    assert all(n["tokens"] and n["load"].endswith(" bytes") for n in nodes), nodes

    # CQL over TLS, verified against the cluster CA the API hands out, with password authentication.
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import WhiteListRoundRobinPolicy

    from cassandra.cluster import NoHostAvailable

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem)
    for address in addresses:
        cluster = Cluster([address], port=9042, ssl_context=ctx,
                          auth_provider=PlainTextAuthProvider("cassandra", "s3cret-pass"),
                          load_balancing_policy=WhiteListRoundRobinPolicy([address]))
        session = cluster.connect()
        row = session.execute("SELECT cluster_name, release_version FROM system.local").one()
        assert (row.cluster_name, row.release_version) == ("e2e", "4.0.13")
        cluster.shutdown()
        # The default password no longer works on any node.
        refused = Cluster([address], port=9042, ssl_context=ctx,
                          auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
                          load_balancing_policy=WhiteListRoundRobinPolicy([address]))
        with pytest.raises(NoHostAvailable, match="incorrect"):
            refused.connect()
        refused.shutdown()

    # cqlsh over TLS, verifying the node against the cluster CA, with the new password.
    ca_file = server.state_dir.parent / "cluster-ca.pem"
    ca_file.write_text(ca_pem)
    cqlsh_env = dict(os.environ, SSL_CERTFILE=str(ca_file), SSL_VALIDATE="true", CQLSH_NO_BUNDLED="TRUE")
    cqlsh = [str(Path(sys.executable).parent / "cqlsh"), addresses[0], "9042", "--ssl", "-u", "cassandra"]
    ok = subprocess.run([*cqlsh, "-p", "s3cret-pass", "-e", "SELECT cluster_name FROM system.local;"],
                        capture_output=True, text=True, env=cqlsh_env, timeout=120)
    assert ok.returncode == 0 and "e2e" in ok.stdout, ok.stderr + ok.stdout
    bad = subprocess.run([*cqlsh, "-p", "cassandra", "-e", "SELECT cluster_name FROM system.local;"],
                         capture_output=True, text=True, env=cqlsh_env, timeout=120)
    assert bad.returncode != 0 and "incorrect" in bad.stderr, bad.stderr + bad.stdout

    # Status through the CLI, as JSON and as a table.
    status = json.loads(server.cli("cluster", "status", "-c", "e2e").stdout)
    assert sorted(n["address"] for n in status["dataCenters"][0]["nodes"]) == sorted(addresses)
    table = server.cli("cluster", "status", "-c", "e2e", "--output", "table").stdout.splitlines()
    assert table[0].split() == ["DataCenter", "Address", "Status", "State", "Load", "Owns", "Rack", "HostID"]
    assert sorted(line.split()[1] for line in table[1:]) == sorted(addresses)
    assert all(line.split()[2:4] == ["Up", "Normal"] for line in table[1:]), table
    assert server.cli("cluster", "list", "-o", "table").stdout.splitlines()[1].split()[:3] == \
        ["e2e", "Succeeded", "4.0"]

    # invokeCommand: nodetool output from the node's admin API, through the REST API and the CLI.
    status, _, out = server.http("POST", "/clusters/e2e/invokeCommand",
                                 {"command": "version", "host": addresses[0]})
    assert status == 200 and out == {"commandOutput": "ReleaseVersion: 4.0.13\n", "exitCode": 0}, out
    out = json.loads(server.cli("cluster", "invoke-command", "-c", "e2e", "--host", addresses[1],
                                "--command-name", "status").stdout)
    assert out["exitCode"] == 0 and "Datacenter: dc1" in out["commandOutput"], out
    assert "UN  " + addresses[1] in out["commandOutput"], out["commandOutput"]
    info = server.cli("cluster", "invoke-command", "-c", "e2e", "--host", addresses[0], "--command-name", "info",
                      "-o", "table", "--arguments", "-T").stdout
    assert "Token" in info and "Data Center" in info, info
    status, _, problem = server.http("POST", "/clusters/e2e/invokeCommand",
                                     {"command": "decommission", "host": addresses[0]})
    assert status == 400 and "use one of: status, info" in problem["detail"], problem
    status, _, problem = server.http("POST", "/clusters/e2e/invokeCommand", {"command": "status", "host": "10.9.9.9"})
    assert status == 400 and addresses[0] in problem["detail"], problem

    check_configuration_updates_roll_through_the_nodes(server, nodes_dir, addresses)

    marker = str(server.state_dir / "clusters" / "e2e")
    assert len(node_processes(marker)) == 2
    deleted = json.loads(server.cli("cluster", "delete", "-c", "e2e", "--yes").stdout)
    assert deleted["status"] == "Succeeded"
    assert node_processes(marker) == []
    assert not (server.state_dir / "clusters" / "e2e").exists()
    assert json.loads(server.cli("cluster", "list").stdout) == []


def test_invalid_requests_get_actionable_problems(server):
    status, headers, body = server.http("GET", "/clusters", token=False)
    assert status == 401 and headers["content-type"] == "application/problem+json"

    status, _, body = server.http("PUT", "/clusters/bad_name", {"properties": {}})
    assert status == 400 and "contains '_'" in body["detail"]

    status, headers, body = server.http("PUT", "/clusters/v", {"properties": {"cassandraVersion": "4.0"}})
    assert status == 202 and headers["location"] == body["id"]
    for _ in range(100):
        if server.http("GET", body["id"])[2]["status"] != "InProgress":
            break
        time.sleep(0.1)
    status, _, body = server.http("PUT", "/clusters/v", {"properties": {"cassandraVersion": "5.0"}})
    assert status == 400 and "update to 4.1 first" in body["detail"]

    result = server.cli("datacenter", "create", "-c", "v", "-d", "dc1", "-n", "-1", check=False)
    assert result.returncode != 0 and "use 1 to 32" in result.stderr
    result = server.cli("datacenter", "create", "-c", "v", "-d", "dc1", "-n", "1", "--sku", "Huge", check=False)
    assert "unknown SKU 'Huge'" in result.stderr
    status, _, body = server.http("POST", "/clusters/v/deallocate")
    assert status == 400 and "NonProduction" in body["detail"]
    result = server.cli("cluster", "deallocate", "-c", "v", check=False)
    assert result.returncode != 0 and "NonProduction" in result.stderr, result.stderr
    result = server.cli("datacenter", "delete", "-c", "v", "-d", "nope", "--yes", check=False)
    assert result.returncode != 0 and "datacenter 'nope' does not exist" in result.stderr, result.stderr
    status, _, body = server.http("GET", "/clusters/nope")
    assert status == 404

    status, _, doc = server.http("GET", "/openapi.json", token=False)
    assert status == 200 and "/clusters/{clusterName}/dataCenters/{dataCenterName}" in doc["paths"]


def node_info(nodes_dir, i, address):
    token = (nodes_dir / f"dc1-{i}" / "admin.token").read_text().strip()
    req = urllib.request.Request(f"http://{address}:9180/v1/info")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def check_configuration_updates_roll_through_the_nodes(server, nodes_dir, addresses):
    """Runs on test_create_two_node_cluster_connect_and_delete's cluster (4.0, dc1 with 2 nodes)."""
    import base64

    # A yaml fragment through the CLI: accepted, rolled out, and every node's cassandra.yaml carries it
    # afterwards. (64MiB/s is Cassandra's default, which the rendered file leaves out, so a different value.)
    pids = {i: (nodes_dir / f"dc1-{i}" / "node.pid").read_text() for i in range(len(addresses))}
    fragment = base64.b64encode(b"compaction_throughput: 128MiB/s\n").decode()
    dc = json.loads(server.cli("datacenter", "update", "-c", "e2e", "-d", "dc1", "-b", fragment).stdout)
    assert dc["properties"]["provisioningState"] == "Succeeded", dc
    assert dc["properties"]["nodeCount"] == 2, dc
    for i in range(len(addresses)):
        assert "compaction_throughput: 128MiB/s" in (nodes_dir / f"dc1-{i}" / "cassandra.yaml").read_text()
        assert (nodes_dir / f"dc1-{i}" / "node.pid").read_text() != pids[i], "the node was restarted"

    # A forbidden key is refused with a 400 naming it, and nothing changes.
    bad = base64.b64encode(b"authenticator: AllowAllAuthenticator\n").decode()
    result = server.cli("datacenter", "update", "-c", "e2e", "-d", "dc1", "-b", bad, check=False)
    assert result.returncode != 0 and "authenticator" in result.stderr, result.stderr
    status, _, problem = server.http("PUT", "/clusters/e2e/dataCenters/dc1",
                                     {"properties": {"nodeCount": 2, "base64EncodedCassandraYamlFragment": bad}})
    assert status == 400 and "authenticator" in problem["detail"], problem

    # A version skip is refused; the next version is rolled out one node at a time.
    result = server.cli("cluster", "update", "-c", "e2e", "--cassandra-version", "5.0", check=False)
    assert result.returncode != 0 and "update to 4.1 first" in result.stderr, result.stderr
    op = json.loads(server.cli("cluster", "update", "-c", "e2e", "--cassandra-version", "4.1", "--no-wait").stdout)
    op = wait_operation(server, op)
    assert op["status"] == "Succeeded", op
    steps = [s["name"] for s in op["steps"]]
    rolling = [i for i, name in enumerate(steps) if "rolling restart" in name]
    assert len(rolling) == len(addresses), steps
    # Every stop is followed by that node's start before the next node goes down.
    for i in rolling:
        assert steps[i + 1].startswith("started node"), steps
    for i, address in enumerate(addresses):
        assert node_info(nodes_dir, i, address)["releaseVersion"] == "4.1.5"
    shown = json.loads(server.cli("cluster", "show", "-c", "e2e").stdout)
    assert shown["properties"]["cassandraVersion"] == "4.1"
    assert shown["properties"]["provisioningState"] == "Succeeded"
