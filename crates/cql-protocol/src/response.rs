//! Response messages (server to client): encoding for the server and decoding for clients and tests,
//! plus [`RowsWriter`], which streams a Rows result straight into the output buffer.

use std::net::{IpAddr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};
use mica_cql_types::CqlType;
use uuid::Uuid;

use crate::codec::{
    BytesMap, Reader, StringMultimap, len_i32, put_bytes, put_bytes_map, put_consistency, put_inet,
    put_inetaddr, put_short_bytes, put_string, put_string_list, put_string_multimap,
};
use crate::consistency::Consistency;
use crate::error::{ProtocolError, Result};
use crate::frame::{Direction, Envelope, EnvelopeWriter, Flags, Opcode, Version};
use crate::types::{put_type, read_type};

/// The stream id of server-pushed EVENT messages.
pub const EVENT_STREAM: i16 = -1;
/// Upper bound on rows of a zero-column Rows result accepted when decoding (such rows occupy no bytes,
/// so the count cannot be checked against the body size).
const MAX_EMPTY_ROWS: usize = 1 << 16;

const RESULT_VOID: i32 = 0x0001;
const RESULT_ROWS: i32 = 0x0002;
const RESULT_SET_KEYSPACE: i32 = 0x0003;
const RESULT_PREPARED: i32 = 0x0004;
const RESULT_SCHEMA_CHANGE: i32 = 0x0005;

/// Rows metadata flags.
pub mod rows_flags {
    pub const GLOBAL_TABLES_SPEC: i32 = 0x0001;
    pub const HAS_MORE_PAGES: i32 = 0x0002;
    pub const NO_METADATA: i32 = 0x0004;
    pub const METADATA_CHANGED: i32 = 0x0008;
}
use rows_flags::*;

fn invalid(what: &'static str, value: impl ToString) -> ProtocolError {
    ProtocolError::InvalidField {
        what,
        value: value.to_string(),
    }
}

/// Generates a string-valued enum with `as_str` and a parser for decoding.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            /// The protocol spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }

            /// Parses the protocol spelling.
            pub fn parse(s: &str) -> Result<Self> {
                match s { $($s => Ok(Self::$variant),)* other => Err(invalid($what, other)) }
            }
        }
    };
}

string_enum!(
    /// The kind of write that timed out or failed.
    WriteType, "write type" {
        Simple => "SIMPLE", Batch => "BATCH", UnloggedBatch => "UNLOGGED_BATCH", Counter => "COUNTER",
        BatchLog => "BATCH_LOG", Cas => "CAS", View => "VIEW", Cdc => "CDC",
    }
);
string_enum!(
    /// TOPOLOGY_CHANGE event kinds.
    TopologyChangeType, "topology change" {
        NewNode => "NEW_NODE", RemovedNode => "REMOVED_NODE", MovedNode => "MOVED_NODE",
    }
);
string_enum!(
    /// STATUS_CHANGE event kinds.
    StatusChangeType, "status change" { Up => "UP", Down => "DOWN" }
);
string_enum!(
    /// SCHEMA_CHANGE change kinds.
    SchemaChangeType, "schema change type" { Created => "CREATED", Updated => "UPDATED", Dropped => "DROPPED" }
);

/// Replica failures of ReadFailure/WriteFailure: v3/v4 send only a count, v5 a map of replica address
/// to reason code. Encoding a map for v4 sends its size; encoding a count for v5 sends an empty map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureReasons {
    Count(i32),
    Reasons(Vec<(IpAddr, u16)>),
}

impl FailureReasons {
    /// Number of failed replicas.
    pub fn count(&self) -> i32 {
        match self {
            Self::Count(n) => *n,
            Self::Reasons(r) => len_i32(r.len()),
        }
    }

    fn encode(&self, buf: &mut BytesMut, version: Version) {
        match (self, version.is_v5()) {
            (Self::Reasons(reasons), true) => {
                buf.put_i32(len_i32(reasons.len()));
                for (ip, code) in reasons {
                    put_inetaddr(buf, *ip);
                    buf.put_u16(*code);
                }
            }
            (Self::Count(_), true) => buf.put_i32(0),
            (_, false) => buf.put_i32(self.count()),
        }
    }

