"""`mica nodetool` ring, gossip, settings and drain verbs against real nodes: describering, getendpoints,
gossipinfo, get/settimeout, get/setcompactionthroughput, get/setstreamthroughput and drain."""

import re
import socket
import time

from test_nodetool import nodetool


def seeds_yaml(*addresses):
    seeds = ",".join(addresses)
    return (
        "seed_provider:\n"
        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n"
        "    parameters:\n"
        f"      - seeds: \"{seeds}\"\n"
    )


TOKEN_RANGE = re.compile(
    r"^\tTokenRange\(start_token:(-?\d+), end_token:(-?\d+), endpoints:\[([^\]]*)\], rpc_endpoints:\[([^\]]*)\], "
    r"endpoint_details:\[(.*)\]\)$"
)


def test_describering_and_getendpoints_single_node(node, session):
    session.execute("CREATE KEYSPACE ops WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE ops.t (k int, c text, v int, PRIMARY KEY ((k, c)))")
    session.execute("CREATE TABLE ops.s (k text PRIMARY KEY, v int)")
    version = str(session.execute("SELECT schema_version FROM system.local").one().schema_version)
    tokens = sorted(int(t) for t in session.execute("SELECT tokens FROM system.local").one().tokens)

    lines = nodetool(node, "describering", "ops").stdout.splitlines()
    assert lines[0] == f"Schema Version:{version}", lines[0]
    assert lines[1] == "TokenRange: "
    ranges = [TOKEN_RANGE.match(line) for line in lines[2:]]
    assert all(ranges) and len(ranges) == len(tokens), lines
    assert sorted(int(m.group(2)) for m in ranges) == tokens
    for m in ranges:
        assert m.group(3) == node.address and m.group(4) == node.address
        assert m.group(5) == f"EndpointDetails(host:{node.address}, datacenter:dc1, rack:rack1)"

    assert nodetool(node, "getendpoints", "ops", "t", "1:a").stdout == f"{node.address}\n"
    assert nodetool(node, "getendpoints", "ops", "s", "some text").stdout == f"{node.address}\n"

    bad_key = nodetool(node, "getendpoints", "ops", "t", "x:a", check=False)
    assert bad_key.returncode != 0 and "400" in bad_key.stderr, bad_key.stderr
    no_ring = nodetool(node, "describering", "system", check=False)
    assert no_ring.returncode != 0 and "There is no ring for the keyspace: system" in no_ring.stderr
    missing = nodetool(node, "describering", "nope", check=False)
    assert missing.returncode != 0 and "Keyspace nope does not exist" in missing.stderr


