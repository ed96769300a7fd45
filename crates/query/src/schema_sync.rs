//! Schema agreement across the cluster: every keyspace document carries a modification timestamp
//! (a dropped keyspace keeps its timestamp as a tombstone), nodes exchange all documents and merge
//! them keyspace by keyspace, the newer definition winning as in Cassandra's timestamp-based schema
//! merge, and the schema version is derived from the content so identical schemas agree everywhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use mica_cql_protocol::{SchemaChange, SchemaChangeTarget, SchemaChangeType};
use mica_schema::{KeyspaceDef, PersistedSchema, Schema};
use mica_storage::{Engine, TableId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::engine::QueryEngine;
use crate::error::{QueryError, Result};

/// Metadata key prefix of the persisted keyspace documents (written by `change_schema`).
const KEYSPACE_PREFIX: &str = "schema/keyspace/";
/// Metadata key prefix of each keyspace's last modification time (µs since the epoch, 8 bytes
/// big-endian); without a document under [`KEYSPACE_PREFIX`] it is the keyspace's tombstone.
const MODIFIED_PREFIX: &str = "schema/modified/";
/// Version of the exchanged payload layout.
const PAYLOAD_FORMAT: u32 = 1;

/// The schema a node serves to its peers: every keyspace it has a document or a tombstone for.
#[derive(Debug, Serialize, Deserialize)]
struct SchemaPayload {
    format: u32,
    keyspaces: Vec<KeyspaceEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyspaceEntry {
    name: String,
    modified_micros: i64,
    /// The persisted keyspace document (JSON text); `None` for a dropped keyspace.
    document: Option<String>,
}

impl KeyspaceEntry {
    /// The merge order: the newer timestamp wins; at equal timestamps a drop wins (as a tombstone
    /// does in Cassandra), then the greater document, so every node picks the same winner.
    fn rank(&self) -> (i64, bool, Option<&str>) {
        (
            self.modified_micros,
            self.document.is_none(),
            self.document.as_deref(),
        )
    }
}

/// Whether a keyspace takes part in the exchange: node-local keyspaces never do.
fn is_synced(name: &str) -> bool {
    !mica_schema::is_system_keyspace(name)
}

/// The schema version of a snapshot: a UUID from a SHA-256 of the canonical documents of every
/// shared keyspace (Cassandra derives its version from an MD5 of the schema the same way), so nodes
/// holding the same schema report the same version.
pub(crate) fn content_version(schema: &Schema) -> Uuid {
    let mut hash = Sha256::new();
    for (name, ks) in &schema.keyspaces {
        if !is_synced(name) || ks.is_virtual {
            continue;
        }
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(PersistedSchema::from_keyspace(ks, |t| t.cql_name()).to_json());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Records that `keyspace` changed now: its modification time becomes the current time, or one
/// microsecond past the previous one when the clock has not moved beyond it.
pub(crate) fn record_modification(storage: &dyn Engine, keyspace: &str) -> Result<()> {
    let key = format!("{MODIFIED_PREFIX}{keyspace}");
    let previous = storage.get_meta(key.as_bytes())?.and_then(|b| decode_micros(&b));
    let now = mica_types::Timestamp::now().0;
    let micros = previous.map_or(now, |p| now.max(p.saturating_add(1)));
    storage.put_meta(key.as_bytes(), &micros.to_be_bytes())?;
    Ok(())
}

fn decode_micros(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

/// Every keyspace this node has a document or a tombstone for, by name.
fn local_entries(storage: &dyn Engine) -> Result<BTreeMap<String, KeyspaceEntry>> {
    let mut entries = BTreeMap::new();
    for (key, value) in storage.scan_meta(MODIFIED_PREFIX.as_bytes())? {
        let Some(name) = key
            .strip_prefix(MODIFIED_PREFIX.as_bytes())
            .and_then(|n| std::str::from_utf8(n).ok())
        else {
            continue;
        };
        let modified_micros = decode_micros(&value).unwrap_or(0);
        entries.insert(
            name.to_owned(),
            KeyspaceEntry {
                name: name.to_owned(),
                modified_micros,
                document: None,
            },
        );
    }
    for (key, value) in storage.scan_meta(KEYSPACE_PREFIX.as_bytes())? {
        let Some(name) = key
            .strip_prefix(KEYSPACE_PREFIX.as_bytes())
            .and_then(|n| std::str::from_utf8(n).ok())
        else {
            continue;
        };
        // Documents written before modification times existed count as the oldest possible.
        let entry = entries.entry(name.to_owned()).or_insert_with(|| KeyspaceEntry {
            name: name.to_owned(),
            modified_micros: 0,
            document: None,
        });
        entry.document = Some(String::from_utf8_lossy(&value).into_owned());
    }
    entries.retain(|name, _| is_synced(name));
    Ok(entries)
}

fn parse_keyspace(document: &str) -> Result<KeyspaceDef> {
    let persisted = PersistedSchema::from_json(document.as_bytes())?;
    Ok(persisted.into_keyspace(|text, types| {
        mica_cql_types::parse_type_string(text, &|name| types.get(name).cloned()).map_err(|e| e.to_string())
    })?)
}

/// The storage tables of a keyspace's tables and their indexes.
fn storage_tables(ks: &KeyspaceDef) -> Vec<TableId> {
    ks.tables
        .values()
        .filter(|t| !t.is_virtual)
        .flat_map(|t| std::iter::once(TableId(t.id)).chain(crate::index::storage_ids(t)))
        .collect()
}

fn change(change_type: SchemaChangeType, target: SchemaChangeTarget) -> SchemaChange {
    SchemaChange { change_type, target }
}

/// The events drivers expect when `old` becomes `new`.
fn changes(name: &str, old: Option<&KeyspaceDef>, new: Option<&KeyspaceDef>) -> Vec<SchemaChange> {
    use SchemaChangeType::{Created, Dropped, Updated};
    let keyspace = || SchemaChangeTarget::Keyspace(name.to_owned());
    let table = |t: &str| SchemaChangeTarget::Table {
        keyspace: name.to_owned(),
        name: t.to_owned(),
    };
    let typ = |t: &str| SchemaChangeTarget::Type {
        keyspace: name.to_owned(),
        name: t.to_owned(),
    };
    match (old, new) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec![change(Dropped, keyspace())],
        (None, Some(new)) => std::iter::once(change(Created, keyspace()))
            .chain(new.types.keys().map(|t| change(Created, typ(t))))
            .chain(new.tables.keys().map(|t| change(Created, table(t))))
            .collect(),
        (Some(old), Some(new)) => {
            let mut out = Vec::new();
            if old.replication != new.replication || old.durable_writes != new.durable_writes {
                out.push(change(Updated, keyspace()));
            }
            for (n, t) in &new.types {
                match old.types.get(n) {
                    None => out.push(change(Created, typ(n))),
                    Some(o) if o != t => out.push(change(Updated, typ(n))),
                    Some(_) => {}
                }
            }
            for (n, t) in &new.tables {
                match old.tables.get(n) {
                    None => out.push(change(Created, table(n))),
                    // Debug output covers every field; TableDef has no PartialEq.
                    Some(o) if format!("{o:?}") != format!("{t:?}") => out.push(change(Updated, table(n))),
                    Some(_) => {}
                }
            }
            out.extend(
                old.tables
                    .keys()
                    .filter(|n| !new.tables.contains_key(*n))
                    .map(|n| change(Dropped, table(n))),
            );
            out.extend(
                old.types
                    .keys()
                    .filter(|n| !new.types.contains_key(*n))
                    .map(|n| change(Dropped, typ(n))),
            );
            out
        }
    }
}

impl QueryEngine {
    /// The schema this node serves to peers (every shared keyspace document and tombstone with its
    /// modification time), for [`QueryEngine::apply_remote_schema`] on another node.
    pub fn schema_payload(&self) -> Result<Vec<u8>> {
        let _guard = self
            .ddl_lock
            .lock()
            .map_err(|_| QueryError::Server("schema lock poisoned".into()))?;
        let payload = SchemaPayload {
            format: PAYLOAD_FORMAT,
            keyspaces: local_entries(&*self.storage)?.into_values().collect(),
        };
        serde_json::to_vec(&payload).map_err(|e| QueryError::Server(format!("schema payload: {e}")))
    }

    /// Merges a peer's schema payload into this node's schema: for each keyspace the newer
    /// definition (or drop) wins. Winning keyspaces get their storage tables created (or dropped),
    /// are persisted with the peer's timestamp and published under a content-derived version;
    /// schema change listeners (client events, gossip) hear about every change. Returns the changes.
    pub fn apply_remote_schema(&self, payload: &[u8]) -> Result<Vec<SchemaChange>> {
        let remote: SchemaPayload = serde_json::from_slice(payload)
            .map_err(|e| QueryError::Server(format!("unreadable schema from a peer: {e}")))?;
        if remote.format != PAYLOAD_FORMAT {
            return Err(QueryError::Server(format!(
                "schema payload format {} from a peer is not supported (expected {PAYLOAD_FORMAT})",
                remote.format
            )));
        }
        let mut events = Vec::new();
        {
            let _guard = self
                .ddl_lock
                .lock()
                .map_err(|_| QueryError::Server("schema lock poisoned".into()))?;
            let local = local_entries(&*self.storage)?;
            let mut schema = (*self.schema()).clone();
            let mut changed = false;
            for entry in remote.keyspaces.into_iter().filter(|e| is_synced(&e.name)) {
                if local.get(&entry.name).is_some_and(|l| l.rank() >= entry.rank()) {
                    continue;
                }
                let new = entry.document.as_deref().map(parse_keyspace).transpose()?;
                let old = schema.keyspaces.get(&entry.name).cloned();
                if let Some(new) = &new {
                    for t in new.tables.values().filter(|t| !t.is_virtual) {
                        self.storage
                            .create_table(TableId(t.id), crate::ddl::storage_options(t))?;
                        crate::index::open_index_tables(&*self.storage, t)?;
                    }
                }
                let keep: Vec<TableId> = new.as_ref().map(storage_tables).unwrap_or_default();
                for id in old.as_deref().map(storage_tables).unwrap_or_default() {
                    if !keep.contains(&id) {
                        self.storage.drop_table(id)?;
                    }
                }
                let doc_key = format!("{KEYSPACE_PREFIX}{}", entry.name);
                match &entry.document {
                    Some(doc) => self.storage.put_meta(doc_key.as_bytes(), doc.as_bytes())?,
                    None => self.storage.delete_meta(doc_key.as_bytes())?,
                }
                let modified_key = format!("{MODIFIED_PREFIX}{}", entry.name);
                self.storage
                    .put_meta(modified_key.as_bytes(), &entry.modified_micros.to_be_bytes())?;
                events.extend(changes(&entry.name, old.as_deref(), new.as_ref()));
                match new {
                    Some(new) => schema.keyspaces.insert(entry.name.clone(), Arc::new(new)),
                    None => schema.keyspaces.remove(&entry.name),
                };
                changed = true;
            }
            if !changed {
                return Ok(events);
            }
            schema.version = content_version(&schema);
            self.storage
                .put_meta(b"schema/version", schema.version.as_bytes())?;
            let mut slot = self
                .schema
                .write()
                .map_err(|_| QueryError::Server("schema lock poisoned".into()))?;
            *slot = Arc::new(schema);
        }
        tracing::info!("schema merged from a peer: {} change(s)", events.len());
        if let Ok(listeners) = self.listeners.lock() {
            for event in &events {
                for l in listeners.iter() {
                    l(event);
                }
            }
        }
        Ok(events)
    }
}
