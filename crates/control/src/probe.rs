//! The LOCAL_QUORUM probe a rolling restart runs before it takes the next node down: a read of a keyspace the
//! probe owns (`mica_probe.probe`, NetworkTopologyStrategy with up to three replicas in every datacenter), at
//! LOCAL_QUORUM, coordinated by one chosen node over CQL/TLS verified with the cluster CA. It succeeds only
//! when that node serves CQL and a quorum of the keyspace's replicas in its datacenter answer a read, which is
//! what users' LOCAL_QUORUM traffic needs from the cluster before it loses another replica.
//!
//! Why a keyspace of its own: `system_auth` is copied to every node here (a read of it never leaves the
//! coordinator), and users' keyspaces may be replicated anywhere or nowhere. The probe's replication follows
//! the cluster's datacenters and node counts; the probe corrects it (ALTER KEYSPACE) when it differs.
//!
//! Credentials: a cluster without authentication is probed anonymously (the probe creates its keyspace itself).
//! With password authentication the control plane forgets the admin password once it is set, so the step that
//! sets it also creates a dedicated login role, `mica_probe` (not a superuser; ALL PERMISSIONS on its own
//! keyspace only), whose generated password the provider keeps next to the cluster CA (see
//! [`crate::provider::Provider::probe_password`]).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use scylla::client::session::Session;
use scylla::statement::{Consistency, Statement};

use crate::admin_password::{
    CqlTls, DEFAULT_SUPERUSER, block_on, connect_as, cql_string_literal, tls_config,
};
use crate::provider::ProviderError;
use crate::store::NodeRecord;

/// The login role the probe uses on clusters with password authentication.
pub const PROBE_ROLE: &str = "mica_probe";
/// The keyspace the probe reads (and owns).
pub const PROBE_KEYSPACE: &str = "mica_probe";
/// Replicas of the probe keyspace per datacenter (fewer when the datacenter has fewer nodes).
pub const PROBE_REPLICAS_PER_DATA_CENTER: usize = 3;
/// How long one probe statement may take.
const PROBE_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the role and keyspace creation statements may take.
const SETUP_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What one probe needs besides the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The probe role's password; `None` for a cluster without authentication.
    pub password: Option<String>,
    /// Replicas of the probe keyspace per datacenter.
    pub replication: BTreeMap<String, usize>,
}

/// The probe keyspace's replication for a cluster's nodes: up to [`PROBE_REPLICAS_PER_DATA_CENTER`] per
/// datacenter.
pub fn replication_for(nodes: &[NodeRecord]) -> BTreeMap<String, usize> {
    let mut replication = BTreeMap::new();
    for node in nodes {
        let count: &mut usize = replication.entry(node.data_center.clone()).or_default();
        *count = (*count + 1).min(PROBE_REPLICAS_PER_DATA_CENTER);
    }
    replication
}

/// The CQL replication map literal for `replication`.
pub fn replication_cql(replication: &BTreeMap<String, usize>) -> String {
    let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_owned()];
    parts.extend(
        replication
            .iter()
            .map(|(dc, rf)| format!("{}: {rf}", cql_string_literal(dc))),
    );
    format!("{{{}}}", parts.join(", "))
}

/// Whether a keyspace's replication (as `system_schema.keyspaces` shows it) is `wanted`.
pub fn replication_matches(current: &HashMap<String, String>, wanted: &BTreeMap<String, usize>) -> bool {
    let strategy_ok = current
        .get("class")
        .is_some_and(|c| c.ends_with("NetworkTopologyStrategy"));
    let dcs: Vec<(&String, &String)> = current.iter().filter(|(k, _)| *k != "class").collect();
    strategy_ok
        && dcs.len() == wanted.len()
        && dcs
            .iter()
            .all(|(dc, rf)| wanted.get(*dc).is_some_and(|w| w.to_string() == **rf))
}

/// Creates the probe role (with `probe_password`), its keyspace and table, and grants the role everything on
/// its keyspace; logged in as the `cassandra` superuser with `admin_password`. Idempotent.
pub fn create_role(
    address: IpAddr,
    port: u16,
    tls: &CqlTls,
    admin_password: &str,
    probe_password: &str,
    replication: &BTreeMap<String, usize>,
) -> Result<(), ProviderError> {
    let node = SocketAddr::new(address, port);
    block_on(async {
        let tls = tls_config(tls)?;
        let session = connect_as(node, &tls, Some((DEFAULT_SUPERUSER, admin_password)))
            .await
            .map_err(|e| {
                ProviderError::new(format!("cannot log in to {node} to create the probe role: {e}"))
            })?;
        let password = cql_string_literal(probe_password);
        let statements = [
            format!("CREATE ROLE IF NOT EXISTS {PROBE_ROLE} WITH PASSWORD = {password} AND LOGIN = true"),
            format!("ALTER ROLE {PROBE_ROLE} WITH PASSWORD = {password}"),
            create_keyspace(replication),
            create_table(),
            format!("GRANT ALL PERMISSIONS ON KEYSPACE {PROBE_KEYSPACE} TO {PROBE_ROLE}"),
        ];
        for statement in statements {
            execute(&session, node, statement, SETUP_REQUEST_TIMEOUT).await?;
        }
        Ok(())
    })
}

