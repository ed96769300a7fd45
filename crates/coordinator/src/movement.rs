//! Range movements for topology changes (bootstrap, decommission, removenode): asking a node to pull a
//! token range of a table from a source replica, locally or through the STREAM_FROM verb.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use mica_cluster::{Handler, Verb};
use mica_storage::TableId;
use serde::{Deserialize, Serialize};

use crate::error::CoordinatorError;
use crate::stream::StreamStats;
use crate::{Coordinator, verbs};

/// Ask a node to stream a range of a table from a source into itself (reply: [`StreamFromReply`]).
pub const STREAM_FROM: Verb = 0x0301;
/// How long one whole range transfer may take before the requester gives up (it can be retried).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

/// Pull `(start, end]` of `table` from `source`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamFromRequest {
    pub source: SocketAddr,
    pub table: TableId,
    pub start: i64,
    pub end: i64,
}

/// What the transfer moved.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamFromReply {
    pub partitions: u64,
    pub bytes: u64,
}

/// Registers the STREAM_FROM handler; it holds the coordinator weakly so it never keeps it alive.
pub(crate) fn register(coordinator: &Arc<Coordinator>) {
    let weak: Weak<Coordinator> = Arc::downgrade(coordinator);
    let handler: Handler = Arc::new(move |_peer, payload| {
        let weak = weak.clone();
        Box::pin(async move {
            let coordinator = weak.upgrade().ok_or("the node is shutting down")?;
            let request: StreamFromRequest = verbs::decode(&payload).map_err(|e| e.to_string())?;
            let stats = coordinator
                .stream_range_from(request.source, request.table, request.start, request.end)
                .await
                .map_err(|e| e.to_string())?;
            verbs::encode(&StreamFromReply {
                partitions: stats.partitions,
                bytes: stats.bytes,
            })
            .map_err(|e| e.to_string())
        })
    });
    coordinator.messaging.set_handler(STREAM_FROM, handler);
}

impl Coordinator {
    /// Makes `target` copy `(start, end]` of `table` from `source`: this node streams itself when it is
    /// the target, otherwise it asks the target with STREAM_FROM and waits for the transfer to finish.
    pub async fn transfer_range(
        self: &Arc<Self>,
        target: SocketAddr,
        source: SocketAddr,
        table: TableId,
        start: i64,
        end: i64,
    ) -> Result<StreamStats, CoordinatorError> {
        if target == self.topology.local_addr() {
            return self.stream_range_from(source, table, start, end).await;
        }
        let request = StreamFromRequest {
            source,
            table,
            start,
            end,
        };
        let bytes = self
            .messaging
            .request(target, STREAM_FROM, verbs::encode(&request)?, TRANSFER_TIMEOUT)
            .await
            .map_err(|e| CoordinatorError::Codec(format!("streaming to {target} from {source}: {e}")))?;
        let reply: StreamFromReply = verbs::decode(&bytes)?;
        Ok(StreamStats {
            partitions: reply.partitions,
            bytes: reply.bytes,
        })
    }
}