def test_two_node_ring_gossipinfo(node_factory):
    first = node_factory(tls=False, auth=False)
    first.config.write_text(first.config.read_text() + seeds_yaml(first.address))
    first.start()
    second = node_factory(tls=False, auth=False)
    second.config.write_text(second.config.read_text() + seeds_yaml(first.address))
    second.start()

    deadline = time.time() + 30
    while time.time() < deadline:
        status = nodetool(first, "status").stdout
        if status.count("UN  ") == 2:
            break
        time.sleep(0.5)
    assert status.count("UN  ") == 2, status

    cluster = first.cluster()
    session = cluster.connect()
    session.execute("CREATE KEYSPACE ring2 WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2}")
    session.execute("CREATE TABLE ring2.t (k int PRIMARY KEY)")
    cluster.shutdown()
    deadline = time.time() + 30
    while time.time() < deadline:
        result = nodetool(second, "describering", "ring2", check=False)
        if result.returncode == 0:
            break
        time.sleep(0.5)
    lines = result.stdout.splitlines()
    ranges = [TOKEN_RANGE.match(line) for line in lines[2:]]
    assert ranges and all(ranges), lines
    for m in ranges:
        assert sorted(m.group(3).split(", ")) == sorted([first.address, second.address]), m.group(0)

    replicas = nodetool(second, "getendpoints", "ring2", "t", "42").stdout.splitlines()
    assert sorted(replicas) == sorted([first.address, second.address]), replicas
    missing = nodetool(first, "getendpoints", "ring2", "nope", "1", check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr

    info = nodetool(first, "gossipinfo").stdout
    blocks = re.split(r"(?m)^(?=/)", info)
    blocks = [b for b in blocks if b]
    assert sorted(b.splitlines()[0] for b in blocks) == sorted([f"/{first.address}", f"/{second.address}"]), info
    for block in blocks:
        lines = block.splitlines()
        assert re.match(r"  generation:\d+$", lines[1]) and re.match(r"  heartbeat:\d+$", lines[2]), block
        names = [line.split(":")[0].strip() for line in lines[3:]]
        assert names == [
            "STATUS",
            "SCHEMA",
            "DC",
            "RACK",
            "RELEASE_VERSION",
            "RPC_ADDRESS",
            "HOST_ID",
            "TOKENS",
            "NATIVE_ADDRESS_AND_PORT",
        ], block
        assert re.search(r"(?m)^  TOKENS:\d+:<hidden>$", block) and "  DC:" in block and ":dc1" in block


def test_gossipinfo_lone_node(node, session):
    host_id = str(session.execute("SELECT host_id FROM system.local").one().host_id)
    info = nodetool(node, "gossipinfo").stdout.splitlines()
    assert info[0] == f"/{node.address}"
    assert re.match(r"  generation:\d+$", info[1]) and info[2] == "  heartbeat:0"
    assert any(re.match(rf"  HOST_ID:\d+:{host_id}$", line) for line in info), info
    assert any(re.match(r"  STATUS:\d+:NORMAL$", line) for line in info), info


def test_timeouts_and_throughput(node):
    assert nodetool(node, "gettimeout", "read").stdout == "Current timeout for type read: 5000 ms\n"
    assert nodetool(node, "gettimeout", "write").stdout == "Current timeout for type write: 2000 ms\n"
    assert nodetool(node, "gettimeout", "misc").stdout == "Current timeout for type misc: 10000 ms\n"
    nodetool(node, "settimeout", "read", "1234")
    assert nodetool(node, "gettimeout", "read").stdout == "Current timeout for type read: 1234 ms\n"
    nodetool(node, "settimeout", "cascontention", "777")
    assert nodetool(node, "gettimeout", "cascontention").stdout == "Current timeout for type cascontention: 777 ms\n"
    bad = nodetool(node, "settimeout", "bogus", "1", check=False)
    assert bad.returncode != 0 and "read, range, write" in bad.stderr, bad.stderr

    assert nodetool(node, "getcompactionthroughput").stdout == "Current compaction throughput: 64 MB/s\n"
    assert nodetool(node, "setcompactionthroughput", "16").stdout == ""
    assert nodetool(node, "getcompactionthroughput").stdout == "Current compaction throughput: 16 MB/s\n"
    # cassandra.yaml's default stream_throughput_outbound of 24MiB/s is 201 megabits per second.
    assert nodetool(node, "getstreamthroughput").stdout == "Current stream throughput: 201 Mb/s\n"
    nodetool(node, "setstreamthroughput", "400")
    assert nodetool(node, "getstreamthroughput").stdout == "Current stream throughput: 400 Mb/s\n"


def test_drain_stops_cql_but_not_the_node(node, session):
    session.execute("CREATE KEYSPACE dr WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE dr.t (k int PRIMARY KEY, v int)")
    session.execute("INSERT INTO dr.t (k, v) VALUES (1, 1)")
    assert nodetool(node, "drain").stdout == ""
    deadline = time.time() + 10
    refused = False
    while time.time() < deadline and not refused:
        try:
            with socket.create_connection((node.address, node.port), timeout=0.5):
                time.sleep(0.2)
        except OSError:
            refused = True
    assert refused, "the native port still accepts connections after drain"
    info = nodetool(node, "info").stdout
    assert "Native Transport active: false" in info, info
    assert node.proc.poll() is None, "the node keeps running after drain"
    nodetool(node, "stopdaemon")
    assert node.proc.wait(timeout=30) == 0


def test_snapshot_list_and_clear(node, session):
    import json

    session.execute("CREATE KEYSPACE snap WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE snap.t (k int PRIMARY KEY, v text)")
    for k in range(10):
        session.execute("INSERT INTO snap.t (k, v) VALUES (%s, %s)", (k, f"v{k}"))
    table_id = str(
        session.execute(
            "SELECT id FROM system_schema.tables WHERE keyspace_name = 'snap' AND table_name = 't'"
        ).one().id
    ).replace("-", "")

    assert nodetool(node, "listsnapshots").stdout == "Snapshot Details: \nThere are no snapshots\n"
    out = nodetool(node, "snapshot", "-t", "before", "snap").stdout
    assert out == (
        "Requested creating snapshot(s) for [snap] with snapshot name [before] and options {skipFlush=false}\n"
        "Snapshot directory: before\n"
    ), out
    # Writes after the snapshot are not in it.
    session.execute("INSERT INTO snap.t (k, v) VALUES (100, 'late')")
    table_dir = node.directory / "data" / "data" / "snapshots" / "before" / "snap" / f"t-{table_id}"
    manifest = json.loads((table_dir / "manifest.json").read_text())
    assert manifest["files"] == ["data.jsonl"] and manifest["partitions"] == 10, manifest
    lines = (table_dir / "data.jsonl").read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(line)["rows"] for line in lines)

    duplicate = nodetool(node, "snapshot", "-t", "before", "snap", check=False)
    assert duplicate.returncode != 0 and "Snapshot before already exists" in duplicate.stderr

    auto = nodetool(node, "snapshot", "snap").stdout
    tag = re.search(r"Snapshot directory: (\d+)\n$", auto).group(1)

    listing_text = nodetool(node, "listsnapshots").stdout
    assert listing_text.endswith("\n\n")
    listing = listing_text.splitlines()
    assert listing[0] == "Snapshot Details: "
    assert re.match(
        r"Snapshot name\s+Keyspace name Column family name True size\s+Size on disk Creation time\s+Expiration time",
        listing[1],
    ), listing[1]
    rows = [line.split() for line in listing[2:] if line.strip() and not line.startswith("Total")]
    assert sorted(r[0] for r in rows) == sorted(["before", tag]) and all(r[1:3] == ["snap", "t"] for r in rows)
    assert listing[-3:-2] == [""] and listing[-1] == ""
    assert re.match(r"Total TrueDiskSpaceUsed: [\d.]+ (bytes|KiB|MiB)$", listing[-2]), listing

    missing = nodetool(node, "clearsnapshot", check=False)
    assert missing.returncode != 0 and "Specify snapshot name or --all" in missing.stderr
    out = nodetool(node, "clearsnapshot", "-t", "before").stdout
    assert out == "Requested clearing snapshot(s) for [all keyspaces] with snapshot name [before]\n"
    assert not table_dir.exists()
    out = nodetool(node, "clearsnapshot", "--all", "snap").stdout
    assert out == "Requested clearing snapshot(s) for [snap] with [all snapshots]\n"
    assert nodetool(node, "listsnapshots").stdout == "Snapshot Details: \nThere are no snapshots\n"
    assert session.execute("SELECT count(*) FROM snap.t").one()[0] == 11