    fn decode(r: &mut Reader, version: Version) -> Result<Self> {
        let n = r.read_i32("failure count")?;
        if !version.is_v5() {
            return Ok(Self::Count(n));
        }
        let n = usize::try_from(n).map_err(|_| invalid("failure reason count", n))?;
        // Each entry takes at least 7 bytes, which bounds the loop by the body size.
        if n > r.remaining() / 7 {
            return Err(ProtocolError::Truncated {
                what: "failure reasons",
            });
        }
        (0..n)
            .map(|_| Ok((r.read_inetaddr("failure endpoint")?, r.read_u16("failure code")?)))
            .collect::<Result<_>>()
            .map(Self::Reasons)
    }
}

/// An error code with its code-specific fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Server,
    Protocol,
    BadCredentials,
    Unavailable {
        consistency: Consistency,
        required: i32,
        alive: i32,
    },
    Overloaded,
    IsBootstrapping,
    Truncate,
    /// `contentions` is sent only in v5 and only for CAS writes.
    WriteTimeout {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        write_type: WriteType,
        contentions: Option<u16>,
    },
    ReadTimeout {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        data_present: bool,
    },
    ReadFailure {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        failures: FailureReasons,
        data_present: bool,
    },
    FunctionFailure {
        keyspace: String,
        function: String,
        arg_types: Vec<String>,
    },
    WriteFailure {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        failures: FailureReasons,
        write_type: WriteType,
    },
    CdcWriteFailure,
    CasWriteUnknown {
        consistency: Consistency,
        received: i32,
        block_for: i32,
    },
    Syntax,
    Unauthorized,
    Invalid,
    Config,
    /// `table` is empty when a keyspace already exists.
    AlreadyExists {
        keyspace: String,
        table: String,
    },
    Unprepared {
        id: Bytes,
    },
}

impl ErrorKind {
    /// The [int] error code.
    pub fn code(&self) -> i32 {
        match self {
            Self::Server => 0x0000,
            Self::Protocol => 0x000A,
            Self::BadCredentials => 0x0100,
            Self::Unavailable { .. } => 0x1000,
            Self::Overloaded => 0x1001,
            Self::IsBootstrapping => 0x1002,
            Self::Truncate => 0x1003,
            Self::WriteTimeout { .. } => 0x1100,
            Self::ReadTimeout { .. } => 0x1200,
            Self::ReadFailure { .. } => 0x1300,
            Self::FunctionFailure { .. } => 0x1400,
            Self::WriteFailure { .. } => 0x1500,
            Self::CdcWriteFailure => 0x1600,
            Self::CasWriteUnknown { .. } => 0x1700,
            Self::Syntax => 0x2000,
            Self::Unauthorized => 0x2100,
            Self::Invalid => 0x2200,
            Self::Config => 0x2300,
            Self::AlreadyExists { .. } => 0x2400,
            Self::Unprepared { .. } => 0x2500,
        }
    }
}

