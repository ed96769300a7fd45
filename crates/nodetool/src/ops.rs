//! The ring, gossip, runtime-settings and drain verbs of `nodetool`: client calls for the admin API's `ops`
//! endpoints and the argument handling of each verb ([`run`]), printed by [`crate::render_ops`].

use mica_node_admin_api as api;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::render_ops as render;
use crate::{AdminClient, NodetoolError, check, encode_query_value, unreachable};

/// The verbs [`run`] knows.
pub const VERBS: &[&str] = &[
    "describering",
    "getendpoints",
    "gossipinfo",
    "gettimeout",
    "settimeout",
    "getcompactionthroughput",
    "setcompactionthroughput",
    "getstreamthroughput",
    "setstreamthroughput",
    "drain",
    "snapshot",
    "listsnapshots",
    "clearsnapshot",
    "tpstats",
    "compactionstats",
    "netstats",
];

impl AdminClient {
    pub fn describe_ring(&self, keyspace: &str) -> Result<api::DescribeRing, NodetoolError> {
        self.get(&format!(
            "{}?keyspace={}",
            api::DESCRIBE_RING,
            encode_query_value(keyspace)
        ))
    }

    pub fn get_endpoints(
        &self,
        keyspace: &str,
        table: &str,
        key: &str,
    ) -> Result<Vec<String>, NodetoolError> {
        self.get(&format!(
            "{}?keyspace={}&table={}&key={}",
            api::GET_ENDPOINTS,
            encode_query_value(keyspace),
            encode_query_value(table),
            encode_query_value(key)
        ))
    }

    pub fn gossip_info(&self) -> Result<Vec<api::GossipEndpoint>, NodetoolError> {
        self.get(api::GOSSIP_INFO)
    }

    pub fn settings(&self) -> Result<api::RuntimeSettings, NodetoolError> {
        self.get(api::SETTINGS)
    }

    pub fn update_settings(
        &self,
        update: &api::SettingsUpdate,
    ) -> Result<api::RuntimeSettings, NodetoolError> {
        self.post_json(api::SETTINGS, update)
    }

    /// POSTs a JSON body and reads a JSON answer.
    pub fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, NodetoolError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .map_err(|e| unreachable(&url, e))?;
        check(response)?
            .body_mut()
            .read_json::<T>()
            .map_err(|e| NodetoolError::BadAnswer(e.to_string()))
    }
}

fn usage(text: impl Into<String>) -> NodetoolError {
    NodetoolError::Usage(text.into())
}

/// A non-negative whole number argument.
fn number(text: &str, what: &str) -> Result<u64, NodetoolError> {
    text.parse::<u64>().map_err(|_| {
        usage(format!(
            "{what} must be a non-negative whole number, not '{text}'"
        ))
    })
}

fn timeout_types() -> String {
    format!("{} (general rpc_timeout_in_ms)", api::TIMEOUT_TYPES.join(", "))
}

/// Runs one of [`VERBS`]; `None` when `verb` is not one of them.
pub fn run(client: &AdminClient, verb: &str, args: &[String]) -> Option<Result<String, NodetoolError>> {
    let result = match verb {
        "describering" => match args {
            [keyspace] => client.describe_ring(keyspace).map(|r| render::describe_ring(&r)),
            _ => Err(usage("describering requires a keyspace argument")),
        },
        "getendpoints" => match args {
            [keyspace, table, key] => client
                .get_endpoints(keyspace, table, key)
                .map(|e| render::endpoints(&e)),
            _ => Err(usage(
                "getendpoints requires keyspace, table and partition key arguments",
            )),
        },
        "gossipinfo" => client.gossip_info().map(|g| render::gossip_info(&g)),
        "gettimeout" => match args {
            [kind] => get_timeout(client, kind),
            _ => Err(usage(format!(
                "gettimeout requires a timeout type, one of ({})",
                timeout_types()
            ))),
        },
        "settimeout" => match args {
            [kind, ms] => number(ms, "Timeout").and_then(|ms| {
                client
                    .update_settings(&api::SettingsUpdate {
                        timeout: Some((kind.clone(), ms)),
                        ..Default::default()
                    })
                    .map(|_| String::new())
            }),
            _ => Err(usage(format!(
                "Timeout type followed by value in ms (0 disables socket streaming timeout). Type should be one \
                 of ({})",
                timeout_types()
            ))),
        },
        "getcompactionthroughput" => client
            .settings()
            .map(|s| render::compaction_throughput(s.compaction_throughput_mib_per_sec)),
        "setcompactionthroughput" => match args {
            [value] => number(value, "compaction_throughput").and_then(|v| {
                client
                    .update_settings(&api::SettingsUpdate {
                        compaction_throughput_mib_per_sec: Some(v),
                        ..Default::default()
                    })
                    .map(|_| String::new())
            }),
            _ => Err(usage("setcompactionthroughput requires a value in MB/s")),
        },
        "getstreamthroughput" => client
            .settings()
            .map(|s| render::stream_throughput(s.stream_throughput_mbit_per_sec)),
        "setstreamthroughput" => match args {
            [value] => number(value, "stream_throughput").and_then(|v| {
                client
                    .update_settings(&api::SettingsUpdate {
                        stream_throughput_mbit_per_sec: Some(v),
                        ..Default::default()
                    })
                    .map(|_| String::new())
            }),
            _ => Err(usage("setstreamthroughput requires a value in Mb/s")),
        },
        "drain" => client.post(api::DRAIN, None).map(|_| String::new()),
        "snapshot" => snapshot(client, args),
        "listsnapshots" => client
            .get::<Vec<api::SnapshotDetails>>(api::LIST_SNAPSHOTS)
            .map(|s| render::list_snapshots(&s)),
        "clearsnapshot" => clear_snapshot(client, args),
        "tpstats" => client
            .get::<api::ActivityStats>(api::ACTIVITY)
            .map(|a| render::tpstats(&a)),
        "compactionstats" => client
            .get::<api::ActivityStats>(api::ACTIVITY)
            .map(|a| render::compaction_stats(&a)),
        "netstats" => client
            .get::<api::ActivityStats>(api::ACTIVITY)
            .map(|a| render::netstats(&a)),
        _ => return None,
    };
    Some(result)
}

