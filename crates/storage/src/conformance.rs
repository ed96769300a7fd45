//! Public conformance suite every [`Engine`] must pass (modelled on TiKV's engine_traits_tests).
//!
//! * [`suite`] runs every semantic check against fresh engines made by `make(dir)`;
//!   [`CASES`] lists them so an engine crate can run each as its own test.
//! * [`persistence_suite`] checks reopen-after-close durability for engines that persist.
//! * [`differential`] applies a seeded random workload to an engine and to [`MemoryEngine`] and
//!   asserts that every read agrees (the panic message carries the seed).

use crate::engine::Engine;
use crate::memory::MemoryEngine;
use crate::types::*;
use mica_types::Token;
use std::ops::Bound;
use std::path::Path;

/// A named conformance check.
pub type Case = (&'static str, fn(&dyn Engine));

/// Every semantic check of the suite.
pub const CASES: &[Case] = &[
    ("lww_per_cell", lww_per_cell),
    ("equal_timestamp_ties", equal_timestamp_ties),
    ("partition_deletion", partition_deletion),
    ("row_deletion_and_liveness", row_deletion_and_liveness),
    ("cell_tombstone", cell_tombstone),
    ("range_tombstone_bounds", range_tombstone_bounds),
    ("complex_column_deletion", complex_column_deletion),
    ("ttl_expiry", ttl_expiry),
    ("counters", counters),
    ("static_rows", static_rows),
    ("reversed_and_limits", reversed_and_limits),
    ("multi_slice_reads", multi_slice_reads),
    ("column_selection", column_selection),
    ("keys_with_zero_bytes", keys_with_zero_bytes),
    ("scan_token_order_and_resume", scan_token_order_and_resume),
    ("scan_limits_and_paging", scan_limits_and_paging),
    ("truncate_and_drop", truncate_and_drop),
    ("atomic_apply", atomic_apply),
    ("metadata_kv", metadata_kv),
    ("table_options", table_options),
    ("compaction_preserves_reads", compaction_preserves_reads),
    (
        "tombstone_gc_keeps_deleted_data_deleted",
        tombstone_gc_keeps_deleted_data_deleted,
    ),
    (
        "raw_deletions_and_shadowing",
        raw_cases::raw_deletions_and_shadowing,
    ),
    (
        "raw_limits_reversed_columns",
        raw_cases::raw_limits_reversed_columns,
    ),
    ("raw_counters", raw_cases::raw_counters),
    (
        "remove_partitions_is_local_and_exact",
        remove_cases::remove_partitions_is_local_and_exact,
    ),
    (
        "scan_raw_tombstone_partitions",
        raw_cases::scan_raw_tombstone_partitions,
    ),
];

#[path = "conformance_remove.rs"]
mod remove_cases;

#[path = "conformance_raw.rs"]
mod raw_cases;

/// Runs every case in [`CASES`], each against a fresh engine in its own temporary directory.
pub fn suite<E: Engine>(make: impl Fn(&Path) -> E) {
    for (name, case) in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = make(dir.path());
        eprintln!("conformance: {name}");
        case(&engine);
    }
}

/// Reopen-after-close durability: data, metadata, table options and drops survive a restart.
pub fn persistence_suite<E: Engine>(make: impl Fn(&Path) -> E) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = TableId(uuid::Uuid::from_u128(7));
    let dropped = TableId(uuid::Uuid::from_u128(8));
    let opts = TableOptions {
        gc_grace_seconds: 42,
        default_ttl: Some(9),
    };
    {
        let e = make(dir.path());
        e.create_table(kept, opts).expect("create");
        e.create_table(dropped, TableOptions::default()).expect("create");
        let mut m = Mutation::new(kept, pk("a"));
        m.rows.push(row_with(b"r1", Some(1), &[(1, 1, b"v1")]));
        e.apply_sync(vec![m]).expect("apply");
        e.put_meta(b"host_id", b"abc").expect("meta");
        e.drop_table(dropped).expect("drop");
        // A second write after a flush lands in a fresh memtable/journal.
        e.flush().expect("flush");
        let mut m = Mutation::new(kept, pk("b"));
        m.rows.push(row_with(b"r1", None, &[(1, 2, b"v2")]));
        e.apply(vec![m]).expect("apply").wait().expect("durable");
    }
    let e = make(dir.path());
    assert_eq!(e.list_tables().expect("list"), vec![kept]);
    assert_eq!(e.table_options(kept).expect("opts"), Some(opts));
    assert_eq!(e.get_meta(b"host_id").expect("meta"), Some(b"abc".to_vec()));
    assert_eq!(cell_value(&e, kept, "a", b"r1", 1), Some(b"v1".to_vec()));
    assert_eq!(cell_value(&e, kept, "b", b"r1", 1), Some(b"v2".to_vec()));
    // Writes after reopen get fresh version ids and still reconcile by timestamp.
    let mut m = Mutation::new(kept, pk("a"));
    m.rows.push(row_with(b"r1", None, &[(1, 0, b"old")]));
    e.apply_sync(vec![m]).expect("apply");
    assert_eq!(cell_value(&e, kept, "a", b"r1", 1), Some(b"v1".to_vec()));
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The clock (seconds) the suite's workloads are written around.
pub const NOW: i64 = 1_000_000;

fn table() -> TableId {
    TableId(uuid::Uuid::from_u128(0x5eed))
}

fn setup(e: &dyn Engine) -> TableId {
    let t = table();
    e.create_table(t, TableOptions::default()).expect("create table");
    t
}

fn pk(k: &str) -> PartitionKey {
    PartitionKey::new(k.as_bytes().to_vec())
}

fn live(column: u32, timestamp: i64, value: &[u8]) -> Cell {
    Cell {
        column,
        path: None,
        timestamp,
        value: CellValue::Live {
            value: value.to_vec(),
            ttl: None,
        },
    }
}

fn del(timestamp: i64) -> Deletion {
    Deletion {
        timestamp,
        local_deletion_time: NOW - 10,
    }
}

fn row_with(c: &[u8], marker_ts: Option<i64>, cells: &[(u32, i64, &[u8])]) -> RowMutation {
    let mut r = RowMutation::new(Clustering::Row(c.to_vec()));
    r.marker = marker_ts.map(|timestamp| Marker { timestamp, ttl: None });
    r.cells = cells.iter().map(|(col, ts, v)| live(*col, *ts, v)).collect();
    r
}

