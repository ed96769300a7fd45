//! Conformance cases for raw reads ([`Engine::read_partition_raw`], [`Engine::scan_raw`]): deletions
//! at every level come back, shadowed data does not, limits count live rows only.

use super::{NOW, apply, del, live, pk, read, row_with, setup};
use crate::engine::Engine;
use crate::merge::live_view;
use crate::types::*;
use std::ops::Bound;

fn raw(e: &dyn Engine, t: TableId, key: &str, sel: &ReadSelection) -> Option<Mutation> {
    e.read_partition_raw(t, &pk(key), sel, NOW).expect("raw read")
}

/// Asserts that the raw read turned into a live view equals the engine's own live read.
fn check_live(e: &dyn Engine, t: TableId, key: &str, sel: &ReadSelection) -> Option<Mutation> {
    let r = raw(e, t, key, sel);
    let view = r.as_ref().and_then(|r| live_view(r, sel, NOW));
    assert_eq!(
        view,
        read(e, t, key, sel),
        "live view of raw read, selection {sel:?}"
    );
    r
}

fn rows_of(m: &Option<Mutation>) -> Vec<Clustering> {
    m.iter()
        .flat_map(|m| &m.rows)
        .map(|r| r.clustering.clone())
        .collect()
}

fn row_c(c: &[u8]) -> Clustering {
    Clustering::Row(c.to_vec())
}

pub(super) fn raw_deletions_and_shadowing(e: &dyn Engine) {
    let t = setup(e);
    let rt = |s: &[u8], end: &[u8], ts: i64| RangeTombstone {
        start: Bound::Included(s.to_vec()),
        end: Bound::Included(end.to_vec()),
        deletion: del(ts),
    };
    apply(e, t, "k", |m| {
        m.partition_deletion = Some(del(5));
        m.range_tombstones.push(rt(b"a", b"c", 10));
        // Shadowed by the partition deletion.
        m.range_tombstones.push(rt(b"x", b"y", 4));
        // Contained in a newer range tombstone.
        m.range_tombstones.push(rt(b"b", b"b", 9));
        m.rows
            .push(row_with(b"b", Some(8), &[(1, 12, b"x"), (2, 3, b"old")]));
        let mut d = row_with(b"d", None, &[(1, 15, b"gone")]);
        d.deletion = Some(del(20));
        m.rows.push(d);
        let mut e_row = row_with(b"e", None, &[(1, 12, b"v")]);
        e_row.column_deletions.push((3, del(11)));
        e_row.cells.push(Cell {
            path: Some(b"p".to_vec()),
            ..live(3, 9, b"shadowed")
        });
        e_row.cells.push(Cell {
            path: Some(b"q".to_vec()),
            ..live(3, 12, b"kept")
        });
        m.rows.push(e_row);
        let mut s = RowMutation::new(Clustering::Static);
        s.cells.push(live(1, 7, b"s"));
        m.rows.push(s);
    });
    apply(e, t, "k", |m| {
        let mut r = RowMutation::new(row_c(b"e"));
        r.cells.push(Cell {
            value: CellValue::Tombstone {
                local_deletion_time: NOW,
            },
            ..live(1, 13, b"")
        });
        m.rows.push(r);
    });
    let got = check_live(e, t, "k", &ReadSelection::all()).expect("raw partition");
    let mut want = Mutation::new(t, pk("k"));
    want.partition_deletion = Some(del(5));
    want.range_tombstones.push(rt(b"a", b"c", 10));
    let mut s = RowMutation::new(Clustering::Static);
    s.cells.push(live(1, 7, b"s"));
    let b = row_with(b"b", None, &[(1, 12, b"x")]);
    let mut d = RowMutation::new(row_c(b"d"));
    d.deletion = Some(del(20));
    let mut e_row = RowMutation::new(row_c(b"e"));
    e_row.column_deletions.push((3, del(11)));
    e_row.cells.push(Cell {
        value: CellValue::Tombstone {
            local_deletion_time: NOW,
        },
        ..live(1, 13, b"")
    });
    e_row.cells.push(Cell {
        path: Some(b"q".to_vec()),
        ..live(3, 12, b"kept")
    });
    want.rows = vec![s, b, d, e_row];
    assert_eq!(got, want);
    // A slice returns only the range tombstones that intersect it, and its rows.
    let sel = ReadSelection {
        slices: vec![(Bound::Included(b"d".to_vec()), Bound::Unbounded)],
        ..ReadSelection::default()
    };
    let got = check_live(e, t, "k", &sel).expect("raw partition");
    assert!(got.range_tombstones.is_empty());
    assert_eq!(got.partition_deletion, Some(del(5)));
    assert_eq!(rows_of(&Some(got)), vec![row_c(b"d"), row_c(b"e")]);
    assert_eq!(raw(e, t, "absent", &ReadSelection::all()), None);
}

