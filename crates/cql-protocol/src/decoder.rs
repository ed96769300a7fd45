//! The server's streaming decoder: feed it the connection's read buffer and take complete envelopes out.
//! It starts in plain-envelope mode (v3/v4, and v5 before the handshake completes) and is switched to
//! v5 segment mode by the server after it sends READY or AUTHENTICATE.

use bytes::{Buf, BytesMut};

use crate::compression::Compression;
use crate::error::{ProtocolError, Result};
use crate::frame::{Envelope, Flags, HEADER_LEN, RawHeader};
use crate::segment::SegmentCodec;

/// Default maximum envelope body, matching Cassandra's `native_transport_max_frame_size` (16 MiB).
pub const DEFAULT_MAX_BODY_LEN: usize = 16 * 1024 * 1024;

/// Incremental envelope decoder for one connection.
#[derive(Debug)]
pub struct FrameDecoder {
    max_body_len: usize,
    compression: Option<Compression>,
    segments: Option<SegmentCodec>,
    /// Reassembled segment payloads not yet cut into envelopes.
    payload: BytesMut,
    /// Remaining body bytes of an oversized envelope that are being skipped.
    discard: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BODY_LEN)
    }
}

impl FrameDecoder {
    /// A plain-mode decoder rejecting bodies longer than `max_body_len`.
    pub fn new(max_body_len: usize) -> Self {
        Self {
            max_body_len,
            compression: None,
            segments: None,
            payload: BytesMut::new(),
            discard: 0,
        }
    }

    /// Sets the v3/v4 body compression negotiated in STARTUP; compressed bodies are inflated on decode.
    pub fn set_compression(&mut self, compression: Option<Compression>) {
        self.compression = compression;
    }

    /// Switches to v5 segment framing (LZ4 segments when `lz4`). Bytes still in the caller's buffer are
    /// interpreted as segments from now on.
    pub fn enable_segments(&mut self, lz4: bool) {
        self.segments = Some(SegmentCodec::new(lz4));
    }

    /// Whether segment framing is active.
    pub fn uses_segments(&self) -> bool {
        self.segments.is_some()
    }

    /// Takes the next complete envelope out of `src`. `Ok(None)` means more bytes are needed.
    ///
    /// Errors carrying a stream id ([`ProtocolError::stream`]) can be answered on that stream; an
    /// oversized or unknown-opcode envelope is skipped whole, so decoding can continue unless
    /// [`ProtocolError::is_fatal`] says otherwise.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>> {
        let Some(codec) = self.segments else {
            return self.decode_envelope(src, false);
        };
        loop {
            let mut payload = std::mem::take(&mut self.payload);
            let result = self.decode_envelope(&mut payload, true);
            self.payload = payload;
            if let Some(envelope) = result? {
                return Ok(Some(envelope));
            }
            match codec.decode(src)? {
                Some(segment) => self.payload.extend_from_slice(&segment.payload),
                None => return Ok(None),
            }
        }
    }

    fn decode_envelope(&mut self, buf: &mut BytesMut, in_segments: bool) -> Result<Option<Envelope>> {
        if self.discard > 0 {
            let n = self.discard.min(buf.len());
            buf.advance(n);
            self.discard -= n;
            if self.discard > 0 {
                return Ok(None);
            }
        }
        let Some(raw) = RawHeader::parse(buf)? else {
            return Ok(None);
        };
        let length = raw.length as usize;
        if length > self.max_body_len {
            buf.advance(HEADER_LEN);
            let n = length.min(buf.len());
            buf.advance(n);
            self.discard = length - n;
            return Err(ProtocolError::FrameTooLarge {
                stream: raw.stream,
                length,
                max: self.max_body_len,
            });
        }
        let total = HEADER_LEN + length;
        if buf.len() < total {
            if !in_segments {
                buf.reserve(total - buf.len());
            }
            return Ok(None);
        }
        let mut frame = buf.split_to(total);
        let mut header = raw.validate()?;
        let mut body = frame.split_off(HEADER_LEN).freeze();
        // v5 compresses at the segment layer and ignores this flag.
        if header.flags.contains(Flags::COMPRESSION) && !header.version.is_v5() {
            let compression = self.compression.ok_or(ProtocolError::CompressionNotNegotiated)?;
            body = compression.decompress(&body, self.max_body_len)?.into();
            header.flags.set(Flags::COMPRESSION, false);
            header.length = u32::try_from(body.len()).map_err(|_| ProtocolError::BodyTooLarge(body.len()))?;
        }
        Ok(Some(Envelope { header, body }))
    }
}
