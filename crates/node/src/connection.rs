//! One CQL client connection: a reader loop that decodes envelopes and handles the handshake
//! (OPTIONS, STARTUP, AUTH_RESPONSE, REGISTER) in order, one spawned task per QUERY/EXECUTE/BATCH so
//! many streams are in flight at once, and a writer task that frames responses for the connection's
//! current mode (plain, v4 compression or v5 segments).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mica_cql_protocol::response::EVENT_STREAM;
use mica_cql_protocol::{
    Compression, Direction, Envelope, ErrorBody, ErrorKind, Event, EventType, FrameDecoder, FrameEncoder,
    Opcode, ProtocolError, Request, Response, ResponseExtras, ResultBody, RowsMetadata, RowsWriter,
    StringMap, StringMultimap, Version,
};
use mica_query::compat::Compatibility;
use mica_query::{ClientState, QueryEngine, QueryError, QueryResult, TraceSession};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::errors::error_body;
use crate::server::Shared;

/// QUERY/EXECUTE/BATCH requests of one connection executing at the same time; further requests wait
/// in the socket, which pushes back on the client.
const MAX_IN_FLIGHT_REQUESTS: usize = 1024;
/// Encoded responses queued for the writer before request tasks wait for it.
const OUTGOING_QUEUE: usize = 256;
/// Initial capacity of the read buffer.
const READ_BUFFER: usize = 64 * 1024;
/// The writer gathers queued responses into one socket write up to about this many bytes.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Authenticator class sent in AUTHENTICATE; gocql only accepts known class names.
const PASSWORD_AUTHENTICATOR_CLASS: &str = "org.apache.cassandra.auth.PasswordAuthenticator";

/// What the reader and request tasks hand to the writer, in order.
enum Outgoing {
    /// One complete, unframed envelope.
    Envelope(BytesMut),
    /// Switch to v5 segment framing for everything queued after this.
    EnableSegments { lz4: bool },
    /// Compress the bodies of everything queued after this (v3/v4).
    SetCompression(Compression),
}

/// Where the connection is in the STARTUP / authentication handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Authenticating,
    Ready,
}

impl Phase {
    /// Rejects messages the current phase does not allow, with Cassandra's wording. OPTIONS is
    /// allowed at any time because drivers use it as a heartbeat.
    fn admit(self, opcode: Opcode) -> Result<(), String> {
        match (self, opcode) {
            (_, Opcode::Options)
            | (Phase::Uninitialized, Opcode::Startup)
            | (Phase::Authenticating, Opcode::AuthResponse) => Ok(()),
            (Phase::Uninitialized, op) => Err(format!(
                "Unexpected message {}, expecting STARTUP or OPTIONS",
                opcode_name(op)
            )),
            (Phase::Authenticating, op) => Err(format!(
                "Unexpected message {}, expecting SASL_RESPONSE",
                opcode_name(op)
            )),
            (Phase::Ready, Opcode::Startup) => {
                Err("Unexpected message STARTUP, the connection is already initialized".to_owned())
            }
            (Phase::Ready, Opcode::AuthResponse) => {
                Err("Unexpected message AUTH_RESPONSE, the connection is already authenticated".to_owned())
            }
            (Phase::Ready, _) => Ok(()),
        }
    }
}

/// The protocol's name of an opcode, as Cassandra prints it in errors.
fn opcode_name(opcode: Opcode) -> &'static str {
    match opcode {
        Opcode::Error => "ERROR",
        Opcode::Startup => "STARTUP",
        Opcode::Ready => "READY",
        Opcode::Authenticate => "AUTHENTICATE",
        Opcode::Options => "OPTIONS",
        Opcode::Supported => "SUPPORTED",
        Opcode::Query => "QUERY",
        Opcode::Result => "RESULT",
        Opcode::Prepare => "PREPARE",
        Opcode::Execute => "EXECUTE",
        Opcode::Register => "REGISTER",
        Opcode::Event => "EVENT",
        Opcode::Batch => "BATCH",
        Opcode::AuthChallenge => "AUTH_CHALLENGE",
        Opcode::AuthResponse => "AUTH_RESPONSE",
        Opcode::AuthSuccess => "AUTH_SUCCESS",
    }
}

