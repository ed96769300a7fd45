//! Round trips of every request and response through encode and decode for v4 and v5, plus
//! hand-built byte vectors taken from the spec.

#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions unwrap deliberately.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mica_cql_protocol::response::{FailureReasons, StatusChangeType, TopologyChangeType, WriteType};
use mica_cql_protocol::*;
use mica_cql_types::{CqlType, UdtDef};
use uuid::Uuid;

const VERSIONS: [Version; 3] = [Version::V3, Version::V4, Version::V5];

fn envelope(buf: &[u8]) -> Envelope {
    let header = FrameHeader::decode(buf).unwrap().unwrap();
    assert_eq!(
        header.body_len() + 9,
        buf.len(),
        "length field must match the body"
    );
    Envelope {
        header,
        body: Bytes::copy_from_slice(&buf[9..]),
    }
}

fn request_round_trip(version: Version, request: &Request, payload: Option<&BytesMap>) -> RequestMessage {
    let mut buf = BytesMut::new();
    request
        .encode_envelope(&mut buf, version, 17, true, payload)
        .unwrap();
    let env = envelope(&buf);
    assert_eq!(
        (env.header.stream, env.header.direction, env.header.opcode),
        (17, Direction::Request, request.opcode())
    );
    Request::decode(&env).unwrap()
}

fn response_round_trip(version: Version, response: &Response, extras: &ResponseExtras) -> ResponseMessage {
    let mut buf = BytesMut::new();
    response.encode_envelope(&mut buf, version, 5, extras).unwrap();
    let env = envelope(&buf);
    assert_eq!(
        (env.header.direction, env.header.opcode),
        (Direction::Response, response.opcode())
    );
    Response::decode(&env).unwrap()
}

