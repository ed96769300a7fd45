//! Byte layout of keys and values in the fjall engine (documented in docs/storage-format.md).
//!
//! Every key of a table keyspace starts with the partition prefix
//! `token(8, order-preserving) | escaped partition key | 00 01`, followed by a kind byte that puts
//! partition-level entries before the static row and the static row before regular rows.

use crate::error::{Result, StorageError};
use crate::reconcile::RegularVersion;
use crate::types::{CellValue, ClusteringBound, PartitionKey, Ttl};
use mica_types::Token;
use std::ops::Bound;

/// Partition deletion entry kind.
pub const KIND_PARTITION_DELETION: u8 = 0x10;
/// Range tombstone entry kind.
pub const KIND_RANGE_TOMBSTONE: u8 = 0x20;
/// Static row kind.
pub const KIND_STATIC: u8 = 0x30;
/// Regular row kind.
pub const KIND_ROW: u8 = 0x40;

/// Row entry kinds (after the row prefix), in their on-disk order.
pub const ENTRY_ROW_DELETION: u8 = 0x01;
pub const ENTRY_MARKER: u8 = 0x02;
pub const ENTRY_COMPLEX_DELETION: u8 = 0x03;
pub const ENTRY_CELL: u8 = 0x04;

const PATH_NONE: u8 = 0x00;
const PATH_SOME: u8 = 0x01;

const BOUND_UNBOUNDED: u8 = 0;
const BOUND_INCLUDED: u8 = 1;
const BOUND_EXCLUDED: u8 = 2;

const VALUE_REGULAR: u8 = 0;
const VALUE_EXPIRING: u8 = 1;
const VALUE_TOMBSTONE: u8 = 2;
const VALUE_COUNTER: u8 = 3;

const MARKER_PERMANENT: u8 = 0;
const MARKER_EXPIRING: u8 = 1;

/// Length of `inverted timestamp | unique id` at the end of cell and marker keys.
pub const VERSION_SUFFIX_LEN: usize = 16;
const TS_LEN: usize = 8;
const COLUMN_LEN: usize = 4;

/// The largest key fjall accepts.
pub const MAX_KEY_LEN: usize = 65_535;

/// Appends `bytes` escaped (`00` → `00 FF`) and terminated by `00 01`, which preserves unsigned
/// lexicographic order and makes the segment self-delimiting.
pub fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    escape_unterminated(out, bytes);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Appends `bytes` escaped without the terminator (a prefix of every escaped extension).
pub fn escape_unterminated(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.split_inclusive(|b| *b == 0) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&0) {
            out.push(0xFF);
        }
    }
}

/// Length of the escaped, terminated segment at the start of `input`.
pub fn escaped_len(input: &[u8]) -> Result<usize> {
    let mut i = 0;
    while let Some(offset) = input[i..].iter().position(|b| *b == 0) {
        let zero = i + offset;
        match input.get(zero + 1) {
            Some(0x01) => return Ok(zero + 2),
            Some(0xFF) => i = zero + 2,
            _ => break,
        }
    }
    Err(corrupt("unterminated escaped segment"))
}

/// Decodes an escaped, terminated segment (the whole of `input`).
pub fn unescape(input: &[u8]) -> Vec<u8> {
    let body = input.strip_suffix(&[0x00, 0x01]).unwrap_or(input);
    let mut out = Vec::with_capacity(body.len());
    let mut skip = false;
    for &b in body {
        if skip {
            skip = false;
            continue;
        }
        out.push(b);
        skip = b == 0;
    }
    out
}

/// Timestamp bytes ordered newest first.
pub fn inverted_ts(ts: i64) -> [u8; 8] {
    (!((ts as u64) ^ (1 << 63))).to_be_bytes()
}

/// Inverse of [`inverted_ts`].
pub fn ts_from_inverted(bytes: &[u8]) -> Result<i64> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| corrupt("short timestamp"))?;
    Ok(((!u64::from_be_bytes(arr)) ^ (1 << 63)) as i64)
}

