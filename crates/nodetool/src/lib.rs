//! `nodetool` for Mica nodes: a blocking client of the node admin HTTP API ([`AdminClient`]) and renderers that
//! print what Apache Cassandra's nodetool prints for the same verb ([`format`]). Used by `mica nodetool` and by
//! the control plane's invokeCommand, so both show users the same output.

pub mod dc;
pub mod format;
pub mod histograms;
pub mod ops;
pub mod render_dc;
pub mod render_ops;
pub mod repair;
pub mod topology_ops;

use mica_node_admin_api as api;
use serde::de::DeserializeOwned;

/// Why a nodetool command failed.
#[derive(Debug, thiserror::Error)]
pub enum NodetoolError {
    #[error("cannot reach the node admin API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{detail} (HTTP {status})")]
    Refused { status: u16, detail: String },
    #[error("unexpected answer from the node admin API: {0}")]
    BadAnswer(String),
    #[error("{0}")]
    Usage(String),
    /// A verb that printed progress before failing (`repair`): `output` is what it printed.
    #[error("{message}")]
    Failed { output: String, message: String },
}

/// A client of one node's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl AdminClient {
    /// `host:port` of the admin API and the node's admin token.
    pub fn new(host: &str, port: u16, token: &str) -> AdminClient {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(REQUEST_TIMEOUT_SECONDS)))
            .build();
        AdminClient {
            base: format!("http://{host}:{port}"),
            token: token.trim().to_owned(),
            agent: config.new_agent(),
        }
    }

    /// The same client with a shorter per-request timeout (the control plane's liveness probes must not hang
    /// on a stuck node).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> AdminClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        self.agent = config.new_agent();
        self
    }

    pub fn info(&self) -> Result<api::NodeInfo, NodetoolError> {
        self.get(api::INFO)
    }

    /// Status with ownership effective for `keyspace` (or as Cassandra decides without one).
    pub fn status(&self, keyspace: Option<&str>) -> Result<api::ClusterStatus, NodetoolError> {
        match keyspace {
            Some(ks) => self.get(&format!("{}?keyspace={}", api::STATUS, encode_query_value(ks))),
            None => self.get(api::STATUS),
        }
    }

    pub fn ring(&self) -> Result<Vec<api::RingToken>, NodetoolError> {
        self.get(api::RING)
    }

    pub fn describe_cluster(&self) -> Result<api::DescribeCluster, NodetoolError> {
        self.get(api::DESCRIBE_CLUSTER)
    }

    pub fn table_stats(
        &self,
        keyspace: Option<&str>,
        table: Option<&str>,
    ) -> Result<Vec<api::TableStats>, NodetoolError> {
        let mut path = api::TABLE_STATS.to_owned();
        let mut sep = '?';
        for (name, value) in [("keyspace", keyspace), ("table", table)] {
            if let Some(v) = value {
                path.push_str(&format!("{sep}{name}={}", encode_query_value(v)));
                sep = '&';
            }
        }
        self.get(&path)
    }

    /// POSTs a verb (flush, compact, stopdaemon, ...) with an optional JSON body.
    pub fn post(&self, path: &str, body: Option<&api::TablesRequest>) -> Result<(), NodetoolError> {
        let url = format!("{}{path}", self.base);
        let request = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token));
        let response = match body {
            Some(b) => request.send_json(b),
            None => request.send_empty(),
        }
        .map_err(|e| unreachable(&url, e))?;
        check(response).map(|_| ())
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, NodetoolError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| unreachable(&url, e))?;
        let mut response = check(response)?;
        response
            .body_mut()
            .read_json::<T>()
            .map_err(|e| NodetoolError::BadAnswer(e.to_string()))
    }
}

/// How long one admin request may take (compactions of large tables are the slow ones).
const REQUEST_TIMEOUT_SECONDS: u64 = 3600;

fn unreachable(url: &str, e: ureq::Error) -> NodetoolError {
    NodetoolError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    }
}

fn check(
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<ureq::http::Response<ureq::Body>, NodetoolError> {
    let status = response.status().as_u16();
    if status < 300 {
        return Ok(response);
    }
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let detail = serde_json::from_str::<api::Problem>(&text).map_or(text, |p| p.detail);
    Err(NodetoolError::Refused { status, detail })
}

/// Percent-encodes a query parameter value (keyspace and table names may be quoted identifiers).
fn encode_query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs one nodetool verb with its arguments and returns what nodetool prints.
pub fn run(client: &AdminClient, verb: &str, args: &[String]) -> Result<String, NodetoolError> {
    let tables = |args: &[String]| api::TablesRequest {
        keyspace: args.first().cloned(),
        tables: args.iter().skip(1).cloned().collect(),
    };
    match verb {
        "status" => Ok(format::status(&client.status(args.first().map(String::as_str))?)),
        "info" => Ok(format::info(
            &client.info()?,
            args.iter().any(|a| a == "-T" || a == "--tokens"),
        )),
        "describecluster" => Ok(format::describe_cluster(&client.describe_cluster()?)),
        "ring" => Ok(format::ring(&client.ring()?)),
        "version" => Ok(format!("ReleaseVersion: {}\n", client.info()?.release_version)),
        "tablestats" | "cfstats" => {
            let (ks, table) = match args.first().map(|a| a.split_once('.')) {
                Some(Some((k, t))) => (Some(k), Some(t)),
                Some(None) => (args.first().map(String::as_str), None),
                None => (None, None),
            };
            Ok(format::table_stats(&client.table_stats(ks, table)?))
        }
        "flush" => client
            .post(api::FLUSH, Some(&tables(args)))
            .map(|_| String::new()),
        "compact" => client
            .post(api::COMPACT, Some(&tables(args)))
            .map(|_| String::new()),
        "stopdaemon" => client.post(api::STOP_DAEMON, None).map(|_| String::new()),
        "repair" => repair::run(client, args),
        other => ops::run(client, other, args)
            .or_else(|| dc::run(client, other, args))
            .or_else(|| topology_ops::run(client, other, args))
            .or_else(|| histograms::run(client, other, args))
            .unwrap_or_else(|| {
                Err(NodetoolError::Usage(format!(
                    "nodetool: unknown or not yet supported command '{other}'; supported: {}",
                    [
                        SUPPORTED,
                        ops::VERBS,
                        dc::VERBS,
                        topology_ops::VERBS,
                        histograms::VERBS,
                    ]
                    .concat()
                    .join(", ")
                )))
            }),
    }
}

/// The verbs [`run`] knows.
pub const SUPPORTED: &[&str] = &[
    "status",
    "info",
    "describecluster",
    "ring",
    "version",
    "tablestats",
    "flush",
    "compact",
    "stopdaemon",
    "repair",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("ks_1"), "ks_1");
        assert_eq!(encode_query_value("My Table&x"), "My%20Table%26x");
    }

    #[test]
    fn unknown_verbs_say_what_is_supported() {
        let client = AdminClient::new("127.0.0.1", 1, "t");
        let err = run(&client, "frobnicate", &[]).expect_err("unknown verb");
        assert!(err.to_string().contains("supported: status, info"), "{err}");
    }
}
