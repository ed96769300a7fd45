//! Request messages (client to server): decoding for the server and encoding for clients and tests.
//! Fields that only exist in v5 (keyspace, now_in_seconds, PREPARE flags, result_metadata_id) are
//! omitted when encoding for v3/v4 because those versions cannot represent them.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{
    BytesMap, Reader, StringMap, Value, put_bytes, put_bytes_map, put_consistency, put_long_string,
    put_short_bytes, put_string, put_string_list, put_string_map, put_value,
};
use crate::consistency::Consistency;
use crate::error::{ProtocolError, Result};
use crate::frame::{Direction, Envelope, EnvelopeWriter, Flags, Opcode, Version};

/// Query parameter flags (QUERY and EXECUTE; BATCH uses the subset from 0x10 up).
pub mod query_flags {
    pub const VALUES: u32 = 0x0001;
    pub const SKIP_METADATA: u32 = 0x0002;
    pub const PAGE_SIZE: u32 = 0x0004;
    pub const PAGING_STATE: u32 = 0x0008;
    pub const SERIAL_CONSISTENCY: u32 = 0x0010;
    pub const DEFAULT_TIMESTAMP: u32 = 0x0020;
    pub const NAMES_FOR_VALUES: u32 = 0x0040;
    pub const KEYSPACE: u32 = 0x0080;
    pub const NOW_IN_SECONDS: u32 = 0x0100;
}
use query_flags::*;

/// PREPARE flag (v5): a keyspace follows.
const PREPARE_WITH_KEYSPACE: u32 = 0x01;

/// Bound values of a QUERY or EXECUTE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum QueryValues {
    #[default]
    None,
    Positional(Vec<Value>),
    Named(Vec<(String, Value)>),
}

impl QueryValues {
    /// Number of bound values.
    pub fn len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::Positional(v) => v.len(),
            Self::Named(v) => v.len(),
        }
    }

    /// Whether no value is bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `<query_parameters>` of QUERY and EXECUTE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryParameters {
    pub consistency: Consistency,
    pub values: QueryValues,
    pub skip_metadata: bool,
    pub page_size: Option<i32>,
    pub paging_state: Option<Bytes>,
    pub serial_consistency: Option<Consistency>,
    /// Client-supplied default timestamp in microseconds (flag 0x20).
    pub timestamp: Option<i64>,
    /// v5 only (flag 0x80).
    pub keyspace: Option<String>,
    /// v5 only (flag 0x100).
    pub now_in_seconds: Option<i32>,
}

impl Default for QueryParameters {
    fn default() -> Self {
        Self {
            consistency: Consistency::One,
            values: QueryValues::None,
            skip_metadata: false,
            page_size: None,
            paging_state: None,
            serial_consistency: None,
            timestamp: None,
            keyspace: None,
            now_in_seconds: None,
        }
    }
}

fn read_flags(r: &mut Reader, version: Version) -> Result<u32> {
    if version.is_v5() {
        Ok(r.read_i32("flags")? as u32)
    } else {
        Ok(u32::from(r.read_u8("flags")?))
    }
}

fn put_flags(buf: &mut BytesMut, version: Version, flags: u32) {
    if version.is_v5() {
        buf.put_u32(flags);
    } else {
        // Only bits below 0x80 exist before v5; the v5-only fields are not written either.
        buf.put_u8((flags & 0x7f) as u8);
    }
}

impl QueryParameters {
    /// Decodes `<query_parameters>`.
    pub fn decode(r: &mut Reader, version: Version) -> Result<Self> {
        let consistency = r.read_consistency("consistency")?;
        let flags = read_flags(r, version)?;
        let values = if flags & VALUES != 0 {
            let n = r.read_u16("value count")?;
            if flags & NAMES_FOR_VALUES != 0 {
                QueryValues::Named(
                    (0..n)
                        .map(|_| Ok((r.read_string("value name")?, r.read_value("value")?)))
                        .collect::<Result<_>>()?,
                )
            } else {
                QueryValues::Positional((0..n).map(|_| r.read_value("value")).collect::<Result<_>>()?)
            }
        } else {
            QueryValues::None
        };
        let has = |f: u32| flags & f != 0;
        let page_size = if has(PAGE_SIZE) {
            Some(r.read_i32("page size")?)
        } else {
            None
        };
        let paging_state = if has(PAGING_STATE) {
            r.read_bytes("paging state")?
        } else {
            None
        };
        let serial_consistency = if has(SERIAL_CONSISTENCY) {
            Some(r.read_consistency("serial consistency")?)
        } else {
            None
        };
        let timestamp = if has(DEFAULT_TIMESTAMP) {
            Some(r.read_i64("timestamp")?)
        } else {
            None
        };
        let keyspace = if version.is_v5() && has(KEYSPACE) {
            Some(r.read_string("keyspace")?)
        } else {
            None
        };
        let now_in_seconds = if version.is_v5() && has(NOW_IN_SECONDS) {
            Some(r.read_i32("now in seconds")?)
        } else {
            None
        };
        Ok(Self {
            consistency,
            values,
            skip_metadata: has(SKIP_METADATA),
            page_size,
            paging_state,
            serial_consistency,
            timestamp,
            keyspace,
            now_in_seconds,
        })
    }

