//! Cluster membership and the token ring for Mica nodes.
//!
//! - [`ring`]: vnode token allocation that keeps ownership balanced, ownership, and replica placement
//!   for SimpleStrategy and NetworkTopologyStrategy (pure functions over a ring snapshot).
//! - [`Gossiper`]: gossip membership over `storage_port`: every interval a node bumps its heartbeat
//!   and runs a SYN/ACK/ACK2 exchange with a random live peer (plus, as Cassandra does, sometimes an
//!   unreachable one and a seed); a phi-accrual failure detector (`phi_convict_threshold`) marks
//!   peers down; a restart is recognised by a higher generation. Nodes with another `cluster_name`
//!   are refused. With internode encryption every connection is mutual TLS against the truststore CA.
//! - [`Messaging`]: internode request/response messaging on the same port (one persistent,
//!   pipelined connection per peer), obtained with [`Gossiper::messaging`].
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
//! OPEN_MESSAGING     = string cluster_name, address from
//! MESSAGING_ACCEPTED = (empty)
//! ```
//!
//! A PULL (kind `4`) opens a connection of its own instead of a SYN and is answered by one REPLY
//! (kind `5`): nodes use it to fetch documents such as the schema from a peer over the same
//! authenticated (mutual TLS) channel as gossip; see [`Gossiper::pull`].
//!
//! Application-state codes are [`AppState`]'s discriminants; unknown codes are skipped so that newer
//! nodes can add states. A request digest's `max_version` is the version the requester already has
//! (0: send everything).
//!
//! An OPEN_MESSAGING (kind `6`) also replaces the SYN: it turns the connection into the sender's
//! outbound [`Messaging`] connection (`from` is the sender's storage address, the one gossip knows
//! it by). The receiver checks the cluster name as for a SYN (closing the connection on a mismatch),
//! answers MESSAGING_ACCEPTED (kind `7`), and from then on both sides exchange messaging frames on
//! that connection. Requests flow only from the opener; replies flow back on the same connection.
//!
//! # Messaging frames (version 1)
//!
//! ```text
//! frame   = u32 body_length (12 ..= MAX_MESSAGE_BYTES), body
//! body    = u8 version (1), u8 kind, u64 request_id, u16 verb, payload bytes (the rest)
//! kind    = 1 request | 2 reply | 3 error reply | 4 one-way (no reply)
//! error reply payload = u8 code (1 handler error | 2 no handler for the verb | 3 reply too large),
//!                       UTF-8 message (the handler's error text, or the reply size for code 3)
//! ```
//!
//! A reply and an error reply carry the request's id and verb. A frame that cannot be decoded closes
//! the connection, which fails the requests pending on it.

mod detector;
mod gossip;
mod messaging;
pub mod ring;
mod state;
pub mod wire;

pub use gossip::{DEFAULT_GOSSIP_INTERVAL, GossipConfig, GossipError, GossipTls, Gossiper, PullHandler};
pub use messaging::{
    CONNECT_TIMEOUT, FrameError, Handler, MAX_MESSAGE_BYTES, MESSAGING_VERSION, Messaging, MessagingError,
    RECONNECT_BACKOFF, Verb,
};
pub use state::{
    AppState, Digest, EndpointInfo, EndpointState, NodeStatus, VersionedValue, format_tokens, parse_tokens,
};
