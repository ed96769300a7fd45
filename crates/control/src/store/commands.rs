//! The store's `commands` table: resources of commands started by `invokeCommandAsync`, so
//! `GET clusters/{c}/commands/{id}` answers after the command finished and across control-plane restarts.

use mica_control_api::{CommandPublicResource, CommandStatus};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now_seconds};

/// What a command that was still running when the control plane stopped reports as its error output.
pub const INTERRUPTED: &str = "the control plane restarted while the command was running; run it again";

impl Store {
    /// Records a new command (or overwrites a known one with its progress).
    pub fn save_command(&self, cluster: &str, command: &CommandPublicResource) -> Result<()> {
        self.lock().execute(
            "INSERT INTO commands (id, cluster, enqueued, resource) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET resource = excluded.resource",
            params![
                command.command_id,
                cluster,
                i64::try_from(command.enqueued_time).unwrap_or(i64::MAX),
                serde_json::to_string(command)?,
            ],
        )?;
        Ok(())
    }

    /// One command of a cluster.
    pub fn command(&self, cluster: &str, id: &str) -> Result<Option<CommandPublicResource>> {
        let raw: Option<String> = self
            .lock()
            .query_row(
                "SELECT resource FROM commands WHERE cluster = ?1 AND id = ?2",
                [cluster, id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Every command of a cluster, oldest first.
    pub fn commands(&self, cluster: &str) -> Result<Vec<CommandPublicResource>> {
        let conn = self.lock();
        let mut statement =
            conn.prepare("SELECT resource FROM commands WHERE cluster = ?1 ORDER BY enqueued, rowid")?;
        let raw: Vec<String> = statement
            .query_map([cluster], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        raw.iter()
            .map(|r| serde_json::from_str(r).map_err(Into::into))
            .collect()
    }

    /// Marks commands that were Enqueued or Processing as Failed: they ran on a thread of a control plane that
    /// is gone (called once at start, before the API serves). Returns how many there were.
    pub fn fail_interrupted_commands(&self) -> Result<usize> {
        let rows: Vec<(String, String)> = {
            let conn = self.lock();
            let mut statement = conn.prepare("SELECT cluster, resource FROM commands")?;
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut failed = 0;
        for (cluster, raw) in rows {
            let mut command: CommandPublicResource = serde_json::from_str(&raw)?;
            if !command.status.is_terminal() {
                command.status = CommandStatus::Failed;
                command.error_output = Some(INTERRUPTED.to_owned());
                command.end_time = Some(now_seconds());
                self.save_command(&cluster, &command)?;
                failed += 1;
            }
        }
        Ok(failed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mica_control_api::ClusterProperties;

    use super::*;
    use crate::store::new_operation;

    fn command(id: &str, enqueued: u64) -> CommandPublicResource {
        CommandPublicResource {
            command_id: id.into(),
            command: "status".into(),
            arguments: Default::default(),
            host: "127.0.0.1".into(),
            is_admin: false,
            cassandra_stop_start: false,
            read_write: false,
            status: CommandStatus::Enqueued,
            result: String::new(),
            error_output: None,
            exit_code: None,
            output_file: None,
            enqueued_time: enqueued,
            start_time: None,
            end_time: None,
        }
    }

    #[test]
    fn commands_are_kept_per_cluster_and_interrupted_ones_fail_at_restart() {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &ClusterProperties::default(), None, &op)
            .unwrap();
        store.save_command("c1", &command("b", 2)).unwrap();
        // Same second: kept in the order they were accepted, whatever their ids.
        store.save_command("c1", &command("0", 2)).unwrap();
        let mut done = command("a", 1);
        done.status = CommandStatus::Finished;
        done.exit_code = Some(0);
        store.save_command("c1", &done).unwrap();
        let ids: Vec<String> = store
            .commands("c1")
            .unwrap()
            .into_iter()
            .map(|c| c.command_id)
            .collect();
        assert_eq!(ids, ["a", "b", "0"]);
        assert!(store.command("c2", "a").unwrap().is_none());
        assert_eq!(store.fail_interrupted_commands().unwrap(), 2);
        let b = store.command("c1", "b").unwrap().unwrap();
        assert_eq!(b.status, CommandStatus::Failed);
        assert_eq!(b.error_output.as_deref(), Some(INTERRUPTED));
        assert_eq!(store.command("c1", "a").unwrap().unwrap(), done);
        // Deleting the cluster deletes its commands.
        store.delete_cluster("c1").unwrap();
        assert!(store.commands("c1").unwrap().is_empty());
    }
}
