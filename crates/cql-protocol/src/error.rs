//! Typed errors of the protocol codec. Nothing in this crate panics on malformed input; it returns these.

use thiserror::Error;

use crate::frame::Opcode;

/// Every way decoding or encoding a native-protocol message can fail.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The header carried a protocol version this crate does not speak. `version` is the version number
    /// without the direction bit, so a client probing with 0x42 reports 66, as Cassandra does.
    #[error("Invalid or unsupported protocol version ({version}); supported versions are (3/v3, 4/v4, 5/v5)")]
    UnsupportedVersion { version: u8, stream: i16 },
    /// The envelope body is larger than the configured maximum. The streaming decoder skips the body,
    /// so the connection can answer on `stream` and keep going.
    #[error("Request is too big: length {length} exceeds maximum allowed length {max}.")]
    FrameTooLarge { stream: i16, length: usize, max: usize },
    /// The opcode byte is not defined by the protocol. The body has been consumed.
    #[error("Unknown opcode {opcode}")]
    UnknownOpcode { opcode: u8, stream: i16 },
    /// A known opcode arrived in the wrong direction (for example a RESULT sent to the server).
    #[error("Unexpected message {opcode:?}")]
    UnexpectedOpcode { opcode: Opcode },
    /// The body ended before a field was complete.
    #[error("Not enough bytes to read {what}")]
    Truncated { what: &'static str },
    /// A [string] or [long string] was not valid UTF-8.
    #[error("Invalid UTF-8 in {what}")]
    InvalidUtf8 { what: &'static str },
    /// A [consistency] outside ANY..LOCAL_ONE.
    #[error("Unknown code {0} for a consistency level")]
    UnknownConsistency(u16),
    /// A [value] length below -2.
    #[error("Invalid value length {0}")]
    InvalidValueLength(i32),
    /// An enumerated field (result kind, error code, event type, option id, ...) had an unknown value.
    #[error("Invalid {what}: {value}")]
    InvalidField { what: &'static str, value: String },
    /// A type [option] nested deeper than this crate accepts (guards the stack against hostile input).
    #[error("Type nesting deeper than {0} levels")]
    TypeTooDeep(usize),
    /// Body compression or decompression failed.
    #[error("Compression error: {0}")]
    Compression(String),
    /// A v3/v4 frame had the compression flag but no compression was negotiated in STARTUP.
    #[error("Received a compressed frame but no compression was negotiated")]
    CompressionNotNegotiated,
    /// A v5 segment header failed its CRC24 check.
    #[error("Segment header CRC24 mismatch: computed {computed:#08x}, received {received:#08x}")]
    HeaderCrcMismatch { computed: u32, received: u32 },
    /// A v5 segment payload failed its CRC32 check.
    #[error("Segment payload CRC32 mismatch: computed {computed:#010x}, received {received:#010x}")]
    PayloadCrcMismatch { computed: u32, received: u32 },
    /// A rows writer was given a row whose cell count differs from the metadata's column count.
    #[error("Row has {actual} cells but the metadata declares {expected} columns")]
    ColumnCountMismatch { expected: usize, actual: usize },
    /// An outgoing envelope body exceeded what the 32-bit length field can describe.
    #[error("Envelope body of {0} bytes is too large to encode")]
    BodyTooLarge(usize),
}

impl ProtocolError {
    /// The stream id the error should be answered on, when the error was detected at the header level.
    pub fn stream(&self) -> Option<i16> {
        match self {
            Self::UnsupportedVersion { stream, .. }
            | Self::FrameTooLarge { stream, .. }
            | Self::UnknownOpcode { stream, .. } => Some(*stream),
            _ => None,
        }
    }

    /// Whether the byte stream can no longer be trusted, so the connection must be closed after replying.
    /// Oversized frames and unknown opcodes are skipped whole and are therefore recoverable.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedVersion { .. }
                | Self::HeaderCrcMismatch { .. }
                | Self::PayloadCrcMismatch { .. }
                | Self::CompressionNotNegotiated
                | Self::Compression(_)
        )
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
