//! The query engine: schema snapshot, prepared statement cache, statement dispatch and authentication.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use mica_cql_protocol::{
    Batch, ColumnSpec, Prepared, QueryParameters, QueryValues, RowsMetadata, SchemaChange, Value,
};
use mica_schema::Schema;
use mica_storage::Engine;
use uuid::Uuid;

use crate::error::{QueryError, Result};

/// Facts about the local node shown in system.local and used for token ownership.
#[derive(Clone, Debug)]
pub struct LocalInfo {
    pub cluster_name: String,
    pub data_center: String,
    pub rack: String,
    pub host_id: Uuid,
    pub listen_address: IpAddr,
    pub broadcast_address: IpAddr,
    pub rpc_address: IpAddr,
    pub native_port: u16,
    pub storage_port: u16,
    pub release_version: String,
    pub tokens: Vec<i64>,
    /// Whether PasswordAuthenticator is configured (logins are checked against system_auth.roles).
    pub password_auth: bool,
    /// Whether CassandraAuthorizer is configured (statements are checked against the permissions in
    /// system_auth.role_permissions); with AllowAllAuthorizer everything is permitted.
    pub authorization: bool,
}

/// Per-connection state: the current keyspace and the logged-in role.
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    pub keyspace: Option<String>,
    pub user: Option<String>,
}

/// The outcome of a statement.
#[derive(Debug)]
pub enum QueryResult {
    Void,
    Rows {
        metadata: RowsMetadata,
        rows: Vec<Vec<Option<Bytes>>>,
    },
    SetKeyspace(String),
    SchemaChange(SchemaChange),
}

/// Receives schema change events (the node forwards them to connections that registered for them).
pub type SchemaListener = Box<dyn Fn(&SchemaChange) + Send + Sync>;

/// Executes CQL against one storage engine.
pub struct QueryEngine {
    pub(crate) storage: Arc<dyn Engine>,
    pub(crate) schema: RwLock<Arc<Schema>>,
    pub(crate) local: LocalInfo,
    pub(crate) prepared: Mutex<HashMap<Vec<u8>, Arc<crate::engine::PreparedStatement>>>,
    /// Serialises DDL so concurrent schema changes never lose each other's updates.
    pub(crate) ddl_lock: Mutex<()>,
    pub(crate) listeners: Mutex<Vec<SchemaListener>>,
    /// Users' roles and permissions, for the per-statement authorization check.
    pub(crate) auth_cache: crate::auth::AuthCache,
    /// Partition locks and timestamp clock of lightweight transactions.
    pub(crate) lwt: crate::lwt::LwtState,
    /// Where system.peers rows come from (the node's gossip view).
    pub(crate) peers: crate::peers::Peers,
    /// Replicated reads and writes of user tables, once the node joined a cluster.
    pub(crate) data: std::sync::OnceLock<Arc<dyn crate::DataPlane>>,
    /// Client request latencies (`nodetool proxyhistograms`).
    pub(crate) latencies: crate::metrics::ProxyLatencies,
    /// The Cassandra release this engine behaves as (unset: the newest), see [`crate::compat`].
    pub(crate) compat: std::sync::OnceLock<crate::compat::Compatibility>,
    /// This engine, for moving a distributed read onto a blocking thread.
    me: std::sync::Weak<QueryEngine>,
}

/// A statement prepared once and executed many times.
#[derive(Debug)]
pub struct PreparedStatement {
    pub(crate) statement: mica_cql_syntax::Statement,
    pub(crate) keyspace: Option<String>,
}