/// The SUPPORTED body answering OPTIONS, for the node's compatibility level.
fn supported(compat: Compatibility) -> StringMultimap {
    StringMultimap::from([
        ("CQL_VERSION".to_owned(), vec![compat.cql_version().to_owned()]),
        (
            "COMPRESSION".to_owned(),
            Compression::NAMES.iter().map(|n| (*n).to_owned()).collect(),
        ),
        (
            "PROTOCOL_VERSIONS".to_owned(),
            compat.protocol_versions().labels(),
        ),
    ])
}

/// Validates STARTUP options and returns the negotiated compression. Unknown keys are ignored.
fn negotiate(version: Version, options: &StringMap) -> Result<Option<Compression>, String> {
    let cql = options
        .get("CQL_VERSION")
        .ok_or("Missing value CQL_VERSION in STARTUP message")?;
    let major = cql
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok())
        .ok_or_else(|| format!("Invalid version value: {cql}"))?;
    if major < 3 {
        return Err(format!(
            "CQL version {cql} is not supported by the binary protocol (supported version are >= 3.0.0)"
        ));
    }
    let Some(name) = options.get("COMPRESSION").filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let compression =
        Compression::from_name(name).ok_or_else(|| format!("Unknown compression algorithm: {name}"))?;
    if version.is_v5() && !compression.supports_v5() {
        return Err(format!("{name} compression is not supported by protocol v5"));
    }
    Ok(Some(compression))
}

/// Splits a SASL PLAIN token (`[authzid] NUL authcid NUL passwd`) into user and password, with
/// Cassandra's error messages.
fn plain_credentials(token: &[u8]) -> Result<(String, String), String> {
    let mut parts = token.rsplitn(3, |&b| b == 0);
    let password = parts.next().filter(|p| !p.is_empty() && token.contains(&0));
    let user = parts.next().filter(|u| !u.is_empty());
    let password = password.ok_or("Password must not be null")?;
    let user = user.ok_or("Authentication ID must not be null")?;
    let text =
        |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "Credentials are not valid UTF-8".to_owned());
    Ok((text(user)?, text(password)?))
}

/// Encodes one response envelope; encoding only fails for bodies beyond the protocol's size limit,
/// which are reported to the client as a server error instead.
fn encode(version: Version, stream: i16, response: &Response) -> BytesMut {
    encode_with(version, stream, response, &ResponseExtras::default())
}

/// Like [`encode`], with envelope extras (a tracing session id).
fn encode_with(version: Version, stream: i16, response: &Response, extras: &ResponseExtras) -> BytesMut {
    let mut buf = BytesMut::new();
    if let Err(e) = response.encode_envelope(&mut buf, version, stream, extras) {
        buf.clear();
        encode_error(
            &mut buf,
            version,
            stream,
            ErrorKind::Server,
            format!("cannot encode response: {e}"),
        );
    }
    buf
}

fn encode_error(buf: &mut BytesMut, version: Version, stream: i16, kind: ErrorKind, message: String) {
    // An error body with a short message always fits; there is nothing else to fall back to.
    let _ = Response::Error(ErrorBody::new(kind, message)).encode_envelope(
        buf,
        version,
        stream,
        &ResponseExtras::default(),
    );
}

/// Encodes a statement's result, streaming rows straight into the envelope.
fn encode_result(
    version: Version,
    stream: i16,
    result: QueryResult,
    skip_metadata: bool,
    extras: &ResponseExtras,
) -> BytesMut {
    let body = match result {
        QueryResult::Rows { metadata, rows } => {
            let mut buf = BytesMut::new();
            match write_rows(&mut buf, version, stream, metadata, &rows, skip_metadata, extras) {
                Ok(()) => return buf,
                Err(e) => {
                    buf.clear();
                    encode_error(&mut buf, version, stream, ErrorKind::Server, e.to_string());
                    return buf;
                }
            }
        }
        QueryResult::Void => ResultBody::Void,
        QueryResult::SetKeyspace(keyspace) => ResultBody::SetKeyspace(keyspace),
        QueryResult::SchemaChange(change) => ResultBody::SchemaChange(change),
    };
    encode_with(version, stream, &Response::Result(body), extras)
}

