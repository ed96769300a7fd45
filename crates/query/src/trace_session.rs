//! Request tracing: a session per traced request (frame flag 0x02) that collects the steps of its execution
//! and is written to `system_traces.sessions` and `system_traces.events`, as Cassandra does, for clients
//! (cqlsh `TRACING ON`, drivers' `trace=True`) to read back.
//!
//! The running session is task-local, so any code executing a traced request records events with
//! [`trace`] without the session being threaded through every call.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mica_cql_protocol::{Request, Value};
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, CqlValue, to_bytes};
use mica_schema::TableDef;
use uuid::Uuid;

use crate::engine::{QueryEngine, QueryResult};
use crate::error::{QueryError, Result};

/// How long trace rows live: Cassandra's `tracetype_query_ttl` default (1 day).
pub const TRACE_TTL_SECONDS: u32 = 86_400;
/// Events kept per session, so a pathological request cannot grow a trace without bound.
const MAX_EVENTS_PER_SESSION: usize = 1_000;
/// The `command` column of a session for CQL requests (Cassandra's `TraceType.QUERY`).
const COMMAND_QUERY: &str = "QUERY";

/// Thread names shown in the `thread` column, after the Cassandra stages doing the same work.
pub(crate) const REQUEST_THREAD: &str = "Native-Transport-Requests-1";
pub(crate) const READ_THREAD: &str = "ReadStage-1";
pub(crate) const MUTATION_THREAD: &str = "MutationStage-1";

tokio::task_local! {
    static CURRENT: Arc<TraceSession>;
}

/// One recorded step of a traced request.
#[derive(Debug)]
struct TraceEvent {
    id: Uuid,
    activity: String,
    elapsed_micros: i32,
    thread: &'static str,
}

/// The tracing session of one request.
#[derive(Debug)]
pub struct TraceSession {
    id: Uuid,
    client: IpAddr,
    request: String,
    parameters: BTreeMap<String, String>,
    started: Instant,
    started_at_millis: i64,
    events: Mutex<Vec<TraceEvent>>,
}

impl TraceSession {
    /// Starts a session for `request` sent by `client`.
    pub fn new(client: IpAddr, request: &Request) -> Arc<TraceSession> {
        let (request, parameters) = describe_request(request);
        Arc::new(TraceSession {
            id: mica_cql_types::now_timeuuid(),
            client,
            request,
            parameters,
            started: Instant::now(),
            started_at_millis: mica_types::Timestamp::now().0 / 1000,
            events: Mutex::new(Vec::new()),
        })
    }

    /// The session id (a timeuuid), sent back in the response header.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Runs `fut` with this session as the current one, so the events it records land here.
    pub async fn scope<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        CURRENT.scope(self.clone(), fut).await
    }

    fn elapsed_micros(&self) -> i32 {
        i32::try_from(self.started.elapsed().as_micros()).unwrap_or(i32::MAX)
    }

    fn record(&self, thread: &'static str, activity: String) {
        let elapsed_micros = self.elapsed_micros();
        if let Ok(mut events) = self.events.lock()
            && events.len() < MAX_EVENTS_PER_SESSION
        {
            events.push(TraceEvent {
                id: mica_cql_types::now_timeuuid(),
                activity,
                elapsed_micros,
                thread,
            });
        }
    }
}

/// Records a step on the current tracing session; does nothing (and builds no text) when the running
/// request is not traced.
pub(crate) fn trace(thread: &'static str, activity: impl FnOnce() -> String) {
    let _ = CURRENT.try_with(|session| session.record(thread, activity()));
}

