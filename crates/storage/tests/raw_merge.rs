//! Property tests of replica reconciliation: random writes reach random subsets of three replicas;
//! merging the replicas' raw reads must give the live view of an engine that saw every write, and
//! repairing every replica with `diff` must make all their digests equal.

use mica_storage::conformance::{NOW, Rng, random_mutation, random_selection};
use mica_storage::*;

/// Mutations per seed.
const WRITES: usize = 30;
const REPLICAS: usize = 3;

fn table() -> TableId {
    TableId(uuid::Uuid::from_u128(0x3e9))
}

/// A random mutation of the single partition, without counters (merging counters across replicas
/// is a known limitation) and with marker TTLs that are a function of the timestamp (markers of
/// equal timestamps and different expirations are reconciled by the reader's clock, which a
/// clock-free merge cannot reproduce).
fn write(rng: &mut Rng) -> Mutation {
    let mut m = random_mutation(rng, table(), 1);
    for row in &mut m.rows {
        row.cells
            .retain(|c| !matches!(c.value, CellValue::CounterDelta(_)) && c.column != 4);
        if let Some(marker) = row.marker.as_mut()
            && let Some(ttl) = marker.ttl.as_mut()
        {
            ttl.expires_at = NOW - 10 + (marker.timestamp * 7) % 20;
        }
    }
    m
}

fn key() -> PartitionKey {
    random_mutation(&mut Rng::new(0), table(), 1).key
}

fn raw(e: &dyn Engine, sel: &ReadSelection, now: i64) -> Option<Mutation> {
    e.read_partition_raw(table(), &key(), sel, now).expect("raw read")
}

fn run(seed: u64, make: &dyn Fn() -> Box<dyn Engine>) {
    let mut rng = Rng::new(seed);
    let full = MemoryEngine::new();
    let replicas: Vec<Box<dyn Engine>> = (0..REPLICAS).map(|_| make()).collect();
    full.create_table(table(), TableOptions::default())
        .expect("create");
    for r in &replicas {
        r.create_table(table(), TableOptions::default()).expect("create");
    }
    for _ in 0..WRITES {
        let m = write(&mut rng);
        full.apply_sync(vec![m.clone()]).expect("apply");
        let mask = 1 + rng.below((1 << REPLICAS) - 1);
        for (i, r) in replicas.iter().enumerate() {
            if mask & (1 << i) != 0 {
                r.apply_sync(vec![m.clone()]).expect("apply");
            }
        }
    }
    for _ in 0..8 {
        let sel = random_selection(&mut rng);
        let now = NOW - 12 + rng.below(25) as i64;
        let want = full.read_partition(table(), &key(), &sel, now).expect("read");
        // One engine: the raw read's live view is the live read.
        let single = raw(&full, &sel, now);
        assert_eq!(
            single.as_ref().and_then(|m| live_view(m, &sel, now)),
            want,
            "single-engine live view (seed {seed}, now {now}, selection {sel:?})"
        );
        // Several replicas: a limit on each replica's rows could cut rows the merge needs (short
        // reads), so replicas are read without it and the merge applies it.
        let unlimited = ReadSelection {
            limit_rows: None,
            ..sel.clone()
        };
        let raws: Vec<Mutation> = replicas
            .iter()
            .filter_map(|r| raw(r.as_ref(), &unlimited, now))
            .collect();
        let merged = merge(raws.clone());
        assert_eq!(
            merged.as_ref().and_then(|m| live_view(m, &sel, now)),
            want,
            "merged live view (seed {seed}, now {now}, selection {sel:?}, raws {raws:#?})"
        );
        // Merging is insensitive to order and idempotent.
        let mut reversed = raws.clone();
        reversed.reverse();
        assert_eq!(merge(reversed), merged, "merge order (seed {seed})");
        if let Some(m) = &merged {
            assert_eq!(
                merge([m.clone()]).as_ref(),
                Some(m),
                "merge idempotence (seed {seed})"
            );
        }
    }
    // Digests agree exactly when canonical forms do.
    let all = ReadSelection::all();
    let now = NOW - 12 + rng.below(25) as i64;
    let before: Vec<Mutation> = replicas
        .iter()
        .filter_map(|r| raw(r.as_ref(), &all, now))
        .collect();
    for a in &before {
        for b in &before {
            assert_eq!(
                digest(a) == digest(b),
                merge([a.clone()]) == merge([b.clone()]),
                "digest equality (seed {seed})"
            );
        }
    }
    // Read repair: after applying what each replica lacks, every replica holds the merge.
    let merged = merge(before.clone()).expect("some replica has data");
    for r in &replicas {
        let mine = raw(r.as_ref(), &all, now).unwrap_or_else(|| Mutation::new(table(), key()));
        if let Some(missing) = diff(&merged, &mine) {
            r.apply_sync(vec![missing]).expect("repair");
        }
    }
    for (i, r) in replicas.iter().enumerate() {
        let after = raw(r.as_ref(), &all, now).expect("repaired replica has data");
        assert_eq!(
            digest(&after),
            digest(&merged),
            "digest after repair (seed {seed}, replica {i})"
        );
        assert_eq!(
            merge([after.clone()]),
            Some(merged.clone()),
            "repaired content (seed {seed}, replica {i})"
        );
        assert_eq!(
            diff(&merged, &after),
            None,
            "nothing left to repair (seed {seed}, replica {i})"
        );
    }
}