def test_tpstats_compactionstats_netstats(node, session):
    before = nodetool(node, "tpstats").stdout.splitlines()
    assert re.match(r"Pool Name\s+Active Pending Completed Blocked All time blocked$", before[0]), before[0]
    completed_before = int(before[1].split()[3])
    for _ in range(5):
        session.execute("SELECT release_version FROM system.local")
    after = nodetool(node, "tpstats").stdout.splitlines()
    row = after[1].split()
    assert row[0] == "Native-Transport-Requests" and int(row[3]) >= completed_before + 5, after
    assert any(line.startswith("Message type") and "Dropped" in line for line in after), after

    assert nodetool(node, "compactionstats").stdout == "pending tasks: 0\n\n"

    net = nodetool(node, "netstats").stdout.splitlines()
    assert net[:6] == [
        "Mode: NORMAL",
        "Not sending any streams.",
        "Read Repair Statistics:",
        "Attempted: 0",
        "Mismatch (Blocking): 0",
        "Mismatch (Background): 0",
    ], net
    assert re.match(r"Pool Name\s+Active\s+Pending\s+Completed\s+Dropped$", net[6])
    assert [line.split("  ")[0] for line in net[7:]] == ["Large messages", "Small messages", "Gossip messages"]

    nodetool(node, "drain")
    assert nodetool(node, "netstats").stdout.startswith("Mode: DRAINED\n")
