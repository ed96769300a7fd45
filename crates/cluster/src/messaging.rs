//! Internode request/response messaging over the storage port: one persistent, pipelined outbound
//! connection per peer, opened with a gossip `OpenMessaging` message (layout in the crate docs).
//!
//! Connections and handlers run on a small multi-thread runtime owned by the service, so callers on
//! any runtime (or on `spawn_blocking` threads through `Handle::block_on`) only touch channels.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot};

use crate::gossip::{GossipTls, Stream, connect_stream};
use crate::wire::{Message, read_message, write_message};

/// Identifies what a request asks for; the application assigns the numbers.
pub type Verb = u16;

/// Serves one verb: gets the requesting peer's storage address and the payload, returns the reply
/// payload or an error message the requester receives as [`MessagingError::Remote`].
pub type Handler = Arc<
    dyn Fn(SocketAddr, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>>
        + Send
        + Sync,
>;

/// The messaging frame format version.
pub const MESSAGING_VERSION: u8 = 1;
/// The largest frame body (header and payload) sent or accepted.
pub const MAX_MESSAGE_BYTES: u32 = 256 * 1024 * 1024;
/// The frame body header: version, kind, request id, verb.
const HEADER_BYTES: usize = 1 + 1 + 8 + 2;
/// How long connecting, the TLS handshake and the OpenMessaging exchange may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connect, requests to that peer fail at once for this long instead of redialling.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(200);
/// Worker threads of the messaging runtime (connections and handlers).
const WORKER_THREADS: usize = 2;
/// Read and write buffer size per connection.
const BUFFER_BYTES: usize = 64 * 1024;

const KIND_REQUEST: u8 = 1;
const KIND_REPLY: u8 = 2;
const KIND_ERROR_REPLY: u8 = 3;
const KIND_ONE_WAY: u8 = 4;

/// Error-reply codes: the first payload byte of an error reply, followed by a UTF-8 message.
const ERROR_HANDLER: u8 = 1;
const ERROR_NO_HANDLER: u8 = 2;
const ERROR_TOO_LARGE: u8 = 3;

/// Why a request got no reply payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessagingError {
    #[error("internode request timed out")]
    Timeout,
    #[error("cannot open a messaging connection: {0}")]
    Connect(String),
    #[error("messaging connection closed")]
    Closed,
    #[error("remote handler failed: {0}")]
    Remote(String),
    #[error("the peer has no handler for verb {0}")]
    NoHandler(Verb),
    #[error("internode message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
}

/// Why bytes are not a valid messaging frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("messaging frame of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(u32),
    #[error("messaging frame of {0} bytes is shorter than its header")]
    Truncated(u32),
    #[error("unsupported messaging version {0}")]
    Version(u8),
    #[error("unknown messaging frame kind {0}")]
    Kind(u8),
}

/// The fixed part of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: u8,
    id: u64,
    verb: Verb,
}

/// One frame to write.
struct Frame {
    header: Header,
    payload: Vec<u8>,
}

impl Header {
    /// The length prefix and header of a frame with `payload_len` payload bytes.
    fn encode(&self, payload_len: usize) -> Result<[u8; 4 + HEADER_BYTES], MessagingError> {
        let body = u32::try_from(payload_len + HEADER_BYTES)
            .ok()
            .filter(|b| *b <= MAX_MESSAGE_BYTES)
            .ok_or(MessagingError::TooLarge(payload_len))?;
        let mut out = [0u8; 4 + HEADER_BYTES];
        out[0..4].copy_from_slice(&body.to_be_bytes());
        out[4] = MESSAGING_VERSION;
        out[5] = self.kind;
        out[6..14].copy_from_slice(&self.id.to_be_bytes());
        out[14..16].copy_from_slice(&self.verb.to_be_bytes());
        Ok(out)
    }

    /// Parses a length prefix and header; returns the header and the payload length.
    fn decode(bytes: &[u8; 4 + HEADER_BYTES]) -> Result<(Header, usize), FrameError> {
        let (len, rest) = bytes.split_at(4);
        let body = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        if body > MAX_MESSAGE_BYTES {
            return Err(FrameError::TooLarge(body));
        }
        let payload_len = (body as usize)
            .checked_sub(HEADER_BYTES)
            .ok_or(FrameError::Truncated(body))?;
        if rest[0] != MESSAGING_VERSION {
            return Err(FrameError::Version(rest[0]));
        }
        let kind = rest[1];
        if !(KIND_REQUEST..=KIND_ONE_WAY).contains(&kind) {
            return Err(FrameError::Kind(kind));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&rest[2..10]);
        let verb = u16::from_be_bytes([rest[10], rest[11]]);
        Ok((
            Header {
                kind,
                id: u64::from_be_bytes(id),
                verb,
            },
            payload_len,
        ))
    }
}