/// An ERROR message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn encode(&self, buf: &mut BytesMut, version: Version) {
        buf.put_i32(self.kind.code());
        put_string(buf, &self.message);
        match &self.kind {
            ErrorKind::Unavailable {
                consistency,
                required,
                alive,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*required);
                buf.put_i32(*alive);
            }
            ErrorKind::WriteTimeout {
                consistency,
                received,
                block_for,
                write_type,
                contentions,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*received);
                buf.put_i32(*block_for);
                put_string(buf, write_type.as_str());
                if version.is_v5() && *write_type == WriteType::Cas {
                    buf.put_u16(contentions.unwrap_or(0));
                }
            }
            ErrorKind::ReadTimeout {
                consistency,
                received,
                block_for,
                data_present,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*received);
                buf.put_i32(*block_for);
                buf.put_u8(u8::from(*data_present));
            }
            ErrorKind::ReadFailure {
                consistency,
                received,
                block_for,
                failures,
                data_present,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*received);
                buf.put_i32(*block_for);
                failures.encode(buf, version);
                buf.put_u8(u8::from(*data_present));
            }
            ErrorKind::FunctionFailure {
                keyspace,
                function,
                arg_types,
            } => {
                put_string(buf, keyspace);
                put_string(buf, function);
                put_string_list(buf, arg_types);
            }
            ErrorKind::WriteFailure {
                consistency,
                received,
                block_for,
                failures,
                write_type,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*received);
                buf.put_i32(*block_for);
                failures.encode(buf, version);
                put_string(buf, write_type.as_str());
            }
            ErrorKind::CasWriteUnknown {
                consistency,
                received,
                block_for,
            } => {
                put_consistency(buf, *consistency);
                buf.put_i32(*received);
                buf.put_i32(*block_for);
            }
            ErrorKind::AlreadyExists { keyspace, table } => {
                put_string(buf, keyspace);
                put_string(buf, table);
            }
            ErrorKind::Unprepared { id } => put_short_bytes(buf, id),
            _ => {}
        }
    }

    fn decode(r: &mut Reader, version: Version) -> Result<Self> {
        let code = r.read_i32("error code")?;
        let message = r.read_string("error message")?;
        let cl = |r: &mut Reader| r.read_consistency("error consistency");
        let int = |r: &mut Reader, what| r.read_i32(what);
        let kind = match code {
            0x0000 => ErrorKind::Server,
            0x000A => ErrorKind::Protocol,
            0x0100 => ErrorKind::BadCredentials,
            0x1000 => ErrorKind::Unavailable {
                consistency: cl(r)?,
                required: int(r, "required")?,
                alive: int(r, "alive")?,
            },
            0x1001 => ErrorKind::Overloaded,
            0x1002 => ErrorKind::IsBootstrapping,
            0x1003 => ErrorKind::Truncate,
            0x1100 => {
                let (consistency, received, block_for) = (cl(r)?, int(r, "received")?, int(r, "block for")?);
                let write_type = WriteType::parse(&r.read_string("write type")?)?;
                let contentions = if version.is_v5() && write_type == WriteType::Cas {
                    Some(r.read_u16("contentions")?)
                } else {
                    None
                };
                ErrorKind::WriteTimeout {
                    consistency,
                    received,
                    block_for,
                    write_type,
                    contentions,
                }
            }
            0x1200 => ErrorKind::ReadTimeout {
                consistency: cl(r)?,
                received: int(r, "received")?,
                block_for: int(r, "block for")?,
                data_present: r.read_u8("data present")? != 0,
            },
            0x1300 => ErrorKind::ReadFailure {
                consistency: cl(r)?,
                received: int(r, "received")?,
                block_for: int(r, "block for")?,
                failures: FailureReasons::decode(r, version)?,
                data_present: r.read_u8("data present")? != 0,
            },
            0x1400 => ErrorKind::FunctionFailure {
                keyspace: r.read_string("function keyspace")?,
                function: r.read_string("function name")?,
                arg_types: r.read_string_list("function argument types")?,
            },
            0x1500 => ErrorKind::WriteFailure {
                consistency: cl(r)?,
                received: int(r, "received")?,
                block_for: int(r, "block for")?,
                failures: FailureReasons::decode(r, version)?,
                write_type: WriteType::parse(&r.read_string("write type")?)?,
            },
            0x1600 => ErrorKind::CdcWriteFailure,
            0x1700 => ErrorKind::CasWriteUnknown {
                consistency: cl(r)?,
                received: int(r, "received")?,
                block_for: int(r, "block for")?,
            },
            0x2000 => ErrorKind::Syntax,
            0x2100 => ErrorKind::Unauthorized,
            0x2200 => ErrorKind::Invalid,
            0x2300 => ErrorKind::Config,
            0x2400 => ErrorKind::AlreadyExists {
                keyspace: r.read_string("keyspace")?,
                table: r.read_string("table")?,
            },
            0x2500 => ErrorKind::Unprepared {
                id: r.read_short_bytes("unprepared id")?,
            },
            other => return Err(invalid("error code", format!("{other:#06x}"))),
        };
        Ok(Self { kind, message })
    }
}

/// The object a schema change concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaChangeTarget {
    Keyspace(String),
    Table {
        keyspace: String,
        name: String,
    },
    Type {
        keyspace: String,
        name: String,
    },
    Function {
        keyspace: String,
        name: String,
        arg_types: Vec<String>,
    },
    Aggregate {
        keyspace: String,
        name: String,
        arg_types: Vec<String>,
    },
}

/// A SCHEMA_CHANGE event or result: `<change_type><target><options>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaChange {
    pub change_type: SchemaChangeType,
    pub target: SchemaChangeTarget,
}

