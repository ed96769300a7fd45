//! Envelope (frame) headers: versions, opcodes, flags, the 9-byte header codec and an [`EnvelopeWriter`]
//! that writes a header and patches the body length once the body is complete.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};

/// Length of the v3+ envelope header.
pub const HEADER_LEN: usize = 9;
/// The spec's limit on an envelope body (256 MiB); servers usually configure a smaller maximum.
pub const MAX_BODY_LEN: usize = 256 * 1024 * 1024;
/// The direction bit of the version byte: set on responses.
pub const RESPONSE_BIT: u8 = 0x80;
/// How SUPPORTED's PROTOCOL_VERSIONS and the unsupported-version error list the versions.
pub const SUPPORTED_VERSIONS: &str = "3/v3, 4/v4, 5/v5";

/// A protocol version this crate speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V3 = 3,
    V4 = 4,
    V5 = 5,
}

impl Version {
    /// The lowest supported version.
    pub const MIN: Version = Version::V3;
    /// The highest supported version.
    pub const MAX: Version = Version::V5;

    /// The version number (without the direction bit).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Maps a version number (without the direction bit) to a supported version.
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            3 => Some(Self::V3),
            4 => Some(Self::V4),
            5 => Some(Self::V5),
            _ => None,
        }
    }

    /// Whether this version uses [int] query flags, PREPARE flags and the other v5 body changes.
    pub fn is_v5(self) -> bool {
        self >= Self::V5
    }
}

/// The error message Cassandra sends for an unsupported version; clients match on substrings of it.
pub fn unsupported_version_message(version: u8) -> String {
    ProtocolError::UnsupportedVersion { version, stream: 0 }.to_string()
}

/// Who sent the envelope, from the high bit of the version byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

/// Envelope header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// The body is compressed (v3/v4 only; ignored in v5).
    pub const COMPRESSION: Flags = Flags(0x01);
    /// Tracing requested (request) or tracing id present (response).
    pub const TRACING: Flags = Flags(0x02);
    /// A custom payload [bytes map] precedes the message.
    pub const CUSTOM_PAYLOAD: Flags = Flags(0x04);
    /// A warnings [string list] precedes the message (responses).
    pub const WARNING: Flags = Flags(0x08);
    /// The client opts into a beta protocol version.
    pub const USE_BETA: Flags = Flags(0x10);

    /// No flag set.
    pub const fn empty() -> Self {
        Flags(0)
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: Flags, on: bool) {
        if on { self.0 |= other.0 } else { self.0 &= !other.0 }
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The message type of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    Error = 0x00,
    Startup = 0x01,
    Ready = 0x02,
    Authenticate = 0x03,
    Options = 0x05,
    Supported = 0x06,
    Query = 0x07,
    Result = 0x08,
    Prepare = 0x09,
    Execute = 0x0A,
    Register = 0x0B,
    Event = 0x0C,
    Batch = 0x0D,
    AuthChallenge = 0x0E,
    AuthResponse = 0x0F,
    AuthSuccess = 0x10,
}

impl Opcode {
    /// Maps the opcode byte; `None` for undefined values (including 0x04, unused since v1).
    pub fn from_u8(b: u8) -> Option<Self> {
        use Opcode::*;
        Some(match b {
            0x00 => Error,
            0x01 => Startup,
            0x02 => Ready,
            0x03 => Authenticate,
            0x05 => Options,
            0x06 => Supported,
            0x07 => Query,
            0x08 => Result,
            0x09 => Prepare,
            0x0A => Execute,
            0x0B => Register,
            0x0C => Event,
            0x0D => Batch,
            0x0E => AuthChallenge,
            0x0F => AuthResponse,
            0x10 => AuthSuccess,
            _ => return None,
        })
    }
}

/// A decoded, validated envelope header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    pub version: Version,
    pub direction: Direction,
    pub flags: Flags,
    pub stream: i16,
    pub opcode: Opcode,
    /// Body length in bytes.
    pub length: u32,
}

/// The header fields as raw bytes, before version and opcode validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub version_byte: u8,
    pub flags: u8,
    pub stream: i16,
    pub opcode: u8,
    pub length: u32,
}

impl RawHeader {
    /// Parses the first bytes of `buf`. An unsupported version is reported as soon as the stream id is
    /// readable, so the server can answer even a v1/v2 probe whose header is shorter.
    pub(crate) fn parse(buf: &[u8]) -> Result<Option<RawHeader>> {
        let Some(&version_byte) = buf.first() else {
            return Ok(None);
        };
        let number = version_byte & !RESPONSE_BIT;
        if Version::from_number(number).is_none() {
            // v1 and v2 used a one-byte stream id; later versions two bytes.
            let stream = match (number, buf.get(2), buf.get(3)) {
                (1 | 2, Some(&s), _) => i16::from(s as i8),
                (_, Some(&hi), Some(&lo)) => i16::from_be_bytes([hi, lo]),
                _ => return Ok(None),
            };
            return Err(ProtocolError::UnsupportedVersion {
                version: number,
                stream,
            });
        }
        let Some(h) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        Ok(Some(RawHeader {
            version_byte,
            flags: h[1],
            stream: i16::from_be_bytes([h[2], h[3]]),
            opcode: h[4],
            length: u32::from_be_bytes([h[5], h[6], h[7], h[8]]),
        }))
    }