impl QueryEngine {
    /// The current schema snapshot.
    pub fn schema(&self) -> Arc<Schema> {
        match self.schema.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Registers a callback for schema changes.
    pub fn on_schema_change(&self, listener: SchemaListener) {
        if let Ok(mut l) = self.listeners.lock() {
            l.push(listener);
        }
    }

    pub fn local(&self) -> &LocalInfo {
        &self.local
    }

    /// Routes user-table reads and writes through `data` from now on (once; later calls are ignored).
    pub fn set_data_plane(&self, data: Arc<dyn crate::DataPlane>) {
        if self.data.set(data).is_err() {
            tracing::warn!("the data plane is already set");
        }
    }

    /// The data plane for `keyspace` when its tables are replicated.
    pub(crate) fn data_plane(&self, keyspace: &str) -> Option<&Arc<dyn crate::DataPlane>> {
        self.data.get().filter(|d| d.is_distributed(keyspace))
    }

    /// Client request latencies since the node started (`nodetool proxyhistograms`).
    pub fn latencies(&self) -> &crate::metrics::ProxyLatencies {
        &self.latencies
    }

    /// Writes user mutations: through the data plane in a cluster, else to local storage.
    pub(crate) async fn write_mutations(
        &self,
        mutations: Vec<mica_storage::Mutation>,
        consistency: mica_cql_protocol::Consistency,
        write_type: mica_cql_protocol::WriteType,
    ) -> Result<()> {
        let _latency = self.latencies.write.timer();
        match self.data.get() {
            Some(data) => data.write(mutations, consistency, write_type).await,
            None => Ok(self.storage.apply(mutations)?.await?),
        }
    }
}

/// Marker for the default superuser's password, as Cassandra creates it.
const DEFAULT_SUPERUSER: &str = "cassandra";
/// bcrypt cost Cassandra uses for stored password hashes (`auth_bcrypt_gensalt_log2_rounds`).
pub(crate) const BCRYPT_COST: u32 = 10;

impl QueryEngine {
    /// Opens the engine: builds the system keyspaces, loads stored keyspaces, creates missing tables and,
    /// with password authentication, the default `cassandra` superuser.
    pub fn open(storage: Arc<dyn Engine>, local: LocalInfo) -> Result<Arc<QueryEngine>> {
        let mut schema = Schema::default();
        for ks in crate::system::system_keyspaces()? {
            schema.keyspaces.insert(ks.name.clone(), Arc::new(ks));
        }
        for (_, doc) in storage.scan_meta(b"schema/keyspace/")? {
            let persisted = mica_schema::PersistedSchema::from_json(&doc)?;
            let ks = persisted.into_keyspace(|text, types| {
                mica_cql_types::parse_type_string(text, &|name| types.get(name).cloned())
                    .map_err(|e| e.to_string())
            })?;
            schema.keyspaces.insert(ks.name.clone(), Arc::new(ks));
        }
        // Derived from the content, so nodes holding the same schema agree on its version.
        schema.version = crate::schema_sync::content_version(&schema);
        for ks in schema.keyspaces.values() {
            for t in ks.tables.values().filter(|t| !t.is_virtual) {
                storage.create_table(mica_storage::TableId(t.id), crate::ddl::storage_options(t))?;
                crate::index::open_index_tables(&*storage, t)?;
            }
        }
        let engine = Arc::new_cyclic(|me| QueryEngine {
            storage,
            schema: RwLock::new(Arc::new(schema)),
            local,
            prepared: Mutex::new(HashMap::new()),
            ddl_lock: Mutex::new(()),
            listeners: Mutex::new(Vec::new()),
            auth_cache: crate::auth::AuthCache::default(),
            lwt: crate::lwt::LwtState::default(),
            peers: crate::peers::Peers::default(),
            data: std::sync::OnceLock::new(),
            latencies: crate::metrics::ProxyLatencies::default(),
            compat: std::sync::OnceLock::new(),
            me: me.clone(),
        });
        if engine.local.password_auth
            && engine.role_hash(DEFAULT_SUPERUSER)?.is_none()
            && !engine.any_role()?
        {
            let hash = bcrypt::hash(DEFAULT_SUPERUSER, BCRYPT_COST)
                .map_err(|e| QueryError::Server(format!("bcrypt: {e}")))?;
            let mut state = ClientState::default();
            let stmt = mica_cql_syntax::parse_statement(
                "INSERT INTO system_auth.roles (role, is_superuser, can_login, salted_hash) VALUES (?, true, true, ?)",
            )?;
            let values = [
                mica_cql_protocol::Value::Set(Bytes::from(DEFAULT_SUPERUSER.as_bytes().to_vec())),
                mica_cql_protocol::Value::Set(Bytes::from(hash.into_bytes())),
            ];
            // Timestamp 0, as Cassandra does, so any later change made by a user wins.
            engine.run_sync(&mut state, &stmt, &values, Some(0))?;
        }
        Ok(engine)
    }