fn blob(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn full_params(version: Version) -> QueryParameters {
    QueryParameters {
        consistency: Consistency::LocalQuorum,
        values: QueryValues::Positional(vec![
            Value::Set(blob("a")),
            Value::Null,
            Value::Unset,
            Value::Set(Bytes::new()),
        ]),
        skip_metadata: true,
        page_size: Some(100),
        paging_state: Some(blob("state")),
        serial_consistency: Some(Consistency::LocalSerial),
        timestamp: Some(1_700_000_000_000_000),
        keyspace: version.is_v5().then(|| "ks".to_string()),
        now_in_seconds: version.is_v5().then_some(1234),
    }
}

#[test]
fn requests_round_trip() {
    for version in VERSIONS {
        let mut payload = BytesMap::new();
        payload.insert("k".into(), Some(blob("v")));
        payload.insert("n".into(), None);
        let mut startup = StringMap::new();
        startup.insert("CQL_VERSION".into(), "3.0.0".into());
        startup.insert("COMPRESSION".into(), "lz4".into());
        let named = QueryParameters {
            values: QueryValues::Named(vec![
                ("x".into(), Value::Set(blob("1"))),
                ("y".into(), Value::Unset),
            ]),
            ..QueryParameters::default()
        };
        let requests = vec![
            Request::Startup(startup),
            Request::Options,
            Request::Query {
                query: "SELECT * FROM t".into(),
                params: full_params(version),
            },
            Request::Query {
                query: "SELECT :x, :y".into(),
                params: named,
            },
            Request::Query {
                query: "".into(),
                params: QueryParameters::default(),
            },
            Request::Prepare {
                query: "SELECT ?".into(),
                keyspace: version.is_v5().then(|| "ks".into()),
            },
            Request::Execute {
                id: blob("id-1"),
                result_metadata_id: version.is_v5().then(|| blob("meta")),
                params: full_params(version),
            },
            Request::Batch(Batch {
                batch_type: BatchType::Unlogged,
                statements: vec![
                    BatchStatement::Query {
                        query: "INSERT INTO t (a) VALUES (?)".into(),
                        values: vec![Value::Null],
                    },
                    BatchStatement::Prepared {
                        id: blob("p"),
                        values: vec![Value::Set(blob("x")), Value::Unset],
                    },
                ],
                consistency: Consistency::Quorum,
                serial_consistency: Some(Consistency::Serial),
                timestamp: Some(-5),
                keyspace: version.is_v5().then(|| "ks".into()),
                now_in_seconds: version.is_v5().then_some(7),
            }),
            Request::Batch(Batch {
                batch_type: BatchType::Counter,
                statements: vec![],
                consistency: Consistency::One,
                serial_consistency: None,
                timestamp: None,
                keyspace: None,
                now_in_seconds: None,
            }),
            Request::Register(vec![
                EventType::SchemaChange,
                EventType::StatusChange,
                EventType::TopologyChange,
            ]),
            Request::AuthResponse(Some(Bytes::from_static(b"\0cassandra\0cassandra"))),
            Request::AuthResponse(None),
        ];
        for request in &requests {
            for p in [None, Some(&payload)] {
                let decoded = request_round_trip(version, request, p);
                assert_eq!(&decoded.request, request, "{version:?}");
                assert!(decoded.tracing);
                assert_eq!(decoded.custom_payload.as_ref(), p);
            }
        }
    }
}

#[test]
fn v5_only_fields_are_dropped_before_v5() {
    let request = Request::Query {
        query: "q".into(),
        params: full_params(Version::V5),
    };
    let decoded = request_round_trip(Version::V4, &request, None);
    let Request::Query { params, .. } = decoded.request else {
        panic!("not a query")
    };
    assert_eq!((params.keyspace, params.now_in_seconds), (None, None));
    assert_eq!(params.timestamp, Some(1_700_000_000_000_000));
}

#[test]
fn query_flags_width_depends_on_version() {
    let request = Request::Query {
        query: "q".into(),
        params: QueryParameters {
            skip_metadata: true,
            ..Default::default()
        },
    };
    let mut v4 = BytesMut::new();
    request
        .encode_envelope(&mut v4, Version::V4, 0, false, None)
        .unwrap();
    // [long string] "q", consistency ONE, flags byte 0x02.
    assert_eq!(&v4[9..], &[0, 0, 0, 1, b'q', 0, 1, 0x02]);
    let mut v5 = BytesMut::new();
    request
        .encode_envelope(&mut v5, Version::V5, 0, false, None)
        .unwrap();
    assert_eq!(&v5[9..], &[0, 0, 0, 1, b'q', 0, 1, 0, 0, 0, 0x02]);
}

fn columns() -> Vec<ColumnSpec> {
    let udt = CqlType::Udt(Arc::new(UdtDef {
        keyspace: "ks".into(),
        name: "point".into(),
        fields: vec![("x".into(), CqlType::Double), ("y".into(), CqlType::Double)],
    }));
    [
        ("k", CqlType::Int),
        (
            "m",
            CqlType::Map(
                Box::new(CqlType::Varchar),
                Box::new(CqlType::List(Box::new(CqlType::Timeuuid))),
            ),
        ),
        ("p", udt),
        ("t", CqlType::Tuple(vec![CqlType::Inet, CqlType::Duration])),
        ("v", CqlType::Vector(Box::new(CqlType::Float), 3)),
    ]
    .into_iter()
    .map(|(name, typ)| ColumnSpec {
        keyspace: "ks".into(),
        table: "tbl".into(),
        name: name.into(),
        typ,
    })
    .collect()
}

fn all_errors() -> Vec<ErrorKind> {
    let reasons = FailureReasons::Reasons(vec![
        ("10.0.0.2".parse().unwrap(), 1),
        ("::1".parse().unwrap(), 2),
    ]);
    vec![
        ErrorKind::Server,
        ErrorKind::Protocol,
        ErrorKind::BadCredentials,
        ErrorKind::Unavailable {
            consistency: Consistency::All,
            required: 3,
            alive: 1,
        },
        ErrorKind::Overloaded,
        ErrorKind::IsBootstrapping,
        ErrorKind::Truncate,
        ErrorKind::WriteTimeout {
            consistency: Consistency::Quorum,
            received: 1,
            block_for: 2,
            write_type: WriteType::Simple,
            contentions: None,
        },
        ErrorKind::ReadTimeout {
            consistency: Consistency::One,
            received: 0,
            block_for: 1,
            data_present: true,
        },
        ErrorKind::ReadFailure {
            consistency: Consistency::Two,
            received: 1,
            block_for: 2,
            failures: reasons.clone(),
            data_present: false,
        },
        ErrorKind::FunctionFailure {
            keyspace: "ks".into(),
            function: "f".into(),
            arg_types: vec!["int".into()],
        },
        ErrorKind::WriteFailure {
            consistency: Consistency::EachQuorum,
            received: 2,
            block_for: 3,
            failures: reasons,
            write_type: WriteType::UnloggedBatch,
        },
        ErrorKind::CdcWriteFailure,
        ErrorKind::CasWriteUnknown {
            consistency: Consistency::Serial,
            received: 0,
            block_for: 1,
        },
        ErrorKind::Syntax,
        ErrorKind::Unauthorized,
        ErrorKind::Invalid,
        ErrorKind::Config,
        ErrorKind::AlreadyExists {
            keyspace: "ks".into(),
            table: "".into(),
        },
        ErrorKind::Unprepared { id: blob("deadbeef") },
    ]
}

/// What a v3/v4 client sees of a v5-only field: reason maps shrink to counts.
fn as_seen_by(version: Version, kind: ErrorKind) -> ErrorKind {
    if version.is_v5() {
        return kind;
    }
    match kind {
        ErrorKind::ReadFailure {
            consistency,
            received,
            block_for,
            failures,
            data_present,
        } => ErrorKind::ReadFailure {
            consistency,
            received,
            block_for,
            failures: FailureReasons::Count(failures.count()),
            data_present,
        },
        ErrorKind::WriteFailure {
            consistency,
            received,
            block_for,
            failures,
            write_type,
        } => ErrorKind::WriteFailure {
            consistency,
            received,
            block_for,
            failures: FailureReasons::Count(failures.count()),
            write_type,
        },
        other => other,
    }
}

fn all_responses(version: Version) -> Vec<Response> {
    let mut supported = StringMultimap::new();
    supported.insert("CQL_VERSION".into(), vec!["3.4.7".into()]);
    supported.insert("COMPRESSION".into(), vec![]);
    supported.insert(
        "PROTOCOL_VERSIONS".into(),
        vec!["3/v3".into(), "4/v4".into(), "5/v5".into()],
    );
    let change = |target| SchemaChange {
        change_type: SchemaChangeType::Created,
        target,
    };
    let targets = vec![
        SchemaChangeTarget::Keyspace("ks".into()),
        SchemaChangeTarget::Table {
            keyspace: "ks".into(),
            name: "t".into(),
        },
        SchemaChangeTarget::Type {
            keyspace: "ks".into(),
            name: "ty".into(),
        },
        SchemaChangeTarget::Function {
            keyspace: "ks".into(),
            name: "f".into(),
            arg_types: vec!["int".into(), "text".into()],
        },
        SchemaChangeTarget::Aggregate {
            keyspace: "ks".into(),
            name: "a".into(),
            arg_types: vec![],
        },
    ];
    let mut mixed = columns();
    mixed[0].table = "other".into();
    let metadata_id = version.is_v5().then(|| blob("mid"));
    let mut out: Vec<Response> = all_errors()
        .into_iter()
        .map(|kind| Response::error(as_seen_by(version, kind), "boom"))
        .collect();
    out.extend([
        Response::Ready,
        Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into()),
        Response::Supported(supported),
        Response::AuthChallenge(Some(blob("challenge"))),
        Response::AuthSuccess(None),
        Response::Event(Event::TopologyChange {
            change: TopologyChangeType::NewNode,
            address: "127.0.0.2:9042".parse().unwrap(),
        }),
        Response::Event(Event::StatusChange {
            change: StatusChangeType::Down,
            address: "[::1]:9042".parse().unwrap(),
        }),
        Response::Result(ResultBody::Void),
        Response::Result(ResultBody::SetKeyspace("ks".into())),
        Response::Result(ResultBody::Rows(Rows {
            metadata: RowsMetadata::new(columns()),
            rows: vec![
                vec![
                    Some(blob("1")),
                    None,
                    Some(Bytes::new()),
                    Some(blob("t")),
                    Some(blob("v"))
                ];
                3
            ],
        })),
        Response::Result(ResultBody::Rows(Rows {
            metadata: RowsMetadata {
                paging_state: Some(blob("next")),
                ..RowsMetadata::new(mixed.clone())
            },
            rows: vec![],
        })),
        Response::Result(ResultBody::Rows(Rows {
            metadata: RowsMetadata {
                paging_state: Some(blob("p")),
                new_metadata_id: metadata_id.clone(),
                ..RowsMetadata::no_metadata(2)
            },
            rows: vec![vec![Some(blob("a")), None]],
        })),
        Response::Result(ResultBody::Prepared(Prepared {
            id: blob("prepared-id"),
            result_metadata_id: metadata_id,
            metadata: PreparedMetadata {
                pk_indexes: if version >= Version::V4 {
                    vec![1, 0]
                } else {
                    vec![]
                },
                columns: mixed,
            },
            result_metadata: RowsMetadata::new(columns()),
        })),
    ]);
    for target in targets {
        out.push(Response::Event(Event::SchemaChange(change(target.clone()))));
        out.push(Response::Result(ResultBody::SchemaChange(change(target))));
    }
    out
}

