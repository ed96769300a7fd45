//! Errors raised while loading cassandra.yaml, cassandra-rackdc.properties and TLS key material.

use std::path::PathBuf;

/// Everything that can go wrong while reading the node configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("invalid YAML in {file}: {message}")]
    Yaml { file: String, message: String },

    #[error("unknown configuration key '{key}' in {file}")]
    UnknownKey { key: String, file: String },

    #[error("configuration key '{canonical}' is given twice in {file}, as '{first}' and as '{second}'")]
    BothSpellings {
        canonical: String,
        first: String,
        second: String,
        file: String,
    },

    #[error("invalid value '{value}' for {key}: expected {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: String,
    },

    #[error("invalid configuration in {file}: {message}")]
    Invalid { file: String, message: String },

    /// TLS key material problems; `option` names the setting, e.g. `client_encryption_options.keystore`.
    #[error("{option}: {message}")]
    Tls { option: String, message: String },

    #[error("endpoint_snitch {snitch} is not supported by Mica: {reason}")]
    UnsupportedSnitch { snitch: String, reason: String },
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;
