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
}
