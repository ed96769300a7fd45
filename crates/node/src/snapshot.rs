//! Table snapshots (`nodetool snapshot`, `listsnapshots`, `clearsnapshot`): a logical point-in-time copy of each
//! table's live content, written under `<data dir>/snapshots/<tag>/<keyspace>/<table>-<id>/`.
//!
//! fjall 3 offers read snapshots but no on-disk checkpoint, and its files are shared by every table, so a
//! snapshot cannot hard-link a table's files as Cassandra does. Instead each table is copied through
//! [`Engine::scan`], which reads one consistent storage snapshot per table (as in Cassandra, tables are
//! snapshotted one after the other, each at its own instant). The format is documented in
//! docs/storage-format.md ("Snapshots"): `data.jsonl` holds one JSON object per partition, `manifest.json`
//! (written last, so a directory without it is an interrupted snapshot and is ignored) lists the files.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use mica_node_admin_api as api;
use mica_storage::{
    CellView, Clustering, Engine, LiveMarker, RowView, ScanLimits, ScanRange, TableId, Value,
};
use serde::{Deserialize, Serialize};

/// The directory under the data directory that holds every snapshot.
pub(crate) const SNAPSHOTS_DIR: &str = "snapshots";
/// The per-table data file.
const DATA_FILE: &str = "data.jsonl";
const MANIFEST_FILE: &str = "manifest.json";
/// The `format` value of manifests this code writes.
const FORMAT: &str = "mica-snapshot-jsonl-1";

/// Why a snapshot operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    /// The request was wrong (a 400 in the admin API).
    #[error("{0}")]
    Invalid(String),
    #[error("snapshot I/O on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Storage(#[from] mica_storage::StorageError),
    #[error("cannot encode snapshot metadata: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `manifest.json` of one table's snapshot; `files`, `created_at` and `expires_at` as Cassandra's manifest.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    files: Vec<String>,
    created_at: String,
    expires_at: Option<String>,
    format: String,
    keyspace: String,
    table: String,
    table_id: String,
    partitions: u64,
    rows: u64,
}

/// One partition of `data.jsonl`; byte strings are lowercase hex.
#[derive(Serialize)]
struct PartitionLine {
    key: String,
    token: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    static_row: Option<RowLine>,
    rows: Vec<RowLine>,
}

#[derive(Serialize)]
struct RowLine {
    /// Encoded clustering bytes (absent for the static row).
    #[serde(skip_serializing_if = "Option::is_none")]
    clustering: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<MarkerLine>,
    cells: Vec<CellLine>,
}

