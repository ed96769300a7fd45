//! The control plane's persistent state: desired state (clusters, datacenters and their properties), the node
//! slots the reconciler allocated, long-running operations and hashed API tokens, in one SQLite file.
//!
//! Only what must survive a restart is stored (why each table exists is said at its migration). Observed state
//! (is a node up?) is never stored: the reconciler asks the nodes again after a restart. Every intent is written
//! here *before* the reconciler acts on it, so a control plane killed at any point finds, on restart, either
//! nothing done or a recorded intent it can finish or undo.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use mica_control_api::{
    ClusterProperties, DataCenterProperties, OperationError, OperationResource, OperationStatus,
    OperationStep, ProvisionError, ProvisioningState,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Schema migrations, applied in order at open; `PRAGMA user_version` counts the applied ones. Never edit an
/// entry that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: desired state. `properties` holds the resource's writable properties as the API's JSON (never the
    // admin password); `deleting` records an accepted DELETE the reconciler has not finished.
    "CREATE TABLE clusters (
        name TEXT PRIMARY KEY,
        properties TEXT NOT NULL,
        provisioning_state TEXT NOT NULL,
        provision_error TEXT,
        deleting INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE data_centers (
        cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        properties TEXT NOT NULL,
        provisioning_state TEXT NOT NULL,
        provision_error TEXT,
        deleting INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (cluster, name)
     );
     -- Node slots: written before the node's directory or process exists, so an address is never handed out
     -- twice and a restarted control plane knows every node it may have started.
     CREATE TABLE nodes (
        cluster TEXT NOT NULL,
        data_center TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        address TEXT NOT NULL UNIQUE,
        rack TEXT NOT NULL,
        PRIMARY KEY (cluster, data_center, ordinal),
        FOREIGN KEY (cluster, data_center) REFERENCES data_centers(cluster, name) ON DELETE CASCADE
     );
     -- Long-running operations, so GET /operations/{id} answers across restarts.
     CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        name TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        status TEXT NOT NULL,
        percent INTEGER NOT NULL,
        steps TEXT NOT NULL,
        error TEXT,
        start_time INTEGER NOT NULL,
        end_time INTEGER
     );
     CREATE INDEX operations_by_cluster ON operations(cluster, status);
     -- SHA-256 of API bearer tokens; the tokens themselves are shown once and never stored here.
     CREATE TABLE api_tokens (hash TEXT PRIMARY KEY, created INTEGER NOT NULL);",
    // 2: the initial admin password of a cluster waits here until the reconciler has set it through CQL, then
    // the row is deleted (a later step; the API accepts the password today).
    "CREATE TABLE pending_admin_passwords (
        cluster TEXT PRIMARY KEY REFERENCES clusters(name) ON DELETE CASCADE,
        password TEXT NOT NULL
     );",
    // 3: turnkey replication: a datacenter (or one keyspace, `keyspace` non-empty) that must still stream its
    // data from `source` (`nodetool rebuild`), written with the datacenter or before the keyspace is altered.
    "CREATE TABLE pending_rebuilds (
        cluster TEXT NOT NULL,
        data_center TEXT NOT NULL,
        keyspace TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (cluster, data_center, keyspace),
        FOREIGN KEY (cluster, data_center) REFERENCES data_centers(cluster, name) ON DELETE CASCADE
     );",
    // 4: commands started by invokeCommandAsync (`resource` is the API's CommandPublicResource JSON), kept
    // until their cluster is deleted.
    "CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        cluster TEXT NOT NULL REFERENCES clusters(name) ON DELETE CASCADE,
        enqueued INTEGER NOT NULL,
        resource TEXT NOT NULL
     );
     CREATE INDEX commands_by_cluster ON commands(cluster, enqueued);",
    // 5: automatic repairs (see `crate::repair`): when the next round is due, the round in progress (its start,
    // the next node as datacenter and ordinal, its failures so far) and how the last rounds went, so a restarted
    // control plane neither repeats a finished round nor forgets one half done.
    "CREATE TABLE repairs (
        cluster TEXT PRIMARY KEY REFERENCES clusters(name) ON DELETE CASCADE,
        next_due INTEGER NOT NULL,
        round_started INTEGER,
        next_data_center TEXT NOT NULL DEFAULT '',
        next_ordinal INTEGER NOT NULL DEFAULT 0,
        round_errors TEXT NOT NULL DEFAULT '[]',
        last_started INTEGER,
        last_completed INTEGER,
        last_error TEXT,
        waiting TEXT
     );",
];

