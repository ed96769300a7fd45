//! `nodetool repair [-pr] [-full] [keyspace [tables...]]`: argument handling, the admin API call and
//! Cassandra 4.1's progress output (`[yyyy-MM-dd HH:mm:ss,SSS] message` lines, then on failure
//! "error: Repair job has failed with the error message: ...").

use mica_node_admin_api as api;

use crate::{AdminClient, NodetoolError};

/// Flags Cassandra's `nodetool repair` accepts that Mica ignores because they do not change a full repair
/// of all datacenters (`-seq`/`-dcpar` only change how Cassandra schedules validation, `-os` how it streams).
const IGNORED_FLAGS: &[&str] = &[
    "-seq",
    "--sequential",
    "-dcpar",
    "--dc-parallel",
    "-os",
    "--optimise-streams",
    "--ignore-unreplicated-keyspaces",
];

impl AdminClient {
    pub fn repair(&self, request: &api::RepairRequest) -> Result<api::RepairReport, NodetoolError> {
        self.post_json(api::REPAIR, request)
    }
}

/// Parses `repair`'s arguments.
pub fn parse(args: &[String]) -> Result<api::RepairRequest, NodetoolError> {
    let mut request = api::RepairRequest::default();
    let mut names = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-pr" | "--partitioner-range" => request.primary_range = true,
            "-full" | "--full" => request.full = true,
            "-inc" => {
                return Err(NodetoolError::Usage(
                    "Mica does not support incremental repair; run a full repair (-full)".into(),
                ));
            }
            flag if IGNORED_FLAGS.contains(&flag) => {}
            flag if flag.starts_with('-') => {
                return Err(NodetoolError::Usage(format!(
                    "repair: unsupported option '{flag}'; supported: -pr, -full, -seq, -dcpar, -os"
                )));
            }
            name => names.push(name.to_owned()),
        }
    }
    let mut names = names.into_iter();
    request.keyspace = names.next();
    request.tables = names.collect();
    Ok(request)
}

/// Runs `nodetool repair`.
pub fn run(client: &AdminClient, args: &[String]) -> Result<String, NodetoolError> {
    let report = client.repair(&parse(args)?)?;
    render(&report)
}

/// The progress lines of every command; an error carrying them when a command failed.
pub fn render(report: &api::RepairReport) -> Result<String, NodetoolError> {
    let mut out = String::new();
    for command in &report.commands {
        for event in &command.events {
            out.push_str(&format!("[{}] {}\n", timestamp(event.time_ms), event.message));
        }
        if !command.success {
            let why = command.error.clone().unwrap_or_else(|| "Repair failed".into());
            return Err(NodetoolError::Failed {
                output: out,
                message: format!(
                    "Repair job has failed with the error message: {why}. Check the logs on the repair participants \
                     for further details"
                ),
            });
        }
    }
    Ok(out)
}

/// `yyyy-MM-dd HH:mm:ss,SSS` in UTC.
fn timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_parse_like_cassandra() {
        let r = parse(&strings(&["-pr", "-full", "ks", "t1", "t2"])).expect("parse");
        assert!(r.primary_range && r.full);
        assert_eq!(r.keyspace.as_deref(), Some("ks"));
        assert_eq!(r.tables, ["t1", "t2"]);
        assert_eq!(parse(&[]).expect("parse"), api::RepairRequest::default());
        assert!(parse(&strings(&["-inc", "ks"])).is_err());
        assert!(parse(&strings(&["--frob"])).is_err());
    }

    #[test]
    fn timestamps_are_cassandra_shaped() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00,000");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14 22:13:20,123");
    }

    #[test]
    fn failures_keep_the_progress_printed_before_them() {
        let report = api::RepairReport {
            commands: vec![api::RepairCommand {
                keyspace: "ks".into(),
                command: Some(1),
                events: vec![api::RepairEvent {
                    time_ms: 0,
                    message: "Repair command #1 failed with error Endpoint not alive: /127.0.0.3:7000".into(),
                }],
                success: false,
                error: Some("Repair command #1 failed with error Endpoint not alive: /127.0.0.3:7000".into()),
                ranges_repaired: 0,
                ranges_failed: 8,
                partitions_repaired: 0,
                mutations_sent: 0,
            }],
        };
        match render(&report) {
            Err(NodetoolError::Failed { output, message }) => {
                assert!(output.starts_with("[1970-01-01 00:00:00,000] Repair command #1 failed"));
                assert_eq!(
                    message,
                    "Repair job has failed with the error message: Repair command #1 failed with error Endpoint \
                     not alive: /127.0.0.3:7000. Check the logs on the repair participants for further details"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
