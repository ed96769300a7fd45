//! `client_encryption_options` / `server_encryption_options` as Cassandra 4.1/5.0 spell them, with
//! PEM key material (PEMBasedSslContextFactory) either in files or inline.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use crate::error::{ConfigError, Result};
use crate::keys::{ENCRYPTION_KEYS, SERVER_ONLY_ENCRYPTION_KEYS};
use crate::value::{Codec, Field, ParameterizedClass, scalar_text};

/// Cassandra's default SSL context factory (JKS key stores); Mica reads PEM whatever it says.
pub const DEFAULT_SSL_CONTEXT_FACTORY: &str = "org.apache.cassandra.security.DefaultSslContextFactory";
/// The factory that reads PEM key material.
pub const PEM_SSL_CONTEXT_FACTORY: &str = "org.apache.cassandra.security.PEMBasedSslContextFactory";

/// Whether (and how) the peer must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `false` / `not_required`: no client certificate is requested.
    #[default]
    NotRequired,
    /// `optional`: a certificate is verified when offered but not demanded.
    Optional,
    /// `true` / `required`: a certificate verified against the truststore is demanded.
    Required,
}

impl Codec for ClientAuth {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.scalar().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("false" | "not_required") => Ok(Self::NotRequired),
            Some("optional") => Ok(Self::Optional),
            Some("true" | "required") => Ok(Self::Required),
            _ => Err(f.invalid("true, false or optional")),
        }
    }
    fn encode(&self) -> Value {
        match self {
            Self::NotRequired => Value::Bool(false),
            Self::Optional => Value::String("optional".into()),
            Self::Required => Value::Bool(true),
        }
    }
}

/// Which outbound internode connections are encrypted (`internode_encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InternodeEncryption {
    #[default]
    None,
    All,
    /// Only connections to other datacenters.
    Dc,
    /// Only connections to other racks.
    Rack,
}

impl Codec for InternodeEncryption {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.scalar().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("none") => Ok(Self::None),
            Some("all") => Ok(Self::All),
            Some("dc") => Ok(Self::Dc),
            Some("rack") => Ok(Self::Rack),
            _ => Err(f.invalid("one of none, all, dc, rack")),
        }
    }
    fn encode(&self) -> Value {
        Value::String(
            match self {
                Self::None => "none",
                Self::All => "all",
                Self::Dc => "dc",
                Self::Rack => "rack",
            }
            .into(),
        )
    }
}

/// How a listener treats TLS, derived from `enabled` / `optional` / `internode_encryption` the way
/// Cassandra's EncryptionOptions does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connections only.
    Disabled,
    /// Both TLS and plain connections on the same port (the listener must sniff the first byte:
    /// 0x16 starts a TLS handshake).
    Optional,
    /// TLS only.
    Required,
}

/// One `*_encryption_options` section. Paths are already resolved against the config directory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncryptionOptions {
    /// `enabled` (client side). `None` when not given.
    pub enabled: Option<bool>,
    /// `optional`. `None` when not given; see [`EncryptionOptions::client_tls_mode`] for the default.
    pub optional: Option<bool>,
    pub ssl_context_factory: Option<ParameterizedClass>,
    /// PEM file with the private key and the certificate chain.
    pub keystore: Option<PathBuf>,
    /// Accepted for compatibility; encrypted private keys are not supported.
    pub keystore_password: Option<String>,
    /// PEM file with the trusted CA certificates.
    pub truststore: Option<PathBuf>,
    pub truststore_password: Option<String>,
    /// Inline PEM private key (may also hold the certificate chain).
    pub private_key: Option<String>,
    pub private_key_password: Option<String>,
    /// Inline PEM certificate chain, when `private_key` holds only the key.
    pub certificate: Option<String>,
    /// Inline PEM trusted CA certificates.
    pub trusted_certificates: Option<String>,
    pub require_client_auth: ClientAuth,
    pub require_endpoint_verification: bool,
    /// `protocol` (`TLS`, `TLSv1.2`, `TLSv1.3`).
    pub protocol: Option<String>,
    pub accepted_protocols: Vec<String>,
    /// IANA/JSSE cipher suite names; unsupported ones are skipped with a warning.
    pub cipher_suites: Vec<String>,
    /// Server only: `internode_encryption`.
    pub internode_encryption: InternodeEncryption,
    /// Server only: `legacy_ssl_storage_port_enabled` (alias `enable_legacy_ssl_storage_port`).
    pub legacy_ssl_storage_port_enabled: bool,
    /// Server only: key material for outbound connections; defaults to `keystore`.
    pub outbound_keystore: Option<PathBuf>,
    pub outbound_keystore_password: Option<String>,
    /// Accepted keys Mica does not act on (`store_type`, `algorithm`, ...), kept for rendering.
    pub other: BTreeMap<String, Value>,
}