impl SchemaChange {
    fn encode(&self, buf: &mut BytesMut) {
        put_string(buf, self.change_type.as_str());
        match &self.target {
            SchemaChangeTarget::Keyspace(ks) => {
                put_string(buf, "KEYSPACE");
                put_string(buf, ks);
            }
            SchemaChangeTarget::Table { keyspace, name } | SchemaChangeTarget::Type { keyspace, name } => {
                let target = if matches!(self.target, SchemaChangeTarget::Table { .. }) {
                    "TABLE"
                } else {
                    "TYPE"
                };
                put_string(buf, target);
                put_string(buf, keyspace);
                put_string(buf, name);
            }
            SchemaChangeTarget::Function {
                keyspace,
                name,
                arg_types,
            }
            | SchemaChangeTarget::Aggregate {
                keyspace,
                name,
                arg_types,
            } => {
                let is_fn = matches!(self.target, SchemaChangeTarget::Function { .. });
                put_string(buf, if is_fn { "FUNCTION" } else { "AGGREGATE" });
                put_string(buf, keyspace);
                put_string(buf, name);
                put_string_list(buf, arg_types);
            }
        }
    }

    fn decode(r: &mut Reader) -> Result<Self> {
        let change_type = SchemaChangeType::parse(&r.read_string("schema change type")?)?;
        let target = r.read_string("schema change target")?;
        let target = match target.as_str() {
            "KEYSPACE" => SchemaChangeTarget::Keyspace(r.read_string("keyspace")?),
            "TABLE" => SchemaChangeTarget::Table {
                keyspace: r.read_string("keyspace")?,
                name: r.read_string("table")?,
            },
            "TYPE" => SchemaChangeTarget::Type {
                keyspace: r.read_string("keyspace")?,
                name: r.read_string("type")?,
            },
            "FUNCTION" => SchemaChangeTarget::Function {
                keyspace: r.read_string("keyspace")?,
                name: r.read_string("function")?,
                arg_types: r.read_string_list("argument types")?,
            },
            "AGGREGATE" => SchemaChangeTarget::Aggregate {
                keyspace: r.read_string("keyspace")?,
                name: r.read_string("aggregate")?,
                arg_types: r.read_string_list("argument types")?,
            },
            other => return Err(invalid("schema change target", other)),
        };
        Ok(Self { change_type, target })
    }
}

/// A server-pushed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    TopologyChange {
        change: TopologyChangeType,
        address: SocketAddr,
    },
    StatusChange {
        change: StatusChangeType,
        address: SocketAddr,
    },
    SchemaChange(SchemaChange),
}

/// One column of result or bind-marker metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnSpec {
    pub keyspace: String,
    pub table: String,
    pub name: String,
    pub typ: CqlType,
}

/// Writes column specs, using the global table spec when every column shares keyspace and table.
fn encode_specs(buf: &mut BytesMut, flags_pos: usize, columns: &[ColumnSpec]) {
    let global = columns.first().filter(|first| {
        columns
            .iter()
            .all(|c| c.keyspace == first.keyspace && c.table == first.table)
    });
    if let Some(first) = global {
        let flags = i32::from_be_bytes([
            buf[flags_pos],
            buf[flags_pos + 1],
            buf[flags_pos + 2],
            buf[flags_pos + 3],
        ]);
        buf[flags_pos..flags_pos + 4].copy_from_slice(&(flags | GLOBAL_TABLES_SPEC).to_be_bytes());
        put_string(buf, &first.keyspace);
        put_string(buf, &first.table);
    }
    for c in columns {
        if global.is_none() {
            put_string(buf, &c.keyspace);
            put_string(buf, &c.table);
        }
        put_string(buf, &c.name);
        put_type(buf, &c.typ);
    }
}

fn decode_specs(r: &mut Reader, flags: i32, count: usize) -> Result<Vec<ColumnSpec>> {
    let global = if flags & GLOBAL_TABLES_SPEC != 0 {
        Some((r.read_string("keyspace")?, r.read_string("table")?))
    } else {
        None
    };
    // Each spec takes at least 4 bytes, which bounds the allocation by the body size.
    if count > r.remaining() / 4 {
        return Err(ProtocolError::Truncated { what: "column specs" });
    }
    (0..count)
        .map(|_| {
            let (keyspace, table) = match &global {
                Some((ks, t)) => (ks.clone(), t.clone()),
                None => (r.read_string("keyspace")?, r.read_string("table")?),
            };
            Ok(ColumnSpec {
                keyspace,
                table,
                name: r.read_string("column name")?,
                typ: read_type(r)?,
            })
        })
        .collect()
}