    fn any_role(&self) -> Result<bool> {
        let schema = self.schema();
        let table = schema.require_table("system_auth", "roles")?;
        let mut stream = self.storage.scan(
            mica_storage::TableId(table.id),
            &mica_storage::ScanRange::all(),
            &mica_storage::ReadSelection::all(),
            mica_storage::ScanLimits {
                partitions: Some(1),
                rows: None,
            },
            mica_types::now_seconds(),
        )?;
        Ok(stream.next().transpose()?.is_some())
    }

    /// The stored bcrypt hash of a role and whether the role may log in, if it has a password.
    fn role_hash(&self, role: &str) -> Result<Option<(String, bool)>> {
        let stmt = mica_cql_syntax::parse_statement(
            "SELECT salted_hash, can_login FROM system_auth.roles WHERE role = ?",
        )?;
        let values = [mica_cql_protocol::Value::Set(Bytes::from(
            role.as_bytes().to_vec(),
        ))];
        let mut state = ClientState::default();
        let QueryResult::Rows { rows, .. } = self.run_sync(&mut state, &stmt, &values, None)? else {
            return Ok(None);
        };
        let Some(row) = rows.first() else { return Ok(None) };
        let can_login = row
            .get(1)
            .and_then(|v| v.as_ref())
            .is_some_and(|b| b.first() == Some(&1));
        Ok(row
            .first()
            .and_then(|v| v.as_ref())
            .map(|b| (String::from_utf8_lossy(b).into_owned(), can_login)))
    }

    /// Checks a login against system_auth.roles.
    pub fn authenticate(&self, user: &str, password: &str) -> Result<()> {
        let denied =
            || QueryError::BadCredentials(format!("Provided username {user} and/or password are incorrect"));
        let (hash, can_login) = self.role_hash(user)?.ok_or_else(denied)?;
        if !bcrypt::verify(password, &hash).unwrap_or(false) {
            return Err(denied());
        }
        // As in Cassandra, the password is checked first and LOGIN (which is not inherited) afterwards.
        if !can_login {
            return Err(QueryError::BadCredentials(format!(
                "{user} is not permitted to log in"
            )));
        }
        Ok(())
    }

    /// Parses and executes one statement.
    pub async fn query(
        &self,
        state: &mut ClientState,
        query: &str,
        params: &QueryParameters,
    ) -> Result<QueryResult> {
        crate::trace_session::trace(crate::trace_session::REQUEST_THREAD, || {
            format!("Parsing {query}")
        });
        let statement = self.parse_client_statement(query)?;
        crate::trace_session::trace(crate::trace_session::REQUEST_THREAD, || {
            "Preparing statement".into()
        });
        let values = self.positional(&statement, &params.values)?;
        if let Some(ks) = &params.keyspace {
            let mut scoped = ClientState {
                keyspace: Some(ks.clone()),
                user: state.user.clone(),
            };
            return self.run(&mut scoped, &statement, &values, params).await;
        }
        self.run(state, &statement, &values, params).await
    }

