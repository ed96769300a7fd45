//! Reads cassandra.yaml (Cassandra 4.1/5.0 spellings and units) into a typed [`NodeConfig`], reads
//! cassandra-rackdc.properties, renders cassandra.yaml back, and builds rustls TLS configurations.
//!
//! Every key of the reference cassandra.yaml (set or commented out) and the pre-4.1 `_in_ms` /
//! `_in_kb` / `_in_mb` spellings are accepted; keys without a typed field are listed in
//! [`LoadedConfig::ignored_keys`]. Mica's own settings live under `mica:` ([`MicaOptions`]).

mod config;
mod encryption;
mod error;
pub mod keys;
mod rackdc;
mod tls;
pub mod units;
mod value;

pub use config::{
    CommitLogSync, DEFAULT_ADMIN_PORT, DEFAULT_RELEASE_VERSION, LoadedConfig, MemtableAllocationType,
    MicaOptions, NodeConfig, render_cassandra_yaml, render_cassandra_yaml_for_cassandra,
};
pub use encryption::{
    ClientAuth, DEFAULT_SSL_CONTEXT_FACTORY, EncryptionOptions, InternodeEncryption, PEM_SSL_CONTEXT_FACTORY,
    TlsMode,
};
pub use error::{ConfigError, Result};
pub use rackdc::{RACKDC_FILE, RackDc};
pub use tls::{InternodeTls, NativeTls, build_client_config, build_server_config};
pub use units::{DataRate, DataStorage};
pub use value::{ParameterizedClass, simple_class_name};