fn write_rows(
    buf: &mut BytesMut,
    version: Version,
    stream: i16,
    mut metadata: RowsMetadata,
    rows: &[Vec<Option<Bytes>>],
    skip_metadata: bool,
    extras: &ResponseExtras,
) -> Result<(), ProtocolError> {
    // A client that cached the metadata asked not to get it again, unless it changed (v5).
    if skip_metadata && metadata.new_metadata_id.is_none() {
        metadata.columns_count = metadata.column_count();
        metadata.columns = None;
    }
    let mut writer = RowsWriter::begin(buf, version, stream, extras, &metadata);
    for row in rows {
        for cell in row {
            writer.push_cell(cell.as_deref());
        }
        writer.finish_row()?;
    }
    writer.finish()?;
    Ok(())
}

/// Whether the reader loop goes on after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// Reader-side state of a connection.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    out: mpsc::Sender<Outgoing>,
    decoder: FrameDecoder,
    /// The version of the first envelope; later envelopes must use the same.
    version: Option<Version>,
    phase: Phase,
    /// Shared with request tasks: USE changes the keyspace for later requests.
    state: Rc<RefCell<ClientState>>,
    in_flight: Arc<Semaphore>,
    events: Option<JoinHandle<()>>,
    /// Forwards STATUS_CHANGE / TOPOLOGY_CHANGE events once the client registered for them.
    cluster_events: Option<JoinHandle<()>>,
}

/// Serves one client connection until it closes, a fatal protocol error occurs or the node stops.
pub(crate) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let (out, queue) = mpsc::channel(OUTGOING_QUEUE);
    let writer = tokio::task::spawn_local(write_loop(writer, queue, peer));
    let mut conn = Connection {
        decoder: FrameDecoder::new(shared.max_frame_size),
        shared,
        peer,
        out,
        version: None,
        phase: Phase::Uninitialized,
        state: Rc::default(),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT_REQUESTS)),
        events: None,
        cluster_events: None,
    };
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    'connection: loop {
        loop {
            // Errors must be answered in the client's version, known from the first header byte
            // until segment framing hides it.
            let version_hint = conn
                .version
                .or_else(|| buf.first().and_then(|b| Version::from_number(b & 0x7f)))
                .unwrap_or(Version::V4);
            match conn.decoder.decode(&mut buf) {
                Ok(Some(envelope)) => {
                    if conn.handle(envelope).await == Flow::Close {
                        break 'connection;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.is_fatal() || e.stream().is_none();
                    conn.protocol_error(&e, version_hint).await;
                    if fatal {
                        tracing::debug!("closing connection from {peer}: {e}");
                        break 'connection;
                    }
                }
            }
        }
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("reading from {peer} failed: {e}");
                    break;
                }
            },
            _ = stop.wait_for(|&s| s) => break,
        }
    }
    conn.finish().await;
    // The writer ends once every sender is gone, after writing what was queued.
    let _ = writer.await;
}

impl Connection {
    /// Handles one decoded envelope.
    async fn handle(&mut self, envelope: Envelope) -> Flow {
        let header = envelope.header;
        let (version, stream) = (header.version, header.stream);
        if let Err(message) = self.compat().protocol_versions().admit(version, header.flags) {
            // Cassandra refuses the version while decoding the header, before reading the stream id: the
            // error goes to stream 0 and the connection closes (drivers then retry with a lower version).
            self.send_error(version, 0, ErrorKind::Protocol, message).await;
            return Flow::Close;
        }
        match self.version {
            None => self.version = Some(version),
            Some(established) if established != version => {
                let message = format!(
                    "Invalid message version. Got {}/v{} but previous messages on this connection had version {}/v{}",
                    version.number(),
                    version.number(),
                    established.number(),
                    established.number()
                );
                self.send_error(version, stream, ErrorKind::Protocol, message)
                    .await;
                return Flow::Continue;
            }
            Some(_) => {}
        }
        if header.direction == Direction::Response {
            let message = format!("Unexpected response message {}", opcode_name(header.opcode));
            self.send_error(version, stream, ErrorKind::Protocol, message)
                .await;
            return Flow::Continue;
        }
        let message = match Request::decode(&envelope) {
            Ok(m) => m,
            Err(e) => {
                self.send_error(version, stream, ErrorKind::Protocol, e.to_string())
                    .await;
                return Flow::Continue;
            }
        };
        if let Err(message) = self.phase.admit(message.request.opcode()) {
            self.send_error(version, stream, ErrorKind::Protocol, message)
                .await;
            return Flow::Continue;
        }
        match message.request {
            Request::Options => {
                self.send(version, stream, &Response::Supported(supported(self.compat())))
                    .await
            }
            Request::Startup(options) => self.startup(version, stream, &options).await,
            Request::AuthResponse(token) => self.authenticate(version, stream, token).await,
            Request::Register(events) => {
                if events.contains(&EventType::SchemaChange) && self.events.is_none() {
                    self.events = Some(tokio::task::spawn_local(forward_events(
                        self.shared.events.subscribe(),
                        self.out.clone(),
                        version,
                    )));
                }
                let topology = events.contains(&EventType::TopologyChange);
                let status = events.contains(&EventType::StatusChange);
                if (topology || status) && self.cluster_events.is_none() {
                    self.cluster_events = Some(tokio::task::spawn_local(forward_cluster_events(
                        self.shared.cluster_events.subscribe(),
                        self.out.clone(),
                        version,
                        (topology, status),
                    )));
                }
                self.send(version, stream, &Response::Ready).await
            }
            Request::Prepare { query, keyspace } => {
                let prepared = self
                    .shared
                    .engine
                    .prepare(&self.state.borrow(), &query, keyspace.as_deref());
                let response = match prepared {
                    Ok(p) => Response::Result(ResultBody::Prepared(p)),
                    Err(e) => Response::Error(error_body(e)),
                };
                self.send(version, stream, &response).await
            }
            request @ (Request::Query { .. } | Request::Execute { .. } | Request::Batch(_)) => {
                let trace = message
                    .tracing
                    .then(|| TraceSession::new(self.peer.ip(), &request));
                self.spawn_statement(version, stream, request, trace).await
            }
        }
    }