    /// Prepares a statement and caches it under an id derived from its text and keyspace.
    pub fn prepare(&self, state: &ClientState, query: &str, keyspace: Option<&str>) -> Result<Prepared> {
        let statement = self.parse_client_statement(query)?;
        let keyspace = keyspace.map(str::to_string).or_else(|| state.keyspace.clone());
        let scoped = ClientState {
            keyspace: keyspace.clone(),
            user: state.user.clone(),
        };
        let (variables, pk_indexes, result) = self.describe_statement(&scoped, &statement)?;
        let id = statement_id(query, keyspace.as_deref());
        let result_metadata_id = statement_id(&format!("{result:?}"), None);
        if let Ok(mut cache) = self.prepared.lock() {
            cache.insert(id.clone(), Arc::new(PreparedStatement { statement, keyspace }));
        }
        Ok(Prepared {
            id: Bytes::from(id),
            result_metadata_id: Some(Bytes::from(result_metadata_id)),
            metadata: mica_cql_protocol::PreparedMetadata {
                pk_indexes,
                columns: variables,
            },
            result_metadata: RowsMetadata::new(result),
        })
    }

    /// Executes a prepared statement.
    pub async fn execute(
        &self,
        state: &mut ClientState,
        id: &[u8],
        params: &QueryParameters,
    ) -> Result<QueryResult> {
        let prepared = self
            .prepared
            .lock()
            .ok()
            .and_then(|c| c.get(id).cloned())
            .ok_or_else(|| QueryError::Unprepared(id.to_vec()))?;
        let values = self.positional(&prepared.statement, &params.values)?;
        let mut scoped = ClientState {
            keyspace: prepared.keyspace.clone().or_else(|| state.keyspace.clone()),
            user: state.user.clone(),
        };
        let result = self
            .run(&mut scoped, &prepared.statement, &values, params)
            .await?;
        if let QueryResult::SetKeyspace(ks) = &result {
            state.keyspace = Some(ks.clone());
        }
        Ok(result)
    }

    /// Executes a BATCH of query strings and prepared ids as one atomic write.
    pub async fn batch(&self, state: &mut ClientState, batch: &Batch) -> Result<QueryResult> {
        let timestamp = batch.timestamp.unwrap_or_else(|| mica_types::Timestamp::now().0);
        let now = mica_types::now_seconds();
        let mut mutations = Vec::new();
        let access = self.access(state)?;
        let mut children = Vec::with_capacity(batch.statements.len());
        for child in &batch.statements {
            let (statement, keyspace) = match child {
                mica_cql_protocol::BatchStatement::Query { query, .. } => (
                    Arc::new(PreparedStatement {
                        statement: self.parse_client_statement(query)?,
                        keyspace: None,
                    }),
                    None,
                ),
                mica_cql_protocol::BatchStatement::Prepared { id, .. } => {
                    let p = self
                        .prepared
                        .lock()
                        .ok()
                        .and_then(|c| c.get(id.as_ref()).cloned())
                        .ok_or_else(|| QueryError::Unprepared(id.to_vec()))?;
                    let ks = p.keyspace.clone();
                    (p, ks)
                }
            };
            let scoped = ClientState {
                keyspace: batch
                    .keyspace
                    .clone()
                    .or(keyspace)
                    .or_else(|| state.keyspace.clone()),
                user: state.user.clone(),
            };
            access.check(&scoped, &statement.statement.kind)?;
            let binds = crate::values::Binds {
                values: child.values(),
            };
            children.push((statement, scoped, binds));
        }
        if children
            .iter()
            .any(|(s, ..)| crate::cas::is_conditional(&s.statement.kind))
        {
            let _latency = self.latencies.cas_write.timer();
            return self.execute_cas_batch(&children, batch).await;
        }
        for (statement, scoped, binds) in &children {
            mutations.extend(self.mutations_for(
                scoped,
                &statement.statement.kind,
                *binds,
                timestamp,
                now,
            )?);
        }
        crate::trace_session::before_write(self, &mutations);
        let write_type = match batch.batch_type {
            mica_cql_protocol::BatchType::Logged => mica_cql_protocol::WriteType::Batch,
            mica_cql_protocol::BatchType::Counter => mica_cql_protocol::WriteType::Counter,
            mica_cql_protocol::BatchType::Unlogged => mica_cql_protocol::WriteType::UnloggedBatch,
        };
        self.write_mutations(mutations, batch.consistency, write_type)
            .await?;
        Ok(QueryResult::Void)
    }