mod commands;
mod repairs;

pub use repairs::RepairRecord;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt JSON in the state database: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the state database has schema version {found} but this mica knows only {known}; use a newer mica"
    )]
    NewerSchema { found: usize, known: usize },
    #[error("corrupt value in the state database: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A cluster's stored desired state.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterRow {
    pub name: String,
    pub properties: ClusterProperties,
    pub state: ProvisioningState,
    pub error: Option<ProvisionError>,
    pub deleting: bool,
}

/// A datacenter's stored desired state.
#[derive(Clone, Debug, PartialEq)]
pub struct DataCenterRow {
    pub cluster: String,
    pub name: String,
    pub properties: DataCenterProperties,
    pub state: ProvisioningState,
    pub error: Option<ProvisionError>,
    pub deleting: bool,
}

/// A node slot allocated by the reconciler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub cluster: String,
    pub data_center: String,
    pub ordinal: u32,
    pub address: IpAddr,
    pub rack: String,
}

impl NodeRecord {
    /// `cluster/dc/ordinal`, for logs and operation steps.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{} ({})",
            self.cluster, self.data_center, self.ordinal, self.address
        )
    }
}

/// A rebuild the nodes of `data_center` still owe: every keyspace (`keyspace` None) or one, from `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRebuild {
    pub cluster: String,
    pub data_center: String,
    pub keyspace: Option<String>,
    pub source: String,
}

impl PendingRebuild {
    /// A rebuild of every keyspace (a datacenter that was just added).
    pub fn all(cluster: &str, data_center: &str, source: &str) -> PendingRebuild {
        PendingRebuild {
            cluster: cluster.to_owned(),
            data_center: data_center.to_owned(),
            keyspace: None,
            source: source.to_owned(),
        }
    }
}

fn insert_rebuild(conn: &Connection, rebuild: &PendingRebuild) -> Result<()> {
    conn.execute(
        "INSERT INTO pending_rebuilds (cluster, data_center, keyspace, source) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (cluster, data_center, keyspace) DO UPDATE SET source = ?4",
        params![
            rebuild.cluster,
            rebuild.data_center,
            rebuild.keyspace.as_deref().unwrap_or_default(),
            rebuild.source
        ],
    )?;
    Ok(())
}