impl EncryptionOptions {
    /// Decodes a section; `server` selects `server_encryption_options` rules. Returns the options and
    /// the dotted names of accepted-but-ignored sub-keys.
    pub(crate) fn decode(f: &Field<'_>, server: bool) -> Result<(Self, Vec<String>)> {
        let mut opts = Self::default();
        let mut ignored = Vec::new();
        let map = match f.value {
            Value::Null => return Ok((opts, ignored)),
            Value::Mapping(map) => map,
            _ => return Err(f.invalid("a map of encryption options")),
        };
        for (k, value) in map {
            let key = scalar_text(k).unwrap_or_default();
            let dotted = format!("{}.{key}", f.key);
            let known = ENCRYPTION_KEYS.contains(&key.as_str())
                || (server && SERVER_ONLY_ENCRYPTION_KEYS.contains(&key.as_str()));
            if !known {
                // The loader fills in the file name.
                return Err(ConfigError::UnknownKey {
                    key: dotted,
                    file: String::new(),
                });
            }
            if value.is_null() {
                continue;
            }
            let sub = Field {
                key: &dotted,
                value,
                legacy: None,
                base_dir: f.base_dir,
            };
            match key.as_str() {
                "enabled" => opts.enabled = Some(bool::decode(&sub)?),
                "optional" => opts.optional = Some(bool::decode(&sub)?),
                "ssl_context_factory" => {
                    let factory = ParameterizedClass::decode(&sub)?;
                    // PEMBasedSslContextFactory may carry inline PEM as factory parameters.
                    for (name, text) in &factory.parameters {
                        match name.as_str() {
                            "private_key" => opts.private_key = Some(text.clone()),
                            "private_key_password" => opts.private_key_password = Some(text.clone()),
                            "certificate" => opts.certificate = Some(text.clone()),
                            "trusted_certificates" => opts.trusted_certificates = Some(text.clone()),
                            _ => ignored.push(format!("{dotted}.parameters.{name}")),
                        }
                    }
                    opts.ssl_context_factory = Some(factory);
                }
                "keystore" => opts.keystore = Some(PathBuf::decode(&sub)?),
                "keystore_password" => opts.keystore_password = Some(String::decode(&sub)?),
                "truststore" => opts.truststore = Some(PathBuf::decode(&sub)?),
                "truststore_password" => opts.truststore_password = Some(String::decode(&sub)?),
                "private_key" => opts.private_key = Some(String::decode(&sub)?),
                "private_key_password" => opts.private_key_password = Some(String::decode(&sub)?),
                "certificate" => opts.certificate = Some(String::decode(&sub)?),
                "trusted_certificates" => opts.trusted_certificates = Some(String::decode(&sub)?),
                "require_client_auth" => opts.require_client_auth = ClientAuth::decode(&sub)?,
                "require_endpoint_verification" => opts.require_endpoint_verification = bool::decode(&sub)?,
                "protocol" => opts.protocol = Some(String::decode(&sub)?),
                "accepted_protocols" => opts.accepted_protocols = Vec::decode(&sub)?,
                "cipher_suites" => opts.cipher_suites = Vec::decode(&sub)?,
                "internode_encryption" => opts.internode_encryption = InternodeEncryption::decode(&sub)?,
                "legacy_ssl_storage_port_enabled" | "enable_legacy_ssl_storage_port" => {
                    opts.legacy_ssl_storage_port_enabled = bool::decode(&sub)?;
                }
                "outbound_keystore" => opts.outbound_keystore = Some(PathBuf::decode(&sub)?),
                "outbound_keystore_password" => opts.outbound_keystore_password = Some(String::decode(&sub)?),
                _ => {
                    ignored.push(dotted.clone());
                    opts.other.insert(key, value.clone());
                }
            }
        }
        Ok((opts, ignored))
    }