    /// Encodes `<query_parameters>`.
    pub fn encode(&self, buf: &mut BytesMut, version: Version) {
        let mut flags = 0;
        let mut set = |cond: bool, f: u32| {
            if cond {
                flags |= f;
            }
        };
        set(!matches!(self.values, QueryValues::None), VALUES);
        set(matches!(self.values, QueryValues::Named(_)), NAMES_FOR_VALUES);
        set(self.skip_metadata, SKIP_METADATA);
        set(self.page_size.is_some(), PAGE_SIZE);
        set(self.paging_state.is_some(), PAGING_STATE);
        set(self.serial_consistency.is_some(), SERIAL_CONSISTENCY);
        set(self.timestamp.is_some(), DEFAULT_TIMESTAMP);
        set(self.keyspace.is_some(), KEYSPACE);
        set(self.now_in_seconds.is_some(), NOW_IN_SECONDS);
        put_consistency(buf, self.consistency);
        put_flags(buf, version, flags);
        match &self.values {
            QueryValues::None => {}
            QueryValues::Positional(values) => {
                buf.put_u16(u16::try_from(values.len()).unwrap_or(u16::MAX));
                values
                    .iter()
                    .take(usize::from(u16::MAX))
                    .for_each(|v| put_value(buf, v));
            }
            QueryValues::Named(values) => {
                buf.put_u16(u16::try_from(values.len()).unwrap_or(u16::MAX));
                for (name, v) in values.iter().take(usize::from(u16::MAX)) {
                    put_string(buf, name);
                    put_value(buf, v);
                }
            }
        }
        if let Some(n) = self.page_size {
            buf.put_i32(n);
        }
        if let Some(state) = &self.paging_state {
            put_bytes(buf, Some(state));
        }
        if let Some(c) = self.serial_consistency {
            put_consistency(buf, c);
        }
        if let Some(ts) = self.timestamp {
            buf.put_i64(ts);
        }
        if version.is_v5() {
            if let Some(ks) = &self.keyspace {
                put_string(buf, ks);
            }
            if let Some(now) = self.now_in_seconds {
                buf.put_i32(now);
            }
        }
    }
}

/// BATCH type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchType {
    Logged = 0,
    Unlogged = 1,
    Counter = 2,
}

/// One statement of a BATCH: a query string or a prepared id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchStatement {
    Query { query: String, values: Vec<Value> },
    Prepared { id: Bytes, values: Vec<Value> },
}

impl BatchStatement {
    /// The statement's positional values.
    pub fn values(&self) -> &[Value] {
        match self {
            Self::Query { values, .. } | Self::Prepared { values, .. } => values,
        }
    }
}

/// A BATCH request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub batch_type: BatchType,
    pub statements: Vec<BatchStatement>,
    pub consistency: Consistency,
    pub serial_consistency: Option<Consistency>,
    pub timestamp: Option<i64>,
    /// v5 only.
    pub keyspace: Option<String>,
    /// v5 only.
    pub now_in_seconds: Option<i32>,
}

/// Event types a client can REGISTER for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    TopologyChange,
    StatusChange,
    SchemaChange,
}

impl EventType {
    /// The protocol name, e.g. `SCHEMA_CHANGE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TopologyChange => "TOPOLOGY_CHANGE",
            Self::StatusChange => "STATUS_CHANGE",
            Self::SchemaChange => "SCHEMA_CHANGE",
        }
    }

    /// Parses a protocol name.
    pub fn from_name(s: &str) -> Result<Self> {
        [Self::TopologyChange, Self::StatusChange, Self::SchemaChange]
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| ProtocolError::InvalidField {
                what: "event type",
                value: s.to_string(),
            })
    }
}

/// A request message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Startup(StringMap),
    Options,
    Query {
        query: String,
        params: QueryParameters,
    },
    /// `keyspace` is v5 only.
    Prepare {
        query: String,
        keyspace: Option<String>,
    },
    /// `result_metadata_id` is present in v5 and absent before.
    Execute {
        id: Bytes,
        result_metadata_id: Option<Bytes>,
        params: QueryParameters,
    },
    Batch(Batch),
    Register(Vec<EventType>),
    /// The SASL token; for PasswordAuthenticator `\0user\0password`.
    AuthResponse(Option<Bytes>),
}