fn apply(e: &dyn Engine, t: TableId, key: &str, f: impl FnOnce(&mut Mutation)) {
    let mut m = Mutation::new(t, pk(key));
    f(&mut m);
    e.apply_sync(vec![m]).expect("apply");
}

fn read(e: &dyn Engine, t: TableId, key: &str, sel: &ReadSelection) -> Option<PartitionView> {
    e.read_partition(t, &pk(key), sel, NOW).expect("read")
}

fn clusterings(view: &Option<PartitionView>) -> Vec<Vec<u8>> {
    view.iter()
        .flat_map(|v| &v.rows)
        .map(|r| match &r.clustering {
            Clustering::Row(c) => c.clone(),
            Clustering::Static => b"<static>".to_vec(),
        })
        .collect()
}

fn find_cell<'a>(view: &'a Option<PartitionView>, c: &[u8], column: u32) -> Option<&'a CellView> {
    let row = view
        .as_ref()?
        .rows
        .iter()
        .find(|r| r.clustering == Clustering::Row(c.to_vec()))?;
    row.cells.iter().find(|cell| cell.column == column)
}

fn cell_value<E: Engine + ?Sized>(e: &E, t: TableId, key: &str, c: &[u8], column: u32) -> Option<Vec<u8>> {
    let view = e
        .read_partition(t, &pk(key), &ReadSelection::all(), NOW)
        .expect("read");
    match &find_cell(&view, c, column)?.value {
        Value::Bytes(b) => Some(b.clone()),
        Value::Counter(n) => Some(n.to_be_bytes().to_vec()),
    }
}

fn slice(start: Bound<&[u8]>, end: Bound<&[u8]>) -> (ClusteringBound, ClusteringBound) {
    (start.map(<[u8]>::to_vec), end.map(<[u8]>::to_vec))
}

// ---------------------------------------------------------------------------------------------
// Cases.

fn lww_per_cell(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows
            .push(row_with(b"r", None, &[(1, 10, b"ten"), (2, 5, b"five")]))
    });
    apply(e, t, "k", |m| {
        m.rows
            .push(row_with(b"r", None, &[(1, 20, b"twenty"), (2, 1, b"one")]))
    });
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"r", None, &[(1, 15, b"fifteen")]))
    });
    let view = read(e, t, "k", &ReadSelection::all());
    let c1 = find_cell(&view, b"r", 1).expect("cell 1");
    assert_eq!(
        (c1.value.clone(), c1.timestamp),
        (Value::Bytes(b"twenty".to_vec()), 20)
    );
    assert_eq!(find_cell(&view, b"r", 2).map(|c| c.timestamp), Some(5));
    // Writes in one batch to the same cell reconcile the same way.
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"s", None, &[(1, 3, b"x")]));
        m.rows.push(row_with(b"s", None, &[(1, 2, b"y")]));
    });
    assert_eq!(cell_value(e, t, "k", b"s", 1), Some(b"x".to_vec()));
}

fn equal_timestamp_ties(e: &dyn Engine) {
    let t = setup(e);
    // Two live values: the greater bytes win, whatever the write order.
    apply(e, t, "k", |m| m.rows.push(row_with(b"a", None, &[(1, 5, b"b")])));
    apply(e, t, "k", |m| m.rows.push(row_with(b"a", None, &[(1, 5, b"a")])));
    assert_eq!(cell_value(e, t, "k", b"a", 1), Some(b"b".to_vec()));
    // A tombstone beats a live value at the same timestamp.
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"a".to_vec()));
        r.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 5,
            value: CellValue::Tombstone {
                local_deletion_time: NOW,
            },
        });
        m.rows.push(r);
    });
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 5, b"zzz")]))
    });
    assert_eq!(cell_value(e, t, "k", b"a", 1), None);
    // An expiring cell beats a regular one at the same timestamp (CASSANDRA-14592).
    let ttl = Some(Ttl {
        ttl_seconds: 100,
        expires_at: NOW + 100,
    });
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"b".to_vec()));
        r.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 7,
            value: CellValue::Live {
                value: b"a".to_vec(),
                ttl,
            },
        });
        r.cells.push(live(1, 7, b"zz"));
        m.rows.push(r);
    });
    let view = read(e, t, "k", &ReadSelection::all());
    let c = find_cell(&view, b"b", 1).expect("cell");
    assert_eq!((c.value.clone(), c.ttl), (Value::Bytes(b"a".to_vec()), Some(100)));
}

fn partition_deletion(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", Some(1), &[(1, 1, b"x")]));
        let mut s = RowMutation::new(Clustering::Static);
        s.cells.push(live(9, 1, b"s"));
        m.rows.push(s);
    });
    apply(e, t, "k", |m| m.partition_deletion = Some(del(1)));
    assert_eq!(read(e, t, "k", &ReadSelection::all()), None);
    apply(e, t, "k", |m| m.rows.push(row_with(b"b", None, &[(1, 2, b"y")])));
    let view = read(e, t, "k", &ReadSelection::all());
    assert_eq!(clusterings(&view), vec![b"b".to_vec()]);
    assert!(view.as_ref().is_some_and(|v| v.static_row.is_none()));
    // Other partitions are untouched.
    apply(e, t, "other", |m| m.rows.push(row_with(b"a", Some(1), &[])));
    apply(e, t, "k", |m| m.partition_deletion = Some(del(100)));
    assert!(read(e, t, "other", &ReadSelection::all()).is_some());
    assert_eq!(read(e, t, "k", &ReadSelection::all()), None);
}

