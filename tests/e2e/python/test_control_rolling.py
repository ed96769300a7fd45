"""Rolling restarts and asynchronous commands of the control plane, end to end: a real `mica server` with the
local-process provider runs a 3-node cluster over three racks (availabilityZone) with scheduledEventStrategy
StopByRack; a yaml fragment update rolls through the racks while a QUORUM writer (RF 3) keeps writing, and no
write fails. The operation records why it waited and the LOCAL_QUORUM probe it ran before every stop; nodes are
drained before they stop. `invokeCommandAsync` answers 202 with a command resource polled under
`clusters/{c}/commands/{id}`."""

import base64
import json
import os
import ssl
import threading
import time
import uuid

import pytest

import test_control
from test_control import Server

# A loopback block of its own: node tests use 127.0-2.x.y, test_up 127.50-89, test_control_crash 127.100-139,
# test_control 127.150-199, the Rust CLI test 127.2xx.x.250; this file takes 127.20-49.
FIRST_NODE_ADDRESS = f"127.{20 + os.getpid() % 30}.0.1"
PASSWORD = "r0lling-pass"


@pytest.fixture(scope="module")
def rolling(tmp_path_factory):
    """A server with cluster `roll`: 4.0, StopByRack, dc1 with 3 nodes on racks rack1..rack3."""
    saved = test_control.FIRST_NODE_ADDRESS
    test_control.FIRST_NODE_ADDRESS = FIRST_NODE_ADDRESS
    try:
        server = Server(tmp_path_factory.mktemp("rolling") / "state")
    finally:
        test_control.FIRST_NODE_ADDRESS = saved
    try:
        created = json.loads(server.cli("cluster", "create", "-c", "roll", "-i", PASSWORD, "--cassandra-version",
                                        "4.0", "--cluster-type", "NonProduction",
                                        "--scheduled-event-strategy", "StopByRack").stdout)
        assert created["properties"]["scheduledEventStrategy"] == "StopByRack", created
        op = json.loads(server.cli("datacenter", "create", "-c", "roll", "-d", "dc1", "-n", "3",
                                   "--availability-zone", "true", "--no-wait").stdout)
        op = test_control.wait_operation(server, op, timeout=240)
        assert op["status"] == "Succeeded", op
        yield server, created["properties"]["gossipCertificates"][0]["pem"]
        server.cli("cluster", "delete", "-c", "roll", "--yes", check=False, timeout=240)
    finally:
        server.stop()


def session_for(ca_pem, addresses):
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem)
    cluster = Cluster(addresses, port=9042, ssl_context=ctx,
                      auth_provider=PlainTextAuthProvider("cassandra", PASSWORD))
    return cluster, cluster.connect()


def addresses_of(server):
    dc = json.loads(server.cli("datacenter", "show", "-c", "roll", "-d", "dc1").stdout)
    return [s["ipAddress"] for s in dc["properties"]["seedNodes"]]


