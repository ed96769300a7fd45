//! A throughput smoke test for the fjall engine (run with `--release -- --ignored`).

use mica_storage::*;
use std::time::Instant;

#[test]
#[ignore = "timing smoke test; run explicitly in release mode"]
fn fjall_throughput_smoke() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = FjallEngine::open(EngineConfig::new(dir.path())).expect("open");
    let t = TableId(uuid::Uuid::from_u128(1));
    engine.create_table(t, TableOptions::default()).expect("create");
    let partitions = 20_000u32;
    let rows = 5u32;
    let start = Instant::now();
    for chunk in (0..partitions).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<Mutation> = chunk
            .iter()
            .map(|p| {
                let mut m = Mutation::new(t, PartitionKey::new(p.to_be_bytes().to_vec()));
                for r in 0..rows {
                    let mut row = RowMutation::new(Clustering::Row(r.to_be_bytes().to_vec()));
                    row.marker = Some(Marker {
                        timestamp: 1,
                        ttl: None,
                    });
                    for c in 0..3 {
                        row.cells.push(Cell {
                            column: c,
                            path: None,
                            timestamp: 1,
                            value: CellValue::Live {
                                value: vec![7; 32],
                                ttl: None,
                            },
                        });
                    }
                    m.rows.push(row);
                }
                m
            })
            .collect();
        engine.apply_sync(batch).expect("apply");
    }
    let write = start.elapsed();
    let start = Instant::now();
    let sel = ReadSelection::all();
    for p in 0..partitions {
        let view = engine
            .read_partition(t, &PartitionKey::new(p.to_be_bytes().to_vec()), &sel, 0)
            .expect("read");
        assert_eq!(view.expect("partition").rows.len(), rows as usize);
    }
    let read = start.elapsed();
    let start = Instant::now();
    let one = ReadSelection {
        slices: vec![(
            std::ops::Bound::Included(2u32.to_be_bytes().to_vec()),
            std::ops::Bound::Included(2u32.to_be_bytes().to_vec()),
        )],
        ..ReadSelection::default()
    };
    for p in 0..partitions {
        let view = engine
            .read_partition(t, &PartitionKey::new(p.to_be_bytes().to_vec()), &one, 0)
            .expect("read");
        assert_eq!(view.expect("partition").rows.len(), 1);
    }
    let point = start.elapsed();
    let start = Instant::now();
    let n = engine
        .scan(t, &ScanRange::all(), &sel, ScanLimits::default(), 0)
        .expect("scan")
        .count();
    assert_eq!(n, partitions as usize);
    let scan = start.elapsed();
    engine.flush().expect("flush");
    let start = Instant::now();
    for p in 0..partitions {
        let view = engine
            .read_partition(t, &PartitionKey::new(p.to_be_bytes().to_vec()), &one, 0)
            .expect("read");
        assert!(view.is_some());
    }
    let point_disk = start.elapsed();
    let cells = partitions * rows * 4;
    println!(
        "write {cells} entries: {write:?} ({:.0}/s); partition reads: {read:?} ({:.0}/s); row reads: {point:?} ({:.0}/s); after flush: {point_disk:?}; scan: {scan:?}",
        cells as f64 / write.as_secs_f64(),
        partitions as f64 / read.as_secs_f64(),
        partitions as f64 / point.as_secs_f64(),
    );
}
