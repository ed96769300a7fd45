//! The local-process provider: every node is a `mica node` child process on its own loopback address
//! (127.0.x.y, ccm style) with its own directory under the state directory:
//!
//! ```text
//! <state>/clusters/<cluster>/ca.pem, ca-key.pem          the cluster CA (gossipCertificates)
//! <state>/clusters/<cluster>/nodes/<dc>-<n>/cassandra.yaml, cassandra-rackdc.properties,
//!                                          node.pem, ca.pem, client-ca.pem, admin.token,
//!                                          data/, logs/system.log, node.pid
//! ```
//!
//! The configuration is composed as YAML (managed settings over the SKU's settings over the user's fragment),
//! loaded with mica-config (which checks it as the node will) and written back with mica-config's renderer.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mica_config::{NodeConfig, render_cassandra_yaml};
use mica_control_api::{
    AuthenticationMethod, CassandraVersion, DEFAULT_CASSANDRA_VERSION, DEFAULT_SKU, find_sku,
    validate::decode_yaml_fragment,
};
use rand::RngCore;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_yaml::{Mapping, Value};

use crate::provider::{AdminEndpoint, NodeSpec, Provider, ProviderError};
use crate::store::NodeRecord;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const NODE_PEM: &str = "node.pem";
const CLIENT_CA: &str = "client-ca.pem";
/// Marks (in the cluster directory) a cluster whose nodes encrypt internode traffic. Clusters created before
/// internode TLS existed have no marker and keep plain internode connections: switching a running cluster node
/// by node would split it, since a TLS-only node and a plain one cannot gossip.
const INTERNODE_TLS_MARKER: &str = "internode-tls";
/// The control plane's own client key and certificate (issued by the cluster CA), in the cluster directory:
/// what its CQL connections present to nodes that require client certificates.
const CONTROL_CLIENT_PEM: &str = "control-client.pem";
const CONFIG_FILE: &str = "cassandra.yaml";
const RACKDC_FILE: &str = "cassandra-rackdc.properties";
const TOKEN_FILE: &str = "admin.token";
const PID_FILE: &str = "node.pid";
const LOG_FILE: &str = "logs/system.log";
const CA_NAME: &str = "Mica cluster CA";
/// Ports every node uses on its own address (so they never collide across nodes).
const NATIVE_PORT: u16 = 9042;
const ADMIN_PORT: u16 = mica_config::DEFAULT_ADMIN_PORT;
/// Bytes of randomness in a node's admin token.
const ADMIN_TOKEN_BYTES: usize = 32;
/// How long a node may take to exit after `stopdaemon` before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `drain` (flushing every memtable) may take before the node is stopped without it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The probe role's password, next to the cluster CA (see [`crate::probe`]).
const PROBE_PASSWORD_FILE: &str = "probe.password";
/// Random bytes in a generated probe password.
const PROBE_PASSWORD_BYTES: usize = 24;
/// How many addresses the allocator tries before giving up.
const MAX_ADDRESS_PROBES: u32 = 4096;

/// Runs nodes as child processes of the control plane.
#[derive(Debug)]
pub struct LocalProvider {
    root: PathBuf,
    node_binary: PathBuf,
    first_address: Ipv4Addr,
    children: Mutex<HashMap<PathBuf, Child>>,
    /// Node processes adopted from a killed control plane (node directory → pid), stopped at shutdown like
    /// the children.
    adopted: Mutex<HashMap<PathBuf, u32>>,
}

impl LocalProvider {
    /// `root` holds the clusters' directories; nodes run `node_binary node --config ...`; addresses are
    /// allocated upwards from `first_address` (a loopback address).
    pub fn new(root: &Path, node_binary: PathBuf, first_address: Ipv4Addr) -> LocalProvider {
        LocalProvider {
            root: root.to_path_buf(),
            node_binary,
            first_address,
            children: Mutex::new(HashMap::new()),
            adopted: Mutex::new(HashMap::new()),
        }
    }

    fn cluster_dir(&self, cluster: &str) -> PathBuf {
        self.root.join("clusters").join(cluster)
    }

