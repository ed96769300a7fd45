//! The typed node configuration (`NodeConfig`), its Cassandra defaults, loading from cassandra.yaml
//! and rendering back to cassandra.yaml.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use crate::encryption::EncryptionOptions;
use crate::error::{ConfigError, Result};
use crate::keys::{is_known_key, legacy_alias};
use crate::rackdc::{RackDc, resolve_topology};
use crate::units::{DataRate, DataStorage};
use crate::value::{Codec, Field, ParameterizedClass, scalar_text};

/// Cassandra clamps request timeouts below this to this value.
const LOWEST_ACCEPTED_TIMEOUT: Duration = Duration::from_millis(10);
/// Frame and commitlog segment sizes must stay below 2 GiB (they are Java ints).
const MAX_SIZE_BELOW_2GIB: DataStorage = DataStorage::mebibytes(2048);
/// Default Mica admin HTTP API port (see [`MicaOptions::admin_port`]).
pub const DEFAULT_ADMIN_PORT: u16 = 9180;
/// Default Cassandra release Mica reports (system.local.release_version).
pub const DEFAULT_RELEASE_VERSION: &str = "4.1.5";
/// Default interval of the node's tombstone purge pass (see [`MicaOptions::tombstone_purge_interval`]).
pub const DEFAULT_TOMBSTONE_PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// Name used in errors for configuration given as a string rather than a file.
const INLINE_SOURCE: &str = "<inline cassandra.yaml>";

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? } expected $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// The spelling used in cassandra.yaml.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl Codec for $name {
            fn decode(f: &Field<'_>) -> Result<Self> {
                match f.scalar().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                    $(Some($text) => Ok(Self::$variant),)*
                    _ => Err(f.invalid($expected)),
                }
            }
            fn encode(&self) -> Value {
                Value::String(self.as_str().to_owned())
            }
        }
    };
}

string_enum! {
    /// `commitlog_sync`: when writes are acknowledged relative to the commit log fsync.
    CommitLogSync {
        /// Acknowledge immediately, fsync every `commitlog_sync_period`.
        Periodic = "periodic",
        /// Fsync before acknowledging, for each write batch.
        Batch = "batch",
        /// Fsync before acknowledging, at most every `commitlog_sync_group_window`.
        Group = "group",
    } expected "one of periodic, batch, group"
}

string_enum! {
    /// `memtable_allocation_type`.
    MemtableAllocationType {
        HeapBuffers = "heap_buffers",
        OffheapBuffers = "offheap_buffers",
        OffheapObjects = "offheap_objects",
        UnslabbedHeapBuffers = "unslabbed_heap_buffers",
        UnslabbedHeapBuffersLogged = "unslabbed_heap_buffers_logged",
    } expected "one of heap_buffers, offheap_buffers, offheap_objects, unslabbed_heap_buffers"
}

/// Mica's own settings, under the `mica:` key of cassandra.yaml (Cassandra has no such key).
///
/// ```yaml
/// mica:
///   admin_address: 127.0.0.1   # address of the node admin HTTP API (default: listen_address)
///   admin_port: 9180           # its port; 0 disables the admin API
///   release_version: "4.1.5"   # Cassandra release reported to clients and behaved as (docs/compatibility.md)
///   admin_token_file: /etc/mica/admin.token  # bearer token of the admin API (default: <data dir>/admin.token)
///   tombstone_purge_interval: 1h  # how often tombstones older than gc_grace_seconds are purged; 0 disables
///   replace_address_first_boot: 127.0.0.3  # first start only: take over this dead node's tokens and data
/// ```
///
/// `replace_address_first_boot` is Cassandra's `-Dcassandra.replace_address_first_boot` JVM option; the
/// environment variable `MICA_REPLACE_ADDRESS_FIRST_BOOT` sets it too (and wins over the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicaOptions {
    /// Empty means "the node's listen_address", so nodes on their own loopback addresses never collide.
    pub admin_address: String,
    pub admin_port: u16,
    /// File holding the admin API's bearer token; `None` means `admin.token` in the first data directory,
    /// created with a random token at first start.
    pub admin_token_file: Option<PathBuf>,
    /// `major.minor.patch` Cassandra release Mica reports and behaves as.
    pub release_version: String,
    /// Whether `release_version` was set in the file. Only then does the node behave as that release
    /// (protocol versions, CQL features); without it the node keeps Mica's newest behaviour.
    pub release_version_configured: bool,
    /// How often the node compacts every table to purge tombstones older than their gc_grace_seconds and
    /// expired TTL cells; zero disables the background pass (nodetool compact still purges).
    pub tombstone_purge_interval: Duration,
    /// The address of a dead node this node replaces on its first start (taking over its tokens and
    /// streaming its data); ignored once the node has tokens. Empty means none.
    pub replace_address_first_boot: String,
}

