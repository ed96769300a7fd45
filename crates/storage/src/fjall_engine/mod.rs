//! The fjall-backed engine: one fjall keyspace per table, DocDB-style keys (see
//! docs/storage-format.md), merge-on-read reconciliation and a group-commit journal syncer.

pub(crate) mod codec;
mod filter;
mod purge;
mod read;
mod sync;

use crate::durable::Durable;
use crate::engine::{Engine, PartitionStream};
use crate::error::{Result, StorageError};
use crate::types::{
    CellValue, Clustering, CommitLogSync, EngineConfig, Mutation, PartitionKey, PartitionView, ReadSelection,
    ScanLimits, ScanRange, ScanStart, TableId, TableOptions, TokenBound,
};
use codec::{
    ENTRY_CELL, ENTRY_COMPLEX_DELETION, ENTRY_MARKER, ENTRY_ROW_DELETION, KIND_PARTITION_DELETION,
    KIND_RANGE_TOMBSTONE, KIND_ROW, KIND_STATIC, MAX_KEY_LEN,
};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};
use sync::{Poison, Syncer, sync_journal};

/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const INTERNAL_KEYSPACE: &str = "mica_internal";
const META_KEYSPACE: &str = "mica_meta";
const TABLE_KEYSPACE_PREFIX: &str = "t_";
const FORMAT_VERSION_KEY: &[u8] = b"format_version";
const UID_LEASE_KEY: &[u8] = b"uid_lease";
const TABLE_OPTIONS_PREFIX: &[u8] = b"table_options/";
/// Unique version ids are reserved durably in blocks of this size, so a restart never reuses one.
const UID_LEASE_BLOCK: u64 = 1 << 32;
/// Entries removed per write batch by the purge pass.
const PURGE_BATCH_ENTRIES: usize = 10_000;

/// A storage engine backed by fjall.
pub struct FjallEngine {
    inner: Arc<Inner>,
    syncer: Option<Syncer>,
}

struct Inner {
    db: Database,
    meta: Keyspace,
    internal: Keyspace,
    tables: RwLock<HashMap<TableId, TableHandle>>,
    filter_state: Arc<filter::FilterState>,
    policy: CommitLogSync,
    memtable_bytes: u64,
    poison: Arc<Poison>,
    next_uid: AtomicU64,
    uid_lease_end: AtomicU64,
    uid_lease_lock: Mutex<()>,
    ddl_lock: Mutex<()>,
}

#[derive(Clone)]
struct TableHandle {
    ks: Keyspace,
    options: TableOptions,
}

impl std::fmt::Debug for FjallEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallEngine")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

fn table_keyspace_name(table: TableId) -> String {
    format!("{TABLE_KEYSPACE_PREFIX}{}", table.0.simple())
}

fn table_options_key(table: TableId) -> Vec<u8> {
    [TABLE_OPTIONS_PREFIX, table.0.as_bytes()].concat()
}

fn encode_options(o: &TableOptions) -> Vec<u8> {
    let mut v = o.gc_grace_seconds.to_be_bytes().to_vec();
    if let Some(ttl) = o.default_ttl {
        v.extend_from_slice(&ttl.to_be_bytes());
    }
    v
}

