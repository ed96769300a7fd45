//! The streaming decoder: plain envelopes, v4 body compression, v5 segments (packing, splitting,
//! compression, CRC failures), incomplete input, oversized frames, garbage and a randomized no-panic run.

#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions unwrap deliberately.

use bytes::{BufMut, Bytes, BytesMut};
use mica_cql_protocol::compression::compress_envelope;
use mica_cql_protocol::*;

fn query(version: Version, stream: i16, text: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    Request::Query {
        query: text.into(),
        params: QueryParameters::default(),
    }
    .encode_envelope(&mut buf, version, stream, false, None)
    .unwrap();
    buf
}

fn query_text(env: &Envelope) -> String {
    match Request::decode(env).unwrap().request {
        Request::Query { query, .. } => query,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn plain_frames_byte_by_byte() {
    let mut wire = query(Version::V4, 1, "SELECT 1");
    wire.extend_from_slice(&query(Version::V4, 2, "SELECT 2"));
    let mut decoder = FrameDecoder::default();
    let mut src = BytesMut::new();
    let mut got = Vec::new();
    for b in wire.iter() {
        src.put_u8(*b);
        while let Some(env) = decoder.decode(&mut src).unwrap() {
            got.push((env.header.stream, query_text(&env)));
        }
    }
    assert_eq!(
        got,
        vec![(1, "SELECT 1".to_string()), (2, "SELECT 2".to_string())]
    );
    assert!(src.is_empty());
}

#[test]
fn v4_compressed_bodies_are_inflated() {
    for compression in [Compression::Lz4, Compression::Snappy] {
        let text = "SELECT * FROM ks.t WHERE k = 1 ".repeat(20);
        let mut wire = query(Version::V4, 3, &text);
        let plain_len = wire.len();
        compress_envelope(&mut wire, 0, compression).unwrap();
        assert!(wire.len() < plain_len);
        assert_eq!(wire[1] & Flags::COMPRESSION.0, Flags::COMPRESSION.0);

        let mut without = FrameDecoder::default();
        assert_eq!(
            without.decode(&mut wire.clone()),
            Err(ProtocolError::CompressionNotNegotiated)
        );

        let mut decoder = FrameDecoder::default();
        decoder.set_compression(Some(compression));
        let env = decoder.decode(&mut wire).unwrap().unwrap();
        assert!(!env.header.flags.contains(Flags::COMPRESSION));
        assert_eq!(query_text(&env), text);
    }
}

#[test]
fn v5_envelopes_are_not_body_compressed() {
    let mut wire = query(Version::V5, 0, "q");
    let before = wire.clone();
    compress_envelope(&mut wire, 0, Compression::Lz4).unwrap();
    assert_eq!(wire, before);
}

#[test]
fn oversized_frame_is_skipped_and_decoding_continues() {
    let big = query(Version::V4, 7, &"x".repeat(2000));
    let small = query(Version::V4, 8, "SELECT now()");
    let mut decoder = FrameDecoder::new(1000);
    // The oversized body arrives in two chunks, then the next frame.
    let mut src = BytesMut::from(&big[..500]);
    let err = decoder.decode(&mut src).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::FrameTooLarge {
            stream: 7,
            length: big.len() - 9,
            max: 1000
        }
    );
    assert_eq!(err.stream(), Some(7));
    assert!(!err.is_fatal());
    assert_eq!(
        err.to_string(),
        format!(
            "Request is too big: length {} exceeds maximum allowed length 1000.",
            big.len() - 9
        )
    );
    src.extend_from_slice(&big[500..]);
    src.extend_from_slice(&small);
    let env = decoder.decode(&mut src).unwrap().unwrap();
    assert_eq!(
        (env.header.stream, query_text(&env)),
        (8, "SELECT now()".to_string())
    );
}

#[test]
fn unknown_opcode_consumes_the_frame() {
    let mut src = BytesMut::from(&[0x04, 0, 0, 9, 0x04, 0, 0, 0, 2, 0xaa, 0xbb][..]);
    src.extend_from_slice(&query(Version::V4, 10, "q"));
    let mut decoder = FrameDecoder::default();
    assert_eq!(
        decoder.decode(&mut src),
        Err(ProtocolError::UnknownOpcode { opcode: 4, stream: 9 })
    );
    assert_eq!(decoder.decode(&mut src).unwrap().unwrap().header.stream, 10);
}

#[test]
fn unsupported_version_probe_is_reported() {
    let mut src = BytesMut::from(&[0x42, 0, 0, 0, 0x05, 0, 0, 0, 0][..]);
    let err = FrameDecoder::default().decode(&mut src).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::UnsupportedVersion {
            version: 66,
            stream: 0
        }
    );
    assert!(
        err.to_string()
            .contains("Invalid or unsupported protocol version (66)")
    );
}