/// The state database. Cheap to clone; one connection behind a mutex (every statement is short).
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store> {
        Store::init(Connection::open(path)?)
    }

    /// A throwaway database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store> {
        // WAL keeps readers off the writer's back; FULL sync makes every committed intent survive a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic), so the poison is moot.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The number of applied migrations.
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        usize::try_from(v).map_err(|_| StoreError::Corrupt(format!("user_version {v}")))
    }

    // ---- API tokens ----

    pub fn token_count(&self) -> Result<usize> {
        let n: i64 = self
            .lock()
            .query_row("SELECT count(*) FROM api_tokens", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn add_token_hash(&self, hash: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO api_tokens (hash, created) VALUES (?1, ?2)",
            params![hash, now_seconds() as i64],
        )?;
        Ok(())
    }

    pub fn token_hashes(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT hash FROM api_tokens")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- clusters ----

    /// Records a new cluster, its first operation and its pending admin password in one transaction.
    pub fn create_cluster(
        &self,
        name: &str,
        properties: &ClusterProperties,
        password: Option<&str>,
        operation: &OperationResource,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO clusters (name, properties, provisioning_state) VALUES (?1, ?2, ?3)",
            params![
                name,
                stored_cluster_json(properties)?,
                ProvisioningState::Creating.as_str()
            ],
        )?;
        if let Some(password) = password {
            tx.execute(
                "INSERT INTO pending_admin_passwords (cluster, password) VALUES (?1, ?2)",
                params![name, password],
            )?;
        }
        insert_operation(&tx, name, operation)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a cluster's desired properties and records the operation that applies them.
    pub fn update_cluster(
        &self,
        name: &str,
        properties: &ClusterProperties,
        operation: &OperationResource,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE clusters SET properties = ?2, provisioning_state = ?3, provision_error = NULL WHERE name = ?1",
            params![name, stored_cluster_json(properties)?, ProvisioningState::Updating.as_str()],
        )?;
        insert_operation(&tx, name, operation)?;
        tx.commit()?;
        Ok(())
    }

    /// Marks a cluster for deletion (the reconciler stops its nodes, then removes it).
    pub fn mark_cluster_deleting(&self, name: &str, operation: &OperationResource) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE clusters SET deleting = 1, provisioning_state = ?2 WHERE name = ?1",
            params![name, ProvisioningState::Deleting.as_str()],
        )?;
        insert_operation(&tx, name, operation)?;
        tx.commit()?;
        Ok(())
    }

    pub fn cluster(&self, name: &str) -> Result<Option<ClusterRow>> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT name, properties, provisioning_state, provision_error, deleting FROM clusters WHERE name = ?1",
                [name],
                raw_cluster,
            )
            .optional()?;
        row.map(decode_cluster).transpose()
    }

    pub fn clusters(&self) -> Result<Vec<ClusterRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT name, properties, provisioning_state, provision_error, deleting FROM clusters ORDER BY name",
        )?;
        let raw = stmt
            .query_map([], raw_cluster)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(decode_cluster).collect()
    }

    pub fn set_cluster_state(
        &self,
        name: &str,
        state: ProvisioningState,
        error: Option<&ProvisionError>,
    ) -> Result<()> {
        let error = error.map(serde_json::to_string).transpose()?;
        self.lock().execute(
            "UPDATE clusters SET provisioning_state = ?2, provision_error = ?3 WHERE name = ?1",
            params![name, state.as_str(), error],
        )?;
        Ok(())
    }

    /// Removes a cluster with its datacenters and node slots (operations stay, for GET /operations).
    pub fn delete_cluster(&self, name: &str) -> Result<()> {
        self.lock()
            .execute("DELETE FROM clusters WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn pending_admin_password(&self, cluster: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT password FROM pending_admin_passwords WHERE cluster = ?1",
                [cluster],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Forgets a cluster's initial admin password once it has been set on the nodes.
    pub fn delete_pending_admin_password(&self, cluster: &str) -> Result<()> {
        self.lock().execute(
            "DELETE FROM pending_admin_passwords WHERE cluster = ?1",
            [cluster],
        )?;
        Ok(())
    }

    // ---- datacenters ----

    /// Records a new datacenter (or new desired properties of an existing one) and its operation.
    pub fn put_data_center(
        &self,
        cluster: &str,
        name: &str,
        properties: &DataCenterProperties,
        state: ProvisioningState,
        operation: &OperationResource,
    ) -> Result<()> {
        self.put_data_center_rebuilt_from(cluster, name, properties, state, operation, None)
    }

    /// [`Store::put_data_center`] for a datacenter joining a cluster with turnkey replication: in the same
    /// transaction, records that its nodes must rebuild every keyspace from `rebuild_from` once replicated.
    pub fn put_data_center_rebuilt_from(
        &self,
        cluster: &str,
        name: &str,
        properties: &DataCenterProperties,
        state: ProvisioningState,
        operation: &OperationResource,
        rebuild_from: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO data_centers (cluster, name, properties, provisioning_state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (cluster, name) DO UPDATE SET properties = ?3, provisioning_state = ?4,
               provision_error = NULL",
            params![cluster, name, stored_dc_json(properties)?, state.as_str()],
        )?;
        if let Some(source) = rebuild_from {
            insert_rebuild(&tx, &PendingRebuild::all(cluster, name, source))?;
        }
        tx.execute(
            "UPDATE clusters SET provisioning_state = ?2, provision_error = NULL WHERE name = ?1",
            params![cluster, ProvisioningState::Updating.as_str()],
        )?;
        insert_operation(&tx, cluster, operation)?;
        tx.commit()?;
        Ok(())
    }

    pub fn mark_data_center_deleting(
        &self,
        cluster: &str,
        name: &str,
        operation: &OperationResource,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE data_centers SET deleting = 1, provisioning_state = ?3 WHERE cluster = ?1 AND name = ?2",
            params![cluster, name, ProvisioningState::Deleting.as_str()],
        )?;
        insert_operation(&tx, cluster, operation)?;
        tx.commit()?;
        Ok(())
    }

    pub fn data_centers(&self, cluster: &str) -> Result<Vec<DataCenterRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT cluster, name, properties, provisioning_state, provision_error, deleting FROM data_centers
             WHERE cluster = ?1 ORDER BY name",
        )?;
        let raw = stmt
            .query_map([cluster], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|(cluster, name, properties, state, error, deleting)| {
                Ok(DataCenterRow {
                    cluster,
                    name,
                    properties: serde_json::from_str(&properties)?,
                    state: parse_state(&state)?,
                    error: error.as_deref().map(serde_json::from_str).transpose()?,
                    deleting,
                })
            })
            .collect()
    }

    pub fn data_center(&self, cluster: &str, name: &str) -> Result<Option<DataCenterRow>> {
        Ok(self.data_centers(cluster)?.into_iter().find(|d| d.name == name))
    }

    pub fn set_data_center_state(
        &self,
        cluster: &str,
        name: &str,
        state: ProvisioningState,
        error: Option<&ProvisionError>,
    ) -> Result<()> {
        let error = error.map(serde_json::to_string).transpose()?;
        self.lock().execute(
            "UPDATE data_centers SET provisioning_state = ?3, provision_error = ?4 WHERE cluster = ?1 AND name = ?2",
            params![cluster, name, state.as_str(), error],
        )?;
        Ok(())
    }

    pub fn delete_data_center(&self, cluster: &str, name: &str) -> Result<()> {
        self.lock().execute(
            "DELETE FROM data_centers WHERE cluster = ?1 AND name = ?2",
            params![cluster, name],
        )?;
        Ok(())
    }

    // ---- turnkey replication ----

    /// Records a rebuild the reconciler must run (before it alters the keyspace it is for).
    pub fn add_pending_rebuild(&self, rebuild: &PendingRebuild) -> Result<()> {
        insert_rebuild(&self.lock(), rebuild)
    }

    pub fn pending_rebuilds(&self, cluster: &str) -> Result<Vec<PendingRebuild>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT data_center, keyspace, source FROM pending_rebuilds WHERE cluster = ?1
             ORDER BY data_center, keyspace",
        )?;
        let rows = stmt
            .query_map([cluster], |r| {
                let keyspace: String = r.get(1)?;
                Ok(PendingRebuild {
                    cluster: cluster.to_owned(),
                    data_center: r.get(0)?,
                    keyspace: (!keyspace.is_empty()).then_some(keyspace),
                    source: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn delete_pending_rebuild(&self, rebuild: &PendingRebuild) -> Result<()> {
        self.lock().execute(
            "DELETE FROM pending_rebuilds WHERE cluster = ?1 AND data_center = ?2 AND keyspace = ?3",
            params![
                rebuild.cluster,
                rebuild.data_center,
                rebuild.keyspace.as_deref().unwrap_or_default()
            ],
        )?;
        Ok(())
    }

    // ---- nodes ----

    /// Records a node slot; fails if the address is taken (addresses are unique across clusters).
    pub fn insert_node(&self, node: &NodeRecord) -> Result<()> {
        self.lock().execute(
            "INSERT INTO nodes (cluster, data_center, ordinal, address, rack) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                node.cluster,
                node.data_center,
                node.ordinal,
                node.address.to_string(),
                node.rack
            ],
        )?;
        Ok(())
    }

    pub fn delete_node(&self, node: &NodeRecord) -> Result<()> {
        self.lock().execute(
            "DELETE FROM nodes WHERE cluster = ?1 AND data_center = ?2 AND ordinal = ?3",
            params![node.cluster, node.data_center, node.ordinal],
        )?;
        Ok(())
    }

    /// A cluster's node slots, by datacenter then ordinal.
    pub fn nodes(&self, cluster: &str) -> Result<Vec<NodeRecord>> {
        self.query_nodes("WHERE cluster = ?1", [cluster])
    }

    /// Every allocated address (of every cluster).
    pub fn all_nodes(&self) -> Result<Vec<NodeRecord>> {
        self.query_nodes("", [])
    }

    fn query_nodes<P: rusqlite::Params>(&self, filter: &str, params: P) -> Result<Vec<NodeRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT cluster, data_center, ordinal, address, rack FROM nodes {filter}
             ORDER BY cluster, data_center, ordinal"
        ))?;
        let raw = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|(cluster, data_center, ordinal, address, rack)| {
                Ok(NodeRecord {
                    cluster,
                    data_center,
                    ordinal,
                    address: address
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("node address '{address}'")))?,
                    rack,
                })
            })
            .collect()
    }

    // ---- operations ----

    pub fn operation(&self, id: &str) -> Result<Option<OperationResource>> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                "SELECT id, name, resource_id, status, percent, steps, error, start_time, end_time FROM operations
                 WHERE id = ?1",
                [operation_key(id)],
                raw_operation,
            )
            .optional()?;
        raw.map(decode_operation).transpose()
    }

    /// The cluster's unfinished operation, if any (the API allows one at a time per cluster).
    pub fn active_operation(&self, cluster: &str) -> Result<Option<OperationResource>> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                "SELECT id, name, resource_id, status, percent, steps, error, start_time, end_time FROM operations
                 WHERE cluster = ?1 AND status = 'InProgress' ORDER BY start_time LIMIT 1",
                [cluster],
                raw_operation,
            )
            .optional()?;
        raw.map(decode_operation).transpose()
    }

    /// The cluster's operations, newest first, at most `limit` of them.
    pub fn cluster_operations(&self, cluster: &str, limit: usize) -> Result<Vec<OperationResource>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT id, name, resource_id, status, percent, steps, error, start_time, end_time FROM operations
             WHERE cluster = ?1 ORDER BY start_time DESC, rowid DESC LIMIT ?2",
        )?;
        let raw = statement
            .query_map(
                params![cluster, i64::try_from(limit).unwrap_or(i64::MAX)],
                raw_operation,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(decode_operation).collect()
    }

    /// Writes an operation's progress (status, percent, steps, error, end time).
    pub fn save_operation(&self, op: &OperationResource) -> Result<()> {
        self.lock().execute(
            "UPDATE operations SET status = ?2, percent = ?3, steps = ?4, error = ?5, end_time = ?6 WHERE id = ?1",
            params![
                operation_key(&op.id),
                op.status.as_str(),
                op.percent_complete,
                serde_json::to_string(&op.steps)?,
                op.error.as_ref().map(serde_json::to_string).transpose()?,
                op.end_time.map(|t| t as i64),
            ],
        )?;
        Ok(())
    }
}

