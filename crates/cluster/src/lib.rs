//! Cluster membership and the token ring for Mica nodes.
//!
//! - [`ring`]: vnode token allocation that keeps ownership balanced, ownership, and replica placement
//!   for SimpleStrategy and NetworkTopologyStrategy (pure functions over a ring snapshot).
//! - [`Gossiper`]: gossip membership over `storage_port`: every interval a node bumps its heartbeat
//!   and runs a SYN/ACK/ACK2 exchange with a random live peer (plus, as Cassandra does, sometimes an
//!   unreachable one and a seed); a phi-accrual failure detector (`phi_convict_threshold`) marks
//!   peers down; a restart is recognised by a higher generation. Nodes with another `cluster_name`
//!   are refused. With internode encryption every connection is mutual TLS against the truststore CA.
//!
//! # Wire format (version 1)
//!
//! Each exchange is one TCP (or TLS) connection: the initiator sends SYN, the receiver answers
//! ACK, the initiator closes with ACK2. Every message is a frame: a big-endian `u32` body length
//! (at most [`wire::MAX_FRAME_BYTES`]) and a body that starts with the version byte `1` and a kind
//! byte (`1` SYN, `2` ACK, `3` ACK2). Integers are big-endian.
//!
//! ```text
//! string   = u32 length, UTF-8 bytes
//! address  = u8 family (4 | 6), 4 or 16 address bytes, u16 port
//! digest   = address, i32 generation, i32 max_version
//! state    = address, i32 generation, i32 heartbeat, u16 count,
//!            count x (u8 application-state code, i32 version, string value)
//! SYN      = string cluster_name, u32 n, n x digest
//! ACK      = string cluster_name, u32 n, n x digest (requests), u32 m, m x state
//! ACK2     = u32 m, m x state
//! PULL     = string cluster_name, string topic
//! REPLY    = u8 found (0 | 1), if found: u32 length, payload bytes
//! ```
//!
//! A PULL (kind `4`) opens a connection of its own instead of a SYN and is answered by one REPLY
//! (kind `5`): nodes use it to fetch documents such as the schema from a peer over the same
//! authenticated (mutual TLS) channel as gossip; see [`Gossiper::pull`].
//!
//! Application-state codes are [`AppState`]'s discriminants; unknown codes are skipped so that newer
//! nodes can add states. A request digest's `max_version` is the version the requester already has
//! (0: send everything).

mod detector;
mod gossip;
pub mod ring;
mod state;
pub mod wire;

pub use gossip::{DEFAULT_GOSSIP_INTERVAL, GossipConfig, GossipError, GossipTls, Gossiper, PullHandler};
pub use state::{
    AppState, Digest, EndpointInfo, EndpointState, NodeStatus, VersionedValue, format_tokens, parse_tokens,
};