#[test]
fn handshake_then_segments_with_packing() {
    for lz4 in [false, true] {
        let codec = SegmentCodec::new(lz4);
        let mut decoder = FrameDecoder::default();
        // STARTUP arrives unframed.
        let mut startup = BytesMut::new();
        let mut options = StringMap::new();
        options.insert("CQL_VERSION".into(), "3.0.0".into());
        Request::Startup(options)
            .encode_envelope(&mut startup, Version::V5, 0, false, None)
            .unwrap();
        // The client pipelines three queries right after READY; they arrive packed in one segment.
        let mut envelopes = BytesMut::new();
        for i in 1..=3 {
            envelopes.extend_from_slice(&query(Version::V5, i, &format!("SELECT {i}")));
        }
        let mut segments = BytesMut::new();
        codec.encode_envelopes(&envelopes, &mut segments).unwrap();
        let first = codec.decode(&mut segments.clone()).unwrap().unwrap();
        assert!(first.self_contained);
        assert_eq!(first.payload.len(), envelopes.len());

        let mut src = startup;
        src.extend_from_slice(&segments);
        let env = decoder.decode(&mut src).unwrap().unwrap();
        assert_eq!(env.header.opcode, Opcode::Startup);
        decoder.enable_segments(lz4);
        assert!(decoder.uses_segments());
        let got: Vec<String> = std::iter::from_fn(|| decoder.decode(&mut src).unwrap())
            .map(|e| query_text(&e))
            .collect();
        assert_eq!(got, ["SELECT 1", "SELECT 2", "SELECT 3"]);
        assert!(src.is_empty());
    }
}

#[test]
fn large_frame_is_split_and_reassembled() {
    for lz4 in [false, true] {
        let codec = SegmentCodec::new(lz4);
        // A 300 KB RESULT, preceded and followed by small envelopes.
        let mut envelopes = BytesMut::new();
        Response::Ready
            .encode_envelope(&mut envelopes, Version::V5, 1, &ResponseExtras::default())
            .unwrap();
        let cell: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let rows = Rows {
            metadata: RowsMetadata::no_metadata(1),
            rows: vec![vec![Some(Bytes::from(cell.clone()))]],
        };
        Response::Result(ResultBody::Rows(rows.clone()))
            .encode_envelope(&mut envelopes, Version::V5, 2, &ResponseExtras::default())
            .unwrap();
        Response::Ready
            .encode_envelope(&mut envelopes, Version::V5, 3, &ResponseExtras::default())
            .unwrap();

        let mut wire = BytesMut::new();
        codec.encode_envelopes(&envelopes, &mut wire).unwrap();
        // Inspect the segment sequence: [Ready] self-contained, 3 parts of the big frame, [Ready].
        let mut copy = wire.clone();
        let flags: Vec<(bool, usize)> = std::iter::from_fn(|| codec.decode(&mut copy).unwrap())
            .map(|s| (s.self_contained, s.payload.len()))
            .collect();
        assert_eq!(flags.len(), 5, "{flags:?}");
        assert_eq!(flags[0], (true, 9));
        assert!(flags[1..4].iter().all(|(sc, _)| !sc));
        assert!(
            flags[1..4]
                .iter()
                .all(|(_, len)| *len <= segment::MAX_PAYLOAD_LEN)
        );
        assert_eq!(flags[4], (true, 9));

        // Feed the wire in uneven chunks.
        let mut decoder = FrameDecoder::default();
        decoder.enable_segments(lz4);
        let mut src = BytesMut::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(7919) {
            src.extend_from_slice(chunk);
            while let Some(env) = decoder.decode(&mut src).unwrap() {
                got.push(env);
            }
        }
        assert_eq!(got.iter().map(|e| e.header.stream).collect::<Vec<_>>(), [1, 2, 3]);
        let decoded = Response::decode(&got[1]).unwrap();
        assert_eq!(decoded.response, Response::Result(ResultBody::Rows(rows)));
    }
}

