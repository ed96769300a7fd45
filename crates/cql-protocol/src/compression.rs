//! v3/v4 per-envelope body compression (LZ4 with a 4-byte big-endian length prefix, or raw Snappy),
//! negotiated through STARTUP's COMPRESSION option. v5 compresses whole segments instead (see `segment`).

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::frame::{Flags, HEADER_LEN, MAX_BODY_LEN, Version};

/// A body compression algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    Lz4,
    Snappy,
}

impl Compression {
    /// Names as advertised in SUPPORTED and sent in STARTUP.
    pub const NAMES: [&'static str; 2] = ["lz4", "snappy"];

    /// Parses a STARTUP COMPRESSION value (case-insensitive); `None` for unknown algorithms.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("lz4") {
            Some(Self::Lz4)
        } else if name.eq_ignore_ascii_case("snappy") {
            Some(Self::Snappy)
        } else {
            None
        }
    }

    /// The protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lz4 => "lz4",
            Self::Snappy => "snappy",
        }
    }

    /// Whether v5 segment framing can use this algorithm (only LZ4 is defined for v5).
    pub fn supports_v5(self) -> bool {
        self == Self::Lz4
    }

    /// Compresses a body.
    pub fn compress(self, body: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Lz4 => {
                let len = u32::try_from(body.len()).map_err(|_| ProtocolError::BodyTooLarge(body.len()))?;
                let mut out = Vec::with_capacity(4 + lz4_flex::block::get_maximum_output_size(body.len()));
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&lz4_flex::block::compress(body));
                Ok(out)
            }
            Self::Snappy => snap::raw::Encoder::new()
                .compress_vec(body)
                .map_err(|e| ProtocolError::Compression(e.to_string())),
        }
    }

    /// Decompresses a body, refusing to inflate beyond `max_len` bytes (a hostile length prefix must not
    /// make us allocate gigabytes).
    pub fn decompress(self, body: &[u8], max_len: usize) -> Result<Vec<u8>> {
        let too_big =
            |n: usize| ProtocolError::Compression(format!("uncompressed length {n} exceeds {max_len}"));
        match self {
            Self::Lz4 => {
                let (prefix, block) = body
                    .split_at_checked(4)
                    .ok_or(ProtocolError::Truncated { what: "lz4 length" })?;
                let mut len_bytes = [0u8; 4];
                len_bytes.copy_from_slice(prefix);
                let len = u32::from_be_bytes(len_bytes) as usize;
                if len > max_len {
                    return Err(too_big(len));
                }
                let out = lz4_flex::block::decompress(block, len)
                    .map_err(|e| ProtocolError::Compression(e.to_string()))?;
                if out.len() != len {
                    return Err(ProtocolError::Compression(format!(
                        "lz4 produced {} bytes, expected {len}",
                        out.len()
                    )));
                }
                Ok(out)
            }
            Self::Snappy => {
                let len =
                    snap::raw::decompress_len(body).map_err(|e| ProtocolError::Compression(e.to_string()))?;
                if len > max_len {
                    return Err(too_big(len));
                }
                snap::raw::Decoder::new()
                    .decompress_vec(body)
                    .map_err(|e| ProtocolError::Compression(e.to_string()))
            }
        }
    }
}

/// Compresses, in place, the body of the v3/v4 envelope that starts at `start` and runs to the end of
/// `buf`, setting the compression flag and the new length. v5 envelopes are left alone because v5
/// compresses at the segment layer.
pub fn compress_envelope(buf: &mut BytesMut, start: usize, compression: Compression) -> Result<()> {
    let Some(header) = buf.get(start..start + HEADER_LEN) else {
        return Err(ProtocolError::Truncated {
            what: "envelope header",
        });
    };
    if Version::from_number(header[0] & 0x7f).is_none_or(Version::is_v5) {
        return Ok(());
    }
    let body = buf.split_off(start + HEADER_LEN);
    let compressed = compression.compress(&body)?;
    let length =
        u32::try_from(compressed.len()).map_err(|_| ProtocolError::BodyTooLarge(compressed.len()))?;
    buf[start + 1] |= Flags::COMPRESSION.0;
    buf[start + 5..start + HEADER_LEN].copy_from_slice(&length.to_be_bytes());
    buf.put_slice(&compressed);
    Ok(())
}

/// The default inflation cap for decompression: the spec's body limit.
pub const DEFAULT_MAX_DECOMPRESSED: usize = MAX_BODY_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_round_trip() {
        let body: Vec<u8> = (0..5000u32).flat_map(|i| (i % 17).to_be_bytes()).collect();
        for c in [Compression::Lz4, Compression::Snappy] {
            let packed = c.compress(&body).unwrap();
            assert!(packed.len() < body.len());
            assert_eq!(c.decompress(&packed, MAX_BODY_LEN).unwrap(), body);
            assert!(c.decompress(&packed, 10).is_err());
            assert_eq!(Compression::from_name(&c.name().to_uppercase()), Some(c));
        }
        let lz4 = Compression::Lz4.compress(&body).unwrap();
        assert_eq!(&lz4[..4], &(body.len() as u32).to_be_bytes());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(
            Compression::Lz4
                .decompress(&[0, 0, 0, 9, 0xff, 0xff], 100)
                .is_err()
        );
        assert!(Compression::Lz4.decompress(&[0, 0], 100).is_err());
        assert!(
            Compression::Snappy
                .decompress(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 100)
                .is_err()
        );
    }
}
