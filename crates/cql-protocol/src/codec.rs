//! The primitive notations of the native protocol (§3 of the spec): a bounds-checked [`Reader`] over a
//! body and `put_*` writers. Reading slices the shared body buffer, so values are not copied.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::consistency::Consistency;
use crate::error::{ProtocolError, Result};

/// A [string map].
pub type StringMap = BTreeMap<String, String>;
/// A [string multimap].
pub type StringMultimap = BTreeMap<String, Vec<String>>;
/// A [bytes map] (the custom payload); values may be null.
pub type BytesMap = BTreeMap<String, Option<Bytes>>;

/// A bound [value]: set, null (-1) or unset (-2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Set(Bytes),
    Null,
    Unset,
}

impl Value {
    /// The bytes of a set value.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Self::Set(b) => Some(b),
            _ => None,
        }
    }
}

/// A cursor over a message body that reports truncation as an error instead of panicking.
#[derive(Clone, Debug)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Consumes the rest of the body.
    pub fn take_rest(&mut self) -> Bytes {
        self.buf.split_off(0)
    }

    fn need(&self, n: usize, what: &'static str) -> Result<()> {
        if self.buf.len() < n {
            Err(ProtocolError::Truncated { what })
        } else {
            Ok(())
        }
    }

    /// A [byte].
    pub fn read_u8(&mut self, what: &'static str) -> Result<u8> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    /// A [short].
    pub fn read_u16(&mut self, what: &'static str) -> Result<u16> {
        self.need(2, what)?;
        Ok(self.buf.get_u16())
    }

    /// An [int].
    pub fn read_i32(&mut self, what: &'static str) -> Result<i32> {
        self.need(4, what)?;
        Ok(self.buf.get_i32())
    }

    /// A [long].
    pub fn read_i64(&mut self, what: &'static str) -> Result<i64> {
        self.need(8, what)?;
        Ok(self.buf.get_i64())
    }

    /// `n` raw bytes, sharing the underlying buffer.
    pub fn read_raw(&mut self, n: usize, what: &'static str) -> Result<Bytes> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    fn utf8(bytes: Bytes, what: &'static str) -> Result<String> {
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError::InvalidUtf8 { what })
    }

    /// A [string].
    pub fn read_string(&mut self, what: &'static str) -> Result<String> {
        let n = self.read_u16(what)?;
        let raw = self.read_raw(usize::from(n), what)?;
        Self::utf8(raw, what)
    }

    /// A [long string]; a negative length is rejected.
    pub fn read_long_string(&mut self, what: &'static str) -> Result<String> {
        let n = self.read_i32(what)?;
        let n = usize::try_from(n).map_err(|_| ProtocolError::InvalidValueLength(n))?;
        let raw = self.read_raw(n, what)?;
        Self::utf8(raw, what)
    }

    /// A [bytes]; a negative length means null.
    pub fn read_bytes(&mut self, what: &'static str) -> Result<Option<Bytes>> {
        let n = self.read_i32(what)?;
        match usize::try_from(n) {
            Ok(n) => Ok(Some(self.read_raw(n, what)?)),
            Err(_) => Ok(None),
        }
    }

    /// A [value]: -1 is null, -2 is unset, anything lower is an error.
    pub fn read_value(&mut self, what: &'static str) -> Result<Value> {
        let n = self.read_i32(what)?;
        match n {
            -1 => Ok(Value::Null),
            -2 => Ok(Value::Unset),
            n if n < 0 => Err(ProtocolError::InvalidValueLength(n)),
            n => Ok(Value::Set(self.read_raw(n.unsigned_abs() as usize, what)?)),
        }
    }

    /// A [short bytes].
    pub fn read_short_bytes(&mut self, what: &'static str) -> Result<Bytes> {
        let n = self.read_u16(what)?;
        self.read_raw(usize::from(n), what)
    }

    /// A [string list].
    pub fn read_string_list(&mut self, what: &'static str) -> Result<Vec<String>> {
        let n = self.read_u16(what)?;
        (0..n).map(|_| self.read_string(what)).collect()
    }

    /// A [string map].
    pub fn read_string_map(&mut self, what: &'static str) -> Result<StringMap> {
        let n = self.read_u16(what)?;
        (0..n)
            .map(|_| Ok((self.read_string(what)?, self.read_string(what)?)))
            .collect()
    }

    /// A [string multimap].
    pub fn read_string_multimap(&mut self, what: &'static str) -> Result<StringMultimap> {
        let n = self.read_u16(what)?;
        (0..n)
            .map(|_| Ok((self.read_string(what)?, self.read_string_list(what)?)))
            .collect()
    }

    /// A [bytes map].
    pub fn read_bytes_map(&mut self, what: &'static str) -> Result<BytesMap> {
        let n = self.read_u16(what)?;
        (0..n)
            .map(|_| Ok((self.read_string(what)?, self.read_bytes(what)?)))
            .collect()
    }

    /// A [uuid].
    pub fn read_uuid(&mut self, what: &'static str) -> Result<Uuid> {
        let raw = self.read_raw(16, what)?;
        Uuid::from_slice(&raw).map_err(|_| ProtocolError::Truncated { what })
    }

    /// An [inetaddr]: a length byte (4 or 16) and the address.
    pub fn read_inetaddr(&mut self, what: &'static str) -> Result<IpAddr> {
        let n = self.read_u8(what)?;
        let raw = self.read_raw(usize::from(n), what)?;
        if let Ok(v4) = <[u8; 4]>::try_from(raw.as_ref()) {
            Ok(IpAddr::V4(Ipv4Addr::from(v4)))
        } else if let Ok(v6) = <[u8; 16]>::try_from(raw.as_ref()) {
            Ok(IpAddr::V6(Ipv6Addr::from(v6)))
        } else {
            Err(ProtocolError::InvalidField {
                what: "inet address length",
                value: n.to_string(),
            })
        }
    }

    /// An [inet]: an [inetaddr] followed by an [int] port.
    pub fn read_inet(&mut self, what: &'static str) -> Result<SocketAddr> {
        let ip = self.read_inetaddr(what)?;
        let port = self.read_i32(what)?;
        let port = u16::try_from(port).map_err(|_| ProtocolError::InvalidField {
            what: "inet port",
            value: port.to_string(),
        })?;
        Ok(SocketAddr::new(ip, port))
    }

    /// A [consistency].
    pub fn read_consistency(&mut self, what: &'static str) -> Result<Consistency> {
        Consistency::from_code(self.read_u16(what)?)
    }
}