/// Whether the running request is traced.
fn tracing() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// The `request` column and `parameters` map Cassandra records for a request.
fn describe_request(request: &Request) -> (String, BTreeMap<String, String>) {
    let mut parameters = BTreeMap::new();
    let options = |p: &mica_cql_protocol::QueryParameters, parameters: &mut BTreeMap<String, String>| {
        if let Some(size) = p.page_size.filter(|s| *s > 0) {
            parameters.insert("page_size".into(), size.to_string());
        }
        parameters.insert("consistency_level".into(), p.consistency.to_string());
        if let Some(serial) = p.serial_consistency {
            parameters.insert("serial_consistency_level".into(), serial.to_string());
        }
    };
    let request = match request {
        Request::Query { query, params } => {
            parameters.insert("query".into(), query.clone());
            options(params, &mut parameters);
            "Execute CQL3 query"
        }
        Request::Execute { params, .. } => {
            options(params, &mut parameters);
            "Execute CQL3 prepared query"
        }
        Request::Batch(batch) => {
            parameters.insert("consistency_level".into(), batch.consistency.to_string());
            if let Some(serial) = batch.serial_consistency {
                parameters.insert("serial_consistency_level".into(), serial.to_string());
            }
            "Execute batch of CQL3 queries"
        }
        Request::Prepare { query, .. } => {
            parameters.insert("query".into(), query.clone());
            "Preparing CQL3 query"
        }
        _ => "Execute CQL3 query",
    };
    (request.to_string(), parameters)
}

/// Records how a SELECT is about to read: one partition per key, or a scan of the token ring.
pub(crate) fn before_select(table: &TableDef, select: &ast::Select) {
    if !tracing() {
        return;
    }
    let keyed = table.partition_key().all(|c| {
        select.where_clause.iter().any(|r| {
            matches!(&r.lhs, ast::RelationLhs::Column(n) if *n == c.name)
                && matches!(r.op, ast::Operator::Eq | ast::Operator::In)
        })
    });
    if keyed {
        trace(READ_THREAD, || {
            format!("Executing single-partition query on {}", table.name)
        });
        trace(READ_THREAD, || "Acquiring storage snapshot".into());
    } else {
        trace(REQUEST_THREAD, || "Computing ranges to query".into());
        trace(READ_THREAD, || {
            format!(
                "Executing seq scan across the token ring of {}.{} for (min(-9223372036854775808), min(-9223372036854775808)]",
                table.keyspace, table.name
            )
        });
    }
}

/// Records how many rows a SELECT read.
pub(crate) fn after_select(result: &Result<QueryResult>) {
    if let Ok(QueryResult::Rows { rows, .. }) = result {
        trace(READ_THREAD, || {
            format!("Read {} live rows and 0 tombstone cells", rows.len())
        });
    }
}

/// Records the steps of applying a write to the named tables.
pub(crate) fn before_write(engine: &QueryEngine, mutations: &[mica_storage::Mutation]) {
    if !tracing() {
        return;
    }
    trace(REQUEST_THREAD, || "Determining replicas for mutation".into());
    trace(MUTATION_THREAD, || "Appending to commitlog".into());
    let schema = engine.schema();
    let mut names: Vec<String> = Vec::new();
    for m in mutations {
        let name = schema
            .keyspaces
            .values()
            .flat_map(|k| k.tables.values())
            .find(|t| mica_storage::TableId(t.id) == m.table)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        trace(MUTATION_THREAD, || format!("Adding to {name} memtable"));
    }
}

/// A bound value for a trace row column.
fn set(value: CqlValue, typ: &CqlType) -> Result<Value> {
    to_bytes(&value, typ)
        .map(|b| Value::Set(bytes::Bytes::from(b)))
        .map_err(|e| QueryError::Server(format!("trace value: {e}")))
}

