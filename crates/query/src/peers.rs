//! The other nodes of the cluster as system.peers / system.peers_v2 show them: the node installs a
//! source (its gossip view) and the virtual table rows are generated from it on every read.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use mica_cql_types::{CqlValue, to_bytes};
use mica_schema::TableDef;
use uuid::Uuid;

use crate::engine::QueryEngine;

/// One other node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's broadcast (listen) address and storage port.
    pub peer: IpAddr,
    pub peer_port: u16,
    pub data_center: String,
    pub rack: String,
    pub host_id: Uuid,
    pub release_version: String,
    /// Where clients connect to the peer (rpc_address / native_address) and its native port.
    pub rpc_address: IpAddr,
    pub native_port: u16,
    pub schema_version: Option<Uuid>,
    pub tokens: Vec<i64>,
}

/// Produces the current peers (called on every read of system.peers*).
pub type PeerSource = Arc<dyn Fn() -> Vec<PeerInfo> + Send + Sync>;

/// The installed peer source, if any; without one the peers tables are empty.
#[derive(Default)]
pub(crate) struct Peers(OnceLock<PeerSource>);

impl QueryEngine {
    /// Installs the source of system.peers / peers_v2 rows (once; later calls are ignored).
    pub fn set_peer_source(&self, source: PeerSource) {
        if self.peers.0.set(source).is_err() {
            tracing::warn!("a peer source is already installed");
        }
    }
}

/// Adds the peer rows to `rows` when `table` is system.peers or system.peers_v2.
pub(crate) fn with_peer_rows(
    engine: &QueryEngine,
    table: &TableDef,
    mut rows: Vec<Vec<Option<Vec<u8>>>>,
) -> Vec<Vec<Option<Vec<u8>>>> {
    let v2 = match (table.keyspace.as_str(), table.name.as_str()) {
        ("system", "peers") => false,
        ("system", "peers_v2") => true,
        _ => return rows,
    };
    let Some(source) = engine.peers.0.get() else {
        return rows;
    };
    for p in source() {
        let mut tokens: Vec<String> = p.tokens.iter().map(i64::to_string).collect();
        tokens.sort();
        let tokens = CqlValue::Set(tokens.into_iter().map(CqlValue::Text).collect());
        let values: Vec<(&str, Option<CqlValue>)> = vec![
            ("peer", Some(CqlValue::Inet(p.peer))),
            ("peer_port", v2.then_some(CqlValue::Int(p.peer_port.into()))),
            ("data_center", Some(CqlValue::Text(p.data_center.clone()))),
            ("host_id", Some(CqlValue::Uuid(p.host_id))),
            ("preferred_ip", None),
            ("preferred_port", None),
            ("rack", Some(CqlValue::Text(p.rack.clone()))),
            ("release_version", Some(CqlValue::Text(p.release_version.clone()))),
            ("rpc_address", Some(CqlValue::Inet(p.rpc_address))),
            ("native_address", Some(CqlValue::Inet(p.rpc_address))),
            ("native_port", Some(CqlValue::Int(p.native_port.into()))),
            ("schema_version", p.schema_version.map(CqlValue::Uuid)),
            ("tokens", Some(tokens)),
        ];
        rows.push(
            table
                .columns
                .iter()
                .map(|c| {
                    values
                        .iter()
                        .find(|(name, _)| *name == c.name)
                        .and_then(|(_, v)| v.as_ref())
                        .and_then(|v| to_bytes(v, &c.typ).ok())
                })
                .collect(),
        );
    }
    rows
}