#[derive(Serialize)]
struct MarkerLine {
    timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

#[derive(Serialize)]
struct CellLine {
    column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// Regular cell bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// A counter's total.
    #[serde(skip_serializing_if = "Option::is_none")]
    counter: Option<i64>,
    timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn marker_line(m: &LiveMarker) -> MarkerLine {
    MarkerLine {
        timestamp: m.timestamp,
        ttl: m.ttl,
        expires_at: m.expires_at,
    }
}

fn cell_line(c: &CellView) -> CellLine {
    let (value, counter) = match &c.value {
        Value::Bytes(b) => (Some(hex(b)), None),
        Value::Counter(n) => (None, Some(*n)),
    };
    CellLine {
        column: c.column,
        path: c.path.as_deref().map(hex),
        value,
        counter,
        timestamp: c.timestamp,
        ttl: c.ttl,
        expires_at: c.expires_at,
    }
}

fn row_line(r: &RowView) -> RowLine {
    RowLine {
        clustering: match &r.clustering {
            Clustering::Static => None,
            Clustering::Row(bytes) => Some(hex(bytes)),
        },
        marker: r.marker.as_ref().map(marker_line),
        cells: r.cells.iter().map(cell_line).collect(),
    }
}

/// Refuses tags that would escape the snapshots directory or hide it, as Cassandra refuses path separators.
pub(crate) fn check_tag(tag: &str) -> Result<(), SnapshotError> {
    if tag.is_empty() {
        return Err(SnapshotError::Invalid("You must supply a snapshot name.".into()));
    }
    if tag.contains('/') || tag.contains('\\') || tag.starts_with('.') {
        return Err(SnapshotError::Invalid(format!(
            "Snapshot name cannot contain / or start with . ({tag})"
        )));
    }
    Ok(())
}

/// The directory of one table in a snapshot: `<table>-<id without dashes>`, as Cassandra names table directories.
fn table_dir(root: &Path, tag: &str, keyspace: &str, table: &str, id: TableId) -> PathBuf {
    root.join(SNAPSHOTS_DIR)
        .join(tag)
        .join(keyspace)
        .join(format!("{table}-{}", id.0.simple()))
}

/// Copies the live content of `tables` (keyspace, table, id) into snapshot `tag`; `now_ms` is the creation time.
pub(crate) fn take(
    storage: &dyn Engine,
    root: &Path,
    tag: &str,
    tables: &[(String, String, TableId)],
    now_ms: i64,
) -> Result<usize, SnapshotError> {
    check_tag(tag)?;
    let tag_dir = root.join(SNAPSHOTS_DIR).join(tag);
    if tag_dir.exists() {
        return Err(SnapshotError::Invalid(format!("Snapshot {tag} already exists.")));
    }
    let now_seconds = now_ms.div_euclid(1000);
    let created_at = mica_cql_types::datetime::format_timestamp_iso(now_ms);
    for (keyspace, table, id) in tables {
        let dir = table_dir(root, tag, keyspace, table, *id);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let data_path = dir.join(DATA_FILE);
        let file = std::fs::File::create(&data_path).map_err(io(&data_path))?;
        let mut out = BufWriter::new(file);
        let (mut partitions, mut rows) = (0u64, 0u64);
        let stream = storage.scan(
            *id,
            &ScanRange::all(),
            &mica_storage::ReadSelection::all(),
            ScanLimits::default(),
            now_seconds,
        )?;
        for partition in stream {
            let p = partition?;
            partitions += 1;
            rows += p.rows.len() as u64;
            let line = PartitionLine {
                key: hex(&p.key.key),
                token: p.key.token.0,
                static_row: p.static_row.as_ref().map(row_line),
                rows: p.rows.iter().map(row_line).collect(),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n").map_err(io(&data_path))?;
        }
        let file = out.into_inner().map_err(|e| SnapshotError::Io {
            path: data_path.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&data_path))?;
        let manifest = Manifest {
            files: vec![DATA_FILE.to_owned()],
            created_at: created_at.clone(),
            expires_at: None,
            format: FORMAT.to_owned(),
            keyspace: keyspace.clone(),
            table: table.clone(),
            table_id: id.0.to_string(),
            partitions,
            rows,
        };
        let manifest_path = dir.join(MANIFEST_FILE);
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?).map_err(io(&manifest_path))?;
    }
    // A snapshot of nothing (a keyspace without tables) still exists, as in Cassandra's listing it simply has no rows.
    std::fs::create_dir_all(&tag_dir).map_err(io(&tag_dir))?;
    Ok(tables.len())
}

/// Every complete table snapshot under `root`, ordered by tag, keyspace and table.
pub(crate) fn list(root: &Path) -> Result<Vec<api::SnapshotDetails>, SnapshotError> {
    let mut out = Vec::new();
    for tag_dir in sorted_dirs(&root.join(SNAPSHOTS_DIR))? {
        for ks_dir in sorted_dirs(&tag_dir)? {
            for table_dir in sorted_dirs(&ks_dir)? {
                let manifest_path = table_dir.join(MANIFEST_FILE);
                let Ok(text) = std::fs::read(&manifest_path) else {
                    continue;
                };
                let Ok(manifest) = serde_json::from_slice::<Manifest>(&text) else {
                    tracing::warn!(
                        "ignoring unreadable snapshot manifest {}",
                        manifest_path.display()
                    );
                    continue;
                };
                let mut size = 0;
                for entry in std::fs::read_dir(&table_dir).map_err(io(&table_dir))? {
                    let entry = entry.map_err(io(&table_dir))?;
                    size += entry.metadata().map_err(io(&table_dir))?.len();
                }
                out.push(api::SnapshotDetails {
                    tag: file_name(&tag_dir),
                    keyspace: manifest.keyspace,
                    table: manifest.table,
                    true_size_bytes: size,
                    size_on_disk_bytes: size,
                    created_at: manifest.created_at,
                });
            }
        }
    }
    Ok(out)
}

/// Removes snapshot `tag` (every snapshot when `None`), limited to `keyspaces` when not empty; returns how many
/// keyspace directories were removed.
pub(crate) fn clear(root: &Path, tag: Option<&str>, keyspaces: &[String]) -> Result<usize, SnapshotError> {
    if let Some(t) = tag {
        check_tag(t)?;
    }
    for ks in keyspaces {
        check_tag(ks).map_err(|_| SnapshotError::Invalid(format!("Invalid keyspace name {ks}")))?;
    }
    let mut removed = 0;
    for tag_dir in sorted_dirs(&root.join(SNAPSHOTS_DIR))? {
        if tag.is_some_and(|t| file_name(&tag_dir) != t) {
            continue;
        }
        if keyspaces.is_empty() {
            removed += sorted_dirs(&tag_dir)?.len();
            std::fs::remove_dir_all(&tag_dir).map_err(io(&tag_dir))?;
            continue;
        }
        for ks in keyspaces {
            let dir = tag_dir.join(ks);
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
                removed += 1;
            }
        }
        if sorted_dirs(&tag_dir)?.is_empty() {
            std::fs::remove_dir(&tag_dir).map_err(io(&tag_dir))?;
        }
    }
    Ok(removed)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The subdirectories of `dir` in name order (none when `dir` does not exist).
fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, SnapshotError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        if entry.file_type().map_err(io(dir))?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mica_storage::{Cell, CellValue, Mutation, PartitionKey, RowMutation};