/// A decoded request with the envelope-level extras.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestMessage {
    /// Whether the client asked for tracing (header flag 0x02).
    pub tracing: bool,
    /// The custom payload (header flag 0x04).
    pub custom_payload: Option<BytesMap>,
    pub request: Request,
}

impl Request {
    /// The opcode of this request.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Startup(_) => Opcode::Startup,
            Self::Options => Opcode::Options,
            Self::Query { .. } => Opcode::Query,
            Self::Prepare { .. } => Opcode::Prepare,
            Self::Execute { .. } => Opcode::Execute,
            Self::Batch(_) => Opcode::Batch,
            Self::Register(_) => Opcode::Register,
            Self::AuthResponse(_) => Opcode::AuthResponse,
        }
    }

    /// Decodes the body of a request envelope (already decompressed). Trailing bytes are ignored, as the
    /// spec allows for forward compatibility.
    pub fn decode(envelope: &Envelope) -> Result<RequestMessage> {
        let header = &envelope.header;
        let version = header.version;
        let mut r = Reader::new(envelope.body.clone());
        let custom_payload = if header.flags.contains(Flags::CUSTOM_PAYLOAD) {
            Some(r.read_bytes_map("custom payload")?)
        } else {
            None
        };
        let request = match header.opcode {
            Opcode::Startup => Self::Startup(r.read_string_map("startup options")?),
            Opcode::Options => Self::Options,
            Opcode::Query => Self::Query {
                query: r.read_long_string("query")?,
                params: QueryParameters::decode(&mut r, version)?,
            },
            Opcode::Prepare => {
                let query = r.read_long_string("query")?;
                let flags = if version.is_v5() {
                    r.read_i32("prepare flags")? as u32
                } else {
                    0
                };
                let keyspace = if flags & PREPARE_WITH_KEYSPACE != 0 {
                    Some(r.read_string("keyspace")?)
                } else {
                    None
                };
                Self::Prepare { query, keyspace }
            }
            Opcode::Execute => {
                let id = r.read_short_bytes("prepared id")?;
                let result_metadata_id = if version.is_v5() {
                    Some(r.read_short_bytes("result metadata id")?)
                } else {
                    None
                };
                Self::Execute {
                    id,
                    result_metadata_id,
                    params: QueryParameters::decode(&mut r, version)?,
                }
            }
            Opcode::Batch => Self::Batch(decode_batch(&mut r, version)?),
            Opcode::Register => Self::Register(
                r.read_string_list("event types")?
                    .iter()
                    .map(|s| EventType::from_name(s))
                    .collect::<Result<_>>()?,
            ),
            Opcode::AuthResponse => Self::AuthResponse(r.read_bytes("auth token")?),
            opcode => return Err(ProtocolError::UnexpectedOpcode { opcode }),
        };
        Ok(RequestMessage {
            tracing: header.flags.contains(Flags::TRACING),
            custom_payload,
            request,
        })
    }

    /// Encodes the message body (without envelope header or custom payload).
    pub fn encode_body(&self, buf: &mut BytesMut, version: Version) {
        match self {
            Self::Startup(options) => put_string_map(buf, options),
            Self::Options => {}
            Self::Query { query, params } => {
                put_long_string(buf, query);
                params.encode(buf, version);
            }
            Self::Prepare { query, keyspace } => {
                put_long_string(buf, query);
                if version.is_v5() {
                    buf.put_u32(if keyspace.is_some() {
                        PREPARE_WITH_KEYSPACE
                    } else {
                        0
                    });
                    if let Some(ks) = keyspace {
                        put_string(buf, ks);
                    }
                }
            }
            Self::Execute {
                id,
                result_metadata_id,
                params,
            } => {
                put_short_bytes(buf, id);
                if version.is_v5() {
                    put_short_bytes(buf, result_metadata_id.as_deref().unwrap_or_default());
                }
                params.encode(buf, version);
            }
            Self::Batch(batch) => encode_batch(batch, buf, version),
            Self::Register(events) => {
                put_string_list(buf, &events.iter().map(|e| e.name()).collect::<Vec<_>>());
            }
            Self::AuthResponse(token) => put_bytes(buf, token.as_deref()),
        }
    }

    /// Appends a complete request envelope (header, optional custom payload, body) to `out`.
    pub fn encode_envelope(
        &self,
        out: &mut BytesMut,
        version: Version,
        stream: i16,
        tracing: bool,
        custom_payload: Option<&BytesMap>,
    ) -> Result<usize> {
        let mut flags = Flags::empty();
        flags.set(Flags::TRACING, tracing);
        flags.set(Flags::CUSTOM_PAYLOAD, custom_payload.is_some());
        let mut w = EnvelopeWriter::begin(out, version, Direction::Request, flags, stream, self.opcode());
        if let Some(payload) = custom_payload {
            put_bytes_map(w.buf(), payload);
        }
        self.encode_body(w.buf(), version);
        w.finish()
    }
}

