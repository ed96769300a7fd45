//! `POST clusters/{c}/invokeCommand`: runs one allowlisted nodetool verb against a node's admin API through
//! `mica-nodetool`, so users see exactly what `mica nodetool` (and Cassandra's nodetool) prints, and answers
//! Azure's `CommandOutput` (`commandOutput`, `errorOutput`, `exitCode`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mica_control_api::{
    CommandOutput, CommandPostBody, CommandPublicResource, CommandStatus, ValidationError,
};

use crate::provider::Provider;
use crate::store::{NodeRecord, Store, StoreError, now_seconds};

/// The nodetool verbs users may invoke: read-only ones and the harmless maintenance ones. Verbs that stop or
/// reshape a node (stopdaemon, decommission, ...) are the control plane's own business.
pub const ALLOWED_COMMANDS: &[&str] = &[
    "status",
    "info",
    "describecluster",
    "ring",
    "version",
    "tablestats",
    "flush",
    "compact",
    "tablehistograms",
    "proxyhistograms",
    "describering",
    "getendpoints",
    "gossipinfo",
    "tpstats",
    "compactionstats",
    "netstats",
    "getcompactionthroughput",
    "getstreamthroughput",
    "gettimeout",
    "snapshot",
    "listsnapshots",
    "clearsnapshot",
    "repair",
    "cleanup",
    "rebuild",
];

/// nodetool's exit code when the command failed.
pub const FAILED_EXIT_CODE: i32 = 1;
/// How long one invoked command may take (compactions of large tables are the slow ones).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Checks the request against the allowlist and the cluster's nodes; returns the node and nodetool's argv.
pub fn resolve<'a>(
    body: &CommandPostBody,
    nodes: &'a [NodeRecord],
) -> Result<(&'a NodeRecord, Vec<String>), ValidationError> {
    let command = body.command.trim();
    // Azure accepts `nodetool status` as well as `status`.
    let verb = command.strip_prefix("nodetool ").unwrap_or(command).trim();
    if !ALLOWED_COMMANDS.contains(&verb) {
        return Err(ValidationError {
            property: "command".into(),
            message: format!(
                "the command '{}' is not allowed; use one of: {}",
                body.command,
                ALLOWED_COMMANDS.join(", ")
            ),
        });
    }
    let host: Option<IpAddr> = body.host.trim().parse().ok();
    let Some(node) = nodes.iter().find(|n| Some(n.address) == host) else {
        let known: Vec<String> = nodes.iter().map(|n| n.address.to_string()).collect();
        return Err(ValidationError {
            property: "host".into(),
            message: if known.is_empty() {
                format!(
                    "'{}' is not a node of this cluster; it has no nodes yet",
                    body.host
                )
            } else {
                format!(
                    "'{}' is not a node of this cluster; use one of: {}",
                    body.host,
                    known.join(", ")
                )
            },
        });
    };
    let mut argv = vec![verb.to_owned()];
    argv.extend(arguments(body));
    Ok((node, argv))
}

/// Azure passes arguments as a map. A key starting with `-` is a flag, followed by its value when it has one
/// (`{"-T": ""}` → `-T`); any other key names a positional argument whose value is passed
/// (`{"keyspace": "ks"}` → `ks`), or the key itself when the value is empty. Keys are taken in sorted order.
pub fn arguments(body: &CommandPostBody) -> Vec<String> {
    let mut argv = Vec::new();
    for (key, value) in &body.arguments {
        if key.starts_with('-') {
            argv.push(key.clone());
            if !value.is_empty() {
                argv.push(value.clone());
            }
        } else if value.is_empty() {
            argv.push(key.clone());
        } else {
            argv.push(value.clone());
        }
    }
    argv
}

/// Runs the verb against the node's admin API. Failures of the command itself are output, not API errors:
/// they come back with a non-zero exit code as nodetool would exit.
pub fn invoke(provider: &dyn Provider, node: &NodeRecord, argv: &[String]) -> CommandOutput {
    let Some(endpoint) = provider.admin_endpoint(node) else {
        return failed(format!(
            "nodetool: node {} has no admin API yet (it was never started)",
            node.address
        ));
    };
    let client = mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
        .with_timeout(COMMAND_TIMEOUT);
    let (verb, args) = match argv.split_first() {
        Some((verb, args)) => (verb.as_str(), args),
        None => return failed("nodetool: no command given".to_owned()),
    };
    match mica_nodetool::run(&client, verb, args) {
        Ok(output) => CommandOutput {
            command_output: output,
            error_output: None,
            exit_code: Some(0),
        },
        Err(e) => failed(format!("nodetool: {e}")),
    }
}