impl QueryEngine {
    /// Ends a tracing session: writes its `system_traces.sessions` row (with the request's duration) and
    /// one `system_traces.events` row per recorded step, all expiring after [`TRACE_TTL_SECONDS`]. The rows
    /// are durable before the traced response goes out, so clients can read the trace right away.
    pub async fn finish_trace(&self, session: &TraceSession) -> Result<()> {
        let duration = session.elapsed_micros();
        let schema = self.schema();
        let sessions = schema.require_table("system_traces", "sessions")?.clone();
        let events_table = schema.require_table("system_traces", "events")?.clone();
        let now_micros = mica_types::Timestamp::now().0;
        let now_seconds = mica_types::now_seconds();
        let coordinator = self.local.broadcast_address;
        let port = i32::from(self.local.storage_port);

        let insert_session = parse_insert(&format!(
            "INSERT INTO system_traces.sessions (session_id, client, command, coordinator, coordinator_port, duration, parameters, request, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL {TRACE_TTL_SECONDS}"
        ))?;
        let text_map = CqlType::Map(Box::new(CqlType::Varchar), Box::new(CqlType::Varchar));
        let parameters = CqlValue::Map(
            session
                .parameters
                .iter()
                .map(|(k, v)| (CqlValue::Text(k.clone()), CqlValue::Text(v.clone())))
                .collect(),
        );
        let values = [
            set(CqlValue::Uuid(session.id), &CqlType::Uuid)?,
            set(CqlValue::Inet(session.client), &CqlType::Inet)?,
            set(CqlValue::Text(COMMAND_QUERY.into()), &CqlType::Varchar)?,
            set(CqlValue::Inet(coordinator), &CqlType::Inet)?,
            set(CqlValue::Int(port), &CqlType::Int)?,
            set(CqlValue::Int(duration), &CqlType::Int)?,
            set(parameters, &text_map)?,
            set(CqlValue::Text(session.request.clone()), &CqlType::Varchar)?,
            set(
                CqlValue::Timestamp(session.started_at_millis),
                &CqlType::Timestamp,
            )?,
        ];
        let mut mutations = insert_rows(&sessions, &insert_session, &values, now_micros, now_seconds)?;

        let insert_event = parse_insert(&format!(
            "INSERT INTO system_traces.events (session_id, event_id, activity, source, source_elapsed, source_port, thread) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL {TRACE_TTL_SECONDS}"
        ))?;
        let events = match session.events.lock() {
            Ok(events) => events
                .iter()
                .map(|e| (e.id, e.activity.clone(), e.elapsed_micros, e.thread))
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        for (id, activity, elapsed, thread) in events {
            let values = [
                set(CqlValue::Uuid(session.id), &CqlType::Uuid)?,
                set(CqlValue::Timeuuid(id), &CqlType::Timeuuid)?,
                set(CqlValue::Text(activity), &CqlType::Varchar)?,
                set(CqlValue::Inet(coordinator), &CqlType::Inet)?,
                set(CqlValue::Int(elapsed), &CqlType::Int)?,
                set(CqlValue::Int(port), &CqlType::Int)?,
                set(CqlValue::Text(thread.into()), &CqlType::Varchar)?,
            ];
            mutations.extend(insert_rows(
                &events_table,
                &insert_event,
                &values,
                now_micros,
                now_seconds,
            )?);
        }
        // Traces replicate like any table of system_traces (SimpleStrategy RF 2), written at ANY as
        // Cassandra writes them: the session must never wait on a slow replica.
        self.write_mutations(
            mutations,
            mica_cql_protocol::Consistency::Any,
            mica_cql_protocol::WriteType::Simple,
        )
        .await
    }
}

fn parse_insert(cql: &str) -> Result<ast::Insert> {
    match mica_cql_syntax::parse_statement(cql)?.kind {
        ast::StatementKind::Insert(insert) => Ok(*insert),
        _ => Err(QueryError::Server("trace insert is not an INSERT".into())),
    }
}

fn insert_rows(
    table: &TableDef,
    insert: &ast::Insert,
    values: &[Value],
    timestamp: i64,
    now_seconds: i64,
) -> Result<Vec<mica_storage::Mutation>> {
    let binds = crate::values::Binds { values };
    let wp = crate::modify::write_params(&insert.using, table, binds, timestamp, now_seconds)?;
    crate::modify::insert(table, insert, binds, &wp)
}