#[test]
fn corrupted_segment_is_a_crc_error() {
    let codec = SegmentCodec::new(false);
    let mut wire = BytesMut::new();
    codec
        .encode_envelopes(&query(Version::V5, 1, "SELECT 1"), &mut wire)
        .unwrap();
    let n = wire.len();
    wire[n - 6] ^= 0x10;
    let mut decoder = FrameDecoder::default();
    decoder.enable_segments(false);
    let err = decoder.decode(&mut wire).unwrap_err();
    assert!(matches!(err, ProtocolError::PayloadCrcMismatch { .. }));
    assert!(err.is_fatal());
}

#[test]
fn truncated_input_needs_more_bytes() {
    let wire = query(Version::V4, 1, "SELECT 1");
    for cut in 0..wire.len() {
        let mut src = BytesMut::from(&wire[..cut]);
        assert_eq!(FrameDecoder::default().decode(&mut src), Ok(None), "cut {cut}");
        assert_eq!(src.len(), cut);
    }
}

#[test]
fn garbage_is_a_typed_error() {
    let mut src = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    let err = FrameDecoder::default().decode(&mut src).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::UnsupportedVersion {
            version: b'G',
            stream: i16::from_be_bytes([b'T', b' '])
        }
    );
    let mut decoder = FrameDecoder::default();
    decoder.enable_segments(true);
    assert!(matches!(
        decoder.decode(&mut BytesMut::from(&[0xde; 64][..])),
        Err(ProtocolError::HeaderCrcMismatch { .. })
    ));
    // A well-framed QUERY whose body is garbage.
    let env = Envelope {
        header: FrameHeader {
            version: Version::V4,
            direction: Direction::Request,
            flags: Flags::empty(),
            stream: 0,
            opcode: Opcode::Query,
            length: 6,
        },
        body: Bytes::from_static(&[0, 0, 0, 1, b'q', 0xff]),
    };
    assert!(matches!(
        Request::decode(&env),
        Err(ProtocolError::Truncated { .. })
    ));
}

/// A tiny deterministic xorshift generator so the fuzz-style test needs no external crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let seeds: Vec<BytesMut> = vec![
        query(Version::V4, 1, "SELECT 1"),
        query(Version::V5, 2, "SELECT 2"),
        {
            let mut b = BytesMut::new();
            Response::Result(ResultBody::Rows(Rows {
                metadata: RowsMetadata::new(vec![ColumnSpec {
                    keyspace: "k".into(),
                    table: "t".into(),
                    name: "c".into(),
                    typ: mica_cql_types::CqlType::List(Box::new(mica_cql_types::CqlType::Int)),
                }]),
                rows: vec![vec![Some(Bytes::from_static(b"abcd"))]],
            }))
            .encode_envelope(&mut b, Version::V4, 0, &ResponseExtras::default())
            .unwrap();
            b
        },
    ];
    for round in 0..10_000 {
        let mut data = seeds[round % seeds.len()].to_vec();
        // Mutate a few bytes, sometimes truncate or append noise; keep the version byte valid half the time.
        for _ in 0..(rng.next() % 6) {
            let i = (rng.next() as usize) % data.len();
            data[i] = rng.next() as u8;
        }
        if rng.next().is_multiple_of(4) {
            data.truncate((rng.next() as usize) % (data.len() + 1));
        }
        if rng.next().is_multiple_of(4) {
            data.extend((0..rng.next() % 32).map(|_| rng.next() as u8));
        }
        for mode in 0..3 {
            let mut decoder = FrameDecoder::new(1 << 16);
            decoder.set_compression(Some(Compression::Lz4));
            if mode > 0 {
                decoder.enable_segments(mode == 2);
            }
            let mut src = BytesMut::from(&data[..]);
            for _ in 0..4 {
                match decoder.decode(&mut src) {
                    Ok(Some(env)) => {
                        let _ = Request::decode(&env);
                        let _ = Response::decode(&env);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        // Also decode the mutated bytes directly as bodies of every opcode and version.
        let body = Bytes::from(data.clone());
        for version in [Version::V3, Version::V4, Version::V5] {
            for op in 0..=0x10u8 {
                let Some(opcode) = Opcode::from_u8(op) else {
                    continue;
                };
                let flags = Flags((rng.next() as u8) & 0x0f);
                let header = FrameHeader {
                    version,
                    direction: Direction::Request,
                    flags,
                    stream: 0,
                    opcode,
                    length: 0,
                };
                let env = Envelope {
                    header,
                    body: body.clone(),
                };
                let _ = Request::decode(&env);
                let _ = Response::decode(&env);
            }
        }
    }
}