    fn node_dir(&self, node: &NodeRecord) -> PathBuf {
        self.cluster_dir(&node.cluster)
            .join("nodes")
            .join(format!("{}-{}", node.data_center, node.ordinal))
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Child>> {
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn compose_config(&self, spec: &NodeSpec<'_>, dir: &Path) -> Result<String, ProviderError> {
        let node = spec.node;
        let mut yaml = Mapping::new();
        let mut set = |key: &str, value: Value| {
            yaml.insert(Value::from(key), value);
        };
        // The SKU's tier settings first, so the user's fragment may refine them.
        let sku_name = spec.data_center.sku.as_deref().unwrap_or(DEFAULT_SKU);
        let sku = find_sku(sku_name).ok_or_else(|| ProviderError::new(format!("unknown SKU {sku_name}")))?;
        set(
            "memtable_heap_space",
            format!("{}MiB", sku.memtable_heap_space_mib).into(),
        );
        set("key_cache_size", format!("{}MiB", sku.key_cache_size_mib).into());
        set("concurrent_reads", sku.concurrent_reads.into());
        set("concurrent_writes", sku.concurrent_writes.into());
        set("concurrent_compactors", sku.concurrent_compactors.into());
        if let Some(fragment) = &spec.data_center.base64_encoded_cassandra_yaml_fragment {
            let text = decode_yaml_fragment(fragment).map_err(|e| ProviderError::new(e.to_string()))?;
            if let Ok(Value::Mapping(map)) = serde_yaml::from_str::<Value>(&text) {
                for (k, v) in map {
                    yaml.insert(k, v);
                }
            }
        }
        // Managed settings last: the fragment cannot contain them (validation refuses), and they must win.
        let address = node.address.to_string();
        let mut set = |key: &str, value: Value| {
            yaml.insert(Value::from(key), value);
        };
        set("cluster_name", node.cluster.clone().into());
        set("listen_address", address.clone().into());
        set("rpc_address", address.clone().into());
        set("native_transport_port", NATIVE_PORT.into());
        set("endpoint_snitch", "GossipingPropertyFileSnitch".into());
        set("commitlog_sync", "batch".into());
        // Internode traffic (gossip, replication, streaming) over TLS: each node presents its certificate and
        // accepts only peers the cluster CA signed.
        if self
            .cluster_dir(&node.cluster)
            .join(INTERNODE_TLS_MARKER)
            .exists()
        {
            set(
                "server_encryption_options",
                serde_yaml::from_str(&format!(
                    "{{internode_encryption: all, ssl_context_factory: {{class_name: \
                     org.apache.cassandra.security.PEMBasedSslContextFactory}}, keystore: {NODE_PEM}, \
                     truststore: {CA_CERT}}}"
                ))
                .map_err(|e| ProviderError::new(format!("cannot build TLS options: {e}")))?,
            );
        }
        // Only the cluster's first node may be its own seed: every other node then bootstraps on its first
        // start (streams the ranges it takes over before serving), as Cassandra wants of nodes added later.
        let own = address.parse::<IpAddr>().ok();
        let first = spec.seeds.first().copied();
        let seeds = spec
            .seeds
            .iter()
            .filter(|s| Some(**s) != own || Some(**s) == first)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        set(
            "seed_provider",
            serde_yaml::from_str(&format!(
                "[{{class_name: org.apache.cassandra.locator.SimpleSeedProvider, parameters: [{{seeds: '{seeds}'}}]}}]"
            ))
            .map_err(|e| ProviderError::new(format!("cannot build seed_provider: {e}")))?,
        );
        let password_auth =
            spec.cluster.authentication_method.unwrap_or_default() == AuthenticationMethod::Cassandra;
        let (authenticator, authorizer) = if password_auth {
            ("PasswordAuthenticator", "CassandraAuthorizer")
        } else {
            ("AllowAllAuthenticator", "AllowAllAuthorizer")
        };
        set("authenticator", authenticator.into());
        set("authorizer", authorizer.into());
        let disks = spec.data_center.disk_capacity.unwrap_or(1).max(1);
        let data_dirs: Vec<Value> = (1..=disks)
            .map(|i| Value::from(format!("data/data{i}")))
            .collect();
        set("data_file_directories", Value::Sequence(data_dirs));
        set("commitlog_directory", "data/commitlog".into());
        set("hints_directory", "data/hints".into());
        set("saved_caches_directory", "data/saved_caches".into());
        set("cdc_raw_directory", "data/cdc_raw".into());
        let mtls = !spec.cluster.client_certificates.is_empty();
        let client_tls = format!(
            "{{enabled: true, optional: false, ssl_context_factory: {{class_name: \
             org.apache.cassandra.security.PEMBasedSslContextFactory}}, keystore: {NODE_PEM}, truststore: {}, \
             require_client_auth: {mtls}}}",
            if mtls { CLIENT_CA } else { CA_CERT }
        );
        set(
            "client_encryption_options",
            serde_yaml::from_str(&client_tls)
                .map_err(|e| ProviderError::new(format!("cannot build TLS options: {e}")))?,
        );
        let version = spec
            .cluster
            .cassandra_version
            .as_deref()
            .unwrap_or(DEFAULT_CASSANDRA_VERSION);
        let version = CassandraVersion::parse(version)
            .ok_or_else(|| ProviderError::new(format!("unsupported Cassandra version {version}")))?;
        set(
            "mica",
            serde_yaml::from_str(&format!(
                "{{admin_port: {ADMIN_PORT}, admin_token_file: {TOKEN_FILE}, release_version: '{}'}}",
                version.release_version()
            ))
            .map_err(|e| ProviderError::new(format!("cannot build mica options: {e}")))?,
        );
        let text = serde_yaml::to_string(&Value::Mapping(yaml))
            .map_err(|e| ProviderError::new(format!("cannot write YAML: {e}")))?;
        // Loading checks the composed file exactly as the node will; rendering normalises it.
        let loaded = NodeConfig::from_yaml_str(&text, dir)
            .map_err(|e| ProviderError::new(format!("the composed cassandra.yaml is invalid: {e}")))?;
        Ok(format!(
            "# Written by the Mica control plane; changes here are overwritten. Use the datacenter's\n\
             # base64EncodedCassandraYamlFragment instead.\n{}",
            render_cassandra_yaml(&loaded.config)
        ))
    }

    /// The pid of a node process this provider did not start (an orphan left running by a control plane that
    /// was killed): the pid file's process if it still runs this node's configuration, else any process that
    /// does (the control plane may have died between spawning the node and writing its pid file).
    fn orphan_pid(&self, node: &NodeRecord) -> Option<u32> {
        let dir = self.node_dir(node);
        let config = dir.join(CONFIG_FILE);
        let from_file = fs::read_to_string(dir.join(PID_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .filter(|pid| runs_config(*pid, &config));
        from_file.or_else(|| {
            let pid = find_process_running(&config)?;
            // Best effort: the pid file names the adopted process again, for operators and later lookups.
            let _ = fs::write(dir.join(PID_FILE), pid.to_string());
            Some(pid)
        })
    }

    /// Kills an orphaned node (started by an earlier control plane) that did not stop in time.
    fn kill_orphan(&self, node: &NodeRecord) {
        if let Some(pid) = self.orphan_pid(node) {
            tracing::warn!(
                "killing node {} (pid {pid}) that did not stop in time",
                node.label()
            );
            signal(pid, "-KILL");
        }
    }
}

/// Sends `kill <signal> <pid>` (the node stops cleanly on TERM).
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, &pid.to_string()]).status();
}

/// Whether process `pid` is alive and runs `mica node --config <config>` (a zombie's command line is empty).
fn runs_config(pid: u32, config: &Path) -> bool {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == config.as_os_str().as_encoded_bytes())
}