fn decode_batch(r: &mut Reader, version: Version) -> Result<Batch> {
    let batch_type = match r.read_u8("batch type")? {
        0 => BatchType::Logged,
        1 => BatchType::Unlogged,
        2 => BatchType::Counter,
        other => {
            return Err(ProtocolError::InvalidField {
                what: "batch type",
                value: other.to_string(),
            });
        }
    };
    let n = r.read_u16("batch statement count")?;
    let mut statements = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let kind = r.read_u8("batch statement kind")?;
        let read_values = |r: &mut Reader| -> Result<Vec<Value>> {
            // Named batch values (flag 0x40) cannot be decoded because the flags come after the
            // statements (CASSANDRA-10246); like Cassandra, values are always positional.
            let count = r.read_u16("batch value count")?;
            (0..count).map(|_| r.read_value("batch value")).collect()
        };
        statements.push(match kind {
            0 => {
                let query = r.read_long_string("batch query")?;
                BatchStatement::Query {
                    query,
                    values: read_values(r)?,
                }
            }
            1 => {
                let id = r.read_short_bytes("batch prepared id")?;
                BatchStatement::Prepared {
                    id,
                    values: read_values(r)?,
                }
            }
            other => {
                return Err(ProtocolError::InvalidField {
                    what: "batch statement kind",
                    value: other.to_string(),
                });
            }
        });
    }
    let consistency = r.read_consistency("consistency")?;
    let flags = read_flags(r, version)?;
    let has = |f: u32| flags & f != 0;
    let serial_consistency = if has(SERIAL_CONSISTENCY) {
        Some(r.read_consistency("serial consistency")?)
    } else {
        None
    };
    let timestamp = if has(DEFAULT_TIMESTAMP) {
        Some(r.read_i64("timestamp")?)
    } else {
        None
    };
    let keyspace = if version.is_v5() && has(KEYSPACE) {
        Some(r.read_string("keyspace")?)
    } else {
        None
    };
    let now_in_seconds = if version.is_v5() && has(NOW_IN_SECONDS) {
        Some(r.read_i32("now in seconds")?)
    } else {
        None
    };
    Ok(Batch {
        batch_type,
        statements,
        consistency,
        serial_consistency,
        timestamp,
        keyspace,
        now_in_seconds,
    })
}

fn encode_batch(batch: &Batch, buf: &mut BytesMut, version: Version) {
    buf.put_u8(batch.batch_type as u8);
    buf.put_u16(u16::try_from(batch.statements.len()).unwrap_or(u16::MAX));
    for st in batch.statements.iter().take(usize::from(u16::MAX)) {
        match st {
            BatchStatement::Query { query, .. } => {
                buf.put_u8(0);
                put_long_string(buf, query);
            }
            BatchStatement::Prepared { id, .. } => {
                buf.put_u8(1);
                put_short_bytes(buf, id);
            }
        }
        let values = st.values();
        buf.put_u16(u16::try_from(values.len()).unwrap_or(u16::MAX));
        values
            .iter()
            .take(usize::from(u16::MAX))
            .for_each(|v| put_value(buf, v));
    }
    put_consistency(buf, batch.consistency);
    let mut flags = 0;
    if batch.serial_consistency.is_some() {
        flags |= SERIAL_CONSISTENCY;
    }
    if batch.timestamp.is_some() {
        flags |= DEFAULT_TIMESTAMP;
    }
    if batch.keyspace.is_some() {
        flags |= KEYSPACE;
    }
    if batch.now_in_seconds.is_some() {
        flags |= NOW_IN_SECONDS;
    }
    put_flags(buf, version, flags);
    if let Some(c) = batch.serial_consistency {
        put_consistency(buf, c);
    }
    if let Some(ts) = batch.timestamp {
        buf.put_i64(ts);
    }
    if version.is_v5() {
        if let Some(ks) = &batch.keyspace {
            put_string(buf, ks);
        }
        if let Some(now) = batch.now_in_seconds {
            buf.put_i32(now);
        }
    }
}
