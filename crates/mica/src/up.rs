//! `mica up`: by default the control plane with a ready cluster (see up_cluster.rs); with --single-node a
//! local node that real clients can use at once, described here. The first run creates a state
//! directory with a cluster CA, a node certificate, a cassandra.yaml (TLS, PasswordAuthenticator,
//! batch commit log) and cassandra-rackdc.properties; later runs reuse them, re-issuing the node
//! certificate and updating the yaml only when the address or port changes.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mica_config::{NodeConfig, render_cassandra_yaml};
use mica_node::Node;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// The cluster CA certificate clients trust.
const CA_CERT: &str = "ca.pem";
/// The CA's private key, kept to issue node certificates.
const CA_KEY: &str = "ca-key.pem";
/// The node's private key followed by its certificate chain (the keystore).
const NODE_PEM: &str = "node.pem";
const CONFIG_FILE: &str = "cassandra.yaml";
const RACKDC_FILE: &str = "cassandra-rackdc.properties";
/// Subject of the cluster CA; node certificates are issued under this name.
const CA_NAME: &str = "Mica cluster CA";

/// Options of `mica up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// State directory: the control plane's (default: $MICA_STATE_DIR, else ~/.mica/control), or with
    /// --single-node the node's configuration, certificates and data (default: .mica).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Address and port of the control plane's REST API.
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::control::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// First loopback address handed to nodes (each node gets its own, counting up).
    #[arg(long, value_name = "ADDR", default_value = crate::control::DEFAULT_FIRST_NODE_ADDRESS)]
    pub first_node_address: Ipv4Addr,
    /// The cluster `mica up` creates (if missing) and waits for.
    #[arg(long, default_value = "default")]
    pub cluster_name: String,
    /// Nodes of the cluster's datacenter dc1 when `mica up` creates it.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub nodes: u32,
    /// Password of the `cassandra` role when `mica up` creates the cluster (default: a random one, generated
    /// once and kept in the state directory).
    #[arg(long, value_name = "PW")]
    pub admin_password: Option<String>,
    /// Run one database node in this process instead of the control plane and a cluster.
    #[arg(long)]
    pub single_node: bool,
    /// With --single-node: the address the node listens on (and its certificate names).
    #[arg(long, default_value = "127.0.0.1", requires = "single_node")]
    pub address: IpAddr,
    /// With --single-node: the CQL native transport port.
    #[arg(long, default_value_t = 9042, requires = "single_node")]
    pub port: u16,
}

/// The single node's default state directory.
const SINGLE_NODE_STATE_DIR: &str = ".mica";

/// `mica up`: the control plane with a ready cluster, or with --single-node one in-process node.
pub fn run(args: &UpArgs) -> Result<()> {
    if args.single_node {
        run_single_node(args)
    } else {
        crate::up_cluster::run(args)
    }
}

/// Prepares the state directory, runs the node in-process and prints how to connect.
fn run_single_node(args: &UpArgs) -> Result<()> {
    let dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(SINGLE_NODE_STATE_DIR));
    let state = prepare(&dir, args.address, args.port)?;
    let loaded = NodeConfig::load(&state.config).context("cannot load the generated configuration")?;
    let token_file = loaded.config.mica.admin_token_file.clone().or_else(|| {
        let data = loaded.config.data_file_directories.first()?;
        Some(data.join(mica_node::ADMIN_TOKEN_FILE))
    });
    let node = Node::start(loaded).context("cannot start the node")?;
    let ca = state.dir.join(CA_CERT);
    println!();
    println!(
        "Mica is running on {}:{} with TLS and password authentication.",
        args.address, args.port
    );
    println!(
        "  cqlsh:   SSL_VALIDATE=false cqlsh {} {} --ssl -u cassandra -p cassandra",
        args.address, args.port
    );
    println!(
        "  drivers: user cassandra, password cassandra; trust the cluster CA {}",
        ca.display()
    );
    if let (Some(admin), Some(token)) = (node.admin_address(), token_file) {
        println!(
            "  nodetool: mica nodetool -h {} -p {} --token-file {} status",
            admin.ip(),
            admin.port(),
            token.display()
        );
    }
    println!("  state:   {}", state.dir.display());
    println!("Press Ctrl-C to stop.");
    println!();
    node.wait()?;
    Ok(())
}

/// The files of a prepared state directory.
#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    pub config: PathBuf,
}

/// Creates what is missing in `dir` and brings the address and port up to date.
pub fn prepare(dir: &Path, address: IpAddr, port: u16) -> Result<State> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let ca_key = ensure_ca(&dir)?;
    let config_path = dir.join(CONFIG_FILE);
    let address_changed = if config_path.exists() {
        update_config(&config_path, address, port)?
    } else {
        write_private(&config_path, &initial_config(address, port))?;
        true
    };
    if address_changed || !dir.join(NODE_PEM).exists() {
        issue_node_certificate(&dir, &ca_key, address)?;
    }
    let rackdc = dir.join(RACKDC_FILE);
    if !rackdc.exists() {
        fs::write(&rackdc, "dc=dc1\nrack=rack1\n")
            .with_context(|| format!("cannot write {}", rackdc.display()))?;
    }
    Ok(State {
        dir,
        config: config_path,
    })
}