/// The pid of a live process running `mica node --config <config>`, found by scanning `/proc`.
fn find_process_running(config: &Path) -> Option<u32> {
    fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| runs_config(*pid, config))
}

impl Provider for LocalProvider {
    fn prepare_cluster(&self, cluster: &str) -> Result<(), ProviderError> {
        let dir = self.cluster_dir(cluster);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        if dir.join(CA_CERT).exists() && dir.join(CA_KEY).exists() {
            return Ok(());
        }
        let key = KeyPair::generate().map_err(cert_error)?;
        let cert = ca_params()?.self_signed(&key).map_err(cert_error)?;
        write_private(&dir.join(CA_KEY), &key.serialize_pem())?;
        issue_certificate(
            &dir.join(CONTROL_CLIENT_PEM),
            (&key, &cert.pem()),
            "mica control plane",
            None,
        )?;
        write_file(&dir.join(INTERNODE_TLS_MARKER), "all\n")?;
        // The certificate last: its presence means the CA is complete.
        write_file(&dir.join(CA_CERT), &cert.pem())
    }

    fn client_identity(&self, cluster: &str) -> Option<String> {
        fs::read_to_string(self.cluster_dir(cluster).join(CONTROL_CLIENT_PEM)).ok()
    }

    fn cluster_ca(&self, cluster: &str) -> Option<String> {
        fs::read_to_string(self.cluster_dir(cluster).join(CA_CERT)).ok()
    }