    /// Bound values in marker order (named values are matched to marker names).
    fn positional(&self, statement: &mica_cql_syntax::Statement, values: &QueryValues) -> Result<Vec<Value>> {
        let v = match values {
            QueryValues::None => Vec::new(),
            QueryValues::Positional(v) => v.clone(),
            QueryValues::Named(named) => statement
                .bind_markers
                .iter()
                .map(|m| {
                    let name = m.name.clone().unwrap_or_default();
                    named
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| crate::error::invalid(format!("No value for named marker {name}")))
                })
                .collect::<Result<_>>()?,
        };
        if v.len() != statement.bind_markers.len() {
            return Err(crate::error::invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables",
                statement.bind_markers.len(),
                v.len()
            )));
        }
        Ok(v)
    }

    pub(crate) fn run_sync(
        &self,
        state: &mut ClientState,
        statement: &mica_cql_syntax::Statement,
        values: &[Value],
        timestamp: Option<i64>,
    ) -> Result<QueryResult> {
        let params = QueryParameters {
            timestamp,
            ..QueryParameters::default()
        };
        if let Some(r) = self.execute_ddl(state, &statement.kind)? {
            return Ok(r);
        }
        let binds = crate::values::Binds { values };
        if let mica_cql_syntax::StatementKind::Select(sel) = &statement.kind {
            let table = self.resolve_table(state, &sel.table)?;
            // Internal reads are local: they run on the caller's thread, which may not block on other nodes.
            return self.select(&table, sel, binds, params.page_size, None, None);
        }
        let ts = timestamp.unwrap_or_else(|| mica_types::Timestamp::now().0);
        let mutations = self.mutations_for(state, &statement.kind, binds, ts, mica_types::now_seconds())?;
        self.storage.apply_sync(mutations)?;
        Ok(QueryResult::Void)
    }

    async fn run(
        &self,
        state: &mut ClientState,
        statement: &mica_cql_syntax::Statement,
        values: &[Value],
        params: &QueryParameters,
    ) -> Result<QueryResult> {
        self.access(state)?.check(state, &statement.kind)?;
        if let Some(r) = self.execute_ddl(state, &statement.kind)? {
            self.after_schema_change(state, &r)?;
            if let QueryResult::SchemaChange(change) = &r
                && let Ok(listeners) = self.listeners.lock()
            {
                for l in listeners.iter() {
                    l(change);
                }
            }
            return Ok(r);
        }
        let binds = crate::values::Binds { values };
        if crate::cas::is_conditional(&statement.kind) {
            let _latency = self.latencies.cas_write.timer();
            return self
                .execute_conditional(state, &statement.kind, binds, params)
                .await;
        }
        use mica_cql_syntax::StatementKind as K;
        match &statement.kind {
            K::Select(sel) => {
                let table = self.resolve_table(state, &sel.table)?;
                crate::trace_session::before_select(&table, sel);
                if self.data_plane(&table.keyspace).is_some() {
                    return self.select_blocking(table, statement, values, params).await;
                }
                let result = self.select(
                    &table,
                    sel,
                    binds,
                    params.page_size,
                    params.paging_state.as_deref(),
                    Some(params.consistency),
                );
                crate::trace_session::after_select(&result);
                result
            }
            K::Insert(_) | K::Update(_) | K::Delete(_) | K::Batch(_) => {
                let ts = params.timestamp.unwrap_or_else(|| mica_types::Timestamp::now().0);
                let mutations =
                    self.mutations_for(state, &statement.kind, binds, ts, mica_types::now_seconds())?;
                crate::trace_session::before_write(self, &mutations);
                let write_type = match &statement.kind {
                    K::Batch(b) if b.kind == mica_cql_syntax::BatchKind::Unlogged => {
                        mica_cql_protocol::WriteType::UnloggedBatch
                    }
                    K::Batch(b) if b.kind == mica_cql_syntax::BatchKind::Counter => {
                        mica_cql_protocol::WriteType::Counter
                    }
                    K::Batch(_) => mica_cql_protocol::WriteType::Batch,
                    _ => mica_cql_protocol::WriteType::Simple,
                };
                self.write_mutations(mutations, params.consistency, write_type)
                    .await?;
                Ok(QueryResult::Void)
            }
            kind if crate::roles::is_role_statement(kind) => {
                let (result, writes) =
                    crate::roles::collect_auth_writes(|| self.execute_role_statement(state, kind));
                // Roles and permissions are the same on every node: the changes go to all of them.
                if let Some(data) = self.data.get()
                    && !writes.is_empty()
                {
                    data.broadcast(writes).await?;
                }
                result
            }
            K::Describe(describe) => self.run_describe(state, describe),
            _ => Err(crate::error::invalid(
                "This statement is not supported by this version of Mica yet",
            )),
        }
    }

    /// Runs a SELECT whose reads may wait on other nodes on a blocking thread, so the connection's
    /// runtime keeps serving other requests meanwhile.
    async fn select_blocking(
        &self,
        table: Arc<mica_schema::TableDef>,
        statement: &mica_cql_syntax::Statement,
        values: &[Value],
        params: &QueryParameters,
    ) -> Result<QueryResult> {
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| QueryError::Server("the query engine is shutting down".into()))?;
        let statement = statement.clone();
        let values = values.to_vec();
        let page_size = params.page_size;
        let paging_state = params.paging_state.clone();
        let consistency = params.consistency;
        let task = tokio::task::spawn_blocking(move || {
            let mica_cql_syntax::StatementKind::Select(sel) = &statement.kind else {
                return Err(QueryError::Server("not a SELECT".into()));
            };
            let binds = crate::values::Binds { values: &values };
            me.select(
                &table,
                sel,
                binds,
                page_size,
                paging_state.as_deref(),
                Some(consistency),
            )
        });
        let result = task
            .await
            .map_err(|e| QueryError::Server(format!("read task failed: {e}")))?;
        crate::trace_session::after_select(&result);
        result
    }

    pub(crate) fn resolve_table(
        &self,
        state: &ClientState,
        name: &mica_cql_syntax::QualifiedName,
    ) -> Result<Arc<mica_schema::TableDef>> {
        let ks = self.keyspace_name(state, &name.keyspace)?;
        let schema = self.schema();
        if schema.keyspace(&ks).is_none() {
            return Err(crate::error::invalid(format!("Keyspace {ks} does not exist")));
        }
        Ok(schema.require_table(&ks, &name.name)?.clone())
    }

    pub(crate) fn mutations_for(
        &self,
        state: &ClientState,
        kind: &mica_cql_syntax::StatementKind,
        binds: crate::values::Binds,
        timestamp: i64,
        now: i64,
    ) -> Result<Vec<mica_storage::Mutation>> {
        use mica_cql_syntax::StatementKind as K;
        let check_writable = |t: &mica_schema::TableDef| {
            if t.is_virtual {
                return Err(crate::error::invalid(format!(
                    "Modification is not supported on virtual table {}.{}",
                    t.keyspace, t.name
                )));
            }
            Ok(())
        };
        match kind {
            K::Insert(ins) => {
                let table = self.resolve_table(state, &ins.table)?;
                check_writable(&table)?;
                if ins.if_not_exists {
                    return Err(crate::error::invalid(
                        "Conditional updates (IF NOT EXISTS) are not supported yet",
                    ));
                }
                let wp = crate::modify::write_params(&ins.using, &table, binds, timestamp, now)?;
                crate::modify::insert(&table, ins, binds, &wp)
            }
            K::Update(upd) => {
                let table = self.resolve_table(state, &upd.table)?;
                check_writable(&table)?;
                if upd.conditions.is_some() {
                    return Err(crate::error::invalid("Conditional updates are not supported yet"));
                }
                let wp = crate::modify::write_params(&upd.using, &table, binds, timestamp, now)?;
                let prefetch = crate::collections::StoragePrefetch {
                    storage: &*self.storage,
                    table: mica_storage::TableId(table.id),
                    now_seconds: now,
                };
                crate::modify::update(&table, upd, binds, &wp, &prefetch)
            }
            K::Delete(del) => {
                let table = self.resolve_table(state, &del.table)?;
                check_writable(&table)?;
                if del.conditions.is_some() {
                    return Err(crate::error::invalid(
                        "Conditional deletions are not supported yet",
                    ));
                }
                let wp = crate::modify::write_params(&del.using, &table, binds, timestamp, now)?;
                let prefetch = crate::collections::StoragePrefetch {
                    storage: &*self.storage,
                    table: mica_storage::TableId(table.id),
                    now_seconds: now,
                };
                crate::modify::delete(&table, del, binds, &wp, &prefetch)
            }
            K::Batch(b) => {
                let mut all = Vec::new();
                let ts = match &b.using.timestamp {
                    Some(t) => {
                        crate::values::eval_i64(t, &mica_cql_types::CqlType::Bigint, "[timestamp]", binds)?
                            .unwrap_or(timestamp)
                    }
                    None => timestamp,
                };
                for (_, child) in &b.statements {
                    let kind = match child {
                        mica_cql_syntax::BatchChild::Insert(i) => K::Insert(Box::new(i.clone())),
                        mica_cql_syntax::BatchChild::Update(u) => K::Update(Box::new(u.clone())),
                        mica_cql_syntax::BatchChild::Delete(d) => K::Delete(Box::new(d.clone())),
                    };
                    all.extend(self.mutations_for(state, &kind, binds, ts, now)?);
                }
                Ok(all)
            }
            _ => Err(crate::error::invalid(
                "Only INSERT, UPDATE and DELETE statements are allowed in a batch",
            )),
        }
    }

    /// Variable specs, partition key indexes and result columns of a statement (prepared metadata).
    fn describe_statement(
        &self,
        state: &ClientState,
        statement: &mica_cql_syntax::Statement,
    ) -> Result<(Vec<ColumnSpec>, Vec<u16>, Vec<ColumnSpec>)> {
        use mica_cql_syntax::StatementKind as K;
        let table_name = match &statement.kind {
            K::Select(s) => Some(&s.table),
            K::Insert(i) => Some(&i.table),
            K::Update(u) => Some(&u.table),
            K::Delete(d) => Some(&d.table),
            K::Batch(b) => b.statements.first().map(|(_, c)| match c {
                mica_cql_syntax::BatchChild::Insert(i) => &i.table,
                mica_cql_syntax::BatchChild::Update(u) => &u.table,
                mica_cql_syntax::BatchChild::Delete(d) => &d.table,
            }),
            _ => None,
        };
        let table = table_name.map(|n| self.resolve_table(state, n)).transpose()?;
        // The selection is checked first so that its errors win over those of its bind markers.
        let result = match (&statement.kind, &table) {
            (K::Select(sel), Some(t)) => crate::read::result_columns(t, sel, &self.schema())?,
            _ => Vec::new(),
        };
        let mut variables = Vec::new();
        for m in &statement.bind_markers {
            let (name, typ) = marker_spec(table.as_deref(), &m.role)?;
            let (ks, tn) = table
                .as_ref()
                .map(|t| (t.keyspace.clone(), t.name.clone()))
                .unwrap_or_default();
            variables.push(ColumnSpec {
                keyspace: ks,
                table: tn,
                name,
                typ,
            });
        }
        // `m = m - ?` on a map removes a set of keys: the marker is typed as that set, as Cassandra does.
        if let (K::Update(upd), Some(t)) = (&statement.kind, &table) {
            for a in &upd.assignments {
                if let mica_cql_syntax::Assignment::Subtract {
                    column,
                    value: mica_cql_syntax::Term::Marker(m),
                } = a
                    && let Some(mica_cql_types::CqlType::Map(k, _)) =
                        t.column(column).map(|c| c.typ.unfrozen())
                    && let Some(v) = variables.get_mut(m.index)
                {
                    v.typ = mica_cql_types::CqlType::Set(k.clone());
                }
            }
        }
        let mut pk_indexes = Vec::new();
        if let Some(t) = &table {
            for c in t.partition_key() {
                match statement
                    .bind_markers
                    .iter()
                    .position(|m| matches!(&m.role, mica_cql_syntax::MarkerRole::Column(n) if *n == c.name))
                {
                    Some(i) => pk_indexes.push(i as u16),
                    None => {
                        pk_indexes.clear();
                        break;
                    }
                }
            }
        }
        Ok((variables, pk_indexes, result))
    }
}