fn row_deletion_and_liveness(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", Some(1), &[(1, 1, b"x")]))
    });
    let mut d = RowMutation::new(Clustering::Row(b"a".to_vec()));
    d.deletion = Some(del(1));
    apply(e, t, "k", |m| m.rows.push(d.clone()));
    assert_eq!(read(e, t, "k", &ReadSelection::all()), None);
    // An UPDATE after the deletion makes the row live again without a marker.
    apply(e, t, "k", |m| m.rows.push(row_with(b"a", None, &[(2, 2, b"y")])));
    let view = read(e, t, "k", &ReadSelection::all()).expect("row");
    assert_eq!(view.rows[0].marker, None);
    assert_eq!(view.rows[0].cells.len(), 1);
    // A row with only a marker is live with no cells; deleting its cell keeps it.
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"m", Some(5), &[(1, 5, b"v")]))
    });
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"m".to_vec()));
        r.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 6,
            value: CellValue::Tombstone {
                local_deletion_time: NOW,
            },
        });
        m.rows.push(r);
    });
    let view = read(e, t, "k", &ReadSelection::all());
    let row = view.as_ref().and_then(|v| {
        v.rows
            .iter()
            .find(|r| r.clustering == Clustering::Row(b"m".to_vec()))
    });
    let row = row.expect("marker keeps the row");
    assert_eq!(row.marker.map(|m| m.timestamp), Some(5));
    assert!(row.cells.is_empty());
}

fn cell_tombstone(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 1, b"x"), (2, 1, b"y")]))
    });
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"a".to_vec()));
        r.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 2,
            value: CellValue::Tombstone {
                local_deletion_time: NOW,
            },
        });
        m.rows.push(r);
    });
    assert_eq!(cell_value(e, t, "k", b"a", 1), None);
    assert_eq!(cell_value(e, t, "k", b"a", 2), Some(b"y".to_vec()));
    // An older write does not resurrect; a newer one does.
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 1, b"old")]))
    });
    assert_eq!(cell_value(e, t, "k", b"a", 1), None);
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 3, b"new")]))
    });
    assert_eq!(cell_value(e, t, "k", b"a", 1), Some(b"new".to_vec()));
}

fn range_tombstone_bounds(e: &dyn Engine) {
    let keys: [&[u8]; 7] = [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"c"];
    type Case<'a> = ((Bound<&'a [u8]>, Bound<&'a [u8]>), Vec<&'a [u8]>);
    let cases: Vec<Case<'_>> = vec![
        (
            (Bound::Included(b"ab"), Bound::Included(b"ab")),
            vec![b"a", b"ac", b"b", b"c"],
        ),
        (
            (Bound::Excluded(b"ab"), Bound::Unbounded),
            vec![b"a", b"ab", b"abc", b"abd"],
        ),
        (
            (Bound::Unbounded, Bound::Excluded(b"ab")),
            vec![b"ab", b"abc", b"abd", b"ac", b"b", b"c"],
        ),
        (
            (Bound::Included(b"abc"), Bound::Excluded(b"b")),
            vec![b"a", b"ab", b"b", b"c"],
        ),
        (
            (Bound::Excluded(b"a"), Bound::Included(b"b")),
            vec![b"a", b"ab", b"abc", b"abd", b"ac", b"c"],
        ),
        ((Bound::Unbounded, Bound::Unbounded), vec![]),
    ];
    for (i, ((start, end), expected)) in cases.into_iter().enumerate() {
        let t = TableId(uuid::Uuid::from_u128(1000 + i as u128));
        e.create_table(t, TableOptions::default()).expect("create");
        apply(e, t, "k", |m| {
            for k in keys {
                m.rows.push(row_with(k, Some(1), &[(1, 1, b"v")]));
            }
            let mut s = RowMutation::new(Clustering::Static);
            s.cells.push(live(9, 1, b"s"));
            m.rows.push(s);
        });
        let (start, end) = slice(start, end);
        apply(e, t, "k", |m| {
            m.range_tombstones.push(RangeTombstone {
                start,
                end,
                deletion: del(1),
            })
        });
        let view = read(e, t, "k", &ReadSelection::all());
        let expected: Vec<Vec<u8>> = expected.iter().map(|k| k.to_vec()).collect();
        assert_eq!(clusterings(&view), expected, "range tombstone case {i}");
        assert!(
            view.is_some_and(|v| v.static_row.is_some()),
            "range tombstones never cover the static row"
        );
        // Data newer than the tombstone is visible again.
        apply(e, t, "k", |m| {
            m.rows.push(row_with(b"ab", None, &[(1, 2, b"new")]))
        });
        assert_eq!(cell_value(e, t, "k", b"ab", 1), Some(b"new".to_vec()));
    }
}

fn complex_column_deletion(e: &dyn Engine) {
    let t = setup(e);
    let elem = |path: &[u8], ts: i64, v: &[u8]| Cell {
        column: 3,
        path: Some(path.to_vec()),
        timestamp: ts,
        value: CellValue::Live {
            value: v.to_vec(),
            ttl: None,
        },
    };
    apply(e, t, "k", |m| {
        let mut r = row_with(b"r", Some(1), &[(1, 1, b"x")]);
        r.cells.extend([
            elem(b"e1", 1, b"1"),
            elem(b"e2", 1, b"2"),
            elem(b"e\x00", 1, b"0"),
        ]);
        m.rows.push(r);
    });
    // `SET l = [...]` overwrite: delete the column at ts-1, write new elements at ts.
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"r".to_vec()));
        r.column_deletions.push((3, del(4)));
        r.cells.extend([elem(b"e3", 5, b"3"), elem(b"e1", 5, b"one")]);
        m.rows.push(r);
    });
    let view = read(e, t, "k", &ReadSelection::all());
    let row = &view.expect("row").rows[0];
    let elems: Vec<(Option<Vec<u8>>, Value)> = row
        .cells
        .iter()
        .filter(|c| c.column == 3)
        .map(|c| (c.path.clone(), c.value.clone()))
        .collect();
    assert_eq!(
        elems,
        vec![
            (Some(b"e1".to_vec()), Value::Bytes(b"one".to_vec())),
            (Some(b"e3".to_vec()), Value::Bytes(b"3".to_vec()))
        ]
    );
    assert_eq!(
        cell_value(e, t, "k", b"r", 1),
        Some(b"x".to_vec()),
        "other columns are untouched"
    );
}