/// `snapshot [-t <tag>] [-sf] [keyspace...]`.
fn snapshot(client: &AdminClient, args: &[String]) -> Result<String, NodetoolError> {
    let mut tag = None;
    let mut skip_flush = false;
    let mut keyspaces = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-t" | "--tag" => {
                tag = Some(
                    rest.next()
                        .ok_or_else(|| usage("-t needs a snapshot name"))?
                        .clone(),
                )
            }
            "-sf" | "--skip-flush" => skip_flush = true,
            other if other.starts_with('-') => {
                return Err(usage(format!("snapshot: option {other} is not supported")));
            }
            keyspace => keyspaces.push(keyspace.to_owned()),
        }
    }
    let taken: api::SnapshotTaken = client.post_json(
        api::SNAPSHOT,
        &api::SnapshotRequest {
            tag,
            keyspaces: keyspaces.clone(),
        },
    )?;
    Ok(render::snapshot(&keyspaces, &taken.tag, skip_flush))
}

/// `clearsnapshot [-t <tag>] [--all] [keyspace...]`.
fn clear_snapshot(client: &AdminClient, args: &[String]) -> Result<String, NodetoolError> {
    let mut tag: Option<String> = None;
    let mut all = false;
    let mut keyspaces = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-t" => {
                tag = Some(
                    rest.next()
                        .ok_or_else(|| usage("-t needs a snapshot name"))?
                        .clone(),
                )
            }
            "--all" => all = true,
            other if other.starts_with('-') => {
                return Err(usage(format!("clearsnapshot: option {other} is not supported")));
            }
            keyspace => keyspaces.push(keyspace.to_owned()),
        }
    }
    let tag = tag.filter(|t| !t.is_empty());
    match (&tag, all) {
        (None, false) => return Err(usage("Specify snapshot name or --all")),
        (Some(_), true) => return Err(usage("Specify only one of snapshot name or --all")),
        _ => {}
    }
    let url = format!("{}{}", client.base, api::CLEAR_SNAPSHOT);
    let response = client
        .agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", client.token))
        .send_json(&api::ClearSnapshotRequest {
            tag: tag.clone(),
            all,
            keyspaces: keyspaces.clone(),
        })
        .map_err(|e| unreachable(&url, e))?;
    check(response)?;
    Ok(render::clear_snapshot(&keyspaces, tag.as_deref()))
}

fn get_timeout(client: &AdminClient, kind: &str) -> Result<String, NodetoolError> {
    let lower = kind.to_ascii_lowercase();
    let name = if lower == "cas" {
        "cascontention".to_owned()
    } else {
        lower
    };
    let settings = client.settings()?;
    match settings.timeouts_ms.get(&name) {
        Some(ms) => Ok(render::timeout(kind, *ms)),
        None => Err(usage(format!(
            "Invalid timeout type {kind}; valid types are ({})",
            timeout_types()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_errors_are_usage_errors() {
        let client = AdminClient::new("127.0.0.1", 1, "t");
        let err = run(&client, "describering", &[])
            .expect("known verb")
            .expect_err("no keyspace");
        assert!(err.to_string().contains("requires a keyspace"), "{err}");
        let err = run(&client, "settimeout", &["read".into(), "-1".into()])
            .expect("known verb")
            .expect_err("negative");
        assert!(err.to_string().contains("non-negative"), "{err}");
        assert!(run(&client, "frobnicate", &[]).is_none());
    }
}