    /// STARTUP: negotiates compression, answers READY or AUTHENTICATE, then switches framing.
    async fn startup(&mut self, version: Version, stream: i16, options: &StringMap) -> Flow {
        let compression = match negotiate(version, options) {
            Ok(c) => c,
            Err(message) => {
                return self
                    .send_error(version, stream, ErrorKind::Protocol, message)
                    .await;
            }
        };
        let response = if self.shared.password_auth {
            self.phase = Phase::Authenticating;
            Response::Authenticate(PASSWORD_AUTHENTICATOR_CLASS.to_owned())
        } else {
            self.phase = Phase::Ready;
            Response::Ready
        };
        if version.is_v5() {
            // READY/AUTHENTICATE still go out unframed; everything after, in both directions, is
            // segments. Bytes the client already sent after STARTUP are segments too.
            let lz4 = compression == Some(Compression::Lz4);
            self.send(version, stream, &response).await;
            self.decoder.enable_segments(lz4);
            self.queue(Outgoing::EnableSegments { lz4 }).await
        } else {
            self.decoder.set_compression(compression);
            self.send(version, stream, &response).await;
            match compression {
                Some(c) => self.queue(Outgoing::SetCompression(c)).await,
                None => Flow::Continue,
            }
        }
    }

    /// AUTH_RESPONSE: checks SASL PLAIN credentials. Password hashing is slow by design, so it runs
    /// off the connection's thread.
    async fn authenticate(&mut self, version: Version, stream: i16, token: Option<Bytes>) -> Flow {
        let (user, password) = match plain_credentials(token.as_deref().unwrap_or_default()) {
            Ok(credentials) => credentials,
            Err(message) => {
                return self
                    .send_error(version, stream, ErrorKind::BadCredentials, message)
                    .await;
            }
        };
        let engine = self.shared.engine.clone();
        let checked_user = user.clone();
        let outcome =
            tokio::task::spawn_blocking(move || engine.authenticate(&checked_user, &password)).await;
        let response = match outcome {
            Ok(Ok(())) => {
                self.state.borrow_mut().user = Some(user);
                self.phase = Phase::Ready;
                Response::AuthSuccess(None)
            }
            Ok(Err(e)) => Response::Error(error_body(e)),
            Err(e) => Response::error(ErrorKind::Server, format!("authentication failed: {e}")),
        };
        self.send(version, stream, &response).await
    }