/// Runs the probe coordinated by the node at `address:port`; `Ok` when the LOCAL_QUORUM read answered.
pub fn run(address: IpAddr, port: u16, tls: &CqlTls, spec: &ProbeSpec) -> Result<(), ProviderError> {
    let node = SocketAddr::new(address, port);
    block_on(async {
        let tls = tls_config(tls)?;
        let credentials = spec.password.as_deref().map(|p| (PROBE_ROLE, p));
        let session = connect_as(node, &tls, credentials)
            .await
            .map_err(|e| ProviderError::new(format!("cannot connect to {node}: {e}")))?;
        ensure_keyspace(&session, node, spec).await?;
        let mut read = Statement::new(format!("SELECT id FROM {PROBE_KEYSPACE}.probe WHERE id = 0"));
        read.set_consistency(Consistency::LocalQuorum);
        read.set_request_timeout(Some(PROBE_REQUEST_TIMEOUT));
        session
            .query_unpaged(read, &[])
            .await
            .map_err(|e| ProviderError::new(format!("LOCAL_QUORUM read through {node} failed: {e}")))?;
        Ok(())
    })
}

/// Creates the probe keyspace and table when missing (clusters without authentication; with authentication
/// the setup step made them) and corrects the keyspace's replication when datacenters or node counts changed.
async fn ensure_keyspace(session: &Session, node: SocketAddr, spec: &ProbeSpec) -> Result<(), ProviderError> {
    let mut lookup = Statement::new(format!(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '{PROBE_KEYSPACE}'"
    ));
    lookup.set_consistency(Consistency::One);
    lookup.set_request_timeout(Some(PROBE_REQUEST_TIMEOUT));
    let rows = session
        .query_unpaged(lookup, &[])
        .await
        .map_err(|e| ProviderError::new(format!("reading the schema on {node} failed: {e}")))?
        .into_rows_result()
        .map_err(|e| ProviderError::new(format!("reading the schema on {node} failed: {e}")))?;
    let current: Option<HashMap<String, String>> = rows
        .rows::<(HashMap<String, String>,)>()
        .map_err(|e| ProviderError::new(format!("unexpected schema row on {node}: {e}")))?
        .next()
        .transpose()
        .map_err(|e| ProviderError::new(format!("unexpected schema row on {node}: {e}")))?
        .map(|(replication,)| replication);
    match current {
        None => {
            execute(
                session,
                node,
                create_keyspace(&spec.replication),
                SETUP_REQUEST_TIMEOUT,
            )
            .await?;
            execute(session, node, create_table(), SETUP_REQUEST_TIMEOUT).await
        }
        Some(current) if !replication_matches(&current, &spec.replication) => {
            let alter = format!(
                "ALTER KEYSPACE {PROBE_KEYSPACE} WITH replication = {}",
                replication_cql(&spec.replication)
            );
            execute(session, node, alter, SETUP_REQUEST_TIMEOUT).await
        }
        Some(_) => Ok(()),
    }
}

fn create_keyspace(replication: &BTreeMap<String, usize>) -> String {
    format!(
        "CREATE KEYSPACE IF NOT EXISTS {PROBE_KEYSPACE} WITH replication = {}",
        replication_cql(replication)
    )
}

fn create_table() -> String {
    format!("CREATE TABLE IF NOT EXISTS {PROBE_KEYSPACE}.probe (id int PRIMARY KEY, checked timestamp)")
}

async fn execute(
    session: &Session,
    node: SocketAddr,
    statement: String,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let shown = statement
        .split(" WITH PASSWORD")
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut statement = Statement::new(statement);
    statement.set_request_timeout(Some(timeout));
    session
        .query_unpaged(statement, &[])
        .await
        .map_err(|e| ProviderError::new(format!("{shown} on {node} failed: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn node(dc: &str, ordinal: u32) -> NodeRecord {
        NodeRecord {
            cluster: "c1".into(),
            data_center: dc.into(),
            ordinal,
            address: IpAddr::from([127, 0, 0, u8::try_from(ordinal + 1).unwrap()]),
            rack: "rack1".into(),
        }
    }

    #[test]
    fn replication_has_up_to_three_replicas_in_every_datacenter() {
        let nodes = [
            node("dc1", 0),
            node("dc1", 1),
            node("dc1", 2),
            node("dc1", 3),
            node("dc2", 4),
        ];
        let replication = replication_for(&nodes);
        assert_eq!(
            replication,
            BTreeMap::from([("dc1".to_owned(), 3), ("dc2".to_owned(), 1)])
        );
        assert_eq!(
            replication_cql(&replication),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}"
        );
    }

    #[test]
    fn replication_matches_only_the_same_datacenters_and_counts() {
        let wanted = BTreeMap::from([("dc1".to_owned(), 3)]);
        let current = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>()
        };
        let nts = "org.apache.cassandra.locator.NetworkTopologyStrategy";
        assert!(replication_matches(
            &current(&[("class", nts), ("dc1", "3")]),
            &wanted
        ));
        assert!(!replication_matches(
            &current(&[("class", nts), ("dc1", "2")]),
            &wanted
        ));
        assert!(!replication_matches(
            &current(&[("class", nts), ("dc1", "3"), ("dc2", "3")]),
            &wanted
        ));
        assert!(!replication_matches(
            &current(&[
                ("class", "org.apache.cassandra.locator.SimpleStrategy"),
                ("replication_factor", "3")
            ]),
            &wanted
        ));
    }
}