/// Appends the partition prefix of `key`.
pub fn partition_prefix(out: &mut Vec<u8>, key: &PartitionKey) {
    out.extend_from_slice(&key.token.to_ordered_bytes());
    escape_into(out, &key.key);
}

/// Length of the partition prefix at the start of a table key.
pub fn partition_prefix_len(key: &[u8]) -> Result<usize> {
    let rest = key.get(8..).ok_or_else(|| corrupt("key shorter than a token"))?;
    Ok(8 + escaped_len(rest)?)
}

/// Decodes the partition key from a partition prefix.
pub fn decode_partition_key(prefix: &[u8]) -> Result<PartitionKey> {
    let token: [u8; 8] = prefix
        .get(..8)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| corrupt("short token"))?;
    Ok(PartitionKey {
        token: Token::from_ordered_bytes(token),
        key: unescape(&prefix[8..]),
    })
}

/// Length of the row prefix (partition prefix, kind, escaped clustering) of a row entry key, given
/// the partition prefix length; `None` for partition-level entries.
pub fn row_prefix_len(key: &[u8], pp_len: usize) -> Result<Option<usize>> {
    match key.get(pp_len) {
        Some(&KIND_STATIC) => Ok(Some(pp_len + 1)),
        Some(&KIND_ROW) => Ok(Some(pp_len + 1 + escaped_len(&key[pp_len + 1..])?)),
        Some(&KIND_PARTITION_DELETION | &KIND_RANGE_TOMBSTONE) => Ok(None),
        _ => Err(corrupt("unknown partition entry kind")),
    }
}

/// Smallest byte string greater than every string starting with `key`; `false` if none exists.
pub fn prefix_successor(key: &mut Vec<u8>) -> bool {
    while let Some(last) = key.last_mut() {
        if *last == 0xFF {
            key.pop();
        } else {
            *last += 1;
            return true;
        }
    }
    false
}

/// Appends a range tombstone bound.
pub fn encode_bound(out: &mut Vec<u8>, bound: &ClusteringBound) {
    match bound {
        Bound::Unbounded => out.push(BOUND_UNBOUNDED),
        Bound::Included(p) => {
            out.push(BOUND_INCLUDED);
            escape_into(out, p);
        }
        Bound::Excluded(p) => {
            out.push(BOUND_EXCLUDED);
            escape_into(out, p);
        }
    }
}

/// Decodes a bound at the start of `input`, returning it and its encoded length.
pub fn decode_bound(input: &[u8]) -> Result<(ClusteringBound, usize)> {
    match input.first() {
        Some(&BOUND_UNBOUNDED) => Ok((Bound::Unbounded, 1)),
        Some(&tag @ (BOUND_INCLUDED | BOUND_EXCLUDED)) => {
            let len = escaped_len(&input[1..])?;
            let p = unescape(&input[1..1 + len]);
            let bound = if tag == BOUND_INCLUDED {
                Bound::Included(p)
            } else {
                Bound::Excluded(p)
            };
            Ok((bound, 1 + len))
        }
        _ => Err(corrupt("bad bound tag")),
    }
}

/// Decodes the bounds and timestamp of a range tombstone key's suffix (after its kind byte).
pub fn decode_range_tombstone(suffix: &[u8]) -> Result<(ClusteringBound, ClusteringBound, i64)> {
    let (start, n) = decode_bound(suffix)?;
    let (end, m) = decode_bound(&suffix[n..])?;
    Ok((start, end, ts_from_inverted(&suffix[n + m..])?))
}

/// Appends a cell path segment.
pub fn encode_path(out: &mut Vec<u8>, path: Option<&[u8]>) {
    match path {
        None => out.push(PATH_NONE),
        Some(p) => {
            out.push(PATH_SOME);
            escape_into(out, p);
        }
    }
}

