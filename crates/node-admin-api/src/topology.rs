//! Wire types of the admin API's topology endpoints: `decommission` and `removenode` (with its `status` and
//! `force` forms).

use serde::{Deserialize, Serialize};

/// `POST`: decommission this node (blocks until it has streamed its data and left; the node then exits).
pub const DECOMMISSION: &str = "/v1/decommission";
/// `POST` [`RemoveNodeRequest`]: remove a dead node from the ring, re-streaming its ranges (blocks until done).
pub const REMOVE_NODE: &str = "/v1/removenode";
/// `GET`: [`RemovalStatus`] of the removal this node coordinates.
pub const REMOVE_NODE_STATUS: &str = "/v1/removenode/status";
/// `POST`: complete the removal in progress without waiting for its streams.
pub const REMOVE_NODE_FORCE: &str = "/v1/removenode/force";

/// The node to remove.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveNodeRequest {
    /// The host ID as text (nodetool passes what the operator typed; the node checks it).
    pub host_id: String,
}

/// What `nodetool removenode status` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalStatus {
    pub status: String,
}
