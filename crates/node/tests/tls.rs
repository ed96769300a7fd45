//! Native transport TLS: a node with a certificate from a generated CA, reached with a tokio-rustls
//! client over TLS 1.2 and 1.3, in required and optional (first-byte sniffing) modes.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] fns; a panic is the failure report.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Client, TestNode, single_text};
use mica_cql_protocol::{Response, Version};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Writes ca.pem and node.pem (key + certificate for `address`) into `dir`.
fn write_certificates(dir: &Path, address: &str) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "test ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let node_key = KeyPair::generate().unwrap();
    let node_params = CertificateParams::new(vec![address.to_owned()]).unwrap();
    let node_cert = node_params.signed_by(&node_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(
        dir.join("node.pem"),
        format!("{}{}", node_key.serialize_pem(), node_cert.pem()),
    )
    .unwrap();
}

fn tls_yaml(optional: bool) -> String {
    format!(
        "client_encryption_options:\n  enabled: true\n  optional: {optional}\n  ssl_context_factory:\n    \
         class_name: org.apache.cassandra.security.PEMBasedSslContextFactory\n  keystore: node.pem\n  \
         truststore: ca.pem\n"
    )
}

fn connector(dir: &Path, versions: &[&'static SupportedProtocolVersion]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    for cert in pem_certificates(&pem) {
        roots.add(cert).unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// The certificates of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).map(|c| c.unwrap()).collect()
}

async fn tls_client(
    node: &TestNode,
    versions: &[&'static SupportedProtocolVersion],
) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(node.addr).await.unwrap();
    let name = ServerName::IpAddress(node.addr.ip().into());
    let stream = connector(node.dir.path(), versions)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    Client::new(stream, Version::V5)
}

async fn check_session<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(client: &mut Client<S>) {
    assert_eq!(client.startup(&[]).await, Response::Ready);
    let rows = client.rows(2, "SELECT release_version FROM system.local").await;
    assert_eq!(single_text(&rows), "4.1.5");
}

#[tokio::test]
async fn required_tls_serves_tls_12_and_13_and_refuses_plain() {
    let node = TestNode::start_with(&tls_yaml(false), write_certificates);
    for versions in [&[&rustls::version::TLS12][..], &[&rustls::version::TLS13][..]] {
        let mut client = tls_client(&node, versions).await;
        check_session(&mut client).await;
    }
    let mut plain = node.connect(Version::V4).await;
    plain.send_raw(&[0x04, 0, 0, 1, 0x05, 0, 0, 0, 0]).await;
    assert!(plain.closed().await);
}

#[tokio::test]
async fn optional_tls_accepts_both_on_one_port() {
    let node = TestNode::start_with(&tls_yaml(true), write_certificates);
    let mut secure = tls_client(&node, &[&rustls::version::TLS13]).await;
    check_session(&mut secure).await;
    let mut plain = node.connect(Version::V4).await;
    check_session(&mut plain).await;
}