fn ttl_expiry(e: &dyn Engine) {
    let t = setup(e);
    let ttl = Some(Ttl {
        ttl_seconds: 60,
        expires_at: NOW + 60,
    });
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"a".to_vec()));
        r.marker = Some(Marker { timestamp: 1, ttl });
        r.cells.push(Cell {
            column: 1,
            path: None,
            timestamp: 1,
            value: CellValue::Live {
                value: b"x".to_vec(),
                ttl,
            },
        });
        r.cells.push(live(2, 1, b"forever"));
        m.rows.push(r);
        let mut r = RowMutation::new(Clustering::Row(b"b".to_vec()));
        r.marker = Some(Marker { timestamp: 1, ttl });
        m.rows.push(r);
    });
    let sel = ReadSelection::all();
    let before = e
        .read_partition(t, &pk("k"), &sel, NOW + 59)
        .expect("read")
        .expect("live");
    assert_eq!(before.rows.len(), 2);
    let marker = before.rows[0].marker.expect("marker");
    assert_eq!((marker.ttl, marker.expires_at), (Some(60), Some(NOW + 60)));
    let c = &before.rows[0].cells[0];
    assert_eq!((c.ttl, c.expires_at), (Some(60), Some(NOW + 60)));
    let after = e
        .read_partition(t, &pk("k"), &sel, NOW + 60)
        .expect("read")
        .expect("row a lives on");
    assert_eq!(after.rows.len(), 1, "row b only had an expiring marker");
    assert_eq!(after.rows[0].marker, None);
    assert_eq!(
        after.rows[0].cells.iter().map(|c| c.column).collect::<Vec<_>>(),
        vec![2]
    );
    // An expired cell shadows older live values like a tombstone.
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 0, b"older")]))
    });
    let after = e
        .read_partition(t, &pk("k"), &sel, NOW + 61)
        .expect("read")
        .expect("row");
    assert!(after.rows[0].cells.iter().all(|c| c.column != 1));
}

fn counters(e: &dyn Engine) {
    let t = setup(e);
    let delta = |ts: i64, d: i64| Cell {
        column: 4,
        path: None,
        timestamp: ts,
        value: CellValue::CounterDelta(d),
    };
    for (ts, d) in [(1, 5), (2, 3), (3, -1)] {
        apply(e, t, "k", |m| {
            let mut r = RowMutation::new(Clustering::Row(b"c".to_vec()));
            r.cells.push(delta(ts, d));
            m.rows.push(r);
        });
    }
    let value = |e: &dyn Engine| {
        let view = read(e, t, "k", &ReadSelection::all());
        find_cell(&view, b"c", 4).map(|c| (c.value.clone(), c.timestamp))
    };
    assert_eq!(value(e), Some((Value::Counter(7), 3)));
    // A row deletion shadows the deltas it covers.
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"c".to_vec()));
        r.deletion = Some(del(2));
        m.rows.push(r);
    });
    assert_eq!(value(e), Some((Value::Counter(-1), 3)));
    // A counter cell tombstone kills the counter regardless of timestamps.
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"c".to_vec()));
        r.cells.push(Cell {
            column: 4,
            path: None,
            timestamp: 0,
            value: CellValue::Tombstone {
                local_deletion_time: NOW,
            },
        });
        m.rows.push(r);
    });
    assert_eq!(value(e), None);
    assert_eq!(read(e, t, "k", &ReadSelection::all()), None);
}

fn static_rows(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        let mut s = RowMutation::new(Clustering::Static);
        s.cells.push(live(9, 1, b"s"));
        m.rows.push(s);
    });
    let view = read(e, t, "k", &ReadSelection::all()).expect("static-only partition");
    assert!(view.rows.is_empty());
    assert_eq!(
        view.static_row.as_ref().map(|r| r.clustering.clone()),
        Some(Clustering::Static)
    );
    let no_static = ReadSelection {
        include_static: false,
        ..ReadSelection::all()
    };
    assert_eq!(read(e, t, "k", &no_static), None);
    apply(e, t, "k", |m| m.rows.push(row_with(b"r", Some(1), &[])));
    let view = read(e, t, "k", &no_static).expect("row");
    assert!(view.static_row.is_none());
    assert_eq!(view.rows.len(), 1);
    // A row deletion of the static row.
    apply(e, t, "k", |m| {
        let mut s = RowMutation::new(Clustering::Static);
        s.deletion = Some(del(1));
        m.rows.push(s);
    });
    assert!(
        read(e, t, "k", &ReadSelection::all())
            .expect("row")
            .static_row
            .is_none()
    );
}

fn five_rows(e: &dyn Engine, t: TableId) {
    apply(e, t, "k", |m| {
        for c in [b"a", b"b", b"c", b"d", b"e"] {
            m.rows.push(row_with(c, Some(1), &[(1, 1, c)]));
        }
    });
}

fn reversed_and_limits(e: &dyn Engine) {
    let t = setup(e);
    five_rows(e, t);
    let rev = ReadSelection {
        reversed: true,
        ..ReadSelection::all()
    };
    assert_eq!(
        clusterings(&read(e, t, "k", &rev)),
        vec![
            b"e".to_vec(),
            b"d".to_vec(),
            b"c".to_vec(),
            b"b".to_vec(),
            b"a".to_vec()
        ]
    );
    let lim = ReadSelection {
        limit_rows: Some(2),
        ..ReadSelection::all()
    };
    assert_eq!(
        clusterings(&read(e, t, "k", &lim)),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    let rev_lim = ReadSelection {
        limit_rows: Some(2),
        reversed: true,
        ..ReadSelection::all()
    };
    assert_eq!(
        clusterings(&read(e, t, "k", &rev_lim)),
        vec![b"e".to_vec(), b"d".to_vec()]
    );
    // Dead rows do not count against the limit.
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(Clustering::Row(b"a".to_vec()));
        r.deletion = Some(del(1));
        m.rows.push(r);
    });
    assert_eq!(
        clusterings(&read(e, t, "k", &lim)),
        vec![b"b".to_vec(), b"c".to_vec()]
    );
    let zero = ReadSelection {
        limit_rows: Some(0),
        include_static: false,
        ..ReadSelection::default()
    };
    assert_eq!(read(e, t, "k", &zero), None);
}