    fn probe_password(&self, cluster: &str, create: bool) -> Result<Option<String>, ProviderError> {
        let path = self.cluster_dir(cluster).join(PROBE_PASSWORD_FILE);
        if let Ok(text) = fs::read_to_string(&path)
            && !text.trim().is_empty()
        {
            return Ok(Some(text.trim().to_owned()));
        }
        if !create {
            return Ok(None);
        }
        let mut bytes = [0u8; PROBE_PASSWORD_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let password = hex(&bytes);
        write_private(&path, &password)?;
        Ok(Some(password))
    }

    fn allocate_address(&self, taken: &HashSet<IpAddr>) -> Result<IpAddr, ProviderError> {
        let first = u32::from(self.first_address);
        for candidate in first..first.saturating_add(MAX_ADDRESS_PROBES) {
            let address = Ipv4Addr::from(candidate);
            // Skip network and broadcast-looking host parts; some tools refuse them.
            if matches!(address.octets()[3], 0 | 255) || taken.contains(&IpAddr::V4(address)) {
                continue;
            }
            // Another program (or another control plane) may already use the address: only a free one is taken.
            let free = [NATIVE_PORT, ADMIN_PORT]
                .iter()
                .all(|port| TcpListener::bind(SocketAddr::new(IpAddr::V4(address), *port)).is_ok());
            if free {
                return Ok(IpAddr::V4(address));
            }
        }
        Err(ProviderError::new(format!(
            "no free loopback address from {} on (tried {MAX_ADDRESS_PROBES})",
            self.first_address
        )))
    }

    fn prepare_node(&self, spec: &NodeSpec<'_>) -> Result<(), ProviderError> {
        let node = spec.node;
        let dir = self.node_dir(node);
        fs::create_dir_all(dir.join("logs")).map_err(|e| io_error(&dir, e))?;
        let cluster_dir = self.cluster_dir(&node.cluster);
        let ca_pem = fs::read_to_string(cluster_dir.join(CA_CERT)).map_err(|e| io_error(&cluster_dir, e))?;
        let ca_key_path = cluster_dir.join(CA_KEY);
        let ca_key = fs::read_to_string(&ca_key_path).map_err(|e| io_error(&ca_key_path, e))?;
        let ca_key = KeyPair::from_pem(&ca_key).map_err(cert_error)?;
        write_file(&dir.join(CA_CERT), &ca_pem)?;
        if !dir.join(NODE_PEM).exists() {
            issue_certificate(
                &dir.join(NODE_PEM),
                (&ca_key, &ca_pem),
                &format!("mica node {}", node.address),
                Some(node.address),
            )?;
        }
        // Clusters created before the control plane had an identity get one now.
        if !cluster_dir.join(CONTROL_CLIENT_PEM).exists() {
            issue_certificate(
                &cluster_dir.join(CONTROL_CLIENT_PEM),
                (&ca_key, &ca_pem),
                "mica control plane",
                None,
            )?;
        }
        write_file(&dir.join(CLIENT_CA), &client_ca_bundle(spec, &ca_pem))?;
        if !dir.join(TOKEN_FILE).exists() {
            let mut bytes = [0u8; ADMIN_TOKEN_BYTES];
            rand::rng().fill_bytes(&mut bytes);
            write_private(&dir.join(TOKEN_FILE), &hex(&bytes))?;
        }
        write_file(
            &dir.join(RACKDC_FILE),
            &format!("dc={}\nrack={}\n", node.data_center, node.rack),
        )?;
        let config = self.compose_config(spec, &dir)?;
        write_private(&dir.join(CONFIG_FILE), &config)
    }

    fn start_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
        // A process left by a killed control plane (possibly still starting, not answering yet) is adopted: a
        // second process on the same address and data directory would only fight it for the storage lock.
        if self.is_running(node) {
            return Ok(());
        }
        let dir = self.node_dir(node);
        let log_path = dir.join(LOG_FILE);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io_error(&log_path, e))?;
        let err_log = log.try_clone().map_err(|e| io_error(&log_path, e))?;
        let child = Command::new(&self.node_binary)
            .arg("node")
            .arg("--config")
            .arg(dir.join(CONFIG_FILE))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| ProviderError::new(format!("cannot start {}: {e}", self.node_binary.display())))?;
        write_file(&dir.join(PID_FILE), &child.id().to_string())?;
        tracing::info!("started node {} (pid {})", node.label(), child.id());
        self.children().insert(dir, child);
        Ok(())
    }

    fn is_running(&self, node: &NodeRecord) -> bool {
        let dir = self.node_dir(node);
        let mut children = self.children();
        let Some(child) = children.get_mut(&dir) else {
            drop(children);
            let orphan = self.orphan_pid(node);
            let mut adopted = self
                .adopted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match orphan {
                Some(pid) => adopted.insert(dir, pid),
                None => adopted.remove(&dir),
            };
            return orphan.is_some();
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                tracing::warn!(
                    "node {} exited ({status}); see {}",
                    node.label(),
                    self.log_location(node)
                );
                children.remove(&dir);
                false
            }
            Err(_) => false,
        }
    }

    fn stop_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
        let dir = self.node_dir(node);
        // Graceful, as an operator would: `nodetool drain` (clients are turned away and memtables flushed, so
        // the restart replays no commit log), then SIGTERM. A node that does not answer the drain (still
        // starting, hung, already gone) is stopped all the same.
        let drained = self.admin_endpoint(node).is_some_and(|endpoint| {
            mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
                .with_timeout(DRAIN_TIMEOUT)
                .post(mica_node_admin_api::DRAIN, None)
                .is_ok()
        });
        if !drained {
            tracing::info!("node {} did not answer drain; stopping it anyway", node.label());
        }
        let child_pid = self.children().get(&dir).map(Child::id);
        if let Some(pid) = child_pid.or_else(|| self.orphan_pid(node)) {
            signal(pid, "-TERM");
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let child = self.children().remove(&dir);
        match child {
            Some(mut child) => loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                    _ => {
                        tracing::warn!("node {} did not stop in time; killing it", node.label());
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            },
            None => {
                // Not our child (adopted after a restart): wait until its process is gone (its admin API
                // going quiet is not enough: the directory is removed next).
                while self.orphan_pid(node).is_some() || self.node_info(node).is_some() {
                    if Instant::now() >= deadline {
                        self.kill_orphan(node);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        let _ = fs::remove_file(dir.join(PID_FILE));
        Ok(())
    }

    fn remove_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
        let dir = self.node_dir(node);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&dir, e)),
            _ => Ok(()),
        }
    }

    fn remove_cluster(&self, cluster: &str) -> Result<(), ProviderError> {
        let dir = self.cluster_dir(cluster);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&dir, e)),
            _ => Ok(()),
        }
    }

    fn config_is_current(&self, spec: &NodeSpec<'_>) -> Result<bool, ProviderError> {
        let dir = self.node_dir(spec.node);
        // A node never prepared gets today's configuration when it starts: nothing to roll.
        let Ok(on_disk) = fs::read_to_string(dir.join(CONFIG_FILE)) else {
            return Ok(true);
        };
        // The seeds the node was started with are kept for the comparison: a grown seed list alone is no
        // reason to restart (a running node learns new seeds through gossip).
        let running_seeds: Option<Vec<IpAddr>> =
            NodeConfig::from_yaml_str(&on_disk, &dir).ok().map(|loaded| {
                loaded
                    .config
                    .seeds()
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect()
            });
        let seeds = running_seeds.as_deref().unwrap_or(spec.seeds);
        let fresh = self.compose_config(
            &NodeSpec {
                seeds,
                ..spec.clone()
            },
            &dir,
        )?;
        let ca_pem = fs::read_to_string(dir.join(CA_CERT)).unwrap_or_default();
        let client_ca = client_ca_bundle(spec, &ca_pem);
        let client_ca_on_disk = fs::read_to_string(dir.join(CLIENT_CA)).unwrap_or_default();
        Ok(same_effective_config(&fresh, &on_disk, &dir) && client_ca == client_ca_on_disk)
    }

    fn admin_endpoint(&self, node: &NodeRecord) -> Option<AdminEndpoint> {
        let token = fs::read_to_string(self.node_dir(node).join(TOKEN_FILE)).ok()?;
        Some(AdminEndpoint {
            host: node.address.to_string(),
            port: ADMIN_PORT,
            token: token.trim().to_owned(),
        })
    }

    fn log_location(&self, node: &NodeRecord) -> String {
        self.node_dir(node).join(LOG_FILE).display().to_string()
    }

    fn shutdown(&self) {
        let adopted: Vec<(PathBuf, u32)> = self
            .adopted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        for (dir, pid) in adopted {
            let config = dir.join(CONFIG_FILE);
            if !runs_config(pid, &config) {
                continue;
            }
            signal(pid, "-TERM");
            let deadline = Instant::now() + STOP_TIMEOUT;
            while runs_config(pid, &config) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if runs_config(pid, &config) {
                signal(pid, "-KILL");
            }
            let _ = fs::remove_file(dir.join(PID_FILE));
        }
        let children: Vec<(PathBuf, Child)> = self.children().drain().collect();
        for (dir, mut child) in children {
            // SIGTERM-equivalent through the process API is not portable; the node stops cleanly on kill -TERM.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
            let _ = fs::remove_file(dir.join(PID_FILE));
        }
    }
}

