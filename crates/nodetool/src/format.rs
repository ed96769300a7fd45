//! Renders admin API answers the way Apache Cassandra 4.1's nodetool prints them (column layout, size units,
//! percentages), so scripts and eyes used to Cassandra read Mica's output unchanged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mica_node_admin_api as api;

/// Cassandra's `FileUtils.stringifyFileSize`: binary units, at most two decimals, trailing zeros dropped.
pub fn file_size(bytes: u64) -> String {
    const UNITS: [(f64, &str); 4] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "TiB"),
        (1024.0 * 1024.0 * 1024.0, "GiB"),
        (1024.0 * 1024.0, "MiB"),
        (1024.0, "KiB"),
    ];
    let value = bytes as f64;
    for (size, unit) in UNITS {
        if value >= size {
            return format!("{} {unit}", two_decimals(value / size));
        }
    }
    format!("{bytes} bytes")
}

/// Java's `DecimalFormat("#.##")`: rounds half-even to two decimals and drops trailing zeros.
fn two_decimals(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Pads every column but the last to its widest cell, two spaces apart (nodetool's `TableBuilder`).
fn table(rows: &[Vec<String>]) -> String {
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
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `nodetool status`: one block per datacenter.
pub fn status(status: &api::ClusterStatus) -> String {
    let mut by_dc: BTreeMap<&str, Vec<&api::PeerStatus>> = BTreeMap::new();
    for n in &status.nodes {
        by_dc.entry(n.data_center.as_str()).or_default().push(n);
    }
    let effective = status.effective_ownership;
    let mut out = String::new();
    for (dc, mut nodes) in by_dc {
        nodes.sort_by(|a, b| a.address.cmp(&b.address));
        let title = format!("Datacenter: {dc}");
        let _ = writeln!(out, "{title}\n{}", "=".repeat(title.chars().count()));
        out.push_str("Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n");
        let owns_header = if effective { "Owns (effective)" } else { "Owns" };
        let mut rows = vec![
            ["--", "Address", "Load", "Tokens", owns_header, "Host ID", "Rack"]
                .map(String::from)
                .to_vec(),
        ];
        for n in nodes {
            let status = match n.status {
                api::NodeLiveness::Up => 'U',
                api::NodeLiveness::Down => 'D',
            };
            let state = match n.state {
                api::NodeState::Normal | api::NodeState::Stopped => 'N',
                api::NodeState::Joining => 'J',
                api::NodeState::Leaving => 'L',
                api::NodeState::Moving => 'M',
            };
            rows.push(vec![
                format!("{status}{state}"),
                n.address.clone(),
                file_size(n.load_bytes),
                n.tokens.to_string(),
                n.owns.map_or_else(|| "?".to_owned(), |o| format!("{o:.1}%")),
                n.host_id.to_string(),
                n.rack.clone(),
            ]);
        }
        out.push_str(&table(&rows));
        out.push('\n');
    }
    if !effective {
        out.push_str(
            "Note: Non-system keyspaces don't have the same replication settings, effective ownership information \
             is meaningless\n",
        );
    }
    out
}

/// `nodetool info` (`-T` lists every token).
pub fn info(info: &api::NodeInfo, all_tokens: bool) -> String {
    let mb = |kb: u64| format!("{:.2}", kb as f64 / 1024.0);
    let mut rows: Vec<(&str, String)> = vec![
        ("ID", info.host_id.to_string()),
        ("Gossip active", info.gossip_active.to_string()),
        (
            "Native Transport active",
            info.native_transport_active.to_string(),
        ),
        ("Load", file_size(info.load_bytes)),
        ("Uptime (seconds)", info.uptime_seconds.to_string()),
        (
            "Heap Memory (MB)",
            format!("{} / {}", mb(info.memory_used_kb), mb(info.memory_total_kb)),
        ),
        ("Off Heap Memory (MB)", "0.00".to_owned()),
        ("Data Center", info.data_center.clone()),
        ("Rack", info.rack.clone()),
        ("Exceptions", "0".to_owned()),
    ];
    if all_tokens {
        rows.extend(info.tokens.iter().map(|t| ("Token", t.to_string())));
    } else {
        rows.push((
            "Token",
            format!(
                "(invoke with -T/--tokens to see all {} tokens)",
                info.tokens.len()
            ),
        ));
    }
    rows.iter().map(|(k, v)| format!("{k:<23}: {v}\n")).collect()
}

/// `nodetool describecluster`.
pub fn describe_cluster(c: &api::DescribeCluster) -> String {
    let mut out = format!(
        "Cluster Information:\n\tName: {}\n\tSnitch: {}\n\tDynamicEndPointSnitch: enabled\n\tPartitioner: {}\n\
         \tSchema versions:\n",
        c.name, c.snitch, c.partitioner
    );
    for (version, hosts) in &c.schema_versions {
        let _ = writeln!(out, "\t\t{version}: [{}]\n", hosts.join(", "));
    }
    out
}

/// `nodetool ring`: per datacenter, the last token first (where the ring wraps), then every token in order.
pub fn ring(tokens: &[api::RingToken]) -> String {
    let mut by_dc: BTreeMap<&str, Vec<&api::RingToken>> = BTreeMap::new();
    for t in tokens {
        by_dc.entry(t.data_center.as_str()).or_default().push(t);
    }
    let mut out = String::new();
    for (dc, mut dc_tokens) in by_dc {
        dc_tokens.sort_by_key(|t| t.token);
        let width = dc_tokens
            .iter()
            .map(|t| t.address.len())
            .max()
            .unwrap_or(0)
            .max("Address".len())
            + 1;
        let _ = writeln!(out, "\nDatacenter: {dc}\n==========");
        let line = |out: &mut String, cells: [&str; 7]| {
            let _ = writeln!(
                out,
                "{:<width$}{:<12}{:<7}{:<8}{:<16}{:<20}{}",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
            );
        };
        line(
            &mut out,
            ["Address", "Rack", "Status", "State", "Load", "Owns", "Token"],
        );
        if let Some(last) = dc_tokens.last() {
            line(&mut out, ["", "", "", "", "", "", &last.token.to_string()]);
        }
        for t in dc_tokens {
            let status = match t.status {
                api::NodeLiveness::Up => "Up",
                api::NodeLiveness::Down => "Down",
            };
            let state = match t.state {
                api::NodeState::Normal | api::NodeState::Stopped => "Normal",
                api::NodeState::Joining => "Joining",
                api::NodeState::Leaving => "Leaving",
                api::NodeState::Moving => "Moving",
            };
            let owns = t.owns.map_or_else(|| "?".to_owned(), |o| format!("{o:.2}%"));
            line(
                &mut out,
                [
                    &t.address,
                    &t.rack,
                    status,
                    state,
                    &file_size(t.load_bytes),
                    &owns,
                    &t.token.to_string(),
                ],
            );
        }
    }
    out.push('\n');
    out
}

/// `nodetool tablestats`: grouped by keyspace.
pub fn table_stats(stats: &[api::TableStats]) -> String {
    let mut by_ks: BTreeMap<&str, Vec<&api::TableStats>> = BTreeMap::new();
    for t in stats {
        by_ks.entry(t.keyspace.as_str()).or_default().push(t);
    }
    let mut out = String::from("Total number of tables: ");
    let _ = writeln!(out, "{}\n----------------", stats.len());
    for (ks, tables) in by_ks {
        let _ = writeln!(out, "Keyspace : {ks}");
        for t in tables {
            let _ = writeln!(out, "\t\tTable: {}", t.table);
            let _ = writeln!(out, "\t\tSpace used (live): {}", t.space_used_bytes);
            let _ = writeln!(out, "\t\tSpace used (total): {}", t.space_used_bytes);
            out.push('\n');
        }
        out.push_str("----------------\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_info() -> api::NodeInfo {
        serde_json::from_str(
                r#"{"hostId":"00000000-0000-0000-0000-000000000001","clusterName":"c","releaseVersion":"4.1.5",
                "dataCenter":"dc1","rack":"rack1","listenAddress":"127.0.0.1","nativeAddress":"127.0.0.1:9042",
                "nativeTransportActive":true,"gossipActive":false,"tokens":[-5,7],"uptimeSeconds":12,
                "loadBytes":107180,"diskUsedKb":104,"diskFreeKb":1000,"memoryUsedKb":2048,"memoryTotalKb":4096,
                "cpuUsage":1.5}"#,
            )
            .expect("node info")
    }

    #[test]
    fn sizes_as_cassandra_prints_them() {
        assert_eq!(file_size(0), "0 bytes");
        assert_eq!(file_size(1023), "1023 bytes");
        assert_eq!(file_size(1024), "1 KiB");
        assert_eq!(file_size(107_180), "104.67 KiB");
        assert_eq!(file_size(1536 * 1024), "1.5 MiB");
        assert_eq!(file_size(3 * 1024 * 1024 * 1024), "3 GiB");
    }

    #[test]
    fn status_block() {
        let info = sample_info();
        let status = api::ClusterStatus {
            nodes: vec![api::PeerStatus {
                address: "127.0.0.1".into(),
                data_center: "dc1".into(),
                rack: "rack1".into(),
                state: api::NodeState::Normal,
                status: api::NodeLiveness::Up,
                load_bytes: 107_180,
                tokens: 16,
                owns: Some(100.0),
                host_id: info.host_id,
            }],
            effective_ownership: true,
        };
        assert_eq!(
            super::status(&status),
            "Datacenter: dc1\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n\
             --  Address    Load        Tokens  Owns (effective)  Host ID                               Rack\n\
             UN  127.0.0.1  104.67 KiB  16      100.0%            00000000-0000-0000-0000-000000000001  rack1\n\n"
        );
    }

    #[test]
    fn ring_lists_the_wrapping_token_first() {
        let token = |token: i64, address: &str| api::RingToken {
            token,
            address: address.into(),
            data_center: "dc1".into(),
            rack: "rack1".into(),
            state: api::NodeState::Normal,
            status: api::NodeLiveness::Up,
            load_bytes: 2048,
            owns: Some(50.0),
        };
        let text = ring(&[token(10, "127.0.0.2"), token(-5, "127.0.0.1")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "Datacenter: dc1");
        assert_eq!(lines[2], "==========");
        assert_eq!(
            lines[3],
            "Address   Rack        Status State   Load            Owns                Token"
        );
        assert_eq!(lines[4].trim(), "10");
        assert_eq!(
            lines[5],
            "127.0.0.1 rack1       Up     Normal  2 KiB           50.00%              -5"
        );
        assert!(
            lines[6].starts_with("127.0.0.2 ") && lines[6].ends_with("10"),
            "{text}"
        );
    }

    #[test]
    fn info_lines() {
        let text = info(&sample_info(), false);
        assert!(
            text.starts_with("ID                     : 00000000-0000-0000-0000-000000000001\n"),
            "{text}"
        );
        assert!(text.contains("Native Transport active: true\n"), "{text}");
        assert!(text.contains("Load                   : 104.67 KiB\n"), "{text}");
        assert!(text.ends_with("Token                  : (invoke with -T/--tokens to see all 2 tokens)\n"));
        let all = info(&sample_info(), true);
        assert!(
            all.ends_with("Token                  : -5\nToken                  : 7\n"),
            "{all}"
        );
    }
}