/// Converts a length to the [int] prefix. Bodies are limited far below 2 GiB, so saturation never happens
/// for a frame that could be sent; it only keeps the writer total.
pub(crate) fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// Truncates `s` to at most `max` bytes on a character boundary, so a [string] never overflows its
/// [short] length prefix.
fn clamp_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes a [short] count, saturating; protocol lists never legitimately exceed 65535 entries.
fn put_count(buf: &mut BytesMut, n: usize) {
    buf.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
}

/// Writes a [string] (truncated to 65535 bytes if longer).
pub fn put_string(buf: &mut BytesMut, s: &str) {
    let s = clamp_str(s, usize::from(u16::MAX));
    put_count(buf, s.len());
    buf.put_slice(s.as_bytes());
}

/// Writes a [long string].
pub fn put_long_string(buf: &mut BytesMut, s: &str) {
    buf.put_i32(len_i32(s.len()));
    buf.put_slice(s.as_bytes());
}

/// Writes a [bytes]; `None` is null.
pub fn put_bytes(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            buf.put_i32(len_i32(b.len()));
            buf.put_slice(b);
        }
        None => buf.put_i32(-1),
    }
}

/// Writes a [value].
pub fn put_value(buf: &mut BytesMut, v: &Value) {
    match v {
        Value::Set(b) => put_bytes(buf, Some(b)),
        Value::Null => buf.put_i32(-1),
        Value::Unset => buf.put_i32(-2),
    }
}

/// Writes a [short bytes] (truncated to 65535 bytes if longer).
pub fn put_short_bytes(buf: &mut BytesMut, b: &[u8]) {
    let b = &b[..b.len().min(usize::from(u16::MAX))];
    put_count(buf, b.len());
    buf.put_slice(b);
}