fn read_count(r: &mut Reader, what: &'static str) -> Result<usize> {
    let n = r.read_i32(what)?;
    usize::try_from(n).map_err(|_| invalid(what, n))
}

/// Rows (result) metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowsMetadata {
    /// Number of columns; must equal `columns.len()` when `columns` is present.
    pub columns_count: usize,
    /// Column specs; `None` sends the No_metadata flag (the client asked to skip metadata).
    pub columns: Option<Vec<ColumnSpec>>,
    /// Set when more pages follow (Has_more_pages).
    pub paging_state: Option<Bytes>,
    /// v5: the new result metadata id (Metadata_changed).
    pub new_metadata_id: Option<Bytes>,
}

impl RowsMetadata {
    /// Metadata describing `columns`.
    pub fn new(columns: Vec<ColumnSpec>) -> Self {
        Self {
            columns_count: columns.len(),
            columns: Some(columns),
            ..Self::default()
        }
    }

    /// Metadata with the No_metadata flag for `columns_count` columns.
    pub fn no_metadata(columns_count: usize) -> Self {
        Self {
            columns_count,
            ..Self::default()
        }
    }

    /// The column count that will be sent.
    pub fn column_count(&self) -> usize {
        self.columns.as_ref().map_or(self.columns_count, Vec::len)
    }

    /// Encodes `<metadata>`.
    pub fn encode(&self, buf: &mut BytesMut, version: Version) {
        let mut flags = 0;
        if self.paging_state.is_some() {
            flags |= HAS_MORE_PAGES;
        }
        if self.columns.is_none() {
            flags |= NO_METADATA;
        }
        let metadata_changed = version.is_v5() && self.new_metadata_id.is_some();
        if metadata_changed {
            flags |= METADATA_CHANGED;
        }
        let flags_pos = buf.len();
        buf.put_i32(flags);
        buf.put_i32(len_i32(self.column_count()));
        if let Some(state) = &self.paging_state {
            put_bytes(buf, Some(state));
        }
        if let (true, Some(id)) = (metadata_changed, &self.new_metadata_id) {
            put_short_bytes(buf, id);
        }
        if let Some(columns) = &self.columns {
            encode_specs(buf, flags_pos, columns);
        }
    }

    /// Decodes `<metadata>`.
    pub fn decode(r: &mut Reader, version: Version) -> Result<Self> {
        let flags = r.read_i32("rows flags")?;
        let columns_count = read_count(r, "column count")?;
        let paging_state = if flags & HAS_MORE_PAGES != 0 {
            r.read_bytes("paging state")?
        } else {
            None
        };
        let new_metadata_id = if version.is_v5() && flags & METADATA_CHANGED != 0 {
            Some(r.read_short_bytes("new metadata id")?)
        } else {
            None
        };
        let columns = if flags & NO_METADATA != 0 {
            None
        } else {
            Some(decode_specs(r, flags, columns_count)?)
        };
        Ok(Self {
            columns_count,
            columns,
            paging_state,
            new_metadata_id,
        })
    }
}

/// Bind-marker metadata of a prepared statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreparedMetadata {
    /// Bind-marker index of each partition key column, in key order (v4+); empty if not all are bound.
    pub pk_indexes: Vec<u16>,
    pub columns: Vec<ColumnSpec>,
}

impl PreparedMetadata {
    fn encode(&self, buf: &mut BytesMut, version: Version) {
        let flags_pos = buf.len();
        buf.put_i32(0);
        buf.put_i32(len_i32(self.columns.len()));
        if version >= Version::V4 {
            buf.put_i32(len_i32(self.pk_indexes.len()));
            self.pk_indexes.iter().for_each(|i| buf.put_u16(*i));
        }
        encode_specs(buf, flags_pos, &self.columns);
    }

    fn decode(r: &mut Reader, version: Version) -> Result<Self> {
        let flags = r.read_i32("prepared flags")?;
        let count = read_count(r, "bind marker count")?;
        let pk_indexes = if version >= Version::V4 {
            let n = read_count(r, "partition key count")?;
            if n > r.remaining() / 2 {
                return Err(ProtocolError::Truncated {
                    what: "partition key indexes",
                });
            }
            (0..n)
                .map(|_| r.read_u16("partition key index"))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(Self {
            pk_indexes,
            columns: decode_specs(r, flags, count)?,
        })
    }
}

/// A Rows result held in memory (client side and small server results; see [`RowsWriter`] for the hot path).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    pub metadata: RowsMetadata,
    pub rows: Vec<Vec<Option<Bytes>>>,
}

