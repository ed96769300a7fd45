//! Gossip endpoint state: the generation and heartbeat of a node and its versioned application
//! states (STATUS, DC, RACK, TOKENS, SCHEMA, ...), and the digest/delta rules of the exchange.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use mica_types::{HostId, Uuid};

/// The application states a node publishes; the numeric codes are part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppState {
    Status = 0,
    Dc = 1,
    Rack = 2,
    Tokens = 3,
    Schema = 4,
    RpcAddress = 5,
    ReleaseVersion = 6,
    NativeAddressAndPort = 7,
    HostId = 8,
}

impl AppState {
    /// The state with wire code `code`; unknown codes (from newer nodes) are `None` and skipped.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Status,
            1 => Self::Dc,
            2 => Self::Rack,
            3 => Self::Tokens,
            4 => Self::Schema,
            5 => Self::RpcAddress,
            6 => Self::ReleaseVersion,
            7 => Self::NativeAddressAndPort,
            8 => Self::HostId,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A node's lifecycle state as STATUS announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Bootstrapping (Cassandra's `BOOT`).
    Joining,
    Normal,
    Leaving,
    Left,
    /// Announced a clean shutdown (Cassandra's `shutdown,true`).
    Shutdown,
    /// No or an unrecognised STATUS yet.
    Unknown,
}

impl NodeStatus {
    /// The STATUS value published for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Joining => "BOOT",
            Self::Normal => "NORMAL",
            Self::Leaving => "LEAVING",
            Self::Left => "LEFT",
            Self::Shutdown => "shutdown",
            Self::Unknown => "",
        }
    }

    /// Reads a STATUS value; like Cassandra's, it may carry comma-separated arguments after the name.
    pub fn parse(value: &str) -> Self {
        match value.split(',').next().unwrap_or_default() {
            "BOOT" | "BOOT_REPLACE" => Self::Joining,
            "NORMAL" => Self::Normal,
            "LEAVING" => Self::Leaving,
            "LEFT" | "removed" | "removing" => Self::Left,
            "shutdown" => Self::Shutdown,
            _ => Self::Unknown,
        }
    }
}

/// One application state value with the version it was published at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    pub value: String,
    pub version: i32,
}

/// Everything gossip knows about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    /// The node's start time in seconds; a restart produces a higher generation.
    pub generation: i32,
    /// The heartbeat version, bumped every gossip round by the node itself.
    pub heartbeat: i32,
    pub states: BTreeMap<AppState, VersionedValue>,
}

impl EndpointState {
    pub fn new(generation: i32) -> Self {
        Self {
            generation,
            heartbeat: 0,
            states: BTreeMap::new(),
        }
    }

    /// The highest version in this state (heartbeat or application state), the digest's version.
    pub fn max_version(&self) -> i32 {
        self.states
            .values()
            .map(|v| v.version)
            .fold(self.heartbeat, i32::max)
    }

    /// The part of this state newer than `version` (heartbeat always included).
    pub fn delta_after(&self, version: i32) -> EndpointState {
        EndpointState {
            generation: self.generation,
            heartbeat: self.heartbeat,
            states: self
                .states
                .iter()
                .filter(|(_, v)| v.version > version)
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
        }
    }

    pub fn get(&self, key: AppState) -> Option<&str> {
        self.states.get(&key).map(|v| v.value.as_str())
    }

    pub fn status(&self) -> NodeStatus {
        self.get(AppState::Status)
            .map_or(NodeStatus::Unknown, NodeStatus::parse)
    }

    /// Merges `remote` of the same generation: each part is taken when its version is newer.
    /// Returns whether the heartbeat advanced.
    pub fn merge_same_generation(&mut self, remote: EndpointState) -> bool {
        let advanced = remote.heartbeat > self.heartbeat;
        self.heartbeat = self.heartbeat.max(remote.heartbeat);
        for (key, value) in remote.states {
            match self.states.get(&key) {
                Some(have) if have.version >= value.version => {}
                _ => {
                    self.states.insert(key, value);
                }
            }
        }
        advanced
    }
}