    /// Validates version and opcode.
    pub(crate) fn validate(self) -> Result<FrameHeader> {
        let number = self.version_byte & !RESPONSE_BIT;
        let version = Version::from_number(number).ok_or(ProtocolError::UnsupportedVersion {
            version: number,
            stream: self.stream,
        })?;
        let opcode = Opcode::from_u8(self.opcode).ok_or(ProtocolError::UnknownOpcode {
            opcode: self.opcode,
            stream: self.stream,
        })?;
        let direction = if self.version_byte & RESPONSE_BIT != 0 {
            Direction::Response
        } else {
            Direction::Request
        };
        Ok(FrameHeader {
            version,
            direction,
            flags: Flags(self.flags),
            stream: self.stream,
            opcode,
            length: self.length,
        })
    }
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`: `Ok(None)` if fewer than 9 bytes are available.
    /// Unsupported versions are reported with the raw version number and stream id.
    pub fn decode(buf: &[u8]) -> Result<Option<FrameHeader>> {
        RawHeader::parse(buf)?.map(RawHeader::validate).transpose()
    }

    /// Writes the 9 header bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        let dir = if self.direction == Direction::Response {
            RESPONSE_BIT
        } else {
            0
        };
        out.put_u8(self.version.number() | dir);
        out.put_u8(self.flags.0);
        out.put_i16(self.stream);
        out.put_u8(self.opcode as u8);
        out.put_u32(self.length);
    }

    /// The body length as a `usize`.
    pub fn body_len(&self) -> usize {
        self.length as usize
    }
}

/// A complete envelope: validated header and (decompressed) body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub header: FrameHeader,
    pub body: Bytes,
}

impl Envelope {
    /// Serialises header and body, fixing the header length to the body's.
    pub fn encode(&self, out: &mut BytesMut) -> Result<()> {
        let length =
            u32::try_from(self.body.len()).map_err(|_| ProtocolError::BodyTooLarge(self.body.len()))?;
        FrameHeader {
            length,
            ..self.header
        }
        .encode(out);
        out.put_slice(&self.body);
        Ok(())
    }
}

/// Writes one envelope into a caller-owned buffer: the header goes first with a zero length, the caller
/// appends the body through [`EnvelopeWriter::buf`], and [`EnvelopeWriter::finish`] patches the length.
#[derive(Debug)]
pub struct EnvelopeWriter<'a> {
    buf: &'a mut BytesMut,
    start: usize,
}

impl<'a> EnvelopeWriter<'a> {
    /// Appends a header for an envelope whose body will follow.
    pub fn begin(
        buf: &'a mut BytesMut,
        version: Version,
        direction: Direction,
        flags: Flags,
        stream: i16,
        opcode: Opcode,
    ) -> Self {
        let start = buf.len();
        FrameHeader {
            version,
            direction,
            flags,
            stream,
            opcode,
            length: 0,
        }
        .encode(buf);
        Self { buf, start }
    }

    /// The output buffer; everything appended becomes the body.
    pub fn buf(&mut self) -> &mut BytesMut {
        self.buf
    }

    /// Where this envelope's header starts in the buffer.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Patches the body length and returns the total envelope length (header included).
    pub fn finish(self) -> Result<usize> {
        let total = self.buf.len() - self.start;
        let body = total - HEADER_LEN;
        let length = u32::try_from(body).map_err(|_| ProtocolError::BodyTooLarge(body))?;
        self.buf[self.start + 5..self.start + HEADER_LEN].copy_from_slice(&length.to_be_bytes());
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = FrameHeader {
            version: Version::V4,
            direction: Direction::Response,
            flags: Flags::TRACING | Flags::WARNING,
            stream: -1,
            opcode: Opcode::Event,
            length: 42,
        };
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        assert_eq!(buf.as_ref(), &[0x84, 0x0A, 0xff, 0xff, 0x0C, 0, 0, 0, 42]);
        assert_eq!(FrameHeader::decode(&buf).unwrap(), Some(h));
        assert_eq!(FrameHeader::decode(&buf[..8]).unwrap(), None);
    }

    #[test]
    fn unsupported_versions_report_number_and_stream() {
        // The Python driver's first probe: version 0x42 (DSE v2), stream 0, OPTIONS.
        let probe = [0x42, 0, 0, 7, 0x05, 0, 0, 0, 0];
        let err = FrameHeader::decode(&probe).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::UnsupportedVersion {
                version: 66,
                stream: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid or unsupported protocol version (66); supported versions are (3/v3, 4/v4, 5/v5)"
        );
        assert!(err.is_fatal());
        // A v2 header has a one-byte stream id.
        assert_eq!(
            FrameHeader::decode(&[0x02, 0, 5, 0x05]).unwrap_err(),
            ProtocolError::UnsupportedVersion {
                version: 2,
                stream: 5
            }
        );
        assert_eq!(FrameHeader::decode(&[0x06, 0]).unwrap(), None);
        assert_eq!(
            unsupported_version_message(6),
            ProtocolError::UnsupportedVersion {
                version: 6,
                stream: 1
            }
            .to_string()
        );
    }

    #[test]
    fn unknown_opcode_is_typed() {
        let raw = [0x04, 0, 0, 3, 0x04, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&raw).unwrap_err(),
            ProtocolError::UnknownOpcode { opcode: 4, stream: 3 }
        );
    }

    #[test]
    fn writer_patches_length() {
        let mut buf = BytesMut::from(&b"xx"[..]);
        let mut w = EnvelopeWriter::begin(
            &mut buf,
            Version::V5,
            Direction::Request,
            Flags::empty(),
            1,
            Opcode::Options,
        );
        w.buf().put_slice(b"abc");
        assert_eq!(w.finish().unwrap(), 12);
        let h = FrameHeader::decode(&buf[2..]).unwrap().unwrap();
        assert_eq!((h.length, h.version, h.opcode), (3, Version::V5, Opcode::Options));
    }
}
