//! Background storage maintenance: a periodic pass that compacts every stored table so tombstones older
//! than the table's gc_grace_seconds and expired TTL cells are purged, as Cassandra's compactions do.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mica_storage::Engine;
use tokio::sync::watch;

/// Starts the purge thread; `None` when the interval is zero (disabled).
pub(crate) fn spawn(
    interval: Duration,
    storage: Arc<dyn Engine>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    if interval.is_zero() {
        return Ok(None);
    }
    std::thread::Builder::new()
        .name("mica-maintenance".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            else {
                tracing::error!(
                    "cannot start the maintenance runtime; tombstones are purged only by nodetool compact"
                );
                return;
            };
            runtime.block_on(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        // A closed channel also means the node is going away.
                        _ = stop.wait_for(|&s| s) => return,
                    }
                    purge_all(storage.as_ref(), &stop);
                }
            });
        })
        .map(Some)
}

/// Compacts every stored table once, stopping early when the node stops.
pub(crate) fn purge_all(storage: &dyn Engine, stop: &watch::Receiver<bool>) {
    let tables = match storage.list_tables() {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("tombstone purge skipped: cannot list tables: {e}");
            return;
        }
    };
    let now = mica_types::now_seconds();
    for table in tables {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = storage.major_compact(table, now) {
            tracing::warn!("tombstone purge of table {} failed: {e}", table.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mica_cql_protocol::QueryParameters;
    use mica_query::{ClientState, LocalInfo, QueryEngine, QueryResult};
    use mica_storage::{EngineConfig, FjallEngine, TableId};

    fn local() -> LocalInfo {
        let lo = std::net::IpAddr::from([127, 0, 0, 1]);
        LocalInfo {
            cluster_name: "t".into(),
            data_center: "dc1".into(),
            rack: "r1".into(),
            host_id: uuid::Uuid::new_v4(),
            listen_address: lo,
            broadcast_address: lo,
            rpc_address: lo,
            native_port: 9042,
            storage_port: 7000,
            release_version: "4.1.5".into(),
            tokens: vec![0],
            password_auth: false,
            authorization: false,
        }
    }

    async fn run(engine: &QueryEngine, cql: &str) -> QueryResult {
        let mut state = ClientState::default();
        engine
            .query(&mut state, cql, &QueryParameters::default())
            .await
            .unwrap_or_else(|e| panic!("{cql}: {e}"))
    }

    fn row_count(result: QueryResult) -> usize {
        match result {
            QueryResult::Rows { rows, .. } => rows.len(),
            other => panic!("expected rows, got {other:?}"),
        }
    }

    /// Deleted rows past gc_grace_seconds are purged from disk; live rows and the deletions' effect stay.
    #[tokio::test(flavor = "current_thread")]
    async fn purge_pass_reclaims_deleted_data_and_keeps_live_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fjall = Arc::new(FjallEngine::open(EngineConfig::new(dir.path().to_path_buf())).expect("open"));
        let storage: Arc<dyn Engine> = fjall.clone();
        let engine = QueryEngine::open(storage.clone(), local()).expect("query engine");
        run(
            &engine,
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        )
        .await;
        run(
            &engine,
            "CREATE TABLE ks.t (k int PRIMARY KEY, v text) WITH gc_grace_seconds = 0",
        )
        .await;
        let payload = "x".repeat(200);
        for k in 0..2000 {
            run(
                &engine,
                &format!("INSERT INTO ks.t (k, v) VALUES ({k}, '{payload}')"),
            )
            .await;
        }
        for k in 10..2000 {
            run(&engine, &format!("DELETE FROM ks.t WHERE k = {k}")).await;
        }
        storage.flush().expect("flush");
        let table = engine.schema().require_table("ks", "t").expect("table").id;
        let before = storage.table_size_bytes(TableId(table)).expect("size");

        // Tombstones written in this second are not yet older than gc_grace_seconds = 0.
        std::thread::sleep(Duration::from_millis(1100));
        let (_tx, stop) = watch::channel(false);
        purge_all(storage.as_ref(), &stop);

        let after = storage.table_size_bytes(TableId(table)).expect("size");
        assert!(
            after * 4 < before,
            "purge should reclaim most of {before} bytes, left {after}"
        );
        assert_eq!(row_count(run(&engine, "SELECT * FROM ks.t").await), 10);
        assert_eq!(
            row_count(run(&engine, "SELECT * FROM ks.t WHERE k = 1500").await),
            0
        );
    }
}