/// A digest: which generation and version of an endpoint's state the sender holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub address: SocketAddr,
    pub generation: i32,
    pub max_version: i32,
}

/// The typed view of one endpoint for callers (system.peers, nodetool status).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInfo {
    /// The gossip (storage port) address that identifies the node.
    pub address: SocketAddr,
    pub is_local: bool,
    /// The failure detector's verdict (always true for the local node).
    pub alive: bool,
    pub status: NodeStatus,
    pub generation: i32,
    pub heartbeat: i32,
    pub host_id: Option<HostId>,
    pub dc: Option<String>,
    pub rack: Option<String>,
    /// Sorted tokens from TOKENS.
    pub tokens: Vec<i64>,
    pub schema_version: Option<Uuid>,
    pub rpc_address: Option<IpAddr>,
    pub native_address: Option<SocketAddr>,
    pub release_version: Option<String>,
}

impl EndpointInfo {
    pub(crate) fn from_state(
        address: SocketAddr,
        state: &EndpointState,
        is_local: bool,
        alive: bool,
    ) -> Self {
        let text = |key| state.get(key).map(str::to_owned);
        Self {
            address,
            is_local,
            alive,
            status: state.status(),
            generation: state.generation,
            heartbeat: state.heartbeat,
            host_id: state
                .get(AppState::HostId)
                .and_then(|s| s.parse::<Uuid>().ok())
                .map(HostId),
            dc: text(AppState::Dc),
            rack: text(AppState::Rack),
            tokens: state.get(AppState::Tokens).map(parse_tokens).unwrap_or_default(),
            schema_version: state.get(AppState::Schema).and_then(|s| s.parse().ok()),
            rpc_address: state.get(AppState::RpcAddress).and_then(|s| s.parse().ok()),
            native_address: state
                .get(AppState::NativeAddressAndPort)
                .and_then(|s| s.parse().ok()),
            release_version: text(AppState::ReleaseVersion),
        }
    }
}

/// Renders tokens as the TOKENS value: comma-separated decimals.
pub fn format_tokens(tokens: &[i64]) -> String {
    tokens.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Reads a TOKENS value, skipping anything that is not a token; the result is sorted.
pub fn parse_tokens(value: &str) -> Vec<i64> {
    let mut tokens: Vec<i64> = value.split(',').filter_map(|t| t.trim().parse().ok()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(value: &str, version: i32) -> VersionedValue {
        VersionedValue {
            value: value.into(),
            version,
        }
    }

    #[test]
    fn merge_takes_newer_parts_only() {
        let mut local = EndpointState::new(5);
        local.heartbeat = 10;
        local.states.insert(AppState::Status, vv("BOOT", 3));
        local.states.insert(AppState::Dc, vv("dc1", 1));
        let mut remote = EndpointState::new(5);
        remote.heartbeat = 12;
        remote.states.insert(AppState::Status, vv("NORMAL", 11));
        remote.states.insert(AppState::Dc, vv("stale", 0));
        assert!(local.merge_same_generation(remote));
        assert_eq!(local.status(), NodeStatus::Normal);
        assert_eq!(local.get(AppState::Dc), Some("dc1"));
        assert_eq!(local.max_version(), 12);
        let delta = local.delta_after(10);
        assert_eq!(delta.states.len(), 1);
        assert_eq!(delta.heartbeat, 12);
    }

    #[test]
    fn status_and_tokens_parse() {
        assert_eq!(NodeStatus::parse("NORMAL,-12"), NodeStatus::Normal);
        assert_eq!(NodeStatus::parse("shutdown,true"), NodeStatus::Shutdown);
        assert_eq!(NodeStatus::parse("BOOT"), NodeStatus::Joining);
        assert_eq!(NodeStatus::parse("garbage"), NodeStatus::Unknown);
        assert_eq!(parse_tokens("5, -3,x,5"), vec![-3, 5]);
        assert_eq!(format_tokens(&[-3, 5]), "-3,5");
        for code in 0..=8 {
            assert_eq!(AppState::from_code(code).map(AppState::code), Some(code));
        }
        assert_eq!(AppState::from_code(200), None);
    }
}
