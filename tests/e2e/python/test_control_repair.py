"""Automatic repairs end to end: a real `mica server` (repair interval shortened to 5 s through
MICA_REPAIR_INTERVAL_SECONDS) runs repair rounds on a 3-node cluster whose repairEnabled was left out (absent
means true, as in Azure). Each round runs `repair -pr` on every node through its admin API (seen in every node's
log and in the status resource's `repair` object), and no round starts while an operation is in progress."""

import json
import os
import re
import time

import pytest

import test_control
from conftest import connect_one
from test_control import Server, wait_operation

INTERVAL_SECONDS = 5
CLUSTER = "rep"
PASSWORD = "s3cret-pass"


@pytest.fixture
def server(tmp_path, monkeypatch):
    # A loopback block of this test's own, so helpers' suites running at the same time do not collide.
    monkeypatch.setattr(test_control, "FIRST_NODE_ADDRESS", f"127.{240 + os.getpid() % 10}.0.1")
    s = Server(tmp_path / "state", env={"MICA_REPAIR_INTERVAL_SECONDS": str(INTERVAL_SECONDS)})
    yield s
    s.stop()


def repair_status(server):
    status, _, body = server.http("GET", f"/clusters/{CLUSTER}/status")
    assert status == 200, body
    return body["repair"]


def wait_repair(server, done, timeout=120):
    """Polls the cluster status until `done(repair)` holds; returns that repair object."""
    deadline = time.time() + timeout
    while True:
        repair = repair_status(server)
        if done(repair):
            return repair
        assert time.time() < deadline, f"{repair}\n{server.read_log()[-4000:]}"
        time.sleep(0.5)


def node_log(server, i):
    return (server.state_dir / "clusters" / CLUSTER / "nodes" / f"dc1-{i}" / "logs" / "system.log").read_text(
        errors="replace")


def repairs_of_keyspace(server, i, keyspace):
    """How many repair commands node `i` has started for `keyspace` (Cassandra's progress message)."""
    return len(re.findall(rf"Starting repair command #\d+ .*repairing keyspace {keyspace} ", node_log(server, i)))