/// The id column holds the bare uuid; resources show `/operations/{uuid}`.
fn operation_key(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn insert_operation(conn: &Connection, cluster: &str, op: &OperationResource) -> Result<()> {
    conn.execute(
        "INSERT INTO operations (id, cluster, name, resource_id, status, percent, steps, start_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            operation_key(&op.id),
            cluster,
            op.name,
            op.resource_id,
            op.status.as_str(),
            op.percent_complete,
            serde_json::to_string(&op.steps)?,
            op.start_time as i64,
        ],
    )?;
    Ok(())
}

type RawOperation = (
    String,
    String,
    String,
    String,
    u8,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

fn raw_operation(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawOperation> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn decode_operation(raw: RawOperation) -> Result<OperationResource> {
    let (id, name, resource_id, status, percent, steps, error, start, end) = raw;
    Ok(OperationResource {
        id: format!("/operations/{id}"),
        name,
        resource_id,
        status: OperationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("operation status '{status}'")))?,
        percent_complete: percent,
        steps: serde_json::from_str::<Vec<OperationStep>>(&steps)?,
        start_time: u64::try_from(start).unwrap_or(0),
        end_time: end.and_then(|e| u64::try_from(e).ok()),
        error: error
            .as_deref()
            .map(serde_json::from_str::<OperationError>)
            .transpose()?,
    })
}

