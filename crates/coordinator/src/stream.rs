//! Streaming: copying the raw content of token ranges (deletions included, write timestamps kept) from a
//! peer into the local engine, page by page and throttled to `stream_throughput_outbound`. Bootstrap,
//! rebuild and repair build on it. Applying a page is idempotent (last write wins), so an interrupted
//! stream is resumed by streaming the range again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mica_storage::{PartitionKey, ScanRange, ScanStart, TableId, TokenBound};
use mica_types::Token;
use tokio::time::Instant;

use crate::error::CoordinatorError;
use crate::{Coordinator, verbs};

/// Partitions per streamed page.
pub const STREAM_PAGE: usize = 256;
/// How long one page may take before the stream fails (it can be resumed).
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished stream moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub partitions: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for StreamStats {
    fn add_assign(&mut self, other: StreamStats) {
        self.partitions += other.partitions;
        self.bytes += other.bytes;
    }
}

impl Coordinator {
    /// Copies the partitions of `table` with tokens in `(start, end]` from `peer` into the local engine
    /// (`start == i64::MIN` includes the ring's first token).
    pub async fn stream_range_from(
        self: &Arc<Self>,
        peer: SocketAddr,
        table: TableId,
        start: i64,
        end: i64,
    ) -> Result<StreamStats, CoordinatorError> {
        let mut stats = StreamStats::default();
        let mut resume: Option<PartitionKey> = None;
        let started = Instant::now();
        loop {
            let range = ScanRange {
                start: match (&resume, start) {
                    (Some(key), _) => ScanStart::Key {
                        key: key.clone(),
                        inclusive: false,
                    },
                    (None, i64::MIN) => ScanStart::Unbounded,
                    (None, s) => ScanStart::Token(TokenBound::Exclusive(Token(s))),
                },
                end: TokenBound::Inclusive(Token(end)),
            };
            let request = verbs::StreamRequest {
                table,
                range,
                limit: STREAM_PAGE,
                now_seconds: mica_types::now_seconds(),
            };
            let bytes = self
                .messaging
                .request(peer, verbs::STREAM, verbs::encode(&request)?, PAGE_TIMEOUT)
                .await
                .map_err(|e| CoordinatorError::Codec(format!("streaming from {peer}: {e}")))?;
            stats.bytes += bytes.len() as u64;
            let reply: verbs::StreamReply = verbs::decode(&bytes)?;
            stats.partitions += reply.partitions.len() as u64;
            resume = reply.partitions.last().map(|m| m.key.clone());
            if !reply.partitions.is_empty() {
                self.storage.apply(reply.partitions)?.await?;
            }
            self.throttle(stats.bytes, started).await;
            if !reply.truncated || resume.is_none() {
                return Ok(stats);
            }
        }
    }

    /// Sleeps as long as needed to keep the stream under `stream_throughput_outbound`.
    async fn throttle(&self, bytes: u64, started: Instant) {
        let limit = self.settings.stream_throughput_bytes_per_second();
        if limit == 0 {
            return;
        }
        let due = Duration::from_secs_f64(bytes as f64 / limit as f64);
        let elapsed = started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

/// The replica side: one page of raw partitions.
pub(crate) fn stream_page(
    storage: &dyn mica_storage::Engine,
    request: &verbs::StreamRequest,
) -> Result<verbs::StreamReply, CoordinatorError> {
    let stream = storage.scan_raw(
        request.table,
        &request.range,
        &mica_storage::ReadSelection::all(),
        mica_storage::ScanLimits::default(),
        request.now_seconds,
    )?;
    let mut partitions = Vec::new();
    let mut truncated = false;
    for partition in stream {
        if partitions.len() == request.limit {
            truncated = true;
            break;
        }
        partitions.push(partition?);
    }
    Ok(verbs::StreamReply {
        partitions,
        truncated,
    })
}
