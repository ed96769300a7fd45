//! The CQL native protocol (v3, v4, v5), sans-IO: bytes in, typed messages out, and typed messages to
//! bytes. The server feeds socket bytes to a [`decoder::FrameDecoder`], decodes requests with
//! [`request::Request::decode`] and writes responses with [`response::Response::encode_envelope`] or,
//! for large results, [`response::RowsWriter`]. After READY/AUTHENTICATE on a v5 connection both
//! directions switch to segment framing ([`segment::SegmentCodec`]).

pub mod codec;
pub mod compression;
pub mod consistency;
pub mod decoder;
pub mod error;
pub mod frame;
pub mod request;
pub mod response;
pub mod segment;
pub mod types;

pub use codec::{BytesMap, StringMap, StringMultimap, Value};
pub use compression::Compression;
pub use consistency::Consistency;
pub use decoder::FrameDecoder;
pub use error::ProtocolError;
pub use frame::{Direction, Envelope, EnvelopeWriter, Flags, FrameHeader, Opcode, Version};
pub use request::{
    Batch, BatchStatement, BatchType, EventType, QueryParameters, QueryValues, Request, RequestMessage,
};
pub use response::{
    ColumnSpec, ErrorBody, ErrorKind, Event, Prepared, PreparedMetadata, Response, ResponseExtras,
    ResponseMessage, ResultBody, Rows, RowsMetadata, RowsWriter, SchemaChange, SchemaChangeTarget,
    SchemaChangeType,
};
pub use segment::SegmentCodec;
