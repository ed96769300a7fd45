//! The CQL native protocol (v3, v4, v5), sans-IO: bytes in, typed messages out, and typed messages to
//! bytes.
//!
//! A server connection keeps a [`FrameDecoder`] and a [`FrameEncoder`]:
//! - feed socket bytes to [`FrameDecoder::decode`] and decode each [`Envelope`] with [`Request::decode`];
//!   an error with [`ProtocolError::stream`] is answered on that stream (ERROR 0x000A, message = the
//!   error's `Display`), and the connection is closed afterwards when [`ProtocolError::is_fatal`];
//! - write responses into a scratch buffer with [`Response::encode_envelope`] (or [`RowsWriter`] for
//!   large results) and move them to the socket buffer with [`FrameEncoder::encode`];
//! - after STARTUP: v3/v4 with COMPRESSION call `set_compression` on both; v5 calls `enable_segments`
//!   on both right after queuing READY/AUTHENTICATE (which still go out unframed).
//!
//! ```
//! use bytes::BytesMut;
//! use mica_cql_protocol::*;
//!
//! // A client's STARTUP arrives...
//! let mut socket_in = BytesMut::new();
//! let mut options = StringMap::new();
//! options.insert("CQL_VERSION".into(), "3.0.0".into());
//! Request::Startup(options).encode_envelope(&mut socket_in, Version::V5, 0, false, None).unwrap();
//!
//! let (mut decoder, mut encoder) = (FrameDecoder::default(), FrameEncoder::new());
//! let envelope = decoder.decode(&mut socket_in).unwrap().expect("a whole frame");
//! assert!(matches!(Request::decode(&envelope).unwrap().request, Request::Startup(_)));
//!
//! // ...and is answered with READY, after which a v5 connection switches to segments.
//! let (mut scratch, mut socket_out) = (BytesMut::new(), BytesMut::new());
//! Response::Ready
//!     .encode_envelope(&mut scratch, envelope.header.version, envelope.header.stream, &ResponseExtras::default())
//!     .unwrap();
//! encoder.encode(&mut scratch, &mut socket_out).unwrap();
//! decoder.enable_segments(false);
//! encoder.enable_segments(false);
//!
//! // A result streamed row by row.
//! let metadata = RowsMetadata::no_metadata(1);
//! let mut rows = RowsWriter::begin(&mut scratch, Version::V5, 3, &ResponseExtras::default(), &metadata);
//! rows.push_cell(Some(b"value"));
//! rows.finish_row().unwrap();
//! rows.finish().unwrap();
//! encoder.encode(&mut scratch, &mut socket_out).unwrap();
//! ```

pub mod codec;
pub mod compression;
pub mod consistency;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod frame;
pub mod request;
pub mod response;
pub mod segment;
pub mod types;
pub mod versions;

pub use codec::{BytesMap, StringMap, StringMultimap, Value};
pub use compression::Compression;
pub use consistency::Consistency;
pub use decoder::FrameDecoder;
pub use encoder::FrameEncoder;
pub use error::ProtocolError;
pub use frame::{Direction, Envelope, EnvelopeWriter, Flags, FrameHeader, Opcode, Version};
pub use request::{
    Batch, BatchStatement, BatchType, EventType, QueryParameters, QueryValues, Request, RequestMessage,
};
pub use response::{
    ColumnSpec, ErrorBody, ErrorKind, Event, FailureReasons, Prepared, PreparedMetadata, Response,
    ResponseExtras, ResponseMessage, ResultBody, Rows, RowsMetadata, RowsWriter, SchemaChange,
    SchemaChangeTarget, SchemaChangeType, WriteType,
};
pub use segment::SegmentCodec;
pub use versions::OfferedVersions;