fn multi_slice_reads(e: &dyn Engine) {
    let t = setup(e);
    five_rows(e, t);
    let sel = ReadSelection {
        slices: vec![
            slice(Bound::Unbounded, Bound::Excluded(b"b")),
            slice(Bound::Excluded(b"b"), Bound::Included(b"c")),
            slice(Bound::Included(b"e"), Bound::Unbounded),
        ],
        ..ReadSelection::default()
    };
    assert_eq!(
        clusterings(&read(e, t, "k", &sel)),
        vec![b"a".to_vec(), b"c".to_vec(), b"e".to_vec()]
    );
    let rev = ReadSelection {
        reversed: true,
        limit_rows: Some(2),
        ..sel.clone()
    };
    assert_eq!(
        clusterings(&read(e, t, "k", &rev)),
        vec![b"e".to_vec(), b"c".to_vec()]
    );
    let empty = ReadSelection {
        slices: vec![slice(Bound::Included(b"x"), Bound::Unbounded)],
        ..ReadSelection::default()
    };
    assert_eq!(read(e, t, "k", &empty), None);
    let point = ReadSelection {
        slices: vec![slice(Bound::Included(b"d"), Bound::Included(b"d"))],
        ..ReadSelection::default()
    };
    assert_eq!(clusterings(&read(e, t, "k", &point)), vec![b"d".to_vec()]);
}

fn column_selection(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows.push(row_with(b"a", None, &[(1, 1, b"x"), (2, 1, b"y")]));
        m.rows.push(row_with(b"b", None, &[(2, 1, b"only2")]));
    });
    let sel = ReadSelection {
        columns: Some(vec![1]),
        ..ReadSelection::all()
    };
    let view = read(e, t, "k", &sel).expect("rows");
    assert_eq!(view.rows.len(), 2, "row b is live through an unselected column");
    assert_eq!(
        view.rows[0].cells.iter().map(|c| c.column).collect::<Vec<_>>(),
        vec![1]
    );
    assert!(view.rows[1].cells.is_empty());
}

fn keys_with_zero_bytes(e: &dyn Engine) {
    let t = setup(e);
    let keys: [&[u8]; 4] = [b"a", b"a\x00", b"a\x00b", b"a\x01"];
    for (i, k) in keys.iter().enumerate() {
        let mut m = Mutation::new(
            t,
            PartitionKey {
                token: Token(7),
                key: k.to_vec(),
            },
        );
        for c in keys {
            m.rows.push(row_with(c, None, &[(1, 1, &[i as u8])]));
        }
        e.apply_sync(vec![m]).expect("apply");
    }
    for (i, k) in keys.iter().enumerate() {
        let key = PartitionKey {
            token: Token(7),
            key: k.to_vec(),
        };
        let view = e
            .read_partition(t, &key, &ReadSelection::all(), NOW)
            .expect("read")
            .expect("partition");
        assert_eq!(view.key, key);
        assert_eq!(
            clusterings(&Some(view.clone())),
            keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>()
        );
        assert!(
            view.rows
                .iter()
                .all(|r| r.cells[0].value == Value::Bytes(vec![i as u8]))
        );
    }
    let scanned: Vec<Vec<u8>> = e
        .scan(
            t,
            &ScanRange::all(),
            &ReadSelection::all(),
            ScanLimits::default(),
            NOW,
        )
        .expect("scan")
        .map(|p| p.expect("partition").key.key)
        .collect();
    assert_eq!(scanned, keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>());
    let sel = ReadSelection {
        slices: vec![slice(Bound::Excluded(b"a\x00"), Bound::Unbounded)],
        ..ReadSelection::default()
    };
    let key = PartitionKey {
        token: Token(7),
        key: b"a".to_vec(),
    };
    let view = e.read_partition(t, &key, &sel, NOW).expect("read");
    assert_eq!(
        clusterings(&view),
        vec![b"a\x01".to_vec()],
        "Excluded(a\\0) skips every row prefixed by a\\0"
    );
}

fn scan_keys(e: &dyn Engine, t: TableId, range: ScanRange, limits: ScanLimits) -> Vec<PartitionKey> {
    e.scan(t, &range, &ReadSelection::all(), limits, NOW)
        .expect("scan")
        .map(|p| p.expect("partition").key)
        .collect()
}

fn scan_token_order_and_resume(e: &dyn Engine) {
    let t = setup(e);
    let mut keys: Vec<PartitionKey> = (0..40).map(|i| pk(&format!("key{i}"))).collect();
    for k in &keys {
        let mut m = Mutation::new(t, k.clone());
        m.rows.push(row_with(b"r", Some(1), &[]));
        e.apply_sync(vec![m]).expect("apply");
    }
    // A partition with only dead data is skipped.
    apply(e, t, "dead", |m| m.partition_deletion = Some(del(5)));
    keys.sort();
    assert_eq!(scan_keys(e, t, ScanRange::all(), ScanLimits::default()), keys);
    let mid = keys[20].clone();
    let after = ScanRange {
        start: ScanStart::Key {
            key: mid.clone(),
            inclusive: false,
        },
        end: TokenBound::Unbounded,
    };
    assert_eq!(scan_keys(e, t, after, ScanLimits::default()), keys[21..].to_vec());
    let at = ScanRange {
        start: ScanStart::Key {
            key: mid.clone(),
            inclusive: true,
        },
        end: TokenBound::Unbounded,
    };
    assert_eq!(scan_keys(e, t, at, ScanLimits::default()), keys[20..].to_vec());
    let (lo, hi) = (keys[5].token, keys[30].token);
    let incl = ScanRange {
        start: ScanStart::Token(TokenBound::Inclusive(lo)),
        end: TokenBound::Inclusive(hi),
    };
    assert_eq!(
        scan_keys(e, t, incl, ScanLimits::default()),
        keys[5..=30].to_vec()
    );
    let excl = ScanRange {
        start: ScanStart::Token(TokenBound::Exclusive(lo)),
        end: TokenBound::Exclusive(hi),
    };
    assert_eq!(scan_keys(e, t, excl, ScanLimits::default()), keys[6..30].to_vec());
    let limited = ScanLimits {
        partitions: Some(3),
        rows: None,
    };
    assert_eq!(scan_keys(e, t, ScanRange::all(), limited), keys[..3].to_vec());
    let max = ScanRange {
        start: ScanStart::Token(TokenBound::Exclusive(Token(i64::MAX))),
        end: TokenBound::Unbounded,
    };
    assert!(scan_keys(e, t, max, ScanLimits::default()).is_empty());
}

