//! Sets a cluster's initial admin password: `ALTER ROLE cassandra WITH PASSWORD = ...` through CQL, over TLS
//! verified against the cluster CA, logged in with Cassandra's default `cassandra`/`cassandra` credentials.
//!
//! The step is idempotent so the reconciler may repeat it after a crash: when the default credentials are
//! refused but the new password is accepted, the password was already set and nothing is done.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::host_filter::AllowListHostFilter;

use crate::provider::{Provider, ProviderError};
use crate::store::NodeRecord;

/// The superuser Cassandra creates with password authentication, and its default password.
pub const DEFAULT_SUPERUSER: &str = "cassandra";
/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the ALTER ROLE statement may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What the control plane's CQL connections to a cluster's nodes need: the cluster CA to verify them and, for
/// a cluster that requires client certificates, the control plane's own identity (key and certificate PEM,
/// issued by the cluster CA, which the nodes' client truststore then includes).
#[derive(Clone, Debug)]
pub struct CqlTls {
    pub ca_pem: String,
    pub identity_pem: Option<String>,
}

/// What [`ensure_admin_password`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// The default password was replaced.
    Changed,
    /// The default password was already refused and the new one accepted (an earlier attempt finished).
    AlreadySet,
}

/// Makes `password` the password of the `cassandra` role on the node at `address:port`.
pub fn ensure_admin_password(
    address: IpAddr,
    port: u16,
    tls: &CqlTls,
    password: &str,
) -> Result<PasswordOutcome, ProviderError> {
    block_on(ensure_async(SocketAddr::new(address, port), tls, password))
}

/// Runs a CQL client future to completion. The reconciler runs on a plain thread; the driver needs a runtime
/// for the few requests it makes.
pub(crate) fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ProviderError::new(format!("cannot start a CQL client runtime: {e}")))?;
    runtime.block_on(future)
}

async fn ensure_async(
    node: SocketAddr,
    tls: &CqlTls,
    password: &str,
) -> Result<PasswordOutcome, ProviderError> {
    let tls = tls_config(tls)?;
    match connect(node, &tls, DEFAULT_SUPERUSER).await {
        Ok(session) => {
            let statement = format!(
                "ALTER ROLE {DEFAULT_SUPERUSER} WITH PASSWORD = {}",
                cql_string_literal(password)
            );
            tokio::time::timeout(REQUEST_TIMEOUT, session.query_unpaged(statement, &[]))
                .await
                .map_err(|_| ProviderError::new(format!("ALTER ROLE on {node} timed out")))?
                .map_err(|e| ProviderError::new(format!("ALTER ROLE on {node} failed: {e}")))?;
            Ok(PasswordOutcome::Changed)
        }
        Err(default_refused) => match connect(node, &tls, password).await {
            Ok(_) => Ok(PasswordOutcome::AlreadySet),
            Err(_) => Err(ProviderError::new(format!(
                "cannot log in to {node} as {DEFAULT_SUPERUSER} to set the admin password: {default_refused}"
            ))),
        },
    }
}

/// Sets the password on every node. Nodes keep `system_auth` each on their own until data replication
/// lands, so each one is told; a node that already has it is left alone, so a repeated step is harmless.
pub fn set_on_nodes(
    provider: &dyn Provider,
    nodes: &[NodeRecord],
    password: &str,
) -> Result<(), ProviderError> {
    // The probe role's password is kept before the role exists, so a repeated step uses the same one.
    let probe_password = match nodes.first() {
        Some(first) => provider.probe_password(&first.cluster, true)?,
        None => None,
    };
    for node in nodes {
        let outcome = provider.set_admin_password(node, password)?;
        tracing::info!("admin password on node {}: {outcome:?}", node.label());
    }
    // While the admin password is still known: the role rolling restarts probe the cluster with.
    if let (Some(first), Some(probe_password)) = (nodes.first(), probe_password) {
        let probe = crate::probe::ProbeSpec {
            password: Some(probe_password),
            replication: crate::probe::replication_for(nodes),
        };
        provider.create_probe_role(first, password, &probe)?;
        tracing::info!(
            "created the probe role {} through node {}",
            crate::probe::PROBE_ROLE,
            first.label()
        );
    }
    Ok(())
}

/// A session to exactly one node as the `cassandra` superuser.
async fn connect(
    node: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    password: &str,
) -> Result<Session, String> {
    connect_as(node, tls, Some((DEFAULT_SUPERUSER, password))).await
}

/// A session to exactly one node (the driver would otherwise also open pools to the peers it discovers), so
/// every request is coordinated by that node; logged in as `credentials` (user, password) when given.
pub(crate) async fn connect_as(
    node: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    credentials: Option<(&str, &str)>,
) -> Result<Session, String> {
    let filter = AllowListHostFilter::new([node]).map_err(|e| e.to_string())?;
    let mut builder = SessionBuilder::new()
        .known_node_addr(node)
        .tls_context(Some(tls.clone()))
        .host_filter(Arc::new(filter))
        .fetch_schema_metadata(false)
        .connection_timeout(CONNECT_TIMEOUT);
    if let Some((user, password)) = credentials {
        builder = builder.user(user, password);
    }
    builder.build().await.map_err(|e| e.to_string())
}

/// A rustls client configuration trusting only the cluster CA, presenting the control plane's identity when
/// it has one. The ring provider is named explicitly: the driver also compiles aws-lc-rs, and with two
/// providers built rustls cannot pick a default.
pub(crate) fn tls_config(tls: &CqlTls) -> Result<Arc<rustls::ClientConfig>, ProviderError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| ProviderError::new(format!("the cluster CA is not valid PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| ProviderError::new(format!("the cluster CA is not usable: {e}")))?;
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ProviderError::new(format!("cannot configure TLS: {e}")))?
            .with_root_certificates(roots);
    let config = match &tls.identity_pem {
        None => config.with_no_client_auth(),
        Some(pem) => {
            let bad = |e: &dyn std::fmt::Display| {
                ProviderError::new(format!(
                    "the control plane's client certificate is not usable: {e}"
                ))
            };
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&e))?;
            let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| bad(&e))?;
            config.with_client_auth_cert(certs, key).map_err(|e| bad(&e))?
        }
    };
    Ok(Arc::new(config))
}

/// A CQL string literal: single quotes, with embedded quotes doubled (ALTER ROLE takes no bind markers).
pub fn cql_string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_embedded_quotes() {
        assert_eq!(cql_string_literal("pw"), "'pw'");
        assert_eq!(cql_string_literal("it's"), "'it''s'");
    }

    #[test]
    fn a_broken_ca_is_an_error_not_a_panic() {
        assert!(
            tls_config(&CqlTls {
                ca_pem: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into(),
                identity_pem: None,
            })
            .is_err()
        );
    }
}
