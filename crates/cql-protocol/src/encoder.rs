//! The server's outgoing counterpart of `FrameDecoder`: turns complete envelopes (written with
//! `Response::encode_envelope` or `RowsWriter`) into wire bytes for the connection's current mode:
//! plain envelopes, plain envelopes with v3/v4 body compression, or v5 segments.

use bytes::BytesMut;

use crate::compression::{Compression, compress_envelope};
use crate::error::{ProtocolError, Result};
use crate::frame::HEADER_LEN;
use crate::segment::SegmentCodec;

/// Outgoing framing state of one connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameEncoder {
    compression: Option<Compression>,
    segments: Option<SegmentCodec>,
}

impl FrameEncoder {
    /// A plain, uncompressed encoder (the state before STARTUP).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the v3/v4 body compression negotiated in STARTUP.
    pub fn set_compression(&mut self, compression: Option<Compression>) {
        self.compression = compression;
    }

    /// Switches to v5 segment framing; call right after queuing READY or AUTHENTICATE, which themselves
    /// must still go out unframed.
    pub fn enable_segments(&mut self, lz4: bool) {
        self.segments = Some(SegmentCodec::new(lz4));
    }

    /// Whether segment framing is active.
    pub fn uses_segments(&self) -> bool {
        self.segments.is_some()
    }

    /// Moves the complete envelopes in `envelopes` (emptying it) to `out` in wire format.
    pub fn encode(&self, envelopes: &mut BytesMut, out: &mut BytesMut) -> Result<()> {
        if let Some(codec) = self.segments {
            codec.encode_envelopes(envelopes, out)?;
            envelopes.clear();
            return Ok(());
        }
        let Some(compression) = self.compression else {
            out.extend_from_slice(envelopes);
            envelopes.clear();
            return Ok(());
        };
        while !envelopes.is_empty() {
            let len_bytes = envelopes.get(5..HEADER_LEN).ok_or(ProtocolError::Truncated {
                what: "envelope header",
            })?;
            let body_len =
                u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
            if envelopes.len() < HEADER_LEN + body_len {
                return Err(ProtocolError::Truncated {
                    what: "envelope body",
                });
            }
            let mut one = envelopes.split_to(HEADER_LEN + body_len);
            // Empty bodies (READY, OPTIONS) gain nothing from compression and are sent as they are.
            if body_len > 0 {
                compress_envelope(&mut one, 0, compression)?;
            }
            out.extend_from_slice(&one);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoder::FrameDecoder;
    use crate::frame::Version;
    use crate::response::{Response, ResponseExtras};

    fn two_responses(version: Version) -> BytesMut {
        let mut buf = BytesMut::new();
        Response::Ready
            .encode_envelope(&mut buf, version, 1, &ResponseExtras::default())
            .unwrap();
        Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into())
            .encode_envelope(&mut buf, version, 2, &ResponseExtras::default())
            .unwrap();
        buf
    }

    #[test]
    fn every_mode_decodes_back() {
        let modes: [(Version, Option<Compression>, Option<bool>); 4] = [
            (Version::V4, None, None),
            (Version::V4, Some(Compression::Lz4), None),
            (Version::V4, Some(Compression::Snappy), None),
            (Version::V5, None, Some(true)),
        ];
        for (version, compression, segments) in modes {
            let mut encoder = FrameEncoder::new();
            let mut decoder = FrameDecoder::default();
            encoder.set_compression(compression);
            decoder.set_compression(compression);
            if let Some(lz4) = segments {
                encoder.enable_segments(lz4);
                decoder.enable_segments(lz4);
            }
            let mut envelopes = two_responses(version);
            let mut wire = BytesMut::new();
            encoder.encode(&mut envelopes, &mut wire).unwrap();
            assert!(envelopes.is_empty());
            let first = decoder.decode(&mut wire).unwrap().unwrap();
            let second = decoder.decode(&mut wire).unwrap().unwrap();
            assert_eq!(Response::decode(&first).unwrap().response, Response::Ready);
            assert!(matches!(
                Response::decode(&second).unwrap().response,
                Response::Authenticate(_)
            ));
            assert!(wire.is_empty());
        }
    }
}