    /// Runs a QUERY, EXECUTE or BATCH as its own task once an in-flight slot is free.
    async fn spawn_statement(
        &mut self,
        version: Version,
        stream: i16,
        request: Request,
        trace: Option<Arc<TraceSession>>,
    ) -> Flow {
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return Flow::Close;
        };
        let (engine, state, out) = (self.shared.engine.clone(), self.state.clone(), self.out.clone());
        tokio::task::spawn_local(async move {
            let _permit = permit;
            let _activity = crate::activity::NATIVE_REQUESTS.begin();
            let envelope = run_statement(&engine, &state, version, stream, request, trace).await;
            // A closed queue means the connection is gone; the result has nowhere to go.
            let _ = out.send(Outgoing::Envelope(envelope)).await;
        });
        Flow::Continue
    }

    /// Answers a decoding error: on its stream when it has one, otherwise on stream 0 before closing.
    async fn protocol_error(&mut self, error: &ProtocolError, version: Version) {
        let mut buf = BytesMut::new();
        match error {
            ProtocolError::UnsupportedVersion {
                version: number,
                stream,
            } => {
                let offered = self.compat().protocol_versions();
                if offered.encode_unsupported(&mut buf, *number, *stream).is_err() {
                    return;
                }
            }
            _ => encode_error(
                &mut buf,
                version,
                error.stream().unwrap_or(0),
                ErrorKind::Protocol,
                error.to_string(),
            ),
        }
        self.queue(Outgoing::Envelope(buf)).await;
    }

    /// The node's compatibility level (protocol versions, CQL version).
    fn compat(&self) -> Compatibility {
        self.shared.engine.compatibility()
    }

    async fn send(&self, version: Version, stream: i16, response: &Response) -> Flow {
        self.queue(Outgoing::Envelope(encode(version, stream, response)))
            .await
    }

    async fn send_error(&self, version: Version, stream: i16, kind: ErrorKind, message: String) -> Flow {
        let mut buf = BytesMut::new();
        encode_error(&mut buf, version, stream, kind, message);
        self.queue(Outgoing::Envelope(buf)).await
    }

    async fn queue(&self, message: Outgoing) -> Flow {
        match self.out.send(message).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Close,
        }
    }

    /// Stops event forwarding and waits for the in-flight statements to hand over their results.
    async fn finish(self) {
        if let Some(events) = &self.events {
            events.abort();
        }
        if let Some(events) = &self.cluster_events {
            events.abort();
        }
        let all = u32::try_from(MAX_IN_FLIGHT_REQUESTS).unwrap_or(u32::MAX);
        if self.in_flight.acquire_many(all).await.is_err() {
            tracing::debug!("in-flight requests of {} were abandoned", self.peer);
        }
    }
}

/// Executes one statement on a snapshot of the connection state and encodes its response; a traced
/// request runs inside its tracing session, whose rows are written before the response carries its id.
async fn run_statement(
    engine: &QueryEngine,
    state: &RefCell<ClientState>,
    version: Version,
    stream: i16,
    request: Request,
    trace: Option<Arc<TraceSession>>,
) -> BytesMut {
    // The state cannot stay borrowed across the await; a USE is written back afterwards.
    let mut local = state.borrow().clone();
    let execute = async {
        match request {
            Request::Query { query, params } => (
                engine.query(&mut local, &query, &params).await,
                params.skip_metadata,
            ),
            Request::Execute { id, params, .. } => (
                engine.execute(&mut local, &id, &params).await,
                params.skip_metadata,
            ),
            Request::Batch(batch) => (engine.batch(&mut local, &batch).await, false),
            _ => (Err(QueryError::Server("not a statement".into())), false),
        }
    };
    let mut extras = ResponseExtras::default();
    let (result, skip_metadata) = match &trace {
        Some(session) => {
            let outcome = session.scope(execute).await;
            match engine.finish_trace(session).await {
                Ok(()) => extras.tracing_id = Some(session.id()),
                Err(e) => tracing::warn!("writing tracing session {} failed: {e}", session.id()),
            }
            outcome
        }
        None => execute.await,
    };
    match result {
        Ok(result) => {
            if let QueryResult::SetKeyspace(keyspace) = &result {
                state.borrow_mut().keyspace = Some(keyspace.clone());
            }
            encode_result(version, stream, result, skip_metadata, &extras)
        }
        Err(e) => encode_with(version, stream, &Response::Error(error_body(e)), &extras),
    }
}