/// Reads one frame; `None` at a clean end of stream between frames.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<(Header, Vec<u8>)>> {
    let mut head = [0u8; 4 + HEADER_BYTES];
    match r.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..]).await?;
    let (header, len) = Header::decode(&head).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some((header, payload)))
}

/// Writes queued frames, flushing whenever the queue runs empty so that bursts share syscalls.
async fn write_frames<W: AsyncWrite + Unpin>(
    w: W,
    queue: &mut mpsc::UnboundedReceiver<Frame>,
) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(BUFFER_BYTES, w);
    while let Some(mut frame) = queue.recv().await {
        loop {
            // Sizes were checked when the frame was queued; an oversized one is skipped, not sent.
            if let Ok(head) = frame.header.encode(frame.payload.len()) {
                w.write_all(&head).await?;
                w.write_all(&frame.payload).await?;
            }
            match queue.try_recv() {
                Ok(next) => frame = next,
                Err(_) => break,
            }
        }
        w.flush().await?;
    }
    Ok(())
}

type ReplySender = oneshot::Sender<Result<Vec<u8>, MessagingError>>;

/// The requests waiting for replies on one outbound connection.
struct Pending {
    waiting: HashMap<u64, ReplySender>,
    /// Set when the connection is gone: what every later request on it fails with.
    closed: Option<MessagingError>,
}

/// One outbound connection (possibly still connecting).
struct Outbound {
    id: u64,
    queue: mpsc::UnboundedSender<Frame>,
    pending: Mutex<Pending>,
}

impl Outbound {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, id: u64, reply: ReplySender) -> Result<(), MessagingError> {
        let mut pending = self.pending();
        if let Some(e) = &pending.closed {
            return Err(e.clone());
        }
        pending.waiting.insert(id, reply);
        Ok(())
    }

    fn unregister(&self, id: u64) {
        self.pending().waiting.remove(&id);
    }

    fn complete(&self, id: u64, result: Result<Vec<u8>, MessagingError>) {
        // A reply whose requester gave up (timed out) finds nothing and is dropped.
        if let Some(reply) = self.pending().waiting.remove(&id) {
            let _ = reply.send(result);
        }
    }

    /// Fails every waiting request and every later one with `error`.
    fn fail(&self, error: MessagingError) {
        let waiting = {
            let mut pending = self.pending();
            pending.closed.get_or_insert(error.clone());
            std::mem::take(&mut pending.waiting)
        };
        for (_, reply) in waiting {
            let _ = reply.send(Err(error.clone()));
        }
    }

    fn closed_error(&self) -> MessagingError {
        self.pending().closed.clone().unwrap_or(MessagingError::Closed)
    }
}

/// What the service knows about a peer.
enum Slot {
    Live(Arc<Outbound>),
    /// The last connect failed; requests fail fast until the backoff has passed.
    Failed {
        at: Instant,
        error: String,
    },
}

struct State {
    closed: bool,
    peers: HashMap<SocketAddr, Slot>,
    next_connection: u64,
}

/// How this node introduces itself on an outbound connection.
struct Identity {
    local: SocketAddr,
    cluster_name: String,
    tls: Option<GossipTls>,
}

struct Service {
    identity: Arc<Identity>,
    handle: Handle,
    runtime: Mutex<Option<Runtime>>,
    handlers: RwLock<HashMap<Verb, Handler>>,
    state: Mutex<State>,
    next_request: AtomicU64,
}

impl Service {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handler(&self, verb: Verb) -> Option<Handler> {
        self.handlers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&verb)
            .cloned()
    }

    /// Stops the runtime (closing every connection) and fails everything pending.
    fn close(&self) {
        let peers = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.peers)
        };
        for slot in peers.into_values() {
            if let Slot::Live(conn) = slot {
                conn.fail(MessagingError::Closed);
            }
        }
        // Handlers often hold a Messaging clone themselves; dropping them breaks that cycle.
        self.handlers.write().unwrap_or_else(|p| p.into_inner()).clear();
        let runtime = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(runtime) = runtime {
            // Does not block, so closing works from inside async code too.
            runtime.shutdown_background();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.close();
    }
}