/// A Prepared result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    pub id: Bytes,
    /// v5 only.
    pub result_metadata_id: Option<Bytes>,
    pub metadata: PreparedMetadata,
    pub result_metadata: RowsMetadata,
}

/// A RESULT message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultBody {
    Void,
    Rows(Rows),
    SetKeyspace(String),
    Prepared(Prepared),
    SchemaChange(SchemaChange),
}

/// A response message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Error(ErrorBody),
    Ready,
    /// The authenticator class, e.g. `org.apache.cassandra.auth.PasswordAuthenticator`.
    Authenticate(String),
    Supported(StringMultimap),
    Result(ResultBody),
    Event(Event),
    AuthChallenge(Option<Bytes>),
    AuthSuccess(Option<Bytes>),
}

/// Envelope-level extras of a response, each announced by a header flag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseExtras {
    /// Tracing session id (flag 0x02).
    pub tracing_id: Option<Uuid>,
    /// Warnings (flag 0x08, v4+); empty means no flag.
    pub warnings: Vec<String>,
    /// Custom payload (flag 0x04, v4+).
    pub custom_payload: Option<BytesMap>,
}

/// A decoded response with its extras.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseMessage {
    pub extras: ResponseExtras,
    pub response: Response,
}

/// Starts a response envelope: writes the header (flags derived from `extras`) and the tracing id,
/// warnings and custom payload. The caller appends the message body and calls `finish`.
pub fn begin_response<'a>(
    out: &'a mut BytesMut,
    version: Version,
    stream: i16,
    opcode: Opcode,
    extras: &ResponseExtras,
) -> EnvelopeWriter<'a> {
    let v4 = version >= Version::V4;
    let warnings = v4 && !extras.warnings.is_empty();
    let payload = if v4 { extras.custom_payload.as_ref() } else { None };
    let mut flags = Flags::empty();
    flags.set(Flags::TRACING, extras.tracing_id.is_some());
    flags.set(Flags::WARNING, warnings);
    flags.set(Flags::CUSTOM_PAYLOAD, payload.is_some());
    let mut w = EnvelopeWriter::begin(out, version, Direction::Response, flags, stream, opcode);
    if let Some(id) = extras.tracing_id {
        w.buf().put_slice(id.as_bytes());
    }
    if warnings {
        put_string_list(w.buf(), &extras.warnings);
    }
    if let Some(p) = payload {
        put_bytes_map(w.buf(), p);
    }
    w
}

