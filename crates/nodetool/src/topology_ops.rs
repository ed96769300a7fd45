//! The topology verbs of `nodetool`: `decommission` and `removenode <host id>|status|force`, client calls for
//! the admin API's topology endpoints, and the keyspace replication calls the control plane makes when it adds
//! or removes a datacenter.

use mica_node_admin_api as api;
use serde::Serialize;

use crate::{AdminClient, NodetoolError, check, unreachable};

/// The verbs [`run`] knows.
pub const VERBS: &[&str] = &["decommission", "removenode"];

impl AdminClient {
    /// POSTs a JSON body to an endpoint that answers with no content.
    fn post_body<B: Serialize>(&self, path: &str, body: &B) -> Result<(), NodetoolError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .map_err(|e| unreachable(&url, e))?;
        check(response).map(|_| ())
    }

    /// `nodetool decommission`: returns once the node has left the ring.
    pub fn decommission(&self) -> Result<(), NodetoolError> {
        self.post(api::DECOMMISSION, None)
    }

    /// `nodetool removenode <host id>`: returns once the node's ranges are re-streamed and it is removed.
    pub fn remove_node(&self, host_id: &str) -> Result<(), NodetoolError> {
        self.post_body(
            api::REMOVE_NODE,
            &api::RemoveNodeRequest {
                host_id: host_id.to_owned(),
            },
        )
    }

    pub fn removal_status(&self) -> Result<api::RemovalStatus, NodetoolError> {
        self.get(api::REMOVE_NODE_STATUS)
    }

    /// Every keyspace that replicates across nodes, with its replication map.
    pub fn keyspaces(&self) -> Result<Vec<api::KeyspaceReplication>, NodetoolError> {
        self.get(api::KEYSPACES)
    }

    /// `ALTER KEYSPACE ... WITH replication = ...`, run by the node itself.
    pub fn alter_replication(&self, keyspace: &api::KeyspaceReplication) -> Result<(), NodetoolError> {
        self.post_body(api::KEYSPACES, keyspace)
    }
}

/// Runs a topology verb; `None` when `verb` is not one.
pub fn run(client: &AdminClient, verb: &str, args: &[String]) -> Option<Result<String, NodetoolError>> {
    let result = match verb {
        "decommission" => match args {
            [] => client.decommission().map(|_| String::new()),
            _ => Err(NodetoolError::Usage("decommission takes no arguments".into())),
        },
        "removenode" => match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["status"] => client.removal_status().map(|s| format!("{}\n", s.status)),
            ["force"] => client.post(api::REMOVE_NODE_FORCE, None).map(|_| String::new()),
            [id] => client.remove_node(id).map(|_| String::new()),
            _ => Err(NodetoolError::Usage(
                "removenode requires a host ID, 'status' or 'force'".into(),
            )),
        },
        _ => return None,
    };
    Some(result)
}
