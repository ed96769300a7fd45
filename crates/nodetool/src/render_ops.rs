//! Renders the ring, gossip and runtime-settings answers the way Apache Cassandra 4.1's nodetool prints them
//! (`describering`, `getendpoints`, `gossipinfo`, `gettimeout`, `getcompactionthroughput`,
//! `getstreamthroughput`).

use std::fmt::Write as _;

use mica_node_admin_api as api;

/// `nodetool describering`: the schema version, then one Thrift-style `TokenRange(...)` line per range.
pub fn describe_ring(ring: &api::DescribeRing) -> String {
    let mut out = format!("Schema Version:{}\nTokenRange: \n", ring.schema_version);
    for r in &ring.ranges {
        let details: Vec<String> = r
            .endpoint_details
            .iter()
            .map(|d| {
                format!(
                    "EndpointDetails(host:{}, datacenter:{}, rack:{})",
                    d.host, d.datacenter, d.rack
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\tTokenRange(start_token:{}, end_token:{}, endpoints:[{}], rpc_endpoints:[{}], endpoint_details:[{}])",
            r.start_token,
            r.end_token,
            r.endpoints.join(", "),
            r.rpc_endpoints.join(", "),
            details.join(", ")
        );
    }
    out
}

/// `nodetool getendpoints`: one replica address per line.
pub fn endpoints(addresses: &[String]) -> String {
    addresses.iter().map(|a| format!("{a}\n")).collect()
}

/// `nodetool gossipinfo`: per endpoint `/address`, generation, heartbeat and `NAME:version:value` lines (token
/// lists hidden, as Cassandra does).
pub fn gossip_info(endpoints: &[api::GossipEndpoint]) -> String {
    let mut out = String::new();
    for e in endpoints {
        let _ = writeln!(out, "/{}", e.address);
        let _ = writeln!(out, "  generation:{}", e.generation);
        let _ = writeln!(out, "  heartbeat:{}", e.heartbeat);
        for s in &e.states {
            if s.name == "TOKENS" {
                let _ = writeln!(out, "  TOKENS:{}:<hidden>", s.version);
            } else {
                let _ = writeln!(out, "  {}:{}:{}", s.name, s.version, s.value);
            }
        }
    }
    out
}

/// `nodetool gettimeout <type>`.
pub fn timeout(kind: &str, ms: u64) -> String {
    format!("Current timeout for type {kind}: {ms} ms\n")
}

/// `nodetool getcompactionthroughput`.
pub fn compaction_throughput(mib_per_sec: u64) -> String {
    format!("Current compaction throughput: {mib_per_sec} MB/s\n")
}

/// `nodetool getstreamthroughput`.
pub fn stream_throughput(mbit_per_sec: u64) -> String {
    format!("Current stream throughput: {mbit_per_sec} Mb/s\n")
}

/// How `snapshot` and `clearsnapshot` name the keyspaces they apply to.
fn keyspace_list(keyspaces: &[String]) -> String {
    if keyspaces.is_empty() {
        "[all keyspaces]".to_owned()
    } else {
        format!("[{}]", keyspaces.join(", "))
    }
}

/// `nodetool snapshot`'s announcement and result.
pub fn snapshot(keyspaces: &[String], tag: &str, skip_flush: bool) -> String {
    format!(
        "Requested creating snapshot(s) for {} with snapshot name [{tag}] and options {{skipFlush={skip_flush}}}\n\
         Snapshot directory: {tag}\n",
        keyspace_list(keyspaces)
    )
}

/// `nodetool clearsnapshot`'s announcement (`tag` is `None` for `--all`).
pub fn clear_snapshot(keyspaces: &[String], tag: Option<&str>) -> String {
    let which = match tag {
        Some(t) => format!("with snapshot name [{t}]"),
        None => "with [all snapshots]".to_owned(),
    };
    format!(
        "Requested clearing snapshot(s) for {} {which}\n",
        keyspace_list(keyspaces)
    )
}

/// nodetool's default `TableBuilder`: every column padded to its widest cell, one space apart.
fn padded_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(c, width)| format!("{:<width$}", row.get(c).map_or("", String::as_str)))
            .collect();
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    out
}

