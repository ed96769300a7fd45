//! The fjall-backed engine: one fjall keyspace per table, DocDB-style keys (see
//! docs/storage-format.md), merge-on-read reconciliation and a group-commit journal syncer.

pub(crate) mod codec;
mod filter;
mod purge;
mod raw_read;
mod read;
mod sync;

use crate::durable::Durable;
use crate::engine::{Engine, PartitionStream, RawPartitionStream};
use crate::error::{Result, StorageError};
use crate::types::{
    CellValue, Clustering, CommitLogSync, EngineConfig, Mutation, PartitionKey, PartitionView, ReadSelection,
    ScanLimits, ScanRange, ScanStart, TableId, TableOptions, TokenBound,
};
use codec::{
    ENTRY_CELL, ENTRY_COMPLEX_DELETION, ENTRY_MARKER, ENTRY_ROW_DELETION, KIND_PARTITION_DELETION,
    KIND_RANGE_TOMBSTONE, KIND_ROW, KIND_STATIC, MAX_KEY_LEN,
};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode, Readable as _};
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
        let syncer = Syncer::for_database(db.clone(), poison.clone(), config.commitlog_sync)?;
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

    /// Journal fsyncs performed by the commit-log syncer so far (group commit makes this smaller
    /// than the number of synced writes).
    pub fn journal_syncs(&self) -> u64 {
        self.syncer.as_ref().map_or(0, Syncer::syncs)
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
        write_error(&self.inner.poison, e)
    }

    /// Appends `batch` to the journal on this thread; the result resolves once the policy calls it durable.
    fn commit_here(&self, batch: OwnedWriteBatch) -> Result<Durable> {
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

    /// Checks the poison flag and encodes `mutations` into one write batch (`None` when there is nothing
    /// to write); unknown tables fail here, before anything is written.
    fn encode(&self, mutations: &[Mutation]) -> Result<Option<OwnedWriteBatch>> {
        self.inner.poison.check()?;
        if mutations.is_empty() {
            return Ok(None);
        }
        let versions: usize = mutations
            .iter()
            .flat_map(|m| &m.rows)
            .map(|r| r.cells.len() + usize::from(r.marker.is_some()))
            .sum();
        let mut uid = self.alloc_uids(versions as u64)?;
        let mut batch = self.inner.db.batch();
        let tables = self.inner.tables.read().map_err(|_| lock_error())?;
        for m in mutations {
            let handle = tables.get(&m.table).ok_or(StorageError::UnknownTable(m.table))?;
            encode_mutation(&mut batch, &handle.ks, m, &mut uid)?;
        }
        Ok(Some(batch))
    }
}