impl Default for MicaOptions {
    fn default() -> Self {
        Self {
            admin_address: String::new(),
            admin_token_file: None,
            admin_port: DEFAULT_ADMIN_PORT,
            release_version: DEFAULT_RELEASE_VERSION.to_owned(),
            release_version_configured: false,
            tombstone_purge_interval: DEFAULT_TOMBSTONE_PURGE_INTERVAL,
            replace_address_first_boot: String::new(),
        }
    }
}

impl MicaOptions {
    /// The release version as `(major, minor, patch)`.
    pub fn release_version_parts(&self) -> Option<(u32, u32, u32)> {
        parse_release_version(&self.release_version)
    }

    fn decode(f: &Field<'_>) -> Result<Self> {
        let mut opts = Self::default();
        let map = match f.value {
            Value::Null => return Ok(opts),
            Value::Mapping(map) => map,
            _ => return Err(f.invalid("a map of Mica options")),
        };
        for (k, value) in map {
            let key = scalar_text(k).unwrap_or_default();
            let dotted = format!("mica.{key}");
            let sub = Field {
                key: &dotted,
                value,
                ..*f
            };
            match key.as_str() {
                "admin_address" => opts.admin_address = String::decode(&sub)?,
                "admin_port" => opts.admin_port = u16::decode(&sub)?,
                "admin_token_file" => opts.admin_token_file = Some(PathBuf::decode(&sub)?),
                "release_version" => {
                    opts.release_version = String::decode(&sub)?;
                    opts.release_version_configured = true;
                    if opts.release_version_parts().is_none() {
                        return Err(sub.invalid("a release version like 4.1.5"));
                    }
                }
                "tombstone_purge_interval" => opts.tombstone_purge_interval = Duration::decode(&sub)?,
                "replace_address_first_boot" => opts.replace_address_first_boot = String::decode(&sub)?,
                _ => {
                    return Err(ConfigError::UnknownKey {
                        key: dotted,
                        file: String::new(),
                    });
                }
            }
        }
        Ok(opts)
    }

    fn encode(&self) -> Mapping {
        let default = Self::default();
        let mut map = Mapping::new();
        if self.admin_address != default.admin_address {
            map.insert("admin_address".into(), self.admin_address.encode());
        }
        if let Some(path) = &self.admin_token_file {
            map.insert("admin_token_file".into(), path.encode());
        }
        if self.admin_port != default.admin_port {
            map.insert("admin_port".into(), self.admin_port.encode());
        }
        if self.release_version_configured || self.release_version != default.release_version {
            map.insert("release_version".into(), self.release_version.encode());
        }
        if self.tombstone_purge_interval != default.tombstone_purge_interval {
            map.insert(
                "tombstone_purge_interval".into(),
                self.tombstone_purge_interval.encode(),
            );
        }
        if self.replace_address_first_boot != default.replace_address_first_boot {
            map.insert(
                "replace_address_first_boot".into(),
                self.replace_address_first_boot.encode(),
            );
        }
        map
    }
}

fn parse_release_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next().unwrap_or(Some(0))?);
    parts.next().is_none().then_some(version)
}