fn scan_limits_and_paging(e: &dyn Engine) {
    let t = setup(e);
    for k in ["p1", "p2", "p3"] {
        five_rows_in(e, t, k);
    }
    let mut order: Vec<PartitionKey> = ["p1", "p2", "p3"].iter().map(|k| pk(k)).collect();
    order.sort();
    // Page through everything 3 rows at a time, resuming inside partitions.
    let mut seen = Vec::new();
    let mut range = ScanRange::all();
    loop {
        let page: Vec<PartitionView> = e
            .scan(
                t,
                &range,
                &ReadSelection::all(),
                ScanLimits {
                    partitions: None,
                    rows: Some(3),
                },
                NOW,
            )
            .expect("scan")
            .map(|p| p.expect("partition"))
            .collect();
        let Some(last) = page.last() else { break };
        assert!(page.iter().map(|p| p.rows.len()).sum::<usize>() <= 3);
        for p in &page {
            for r in &p.rows {
                seen.push((p.key.clone(), r.clustering.clone()));
            }
        }
        let last_row = last.rows.last().expect("rows").clustering.clone();
        range = ScanRange {
            start: ScanStart::AfterRow {
                key: last.key.clone(),
                clustering: last_row,
            },
            end: TokenBound::Unbounded,
        };
    }
    let expected: Vec<(PartitionKey, Clustering)> = order
        .iter()
        .flat_map(|k| [b"a", b"b", b"c", b"d", b"e"].map(|c| (k.clone(), Clustering::Row(c.to_vec()))))
        .collect();
    assert_eq!(seen, expected);
    // Reversed paging resumes strictly before the last row.
    let sel = ReadSelection {
        reversed: true,
        ..ReadSelection::all()
    };
    let resume = ScanRange {
        start: ScanStart::AfterRow {
            key: order[0].clone(),
            clustering: Clustering::Row(b"c".to_vec()),
        },
        end: TokenBound::Unbounded,
    };
    let first = e
        .scan(
            t,
            &resume,
            &sel,
            ScanLimits {
                partitions: Some(1),
                rows: None,
            },
            NOW,
        )
        .expect("scan")
        .next();
    let first = first.expect("partition").expect("ok");
    assert_eq!(clusterings(&Some(first)), vec![b"b".to_vec(), b"a".to_vec()]);
}

fn five_rows_in(e: &dyn Engine, t: TableId, key: &str) {
    apply(e, t, key, |m| {
        for c in [b"a", b"b", b"c", b"d", b"e"] {
            m.rows.push(row_with(c, Some(1), &[]));
        }
    });
}

fn truncate_and_drop(e: &dyn Engine) {
    let t = setup(e);
    five_rows(e, t);
    e.truncate_table(t).expect("truncate");
    assert_eq!(read(e, t, "k", &ReadSelection::all()), None);
    five_rows(e, t);
    assert!(
        read(e, t, "k", &ReadSelection::all()).is_some(),
        "writes after truncate are visible"
    );
    e.drop_table(t).expect("drop");
    assert!(e.read_partition(t, &pk("k"), &ReadSelection::all(), NOW).is_err());
    assert!(e.apply_sync(vec![Mutation::new(t, pk("k"))]).is_err());
    assert!(e.list_tables().expect("list").is_empty());
    e.drop_table(t).expect("dropping twice is fine");
    e.create_table(t, TableOptions::default()).expect("recreate");
    assert_eq!(
        read(e, t, "k", &ReadSelection::all()),
        None,
        "a recreated table starts empty"
    );
}

fn atomic_apply(e: &dyn Engine) {
    let t = setup(e);
    let missing = TableId(uuid::Uuid::from_u128(0xdead));
    let mut good = Mutation::new(t, pk("k"));
    good.rows.push(row_with(b"a", Some(1), &[]));
    let bad = Mutation::new(missing, pk("k"));
    assert!(e.apply(vec![good.clone(), bad]).is_err());
    assert_eq!(
        read(e, t, "k", &ReadSelection::all()),
        None,
        "a failed batch applies nothing"
    );
    let durable = e.apply(vec![good.clone(), good]).expect("apply");
    durable.wait().expect("durable");
    assert!(read(e, t, "k", &ReadSelection::all()).is_some());
    e.apply(Vec::new()).expect("empty").wait().expect("empty batch");
}

fn metadata_kv(e: &dyn Engine) {
    e.put_meta(b"schema/ks1", b"one").expect("put");
    e.put_meta(b"schema/ks2", b"two").expect("put");
    e.put_meta(b"schemb", b"x").expect("put");
    e.put_meta(b"tokens", b"t").expect("put");
    assert_eq!(e.get_meta(b"schema/ks1").expect("get"), Some(b"one".to_vec()));
    e.put_meta(b"schema/ks1", b"uno").expect("overwrite");
    let scanned = e.scan_meta(b"schema/").expect("scan");
    assert_eq!(
        scanned,
        vec![
            (b"schema/ks1".to_vec(), b"uno".to_vec()),
            (b"schema/ks2".to_vec(), b"two".to_vec())
        ]
    );
    e.delete_meta(b"schema/ks2").expect("delete");
    assert_eq!(e.get_meta(b"schema/ks2").expect("get"), None);
    assert_eq!(e.scan_meta(b"").expect("scan all").len(), 3);
}

fn table_options(e: &dyn Engine) {
    let t = table();
    let opts = TableOptions {
        gc_grace_seconds: 5,
        default_ttl: Some(60),
    };
    e.create_table(t, opts).expect("create");
    assert_eq!(e.table_options(t).expect("opts"), Some(opts));
    let opts2 = TableOptions {
        gc_grace_seconds: 0,
        default_ttl: None,
    };
    e.set_table_options(t, opts2).expect("set");
    assert_eq!(e.table_options(t).expect("opts"), Some(opts2));
    assert!(
        e.set_table_options(TableId(uuid::Uuid::from_u128(1)), opts)
            .is_err()
    );
    assert_eq!(
        e.table_options(TableId(uuid::Uuid::from_u128(1))).expect("opts"),
        None
    );
}