/// A failed journal write poisons the engine when fjall says the journal is unusable.
fn write_error(poison: &Poison, e: fjall::Error) -> StorageError {
    match e {
        fjall::Error::Poisoned => poison.set("fjall journal write failed".into()),
        other => StorageError::Backend(other.to_string()),
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

    fn remove_partitions(&self, table: TableId, keys: &[PartitionKey]) -> Result<()> {
        let handle = self.table(table)?;
        self.inner.poison.check()?;
        // Every entry of a partition starts with its self-delimiting prefix, so a prefix walk finds
        // exactly that partition's entries; they go in batches so a huge partition never needs one
        // huge batch (a crash midway leaves a part of a partition this node no longer replicates).
        let mut batch = self.inner.db.batch();
        let mut pending = 0usize;
        for key in keys {
            let mut pfx = Vec::with_capacity(key.key.len() + 16);
            codec::partition_prefix(&mut pfx, key);
            for entry in handle.ks.prefix(&pfx) {
                let (k, _) = entry.into_inner()?;
                batch.remove(&handle.ks, k);
                pending += 1;
                if pending >= PURGE_BATCH_ENTRIES {
                    let full = std::mem::replace(&mut batch, self.inner.db.batch());
                    full.commit().map_err(|e| self.write_error(e))?;
                    pending = 0;
                }
            }
        }
        if pending > 0 {
            batch.commit().map_err(|e| self.write_error(e))?;
        }
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
        let Some(batch) = self.encode(&mutations)? else {
            return Ok(Durable::ready(Ok(())));
        };
        match (&self.inner.policy, &self.syncer) {
            (CommitLogSync::Batch | CommitLogSync::Group { .. }, Some(syncer)) => {
                // The syncer thread appends the batch to the journal right before its next fsync: fjall holds
                // the journal lock during an fsync, and a request thread appending here would stall every
                // other request of its core until the fsync ends.
                let (durable, completer) = Durable::pending();
                let poison = self.inner.poison.clone();
                syncer.enqueue_commit(
                    Box::new(move || batch.commit().map_err(|e| write_error(&poison, e))),
                    completer,
                );
                Ok(durable)
            }
            _ => self.commit_here(batch),
        }
    }

    fn apply_visible(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        match self.encode(&mutations)? {
            Some(batch) => self.commit_here(batch),
            None => Ok(Durable::ready(Ok(()))),
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
        let (start, hi, resume) = scan_positions(range);
        Ok(Box::new(read::Scan {
            snap: self.inner.db.snapshot(),
            ks: handle.ks,
            next: start,
            hi,
            iter: None,
            selection: selection.clone(),
            now: now_seconds,
            resume,
            limits,
            buf: read::RowBuffer::default(),
        }))
    }

    fn read_partition_raw(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<Mutation>> {
        let handle = self.table(table)?;
        let snap = self.inner.db.snapshot();
        let mut pfx = Vec::with_capacity(key.key.len() + 16);
        codec::partition_prefix(&mut pfx, key);
        let mut hi = pfx.clone();
        let iter = if codec::prefix_successor(&mut hi) {
            snap.range(&handle.ks, pfx.clone()..hi)
        } else {
            snap.range(&handle.ks, pfx.clone()..)
        };
        let entries = iter.map(|g| g.into_inner().map_err(Into::into));
        let p = raw_read::load_partition(entries, &pfx)?;
        Ok(
            crate::raw::produce_raw(key, table, &p, selection, now_seconds, selection.limit_rows, None)
                .map(|(m, _)| m),
        )
    }

    fn scan_raw(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<RawPartitionStream> {
        let handle = self.table(table)?;
        let (start, hi, resume) = scan_positions(range);
        let snap = self.inner.db.snapshot();
        let done = match (&start, &hi) {
            (None, _) => true,
            (Some(lo), Some(hi)) => hi <= lo,
            _ => false,
        };
        let lo = start.unwrap_or_default();
        let iter = match hi {
            Some(hi) if !done => snap.range(&handle.ks, lo..hi),
            _ => snap.range(&handle.ks, lo..),
        };
        Ok(Box::new(raw_read::RawScan {
            table,
            iter: read::entries(iter),
            selection: selection.clone(),
            now: now_seconds,
            resume,
            limits,
            done,
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

/// The first key, the exclusive upper key bound and the paging resume point of a scan over `range`
/// (`None` start: the range is empty).
type ScanPositions = (Option<Vec<u8>>, Option<Vec<u8>>, Option<(Vec<u8>, Vec<u8>)>);

fn scan_positions(range: &ScanRange) -> ScanPositions {
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
    (start, hi, resume)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Cell, Deletion, Marker, RowMutation, Ttl, Value};

    const NOW: i64 = 1_000_000;

    fn open(dir: &std::path::Path) -> FjallEngine {
        FjallEngine::open(EngineConfig::new(dir)).expect("open")
    }

    fn raw(engine: &FjallEngine, table: TableId) -> Vec<(Vec<u8>, Vec<u8>)> {
        let ks = engine.table(table).expect("table").ks;
        ks.iter()
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .expect("entry")
            })
            .collect()
    }

    fn cell(column: u32, timestamp: i64, value: &[u8], ttl: Option<Ttl>) -> Cell {
        Cell {
            column,
            path: None,
            timestamp,
            value: CellValue::Live {
                value: value.to_vec(),
                ttl,
            },
        }
    }

    fn row(c: &[u8], cells: Vec<Cell>) -> RowMutation {
        RowMutation {
            cells,
            ..RowMutation::new(Clustering::Row(c.to_vec()))
        }
    }

    #[test]
    fn poisoned_engine_refuses_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = open(dir.path());
        let t = TableId(uuid::Uuid::from_u128(1));
        engine.create_table(t, TableOptions::default()).expect("create");
        engine.inner.poison.set("simulated fsync failure".into());
        let err = engine
            .apply(vec![Mutation::new(t, PartitionKey::new(b"k".to_vec()))])
            .expect_err("poisoned");
        assert!(matches!(err, StorageError::Poisoned(m) if m.contains("simulated")));
        assert!(engine.put_meta(b"a", b"b").is_err());
        // Reads keep working.
        assert!(
            engine
                .read_partition(t, &PartitionKey::new(b"k".to_vec()), &ReadSelection::all(), NOW)
                .is_ok()
        );
    }

    #[test]
    fn refuses_unknown_format_version() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let engine = open(dir.path());
            engine
                .inner
                .internal
                .insert(FORMAT_VERSION_KEY, 99u32.to_be_bytes())
                .expect("insert");
        }
        let err = FjallEngine::open(EngineConfig::new(dir.path())).expect_err("must refuse");
        assert!(matches!(
            err,
            StorageError::UnsupportedFormat {
                found: 99,
                expected: FORMAT_VERSION,
                ..
            }
        ));
        assert!(err.to_string().contains("unsupported storage format version 99"));
    }

    #[test]
    fn compaction_filter_drops_shadowed_versions_and_expires_ttl() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = open(dir.path());
        let t = TableId(uuid::Uuid::from_u128(2));
        engine.create_table(t, TableOptions::default()).expect("create");
        let key = PartitionKey::new(b"p".to_vec());
        let mut m = Mutation::new(t, key.clone());
        let mut r1 = row(b"r1", vec![cell(1, 1, b"old", None), cell(1, 2, b"new", None)]);
        r1.marker = Some(Marker {
            timestamp: 1,
            ttl: None,
        });
        m.rows.push(r1);
        m.rows.push(row(b"r2", vec![cell(1, 1, b"shadowed", None)]));
        engine.apply_sync(vec![m]).expect("apply");
        engine.flush().expect("flush");
        let mut m = Mutation::new(t, key.clone());
        let mut r2 = RowMutation::new(Clustering::Row(b"r2".to_vec()));
        r2.deletion = Some(Deletion {
            timestamp: 3,
            local_deletion_time: NOW,
        });
        m.rows.push(r2);
        let expired = Ttl {
            ttl_seconds: 10,
            expires_at: NOW - 5,
        };
        m.rows.push(row(b"r1", vec![cell(2, 1, b"gone", Some(expired))]));
        engine.apply_sync(vec![m]).expect("apply");
        engine.flush().expect("flush");
        let before = engine
            .read_partition(t, &key, &ReadSelection::all(), NOW)
            .expect("read");
        assert_eq!(raw(&engine, t).len(), 6);

        engine.set_compaction_clock(Some(NOW));
        engine
            .table(t)
            .expect("table")
            .ks
            .major_compact()
            .expect("compact");
        let entries = raw(&engine, t);
        let values: Vec<&[u8]> = entries.iter().map(|(_, v)| v.as_slice()).collect();
        assert_eq!(
            entries.len(),
            4,
            "superseded and shadowed cells are dropped: {values:?}"
        );
        assert!(
            !values
                .iter()
                .any(|v| v.ends_with(b"old") || v.ends_with(b"shadowed"))
        );
        assert!(
            !values.iter().any(|v| v.ends_with(b"gone")),
            "expired cell lost its value"
        );
        assert_eq!(
            engine
                .read_partition(t, &key, &ReadSelection::all(), NOW)
                .expect("read"),
            before
        );
        let view = before.expect("live");
        assert_eq!(view.rows.len(), 1);
        assert_eq!(view.rows[0].cells[0].value, Value::Bytes(b"new".to_vec()));
    }

    #[test]
    fn purge_removes_deleted_partitions_and_consolidates_counters() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = open(dir.path());
        let t = TableId(uuid::Uuid::from_u128(3));
        engine
            .create_table(
                t,
                TableOptions {
                    gc_grace_seconds: 10,
                    default_ttl: None,
                },
            )
            .expect("create");
        let dead = PartitionKey::new(b"dead".to_vec());
        let counter = PartitionKey::new(b"counter".to_vec());
        let mut m = Mutation::new(t, dead.clone());
        m.rows.push(row(b"r", vec![cell(1, 1, b"v", None)]));
        engine.apply_sync(vec![m]).expect("apply");
        let mut m = Mutation::new(t, dead.clone());
        m.partition_deletion = Some(Deletion {
            timestamp: 2,
            local_deletion_time: NOW,
        });
        engine.apply_sync(vec![m]).expect("apply");
        for (ts, delta) in [(1, 5), (2, 7), (3, -2)] {
            let mut m = Mutation::new(t, counter.clone());
            let c = Cell {
                column: 4,
                path: None,
                timestamp: ts,
                value: CellValue::CounterDelta(delta),
            };
            m.rows.push(row(b"c", vec![c]));
            engine.apply_sync(vec![m]).expect("apply");
        }
        // Within gc_grace the deletion stays (and the data it shadows goes).
        engine.major_compact(t, NOW + 5).expect("compact");
        assert_eq!(
            raw(&engine, t).len(),
            2,
            "partition deletion plus one consolidated delta"
        );
        // Past gc_grace the deletion goes too.
        engine.major_compact(t, NOW + 11).expect("compact");
        assert_eq!(raw(&engine, t).len(), 1);
        let view = engine
            .read_partition(t, &counter, &ReadSelection::all(), NOW)
            .expect("read")
            .expect("live");
        assert_eq!(
            (
                view.rows[0].cells[0].value.clone(),
                view.rows[0].cells[0].timestamp
            ),
            (Value::Counter(10), 3)
        );
        assert_eq!(
            engine
                .read_partition(t, &dead, &ReadSelection::all(), NOW)
                .expect("read"),
            None
        );
    }

    /// In batch mode `apply` hands the journal append to the syncer thread: the write is visible once its
    /// `Durable` resolves; `apply_visible` makes it visible before returning.
    #[test]
    fn batch_mode_visibility_of_apply_and_apply_visible() {
        let dir = tempfile::tempdir().expect("dir");
        let config = EngineConfig {
            commitlog_sync: CommitLogSync::Batch,
            ..EngineConfig::new(dir.path())
        };
        let engine = FjallEngine::open(config).expect("open");
        let t = TableId(uuid::Uuid::from_u128(5));
        engine.create_table(t, TableOptions::default()).expect("create");
        let read = |key: &[u8]| {
            engine
                .read_partition(t, &PartitionKey::new(key.to_vec()), &ReadSelection::all(), NOW)
                .expect("read")
        };
        let write = |key: &[u8]| {
            let mut m = Mutation::new(t, PartitionKey::new(key.to_vec()));
            m.rows.push(row(b"", vec![cell(1, 1, b"v", None)]));
            vec![m]
        };

        let durable = engine.apply(write(b"a")).expect("apply");
        durable.wait().expect("durable");
        assert!(read(b"a").is_some(), "an applied write is visible once durable");

        let durable = engine.apply_visible(write(b"b")).expect("apply_visible");
        assert!(
            read(b"b").is_some(),
            "apply_visible writes are visible before the fsync"
        );
        durable.wait().expect("durable");

        // Unknown tables still fail at once, before anything reaches the syncer.
        let mut bad = Mutation::new(
            TableId(uuid::Uuid::from_u128(99)),
            PartitionKey::new(b"x".to_vec()),
        );
        bad.rows.push(row(b"", vec![cell(1, 1, b"v", None)]));
        assert!(matches!(
            engine.apply(vec![bad]),
            Err(StorageError::UnknownTable(_))
        ));
    }

    #[test]
    fn batch_mode_groups_concurrent_writers() {
        let dir = tempfile::tempdir().expect("dir");
        let config = EngineConfig {
            commitlog_sync: CommitLogSync::Group {
                window: std::time::Duration::from_millis(5),
            },
            ..EngineConfig::new(dir.path())
        };
        let engine = Arc::new(FjallEngine::open(config).expect("open"));
        let t = TableId(uuid::Uuid::from_u128(4));
        engine.create_table(t, TableOptions::default()).expect("create");
        let base = engine.journal_syncs();
        let writers: Vec<_> = (0..4u8)
            .map(|w| {
                let engine = engine.clone();
                std::thread::spawn(move || {
                    for i in 0..25u8 {
                        let mut m = Mutation::new(t, PartitionKey::new(vec![w, i]));
                        m.rows.push(row(b"", vec![cell(1, 1, b"v", None)]));
                        engine.apply_sync(vec![m]).expect("apply");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("join");
        }
        let syncs = engine.journal_syncs() - base;
        assert!(
            syncs > 0 && syncs < 100,
            "100 synced writes shared {syncs} fsyncs"
        );
        let n = engine
            .scan(
                t,
                &ScanRange::all(),
                &ReadSelection::all(),
                ScanLimits::default(),
                NOW,
            )
            .expect("scan")
            .count();
        assert_eq!(n, 100);
    }
}