/// `POST clusters/{c}/invokeCommandAsync`: stores the command as Enqueued and runs it on a thread of its own;
/// the returned resource is what the API answers with 202. The thread writes Processing, then Finished (the
/// verb ran; its exit code says how it went) or Failed (the node's admin API did not answer).
pub fn start_async(
    store: &Store,
    provider: Arc<dyn Provider>,
    node: NodeRecord,
    body: &CommandPostBody,
    argv: Vec<String>,
) -> Result<CommandPublicResource, StoreError> {
    let mut command = CommandPublicResource {
        command_id: uuid::Uuid::new_v4().to_string(),
        command: body.command.clone(),
        arguments: body.arguments.clone(),
        host: body.host.trim().to_owned(),
        is_admin: false,
        cassandra_stop_start: body.cassandra_stop_start.unwrap_or(false),
        read_write: body.read_write.unwrap_or(false),
        status: CommandStatus::Enqueued,
        result: String::new(),
        error_output: None,
        exit_code: None,
        output_file: None,
        enqueued_time: now_seconds(),
        start_time: None,
        end_time: None,
    };
    let cluster = node.cluster.clone();
    store.save_command(&cluster, &command)?;
    let accepted = command.clone();
    let thread_store = store.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("command-{}", command.command_id))
        .spawn(move || {
            command.status = CommandStatus::Processing;
            command.start_time = Some(now_seconds());
            if let Err(e) = thread_store.save_command(&node.cluster, &command) {
                tracing::error!("command {}: {e}", command.command_id);
            }
            let output = invoke(provider.as_ref(), &node, &argv);
            finish(&mut command, output, provider.admin_endpoint(&node).is_some());
            if let Err(e) = thread_store.save_command(&node.cluster, &command) {
                tracing::error!("command {}: {e}", command.command_id);
            }
        });
    if let Err(e) = spawned {
        // No thread: the command fails at once rather than staying Enqueued for ever.
        let mut failed_command = accepted;
        failed_command.status = CommandStatus::Failed;
        failed_command.error_output = Some(format!("cannot start the command: {e}"));
        failed_command.end_time = Some(now_seconds());
        store.save_command(&cluster, &failed_command)?;
        return Ok(failed_command);
    }
    Ok(accepted)
}

/// Copies a finished invocation into the command resource. A node without an admin API (never started)
/// makes the command Failed; anything the verb itself reports is Finished with its exit code, as Azure
/// reports a nodetool error.
fn finish(command: &mut CommandPublicResource, output: CommandOutput, had_endpoint: bool) {
    command.status = if had_endpoint {
        CommandStatus::Finished
    } else {
        CommandStatus::Failed
    };
    command.result = output.command_output;
    command.error_output = output.error_output;
    command.exit_code = output.exit_code;
    command.end_time = Some(now_seconds());
}

fn failed(message: String) -> CommandOutput {
    CommandOutput {
        command_output: String::new(),
        error_output: Some(message),
        exit_code: Some(FAILED_EXIT_CODE),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    fn node() -> NodeRecord {
        NodeRecord {
            cluster: "c1".into(),
            data_center: "dc1".into(),
            ordinal: 0,
            address: "127.0.5.1".parse().unwrap(),
            rack: "rack1".into(),
        }
    }

    fn body(command: &str, host: &str, arguments: &[(&str, &str)]) -> CommandPostBody {
        CommandPostBody {
            command: command.into(),
            arguments: arguments
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            host: host.into(),
            cassandra_stop_start: None,
            read_write: None,
        }
    }

    #[test]
    fn allowlisted_verbs_on_known_hosts_resolve_with_their_arguments() {
        let nodes = [node()];
        let (n, argv) = resolve(&body("status", "127.0.5.1", &[]), &nodes).unwrap();
        assert_eq!((n, argv), (&nodes[0], vec!["status".to_owned()]));
        let (_, argv) = resolve(&body("nodetool info", "127.0.5.1", &[("-T", "")]), &nodes).unwrap();
        assert_eq!(argv, ["info", "-T"]);
        let (_, argv) = resolve(
            &body("flush", "127.0.5.1", &[("keyspace", "ks"), ("table", "t1")]),
            &nodes,
        )
        .unwrap();
        assert_eq!(argv, ["flush", "ks", "t1"]);
    }

    #[test]
    fn unknown_verbs_and_hosts_say_what_is_allowed() {
        let nodes = [node()];
        let e = resolve(&body("stopdaemon", "127.0.5.1", &[]), &nodes).unwrap_err();
        assert_eq!(e.property, "command");
        assert!(e.message.contains("use one of: status, info"), "{}", e.message);
        let e = resolve(&body("status", "10.0.0.1", &[]), &nodes).unwrap_err();
        assert_eq!(e.property, "host");
        assert!(e.message.contains("use one of: 127.0.5.1"), "{}", e.message);
        let e = resolve(&body("status", "x", &[]), &[]).unwrap_err();
        assert!(e.message.contains("no nodes yet"), "{}", e.message);
    }
}