    /// Renders the non-default entries of this section.
    pub(crate) fn encode(&self) -> Mapping {
        let mut map = Mapping::new();
        let mut put = |key: &str, value: Value| {
            map.insert(key.into(), value);
        };
        let opt_str = |s: &Option<String>| s.as_ref().map(|s| Value::String(s.clone()));
        let entries: [(&str, Option<Value>); 20] = [
            ("enabled", self.enabled.map(Value::Bool)),
            ("optional", self.optional.map(Value::Bool)),
            ("internode_encryption", {
                let ie = self.internode_encryption;
                (ie != InternodeEncryption::None).then(|| ie.encode())
            }),
            (
                "legacy_ssl_storage_port_enabled",
                self.legacy_ssl_storage_port_enabled.then_some(Value::Bool(true)),
            ),
            (
                "ssl_context_factory",
                self.ssl_context_factory
                    .as_ref()
                    .map(|f| factory_without_pem(f).encode()),
            ),
            ("keystore", self.keystore.as_ref().map(Codec::encode)),
            ("keystore_password", opt_str(&self.keystore_password)),
            (
                "outbound_keystore",
                self.outbound_keystore.as_ref().map(Codec::encode),
            ),
            (
                "outbound_keystore_password",
                opt_str(&self.outbound_keystore_password),
            ),
            ("truststore", self.truststore.as_ref().map(Codec::encode)),
            ("truststore_password", opt_str(&self.truststore_password)),
            ("private_key", opt_str(&self.private_key)),
            ("private_key_password", opt_str(&self.private_key_password)),
            ("certificate", opt_str(&self.certificate)),
            ("trusted_certificates", opt_str(&self.trusted_certificates)),
            ("require_client_auth", {
                let auth = self.require_client_auth;
                (auth != ClientAuth::NotRequired).then(|| auth.encode())
            }),
            (
                "require_endpoint_verification",
                self.require_endpoint_verification.then_some(Value::Bool(true)),
            ),
            ("protocol", opt_str(&self.protocol)),
            (
                "accepted_protocols",
                (!self.accepted_protocols.is_empty()).then(|| self.accepted_protocols.encode()),
            ),
            (
                "cipher_suites",
                (!self.cipher_suites.is_empty()).then(|| self.cipher_suites.encode()),
            ),
        ];
        for (key, value) in entries {
            if let Some(value) = value {
                put(key, value);
            }
        }
        for (key, value) in &self.other {
            put(key, value.clone());
        }
        map
    }

    /// TLS mode of the native transport, following Cassandra: `enabled` turns TLS on (required unless
    /// `optional: true`); with `enabled: false`, `optional: true` still accepts TLS; when `optional`
    /// is not given and the keystore file exists, TLS is accepted optionally.
    pub fn client_tls_mode(&self) -> TlsMode {
        let optional = self
            .optional
            .unwrap_or_else(|| self.keystore_exists() && self.enabled != Some(true));
        match (self.enabled.unwrap_or(false), optional) {
            (true, false) => TlsMode::Required,
            (_, true) => TlsMode::Optional,
            (false, false) => TlsMode::Disabled,
        }
    }

    /// TLS mode of the internode listener: `internode_encryption` other than `none` turns it on;
    /// `optional` (default true when `internode_encryption` is `none` and a keystore exists) admits
    /// plain connections too.
    pub fn internode_tls_mode(&self) -> TlsMode {
        let enabled = self.internode_encryption != InternodeEncryption::None;
        let optional = self
            .optional
            .unwrap_or_else(|| !enabled && self.keystore_exists());
        match (enabled, optional) {
            (true, false) => TlsMode::Required,
            (_, true) => TlsMode::Optional,
            (false, false) => TlsMode::Disabled,
        }
    }

    fn keystore_exists(&self) -> bool {
        self.private_key.is_some() || self.keystore.as_ref().is_some_and(|p| p.is_file())
    }
}

