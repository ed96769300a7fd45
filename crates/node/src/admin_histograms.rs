//! Admin API endpoints of `nodetool proxyhistograms` and `nodetool tablehistograms`: the query engine's
//! client request latencies, the per-table local latencies recorded by the metered storage engine, and
//! partition size / cell count percentiles over a sample of each table's partitions.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use mica_node_admin_api as api;
use mica_storage::metrics::{
    Histogram, HistogramSnapshot, NANOS_PER_MICRO, partition_cell_count, partition_size_bytes,
};
use mica_storage::{Engine, ReadSelection, ScanLimits, ScanRange, TableId};
use serde::Deserialize;

use crate::admin::{AdminError, AdminState, server_error};

/// Partitions read to estimate a table's partition sizes and cell counts (Cassandra keeps these
/// histograms in SSTable metadata; Mica samples the first partitions in token order instead).
const SIZE_SAMPLE_PARTITIONS: usize = 1000;

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(api::PROXY_HISTOGRAMS, get(proxy_histograms))
        .route(api::TABLE_HISTOGRAMS, get(table_histograms))
}

/// The seven nodetool rows of a latency histogram recorded in nanoseconds, in microseconds.
fn latency(snapshot: &HistogramSnapshot) -> api::Percentiles {
    api::Percentiles {
        rows: snapshot.nodetool_rows().map(|v| v as f64 / NANOS_PER_MICRO),
        count: snapshot.count(),
    }
}

/// The seven nodetool rows of a histogram of plain values.
fn values(snapshot: &HistogramSnapshot) -> api::Percentiles {
    api::Percentiles {
        rows: snapshot.nodetool_rows().map(|v| v as f64),
        count: snapshot.count(),
    }
}

async fn proxy_histograms(State(state): State<Arc<AdminState>>) -> Json<api::ProxyHistograms> {
    let l = state.engine.latencies();
    Json(api::ProxyHistograms {
        read: latency(&l.read.snapshot()),
        write: latency(&l.write.snapshot()),
        range: latency(&l.range.snapshot()),
        cas_read: latency(&l.cas_read.snapshot()),
        cas_write: latency(&l.cas_write.snapshot()),
        view_write: latency(&l.view_write.snapshot()),
    })
}

#[derive(Deserialize)]
struct TableQuery {
    keyspace: Option<String>,
    table: Option<String>,
}

async fn table_histograms(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<TableQuery>,
) -> Result<Json<Vec<api::TableHistograms>>, AdminError> {
    let schema = state.engine.schema();
    let mut tables = Vec::new();
    for ks in schema.keyspaces.values() {
        if q.keyspace.as_ref().is_some_and(|k| *k != ks.name) {
            continue;
        }
        for t in ks.tables.values() {
            if !t.is_virtual && q.table.as_ref().is_none_or(|n| *n == t.name) {
                tables.push((ks.name.clone(), t.name.clone(), TableId(t.id)));
            }
        }
    }
    // Cassandra's nodetool checks every named table exists, with this wording.
    if tables.is_empty()
        && let Some(ks) = &q.keyspace
    {
        let what = match &q.table {
            Some(t) => format!("{ks}.{t}"),
            None => ks.clone(),
        };
        return Err(AdminError(StatusCode::NOT_FOUND, format!("Unknown table {what}")));
    }
    tables.sort();
    let storage = state.storage.clone();
    let metrics = state.table_metrics.clone();
    let out = tokio::task::spawn_blocking(move || {
        tables
            .into_iter()
            .map(|(keyspace, table, id)| {
                let (read, write) = match metrics.get(id) {
                    Some(l) => (l.read.snapshot(), l.write.snapshot()),
                    None => Default::default(),
                };
                let (size, cells) = sample_sizes(storage.as_ref(), id)?;
                let present = size.count() > 0;
                Ok(api::TableHistograms {
                    keyspace,
                    table,
                    read_latency: latency(&read),
                    write_latency: latency(&write),
                    sstables: api::Percentiles::default(),
                    partition_size: present.then(|| values(&size)),
                    cell_count: present.then(|| values(&cells)),
                })
            })
            .collect::<Result<Vec<_>, mica_storage::StorageError>>()
    })
    .await
    .map_err(server_error)?
    .map_err(server_error)?;
    Ok(Json(out))
}

/// Partition size and cell count histograms over the table's first partitions in token order.
fn sample_sizes(
    storage: &dyn Engine,
    table: TableId,
) -> Result<(HistogramSnapshot, HistogramSnapshot), mica_storage::StorageError> {
    let sizes = Histogram::default();
    let cells = Histogram::default();
    let limits = ScanLimits {
        partitions: Some(SIZE_SAMPLE_PARTITIONS),
        rows: None,
    };
    let stream = storage.scan_raw(
        table,
        &ScanRange::all(),
        &ReadSelection::all(),
        limits,
        mica_types::now_seconds(),
    )?;
    for partition in stream.take(SIZE_SAMPLE_PARTITIONS) {
        let partition = partition?;
        sizes.record(partition_size_bytes(&partition));
        cells.record(partition_cell_count(&partition));
    }
    Ok((sizes.snapshot(), cells.snapshot()))
}