/// The internode messaging service of one node (cheap to clone; all clones share it).
#[derive(Clone)]
pub struct Messaging {
    service: Arc<Service>,
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging")
            .field("local", &self.service.identity.local)
            .finish_non_exhaustive()
    }
}

impl Messaging {
    /// Starts the service's runtime; connections are opened on demand.
    pub(crate) fn start(
        local: SocketAddr,
        cluster_name: String,
        tls: Option<GossipTls>,
    ) -> std::io::Result<Messaging> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("mica-messaging")
            .enable_all()
            .build()?;
        Ok(Messaging {
            service: Arc::new(Service {
                identity: Arc::new(Identity {
                    local,
                    cluster_name,
                    tls,
                }),
                handle: runtime.handle().clone(),
                runtime: Mutex::new(Some(runtime)),
                handlers: RwLock::new(HashMap::new()),
                state: Mutex::new(State {
                    closed: false,
                    peers: HashMap::new(),
                    next_connection: 0,
                }),
                next_request: AtomicU64::new(1),
            }),
        })
    }

    /// Serves `verb` with `handler` (replacing an earlier one). Handlers run as tasks on the
    /// messaging runtime; long blocking work belongs on `spawn_blocking` or another runtime.
    pub fn set_handler(&self, verb: Verb, handler: Handler) {
        self.service
            .handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(verb, handler);
    }

    /// Sends a request to `peer` (a storage address) and waits up to `timeout` for the reply (timed
    /// on the caller's runtime, which needs its time driver enabled). A reply arriving later is dropped.
    pub async fn request(
        &self,
        peer: SocketAddr,
        verb: Verb,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, MessagingError> {
        check_size(payload.len())?;
        let conn = self.outbound(peer)?;
        let id = self.service.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        conn.register(id, tx)?;
        let frame = Frame {
            header: Header {
                kind: KIND_REQUEST,
                id,
                verb,
            },
            payload,
        };
        if conn.queue.send(frame).is_err() {
            conn.unregister(id);
            return Err(conn.closed_error());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(MessagingError::Closed),
            Err(_) => {
                conn.unregister(id);
                Err(MessagingError::Timeout)
            }
        }
    }

    /// Sends a one-way message (no reply, e.g. read-repair mutations); failures are logged at debug.
    pub fn send(&self, peer: SocketAddr, verb: Verb, payload: Vec<u8>) {
        let result = check_size(payload.len()).and_then(|()| {
            let conn = self.outbound(peer)?;
            let frame = Frame {
                header: Header {
                    kind: KIND_ONE_WAY,
                    id: 0,
                    verb,
                },
                payload,
            };
            conn.queue.send(frame).map_err(|_| conn.closed_error())
        });
        if let Err(e) = result {
            tracing::debug!("messaging: one-way verb {verb} to {peer} not sent: {e}");
        }
    }

    /// Stops the service: connections close and pending requests fail with `Closed`.
    pub(crate) fn close(&self) {
        self.service.close();
    }

    /// Serves an accepted connection whose peer sent OpenMessaging (called by gossip).
    pub(crate) fn accept(&self, stream: Box<dyn Stream>, from: SocketAddr) {
        if self.service.state().closed {
            return;
        }
        let service = Arc::downgrade(&self.service);
        self.service.handle.spawn(run_inbound(service, stream, from));
    }

    /// The live or connecting connection to `peer`, opening one when there is none.
    fn outbound(&self, peer: SocketAddr) -> Result<Arc<Outbound>, MessagingError> {
        let mut state = self.service.state();
        if state.closed {
            return Err(MessagingError::Closed);
        }
        match state.peers.get(&peer) {
            Some(Slot::Live(conn)) if !conn.queue.is_closed() => return Ok(conn.clone()),
            Some(Slot::Failed { at, error }) if at.elapsed() < RECONNECT_BACKOFF => {
                return Err(MessagingError::Connect(error.clone()));
            }
            _ => {}
        }
        state.next_connection += 1;
        let (queue, rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Outbound {
            id: state.next_connection,
            queue,
            pending: Mutex::new(Pending {
                waiting: HashMap::new(),
                closed: None,
            }),
        });
        state.peers.insert(peer, Slot::Live(conn.clone()));
        drop(state);
        let service = Arc::downgrade(&self.service);
        let identity = self.service.identity.clone();
        self.service
            .handle
            .spawn(run_outbound(service, identity, peer, conn.clone(), rx));
        Ok(conn)
    }
}