#[test]
fn responses_round_trip() {
    let mut payload = BytesMap::new();
    payload.insert("x".into(), Some(blob("y")));
    for version in VERSIONS {
        let extras = [
            ResponseExtras::default(),
            ResponseExtras {
                tracing_id: Some(Uuid::from_u128(0x1234)),
                warnings: vec!["Aggregation query used without partition key".into()],
                custom_payload: Some(payload.clone()),
            },
        ];
        for response in all_responses(version) {
            for extra in &extras {
                let decoded = response_round_trip(version, &response, extra);
                assert_eq!(decoded.response, response, "{version:?}");
                let mut expected = extra.clone();
                if version == Version::V3 {
                    // Warnings and custom payloads do not exist in v3.
                    expected.warnings.clear();
                    expected.custom_payload = None;
                }
                assert_eq!(decoded.extras, expected);
            }
        }
    }
}

#[test]
fn cas_write_timeout_carries_contentions_only_in_v5() {
    let kind = ErrorKind::WriteTimeout {
        consistency: Consistency::Serial,
        received: 0,
        block_for: 1,
        write_type: WriteType::Cas,
        contentions: Some(4),
    };
    let response = Response::error(kind.clone(), "cas");
    let v5 = response_round_trip(Version::V5, &response, &ResponseExtras::default());
    assert_eq!(v5.response, response);
    let v4 = response_round_trip(Version::V4, &response, &ResponseExtras::default());
    let Response::Error(ErrorBody {
        kind: ErrorKind::WriteTimeout { contentions, .. },
        ..
    }) = v4.response
    else {
        panic!("not a write timeout")
    };
    assert_eq!(contentions, None);
}

