//! The gossip wire format: length-prefixed binary frames with a version byte (layout in the crate docs).
//! Decoding never panics and never allocates more than the frame's own size.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::state::{AppState, Digest, EndpointState, VersionedValue};

/// The format version written first in every frame body.
pub const WIRE_VERSION: u8 = 1;
/// The largest frame accepted (a few thousand endpoints with 256 tokens each fit easily).
pub const MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;

const KIND_SYN: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_ACK2: u8 = 3;
const KIND_PULL: u8 = 4;
const KIND_PULL_REPLY: u8 = 5;
const KIND_OPEN_MESSAGING: u8 = 6;
const KIND_MESSAGING_ACCEPTED: u8 = 7;

/// One gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The initiator's digests of everything it knows.
    Syn {
        cluster_name: String,
        digests: Vec<Digest>,
    },
    /// What the receiver wants (digests with the version it has) and what it sends unasked.
    Ack {
        cluster_name: String,
        requests: Vec<Digest>,
        states: Vec<(SocketAddr, EndpointState)>,
    },
    /// The initiator's answer to the requests.
    Ack2 {
        states: Vec<(SocketAddr, EndpointState)>,
    },
    /// A request for a document a node serves under `topic` (for example its schema), sent instead of
    /// SYN on a connection of its own.
    Pull { cluster_name: String, topic: String },
    /// The answer to a pull: the document, or `None` when the node serves nothing under that topic.
    PullReply { payload: Option<Vec<u8>> },
    /// Sent instead of SYN to turn the connection into the sender's outbound messaging connection
    /// (see [`crate::Messaging`]); `from` is the sender's storage address as gossip knows it.
    OpenMessaging { cluster_name: String, from: SocketAddr },
    /// The receiver's answer to OpenMessaging; messaging frames follow on the same connection.
    MessagingAccepted,
}

/// Why bytes are not a valid gossip frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("gossip frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    FrameTooLarge(u32),
    #[error("unsupported gossip wire version {0}")]
    Version(u8),
    #[error("unknown gossip message kind {0}")]
    Kind(u8),
    #[error("truncated gossip frame")]
    Truncated,
    #[error("invalid address family {0}")]
    AddressFamily(u8),
    #[error("string is not UTF-8")]
    Utf8,
    #[error("{0} trailing bytes after the gossip message")]
    Trailing(usize),
}

impl Message {
    /// The frame body (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![WIRE_VERSION];
        match self {
            Message::Syn {
                cluster_name,
                digests,
            } => {
                out.push(KIND_SYN);
                put_str(&mut out, cluster_name);
                put_len(&mut out, digests.len());
                digests.iter().for_each(|d| put_digest(&mut out, d));
            }
            Message::Ack {
                cluster_name,
                requests,
                states,
            } => {
                out.push(KIND_ACK);
                put_str(&mut out, cluster_name);
                put_len(&mut out, requests.len());
                requests.iter().for_each(|d| put_digest(&mut out, d));
                put_states(&mut out, states);
            }
            Message::Ack2 { states } => {
                out.push(KIND_ACK2);
                put_states(&mut out, states);
            }
            Message::Pull { cluster_name, topic } => {
                out.push(KIND_PULL);
                put_str(&mut out, cluster_name);
                put_str(&mut out, topic);
            }
            Message::PullReply { payload } => {
                out.push(KIND_PULL_REPLY);
                match payload {
                    Some(bytes) => {
                        out.push(1);
                        put_len(&mut out, bytes.len());
                        out.extend_from_slice(bytes);
                    }
                    None => out.push(0),
                }
            }
            Message::OpenMessaging { cluster_name, from } => {
                out.push(KIND_OPEN_MESSAGING);
                put_str(&mut out, cluster_name);
                put_addr(&mut out, from);
            }
            Message::MessagingAccepted => out.push(KIND_MESSAGING_ACCEPTED),
        }
        out
    }

    /// Parses a frame body.
    pub fn decode(body: &[u8]) -> Result<Message, WireError> {
        let mut r = Reader(body);
        let version = r.u8()?;
        if version != WIRE_VERSION {
            return Err(WireError::Version(version));
        }
        let message = match r.u8()? {
            KIND_SYN => {
                let cluster_name = r.string()?;
                let n = r.count(DIGEST_MIN_BYTES)?;
                let digests = (0..n).map(|_| r.digest()).collect::<Result<_, _>>()?;
                Message::Syn {
                    cluster_name,
                    digests,
                }
            }
            KIND_ACK => {
                let cluster_name = r.string()?;
                let n = r.count(DIGEST_MIN_BYTES)?;
                let requests = (0..n).map(|_| r.digest()).collect::<Result<_, _>>()?;
                let states = r.states()?;
                Message::Ack {
                    cluster_name,
                    requests,
                    states,
                }
            }
            KIND_ACK2 => Message::Ack2 { states: r.states()? },
            KIND_PULL => Message::Pull {
                cluster_name: r.string()?,
                topic: r.string()?,
            },
            KIND_PULL_REPLY => Message::PullReply {
                payload: match r.u8()? {
                    0 => None,
                    _ => Some(r.bytes()?),
                },
            },
            KIND_OPEN_MESSAGING => Message::OpenMessaging {
                cluster_name: r.string()?,
                from: r.addr()?,
            },
            KIND_MESSAGING_ACCEPTED => Message::MessagingAccepted,
            other => return Err(WireError::Kind(other)),
        };
        if !r.0.is_empty() {
            return Err(WireError::Trailing(r.0.len()));
        }
        Ok(message)
    }
}