/// `nodetool listsnapshots`.
pub fn list_snapshots(snapshots: &[api::SnapshotDetails]) -> String {
    let mut out = String::from("Snapshot Details: \n");
    if snapshots.is_empty() {
        out.push_str("There are no snapshots\n");
        return out;
    }
    let mut rows = vec![
        [
            "Snapshot name",
            "Keyspace name",
            "Column family name",
            "True size",
            "Size on disk",
            "Creation time",
            "Expiration time",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in snapshots {
        rows.push(vec![
            s.tag.clone(),
            s.keyspace.clone(),
            s.table.clone(),
            crate::format::file_size(s.true_size_bytes),
            crate::format::file_size(s.size_on_disk_bytes),
            s.created_at.clone(),
            String::new(),
        ]);
    }
    out.push_str(&padded_table(&rows));
    let total: u64 = snapshots.iter().map(|s| s.true_size_bytes).sum();
    let _ = write!(
        out,
        "\nTotal TrueDiskSpaceUsed: {}\n\n",
        crate::format::file_size(total)
    );
    out
}

/// `nodetool tpstats`: the pool table, then dropped messages with their queue latencies (N/A: Mica has not
/// measured any).
pub fn tpstats(stats: &api::ActivityStats) -> String {
    let mut rows = vec![
        [
            "Pool Name",
            "Active",
            "Pending",
            "Completed",
            "Blocked",
            "All time blocked",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in &stats.pools {
        rows.push(vec![
            p.name.clone(),
            p.active.to_string(),
            p.pending.to_string(),
            p.completed.to_string(),
            p.blocked.to_string(),
            p.all_time_blocked.to_string(),
        ]);
    }
    let mut out = padded_table(&rows);
    let _ = writeln!(
        out,
        "\n{:<20}{:>10}{:>18}{:>18}{:>18}{:>18}",
        "Message type", "Dropped", "", "Latency waiting in queue (micros)", "", ""
    );
    let _ = writeln!(
        out,
        "{:<20}{:>10}{:>18}{:>18}{:>18}{:>18}",
        "", "", "50%", "95%", "99%", "Max"
    );
    for (message, dropped) in &stats.dropped {
        let _ = writeln!(
            out,
            "{message:<20}{dropped:>10}{:>18}{:>18}{:>18}{:>18}",
            "N/A", "N/A", "N/A", "N/A"
        );
    }
    out
}

/// `nodetool compactionstats` with no compaction running.
pub fn compaction_stats(stats: &api::ActivityStats) -> String {
    format!("pending tasks: {}\n\n", stats.pending_compactions)
}

/// `nodetool netstats`: mode, streams (Mica streams nothing yet), read repair and internode message pools.
pub fn netstats(stats: &api::ActivityStats) -> String {
    let mut out = format!(
        "Mode: {}\nNot sending any streams.\nRead Repair Statistics:\nAttempted: 0\nMismatch (Blocking): 0\n\
         Mismatch (Background): 0\n",
        stats.mode
    );
    let _ = writeln!(
        out,
        "{:<25}{:>10}{:>10}{:>15}{:>10}",
        "Pool Name", "Active", "Pending", "Completed", "Dropped"
    );
    // Mica has no internode request messaging yet; gossip runs but its messages are not counted.
    let gossip = if stats.gossip_active { "n/a" } else { "0" };
    for (pool, pending, completed) in [
        ("Large messages", "0", "0"),
        ("Small messages", "0", "0"),
        ("Gossip messages", gossip, gossip),
    ] {
        let _ = writeln!(
            out,
            "{pool:<25}{:>10}{pending:>10}{completed:>15}{:>10}",
            "n/a", "0"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describering_lines() {
        let ring = api::DescribeRing {
            schema_version: "59adb24e-f3cd-3e02-97f0-5b395827453f".into(),
            ranges: vec![api::TokenRange {
                start_token: -10,
                end_token: 20,
                endpoints: vec!["127.0.0.1".into(), "127.0.0.2".into()],
                rpc_endpoints: vec!["127.0.0.1".into(), "127.0.0.2".into()],
                endpoint_details: vec![
                    api::EndpointDetails {
                        host: "127.0.0.1".into(),
                        datacenter: "datacenter1".into(),
                        rack: "rack1".into(),
                    },
                    api::EndpointDetails {
                        host: "127.0.0.2".into(),
                        datacenter: "datacenter1".into(),
                        rack: "rack2".into(),
                    },
                ],
            }],
        };
        assert_eq!(
            describe_ring(&ring),
            "Schema Version:59adb24e-f3cd-3e02-97f0-5b395827453f\nTokenRange: \n\
             \tTokenRange(start_token:-10, end_token:20, endpoints:[127.0.0.1, 127.0.0.2], \
             rpc_endpoints:[127.0.0.1, 127.0.0.2], endpoint_details:[EndpointDetails(host:127.0.0.1, \
             datacenter:datacenter1, rack:rack1), EndpointDetails(host:127.0.0.2, datacenter:datacenter1, \
             rack:rack2)])\n"
        );
    }

    #[test]
    fn gossipinfo_blocks() {
        let e = api::GossipEndpoint {
            address: "127.0.0.1".into(),
            port: 7000,
            generation: 1_700_000_000,
            heartbeat: 42,
            states: vec![
                api::GossipState {
                    name: "STATUS".into(),
                    version: 9,
                    value: "NORMAL".into(),
                },
                api::GossipState {
                    name: "TOKENS".into(),
                    version: 4,
                    value: "1,2,3".into(),
                },
            ],
        };
        assert_eq!(
            gossip_info(&[e]),
            "/127.0.0.1\n  generation:1700000000\n  heartbeat:42\n  STATUS:9:NORMAL\n  TOKENS:4:<hidden>\n"
        );
    }

    #[test]
    fn settings_lines() {
        assert_eq!(timeout("read", 5000), "Current timeout for type read: 5000 ms\n");
        assert_eq!(
            compaction_throughput(64),
            "Current compaction throughput: 64 MB/s\n"
        );
        assert_eq!(stream_throughput(201), "Current stream throughput: 201 Mb/s\n");
        assert_eq!(
            endpoints(&["127.0.0.1".into(), "127.0.0.2".into()]),
            "127.0.0.1\n127.0.0.2\n"
        );
    }

    #[test]
    fn snapshot_lines() {
        assert_eq!(
            snapshot(&["ks".into(), "ks2".into()], "t1", false),
            "Requested creating snapshot(s) for [ks, ks2] with snapshot name [t1] and options {skipFlush=false}\n\
             Snapshot directory: t1\n"
        );
        assert_eq!(
            clear_snapshot(&[], None),
            "Requested clearing snapshot(s) for [all keyspaces] with [all snapshots]\n"
        );
        assert_eq!(
            clear_snapshot(&["ks".into()], Some("t1")),
            "Requested clearing snapshot(s) for [ks] with snapshot name [t1]\n"
        );
        assert_eq!(
            list_snapshots(&[]),
            "Snapshot Details: \nThere are no snapshots\n"
        );
        let listed = list_snapshots(&[api::SnapshotDetails {
            tag: "t1".into(),
            keyspace: "ks".into(),
            table: "tbl".into(),
            true_size_bytes: 2048,
            size_on_disk_bytes: 2048,
            created_at: "2023-11-14T22:13:20.000Z".into(),
        }]);
        assert_eq!(
            listed,
            "Snapshot Details: \n\
             Snapshot name Keyspace name Column family name True size Size on disk Creation time            Expiration time\n\
             t1            ks            tbl                2 KiB     2 KiB        2023-11-14T22:13:20.000Z                \n\
             \nTotal TrueDiskSpaceUsed: 2 KiB\n\n"
        );
    }

    fn activity() -> api::ActivityStats {
        api::ActivityStats {
            mode: "NORMAL".into(),
            pools: vec![api::PoolStats {
                name: "Native-Transport-Requests".into(),
                active: 1,
                pending: 0,
                completed: 42,
                blocked: 0,
                all_time_blocked: 0,
            }],
            dropped: [("READ_REQ".to_owned(), 0)].into_iter().collect(),
            pending_compactions: 0,
            gossip_active: false,
        }
    }

    #[test]
    fn stats_outputs() {
        let tp = tpstats(&activity());
        let lines: Vec<&str> = tp.lines().collect();
        assert_eq!(
            lines[0],
            "Pool Name                 Active Pending Completed Blocked All time blocked"
        );
        assert_eq!(
            lines[1],
            "Native-Transport-Requests 1      0       42        0       0               "
        );
        assert_eq!(lines[2], "");
        assert!(lines[3].starts_with("Message type           Dropped"), "{tp}");
        assert_eq!(
            lines[5],
            "READ_REQ                     0               N/A               N/A               N/A               N/A"
        );
        assert_eq!(compaction_stats(&activity()), "pending tasks: 0\n\n");
        let net = netstats(&activity());
        assert!(
            net.starts_with(
                "Mode: NORMAL\nNot sending any streams.\nRead Repair Statistics:\nAttempted: 0\n"
            )
        );
        assert!(
            net.contains(
                "\nPool Name                    Active   Pending      Completed   Dropped\n\
             Large messages                  n/a         0              0         0\n"
            ),
            "{net}"
        );
    }
}