#[test]
fn tracing_id_is_the_first_sixteen_bytes() {
    let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
    let extras = ResponseExtras {
        tracing_id: Some(id),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    Response::Result(ResultBody::Void)
        .encode_envelope(&mut buf, Version::V4, 3, &extras)
        .unwrap();
    assert_eq!(buf[1], Flags::TRACING.0);
    assert_eq!(&buf[9..25], id.as_bytes());
    assert_eq!(&buf[25..], &[0, 0, 0, 1]);
}

#[test]
fn startup_frame_from_spec_bytes() {
    let mut raw = vec![
        0x04, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x16, 0x00, 0x01, 0x00, 0x0b,
    ];
    raw.extend_from_slice(b"CQL_VERSION");
    raw.extend_from_slice(&[0x00, 0x05]);
    raw.extend_from_slice(b"3.0.0");
    let env = envelope(&raw);
    let decoded = Request::decode(&env).unwrap();
    let mut options = StringMap::new();
    options.insert("CQL_VERSION".into(), "3.0.0".into());
    assert_eq!(decoded.request, Request::Startup(options.clone()));
    let mut re = BytesMut::new();
    Request::Startup(options)
        .encode_envelope(&mut re, Version::V4, 1, false, None)
        .unwrap();
    assert_eq!(re.as_ref(), raw.as_slice());
}

#[test]
fn unsupported_version_error_frame_bytes() {
    let mut buf = BytesMut::new();
    mica_cql_protocol::response::encode_unsupported_version(&mut buf, 66, 0).unwrap();
    let message = b"Invalid or unsupported protocol version (66); supported versions are (3/v3, 4/v4, 5/v5)";
    let mut expected = vec![0x85, 0x00, 0x00, 0x00, 0x00];
    expected.extend_from_slice(&(4 + 2 + message.len() as u32).to_be_bytes());
    expected.extend_from_slice(&[0x00, 0x00, 0x00, 0x0A, 0x00, message.len() as u8]);
    expected.extend_from_slice(message);
    assert_eq!(buf.as_ref(), expected.as_slice());
}

#[test]
fn ready_and_options_are_empty_bodies() {
    let mut buf = BytesMut::new();
    Response::Ready
        .encode_envelope(&mut buf, Version::V4, 1, &ResponseExtras::default())
        .unwrap();
    assert_eq!(buf.as_ref(), &[0x84, 0, 0, 1, 0x02, 0, 0, 0, 0]);
    let mut buf = BytesMut::new();
    Request::Options
        .encode_envelope(&mut buf, Version::V5, 0, false, None)
        .unwrap();
    assert_eq!(buf.as_ref(), &[0x05, 0, 0, 0, 0x05, 0, 0, 0, 0]);
}

#[test]
fn rows_writer_matches_in_memory_encoding() {
    for version in VERSIONS {
        let metadata = RowsMetadata {
            paging_state: Some(blob("ps")),
            ..RowsMetadata::new(columns())
        };
        let rows: Vec<Vec<Option<Bytes>>> = (0..50)
            .map(|i| {
                (0..5)
                    .map(|c| {
                        if (i + c) % 3 == 0 {
                            None
                        } else {
                            Some(blob(&format!("{i}-{c}")))
                        }
                    })
                    .collect()
            })
            .collect();
        let extras = ResponseExtras {
            warnings: vec!["w".into()],
            ..Default::default()
        };
        let mut expected = BytesMut::new();
        Response::Result(ResultBody::Rows(Rows {
            metadata: metadata.clone(),
            rows: rows.clone(),
        }))
        .encode_envelope(&mut expected, version, 9, &extras)
        .unwrap();
        let mut out = BytesMut::from(&b"prefix"[..]);
        let mut writer = RowsWriter::begin(&mut out, version, 9, &extras, &metadata);
        for (i, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    // Exercise both the slice and the in-place writer.
                    Some(b) if c % 2 == 0 => writer.push_cell_with(|buf| buf.extend_from_slice(b)),
                    other => writer.push_cell(other.as_deref()),
                }
            }
            writer.finish_row().unwrap();
            assert_eq!(writer.rows(), i + 1);
        }
        let len = writer.finish().unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(len, out.len() - 6);
        assert_eq!(&out[6..], expected.as_ref());
    }
}