fn check_size(payload_len: usize) -> Result<(), MessagingError> {
    if payload_len.saturating_add(HEADER_BYTES) > MAX_MESSAGE_BYTES as usize {
        return Err(MessagingError::TooLarge(payload_len));
    }
    Ok(())
}

/// Connects, sends OpenMessaging and waits for the peer to accept.
async fn dial(identity: &Identity, peer: SocketAddr) -> std::io::Result<Box<dyn Stream>> {
    let mut stream = connect_stream(identity.tls.as_ref(), peer).await?;
    write_message(
        &mut stream,
        &Message::OpenMessaging {
            cluster_name: identity.cluster_name.clone(),
            from: identity.local,
        },
    )
    .await?;
    match read_message(&mut stream).await? {
        Message::MessagingAccepted => Ok(stream),
        _ => Err(std::io::Error::other("unexpected answer to OpenMessaging")),
    }
}

/// Drives one outbound connection: connect, then write requests and dispatch replies until either
/// direction fails; then fails everything pending so that the next request reconnects.
async fn run_outbound(
    service: Weak<Service>,
    identity: Arc<Identity>,
    peer: SocketAddr,
    conn: Arc<Outbound>,
    mut queue: mpsc::UnboundedReceiver<Frame>,
) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, dial(&identity, peer)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return connect_failed(&service, peer, &conn, e.to_string()),
        Err(_) => return connect_failed(&service, peer, &conn, "connect timed out".into()),
    };
    tracing::debug!("messaging: connected to {peer}");
    let (r, w) = tokio::io::split(stream);
    let replies = async {
        let mut r = BufReader::with_capacity(BUFFER_BYTES, r);
        while let Some((header, payload)) = read_frame(&mut r).await? {
            match header.kind {
                KIND_REPLY => conn.complete(header.id, Ok(payload)),
                KIND_ERROR_REPLY => conn.complete(header.id, Err(remote_error(header.verb, &payload))),
                _ => tracing::debug!("messaging: {peer} sent a request on our outbound connection"),
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let result = tokio::select! {
        r = replies => r,
        w = write_frames(w, &mut queue) => w,
    };
    match result {
        Ok(()) => tracing::debug!("messaging: {peer} closed the connection"),
        Err(e) => tracing::debug!("messaging: connection to {peer} failed: {e}"),
    }
    conn.fail(MessagingError::Closed);
    if let Some(service) = service.upgrade() {
        let mut state = service.state();
        if matches!(state.peers.get(&peer), Some(Slot::Live(c)) if c.id == conn.id) {
            state.peers.remove(&peer);
        }
    }
}

fn connect_failed(service: &Weak<Service>, peer: SocketAddr, conn: &Outbound, error: String) {
    tracing::debug!("messaging: cannot connect to {peer}: {error}");
    conn.fail(MessagingError::Connect(error.clone()));
    if let Some(service) = service.upgrade() {
        let mut state = service.state();
        if matches!(state.peers.get(&peer), Some(Slot::Live(c)) if c.id == conn.id) {
            state.peers.insert(
                peer,
                Slot::Failed {
                    at: Instant::now(),
                    error,
                },
            );
        }
    }
}

fn remote_error(verb: Verb, payload: &[u8]) -> MessagingError {
    let message = payload
        .get(1..)
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    match payload.first() {
        Some(&ERROR_NO_HANDLER) => MessagingError::NoHandler(verb),
        Some(&ERROR_TOO_LARGE) => MessagingError::TooLarge(message.parse().unwrap_or(0)),
        _ => MessagingError::Remote(message),
    }
}

fn error_payload(code: u8, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.len());
    out.push(code);
    out.extend_from_slice(message.as_bytes());
    out
}

/// Sends a handler's outcome back; if the handler panics or is dropped first, the requester still
/// gets an error reply instead of waiting for its timeout.
struct ReplyGuard {
    replies: mpsc::UnboundedSender<Frame>,
    header: Header,
    sent: bool,
}

impl ReplyGuard {
    fn finish(&mut self, result: Result<Vec<u8>, String>) {
        self.sent = true;
        if self.header.kind == KIND_ONE_WAY {
            if let Err(e) = result {
                tracing::debug!("messaging: one-way verb {} failed: {e}", self.header.verb);
            }
            return;
        }
        let (kind, payload) = match result {
            Ok(payload) if check_size(payload.len()).is_ok() => (KIND_REPLY, payload),
            Ok(payload) => (
                KIND_ERROR_REPLY,
                error_payload(ERROR_TOO_LARGE, &payload.len().to_string()),
            ),
            Err(message) => (KIND_ERROR_REPLY, error_payload(ERROR_HANDLER, &message)),
        };
        let header = Header { kind, ..self.header };
        let _ = self.replies.send(Frame { header, payload });
    }
}

impl Drop for ReplyGuard {
    fn drop(&mut self) {
        if !self.sent {
            self.finish(Err("the handler failed without a reply".into()));
        }
    }
}

/// Serves one inbound connection: every request runs its handler in a task of its own and the
/// replies go back on this connection.
async fn run_inbound(service: Weak<Service>, stream: Box<dyn Stream>, from: SocketAddr) {
    let (r, w) = tokio::io::split(stream);
    let (replies, mut queue) = mpsc::unbounded_channel::<Frame>();
    let requests = async {
        let mut r = BufReader::with_capacity(BUFFER_BYTES, r);
        while let Some((header, payload)) = read_frame(&mut r).await? {
            if header.kind != KIND_REQUEST && header.kind != KIND_ONE_WAY {
                tracing::debug!("messaging: {from} sent a reply on its outbound connection");
                continue;
            }
            let Some(handler) = service.upgrade().map(|s| s.handler(header.verb)) else {
                break;
            };
            let Some(handler) = handler else {
                if header.kind == KIND_REQUEST {
                    let payload = error_payload(ERROR_NO_HANDLER, "");
                    let header = Header {
                        kind: KIND_ERROR_REPLY,
                        ..header
                    };
                    let _ = replies.send(Frame { header, payload });
                } else {
                    tracing::debug!(
                        "messaging: no handler for one-way verb {} from {from}",
                        header.verb
                    );
                }
                continue;
            };
            let mut guard = ReplyGuard {
                replies: replies.clone(),
                header,
                sent: false,
            };
            tokio::spawn(async move {
                let result = handler(from, payload).await;
                guard.finish(result);
            });
        }
        Ok::<(), std::io::Error>(())
    };
    let result = tokio::select! {
        r = requests => r,
        w = write_frames(w, &mut queue) => w,
    };
    if let Err(e) = result {
        tracing::debug!("messaging: inbound connection from {from} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let header = Header {
            kind: KIND_ERROR_REPLY,
            id: u64::MAX - 3,
            verb: 513,
        };
        let bytes = header.encode(10).unwrap();
        assert_eq!(Header::decode(&bytes), Ok((header, 10)));
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        let good = Header {
            kind: KIND_REQUEST,
            id: 7,
            verb: 1,
        }
        .encode(0)
        .unwrap();
        let mut bad = good;
        bad[4] = 9;
        assert_eq!(Header::decode(&bad), Err(FrameError::Version(9)));
        let mut bad = good;
        bad[5] = 0;
        assert_eq!(Header::decode(&bad), Err(FrameError::Kind(0)));
        let mut bad = good;
        bad[0..4].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(Header::decode(&bad), Err(FrameError::Truncated(3)));
        let mut bad = good;
        bad[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Header::decode(&bad), Err(FrameError::TooLarge(u32::MAX)));
        // Every byte pattern in the header decodes or fails cleanly.
        for b in 0..=255u8 {
            let mut any = [b; 4 + HEADER_BYTES];
            any[4] = MESSAGING_VERSION;
            let _ = Header::decode(&any);
        }
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let too_big = MAX_MESSAGE_BYTES as usize;
        assert_eq!(check_size(too_big), Err(MessagingError::TooLarge(too_big)));
        assert!(check_size(too_big - HEADER_BYTES).is_ok());
    }

    #[tokio::test]
    async fn frames_survive_a_byte_stream() {
        let (a, mut b) = tokio::io::duplex(1024);
        let (tx, mut rx) = mpsc::unbounded_channel();
        for id in 0..100u64 {
            let header = Header {
                kind: KIND_REQUEST,
                id,
                verb: 3,
            };
            tx.send(Frame {
                header,
                payload: vec![id as u8; id as usize * 37],
            })
            .unwrap();
        }
        drop(tx);
        let writer = tokio::spawn(async move { write_frames(a, &mut rx).await });
        for id in 0..100u64 {
            let (header, payload) = read_frame(&mut b).await.unwrap().unwrap();
            assert_eq!(header.id, id);
            assert_eq!(payload, vec![id as u8; id as usize * 37]);
        }
        writer.await.unwrap().unwrap();
        assert!(read_frame(&mut b).await.unwrap().is_none());
    }
}
