//! The v5 framing layer ("segments", called frames in §2 of the v5 spec): after the handshake every
//! envelope travels inside segments with a CRC24-protected little-endian header and a CRC32 trailer,
//! optionally LZ4-compressed. Small envelopes are packed into self-contained segments; an envelope
//! larger than one payload is split over non-self-contained segments.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::frame::HEADER_LEN;

/// Largest segment payload (2^17 - 1 bytes).
pub const MAX_PAYLOAD_LEN: usize = (1 << 17) - 1;
/// Header length of an uncompressed segment.
pub const UNCOMPRESSED_HEADER_LEN: usize = 6;
/// Header length of an LZ4 segment.
pub const COMPRESSED_HEADER_LEN: usize = 8;
/// Length of the CRC32 trailer.
pub const TRAILER_LEN: usize = 4;

const CRC24_INIT: u32 = 0x875060;
const CRC24_POLY: u32 = 0x1974F0B;
/// Bytes fed to CRC32 before the payload, as Cassandra seeds it.
const CRC32_SEED: [u8; 4] = [0xFA, 0x2D, 0x55, 0xCA];
const LEN_MASK: u64 = (1 << 17) - 1;

/// CRC24 over the low `len` bytes of `value`, least significant byte first.
pub fn crc24(mut value: u64, len: usize) -> u32 {
    let mut crc = CRC24_INIT;
    for _ in 0..len {
        crc ^= ((value & 0xff) as u32) << 16;
        value >>= 8;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= CRC24_POLY;
            }
        }
    }
    crc & 0xff_ffff
}

/// CRC32 of a payload, seeded with the bytes FA 2D 55 CA.
pub fn crc32(payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&CRC32_SEED);
    h.update(payload);
    h.finalize()
}

fn le_uint(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

/// One decoded segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The (decompressed) payload.
    pub payload: Bytes,
    /// Whether the payload holds only complete envelopes.
    pub self_contained: bool,
}

/// Encodes and decodes segments of one connection; `compressed` selects the LZ4 format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentCodec {
    compressed: bool,
}

impl SegmentCodec {
    /// A codec for the uncompressed (`false`) or LZ4 (`true`) format.
    pub fn new(compressed: bool) -> Self {
        Self { compressed }
    }