impl Response {
    /// The opcode of this response.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Error(_) => Opcode::Error,
            Self::Ready => Opcode::Ready,
            Self::Authenticate(_) => Opcode::Authenticate,
            Self::Supported(_) => Opcode::Supported,
            Self::Result(_) => Opcode::Result,
            Self::Event(_) => Opcode::Event,
            Self::AuthChallenge(_) => Opcode::AuthChallenge,
            Self::AuthSuccess(_) => Opcode::AuthSuccess,
        }
    }

    /// Shorthand for an ERROR response.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Error(ErrorBody::new(kind, message))
    }

    /// Encodes the message body.
    pub fn encode_body(&self, buf: &mut BytesMut, version: Version) {
        match self {
            Self::Error(e) => e.encode(buf, version),
            Self::Ready => {}
            Self::Authenticate(class) => put_string(buf, class),
            Self::Supported(map) => put_string_multimap(buf, map),
            Self::Result(result) => encode_result(result, buf, version),
            Self::Event(event) => match event {
                Event::TopologyChange { change, address } => {
                    put_string(buf, "TOPOLOGY_CHANGE");
                    put_string(buf, change.as_str());
                    put_inet(buf, *address);
                }
                Event::StatusChange { change, address } => {
                    put_string(buf, "STATUS_CHANGE");
                    put_string(buf, change.as_str());
                    put_inet(buf, *address);
                }
                Event::SchemaChange(change) => {
                    put_string(buf, "SCHEMA_CHANGE");
                    change.encode(buf);
                }
            },
            Self::AuthChallenge(token) | Self::AuthSuccess(token) => put_bytes(buf, token.as_deref()),
        }
    }

    /// Appends a complete response envelope; returns its length.
    pub fn encode_envelope(
        &self,
        out: &mut BytesMut,
        version: Version,
        stream: i16,
        extras: &ResponseExtras,
    ) -> Result<usize> {
        let mut w = begin_response(out, version, stream, self.opcode(), extras);
        self.encode_body(w.buf(), version);
        w.finish()
    }

    /// Decodes a response envelope (already decompressed).
    pub fn decode(envelope: &Envelope) -> Result<ResponseMessage> {
        let header = &envelope.header;
        let version = header.version;
        let mut r = Reader::new(envelope.body.clone());
        let mut extras = ResponseExtras::default();
        if header.flags.contains(Flags::TRACING) {
            extras.tracing_id = Some(r.read_uuid("tracing id")?);
        }
        if header.flags.contains(Flags::WARNING) {
            extras.warnings = r.read_string_list("warnings")?;
        }
        if header.flags.contains(Flags::CUSTOM_PAYLOAD) {
            extras.custom_payload = Some(r.read_bytes_map("custom payload")?);
        }
        let response = match header.opcode {
            Opcode::Error => Self::Error(ErrorBody::decode(&mut r, version)?),
            Opcode::Ready => Self::Ready,
            Opcode::Authenticate => Self::Authenticate(r.read_string("authenticator")?),
            Opcode::Supported => Self::Supported(r.read_string_multimap("supported options")?),
            Opcode::Result => Self::Result(decode_result(&mut r, version)?),
            Opcode::Event => Self::Event(decode_event(&mut r)?),
            Opcode::AuthChallenge => Self::AuthChallenge(r.read_bytes("auth challenge")?),
            Opcode::AuthSuccess => Self::AuthSuccess(r.read_bytes("auth success")?),
            opcode => return Err(ProtocolError::UnexpectedOpcode { opcode }),
        };
        Ok(ResponseMessage { extras, response })
    }
}

/// Appends the ERROR answer to an unsupported-version header: a protocol error on the client's stream,
/// with the header version set to the highest version this crate supports, as clients expect.
pub fn encode_unsupported_version(out: &mut BytesMut, version: u8, stream: i16) -> Result<usize> {
    let message = ProtocolError::UnsupportedVersion { version, stream }.to_string();
    Response::error(ErrorKind::Protocol, message).encode_envelope(
        out,
        Version::MAX,
        stream,
        &ResponseExtras::default(),
    )
}

fn decode_event(r: &mut Reader) -> Result<Event> {
    let kind = r.read_string("event type")?;
    Ok(match kind.as_str() {
        "TOPOLOGY_CHANGE" => Event::TopologyChange {
            change: TopologyChangeType::parse(&r.read_string("topology change")?)?,
            address: r.read_inet("node address")?,
        },
        "STATUS_CHANGE" => Event::StatusChange {
            change: StatusChangeType::parse(&r.read_string("status change")?)?,
            address: r.read_inet("node address")?,
        },
        "SCHEMA_CHANGE" => Event::SchemaChange(SchemaChange::decode(r)?),
        other => return Err(invalid("event type", other)),
    })
}

fn encode_result(result: &ResultBody, buf: &mut BytesMut, version: Version) {
    match result {
        ResultBody::Void => buf.put_i32(RESULT_VOID),
        ResultBody::Rows(rows) => {
            buf.put_i32(RESULT_ROWS);
            rows.metadata.encode(buf, version);
            buf.put_i32(len_i32(rows.rows.len()));
            for cell in rows.rows.iter().flatten() {
                put_bytes(buf, cell.as_deref());
            }
        }
        ResultBody::SetKeyspace(ks) => {
            buf.put_i32(RESULT_SET_KEYSPACE);
            put_string(buf, ks);
        }
        ResultBody::Prepared(p) => {
            buf.put_i32(RESULT_PREPARED);
            put_short_bytes(buf, &p.id);
            if version.is_v5() {
                put_short_bytes(buf, p.result_metadata_id.as_deref().unwrap_or_default());
            }
            p.metadata.encode(buf, version);
            p.result_metadata.encode(buf, version);
        }
        ResultBody::SchemaChange(change) => {
            buf.put_i32(RESULT_SCHEMA_CHANGE);
            change.encode(buf);
        }
    }
}