fn ca_params() -> Result<CertificateParams, ProviderError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// The client truststore of a node that requires client certificates: the user's certificates, plus the
/// cluster CA so the control plane's own identity is accepted (the CA key never leaves the control plane).
fn client_ca_bundle(spec: &NodeSpec<'_>, ca_pem: &str) -> String {
    let mut bundle: String = spec
        .cluster
        .client_certificates
        .iter()
        .map(|c| format!("{}\n", c.pem.trim()))
        .collect();
    if !bundle.is_empty() {
        bundle.push_str(&format!("{}\n", ca_pem.trim()));
    }
    bundle
}

/// Writes `path`: a fresh key, its certificate named `name` (for `address`, when given) signed by the cluster
/// CA (`ca`: its key and certificate), and the CA certificate, as the PEM keystore (and a client identity)
/// expects.
fn issue_certificate(
    path: &Path,
    (ca_key, ca_pem): (&KeyPair, &str),
    name: &str,
    address: Option<IpAddr>,
) -> Result<(), ProviderError> {
    let issuer = Issuer::new(ca_params()?, ca_key);
    let sans = address.map(|a| vec![a.to_string()]).unwrap_or_default();
    let mut params = CertificateParams::new(sans).map_err(cert_error)?;
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    write_private(path, &format!("{}{}{ca_pem}", key.serialize_pem(), cert.pem()))
}

