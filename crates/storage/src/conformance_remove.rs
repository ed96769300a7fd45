//! Conformance case for [`Engine::remove_partitions`]: the named partitions vanish with their
//! deletions (nothing left for a raw read or a scan), every other partition stays untouched.

use super::{NOW, apply, del, pk, row_with, setup};
use crate::engine::Engine;
use crate::types::*;

pub(super) fn remove_partitions_is_local_and_exact(e: &dyn Engine) {
    let t = setup(e);
    for k in ["a", "b", "c", "d\0x"] {
        apply(e, t, k, |m| {
            m.rows.push(row_with(b"r1", Some(1), &[(1, 1, b"v")]))
        });
    }
    // A partition holding only a deletion is removed as well: cleanup must not leave tombstones behind.
    apply(e, t, "gone", |m| m.partition_deletion = Some(del(5)));
    // A key that shares a byte prefix with a removed one must survive.
    apply(e, t, "ab", |m| {
        m.rows.push(row_with(b"r1", Some(1), &[(1, 1, b"w")]))
    });
    e.flush().expect("flush");
    e.remove_partitions(t, &[pk("a"), pk("d\0x"), pk("gone"), pk("never-written")])
        .expect("remove");
    let sel = ReadSelection::all();
    for k in ["a", "d\0x", "gone"] {
        assert_eq!(
            e.read_partition_raw(t, &pk(k), &sel, NOW).expect("raw"),
            None,
            "{k:?}"
        );
    }
    let left: Vec<Vec<u8>> = e
        .scan_raw(t, &ScanRange::all(), &sel, ScanLimits::default(), NOW)
        .expect("scan")
        .map(|m| m.expect("partition").key.key)
        .collect();
    let mut expected = vec![b"ab".to_vec(), b"b".to_vec(), b"c".to_vec()];
    let mut got = left.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // New writes to a removed key start from nothing.
    apply(e, t, "a", |m| {
        m.rows.push(row_with(b"r2", Some(2), &[(1, 2, b"n")]))
    });
    let view = e
        .read_partition(t, &pk("a"), &sel, NOW)
        .expect("read")
        .expect("row");
    assert_eq!(view.rows.len(), 1);
    assert!(
        e.remove_partitions(TableId(uuid::Uuid::from_u128(0xdead)), &[pk("a")])
            .is_err()
    );
}
