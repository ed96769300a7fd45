//! The one place where query-layer errors become CQL ERROR bodies (code, message and extra fields).

use bytes::Bytes;
use mica_cql_protocol::{ErrorBody, ErrorKind};
use mica_query::QueryError;

/// Maps a [`QueryError`] to the ERROR body Cassandra would send for the same failure.
pub fn error_body(error: QueryError) -> ErrorBody {
    let message = error.to_string();
    let kind = match error {
        QueryError::Syntax(_) => ErrorKind::Syntax,
        QueryError::Invalid(_) => ErrorKind::Invalid,
        QueryError::Unauthorized(_) => ErrorKind::Unauthorized,
        QueryError::BadCredentials(_) => ErrorKind::BadCredentials,
        QueryError::Config(_) => ErrorKind::Config,
        QueryError::AlreadyExists { keyspace, table, .. } => ErrorKind::AlreadyExists { keyspace, table },
        QueryError::Unprepared(id) => ErrorKind::Unprepared { id: Bytes::from(id) },
        QueryError::Unavailable {
            consistency,
            required,
            alive,
        } => ErrorKind::Unavailable {
            consistency,
            required,
            alive,
        },
        QueryError::WriteTimeout {
            consistency,
            received,
            block_for,
            write_type,
        } => ErrorKind::WriteTimeout {
            consistency,
            received,
            block_for,
            write_type,
            contentions: None,
        },
        QueryError::ReadTimeout {
            consistency,
            received,
            block_for,
            data_present,
        } => ErrorKind::ReadTimeout {
            consistency,
            received,
            block_for,
            data_present,
        },
        QueryError::WriteFailure {
            consistency,
            received,
            block_for,
            failures,
            write_type,
        } => ErrorKind::WriteFailure {
            consistency,
            received,
            block_for,
            failures: mica_cql_protocol::FailureReasons::Reasons(failures),
            write_type,
        },
        QueryError::ReadFailure {
            consistency,
            received,
            block_for,
            failures,
            data_present,
        } => ErrorKind::ReadFailure {
            consistency,
            received,
            block_for,
            failures: mica_cql_protocol::FailureReasons::Reasons(failures),
            data_present,
        },
        QueryError::FunctionFailure {
            keyspace,
            function,
            arg_types,
            ..
        } => ErrorKind::FunctionFailure {
            keyspace,
            function,
            arg_types,
        },
        // Server faults, and variants added to the query layer later, are reported as server errors
        // so the client sees the message instead of a dropped request.
        _ => ErrorKind::Server,
    };
    ErrorBody::new(kind, message)
}

#[cfg(test)]
mod tests {
    use mica_cql_protocol::Consistency;

    use super::*;

    #[test]
    fn codes_match_cassandra() {
        let cases = [
            (QueryError::Syntax("line 1".into()), 0x2000),
            (QueryError::Invalid("unconfigured table nope".into()), 0x2200),
            (QueryError::Unauthorized("no".into()), 0x2100),
            (QueryError::BadCredentials("bad".into()), 0x0100),
            (QueryError::Config("cfg".into()), 0x2300),
            (QueryError::Server("boom".into()), 0x0000),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let body = error_body(error);
            assert_eq!(body.kind.code(), code);
            assert_eq!(body.message, message);
        }
    }

    #[test]
    fn extra_fields_are_carried() {
        let body = error_body(QueryError::AlreadyExists {
            keyspace: "ks".into(),
            table: "t".into(),
            message: "Cannot add already existing table \"t\" to keyspace \"ks\"".into(),
        });
        assert_eq!(
            body.kind,
            ErrorKind::AlreadyExists {
                keyspace: "ks".into(),
                table: "t".into()
            }
        );
        assert!(body.message.starts_with("Cannot add already existing table"));

        let body = error_body(QueryError::Unprepared(vec![0xab, 0xcd]));
        assert_eq!(
            body.kind,
            ErrorKind::Unprepared {
                id: Bytes::from_static(&[0xab, 0xcd])
            }
        );
        assert!(body.message.contains("abcd"));

        let body = error_body(QueryError::Unavailable {
            consistency: Consistency::Quorum,
            required: 2,
            alive: 1,
        });
        assert_eq!(
            body.kind,
            ErrorKind::Unavailable {
                consistency: Consistency::Quorum,
                required: 2,
                alive: 1
            }
        );
    }
}