/// Inline PEM lives in the dedicated fields; keep it out of the rendered factory parameters so it
/// is written once.
fn factory_without_pem(factory: &ParameterizedClass) -> ParameterizedClass {
    let mut factory = factory.clone();
    for key in [
        "private_key",
        "private_key_password",
        "certificate",
        "trusted_certificates",
    ] {
        factory.parameters.remove(key);
    }
    factory
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn decode(yaml: &str, server: bool) -> Result<(EncryptionOptions, Vec<String>)> {
        let value: Value = serde_yaml::from_str(yaml).expect("test yaml");
        let key = if server {
            "server_encryption_options"
        } else {
            "client_encryption_options"
        };
        EncryptionOptions::decode(&Field::new(key, &value, Path::new("/conf")), server)
    }

    #[test]
    fn decodes_pem_client_options() {
        let (opts, ignored) = decode(
            "enabled: true\nssl_context_factory:\n  class_name: org.apache.cassandra.security.PEMBasedSslContextFactory\n\
             keystore: certs/node.pem\nkeystore_password: x\ntruststore: /abs/ca.pem\nrequire_client_auth: optional\n\
             accepted_protocols: [TLSv1.2, TLSv1.3]\nstore_type: PEM\n",
            false,
        )
        .expect("valid");
        assert_eq!(opts.keystore.as_deref(), Some(Path::new("/conf/certs/node.pem")));
        assert_eq!(opts.truststore.as_deref(), Some(Path::new("/abs/ca.pem")));
        assert_eq!(opts.require_client_auth, ClientAuth::Optional);
        assert_eq!(opts.accepted_protocols, ["TLSv1.2", "TLSv1.3"]);
        assert_eq!(ignored, ["client_encryption_options.store_type"]);
        assert_eq!(opts.client_tls_mode(), TlsMode::Required);
        let round = EncryptionOptions::decode(
            &Field::new("c", &Value::Mapping(opts.encode()), Path::new("/elsewhere")),
            false,
        )
        .expect("round trip")
        .0;
        assert_eq!(round, opts);
    }

    #[test]
    fn inline_pem_in_factory_parameters_is_picked_up() {
        let (opts, _) = decode(
            "ssl_context_factory:\n  class_name: PEMBasedSslContextFactory\n  parameters:\n    private_key: KEY\n    trusted_certificates: CA\n",
            false,
        )
        .expect("valid");
        assert_eq!(opts.private_key.as_deref(), Some("KEY"));
        assert_eq!(opts.trusted_certificates.as_deref(), Some("CA"));
        // A private key is present, `enabled` is not: Cassandra then accepts TLS optionally.
        assert_eq!(opts.client_tls_mode(), TlsMode::Optional);
    }

    #[test]
    fn server_only_keys_are_rejected_in_client_section() {
        let err = decode("internode_encryption: all", false).expect_err("client");
        assert!(
            err.to_string()
                .contains("'client_encryption_options.internode_encryption'"),
            "{err}"
        );
        let (opts, _) = decode(
            "internode_encryption: dc\nenable_legacy_ssl_storage_port: true",
            true,
        )
        .expect("server");
        assert_eq!(opts.internode_encryption, InternodeEncryption::Dc);
        assert!(opts.legacy_ssl_storage_port_enabled);
        assert_eq!(opts.internode_tls_mode(), TlsMode::Required);
        assert!(decode("internode_encryption: sometimes", true).is_err());
    }

    #[test]
    fn tls_modes_follow_cassandra_defaults() {
        let plain = EncryptionOptions::default();
        assert_eq!(plain.client_tls_mode(), TlsMode::Disabled);
        assert_eq!(plain.internode_tls_mode(), TlsMode::Disabled);
        let transitional = EncryptionOptions {
            enabled: Some(true),
            optional: Some(true),
            ..Default::default()
        };
        assert_eq!(transitional.client_tls_mode(), TlsMode::Optional);
        let missing_file = EncryptionOptions {
            keystore: Some("/nonexistent/x.pem".into()),
            ..Default::default()
        };
        assert_eq!(missing_file.client_tls_mode(), TlsMode::Disabled);
    }
}