def test_a_yaml_update_rolls_rack_by_rack_without_failing_a_quorum_write(rolling):
    from cassandra import ConsistencyLevel

    server, ca_pem = rolling
    addresses = addresses_of(server)
    assert len(addresses) == 3
    nodes_dir = server.state_dir / "clusters" / "roll" / "nodes"
    racks = {i: (nodes_dir / f"dc1-{i}" / "cassandra-rackdc.properties").read_text() for i in range(3)}
    assert [f"rack=rack{i + 1}" in racks[i] for i in range(3)] == [True] * 3, racks

    cluster, session = session_for(ca_pem, addresses)
    session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}")
    session.execute("CREATE TABLE ks.t (id uuid PRIMARY KEY, n int)")
    insert = session.prepare("INSERT INTO ks.t (id, n) VALUES (?, ?)")
    insert.consistency_level = ConsistencyLevel.QUORUM
    insert.is_idempotent = True

    written, failures, stop = [], [], threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            key = uuid.uuid4()
            try:
                session.execute(insert, (key, n), timeout=20)
                written.append(key)
            except Exception as e:  # noqa: BLE001 - every failure is reported by the assertion below
                failures.append(repr(e))
            n += 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        time.sleep(1)
        pids = {i: (nodes_dir / f"dc1-{i}" / "node.pid").read_text() for i in range(3)}
        # The probe role loses SELECT on its keyspace: every node is Up, but the LOCAL_QUORUM probe fails, so
        # the restart must wait (and say so) until the permission is back.
        session.execute("REVOKE SELECT ON KEYSPACE mica_probe FROM mica_probe")
        fragment = base64.b64encode(b"compaction_throughput: 96MiB/s\n").decode()
        op = json.loads(server.cli("datacenter", "update", "-c", "roll", "-d", "dc1", "-b", fragment,
                                   "--no-wait").stdout)
        deadline = time.time() + 60
        while not any(s["name"].startswith("waiting: until a LOCAL_QUORUM read") for s in op["steps"]):
            assert time.time() < deadline and op["status"] == "InProgress", op
            time.sleep(0.2)
            op = server.http("GET", op["id"])[2]
        time.sleep(2)
        op = server.http("GET", op["id"])[2]
        assert not [s for s in op["steps"] if s["name"].startswith("stopped")], op["steps"]
        assert op["percentComplete"] == 0, op
        assert {i: (nodes_dir / f"dc1-{i}" / "node.pid").read_text() for i in range(3)} == pids
        session.execute("GRANT SELECT ON KEYSPACE mica_probe TO mica_probe")
        percents = []
        deadline = time.time() + 300
        while op["status"] == "InProgress":
            assert time.time() < deadline, op
            percents.append(op["percentComplete"])
            time.sleep(0.2)
            op = server.http("GET", op["id"])[2]
        time.sleep(1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert op["status"] == "Succeeded", op
    assert failures == [], failures[:5]
    assert len(written) > 50, len(written)

    # Every node restarted with the fragment, after a drain.
    for i in range(3):
        assert "compaction_throughput: 96MiB/s" in (nodes_dir / f"dc1-{i}" / "cassandra.yaml").read_text()
        assert (nodes_dir / f"dc1-{i}" / "node.pid").read_text() != pids[i], "restarted"
        assert "DRAINED" in (nodes_dir / f"dc1-{i}" / "logs" / "system.log").read_text(errors="replace")

    # One rack at a time, in order, each stop after the gates; waits are explained in the steps.
    names = [s["name"] for s in op["steps"]]
    stops = [n for n in names if n.startswith("stopped node")]
    assert len(stops) == 3, names
    for rack, stop_step in enumerate(stops, start=1):
        assert f"StopByRack, rack rack{rack} of dc1" in stop_step, stop_step
        assert "every node reported every node Up and Normal" in stop_step, stop_step
        assert "a LOCAL_QUORUM read succeeded through every node of dc1" in stop_step, stop_step
    waits = [n for n in names if n.startswith("waiting: ")]
    assert f"waiting: until a LOCAL_QUORUM read in datacenter dc1 coordinated by node roll/dc1/0 ({addresses[0]}) " \
        "succeeds" in waits, waits
    assert names.index(waits[0]) < names.index(stops[0]), names
    assert all("reports every node Up and Normal" in w or "LOCAL_QUORUM read" in w for w in waits), waits
    # percentComplete: the share of nodes on the new configuration, rising, never the answering-node count.
    assert percents == sorted(percents), percents
    assert set(percents) <= {0, 33, 66}, percents
    assert op["percentComplete"] == 100

    # Every acknowledged write is there at QUORUM.
    from cassandra.query import SimpleStatement
    count = SimpleStatement("SELECT count(*) FROM ks.t", consistency_level=ConsistencyLevel.QUORUM)
    assert session.execute(count, timeout=60).one()[0] == len(written)

    # The probe's own keyspace and role: three replicas in dc1, a login role that is no superuser.
    row = session.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'mica_probe'").one()
    assert row.replication["dc1"] == "3", row
    role = session.execute("SELECT is_superuser, can_login FROM system_auth.roles WHERE role = 'mica_probe'").one()
    assert (role.is_superuser, role.can_login) == (False, True), role
    cluster.shutdown()


def test_invoke_command_async_round_trip(rolling):
    server, _ = rolling
    addresses = addresses_of(server)

    status, headers, command = server.http("POST", "/clusters/roll/invokeCommandAsync",
                                           {"command": "status", "host": addresses[0]})
    assert status == 202, command
    command_id = command["commandId"]
    assert headers["location"] == f"/clusters/roll/commands/{command_id}"
    assert command["status"] in ("Enqueued", "Processing"), command
    assert (command["command"], command["host"], command["isAdmin"]) == ("status", addresses[0], False)
    deadline = time.time() + 60
    while command["status"] in ("Enqueued", "Processing"):
        assert time.time() < deadline, command
        time.sleep(0.2)
        status, _, command = server.http("GET", headers["location"])
        assert status == 200, command
    assert command["status"] == "Finished", command
    assert command["exitCode"] == 0 and "Datacenter: dc1" in command["result"], command
    assert command["startTime"] >= command["enqueuedTime"] and command["endTime"] >= command["startTime"]

    # A verb that fails on the node finishes with its error output and exit code, like nodetool.
    status, headers, failing = server.http("POST", "/clusters/roll/invokeCommandAsync",
                                           {"command": "flush", "host": addresses[1],
                                            "arguments": {"keyspace": "no_such_keyspace"}})
    assert status == 202, failing
    deadline = time.time() + 60
    while failing["status"] in ("Enqueued", "Processing"):
        assert time.time() < deadline, failing
        time.sleep(0.2)
        failing = server.http("GET", headers["location"])[2]
    assert failing["status"] == "Finished" and failing["exitCode"] == 1 and failing["errorOutput"], failing

    # The CLI: --no-wait prints the accepted command resource; `cluster command show` polls it.
    started = json.loads(server.cli("cluster", "invoke-command", "-c", "roll", "--host", addresses[2],
                                    "--command-name", "version", "--no-wait").stdout)
    assert started["status"] in ("Enqueued", "Processing") and started["command"] == "version", started
    deadline = time.time() + 60
    while True:
        shown = json.loads(server.cli("cluster", "command", "show", "-c", "roll",
                                      "--command-id", started["commandId"]).stdout)
        if shown["status"] not in ("Enqueued", "Processing"):
            break
        assert time.time() < deadline, shown
        time.sleep(0.2)
    assert shown["status"] == "Finished" and shown["result"] == "ReleaseVersion: 4.0.13\n", shown

    listed = server.http("GET", "/clusters/roll/commands")[2]["value"]
    assert [c["commandId"] for c in listed][-3:] == [command_id, failing["commandId"], started["commandId"]]

    # Unknown command ids, unknown clusters and disallowed verbs.
    status, _, problem = server.http("GET", f"/clusters/roll/commands/{uuid.uuid4()}")
    assert status == 404 and "does not exist" in problem["detail"], problem
    result = server.cli("cluster", "command", "show", "-c", "roll", "--command-id", "nope", check=False)
    assert result.returncode != 0 and "does not exist" in result.stderr, result.stderr
    status, _, problem = server.http("GET", "/clusters/nosuch/commands")
    assert status == 404, problem
    status, _, problem = server.http("POST", "/clusters/roll/invokeCommandAsync",
                                     {"command": "decommission", "host": addresses[0]})
    assert status == 400 and "use one of: status" in problem["detail"], problem