/// Writes a mixed workload used by the compaction checks.
fn mixed_workload(e: &dyn Engine, t: TableId) {
    for p in 0..20 {
        let key = format!("p{p}");
        apply(e, t, &key, |m| {
            for r in 0..10u8 {
                let mut row = row_with(&[r], Some(1), &[(1, 1, b"v1"), (2, 1, b"w1")]);
                row.cells.push(Cell {
                    column: 4,
                    path: None,
                    timestamp: 1,
                    value: CellValue::CounterDelta(2),
                });
                m.rows.push(row);
            }
        });
        apply(e, t, &key, |m| {
            m.rows.push(row_with(&[1], None, &[(1, 2, b"v2")]));
            let mut r = RowMutation::new(Clustering::Row(vec![2]));
            r.deletion = Some(del(3));
            m.rows.push(r);
            m.range_tombstones.push(RangeTombstone {
                start: Bound::Included(vec![5]),
                end: Bound::Excluded(vec![7]),
                deletion: del(1),
            });
            let mut r = RowMutation::new(Clustering::Row(vec![8]));
            r.cells.push(Cell {
                column: 4,
                path: None,
                timestamp: 2,
                value: CellValue::CounterDelta(3),
            });
            r.cells.push(Cell {
                column: 2,
                path: None,
                timestamp: 2,
                value: CellValue::Tombstone {
                    local_deletion_time: NOW - 100,
                },
            });
            m.rows.push(r);
            if p % 5 == 0 {
                m.partition_deletion = Some(del(1));
            }
        });
    }
}

fn scan_all(e: &dyn Engine, t: TableId, now: i64) -> Vec<PartitionView> {
    e.scan(
        t,
        &ScanRange::all(),
        &ReadSelection::all(),
        ScanLimits::default(),
        now,
    )
    .expect("scan")
    .map(|p| p.expect("partition"))
    .collect()
}

fn compaction_preserves_reads(e: &dyn Engine) {
    let t = setup(e);
    mixed_workload(e, t);
    let before = scan_all(e, t, NOW);
    assert!(!before.is_empty());
    e.flush().expect("flush");
    assert_eq!(scan_all(e, t, NOW), before);
    e.major_compact(t, NOW).expect("compact");
    assert_eq!(scan_all(e, t, NOW), before);
    assert!(e.table_size_bytes(t).is_ok());
    assert!(e.disk_usage_bytes().is_ok());
}

fn tombstone_gc_keeps_deleted_data_deleted(e: &dyn Engine) {
    let t = table();
    e.create_table(
        t,
        TableOptions {
            gc_grace_seconds: 0,
            default_ttl: None,
        },
    )
    .expect("create");
    mixed_workload(e, t);
    let before = scan_all(e, t, NOW);
    e.flush().expect("flush");
    // Every tombstone is past gc_grace at NOW + 1000: purging must not resurrect anything.
    e.major_compact(t, NOW + 1000).expect("compact");
    assert_eq!(scan_all(e, t, NOW), before);
}

// ---------------------------------------------------------------------------------------------
// Randomized differential testing.

/// A small deterministic PRNG (SplitMix64), so failures reproduce from the seed alone.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, alphabet: &[u8], max_len: u64) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize])
            .collect()
    }
}

const KEY_ALPHABET: &[u8] = &[0x00, 0x01, b'a', b'b', 0xFF];

fn random_bound(rng: &mut Rng) -> ClusteringBound {
    let p = rng.bytes(KEY_ALPHABET, 2);
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(p),
        _ => Bound::Excluded(p),
    }
}

fn random_deletion(rng: &mut Rng) -> Deletion {
    Deletion {
        timestamp: rng.below(20) as i64,
        local_deletion_time: NOW - rng.below(50) as i64,
    }
}

fn random_ttl(rng: &mut Rng) -> Option<Ttl> {
    rng.chance(25).then(|| Ttl {
        ttl_seconds: 30,
        expires_at: NOW - 10 + rng.below(20) as i64,
    })
}

/// Builds one random mutation. Columns 0–2 are regular, 3 is a collection, 4 a counter.
pub fn random_mutation(rng: &mut Rng, table: TableId, partitions: u64) -> Mutation {
    let raw = vec![rng.below(partitions) as u8, 0];
    // A few partitions share a token to exercise key-byte ordering within a token.
    let key = if raw[0] % 4 == 0 {
        PartitionKey {
            token: Token(42),
            key: raw,
        }
    } else {
        PartitionKey::new(raw)
    };
    let mut m = Mutation::new(table, key);
    if rng.chance(5) {
        m.partition_deletion = Some(random_deletion(rng));
    }
    if rng.chance(10) {
        m.range_tombstones.push(RangeTombstone {
            start: random_bound(rng),
            end: random_bound(rng),
            deletion: random_deletion(rng),
        });
    }
    for _ in 0..rng.below(3) {
        let clustering = if rng.chance(15) {
            Clustering::Static
        } else {
            Clustering::Row(rng.bytes(KEY_ALPHABET, 3))
        };
        let mut r = RowMutation::new(clustering);
        if rng.chance(30) && r.clustering != Clustering::Static {
            r.marker = Some(Marker {
                timestamp: rng.below(20) as i64,
                ttl: random_ttl(rng),
            });
        }
        if rng.chance(8) {
            r.deletion = Some(random_deletion(rng));
        }
        if rng.chance(8) {
            r.column_deletions.push((3, random_deletion(rng)));
        }
        for _ in 0..rng.below(4) {
            let column = rng.below(5) as u32;
            let timestamp = rng.below(20) as i64;
            let path = (column == 3).then(|| rng.bytes(KEY_ALPHABET, 2));
            let value = if column == 4 {
                if rng.chance(5) {
                    CellValue::Tombstone {
                        local_deletion_time: NOW,
                    }
                } else {
                    CellValue::CounterDelta(rng.below(10) as i64 - 3)
                }
            } else if rng.chance(15) {
                CellValue::Tombstone {
                    local_deletion_time: NOW - rng.below(50) as i64,
                }
            } else {
                CellValue::Live {
                    value: rng.bytes(b"xyz", 2),
                    ttl: random_ttl(rng),
                }
            };
            r.cells.push(Cell {
                column,
                path,
                timestamp,
                value,
            });
        }
        m.rows.push(r);
    }
    m
}