fn cert_error(e: rcgen::Error) -> ProviderError {
    ProviderError::new(format!("cannot create a certificate: {e}"))
}

fn io_error(path: &Path, e: std::io::Error) -> ProviderError {
    ProviderError::new(format!("{}: {e}", path.display()))
}

fn write_file(path: &Path, contents: &str) -> Result<(), ProviderError> {
    write_atomically(path, contents, false)
}

/// Writes a file readable only by its owner (keys, tokens, configuration naming them).
fn write_private(path: &Path, contents: &str) -> Result<(), ProviderError> {
    write_atomically(path, contents, true)
}

/// Writes a sibling temporary file and renames it over `path`, so a control plane killed mid-write leaves
/// either the old file or the new one, never a truncated key or certificate that a later pass would trust
/// because it exists.
fn write_atomically(path: &Path, contents: &str, private: bool) -> Result<(), ProviderError> {
    let name = path
        .file_name()
        .ok_or_else(|| ProviderError::new(format!("{} is not a file path", path.display())))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(".tmp");
    let temporary = path.with_file_name(temporary_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temporary).map_err(|e| io_error(&temporary, e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|e| io_error(&temporary, e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| io_error(path, e))
}

/// Whether two renderings of a node's cassandra.yaml configure the node alike: the same text, or the same typed
/// configuration once loaded. A fragment value equal to Cassandra's default (`compaction_throughput: 64MiB/s`),
/// the same value in other units, or a key Mica accepts but does not act on changes the text but not the
/// node, so it restarts nothing; the file keeps its old text until the node is prepared again.
fn same_effective_config(fresh: &str, on_disk: &str, dir: &Path) -> bool {
    if fresh == on_disk {
        return true;
    }
    match (
        NodeConfig::from_yaml_str(fresh, dir),
        NodeConfig::from_yaml_str(on_disk, dir),
    ) {
        (Ok(fresh), Ok(on_disk)) => fresh.config == on_disk.config,
        _ => false,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mica_control_api::{ClusterProperties, DataCenterProperties};

    use super::*;

    #[test]
    fn fragment_values_equal_to_the_defaults_need_no_restart() {
        use base64::Engine as _;
        let tmp = tempfile::tempdir().unwrap();
        let provider = LocalProvider::new(
            tmp.path(),
            PathBuf::from("/bin/false"),
            Ipv4Addr::new(127, 0, 78, 1),
        );
        provider.prepare_cluster("c1").unwrap();
        let node = NodeRecord {
            cluster: "c1".into(),
            data_center: "dc1".into(),
            ordinal: 0,
            address: "127.0.78.1".parse().unwrap(),
            rack: "rack1".into(),
        };
        let cluster = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            ..Default::default()
        };
        let seeds = [node.address];
        let with_fragment = |fragment: Option<&str>| DataCenterProperties {
            node_count: Some(1),
            base64_encoded_cassandra_yaml_fragment: fragment
                .map(|f| base64::engine::general_purpose::STANDARD.encode(f)),
            ..Default::default()
        };
        let current = |dc: &DataCenterProperties| {
            provider
                .config_is_current(&NodeSpec {
                    cluster: &cluster,
                    data_center: dc,
                    node: &node,
                    seeds: &seeds,
                })
                .unwrap()
        };
        let plain = with_fragment(None);
        provider
            .prepare_node(&NodeSpec {
                cluster: &cluster,
                data_center: &plain,
                node: &node,
                seeds: &seeds,
            })
            .unwrap();
        assert!(current(&plain));
        assert!(
            current(&with_fragment(Some("compaction_throughput: 64MiB/s\n"))),
            "the default"
        );
        assert!(
            current(&with_fragment(Some("compaction_throughput: 65536KiB/s\n"))),
            "the default in KiB/s"
        );
        assert!(!current(&with_fragment(Some("compaction_throughput: 96MiB/s\n"))));
    }

    #[test]
    fn prepared_node_config_loads_with_tls_password_sku_and_fragment() {
        let tmp = tempfile::tempdir().unwrap();
        let provider = LocalProvider::new(
            tmp.path(),
            PathBuf::from("/bin/false"),
            Ipv4Addr::new(127, 0, 77, 1),
        );
        provider.prepare_cluster("c1").unwrap();
        let ca = provider.cluster_ca("c1").unwrap();
        provider.prepare_cluster("c1").unwrap();
        assert_eq!(provider.cluster_ca("c1").unwrap(), ca, "the CA is created once");
        let node = NodeRecord {
            cluster: "c1".into(),
            data_center: "dc1".into(),
            ordinal: 0,
            address: "127.0.77.1".parse().unwrap(),
            rack: "rack1".into(),
        };
        let cluster = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            ..Default::default()
        };
        use base64::Engine as _;
        let dc = DataCenterProperties {
            node_count: Some(1),
            sku: Some("Standard_D4s_v5".into()),
            disk_capacity: Some(2),
            base64_encoded_cassandra_yaml_fragment: Some(
                base64::engine::general_purpose::STANDARD
                    .encode("compaction_throughput: 32MiB/s\nconcurrent_reads: 12\n"),
            ),
            ..Default::default()
        };
        let seeds = [node.address];
        provider
            .prepare_node(&NodeSpec {
                cluster: &cluster,
                data_center: &dc,
                node: &node,
                seeds: &seeds,
            })
            .unwrap();
        let loaded = NodeConfig::load(provider.node_dir(&node).join(CONFIG_FILE)).unwrap();
        let config = &loaded.config;
        assert_eq!(config.cluster_name, "c1");
        assert_eq!(config.authenticator.simple_name(), "PasswordAuthenticator");
        assert_eq!(config.mica.release_version, "4.0.13");
        assert_eq!(config.concurrent_reads, 12, "the fragment refines the SKU");
        assert_eq!(config.concurrent_writes, 16, "the SKU's setting");
        assert_eq!(config.data_file_directories.len(), 2);
        assert_eq!(config.seeds(), vec!["127.0.77.1".to_owned()]);
        assert_eq!(
            (loaded.rackdc.dc.as_str(), loaded.rackdc.rack.as_str()),
            ("dc1", "rack1")
        );
        assert!(config.native_tls().unwrap().is_some());
        let endpoint = provider.admin_endpoint(&node).unwrap();
        assert_eq!(endpoint.token.len(), ADMIN_TOKEN_BYTES * 2);
    }

    /// A provider whose node binary would fail (adoption must never start anything), one node record with
    /// its directory and an empty config, and a process that runs that config: it stands in for a node left by
    /// a killed control plane, which died before writing the pid file. Also says whether the node looked stopped
    /// before the process existed. Its output goes nowhere so a failing
    /// test never leaves it holding the test harness's pipes.
    fn orphaned_node(ordinal: u32, host: u8) -> (tempfile::TempDir, LocalProvider, NodeRecord, Child, bool) {
        let tmp = tempfile::tempdir().unwrap();
        let provider = LocalProvider::new(
            tmp.path(),
            PathBuf::from("/bin/false"),
            Ipv4Addr::new(127, 0, 79, 1),
        );
        let node = NodeRecord {
            cluster: "c1".into(),
            data_center: "dc1".into(),
            ordinal,
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 79, host)),
            rack: "rack1".into(),
        };
        let dir = provider.node_dir(&node);
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join(CONFIG_FILE);
        fs::write(&config, "").unwrap();
        let not_yet_running = !provider.is_running(&node);
        let orphan = Command::new("tail")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (tmp, provider, node, orphan, not_yet_running)
    }

    /// Waits until the orphan has exited (it is gone from /proc a moment before its parent can reap it).
    fn wait_for_exit(orphan: &mut Child, failure: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while orphan.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = orphan.kill();
                panic!("{failure}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Until the child has exec'd, its command line is still this test's.
    fn wait_until_found(provider: &LocalProvider, node: &NodeRecord) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !provider.is_running(node) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        provider.is_running(node)
    }

    #[test]
    fn an_orphaned_node_process_is_adopted_not_started_twice_and_stopped() {
        let (_tmp, provider, node, mut orphan, not_yet_running) = orphaned_node(0, 1);
        assert!(not_yet_running);
        let dir = provider.node_dir(&node);
        if !wait_until_found(&provider, &node) {
            let _ = orphan.kill();
            panic!("the orphan is found by its command line");
        }
        assert_eq!(
            fs::read_to_string(dir.join(PID_FILE)).unwrap(),
            orphan.id().to_string(),
            "the pid file names the adopted process"
        );
        fs::write(dir.join(PID_FILE), "999999999").unwrap();
        assert!(provider.is_running(&node), "a stale pid file does not hide it");
        assert_eq!(provider.orphan_pid(&node), Some(orphan.id()));
        provider.start_node(&node).unwrap();
        assert!(provider.children().is_empty(), "no second process");

        provider.stop_node(&node).unwrap();
        wait_for_exit(&mut orphan, "the orphan was not stopped by signal");
        assert!(!provider.is_running(&node));
        assert!(!dir.join(PID_FILE).exists());
    }

    #[test]
    fn adopted_node_processes_are_stopped_at_shutdown() {
        let (_tmp, provider, node, mut orphan, _) = orphaned_node(3, 4);
        wait_until_found(&provider, &node);
        provider.shutdown();
        wait_for_exit(&mut orphan, "the adopted process was not stopped at shutdown");
        assert!(!provider.node_dir(&node).join(PID_FILE).exists());
    }

    #[test]
    fn files_are_replaced_whole_and_private_ones_stay_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("node.pem");
        write_private(&path, "first").unwrap();
        write_private(&path, "second").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("node.pem")],
            "no temporary file left"
        );
    }

    #[test]
    fn allocation_skips_taken_addresses() {
        let tmp = tempfile::tempdir().unwrap();
        let provider = LocalProvider::new(
            tmp.path(),
            PathBuf::from("/bin/false"),
            Ipv4Addr::new(127, 0, 78, 1),
        );
        let first = provider.allocate_address(&HashSet::new()).unwrap();
        assert_eq!(first, IpAddr::V4(Ipv4Addr::new(127, 0, 78, 1)));
        let second = provider.allocate_address(&HashSet::from([first])).unwrap();
        assert_eq!(second, IpAddr::V4(Ipv4Addr::new(127, 0, 78, 2)));
    }
}