fn decode_result(r: &mut Reader, version: Version) -> Result<ResultBody> {
    Ok(match r.read_i32("result kind")? {
        RESULT_VOID => ResultBody::Void,
        RESULT_ROWS => {
            let metadata = RowsMetadata::decode(r, version)?;
            let count = read_count(r, "rows count")?;
            let columns = metadata.column_count();
            // Every cell takes at least 4 bytes, which bounds the row count by the body size.
            let fits = if columns == 0 {
                count <= MAX_EMPTY_ROWS
            } else {
                count <= r.remaining() / (4 * columns)
            };
            if !fits {
                return Err(ProtocolError::Truncated { what: "rows" });
            }
            let rows = (0..count)
                .map(|_| {
                    (0..columns)
                        .map(|_| r.read_bytes("cell"))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
            ResultBody::Rows(Rows { metadata, rows })
        }
        RESULT_SET_KEYSPACE => ResultBody::SetKeyspace(r.read_string("keyspace")?),
        RESULT_PREPARED => {
            let id = r.read_short_bytes("prepared id")?;
            let result_metadata_id = if version.is_v5() {
                Some(r.read_short_bytes("result metadata id")?)
            } else {
                None
            };
            ResultBody::Prepared(Prepared {
                id,
                result_metadata_id,
                metadata: PreparedMetadata::decode(r, version)?,
                result_metadata: RowsMetadata::decode(r, version)?,
            })
        }
        RESULT_SCHEMA_CHANGE => ResultBody::SchemaChange(SchemaChange::decode(r)?),
        other => return Err(invalid("result kind", other)),
    })
}

/// Streams a RESULT Rows envelope into the output buffer: metadata first, then cells row by row, and
/// the rows count and envelope length are patched by [`RowsWriter::finish`]. No per-row allocation.
#[derive(Debug)]
pub struct RowsWriter<'a> {
    env: EnvelopeWriter<'a>,
    count_pos: usize,
    columns: usize,
    cells_in_row: usize,
    rows: usize,
}

impl<'a> RowsWriter<'a> {
    /// Starts a RESULT Rows envelope on `stream`.
    pub fn begin(
        out: &'a mut BytesMut,
        version: Version,
        stream: i16,
        extras: &ResponseExtras,
        metadata: &RowsMetadata,
    ) -> Self {
        let mut env = begin_response(out, version, stream, Opcode::Result, extras);
        let buf = env.buf();
        buf.put_i32(RESULT_ROWS);
        metadata.encode(buf, version);
        let count_pos = buf.len();
        buf.put_i32(0);
        Self {
            env,
            count_pos,
            columns: metadata.column_count(),
            cells_in_row: 0,
            rows: 0,
        }
    }

    /// Appends one cell; `None` is null.
    pub fn push_cell(&mut self, cell: Option<&[u8]>) {
        put_bytes(self.env.buf(), cell);
        self.cells_in_row += 1;
    }

    /// Appends one non-null cell whose bytes `write` appends directly to the buffer; the length prefix is
    /// patched afterwards, so values can be serialised without a temporary buffer.
    pub fn push_cell_with(&mut self, write: impl FnOnce(&mut BytesMut)) {
        let buf = self.env.buf();
        let len_pos = buf.len();
        buf.put_i32(0);
        write(buf);
        let len = len_i32(buf.len() - len_pos - 4);
        buf[len_pos..len_pos + 4].copy_from_slice(&len.to_be_bytes());
        self.cells_in_row += 1;
    }

    /// Ends the current row, checking it has exactly one cell per column.
    pub fn finish_row(&mut self) -> Result<()> {
        let actual = std::mem::take(&mut self.cells_in_row);
        if actual != self.columns {
            return Err(ProtocolError::ColumnCountMismatch {
                expected: self.columns,
                actual,
            });
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows completed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes written so far for this envelope (header included), for page-size budgeting.
    pub fn written(&mut self) -> usize {
        let start = self.env.start();
        self.env.buf().len() - start
    }

    /// Patches the rows count and envelope length; returns the envelope length. A row left unfinished is
    /// an error.
    pub fn finish(mut self) -> Result<usize> {
        if self.cells_in_row != 0 {
            return Err(ProtocolError::ColumnCountMismatch {
                expected: self.columns,
                actual: self.cells_in_row,
            });
        }
        let count = len_i32(self.rows).to_be_bytes();
        let pos = self.count_pos;
        self.env.buf()[pos..pos + 4].copy_from_slice(&count);
        self.env.finish()
    }
}