fn marker_spec(
    table: Option<&mica_schema::TableDef>,
    role: &mica_cql_syntax::MarkerRole,
) -> Result<(String, mica_cql_types::CqlType)> {
    use mica_cql_syntax::MarkerRole as R;
    use mica_cql_types::CqlType;
    let col = |n: &str| {
        table
            .and_then(|t| t.column(n))
            .map(|c| c.typ.clone())
            .ok_or_else(|| crate::error::invalid(format!("Undefined column name {n}")))
    };
    Ok(match role {
        R::Column(n) => (n.clone(), col(n)?),
        R::InList(n) => (format!("in({n})"), CqlType::List(Box::new(col(n)?))),
        R::CollectionKey(n) => match col(n)? {
            CqlType::Map(k, _) => (format!("key({n})"), *k),
            CqlType::Set(k) => (format!("key({n})"), *k),
            _ => (format!("idx({n})"), CqlType::Int),
        },
        R::Field { column, field } => {
            let typ = col(column)?;
            let field_type = match typ.unfrozen() {
                CqlType::Udt(def) => def
                    .fields
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, t)| t.clone()),
                _ => None,
            };
            (format!("{column}.{field}"), field_type.unwrap_or(typ))
        }
        R::Json => ("[json]".into(), CqlType::Varchar),
        R::CollectionValue(n) => (
            format!("value({n})"),
            match col(n)? {
                CqlType::Map(_, v) => *v,
                CqlType::List(v) | CqlType::Set(v) => *v,
                other => other,
            },
        ),
        R::Token => ("partition key token".into(), CqlType::Bigint),
        R::Limit => ("[limit]".into(), CqlType::Int),
        R::PerPartitionLimit => ("[per_partition_limit]".into(), CqlType::Int),
        R::Timestamp => ("[timestamp]".into(), CqlType::Bigint),
        R::Ttl => ("[ttl]".into(), CqlType::Int),
        other => return crate::markers::marker_spec(table, other),
    })
}

/// A 16-byte statement id (stable for the same text and keyspace).
fn statement_id(text: &str, keyspace: Option<&str>) -> Vec<u8> {
    let full = format!("{}\u{0}{}", keyspace.unwrap_or(""), text);
    let a = mica_types::murmur3_token(full.as_bytes());
    let b = mica_types::murmur3_token(format!("{full}\u{1}").as_bytes());
    let mut id = a.to_be_bytes().to_vec();
    id.extend_from_slice(&b.to_be_bytes());
    id
}