def test_repairs_run_on_every_node_and_wait_for_operations(server):
    created = json.loads(server.cli("cluster", "create", "-c", CLUSTER, "-i", PASSWORD,
                                    "--cluster-type", "NonProduction").stdout)
    assert created["properties"]["repairEnabled"] is True, created
    ca_pem = created["properties"]["gossipCertificates"][0]["pem"]
    op = json.loads(server.cli("datacenter", "create", "-c", CLUSTER, "-d", "dc1", "-n", "3", "--no-wait").stdout)
    assert wait_operation(server, op, timeout=300)["status"] == "Succeeded"
    dc = json.loads(server.cli("datacenter", "show", "-c", CLUSTER, "-d", "dc1").stdout)
    address = dc["properties"]["seedNodes"][0]["ipAddress"]

    # A keyspace replicated to all three nodes, with rows, so every node's primary ranges have data to compare.
    cluster, session = connect_one(address, ca_pem, PASSWORD)
    session.execute("CREATE KEYSPACE IF NOT EXISTS rks WITH replication = "
                    "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
    session.execute("CREATE TABLE IF NOT EXISTS rks.t (k int PRIMARY KEY, v text)")
    for k in range(50):
        session.execute("INSERT INTO rks.t (k, v) VALUES (%s, %s)", (k, f"v{k}"))
    cluster.shutdown()

    # A round that started after the keyspace existed completes without errors, and every node repaired it.
    # (Times are whole seconds: a round that started in the same second as this may have planned before the
    # table existed.)
    keyspace_ready = int(time.time()) + 1
    first = wait_repair(server, lambda r: (r.get("lastCompleted") or 0) > keyspace_ready
                        and (r.get("lastStarted") or 0) >= keyspace_ready)
    assert first["enabled"] is True and "lastError" not in first, first
    log = server.read_log()
    assert re.search(rf"repair: round of cluster {CLUSTER} started", log), log[-3000:]
    assert re.search(rf"repair: round of cluster {CLUSTER} completed", log), log[-3000:]
    assert len(re.findall(rf"repair: node {CLUSTER}/dc1/\d .* repaired: ", log)) >= 3, log[-3000:]

    # The next round follows (rounds here take longer than the 5 s interval, so they run back to back), and
    # by then every node has repaired the keyspace. (A node may skip a keyspace created a moment before its
    # repair planned; the next round covers it.)
    second = wait_repair(server, lambda r: (r.get("lastStarted") or 0) > first["lastCompleted"]
                         and (r.get("lastCompleted") or 0) >= r["lastStarted"] and not r["inProgress"])
    assert "lastError" not in second, second
    for i in range(3):
        assert repairs_of_keyspace(server, i, "rks") >= 1, node_log(server, i)[-3000:]

    # While an operation (a scale-out) is in progress no round starts; the due round waits and says why.
    op = json.loads(server.cli("datacenter", "update", "-c", CLUSTER, "-d", "dc1", "-n", "4", "--no-wait").stdout)
    seen_started, saw_waiting = set(), False
    deadline = time.time() + 300
    while op["status"] == "InProgress":
        assert time.time() < deadline, op
        repair = repair_status(server)
        seen_started.add(repair.get("lastStarted"))
        saw_waiting |= "is in progress" in (repair.get("waiting") or "")
        time.sleep(0.3)
        op = server.http("GET", op["id"])[2]
    assert op["status"] == "Succeeded", op
    started_during = [t for t in seen_started if t is not None and op["startTime"] < t < op["endTime"]]
    assert started_during == [], (op["startTime"], op["endTime"], seen_started)
    if op["endTime"] - op["startTime"] > INTERVAL_SECONDS + 2:
        assert saw_waiting, "a round fell due during the operation and should have waited for it"

    # After the operation the rounds go on, now over four nodes.
    after = wait_repair(server, lambda r: (r.get("lastStarted") or 0) >= op["endTime"]
                        and (r.get("lastCompleted") or 0) > r["lastStarted"] - 1 and not r["inProgress"])
    assert "lastError" not in after, after
    assert repairs_of_keyspace(server, 3, "rks") >= 1, node_log(server, 3)[-3000:]

    # The control plane is killed (SIGKILL) in the middle of a round, after its first node: restarted, it goes on
    # with the node it was repairing, not with a new round.
    first_node = test_control.FIRST_NODE_ADDRESS
    mid = wait_repair(server, lambda r: r["inProgress"] and r.get("currentNode") not in (None, first_node))
    server.proc.kill()
    server.proc.wait()
    server.log.close()
    restarted = Server(server.state_dir, env={"MICA_REPAIR_INTERVAL_SECONDS": str(INTERVAL_SECONDS)})
    try:
        deadline = time.time() + 120
        while "repair: round of cluster rep completed" not in restarted.read_log():
            assert time.time() < deadline, restarted.read_log()[-4000:]
            time.sleep(0.5)
        lines = [line for line in restarted.read_log().splitlines()
                 if "repair: round of" in line or "repair: cluster rep: repairing node" in line]
        assert "repairing node" in lines[0] and f"({mid['currentNode']})" in lines[0], (mid, lines)
        completed = next(i for i, line in enumerate(lines) if "completed" in line)
        assert not any("started" in line for line in lines[:completed]), lines
        assert not any(f"({first_node})" in line for line in lines[:completed]), lines
        resumed = repair_status(restarted)
        assert resumed["lastStarted"] >= mid["lastStarted"] and "lastError" not in resumed, (mid, resumed)

        # repairEnabled false stops the rounds.
        restarted.cli("cluster", "update", "-c", CLUSTER, "--repair-enabled", "false")
        off = repair_status(restarted)
        assert off["enabled"] is False and "nextScheduled" not in off and not off["inProgress"], off
        assert json.loads(restarted.cli("cluster", "show", "-c", CLUSTER).stdout)["properties"]["repairEnabled"] \
            is False
    finally:
        restarted.stop()