type RawCluster = (String, String, String, Option<String>, bool);

fn raw_cluster(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawCluster> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode_cluster(raw: RawCluster) -> Result<ClusterRow> {
    let (name, properties, state, error, deleting) = raw;
    Ok(ClusterRow {
        name,
        properties: serde_json::from_str(&properties)?,
        state: parse_state(&state)?,
        error: error.as_deref().map(serde_json::from_str).transpose()?,
        deleting,
    })
}

fn parse_state(text: &str) -> Result<ProvisioningState> {
    ProvisioningState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("provisioning state '{text}'")))
}

/// The stored form of cluster properties: writable ones only (no password, no read-only or observed ones).
fn stored_cluster_json(p: &ClusterProperties) -> Result<String> {
    let mut p = p.clone();
    p.provisioning_state = None;
    p.initial_cassandra_admin_password = None;
    p.gossip_certificates.clear();
    p.seed_nodes.clear();
    p.provision_error = None;
    Ok(serde_json::to_string(&p)?)
}

fn stored_dc_json(p: &DataCenterProperties) -> Result<String> {
    let mut p = p.clone();
    p.provisioning_state = None;
    p.seed_nodes.clear();
    p.provision_error = None;
    Ok(serde_json::to_string(&p)?)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let applied =
        usize::try_from(applied).map_err(|_| StoreError::Corrupt(format!("user_version {applied}")))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        // Each migration and its version bump commit together, so a crash never leaves one half-applied.
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!("state database migrated to schema version {}", i + 1);
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new operation resource (InProgress, 0%).
pub fn new_operation(name: String, resource_id: String) -> OperationResource {
    OperationResource {
        id: format!("/operations/{}", uuid::Uuid::new_v4()),
        name,
        resource_id,
        status: OperationStatus::InProgress,
        percent_complete: 0,
        steps: Vec::new(),
        start_time: now_seconds(),
        end_time: None,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn props() -> ClusterProperties {
        ClusterProperties {
            cassandra_version: Some("4.0".into()),
            initial_cassandra_admin_password: Some("secret-pass".into()),
            ..Default::default()
        }
    }

    #[test]
    fn migrations_apply_once_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
        let op = new_operation("create cluster c1".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &props(), Some("secret-pass"), &op)
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
        let c = store.cluster("c1").unwrap().unwrap();
        assert_eq!(c.state, ProvisioningState::Creating);
        assert_eq!(store.active_operation("c1").unwrap().unwrap().id, op.id);
        assert_eq!(
            store.operation(&op.id).unwrap().unwrap().name,
            "create cluster c1"
        );
    }

    #[test]
    fn cluster_operations_are_listed_newest_first() {
        let store = Store::open_in_memory().unwrap();
        let create = new_operation("create cluster c1".into(), "/clusters/c1".into());
        store.create_cluster("c1", &props(), None, &create).unwrap();
        let update = new_operation("update cluster c1".into(), "/clusters/c1".into());
        store.update_cluster("c1", &props(), &update).unwrap();
        let other = new_operation("create cluster c2".into(), "/clusters/c2".into());
        store.create_cluster("c2", &props(), None, &other).unwrap();
        let listed: Vec<_> = store
            .cluster_operations("c1", 10)
            .unwrap()
            .into_iter()
            .map(|op| op.id)
            .collect();
        assert_eq!(listed, vec![update.id.clone(), create.id]);
        assert_eq!(store.cluster_operations("c1", 1).unwrap().len(), 1);
        assert!(store.cluster_operations("none", 10).unwrap().is_empty());
    }

    #[test]
    fn a_database_from_a_newer_mica_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = Store::open(&path).unwrap_err();
        assert!(e.to_string().contains("use a newer mica"), "{e}");
    }

    #[test]
    fn passwords_are_never_in_the_properties_json() {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &props(), Some("secret-pass"), &op)
            .unwrap();
        let c = store.cluster("c1").unwrap().unwrap();
        assert_eq!(c.properties.initial_cassandra_admin_password, None);
        assert_eq!(
            store.pending_admin_password("c1").unwrap().as_deref(),
            Some("secret-pass")
        );
    }

    #[test]
    fn node_addresses_are_unique_and_cascade_with_their_cluster() {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create".into(), "/clusters/c1".into());
        store.create_cluster("c1", &props(), None, &op).unwrap();
        let dc = DataCenterProperties {
            node_count: Some(2),
            ..Default::default()
        };
        let op2 = new_operation("dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &op2)
            .unwrap();
        let node = NodeRecord {
            cluster: "c1".into(),
            data_center: "dc1".into(),
            ordinal: 0,
            address: "127.0.9.1".parse().unwrap(),
            rack: "rack1".into(),
        };
        store.insert_node(&node).unwrap();
        let clash = NodeRecord {
            ordinal: 1,
            ..node.clone()
        };
        assert!(store.insert_node(&clash).is_err());
        assert_eq!(store.nodes("c1").unwrap(), vec![node]);
        store.delete_cluster("c1").unwrap();
        assert!(store.all_nodes().unwrap().is_empty());
        assert!(store.data_centers("c1").unwrap().is_empty());
        // Operations outlive their cluster so clients can still read how the deletion ended.
        assert!(store.operation(&op2.id).unwrap().is_some());
    }

    #[test]
    fn operation_progress_round_trips() {
        let store = Store::open_in_memory().unwrap();
        let mut op = new_operation("create".into(), "/clusters/c1".into());
        store.create_cluster("c1", &props(), None, &op).unwrap();
        op.steps.push(OperationStep {
            name: "start node".into(),
            time: 1,
        });
        op.percent_complete = 50;
        op.status = OperationStatus::Failed;
        op.error = Some(OperationError {
            code: "NodeStartTimeout".into(),
            message: "m".into(),
        });
        op.end_time = Some(5);
        store.save_operation(&op).unwrap();
        assert_eq!(store.operation(&op.id).unwrap().unwrap(), op);
        assert!(store.active_operation("c1").unwrap().is_none());
    }
}