    #[test]
    fn take_list_and_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = mica_storage::MemoryEngine::new();
        let id = TableId(uuid::Uuid::from_u128(7));
        storage
            .create_table(id, mica_storage::TableOptions::default())
            .expect("create");
        let mut mutation = Mutation::new(id, PartitionKey::new(vec![0, 0, 0, 1]));
        let mut row = RowMutation::new(Clustering::Row(Vec::new()));
        row.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 42,
            value: CellValue::Live {
                value: b"hi".to_vec(),
                ttl: None,
            },
        });
        mutation.rows.push(row);
        storage.apply_sync(vec![mutation]).expect("write");
        let tables = vec![("ks".to_owned(), "t".to_owned(), id)];
        assert_eq!(
            take(&storage, dir.path(), "tag1", &tables, 1_700_000_000_000).expect("take"),
            1
        );
        let again = take(&storage, dir.path(), "tag1", &tables, 0).expect_err("duplicate tag");
        assert!(again.to_string().contains("already exists"), "{again}");
        assert!(take(&storage, dir.path(), "../x", &tables, 0).is_err());
        let table_dir = dir
            .path()
            .join("snapshots/tag1/ks/t-00000000000000000000000000000007");
        let data = std::fs::read_to_string(table_dir.join("data.jsonl")).expect("data file");
        assert!(
            data.starts_with(r#"{"key":"00000001","token":"#)
                && data.contains(
                    r#""rows":[{"clustering":"","cells":[{"column":1,"value":"6869","timestamp":42}]}]}"#
                )
                && data.ends_with("}\n")
                && data.lines().count() == 1,
            "{data}"
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(table_dir.join("manifest.json")).expect("manifest"))
                .expect("json");
        assert_eq!(manifest["files"], serde_json::json!(["data.jsonl"]));
        assert_eq!(
            (manifest["partitions"].as_u64(), manifest["rows"].as_u64()),
            (Some(1), Some(1))
        );

        take(&storage, dir.path(), "tag2", &tables, 1_700_000_000_000).expect("take");
        let listed = list(dir.path()).expect("list");
        assert_eq!(listed.len(), 2);
        assert_eq!(
            (listed[0].tag.as_str(), listed[0].keyspace.as_str()),
            ("tag1", "ks")
        );
        assert_eq!(listed[0].created_at, "2023-11-14T22:13:20.000Z");

        assert_eq!(clear(dir.path(), Some("tag1"), &[]).expect("clear"), 1);
        assert_eq!(list(dir.path()).expect("list").len(), 1);
        assert_eq!(clear(dir.path(), None, &["ks".to_owned()]).expect("clear all"), 1);
        assert!(list(dir.path()).expect("list").is_empty());
    }
}