    /// Whether this codec uses the LZ4 format.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Appends one segment carrying `payload` (at most [`MAX_PAYLOAD_LEN`] bytes).
    pub fn write_segment(&self, payload: &[u8], self_contained: bool, out: &mut BytesMut) -> Result<()> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(ProtocolError::BodyTooLarge(payload.len()));
        }
        let sc = u64::from(self_contained);
        if !self.compressed {
            let header = payload.len() as u64 | (sc << 17);
            out.put_uint_le(header, 3);
            out.put_uint_le(u64::from(crc24(header, 3)), 3);
            out.put_slice(payload);
            out.put_u32_le(crc32(payload));
            return Ok(());
        }
        let compressed = lz4_flex::block::compress(payload);
        // Incompressible payloads go out raw, signalled by an uncompressed length of 0.
        let (body, uncompressed_len): (&[u8], usize) = if compressed.len() < payload.len() {
            (&compressed, payload.len())
        } else {
            (payload, 0)
        };
        let header = body.len() as u64 | ((uncompressed_len as u64) << 17) | (sc << 34);
        out.put_uint_le(header, 5);
        out.put_uint_le(u64::from(crc24(header, 5)), 3);
        out.put_slice(body);
        out.put_u32_le(crc32(body));
        Ok(())
    }

    /// Wraps a byte string of complete envelopes into segments: consecutive envelopes are packed into
    /// self-contained segments of up to [`MAX_PAYLOAD_LEN`] bytes, and an envelope that does not fit in
    /// one payload is split over non-self-contained segments.
    pub fn encode_envelopes(&self, envelopes: &[u8], out: &mut BytesMut) -> Result<()> {
        let (mut batch_start, mut pos) = (0, 0);
        while pos < envelopes.len() {
            let len_bytes = envelopes
                .get(pos + 5..pos + HEADER_LEN)
                .ok_or(ProtocolError::Truncated {
                    what: "envelope header",
                })?;
            let body_len = le_uint(&[len_bytes[3], len_bytes[2], len_bytes[1], len_bytes[0]]) as usize;
            let end = pos + HEADER_LEN + body_len;
            if end > envelopes.len() {
                return Err(ProtocolError::Truncated {
                    what: "envelope body",
                });
            }
            if end - pos > MAX_PAYLOAD_LEN {
                if batch_start < pos {
                    self.write_segment(&envelopes[batch_start..pos], true, out)?;
                }
                for chunk in envelopes[pos..end].chunks(MAX_PAYLOAD_LEN) {
                    self.write_segment(chunk, false, out)?;
                }
                batch_start = end;
            } else if end - batch_start > MAX_PAYLOAD_LEN {
                self.write_segment(&envelopes[batch_start..pos], true, out)?;
                batch_start = pos;
            }
            pos = end;
        }
        if batch_start < envelopes.len() {
            self.write_segment(&envelopes[batch_start..], true, out)?;
        }
        Ok(())
    }

    /// Decodes one segment from the front of `src`, consuming it. `Ok(None)` means more bytes are needed
    /// (nothing is consumed then). CRC failures are errors.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<Segment>> {
        let header_len = if self.compressed {
            COMPRESSED_HEADER_LEN
        } else {
            UNCOMPRESSED_HEADER_LEN
        };
        let Some(header_bytes) = src.get(..header_len) else {
            return Ok(None);
        };
        let fields_len = header_len - 3;
        let header = le_uint(&header_bytes[..fields_len]);
        let received = le_uint(&header_bytes[fields_len..]) as u32;
        let computed = crc24(header, fields_len);
        if computed != received {
            return Err(ProtocolError::HeaderCrcMismatch { computed, received });
        }
        let payload_len = (header & LEN_MASK) as usize;
        let (uncompressed_len, self_contained) = if self.compressed {
            (((header >> 17) & LEN_MASK) as usize, header & (1 << 34) != 0)
        } else {
            (0, header & (1 << 17) != 0)
        };
        let total = header_len + payload_len + TRAILER_LEN;
        if src.len() < total {
            return Ok(None);
        }
        let mut segment = src.split_to(total);
        segment.advance(header_len);
        let payload = segment.split_to(payload_len);
        let received = segment.get_u32_le();
        let computed = crc32(&payload);
        if computed != received {
            return Err(ProtocolError::PayloadCrcMismatch { computed, received });
        }
        let payload = if uncompressed_len == 0 {
            payload.freeze()
        } else {
            let out = lz4_flex::block::decompress(&payload, uncompressed_len)
                .map_err(|e| ProtocolError::Compression(e.to_string()))?;
            if out.len() != uncompressed_len {
                return Err(ProtocolError::Compression(format!(
                    "segment inflated to {} bytes, header says {uncompressed_len}",
                    out.len()
                )));
            }
            Bytes::from(out)
        };
        Ok(Some(Segment {
            payload,
            self_contained,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc24_matches_reference_vectors() {
        // Header of an empty, self-contained uncompressed segment: length 0, flag bit 17.
        let header = 1u64 << 17;
        let crc = crc24(header, 3);
        assert!(crc <= 0xff_ffff);
        // The CRC of no bytes is the initial value.
        assert_eq!(crc24(0, 0), CRC24_INIT);
        // Bytes are consumed least significant first: a different byte order yields a different CRC.
        assert_ne!(crc24(0x01_0000, 3), crc24(0x00_0001, 3));
    }

    #[test]
    fn crc32_is_seeded() {
        let mut h = crc32fast::Hasher::new();
        h.update(b"abc");
        assert_ne!(crc32(b"abc"), h.finalize());
        let mut seeded = crc32fast::Hasher::new();
        seeded.update(&[0xFA, 0x2D, 0x55, 0xCA, b'a', b'b', b'c']);
        assert_eq!(crc32(b"abc"), seeded.finalize());
    }

    #[test]
    fn uncompressed_segment_layout() {
        let mut out = BytesMut::new();
        SegmentCodec::new(false)
            .write_segment(b"hello", true, &mut out)
            .unwrap();
        assert_eq!(out.len(), 6 + 5 + 4);
        // 17-bit length 5 plus the self-contained bit 17, little-endian.
        assert_eq!(&out[..3], &[5, 0, 0x02]);
        assert_eq!(le_uint(&out[3..6]) as u32, crc24(5 | 1 << 17, 3));
        assert_eq!(&out[6..11], b"hello");
        assert_eq!(&out[11..], &crc32(b"hello").to_le_bytes());
    }

    #[test]
    fn segments_round_trip_and_need_more_bytes() {
        for compressed in [false, true] {
            let codec = SegmentCodec::new(compressed);
            let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
            let mut out = BytesMut::new();
            codec.write_segment(&payload, false, &mut out).unwrap();
            codec.write_segment(b"x", true, &mut out).unwrap();
            if compressed {
                assert!(out.len() < payload.len());
            }
            let whole = out.clone();
            for cut in [0, 3, 7, whole.len() / 2] {
                let mut partial = BytesMut::from(&whole[..cut]);
                assert_eq!(codec.decode(&mut partial).unwrap(), None);
                assert_eq!(partial.len(), cut);
            }
            let first = codec.decode(&mut out).unwrap().unwrap();
            assert_eq!(
                (first.payload.as_ref(), first.self_contained),
                (payload.as_slice(), false)
            );
            let second = codec.decode(&mut out).unwrap().unwrap();
            assert_eq!(
                (second.payload.as_ref(), second.self_contained),
                (&b"x"[..], true)
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn incompressible_payload_is_sent_raw() {
        let codec = SegmentCodec::new(true);
        let mut out = BytesMut::new();
        codec.write_segment(b"ab", true, &mut out).unwrap();
        let header = le_uint(&out[..5]);
        assert_eq!(((header >> 17) & LEN_MASK, header & LEN_MASK), (0, 2));
        assert_eq!(codec.decode(&mut out).unwrap().unwrap().payload.as_ref(), b"ab");
    }

    #[test]
    fn crc_mismatches_are_detected() {
        for compressed in [false, true] {
            let codec = SegmentCodec::new(compressed);
            let mut out = BytesMut::new();
            codec.write_segment(b"payload bytes", true, &mut out).unwrap();
            let mut bad_header = out.clone();
            bad_header[0] ^= 0x01;
            assert!(matches!(
                codec.decode(&mut bad_header),
                Err(ProtocolError::HeaderCrcMismatch { .. })
            ));
            let mut bad_payload = out.clone();
            let last = bad_payload.len() - 5;
            bad_payload[last] ^= 0x40;
            assert!(matches!(
                codec.decode(&mut bad_payload),
                Err(ProtocolError::PayloadCrcMismatch { .. })
            ));
        }
    }
}