/// Writes one length-prefixed frame.
pub async fn write_message<W: AsyncWrite + Unpin>(w: &mut W, message: &Message) -> std::io::Result<()> {
    let body = message.encode();
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= MAX_FRAME_BYTES)
        .ok_or_else(|| std::io::Error::other("gossip message exceeds the frame limit"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await
}

/// Reads one length-prefixed frame; I/O errors and invalid frames are both `io::Error`s
/// (invalid data wraps the [`WireError`]).
pub async fn read_message<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Message> {
    let len = r.read_u32().await?;
    if len > MAX_FRAME_BYTES {
        return Err(invalid(WireError::FrameTooLarge(len)));
    }
    let mut body = vec![0; len as usize];
    r.read_exact(&mut body).await?;
    Message::decode(&body).map_err(invalid)
}

fn invalid(e: WireError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

/// The smallest encodings, used to refuse counts the remaining bytes cannot hold.
const DIGEST_MIN_BYTES: usize = 1 + 4 + 2 + 8;
const STATE_MIN_BYTES: usize = 1 + 4 + 2 + 8 + 2;
const VALUE_MIN_BYTES: usize = 1 + 4 + 4;

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_addr(out: &mut Vec<u8>, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

fn put_digest(out: &mut Vec<u8>, d: &Digest) {
    put_addr(out, &d.address);
    out.extend_from_slice(&d.generation.to_be_bytes());
    out.extend_from_slice(&d.max_version.to_be_bytes());
}

fn put_states(out: &mut Vec<u8>, states: &[(SocketAddr, EndpointState)]) {
    put_len(out, states.len());
    for (addr, state) in states {
        put_addr(out, addr);
        out.extend_from_slice(&state.generation.to_be_bytes());
        out.extend_from_slice(&state.heartbeat.to_be_bytes());
        out.extend_from_slice(&(state.states.len() as u16).to_be_bytes());
        for (key, value) in &state.states {
            out.push(key.code());
            out.extend_from_slice(&value.version.to_be_bytes());
            put_str(out, &value.value);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(WireError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take::<1>()?[0])
    }

    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    /// A count of items at least `min_bytes` long each, refused when the frame cannot hold them.
    fn count(&mut self, min_bytes: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.0.len() {
            return Err(WireError::Truncated);
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return Err(WireError::Truncated);
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| WireError::Utf8)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return Err(WireError::Truncated);
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(b.to_vec())
    }

    fn addr(&mut self) -> Result<SocketAddr, WireError> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.take::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.take::<16>()?)),
            other => return Err(WireError::AddressFamily(other)),
        };
        Ok(SocketAddr::new(ip, u16::from_be_bytes(self.take()?)))
    }

    fn digest(&mut self) -> Result<Digest, WireError> {
        Ok(Digest {
            address: self.addr()?,
            generation: self.i32()?,
            max_version: self.i32()?,
        })
    }

    fn states(&mut self) -> Result<Vec<(SocketAddr, EndpointState)>, WireError> {
        let n = self.count(STATE_MIN_BYTES)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let addr = self.addr()?;
            let mut state = EndpointState::new(self.i32()?);
            state.heartbeat = self.i32()?;
            let values = u16::from_be_bytes(self.take()?) as usize;
            if values.saturating_mul(VALUE_MIN_BYTES) > self.0.len() {
                return Err(WireError::Truncated);
            }
            let mut states = BTreeMap::new();
            for _ in 0..values {
                let code = self.u8()?;
                let version = self.i32()?;
                let value = self.string()?;
                // States this version does not know are skipped, so newer nodes can add some.
                if let Some(key) = AppState::from_code(code) {
                    states.insert(key, VersionedValue { value, version });
                }
            }
            state.states = states;
            out.push((addr, state));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Message> {
        let a: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let b: SocketAddr = "[::1]:7001".parse().unwrap();
        let mut state = EndpointState::new(1_700_000_000);
        state.heartbeat = 42;
        state.states.insert(
            AppState::Tokens,
            VersionedValue {
                value: "-5,7".into(),
                version: 3,
            },
        );
        let digest = Digest {
            address: b,
            generation: 9,
            max_version: -1,
        };
        vec![
            Message::Syn {
                cluster_name: "Test Cluster".into(),
                digests: vec![digest],
            },
            Message::Ack {
                cluster_name: "c".into(),
                requests: vec![digest, digest],
                states: vec![(a, state.clone())],
            },
            Message::Ack2 {
                states: vec![(b, state)],
            },
            Message::Pull {
                cluster_name: "c".into(),
                topic: "schema".into(),
            },
            Message::PullReply {
                payload: Some(b"{}".to_vec()),
            },
            Message::PullReply { payload: None },
            Message::OpenMessaging {
                cluster_name: "c".into(),
                from: a,
            },
            Message::MessagingAccepted,
        ]
    }

    #[test]
    fn messages_round_trip() {
        for m in sample() {
            assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn every_truncation_and_bad_header_is_an_error() {
        for m in sample() {
            let bytes = m.encode();
            for cut in 0..bytes.len() {
                assert!(Message::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut bad = bytes.clone();
            bad[0] = 9;
            assert_eq!(Message::decode(&bad), Err(WireError::Version(9)));
            let mut long = bytes;
            long.push(0);
            assert_eq!(Message::decode(&long), Err(WireError::Trailing(1)));
        }
        // A huge count with no data behind it is refused before allocating.
        let mut huge = vec![WIRE_VERSION, KIND_ACK2];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Message::decode(&huge), Err(WireError::Truncated));
    }
}
