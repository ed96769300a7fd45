//! The query layer's typed error; the node maps it once to CQL error codes.

use mica_cql_protocol::Consistency;

/// Why a statement failed. Each variant corresponds to one CQL error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// 0x2000 SyntaxException.
    #[error("{0}")]
    Syntax(String),
    /// 0x2200 InvalidRequest.
    #[error("{0}")]
    Invalid(String),
    /// 0x2100 Unauthorized.
    #[error("{0}")]
    Unauthorized(String),
    /// 0x0100 AuthenticationException.
    #[error("{0}")]
    BadCredentials(String),
    /// 0x2300 ConfigurationException.
    #[error("{0}")]
    Config(String),
    /// 0x2400 AlreadyExists; `table` is empty for a keyspace.
    #[error("{message}")]
    AlreadyExists {
        keyspace: String,
        table: String,
        message: String,
    },
    /// 0x2500 Unprepared.
    #[error("Prepared query with ID {} not found (either the query was not prepared on this host (maybe the host has been restarted?) or you have prepared too many queries and it has been evicted from the internal cache)", hex(.0))]
    Unprepared(Vec<u8>),
    /// 0x1000 Unavailable.
    #[error("Cannot achieve consistency level {consistency}")]
    Unavailable {
        consistency: Consistency,
        required: i32,
        alive: i32,
    },
    /// 0x1100 WriteTimeout.
    #[error("Operation timed out - received only {received} responses.")]
    WriteTimeout {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        write_type: mica_cql_protocol::WriteType,
    },
    /// 0x1200 ReadTimeout.
    #[error("Operation timed out - received only {received} responses.")]
    ReadTimeout {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        data_present: bool,
    },
    /// 0x1500 WriteFailure: replicas answered with errors.
    #[error("Operation failed - received {received} responses and {} failures", failures.len())]
    WriteFailure {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        failures: Vec<(std::net::IpAddr, u16)>,
        write_type: mica_cql_protocol::WriteType,
    },
    /// 0x1300 ReadFailure: replicas answered with errors.
    #[error("Operation failed - received {received} responses and {} failures", failures.len())]
    ReadFailure {
        consistency: Consistency,
        received: i32,
        block_for: i32,
        failures: Vec<(std::net::IpAddr, u16)>,
        data_present: bool,
    },
    /// 0x000A ProtocolError (e.g. a paging state this node did not produce).
    #[error("{0}")]
    Protocol(String),
    /// 0x1400 FunctionFailure: a function (or arithmetic operation) failed while executing.
    #[error("{message}")]
    FunctionFailure {
        keyspace: String,
        function: String,
        arg_types: Vec<String>,
        message: String,
    },
    /// 0x0000 ServerError: a fault of ours (storage failure, broken invariant).
    #[error("{0}")]
    Server(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<mica_storage::StorageError> for QueryError {
    fn from(e: mica_storage::StorageError) -> Self {
        QueryError::Server(format!("storage: {e}"))
    }
}

impl From<mica_schema::SchemaError> for QueryError {
    fn from(e: mica_schema::SchemaError) -> Self {
        QueryError::Invalid(e.to_string())
    }
}

impl From<mica_cql_syntax::ParseError> for QueryError {
    fn from(e: mica_cql_syntax::ParseError) -> Self {
        QueryError::Syntax(e.message)
    }
}

/// Shorthand for building an InvalidRequest error.
pub(crate) fn invalid(msg: impl Into<String>) -> QueryError {
    QueryError::Invalid(msg.into())
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;
