//! Internode verbs of the coordinator and their payloads (serde structs in postcard's compact binary form).
//! Every payload begins with its own version byte so that nodes of different releases can refuse what they
//! do not understand instead of misreading it.

use mica_cluster::Verb;
use mica_storage::{Mutation, PartitionKey, ReadSelection, ScanRange, TableId};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::CoordinatorError;

/// Apply mutations on a replica (reply: empty).
pub const MUTATION: Verb = 0x0101;
/// Apply a hinted mutation on its replica (reply: empty).
pub const HINT: Verb = 0x0102;
/// Read raw partitions (reply: [`ReadReply`]).
pub const READ: Verb = 0x0103;
/// List partition keys in a token range (reply: [`KeysReply`]).
pub const KEYS: Verb = 0x0104;

/// Store a logged batch in the batchlog (payload: `batchlog::BatchlogEntry`; reply: empty).
pub const BATCH_STORE: Verb = 0x0106;
/// Forget a written batch (one-way; payload: `batchlog::BatchlogRemove`).
pub const BATCH_REMOVE: Verb = 0x0107;

/// Paxos prepare (payload: `paxos::PaxosRequest`; reply: `paxos::Promise`).
pub const PAXOS_PREPARE: Verb = 0x0108;
/// Paxos propose (payload: `paxos::PaxosRequest`; reply: bool accepted).
pub const PAXOS_PROPOSE: Verb = 0x0109;
/// Paxos commit: apply the update and record it (payload: `paxos::PaxosRequest`; reply: empty).
pub const PAXOS_COMMIT: Verb = 0x010a;

/// The payload format version.
const PAYLOAD_VERSION: u8 = 1;

/// A read of one or several partitions of a table.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadRequest {
    pub table: TableId,
    pub keys: Vec<PartitionKey>,
    pub selection: ReadSelection,
    pub now_seconds: i64,
}

/// Raw partitions (deletions included), one per requested key.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadReply {
    pub partitions: Vec<Option<Mutation>>,
}

/// The partition keys holding anything (data or deletions) in a token range, at most `limit`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeysRequest {
    pub table: TableId,
    pub range: ScanRange,
    pub limit: usize,
    pub now_seconds: i64,
}

/// Keys in token order; `truncated` when the limit stopped the listing.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeysReply {
    pub keys: Vec<PartitionKey>,
    pub truncated: bool,
}

/// Encodes a payload with its version byte.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CoordinatorError> {
    let mut out = vec![PAYLOAD_VERSION];
    postcard::to_io(value, &mut out).map_err(|e| CoordinatorError::Codec(e.to_string()))?;
    Ok(out)
}

/// Decodes a payload, checking its version byte.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CoordinatorError> {
    match bytes.split_first() {
        Some((&PAYLOAD_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| CoordinatorError::Codec(e.to_string()))
        }
        Some((v, _)) => Err(CoordinatorError::Codec(format!(
            "unsupported payload version {v}"
        ))),
        None => Err(CoordinatorError::Codec("empty payload".into())),
    }
}

/// Stream the raw partitions of a token range (reply: [`StreamReply`]).
pub const STREAM: Verb = 0x0105;

/// A page of a range's raw partitions, deletions included, at most `limit` partitions.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamRequest {
    pub table: TableId,
    pub range: ScanRange,
    pub limit: usize,
    pub now_seconds: i64,
}

/// Raw partitions in token order; `truncated` when the limit stopped the page.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamReply {
    pub partitions: Vec<Mutation>,
    pub truncated: bool,
}