/// A decoded row entry; `key_suffix` positions are relative to the row prefix.
#[derive(Debug)]
pub enum RowEntry<'a> {
    /// Row deletion at a timestamp.
    RowDeletion { ts: i64 },
    /// Row marker version.
    Marker { ts: i64, ttl: Option<Ttl> },
    /// Complex column deletion.
    ComplexDeletion { column: u32, ts: i64 },
    /// Cell version; `group` is the `(column, path)` part of the key identifying the cell.
    Cell {
        column: u32,
        group: &'a [u8],
        path: Option<&'a [u8]>,
        ts: i64,
        value: CellVersion<'a>,
    },
}

/// A decoded cell value.
#[derive(Clone, Copy, Debug)]
pub enum CellVersion<'a> {
    /// A regular (non-counter) version.
    Regular(RegularVersion<'a>),
    /// A counter delta.
    Counter(i64),
}

/// Decodes a row entry from the key suffix after the row prefix and its value.
pub fn decode_row_entry<'a>(suffix: &'a [u8], value: &'a [u8]) -> Result<RowEntry<'a>> {
    let kind = *suffix.first().ok_or_else(|| corrupt("empty row entry"))?;
    match kind {
        ENTRY_ROW_DELETION => Ok(RowEntry::RowDeletion {
            ts: ts_from_inverted(slice(suffix, 1, TS_LEN)?)?,
        }),
        ENTRY_MARKER => Ok(RowEntry::Marker {
            ts: ts_from_inverted(slice(suffix, 1, TS_LEN)?)?,
            ttl: decode_marker(value)?,
        }),
        ENTRY_COMPLEX_DELETION => Ok(RowEntry::ComplexDeletion {
            column: column_at(suffix)?,
            ts: ts_from_inverted(slice(suffix, 1 + COLUMN_LEN, TS_LEN)?)?,
        }),
        ENTRY_CELL => {
            let group_end = suffix
                .len()
                .checked_sub(VERSION_SUFFIX_LEN)
                .filter(|e| *e > 1 + COLUMN_LEN)
                .ok_or_else(|| corrupt("short cell key"))?;
            let group = &suffix[..group_end];
            let path = match group[1 + COLUMN_LEN] {
                PATH_NONE => None,
                PATH_SOME => Some(&group[2 + COLUMN_LEN..]),
                _ => return Err(corrupt("bad path tag")),
            };
            let ts = ts_from_inverted(&suffix[group_end..group_end + TS_LEN])?;
            Ok(RowEntry::Cell {
                column: column_at(suffix)?,
                group,
                path,
                ts,
                value: decode_cell_value(value)?,
            })
        }
        _ => Err(corrupt("unknown row entry kind")),
    }
}

fn column_at(suffix: &[u8]) -> Result<u32> {
    let b: [u8; 4] = slice(suffix, 1, COLUMN_LEN)?
        .try_into()
        .map_err(|_| corrupt("short column"))?;
    Ok(u32::from_be_bytes(b))
}

fn slice(bytes: &[u8], start: usize, len: usize) -> Result<&[u8]> {
    bytes
        .get(start..start + len)
        .ok_or_else(|| corrupt("truncated key"))
}

/// Encodes a cell value.
pub fn encode_cell_value(out: &mut Vec<u8>, value: &CellValue) {
    match value {
        CellValue::Live { value, ttl: None } => {
            out.push(VALUE_REGULAR);
            out.extend_from_slice(value);
        }
        CellValue::Live {
            value,
            ttl: Some(ttl),
        } => {
            out.push(VALUE_EXPIRING);
            out.extend_from_slice(&ttl.ttl_seconds.to_be_bytes());
            out.extend_from_slice(&ttl.expires_at.to_be_bytes());
            out.extend_from_slice(value);
        }
        CellValue::Tombstone { local_deletion_time } => {
            out.push(VALUE_TOMBSTONE);
            out.extend_from_slice(&local_deletion_time.to_be_bytes());
        }
        CellValue::CounterDelta(delta) => {
            out.push(VALUE_COUNTER);
            out.extend_from_slice(&delta.to_be_bytes());
        }
    }
}