/// Forwards schema changes to a connection that registered for them, on the event stream.
async fn forward_events(
    mut changes: broadcast::Receiver<mica_cql_protocol::SchemaChange>,
    out: mpsc::Sender<Outgoing>,
    version: Version,
) {
    loop {
        match changes.recv().await {
            Ok(change) => {
                let envelope = encode(
                    version,
                    EVENT_STREAM,
                    &Response::Event(Event::SchemaChange(change)),
                );
                if out.send(Outgoing::Envelope(envelope)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("a client connection missed {missed} schema change events");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Forwards the topology and status events a connection registered for (`wanted`: TOPOLOGY_CHANGE,
/// STATUS_CHANGE) on the event stream.
async fn forward_cluster_events(
    mut events: broadcast::Receiver<Event>,
    out: mpsc::Sender<Outgoing>,
    version: Version,
    wanted: (bool, bool),
) {
    loop {
        match events.recv().await {
            Ok(event) => {
                let send = match event {
                    Event::TopologyChange { .. } => wanted.0,
                    Event::StatusChange { .. } => wanted.1,
                    Event::SchemaChange(_) => false,
                };
                if !send {
                    continue;
                }
                let envelope = encode(version, EVENT_STREAM, &Response::Event(event));
                if out.send(Outgoing::Envelope(envelope)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("a client connection missed {missed} cluster events");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Writes queued envelopes, framed for the connection's current mode, coalescing what is queued
/// into one socket write.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut socket: W,
    mut queue: mpsc::Receiver<Outgoing>,
    peer: SocketAddr,
) {
    let mut encoder = FrameEncoder::new();
    let mut pending = BytesMut::new();
    let mut wire = BytesMut::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            let switched = match message {
                Outgoing::Envelope(envelope) if pending.is_empty() => {
                    pending = envelope;
                    Ok(())
                }
                Outgoing::Envelope(envelope) => {
                    pending.extend_from_slice(&envelope);
                    Ok(())
                }
                // A framing switch applies to what comes after it, so frame what came before first.
                Outgoing::EnableSegments { lz4 } => encoder
                    .encode(&mut pending, &mut wire)
                    .map(|()| encoder.enable_segments(lz4)),
                Outgoing::SetCompression(c) => encoder
                    .encode(&mut pending, &mut wire)
                    .map(|()| encoder.set_compression(Some(c))),
            };
            if let Err(e) = switched {
                tracing::error!("framing a response to {peer} failed: {e}");
                return;
            }
            next = if pending.len() + wire.len() < WRITE_BATCH_BYTES {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if let Err(e) = encoder.encode(&mut pending, &mut wire) {
            tracing::error!("framing a response to {peer} failed: {e}");
            return;
        }
        let written = async {
            socket.write_all(&wire).await?;
            socket.flush().await
        };
        if let Err(e) = written.await {
            tracing::debug!("writing to {peer} failed: {e}");
            return;
        }
        wire.clear();
    }
    let _ = socket.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_admit_what_cassandra_admits() {
        assert!(Phase::Uninitialized.admit(Opcode::Options).is_ok());
        assert!(Phase::Uninitialized.admit(Opcode::Startup).is_ok());
        assert_eq!(
            Phase::Uninitialized.admit(Opcode::Query).unwrap_err(),
            "Unexpected message QUERY, expecting STARTUP or OPTIONS"
        );
        assert_eq!(
            Phase::Authenticating.admit(Opcode::Execute).unwrap_err(),
            "Unexpected message EXECUTE, expecting SASL_RESPONSE"
        );
        assert!(Phase::Authenticating.admit(Opcode::AuthResponse).is_ok());
        assert!(Phase::Authenticating.admit(Opcode::Options).is_ok());
        assert!(Phase::Ready.admit(Opcode::Startup).is_err());
        assert!(Phase::Ready.admit(Opcode::Batch).is_ok());
    }

    #[test]
    fn startup_options_are_validated() {
        let opts = |pairs: &[(&str, &str)]| -> StringMap {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            negotiate(Version::V4, &opts(&[("CQL_VERSION", "3.0.0")])),
            Ok(None)
        );
        assert_eq!(
            negotiate(
                Version::V4,
                &opts(&[
                    ("CQL_VERSION", "4.0.0"),
                    ("COMPRESSION", "snappy"),
                    ("DRIVER_NAME", "x")
                ])
            ),
            Ok(Some(Compression::Snappy))
        );
        assert_eq!(
            negotiate(
                Version::V5,
                &opts(&[("CQL_VERSION", "3.4.6"), ("COMPRESSION", "lz4")])
            ),
            Ok(Some(Compression::Lz4))
        );
        assert!(
            negotiate(
                Version::V5,
                &opts(&[("CQL_VERSION", "3.4.6"), ("COMPRESSION", "snappy")])
            )
            .is_err()
        );
        assert!(
            negotiate(
                Version::V4,
                &opts(&[("CQL_VERSION", "3.0.0"), ("COMPRESSION", "zstd")])
            )
            .is_err()
        );
        assert!(negotiate(Version::V4, &opts(&[("CQL_VERSION", "2.0.0")])).is_err());
        assert!(negotiate(Version::V4, &opts(&[("CQL_VERSION", "x")])).is_err());
        assert_eq!(
            negotiate(Version::V4, &opts(&[])).unwrap_err(),
            "Missing value CQL_VERSION in STARTUP message"
        );
    }

    #[test]
    fn sasl_plain_tokens() {
        assert_eq!(
            plain_credentials(b"\0cassandra\0secret"),
            Ok(("cassandra".to_owned(), "secret".to_owned()))
        );
        assert_eq!(
            plain_credentials(b"authz\0bob\0pw"),
            Ok(("bob".to_owned(), "pw".to_owned()))
        );
        assert_eq!(
            plain_credentials(b"\0bob\0").unwrap_err(),
            "Password must not be null"
        );
        assert_eq!(
            plain_credentials(b"\0\0pw").unwrap_err(),
            "Authentication ID must not be null"
        );
        assert_eq!(
            plain_credentials(b"nonul").unwrap_err(),
            "Password must not be null"
        );
        assert_eq!(plain_credentials(b"").unwrap_err(), "Password must not be null");
    }

    #[test]
    fn supported_lists_versions_and_compression() {
        let s = supported(Compatibility::NEWEST);
        assert_eq!(s["CQL_VERSION"], vec!["3.4.6"]);
        assert_eq!(s["COMPRESSION"], vec!["lz4", "snappy"]);
        assert_eq!(s["PROTOCOL_VERSIONS"], vec!["3/v3", "4/v4", "5/v5"]);
        assert!(!s.keys().any(|k| k.starts_with("SCYLLA")));
    }

    #[test]
    fn supported_follows_the_release() {
        let release = |v: &str| Compatibility::from_release_version(v).expect("valid version");
        let s = supported(release("3.11.17"));
        assert_eq!(s["CQL_VERSION"], vec!["3.4.4"]);
        assert_eq!(s["PROTOCOL_VERSIONS"], vec!["3/v3", "4/v4", "5/v5-beta"]);
        let s = supported(release("5.0.2"));
        assert_eq!(s["CQL_VERSION"], vec!["3.4.7"]);
        assert_eq!(s["PROTOCOL_VERSIONS"], vec!["3/v3", "4/v4", "5/v5"]);
    }

    #[test]
    fn traced_results_carry_the_session_id() {
        let id = uuid::Uuid::from_u128(0x0102);
        let extras = ResponseExtras {
            tracing_id: Some(id),
            ..ResponseExtras::default()
        };
        let results = [
            QueryResult::Void,
            QueryResult::Rows {
                metadata: RowsMetadata::no_metadata(0),
                rows: Vec::new(),
            },
        ];
        for result in results {
            let mut buf = encode_result(Version::V5, 9, result, false, &extras);
            let envelope = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
            assert_eq!(Response::decode(&envelope).unwrap().extras.tracing_id, Some(id));
        }
    }

    #[test]
    fn skip_metadata_sends_no_metadata() {
        use mica_cql_protocol::ColumnSpec;
        let metadata = RowsMetadata::new(vec![ColumnSpec {
            keyspace: "ks".into(),
            table: "t".into(),
            name: "v".into(),
            typ: mica_cql_types::CqlType::Int,
        }]);
        let rows = vec![vec![Some(Bytes::from_static(&[0, 0, 0, 7]))]];
        for skip in [false, true] {
            let mut buf = encode_result(
                Version::V4,
                3,
                QueryResult::Rows {
                    metadata: metadata.clone(),
                    rows: rows.clone(),
                },
                skip,
                &ResponseExtras::default(),
            );
            let envelope = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
            let Response::Result(ResultBody::Rows(decoded)) = Response::decode(&envelope).unwrap().response
            else {
                panic!("not rows");
            };
            assert_eq!(decoded.metadata.columns.is_none(), skip);
            assert_eq!(decoded.metadata.column_count(), 1);
            assert_eq!(decoded.rows, rows);
        }
    }
}