/// Writes a [string list].
pub fn put_string_list<S: AsRef<str>>(buf: &mut BytesMut, list: &[S]) {
    put_count(buf, list.len());
    for s in list.iter().take(usize::from(u16::MAX)) {
        put_string(buf, s.as_ref());
    }
}

/// Writes a [string map].
pub fn put_string_map(buf: &mut BytesMut, map: &StringMap) {
    put_count(buf, map.len());
    for (k, v) in map.iter().take(usize::from(u16::MAX)) {
        put_string(buf, k);
        put_string(buf, v);
    }
}

/// Writes a [string multimap].
pub fn put_string_multimap(buf: &mut BytesMut, map: &StringMultimap) {
    put_count(buf, map.len());
    for (k, v) in map.iter().take(usize::from(u16::MAX)) {
        put_string(buf, k);
        put_string_list(buf, v);
    }
}

/// Writes a [bytes map].
pub fn put_bytes_map(buf: &mut BytesMut, map: &BytesMap) {
    put_count(buf, map.len());
    for (k, v) in map.iter().take(usize::from(u16::MAX)) {
        put_string(buf, k);
        put_bytes(buf, v.as_deref());
    }
}

/// Writes an [inetaddr].
pub fn put_inetaddr(buf: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            buf.put_u8(4);
            buf.put_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            buf.put_u8(16);
            buf.put_slice(&v6.octets());
        }
    }
}

/// Writes an [inet].
pub fn put_inet(buf: &mut BytesMut, addr: SocketAddr) {
    put_inetaddr(buf, addr.ip());
    buf.put_i32(i32::from(addr.port()));
}

/// Writes a [consistency].
pub fn put_consistency(buf: &mut BytesMut, c: Consistency) {
    buf.put_u16(c.code());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut buf = BytesMut::new();
        put_string(&mut buf, "héllo");
        put_long_string(&mut buf, "SELECT 1");
        put_bytes(&mut buf, None);
        put_bytes(&mut buf, Some(b"ab"));
        put_value(&mut buf, &Value::Unset);
        put_inet(&mut buf, "[::1]:9042".parse().unwrap());
        put_inetaddr(&mut buf, "10.0.0.1".parse().unwrap());
        let mut map = StringMap::new();
        map.insert("CQL_VERSION".into(), "3.0.0".into());
        put_string_map(&mut buf, &map);
        let mut r = Reader::new(buf.freeze());
        assert_eq!(r.read_string("s").unwrap(), "héllo");
        assert_eq!(r.read_long_string("s").unwrap(), "SELECT 1");
        assert_eq!(r.read_bytes("b").unwrap(), None);
        assert_eq!(r.read_bytes("b").unwrap().unwrap().as_ref(), b"ab");
        assert_eq!(r.read_value("v").unwrap(), Value::Unset);
        assert_eq!(r.read_inet("i").unwrap(), "[::1]:9042".parse().unwrap());
        assert_eq!(
            r.read_inetaddr("i").unwrap(),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(r.read_string_map("m").unwrap(), map);
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.read_u8("x"), Err(ProtocolError::Truncated { what: "x" }));
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xfd]));
        assert_eq!(r.read_value("v"), Err(ProtocolError::InvalidValueLength(-3)));
        let mut r = Reader::new(Bytes::from_static(&[0, 5, b'a']));
        assert!(matches!(r.read_string("s"), Err(ProtocolError::Truncated { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0xff]));
        assert!(matches!(
            r.read_string("s"),
            Err(ProtocolError::InvalidUtf8 { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[3, 1, 2, 3]));
        assert!(matches!(
            r.read_inetaddr("i"),
            Err(ProtocolError::InvalidField { .. })
        ));
    }

    #[test]
    fn long_strings_are_clamped_on_char_boundaries() {
        let s = "é".repeat(40_000);
        let mut buf = BytesMut::new();
        put_string(&mut buf, &s);
        let decoded = Reader::new(buf.freeze()).read_string("s").unwrap();
        assert!(decoded.len() <= 65535 && s.starts_with(&decoded));
    }
}