/// Builds a random read selection (slices, static row, order, limit, columns).
pub fn random_selection(rng: &mut Rng) -> ReadSelection {
    let mut slices: Vec<(ClusteringBound, ClusteringBound)> = Vec::new();
    if rng.chance(50) {
        // Sorted, non-overlapping slices built from sorted cut points.
        let mut cuts: Vec<Vec<u8>> = (0..rng.below(4) * 2)
            .map(|_| rng.bytes(KEY_ALPHABET, 2))
            .collect();
        cuts.sort();
        cuts.dedup();
        for pair in cuts.chunks_exact(2) {
            let start = if rng.chance(50) {
                Bound::Included(pair[0].clone())
            } else {
                Bound::Excluded(pair[0].clone())
            };
            let end = if rng.chance(50) {
                Bound::Included(pair[1].clone())
            } else {
                Bound::Excluded(pair[1].clone())
            };
            // Prefix bounds can still overlap (e.g. end Included("a") then start Included("ab")); keep
            // only slices whose start lies after every earlier end.
            let overlaps = slices.last().is_some_and(|(_, prev_end)| match prev_end {
                Bound::Included(p) | Bound::Excluded(p) => pair[0].starts_with(p) || pair[0] <= *p,
                Bound::Unbounded => true,
            });
            if !overlaps {
                slices.push((start, end));
            }
        }
    }
    ReadSelection {
        slices,
        include_static: rng.chance(70),
        reversed: rng.chance(30),
        limit_rows: rng.chance(30).then(|| rng.below(4) as usize),
        columns: rng.chance(20).then(|| vec![rng.below(5) as u32, 3]),
    }
}

/// Applies `ops` random mutation batches (seeded) to `engine` and to a [`MemoryEngine`], checking
/// after every few batches that point reads and scans agree at several clocks. Panics with the
/// seed on the first disagreement. `engine` must be fresh, and any background TTL expiry it does
/// must use a clock before `NOW - 12` (the earliest clock this workload reads at).
pub fn differential<E: Engine + ?Sized>(engine: &E, seed: u64, ops: usize) {
    // Separate streams: the workload does not depend on how many checks run.
    let mut rng = Rng::new(seed);
    let mut check = Rng::new(seed ^ 0xC0FF_EE00_D15E_A5E5);
    let model = MemoryEngine::new();
    let t = TableId(uuid::Uuid::from_u128(0xd1ff));
    let partitions = 12;
    // A short gc_grace so that purges during the run really drop tombstones.
    let options = TableOptions {
        gc_grace_seconds: 5,
        default_ttl: None,
    };
    engine.create_table(t, options).expect("create");
    model.create_table(t, options).expect("create");
    let mut live_reads = 0usize;
    for op in 0..ops {
        let batch: Vec<Mutation> = (0..1 + rng.below(3))
            .map(|_| random_mutation(&mut rng, t, partitions))
            .collect();
        engine.apply_sync(batch.clone()).expect("apply");
        model.apply_sync(batch).expect("apply");
        if rng.chance(3) {
            engine.flush().expect("flush");
        }
        if rng.chance(3) {
            // Both engines purge with identical rules, so they must still agree afterwards.
            let now = NOW - 12 + rng.below(25) as i64;
            engine.major_compact(t, now).expect("compact");
            model.major_compact(t, now).expect("compact");
        }
        if op % 5 != 4 {
            continue;
        }
        for _ in 0..4 {
            let sel = random_selection(&mut check);
            let now = NOW - 12 + check.below(25) as i64;
            let raw = vec![check.below(partitions) as u8, 0];
            let key = if raw[0] % 4 == 0 {
                PartitionKey {
                    token: Token(42),
                    key: raw,
                }
            } else {
                PartitionKey::new(raw)
            };
            let got = engine.read_partition(t, &key, &sel, now).expect("read");
            let want = model.read_partition(t, &key, &sel, now).expect("read");
            live_reads += usize::from(want.is_some());
            // The raw read, turned into a live view, is the live read.
            let raw = engine.read_partition_raw(t, &key, &sel, now).expect("raw read");
            assert_eq!(
                raw.as_ref().and_then(|r| crate::merge::live_view(r, &sel, now)),
                want,
                "differential raw read mismatch (seed {seed}, op {op}, key {key:?}, now {now}, selection {sel:?})"
            );
            assert_eq!(
                got, want,
                "differential read mismatch (seed {seed}, op {op}, key {key:?}, now {now}, selection {sel:?})"
            );
            let limits = ScanLimits {
                partitions: check.chance(30).then(|| check.below(5) as usize),
                rows: check.chance(30).then(|| 1 + check.below(6) as usize),
            };
            let range = if check.chance(50) {
                ScanRange::all()
            } else {
                ScanRange {
                    start: ScanStart::AfterRow {
                        key: key.clone(),
                        clustering: Clustering::Row(check.bytes(KEY_ALPHABET, 2)),
                    },
                    end: TokenBound::Unbounded,
                }
            };
            let got: Vec<PartitionView> = engine
                .scan(t, &range, &sel, limits, now)
                .expect("scan")
                .collect::<Result<_, _>>()
                .expect("scan");
            let want: Vec<PartitionView> = model
                .scan(t, &range, &sel, limits, now)
                .expect("scan")
                .collect::<Result<_, _>>()
                .expect("scan");
            let raw_scan: Vec<PartitionView> = engine
                .scan_raw(t, &range, &sel, limits, now)
                .expect("scan raw")
                .collect::<Result<Vec<_>, _>>()
                .expect("scan raw")
                .iter()
                .filter_map(|r| crate::merge::live_view(r, &sel, now))
                .collect();
            assert_eq!(
                raw_scan, want,
                "differential raw scan mismatch (seed {seed}, op {op}, range {range:?}, limits {limits:?}, now {now}, selection {sel:?})"
            );
            assert_eq!(
                got, want,
                "differential scan mismatch (seed {seed}, op {op}, range {range:?}, limits {limits:?}, now {now}, selection {sel:?})"
            );
        }
    }
    assert!(
        ops < 50 || live_reads > 0,
        "seed {seed}: the workload never produced live data"
    );
}