#[test]
fn rows_writer_rejects_wrong_cell_counts() {
    let mut out = BytesMut::new();
    let mut writer = RowsWriter::begin(
        &mut out,
        Version::V4,
        0,
        &ResponseExtras::default(),
        &RowsMetadata::no_metadata(2),
    );
    writer.push_cell(Some(b"a"));
    assert_eq!(
        writer.finish_row(),
        Err(ProtocolError::ColumnCountMismatch {
            expected: 2,
            actual: 1
        })
    );
    writer.push_cell(None);
    assert!(writer.finish().is_err());
}

#[test]
fn truncated_bodies_are_typed_errors() {
    for version in VERSIONS {
        for response in all_responses(version) {
            let mut buf = BytesMut::new();
            response
                .encode_envelope(&mut buf, version, 0, &ResponseExtras::default())
                .unwrap();
            let full = envelope(&buf);
            for cut in 0..full.body.len() {
                let env = Envelope {
                    header: full.header,
                    body: full.body.slice(..cut),
                };
                // Some prefixes are themselves valid messages (e.g. a Rows result cut between rows is not,
                // but an empty AUTH_SUCCESS body is); none may panic, and most must fail.
                let _ = Response::decode(&env);
            }
            if !full.body.is_empty() {
                let env = Envelope {
                    header: full.header,
                    body: full.body.slice(..full.body.len() - 1),
                };
                assert!(Response::decode(&env).is_err(), "{response:?}");
            }
        }
    }
}