fn initial_config(address: IpAddr, port: u16) -> String {
    format!(
        "# cassandra.yaml written by `mica up`; later runs reuse it (edit freely).\n\
         cluster_name: 'Mica'\n\
         listen_address: '{address}'\n\
         rpc_address: '{address}'\n\
         native_transport_port: {port}\n\
         endpoint_snitch: GossipingPropertyFileSnitch\n\
         commitlog_sync: batch\n\
         authenticator: PasswordAuthenticator\n\
         authorizer: CassandraAuthorizer\n\
         client_encryption_options:\n  \
           enabled: true\n  \
           optional: false\n  \
           ssl_context_factory:\n    \
             class_name: org.apache.cassandra.security.PEMBasedSslContextFactory\n  \
           keystore: {NODE_PEM}\n  \
           truststore: {CA_CERT}\n  \
           require_client_auth: false\n"
    )
}

/// Points an existing cassandra.yaml at `address:port`; returns whether anything changed.
fn update_config(path: &Path, address: IpAddr, port: u16) -> Result<bool> {
    let mut config = NodeConfig::load(path)
        .with_context(|| format!("cannot load {}", path.display()))?
        .config;
    let text = address.to_string();
    let current = |value: &Option<String>| value.as_deref().map(str::trim) == Some(text.as_str());
    if current(&config.listen_address) && current(&config.rpc_address) && config.native_transport_port == port
    {
        return Ok(false);
    }
    config.listen_address = Some(text.clone());
    config.rpc_address = Some(text);
    config.native_transport_port = port;
    write_private(path, &render_cassandra_yaml(&config))?;
    Ok(true)
}

fn ca_params() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// Loads the CA key, creating the CA on first run.
fn ensure_ca(dir: &Path) -> Result<KeyPair> {
    let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
    if cert_path.exists() && key_path.exists() {
        let pem =
            fs::read_to_string(&key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        return KeyPair::from_pem(&pem).with_context(|| format!("invalid CA key in {}", key_path.display()));
    }
    let key = KeyPair::generate()?;
    let cert = ca_params()?.self_signed(&key)?;
    write_private(&key_path, &key.serialize_pem())?;
    fs::write(&cert_path, cert.pem()).with_context(|| format!("cannot write {}", cert_path.display()))?;
    Ok(key)
}

/// Issues node.pem (key + certificate + CA) for `address`, signed by the cluster CA.
fn issue_node_certificate(dir: &Path, ca_key: &KeyPair, address: IpAddr) -> Result<()> {
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut params = CertificateParams::new(vec![address.to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("mica node {address}"));
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let ca_pem = fs::read_to_string(dir.join(CA_CERT)).context("cannot read the CA certificate")?;
    write_private(
        &dir.join(NODE_PEM),
        &format!("{}{}{ca_pem}", key.serialize_pem(), cert.pem()),
    )
}

/// Writes a file readable only by its owner (it holds keys or secrets).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mica_config::TlsMode;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;

    /// Verifies node.pem's chain against ca.pem for `address`, as a client with the CA would.
    fn verify_node_certificate(dir: &Path, address: IpAddr) -> Result<(), rustls::Error> {
        let ca = CertificateDer::from_pem_file(dir.join(CA_CERT)).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let chain: Vec<_> = CertificateDer::pem_file_iter(dir.join(NODE_PEM))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &ServerName::IpAddress(address.into()),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn first_run_creates_a_tls_password_node_and_later_runs_reuse_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let state = prepare(&dir, address, 9042).unwrap();

        let loaded = NodeConfig::load(&state.config).unwrap();
        let config = &loaded.config;
        assert_eq!(config.authenticator.simple_name(), "PasswordAuthenticator");
        assert_eq!(config.authorizer.simple_name(), "CassandraAuthorizer");
        assert_eq!(config.commitlog_sync.as_str(), "batch");
        assert_eq!(config.rpc_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (loaded.rackdc.dc.as_str(), loaded.rackdc.rack.as_str()),
            ("dc1", "rack1")
        );
        assert_eq!(config.native_tls().unwrap().unwrap().mode, TlsMode::Required);
        verify_node_certificate(&state.dir, address).unwrap();

        let ca = fs::read(state.dir.join(CA_CERT)).unwrap();
        let node = fs::read(state.dir.join(NODE_PEM)).unwrap();
        prepare(&dir, address, 9042).unwrap();
        assert_eq!(fs::read(state.dir.join(CA_CERT)).unwrap(), ca);
        assert_eq!(fs::read(state.dir.join(NODE_PEM)).unwrap(), node);
    }

    #[test]
    fn a_new_address_reissues_the_node_certificate_under_the_same_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let first: IpAddr = "127.0.0.1".parse().unwrap();
        let second: IpAddr = "127.0.0.2".parse().unwrap();
        let state = prepare(tmp.path(), first, 9042).unwrap();
        let ca = fs::read(state.dir.join(CA_CERT)).unwrap();

        prepare(tmp.path(), second, 9100).unwrap();
        assert_eq!(fs::read(state.dir.join(CA_CERT)).unwrap(), ca);
        verify_node_certificate(&state.dir, second).unwrap();
        assert!(verify_node_certificate(&state.dir, first).is_err());
        let config = NodeConfig::load(&state.config).unwrap().config;
        assert_eq!(config.rpc_address.as_deref(), Some("127.0.0.2"));
        assert_eq!(config.listen_address.as_deref(), Some("127.0.0.2"));
        assert_eq!(config.native_transport_port, 9100);
        assert_eq!(config.authenticator.simple_name(), "PasswordAuthenticator");
        assert_eq!(config.native_tls().unwrap().unwrap().mode, TlsMode::Required);
    }
}