pub(super) fn raw_limits_reversed_columns(e: &dyn Engine) {
    let t = setup(e);
    apply(e, t, "k", |m| {
        m.rows
            .push(row_with(b"r1", Some(1), &[(1, 1, b"a"), (2, 1, b"b")]));
        let mut r2 = RowMutation::new(row_c(b"r2"));
        r2.deletion = Some(del(1));
        m.rows.push(r2);
        m.rows.push(row_with(b"r3", None, &[(2, 1, b"only2")]));
        let mut r4 = RowMutation::new(row_c(b"r4"));
        r4.cells.push(Cell {
            value: CellValue::Live {
                value: b"expired".to_vec(),
                ttl: Some(Ttl {
                    ttl_seconds: 5,
                    expires_at: NOW - 1,
                }),
            },
            ..live(1, 1, b"")
        });
        m.rows.push(r4);
        m.rows.push(row_with(b"r5", Some(1), &[(1, 1, b"e")]));
    });
    let limited = |limit: usize, reversed: bool| ReadSelection {
        limit_rows: Some(limit),
        reversed,
        ..ReadSelection::all()
    };
    // The tombstone-only row r2 comes along but does not count.
    let got = check_live(e, t, "k", &limited(2, false));
    assert_eq!(rows_of(&got), vec![row_c(b"r1"), row_c(b"r2"), row_c(b"r3")]);
    // Reversed: the expired row r4 comes along but does not count.
    let got = check_live(e, t, "k", &limited(2, true));
    assert_eq!(rows_of(&got), vec![row_c(b"r5"), row_c(b"r4"), row_c(b"r3")]);
    // A column restriction keeps every column's versions, but only selected columns' values.
    let sel = ReadSelection {
        columns: Some(vec![1]),
        ..ReadSelection::all()
    };
    let got = check_live(e, t, "k", &sel).expect("raw partition");
    let r3 = got
        .rows
        .iter()
        .find(|r| r.clustering == row_c(b"r3"))
        .expect("r3 is live through column 2");
    assert_eq!(
        r3.cells,
        vec![Cell {
            value: CellValue::Live {
                value: Vec::new(),
                ttl: None
            },
            ..live(2, 1, b"")
        }]
    );
    let r1 = &got.rows[0];
    assert_eq!(r1.cells[0], live(1, 1, b"a"));
    assert_eq!(
        check_live(e, t, "k", &limited(0, false)).map(|m| m.rows.len()),
        None
    );
}

pub(super) fn raw_counters(e: &dyn Engine) {
    let t = setup(e);
    for (ts, d) in [(1, 5), (3, 3), (2, -1)] {
        apply(e, t, "k", |m| {
            let mut r = RowMutation::new(row_c(b"c"));
            r.cells.push(Cell {
                column: 4,
                path: None,
                timestamp: ts,
                value: CellValue::CounterDelta(d),
            });
            m.rows.push(r);
        });
    }
    let got = check_live(e, t, "k", &ReadSelection::all()).expect("raw partition");
    assert_eq!(
        got.rows[0].cells,
        vec![Cell {
            column: 4,
            path: None,
            timestamp: 3,
            value: CellValue::CounterDelta(7),
        }]
    );
}

pub(super) fn scan_raw_tombstone_partitions(e: &dyn Engine) {
    let t = setup(e);
    for key in ["a", "b", "c", "d"] {
        apply(e, t, key, |m| match key {
            "a" | "d" => m.rows.push(row_with(b"r", Some(1), &[(1, 1, b"v")])),
            "b" => m.partition_deletion = Some(del(3)),
            _ => {
                let mut r = RowMutation::new(row_c(b"r"));
                r.deletion = Some(del(3));
                m.rows.push(r);
            }
        });
    }
    let scan = |limits: ScanLimits| -> Vec<Mutation> {
        e.scan_raw(t, &ScanRange::all(), &ReadSelection::all(), limits, NOW)
            .expect("scan raw")
            .collect::<Result<_, _>>()
            .expect("scan raw")
    };
    let all = scan(ScanLimits::default());
    assert_eq!(all.len(), 4);
    let mut keys: Vec<&PartitionKey> = all.iter().map(|m| &m.key).collect();
    let sorted = {
        let mut s = keys.clone();
        s.sort();
        s
    };
    assert_eq!(keys, sorted, "token order");
    keys.sort_by_key(|k| k.key.clone());
    assert_eq!(keys, vec![&pk("a"), &pk("b"), &pk("c"), &pk("d")]);
    let live: Vec<PartitionView> = all
        .iter()
        .filter_map(|m| live_view(m, &ReadSelection::all(), NOW))
        .collect();
    let scanned: Vec<PartitionView> = e
        .scan(
            t,
            &ScanRange::all(),
            &ReadSelection::all(),
            ScanLimits::default(),
            NOW,
        )
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("scan");
    assert_eq!(live, scanned);
    // Limits count live partitions only: the stream ends right after the first live one.
    let one = scan(ScanLimits {
        partitions: Some(1),
        rows: None,
    });
    let live_count = |ms: &[Mutation]| {
        ms.iter()
            .filter(|m| live_view(m, &ReadSelection::all(), NOW).is_some())
            .count()
    };
    assert_eq!(live_count(&one), 1);
    assert!(live_view(one.last().expect("a partition"), &ReadSelection::all(), NOW).is_some());
    assert_eq!(one[..], all[..one.len()]);
    let rows = scan(ScanLimits {
        partitions: None,
        rows: Some(2),
    });
    assert_eq!(rows[..], all[..rows.len()]);
    assert_eq!(live_count(&rows), 2);
    assert!(live_view(rows.last().expect("a partition"), &ReadSelection::all(), NOW).is_some());
}