#[test]
fn merge_of_memory_replicas_matches_full_engine() {
    for seed in 0..300 {
        run(seed, &|| Box::new(MemoryEngine::new()));
    }
}

#[test]
fn merge_of_fjall_replicas_matches_full_engine() {
    let dirs: std::cell::RefCell<Vec<tempfile::TempDir>> = std::cell::RefCell::new(Vec::new());
    for seed in 1000..1006 {
        run(seed, &|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = FjallEngine::open(EngineConfig::new(dir.path())).expect("open");
            dirs.borrow_mut().push(dir);
            Box::new(engine)
        });
    }
}

#[test]
fn serde_round_trip() {
    let mut rng = Rng::new(7);
    for _ in 0..50 {
        let m = random_mutation(&mut rng, table(), 4);
        let json = serde_json::to_string(&m).expect("serialize");
        let back: Mutation = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, m);
        let sel = random_selection(&mut rng);
        let back: ReadSelection =
            serde_json::from_str(&serde_json::to_string(&sel).expect("ser")).expect("de");
        assert_eq!(back, sel);
    }
    let engine = MemoryEngine::new();
    engine
        .create_table(table(), TableOptions::default())
        .expect("create");
    let mut m = Mutation::new(table(), key());
    let mut row = RowMutation::new(Clustering::Row(b"c".to_vec()));
    row.marker = Some(Marker {
        timestamp: 1,
        ttl: None,
    });
    m.rows.push(row);
    engine.apply_sync(vec![m]).expect("apply");
    let view = engine
        .read_partition(table(), &key(), &ReadSelection::all(), NOW)
        .expect("read")
        .expect("live");
    let back: PartitionView = serde_json::from_str(&serde_json::to_string(&view).expect("ser")).expect("de");
    assert_eq!(back, view);
    let range = ScanRange {
        start: ScanStart::AfterRow {
            key: key(),
            clustering: Clustering::Static,
        },
        end: TokenBound::Inclusive(mica_types::Token(5)),
    };
    let back: ScanRange = serde_json::from_str(&serde_json::to_string(&range).expect("ser")).expect("de");
    assert_eq!(back, range);
    let limits = ScanLimits {
        partitions: Some(1),
        rows: None,
    };
    let back: ScanLimits = serde_json::from_str(&serde_json::to_string(&limits).expect("ser")).expect("de");
    assert_eq!(back, limits);
}