/// Decodes a cell value.
pub fn decode_cell_value(value: &[u8]) -> Result<CellVersion<'_>> {
    let (&tag, rest) = value.split_first().ok_or_else(|| corrupt("empty cell value"))?;
    Ok(match tag {
        VALUE_REGULAR => CellVersion::Regular(RegularVersion::Live {
            value: rest,
            ttl: None,
        }),
        VALUE_EXPIRING => {
            let ttl = decode_ttl(rest)?;
            CellVersion::Regular(RegularVersion::Live {
                value: &rest[12..],
                ttl: Some(ttl),
            })
        }
        VALUE_TOMBSTONE => CellVersion::Regular(RegularVersion::Tombstone {
            local_deletion_time: i64_at(rest)?,
        }),
        VALUE_COUNTER => CellVersion::Counter(i64_at(rest)?),
        _ => return Err(corrupt("unknown cell value tag")),
    })
}

/// Encodes a row marker value.
pub fn encode_marker(out: &mut Vec<u8>, ttl: Option<Ttl>) {
    match ttl {
        None => out.push(MARKER_PERMANENT),
        Some(ttl) => {
            out.push(MARKER_EXPIRING);
            out.extend_from_slice(&ttl.ttl_seconds.to_be_bytes());
            out.extend_from_slice(&ttl.expires_at.to_be_bytes());
        }
    }
}

fn decode_marker(value: &[u8]) -> Result<Option<Ttl>> {
    match value.split_first() {
        Some((&MARKER_PERMANENT, _)) => Ok(None),
        Some((&MARKER_EXPIRING, rest)) => Ok(Some(decode_ttl(rest)?)),
        _ => Err(corrupt("bad marker value")),
    }
}

fn decode_ttl(bytes: &[u8]) -> Result<Ttl> {
    let ttl: [u8; 4] = slice(bytes, 0, 4)?.try_into().map_err(|_| corrupt("short ttl"))?;
    Ok(Ttl {
        ttl_seconds: u32::from_be_bytes(ttl),
        expires_at: i64_at(&bytes[4..])?,
    })
}

/// Decodes a big-endian i64 at the start of `bytes`.
pub fn i64_at(bytes: &[u8]) -> Result<i64> {
    let b: [u8; 8] = slice(bytes, 0, 8)?
        .try_into()
        .map_err(|_| corrupt("short integer"))?;
    Ok(i64::from_be_bytes(b))
}

/// Builds a corruption error.
pub fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(b: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        escape_into(&mut v, b);
        v
    }

    #[test]
    fn escaping_preserves_order_and_roundtrips() {
        let samples: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"\x00\x00",
            b"\x00\x01",
            b"a",
            b"a\x00",
            b"a\x00b",
            b"ab",
            b"\xff",
        ];
        for a in &samples {
            let e = esc(a);
            assert_eq!(escaped_len(&e).expect("len"), e.len());
            assert_eq!(unescape(&e), a.to_vec());
            for b in &samples {
                assert_eq!(a.cmp(b), e.cmp(&esc(b)), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn inverted_timestamps_sort_newest_first() {
        for ts in [i64::MIN, -5, 0, 7, i64::MAX] {
            assert_eq!(ts_from_inverted(&inverted_ts(ts)).expect("ts"), ts);
        }
        assert!(inverted_ts(10) < inverted_ts(9));
        assert!(inverted_ts(0) < inverted_ts(-1));
    }

    #[test]
    fn successor_of_prefix() {
        let mut k = vec![1, 0xFF];
        assert!(prefix_successor(&mut k));
        assert_eq!(k, vec![2]);
        let mut k = vec![0xFF];
        assert!(!prefix_successor(&mut k));
    }

    #[test]
    fn bounds_roundtrip() {
        for b in [
            Bound::Unbounded,
            Bound::Included(b"a\x00".to_vec()),
            Bound::Excluded(vec![]),
        ] {
            let mut out = Vec::new();
            encode_bound(&mut out, &b);
            out.push(9);
            let (d, n) = decode_bound(&out).expect("bound");
            assert_eq!(d, b);
            assert_eq!(n, out.len() - 1);
        }
    }
}