/// Declares the typed fields that map one-to-one onto a cassandra.yaml key, generating the struct,
/// the decoder dispatch and the renderer from one list.
macro_rules! node_config {
    (
        special { $($(#[$sdoc:meta])* $sname:ident: $sty:ty,)* }
        simple { $($(#[$doc:meta])* $name:ident: $ty:ty = $default:expr,)* }
    ) => {
        /// The node configuration, typed. Field names are the cassandra.yaml keys (4.1 spellings);
        /// paths are absolute (resolved against the config file's directory).
        #[derive(Debug, Clone, PartialEq)]
        pub struct NodeConfig {
            $($(#[$sdoc])* pub $sname: $sty,)*
            $($(#[$doc])* pub $name: $ty,)*
        }

        impl NodeConfig {
            fn simple_defaults(config_dir: &Path) -> Self {
                let data = config_dir.join("data");
                Self {
                    config_dir: config_dir.to_path_buf(),
                    data_file_directories: vec![data.join("data")],
                    commitlog_directory: data.join("commitlog"),
                    hints_directory: data.join("hints"),
                    saved_caches_directory: data.join("saved_caches"),
                    cdc_raw_directory: data.join("cdc_raw"),
                    client_encryption_options: EncryptionOptions::default(),
                    server_encryption_options: EncryptionOptions::default(),
                    mica: MicaOptions::default(),
                    other: BTreeMap::new(),
                    $($name: $default,)*
                }
            }

            /// Decodes a key with a plain typed field; `Ok(false)` when the key has none.
            fn apply_simple(&mut self, canonical: &str, f: &Field<'_>) -> Result<bool> {
                match canonical {
                    $(stringify!($name) => self.$name = Codec::decode(f)?,)*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            fn render_simple(&self, default: &Self, out: &mut Mapping) {
                $(if self.$name != default.$name {
                    out.insert(stringify!($name).into(), self.$name.encode());
                })*
            }
        }
    };
}

node_config! {
    special {
        /// The directory relative paths were resolved against (the config file's directory).
        config_dir: PathBuf,
        /// Default `data/data` under the config directory.
        data_file_directories: Vec<PathBuf>,
        /// Default `data/commitlog`.
        commitlog_directory: PathBuf,
        /// Default `data/hints`.
        hints_directory: PathBuf,
        /// Default `data/saved_caches`.
        saved_caches_directory: PathBuf,
        /// Default `data/cdc_raw`.
        cdc_raw_directory: PathBuf,
        client_encryption_options: EncryptionOptions,
        /// Also carries `internode_encryption` and the outbound keystore.
        server_encryption_options: EncryptionOptions,
        mica: MicaOptions,
        /// Accepted keys without a typed field (Cassandra's spelling as given, raw value); they are
        /// reported in [`LoadedConfig::ignored_keys`] and written back by [`render_cassandra_yaml`].
        other: BTreeMap<String, Value>,
    }
    simple {
        cluster_name: String = "Test Cluster".to_owned(),
        num_tokens: u32 = 16,
        /// Comma-separated tokens; see [`NodeConfig::initial_tokens`].
        initial_token: Option<String> = None,
        allocate_tokens_for_keyspace: Option<String> = None,
        allocate_tokens_for_local_replication_factor: Option<u32> = None,
        auto_bootstrap: bool = true,
        /// `None`: the host name's address.
        listen_address: Option<String> = None,
        /// `None`: same as `listen_address`.
        broadcast_address: Option<String> = None,
        /// `None`: same as `listen_address`.
        rpc_address: Option<String> = None,
        /// `None`: same as `rpc_address`.
        broadcast_rpc_address: Option<String> = None,
        start_native_transport: bool = true,
        native_transport_port: u16 = 9042,
        /// Deprecated: a second, TLS-only native port.
        native_transport_port_ssl: Option<u16> = None,
        storage_port: u16 = 7000,
        ssl_storage_port: u16 = 7001,
        partitioner: String = "org.apache.cassandra.dht.Murmur3Partitioner".to_owned(),
        endpoint_snitch: String = "SimpleSnitch".to_owned(),
        /// `seed_provider`; the seed list is `parameters["seeds"]`, see [`NodeConfig::seeds`].
        seed_provider: ParameterizedClass = ParameterizedClass {
            class_name: "org.apache.cassandra.locator.SimpleSeedProvider".to_owned(),
            parameters: [("seeds".to_owned(), "127.0.0.1:7000".to_owned())].into(),
        },
        commitlog_sync: CommitLogSync = CommitLogSync::Periodic,
        commitlog_sync_period: Duration = Duration::from_millis(10_000),
        commitlog_sync_group_window: Duration = Duration::from_millis(1000),
        /// Deprecated Cassandra setting for batch mode (milliseconds, fractional).
        commitlog_sync_batch_window_in_ms: Option<f64> = None,
        commitlog_segment_size: DataStorage = DataStorage::mebibytes(32),
        /// `None`: min(8GiB, 1/4 of the commitlog volume).
        commitlog_total_space: Option<DataStorage> = None,
        authenticator: ParameterizedClass = ParameterizedClass::new("AllowAllAuthenticator"),
        authorizer: ParameterizedClass = ParameterizedClass::new("AllowAllAuthorizer"),
        role_manager: ParameterizedClass = ParameterizedClass::new("CassandraRoleManager"),
        network_authorizer: ParameterizedClass = ParameterizedClass::new("AllowAllNetworkAuthorizer"),
        roles_validity: Duration = Duration::from_millis(2000),
        /// `None`: same as `roles_validity`.
        roles_update_interval: Option<Duration> = None,
        permissions_validity: Duration = Duration::from_millis(2000),
        permissions_update_interval: Option<Duration> = None,
        credentials_validity: Duration = Duration::from_millis(2000),
        credentials_update_interval: Option<Duration> = None,
        /// `None`: 1/4 of the heap.
        memtable_heap_space: Option<DataStorage> = None,
        memtable_offheap_space: Option<DataStorage> = None,
        memtable_allocation_type: MemtableAllocationType = MemtableAllocationType::HeapBuffers,
        memtable_flush_writers: Option<u32> = None,
        /// `None`: "auto", min(5% of heap, 100MiB).
        key_cache_size: Option<DataStorage> = None,
        /// `None`: the smaller of 1/4 of the heap and 512MiB (the chunk cache).
        file_cache_size: Option<DataStorage> = None,
        row_cache_size: DataStorage = DataStorage::mebibytes(0),
        /// `None`: "auto", min(2.5% of heap, 50MiB).
        counter_cache_size: Option<DataStorage> = None,
        concurrent_reads: u32 = 32,
        concurrent_writes: u32 = 32,
        concurrent_counter_writes: u32 = 32,
        concurrent_compactors: Option<u32> = None,
        read_request_timeout: Duration = Duration::from_millis(5000),
        range_request_timeout: Duration = Duration::from_millis(10_000),
        write_request_timeout: Duration = Duration::from_millis(2000),
        counter_write_request_timeout: Duration = Duration::from_millis(5000),
        cas_contention_timeout: Duration = Duration::from_millis(1000),
        truncate_request_timeout: Duration = Duration::from_millis(60_000),
        request_timeout: Duration = Duration::from_millis(10_000),
        slow_query_log_timeout: Duration = Duration::from_millis(500),
        native_transport_max_frame_size: DataStorage = DataStorage::mebibytes(16),
        native_transport_max_threads: u32 = 128,
        /// -1: unlimited.
        native_transport_max_concurrent_connections: i64 = -1,
        /// -1: unlimited.
        native_transport_max_concurrent_connections_per_ip: i64 = -1,
        native_transport_allow_older_protocols: bool = true,
        /// Zero: idle connections are never closed.
        native_transport_idle_timeout: Duration = Duration::ZERO,
        rpc_keepalive: bool = true,
        batch_size_warn_threshold: DataStorage = DataStorage::kibibytes(5),
        batch_size_fail_threshold: DataStorage = DataStorage::kibibytes(50),
        unlogged_batch_across_partitions_warn_threshold: u32 = 10,
        tombstone_warn_threshold: u32 = 1000,
        tombstone_failure_threshold: u32 = 100_000,
        /// GC pauses above this are logged at INFO (Mica: long stalls).
        gc_log_threshold: Duration = Duration::from_millis(200),
        gc_warn_threshold: Duration = Duration::from_millis(1000),
        hinted_handoff_enabled: bool = true,
        max_hint_window: Duration = Duration::from_secs(3 * 3600),
        stream_throughput_outbound: DataRate = DataRate::mebibytes_per_second(24),
        inter_dc_stream_throughput_outbound: DataRate = DataRate::mebibytes_per_second(24),
        /// Zero: unthrottled.
        compaction_throughput: DataRate = DataRate::mebibytes_per_second(64),
        auto_snapshot: bool = true,
        snapshot_before_compaction: bool = false,
        incremental_backups: bool = false,
        /// `None`: the sstable format's default (64KiB for BIG, 16KiB for BTI).
        column_index_size: Option<DataStorage> = None,
        column_index_cache_size: DataStorage = DataStorage::kibibytes(2),
        max_value_size: DataStorage = DataStorage::mebibytes(256),
        max_mutation_size: Option<DataStorage> = None,
        default_keyspace_rf: u32 = 1,
        user_defined_functions_enabled: bool = false,
        materialized_views_enabled: bool = false,
        sasi_indexes_enabled: bool = false,
        transient_replication_enabled: bool = false,
        drop_compact_storage_enabled: bool = false,
        phi_convict_threshold: f64 = 8.0,
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self::with_config_dir(Path::new("."))
    }
}

/// The result of loading a configuration.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: NodeConfig,
    /// Accepted Cassandra keys Mica does not act on (as spelled in the file; sub-keys dotted).
    /// The node logs these once at startup.
    pub ignored_keys: Vec<String>,
    /// Datacenter and rack of this node, from the snitch (and cassandra-rackdc.properties).
    pub rackdc: RackDc,
}

impl LoadedConfig {
    /// Logs the accepted-but-ignored keys once (the node calls this at startup).
    pub fn log_ignored_keys(&self) {
        if !self.ignored_keys.is_empty() {
            tracing::info!(
                "cassandra.yaml settings accepted but not acted on by Mica: {}",
                self.ignored_keys.join(", ")
            );
        }
    }
}

impl NodeConfig {
    /// Cassandra's defaults, with data directories under `config_dir/data/`.
    pub fn with_config_dir(config_dir: &Path) -> Self {
        Self::simple_defaults(config_dir)
    }

    /// Reads `path` (cassandra.yaml) and, for property-file snitches, `cassandra-rackdc.properties`
    /// from the same directory.
    pub fn load(path: impl AsRef<Path>) -> Result<LoadedConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        parse(&text, &dir, &path.display().to_string())
    }

    /// Parses cassandra.yaml text; relative paths and cassandra-rackdc.properties are looked up in
    /// `base_dir`.
    pub fn from_yaml_str(text: &str, base_dir: impl AsRef<Path>) -> Result<LoadedConfig> {
        parse(text, base_dir.as_ref(), INLINE_SOURCE)
    }

    /// The seed addresses (`host` or `host:port`) from `seed_provider.parameters.seeds`.
    pub fn seeds(&self) -> Vec<String> {
        split_list(
            self.seed_provider
                .parameters
                .get("seeds")
                .map_or("", String::as_str),
        )
    }

    /// The tokens listed in `initial_token`.
    pub fn initial_tokens(&self) -> Vec<String> {
        split_list(self.initial_token.as_deref().unwrap_or(""))
    }

    /// The seeds rendered into a `seed_provider` entry (helper for writers of cassandra.yaml).
    pub fn set_seeds<S: AsRef<str>>(&mut self, seeds: &[S]) {
        let joined = seeds.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        self.seed_provider.parameters.insert("seeds".to_owned(), joined);
    }

    fn validate(&mut self, file: &str) -> Result<()> {
        let invalid = |message: String| ConfigError::Invalid {
            file: file.to_owned(),
            message,
        };
        if self.num_tokens == 0 {
            return Err(invalid("num_tokens must be at least 1".into()));
        }
        let tokens = self.initial_tokens().len();
        if tokens > 0 && u32::try_from(tokens).ok() != Some(self.num_tokens) {
            return Err(invalid(format!(
                "the number of initial tokens (by initial_token) specified ({tokens}) is different from \
                 num_tokens value ({})",
                self.num_tokens
            )));
        }
        for (key, value) in [
            ("listen_address", &self.listen_address),
            ("broadcast_address", &self.broadcast_address),
            ("broadcast_rpc_address", &self.broadcast_rpc_address),
        ] {
            if value.as_deref().is_some_and(is_wildcard) {
                return Err(invalid(format!(
                    "{key} cannot be a wildcard address ({})",
                    value.as_deref().unwrap_or("")
                )));
            }
        }
        if self.rpc_address.as_deref().is_some_and(is_wildcard) && self.broadcast_rpc_address.is_none() {
            return Err(invalid(
                "if rpc_address is set to a wildcard address, broadcast_rpc_address must be set".into(),
            ));
        }
        for (key, size) in [
            (
                "native_transport_max_frame_size",
                self.native_transport_max_frame_size,
            ),
            ("commitlog_segment_size", self.commitlog_segment_size),
        ] {
            if size.as_bytes() == 0 || size >= MAX_SIZE_BELOW_2GIB {
                return Err(invalid(format!(
                    "{key} must be positive and less than 2048MiB, got {size}"
                )));
            }
        }
        for (key, timeout) in [
            ("read_request_timeout", &mut self.read_request_timeout),
            ("range_request_timeout", &mut self.range_request_timeout),
            ("write_request_timeout", &mut self.write_request_timeout),
            (
                "counter_write_request_timeout",
                &mut self.counter_write_request_timeout,
            ),
            ("cas_contention_timeout", &mut self.cas_contention_timeout),
            ("truncate_request_timeout", &mut self.truncate_request_timeout),
            ("request_timeout", &mut self.request_timeout),
        ] {
            if *timeout < LOWEST_ACCEPTED_TIMEOUT {
                tracing::warn!("{key} ({timeout:?}) is below the lowest accepted timeout; using 10ms");
                *timeout = LOWEST_ACCEPTED_TIMEOUT;
            }
        }
        Ok(())
    }
}

fn is_wildcard(address: &str) -> bool {
    address
        .trim()
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse(text: &str, base_dir: &Path, file: &str) -> Result<LoadedConfig> {
    parse_inner(text, base_dir, file).map_err(|err| match err {
        ConfigError::UnknownKey { key, file: f } if f.is_empty() => ConfigError::UnknownKey {
            key,
            file: file.to_owned(),
        },
        other => other,
    })
}

fn parse_inner(text: &str, base_dir: &Path, file: &str) -> Result<LoadedConfig> {
    let root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    let empty = Mapping::new();
    let map = match &root {
        Value::Null => &empty,
        Value::Mapping(map) => map,
        _ => {
            return Err(ConfigError::Invalid {
                file: file.to_owned(),
                message: "the document is not a map".into(),
            });
        }
    };
    let mut config = NodeConfig::with_config_dir(base_dir);
    let mut ignored_keys = Vec::new();
    let mut spellings: HashMap<&str, String> = HashMap::new();
    for (k, value) in map {
        let Some(key) = k.as_str() else {
            return Err(ConfigError::UnknownKey {
                key: scalar_text(k).unwrap_or_default(),
                file: file.to_owned(),
            });
        };
        let field = Field::new(key, value, base_dir);
        if key == "mica" {
            config.mica = MicaOptions::decode(&field)?;
            continue;
        }
        let (canonical, legacy) = if is_known_key(key) {
            (key, None)
        } else if let Some((canonical, unit)) = legacy_alias(key) {
            (canonical, Some(unit))
        } else {
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                file: file.to_owned(),
            });
        };
        if let Some(first) = spellings.insert(canonical, key.to_owned()) {
            return Err(ConfigError::BothSpellings {
                canonical: canonical.to_owned(),
                first,
                second: key.to_owned(),
                file: file.to_owned(),
            });
        }
        // An empty value means "use the default", as Cassandra's nullable settings do.
        if value.is_null() {
            continue;
        }
        let field = Field { legacy, ..field };
        if !apply_special(&mut config, canonical, &field, &mut ignored_keys)?
            && !config.apply_simple(canonical, &field)?
        {
            ignored_keys.push(key.to_owned());
            config.other.insert(key.to_owned(), value.clone());
        }
    }
    config.validate(file)?;
    let rackdc = resolve_topology(&config, base_dir)?;
    Ok(LoadedConfig {
        config,
        ignored_keys,
        rackdc,
    })
}

/// Keys whose decoding needs more than a codec: directories and the encryption sections.
fn apply_special(
    config: &mut NodeConfig,
    canonical: &str,
    f: &Field<'_>,
    ignored: &mut Vec<String>,
) -> Result<bool> {
    match canonical {
        "data_file_directories" => config.data_file_directories = Codec::decode(f)?,
        "commitlog_directory" => config.commitlog_directory = Codec::decode(f)?,
        "hints_directory" => config.hints_directory = Codec::decode(f)?,
        "saved_caches_directory" => config.saved_caches_directory = Codec::decode(f)?,
        "cdc_raw_directory" => config.cdc_raw_directory = Codec::decode(f)?,
        "client_encryption_options" | "server_encryption_options" => {
            let server = canonical == "server_encryption_options";
            let (opts, sub_ignored) = EncryptionOptions::decode(f, server)?;
            ignored.extend(sub_ignored);
            if server {
                config.server_encryption_options = opts;
            } else {
                config.client_encryption_options = opts;
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Writes `config` as cassandra.yaml text holding only its non-default settings (plus the accepted
/// but untyped keys it was loaded with). Paths under the config directory are written relative to it.
/// The output loads back (from a file in `config.config_dir`) into an equal `NodeConfig`.
pub fn render_cassandra_yaml(config: &NodeConfig) -> String {
    render(config, false)
}

/// Like [`render_cassandra_yaml`], but for Apache Cassandra itself (e.g. a reference node in a
/// comparison test): the keys Cassandra requires or defaults differently (cluster_name, num_tokens,
/// partitioner, endpoint_snitch, seed_provider, commitlog_sync and its period, the directories) are
/// always written, paths are absolute, and the `mica:` section is left out.
pub fn render_cassandra_yaml_for_cassandra(config: &NodeConfig) -> String {
    render(config, true)
}

fn render(config: &NodeConfig, for_cassandra: bool) -> String {
    let default = NodeConfig::with_config_dir(&config.config_dir);
    let mut out = Mapping::new();
    if for_cassandra {
        let period = match config.commitlog_sync {
            CommitLogSync::Periodic => Some(("commitlog_sync_period", config.commitlog_sync_period)),
            CommitLogSync::Group => Some(("commitlog_sync_group_window", config.commitlog_sync_group_window)),
            CommitLogSync::Batch => None,
        };
        let required = [
            ("cluster_name", config.cluster_name.encode()),
            ("num_tokens", config.num_tokens.encode()),
            ("partitioner", config.partitioner.encode()),
            ("endpoint_snitch", config.endpoint_snitch.encode()),
            ("seed_provider", config.seed_provider.encode()),
            ("commitlog_sync", config.commitlog_sync.encode()),
        ];
        for (key, value) in required
            .into_iter()
            .chain(period.map(|(key, d)| (key, d.encode())))
        {
            out.insert(key.into(), value);
        }
    }
    config.render_simple(&default, &mut out);
    if let Some(Value::Mapping(provider)) = out.get_mut("seed_provider") {
        // Cassandra writes the seed provider as a one-element list with parameters as a list of maps.
        if let Some(Value::Mapping(params)) = provider.get("parameters").cloned() {
            provider.insert("parameters".into(), Value::Sequence(vec![Value::Mapping(params)]));
        }
        let provider = Value::Mapping(provider.clone());
        out.insert("seed_provider".into(), Value::Sequence(vec![provider]));
    }
    let relative = |p: &PathBuf| {
        let shown = if for_cassandra {
            p
        } else {
            p.strip_prefix(&config.config_dir).unwrap_or(p)
        };
        Value::String(shown.to_string_lossy().into_owned())
    };
    if for_cassandra || config.data_file_directories != default.data_file_directories {
        out.insert(
            "data_file_directories".into(),
            Value::Sequence(config.data_file_directories.iter().map(relative).collect()),
        );
    }
    for (key, path, default_path) in [
        (
            "commitlog_directory",
            &config.commitlog_directory,
            &default.commitlog_directory,
        ),
        (
            "hints_directory",
            &config.hints_directory,
            &default.hints_directory,
        ),
        (
            "saved_caches_directory",
            &config.saved_caches_directory,
            &default.saved_caches_directory,
        ),
        (
            "cdc_raw_directory",
            &config.cdc_raw_directory,
            &default.cdc_raw_directory,
        ),
    ] {
        if for_cassandra || path != default_path {
            out.insert(key.into(), relative(path));
        }
    }
    for (key, opts) in [
        ("client_encryption_options", &config.client_encryption_options),
        ("server_encryption_options", &config.server_encryption_options),
    ] {
        let section = opts.encode();
        if !section.is_empty() {
            out.insert(key.into(), Value::Mapping(section));
        }
    }
    for (key, value) in &config.other {
        out.insert(key.as_str().into(), value.clone());
    }
    let mica = config.mica.encode();
    if !for_cassandra && !mica.is_empty() {
        out.insert("mica".into(), Value::Mapping(mica));
    }
    let body = if out.is_empty() {
        String::new()
    } else {
        // Serialising a mapping of plain values cannot fail.
        serde_yaml::to_string(&Value::Mapping(out)).unwrap_or_default()
    };
    format!("# cassandra.yaml written by Mica; keys not listed take Cassandra's defaults.\n{body}")
}
