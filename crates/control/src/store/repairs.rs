//! The store's `repairs` table: one row per cluster with automatic repairs, holding the schedule and the
//! progress of the round in progress (see [`crate::repair`]).

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

/// A cluster's repair schedule and progress. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairRecord {
    pub cluster: String,
    /// When the next round starts (once no round is in progress).
    pub next_due: u64,
    /// When the round in progress started; `None` between rounds.
    pub round_started: Option<u64>,
    /// The round's cursor: the next node to repair is the first one at or after this (datacenter, ordinal)
    /// in the store's node order. A node whose repair runs stays under the cursor until it finished.
    pub next_node: (String, u32),
    /// Failures of the round in progress, one line per node.
    pub round_errors: Vec<String>,
    pub last_started: Option<u64>,
    /// When the last round without failures finished.
    pub last_completed: Option<u64>,
    /// The failures of the last finished round.
    pub last_error: Option<String>,
    /// Why the scheduler waits (reported in the cluster status), `None` while it does not.
    pub waiting: Option<String>,
}

impl RepairRecord {
    /// A cluster's first record: its first round is due at `next_due`.
    pub fn new(cluster: &str, next_due: u64) -> RepairRecord {
        RepairRecord {
            cluster: cluster.to_owned(),
            next_due,
            ..RepairRecord::default()
        }
    }
}

fn seconds(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

type RawRepair = (
    String,
    i64,
    Option<i64>,
    String,
    u32,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// The cluster's repair record, if the scheduler has seen the cluster.
    pub fn repair_record(&self, cluster: &str) -> Result<Option<RepairRecord>> {
        let raw: Option<RawRepair> = self
            .lock()
            .query_row(
                "SELECT cluster, next_due, round_started, next_data_center, next_ordinal, round_errors,
                        last_started, last_completed, last_error, waiting
                 FROM repairs WHERE cluster = ?1",
                [cluster],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((cluster, next_due, round_started, dc, ordinal, errors, started, completed, error, waiting)) =
            raw
        else {
            return Ok(None);
        };
        Ok(Some(RepairRecord {
            cluster,
            next_due: u64::try_from(next_due)
                .map_err(|_| StoreError::Corrupt(format!("repair next_due {next_due}")))?,
            round_started: seconds(round_started),
            next_node: (dc, ordinal),
            round_errors: serde_json::from_str(&errors)?,
            last_started: seconds(started),
            last_completed: seconds(completed),
            last_error: error,
            waiting,
        }))
    }

    /// Writes a cluster's repair record (creating it when new).
    pub fn save_repair_record(&self, record: &RepairRecord) -> Result<()> {
        self.lock().execute(
            "INSERT INTO repairs (cluster, next_due, round_started, next_data_center, next_ordinal, round_errors,
                                  last_started, last_completed, last_error, waiting)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (cluster) DO UPDATE SET next_due = ?2, round_started = ?3, next_data_center = ?4,
                next_ordinal = ?5, round_errors = ?6, last_started = ?7, last_completed = ?8, last_error = ?9,
                waiting = ?10",
            params![
                record.cluster,
                stored(record.next_due),
                record.round_started.map(stored),
                record.next_node.0,
                record.next_node.1,
                serde_json::to_string(&record.round_errors)?,
                record.last_started.map(stored),
                record.last_completed.map(stored),
                record.last_error,
                record.waiting,
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mica_control_api::ClusterProperties;

    use super::*;
    use crate::store::new_operation;

    #[test]
    fn a_repair_record_round_trips_and_goes_with_its_cluster() {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &ClusterProperties::default(), None, &op)
            .unwrap();
        assert_eq!(store.repair_record("c1").unwrap(), None);
        let mut record = RepairRecord::new("c1", 100);
        store.save_repair_record(&record).unwrap();
        assert_eq!(store.repair_record("c1").unwrap().unwrap(), record);
        record.round_started = Some(90);
        record.next_node = ("dc1".into(), 2);
        record.round_errors = vec!["dc1/1: timeout".into()];
        record.last_completed = Some(50);
        record.waiting = Some("an operation".into());
        store.save_repair_record(&record).unwrap();
        assert_eq!(store.repair_record("c1").unwrap().unwrap(), record);
        store.delete_cluster("c1").unwrap();
        assert_eq!(store.repair_record("c1").unwrap(), None);
    }
}