fn decode_options(v: &[u8]) -> Result<TableOptions> {
    let word = |i: usize| -> Option<u32> { v.get(i..i + 4)?.try_into().ok().map(u32::from_be_bytes) };
    let gc_grace_seconds = word(0).ok_or_else(|| codec::corrupt("table options"))?;
    Ok(TableOptions {
        gc_grace_seconds,
        default_ttl: word(4),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FjallEngine {
    /// Opens (or creates) the engine in `config.data_dir`, refusing unknown format versions.
    pub fn open(config: EngineConfig) -> Result<FjallEngine> {
        std::fs::create_dir_all(&config.data_dir)?;
        let filter_state = Arc::new(filter::FilterState::default());
        let assigner_state = filter_state.clone();
        let mut builder = Database::builder(&config.data_dir)
            .cache_size(config.cache_bytes)
            .with_compaction_filter_factories(Arc::new(move |name: &str| {
                name.starts_with(TABLE_KEYSPACE_PREFIX)
                    .then(|| filter::factory(assigner_state.clone(), name))
            }));
        if let Some(n) = config.worker_threads {
            builder = builder.worker_threads(n.max(1));
        }
        let db = builder.open()?;
        let path = config.data_dir.display().to_string();

        let fresh = !db.keyspace_exists(INTERNAL_KEYSPACE);
        if fresh
            && db
                .list_keyspace_names()
                .iter()
                .any(|n| n.starts_with(TABLE_KEYSPACE_PREFIX))
        {
            return Err(StorageError::UnsupportedFormat {
                found: 0,
                expected: FORMAT_VERSION,
                path,
            });
        }
        let internal = db.keyspace(INTERNAL_KEYSPACE, KeyspaceCreateOptions::default)?;
        match internal.get(FORMAT_VERSION_KEY)? {
            Some(v) => {
                let found = v.as_ref().try_into().map(u32::from_be_bytes).unwrap_or(u32::MAX);
                if found != FORMAT_VERSION {
                    return Err(StorageError::UnsupportedFormat {
                        found,
                        expected: FORMAT_VERSION,
                        path,
                    });
                }
            }
            None => internal.insert(FORMAT_VERSION_KEY, FORMAT_VERSION.to_be_bytes())?,
        }
        let meta = db.keyspace(META_KEYSPACE, KeyspaceCreateOptions::default)?;

        // Resume version ids after every id that may have been handed out before.
        let lease_start = match internal.get(UID_LEASE_KEY)? {
            Some(v) => codec::i64_at(&v)? as u64,
            None => 0,
        };
        let lease_end = lease_start + UID_LEASE_BLOCK;
        internal.insert(UID_LEASE_KEY, (lease_end as i64).to_be_bytes())?;

        let mut tables = HashMap::new();
        for name in db.list_keyspace_names() {
            let Some(hex) = name.strip_prefix(TABLE_KEYSPACE_PREFIX) else {
                continue;
            };
            let Ok(uuid) = uuid::Uuid::try_parse(hex) else {
                continue;
            };
            let table = TableId(uuid);
            let options = match internal.get(table_options_key(table))? {
                Some(v) => decode_options(&v)?,
                None => TableOptions::default(),
            };
            let ks = db.keyspace(&name, || table_create_options(config.memtable_bytes))?;
            filter_state.set(&name, options);
            tables.insert(table, TableHandle { ks, options });
        }
        let poison = Arc::new(Poison::default());
        sync_journal(&db, &poison, PersistMode::SyncAll)?;
        let syncer = Syncer::start(db.clone(), poison.clone(), config.commitlog_sync)?;
        let inner = Inner {
            db,
            meta,
            internal,
            tables: RwLock::new(tables),
            filter_state,
            policy: config.commitlog_sync,
            memtable_bytes: config.memtable_bytes,
            poison,
            next_uid: AtomicU64::new(lease_start),
            uid_lease_end: AtomicU64::new(lease_end),
            uid_lease_lock: Mutex::new(()),
            ddl_lock: Mutex::new(()),
        };
        Ok(FjallEngine {
            inner: Arc::new(inner),
            syncer: Some(syncer),
        })
    }

    /// Pins the clock background compactions use to turn expired TTL cells into tombstones
    /// (`None`: the wall clock). Reads with a `now_seconds` earlier than this clock may see such
    /// cells as already expired; tests that read "in the past" pin it.
    pub fn set_compaction_clock(&self, now_seconds: Option<i64>) {
        self.inner.filter_state.set_clock(now_seconds);
    }

    fn table(&self, table: TableId) -> Result<TableHandle> {
        self.inner
            .tables
            .read()
            .map_err(|_| lock_error())?
            .get(&table)
            .cloned()
            .ok_or(StorageError::UnknownTable(table))
    }

    /// Reserves `n` unique version ids and returns the first.
    fn alloc_uids(&self, n: u64) -> Result<u64> {
        let inner = &self.inner;
        let start = inner.next_uid.fetch_add(n, AtomicOrdering::Relaxed);
        if start + n <= inner.uid_lease_end.load(AtomicOrdering::Acquire) {
            return Ok(start);
        }
        let _guard = lock(&inner.uid_lease_lock);
        let end = inner.uid_lease_end.load(AtomicOrdering::Acquire);
        if start + n > end {
            let new_end = start + n + UID_LEASE_BLOCK;
            inner
                .internal
                .insert(UID_LEASE_KEY, (new_end as i64).to_be_bytes())?;
            sync_journal(&inner.db, &inner.poison, PersistMode::SyncAll)?;
            inner.uid_lease_end.store(new_end, AtomicOrdering::Release);
        }
        Ok(start)
    }

    /// Syncs the journal (metadata and DDL are always durable before returning).
    fn sync_all(&self) -> Result<()> {
        sync_journal(&self.inner.db, &self.inner.poison, PersistMode::SyncAll)
    }

    fn write_error(&self, e: fjall::Error) -> StorageError {
        match e {
            fjall::Error::Poisoned => self.inner.poison.set("fjall journal write failed".into()),
            other => StorageError::Backend(other.to_string()),
        }
    }
}

fn lock_error() -> StorageError {
    StorageError::Backend("internal lock poisoned by a panic".into())
}

fn table_create_options(memtable_bytes: u64) -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default().max_memtable_size(memtable_bytes)
}

impl Drop for FjallEngine {
    fn drop(&mut self) {
        // Stop the syncer first (it completes its waiters), then make everything durable.
        drop(self.syncer.take());
        if self.inner.poison.check().is_ok()
            && let Err(e) = self.inner.db.persist(PersistMode::SyncAll)
        {
            tracing::error!(error = %e, "final journal sync failed");
        }
    }
}

/// Appends every key/value of `m` to `batch`, drawing version ids from `uid`.
fn encode_mutation(batch: &mut OwnedWriteBatch, ks: &Keyspace, m: &Mutation, uid: &mut u64) -> Result<()> {
    let mut pfx = Vec::with_capacity(m.key.key.len() + 16);
    codec::partition_prefix(&mut pfx, &m.key);
    let mut put = |key: Vec<u8>, value: Vec<u8>| -> Result<()> {
        if key.len() > MAX_KEY_LEN {
            return Err(StorageError::Invalid(format!(
                "encoded key of {} bytes exceeds {MAX_KEY_LEN}",
                key.len()
            )));
        }
        batch.insert(ks, key, value);
        Ok(())
    };
    let ldt = |t: i64| t.to_be_bytes().to_vec();
    if let Some(d) = m.partition_deletion {
        let key = [
            &pfx[..],
            &[KIND_PARTITION_DELETION],
            &codec::inverted_ts(d.timestamp),
        ]
        .concat();
        put(key, ldt(d.local_deletion_time))?;
    }
    for rt in &m.range_tombstones {
        let mut key = pfx.clone();
        key.push(KIND_RANGE_TOMBSTONE);
        codec::encode_bound(&mut key, &rt.start);
        codec::encode_bound(&mut key, &rt.end);
        key.extend_from_slice(&codec::inverted_ts(rt.deletion.timestamp));
        put(key, ldt(rt.deletion.local_deletion_time))?;
    }
    for row in &m.rows {
        let mut rp = pfx.clone();
        match &row.clustering {
            Clustering::Static => rp.push(KIND_STATIC),
            Clustering::Row(c) => {
                rp.push(KIND_ROW);
                codec::escape_into(&mut rp, c);
            }
        }
        let entry = |kind: u8, extra: &[&[u8]]| {
            let mut key = Vec::with_capacity(rp.len() + 32);
            key.extend_from_slice(&rp);
            key.push(kind);
            for part in extra {
                key.extend_from_slice(part);
            }
            key
        };
        let mut next_uid = || {
            let id = *uid;
            *uid += 1;
            id.to_be_bytes()
        };
        if let Some(d) = row.deletion {
            put(
                entry(ENTRY_ROW_DELETION, &[&codec::inverted_ts(d.timestamp)]),
                ldt(d.local_deletion_time),
            )?;
        }
        if let Some(marker) = row.marker {
            let mut value = Vec::with_capacity(13);
            codec::encode_marker(&mut value, marker.ttl);
            put(
                entry(
                    ENTRY_MARKER,
                    &[&codec::inverted_ts(marker.timestamp), &next_uid()],
                ),
                value,
            )?;
        }
        for (column, d) in &row.column_deletions {
            let key = entry(
                ENTRY_COMPLEX_DELETION,
                &[&column.to_be_bytes(), &codec::inverted_ts(d.timestamp)],
            );
            put(key, ldt(d.local_deletion_time))?;
        }
        for cell in &row.cells {
            let mut key = entry(ENTRY_CELL, &[&cell.column.to_be_bytes()]);
            codec::encode_path(&mut key, cell.path.as_deref());
            key.extend_from_slice(&codec::inverted_ts(cell.timestamp));
            key.extend_from_slice(&next_uid());
            let mut value = Vec::with_capacity(16 + live_len(&cell.value));
            codec::encode_cell_value(&mut value, &cell.value);
            put(key, value)?;
        }
    }
    Ok(())
}

fn live_len(v: &CellValue) -> usize {
    match v {
        CellValue::Live { value, .. } => value.len(),
        _ => 0,
    }
}

impl Engine for FjallEngine {
    fn create_table(&self, table: TableId, options: TableOptions) -> Result<()> {
        let _ddl = lock(&self.inner.ddl_lock);
        self.inner.poison.check()?;
        let name = table_keyspace_name(table);
        self.inner
            .internal
            .insert(table_options_key(table), encode_options(&options))?;
        let existing = self
            .inner
            .tables
            .read()
            .map_err(|_| lock_error())?
            .get(&table)
            .map(|h| h.ks.clone());
        let ks = match existing {
            Some(ks) => ks,
            None => self
                .inner
                .db
                .keyspace(&name, || table_create_options(self.inner.memtable_bytes))?,
        };
        self.inner.filter_state.set(&name, options);
        self.inner
            .tables
            .write()
            .map_err(|_| lock_error())?
            .insert(table, TableHandle { ks, options });
        self.sync_all()
    }

    fn drop_table(&self, table: TableId) -> Result<()> {
        let _ddl = lock(&self.inner.ddl_lock);
        self.inner.poison.check()?;
        let removed = self
            .inner
            .tables
            .write()
            .map_err(|_| lock_error())?
            .remove(&table);
        if let Some(handle) = removed {
            self.inner.db.delete_keyspace(handle.ks)?;
            self.inner.filter_state.remove(&table_keyspace_name(table));
        }
        self.inner.internal.remove(table_options_key(table))?;
        self.sync_all()
    }

    fn truncate_table(&self, table: TableId) -> Result<()> {
        let handle = self.table(table)?;
        self.inner.poison.check()?;
        handle.ks.clear().map_err(|e| self.write_error(e))?;
        self.sync_all()
    }

    fn set_table_options(&self, table: TableId, options: TableOptions) -> Result<()> {
        let _ddl = lock(&self.inner.ddl_lock);
        let mut tables = self.inner.tables.write().map_err(|_| lock_error())?;
        let handle = tables.get_mut(&table).ok_or(StorageError::UnknownTable(table))?;
        handle.options = options;
        drop(tables);
        self.inner.filter_state.set(&table_keyspace_name(table), options);
        self.inner
            .internal
            .insert(table_options_key(table), encode_options(&options))?;
        self.sync_all()
    }

    fn table_options(&self, table: TableId) -> Result<Option<TableOptions>> {
        Ok(self
            .inner
            .tables
            .read()
            .map_err(|_| lock_error())?
            .get(&table)
            .map(|h| h.options))
    }

    fn list_tables(&self) -> Result<Vec<TableId>> {
        let mut tables: Vec<TableId> = self
            .inner
            .tables
            .read()
            .map_err(|_| lock_error())?
            .keys()
            .copied()
            .collect();
        tables.sort();
        Ok(tables)
    }

    fn apply(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        self.inner.poison.check()?;
        if mutations.is_empty() {
            return Ok(Durable::ready(Ok(())));
        }
        let versions: usize = mutations
            .iter()
            .flat_map(|m| &m.rows)
            .map(|r| r.cells.len() + usize::from(r.marker.is_some()))
            .sum();
        let mut uid = self.alloc_uids(versions as u64)?;
        let mut batch = self.inner.db.batch();
        {
            let tables = self.inner.tables.read().map_err(|_| lock_error())?;
            for m in &mutations {
                let handle = tables.get(&m.table).ok_or(StorageError::UnknownTable(m.table))?;
                encode_mutation(&mut batch, &handle.ks, m, &mut uid)?;
            }
        }
        batch.commit().map_err(|e| self.write_error(e))?;
        match (&self.inner.policy, &self.syncer) {
            (CommitLogSync::Periodic { .. }, _) | (_, None) => Ok(Durable::ready(Ok(()))),
            (_, Some(syncer)) => {
                let (durable, completer) = Durable::pending();
                syncer.enqueue(completer);
                Ok(durable)
            }
        }
    }

    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<PartitionView>> {
        let handle = self.table(table)?;
        let snap = self.inner.db.snapshot();
        let mut pfx = Vec::with_capacity(key.key.len() + 16);
        codec::partition_prefix(&mut pfx, key);
        let read = read::PartitionRead {
            snap: &snap,
            ks: &handle.ks,
            selection,
            now: now_seconds,
            row_limit: selection.limit_rows,
            resume_after: None,
        };
        read.run(key.clone(), &pfx, &mut read::RowBuffer::default())
    }

    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<PartitionStream> {
        let handle = self.table(table)?;
        let token_key = |t: mica_types::Token, after: bool| {
            let mut k = t.to_ordered_bytes().to_vec();
            (!after || codec::prefix_successor(&mut k)).then_some(k)
        };
        let pkey = |k: &PartitionKey| {
            let mut v = Vec::new();
            codec::partition_prefix(&mut v, k);
            v
        };
        let mut resume = None;
        let start = match &range.start {
            ScanStart::Unbounded | ScanStart::Token(TokenBound::Unbounded) => Some(Vec::new()),
            ScanStart::Token(TokenBound::Inclusive(t)) => token_key(*t, false),
            ScanStart::Token(TokenBound::Exclusive(t)) => token_key(*t, true),
            ScanStart::Key { key, inclusive } => {
                let mut k = pkey(key);
                (*inclusive || codec::prefix_successor(&mut k)).then_some(k)
            }
            ScanStart::AfterRow { key, clustering } => {
                let k = pkey(key);
                if let Clustering::Row(c) = clustering {
                    resume = Some((k.clone(), c.clone()));
                }
                Some(k)
            }
        };
        let hi = match range.end {
            TokenBound::Unbounded => None,
            TokenBound::Inclusive(t) => token_key(t, true),
            TokenBound::Exclusive(t) => Some(t.to_ordered_bytes().to_vec()),
        };
        Ok(Box::new(read::Scan {
            snap: self.inner.db.snapshot(),
            ks: handle.ks,
            next: start,
            hi,
            selection: selection.clone(),
            now: now_seconds,
            resume,
            limits,
            buf: read::RowBuffer::default(),
        }))
    }

    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.poison.check()?;
        self.inner
            .meta
            .insert(key, value)
            .map_err(|e| self.write_error(e))?;
        self.sync_all()
    }

    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.meta.get(key)?.map(|v| v.to_vec()))
    }

    fn delete_meta(&self, key: &[u8]) -> Result<()> {
        self.inner.poison.check()?;
        self.inner.meta.remove(key).map_err(|e| self.write_error(e))?;
        self.sync_all()
    }

    fn scan_meta(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner
            .meta
            .prefix(prefix)
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StorageError::from)
            })
            .collect()
    }

    fn flush(&self) -> Result<()> {
        self.sync_all()?;
        let tables: Vec<Keyspace> = self
            .inner
            .tables
            .read()
            .map_err(|_| lock_error())?
            .values()
            .map(|h| h.ks.clone())
            .collect();
        for ks in tables.iter().chain([&self.inner.meta, &self.inner.internal]) {
            ks.rotate_memtable_and_wait()?;
        }
        Ok(())
    }

    fn major_compact(&self, table: TableId, now_seconds: i64) -> Result<()> {
        let handle = self.table(table)?;
        self.inner.poison.check()?;
        purge::run(
            &self.inner.db,
            &handle.ks,
            handle.options,
            now_seconds,
            PURGE_BATCH_ENTRIES,
            &mut |n| self.alloc_uids(n),
        )?;
        self.sync_all()?;
        handle.ks.major_compact()?;
        Ok(())
    }

    fn table_size_bytes(&self, table: TableId) -> Result<u64> {
        Ok(self.table(table)?.ks.disk_space())
    }

    fn disk_usage_bytes(&self) -> Result<u64> {
        Ok(self.inner.db.disk_space()?)
    }
}
