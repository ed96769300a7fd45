//! Runs the public conformance suite against both engines, plus the fjall-vs-memory differential.

use mica_storage::conformance::{differential, persistence_suite, suite};
use mica_storage::{CommitLogSync, EngineConfig, FjallEngine, MemoryEngine};
use std::path::Path;
use std::time::Duration;

fn fjall(path: &Path) -> FjallEngine {
    FjallEngine::open(EngineConfig::new(path)).expect("open fjall engine")
}

fn fjall_batch(path: &Path) -> FjallEngine {
    let config = EngineConfig {
        commitlog_sync: CommitLogSync::Batch,
        ..EngineConfig::new(path)
    };
    FjallEngine::open(config).expect("open fjall engine")
}

#[test]
fn memory_engine_passes_suite() {
    suite(|_| MemoryEngine::new());
}

#[test]
fn fjall_engine_passes_suite() {
    suite(fjall);
}

#[test]
fn fjall_engine_in_batch_mode_passes_suite() {
    suite(fjall_batch);
}

#[test]
fn fjall_engine_persists_across_reopen() {
    persistence_suite(fjall);
    persistence_suite(fjall_batch);
    persistence_suite(|p| {
        let config = EngineConfig {
            commitlog_sync: CommitLogSync::Group {
                window: Duration::from_millis(2),
            },
            ..EngineConfig::new(p)
        };
        FjallEngine::open(config).expect("open")
    });
}

#[test]
fn memory_engine_is_self_consistent_under_random_workload() {
    for seed in 0..20 {
        differential(&MemoryEngine::new(), seed, 100);
    }
}

#[test]
fn fjall_matches_memory_model_under_random_workload() {
    let seeds: u64 = std::env::var("MICA_STORAGE_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in 0..seeds {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = fjall(dir.path());
        engine.set_compaction_clock(Some(mica_storage::conformance::NOW - 20));
        differential(&engine, seed, 150);
    }
}
