//! Every validation rule of the REST API in one place. Each error names the property at fault and says what to
//! change, so the 400 a user gets is actionable; nothing is stored or acted on before these checks pass.

use std::collections::BTreeSet;

use base64::Engine as _;
use mica_config::NodeConfig;
use mica_config::keys::{is_known_key, legacy_alias};
use serde_yaml::Value;

use crate::sku::{SKUS, find_sku};
use crate::types::{ClusterProperties, ClusterType, DataCenterProperties};
use crate::version::{CassandraVersion, VERSIONS};

/// The longest cluster or datacenter name (names become directory names and Cassandra identifiers).
pub const MAX_NAME_LENGTH: usize = 63;
/// The most nodes one datacenter may have (a laptop-sized bound for the local provider).
pub const MAX_NODES_PER_DATA_CENTER: i64 = 32;
/// The most data directories (`diskCapacity`) per node.
pub const MAX_DISK_CAPACITY: i64 = 8;
/// The longest accepted admin password (Cassandra's bcrypt hashing only reads 72 bytes).
pub const MAX_PASSWORD_LENGTH: usize = 72;
/// The shortest accepted admin password.
pub const MIN_PASSWORD_LENGTH: usize = 8;
/// The largest accepted decoded cassandra.yaml fragment.
pub const MAX_YAML_FRAGMENT_BYTES: usize = 64 * 1024;

/// cassandra.yaml keys the service manages itself: the seed's list of settings users cannot update, plus the
/// spelling `auto_bootstrap` of the seed's `autobootstrap` and Mica's own `mica` section (admin API address,
/// token, release version are the service's to set).
pub const FORBIDDEN_YAML_KEYS: &[&str] = &[
    "cluster_name",
    "seed_provider",
    "initial_token",
    "autobootstrap",
    "auto_bootstrap",
    "client_encryption_options",
    "server_encryption_options",
    "transparent_data_encryption_options",
    "audit_logging_options",
    "authenticator",
    "authorizer",
    "role_manager",
    "storage_port",
    "ssl_storage_port",
    "native_transport_port",
    "native_transport_port_ssl",
    "listen_address",
    "listen_interface",
    "broadcast_address",
    "hints_directory",
    "data_file_directories",
    "commitlog_directory",
    "cdc_raw_directory",
    "saved_caches_directory",
    "endpoint_snitch",
    "partitioner",
    "rpc_address",
    "rpc_interface",
    "mica",
];

/// A rejected request: the property at fault and what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{property}: {message}")]
pub struct ValidationError {
    /// JSON path of the property, e.g. `properties.nodeCount`.
    pub property: String,
    pub message: String,
}

fn invalid(property: &str, message: impl Into<String>) -> ValidationError {
    ValidationError {
        property: property.to_owned(),
        message: message.into(),
    }
}

/// Cluster names: 1–63 characters, a letter first, then letters, digits and single hyphens, not ending in a
/// hyphen (they name directories and appear in URLs unescaped).
pub fn validate_cluster_name(name: &str) -> Result<(), ValidationError> {
    validate_name("clusterName", name, &['-'])
}

/// Datacenter names: 1–63 characters, a letter first, then letters, digits, `-` and `_` (they appear in
/// NetworkTopologyStrategy replication maps).
pub fn validate_data_center_name(name: &str) -> Result<(), ValidationError> {
    validate_name("dataCenterName", name, &['-', '_'])
}

fn validate_name(property: &str, name: &str, separators: &[char]) -> Result<(), ValidationError> {
    let allowed = separators
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(" and ");
    let rule = format!(
        "use 1 to {MAX_NAME_LENGTH} characters: a letter first, then letters, digits, {allowed}, not ending in {allowed}"
    );
    if name.is_empty() || name.len() > MAX_NAME_LENGTH {
        return Err(invalid(
            property,
            format!("'{name}' has {} characters; {rule}", name.len()),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid(
            property,
            format!("'{name}' must start with a letter; {rule}"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !separators.contains(c))
    {
        return Err(invalid(property, format!("'{name}' contains '{bad}'; {rule}")));
    }
    if name.ends_with(|c: char| separators.contains(&c)) {
        return Err(invalid(
            property,
            format!("'{name}' ends with a separator; {rule}"),
        ));
    }
    if separators.contains(&'-') && name.contains("--") {
        return Err(invalid(property, format!("'{name}' contains '--'; {rule}")));
    }
    Ok(())
}

/// Checks a new cluster's properties.
pub fn validate_new_cluster(properties: &ClusterProperties) -> Result<(), ValidationError> {
    if let Some(version) = &properties.cassandra_version {
        parse_version(version)?;
    }
    if let Some(password) = &properties.initial_cassandra_admin_password {
        validate_password(password)?;
    }
    validate_certificates("properties.clientCertificates", &properties.client_certificates)?;
    validate_certificates(
        "properties.externalGossipCertificates",
        &properties.external_gossip_certificates,
    )?;
    if properties.deallocated == Some(true) {
        return Err(invalid(
            "properties.deallocated",
            "a new cluster cannot start deallocated; create it, then deallocate it",
        ));
    }
    Ok(())
}

/// Checks an update of an existing cluster (`current` is the stored desired state, `requested` the PUT body).
pub fn validate_cluster_update(
    current: &ClusterProperties,
    requested: &ClusterProperties,
) -> Result<(), ValidationError> {
    if let (Some(from), Some(to)) = (&current.cassandra_version, &requested.cassandra_version) {
        validate_version_step(from, to)?;
    } else if let Some(to) = &requested.cassandra_version {
        parse_version(to)?;
    }
    if requested.initial_cassandra_admin_password.is_some() {
        return Err(invalid(
            "properties.initialCassandraAdminPassword",
            "the initial admin password can only be set when the cluster is created; change it with \
             ALTER ROLE cassandra WITH PASSWORD through CQL",
        ));
    }
    validate_certificates("properties.clientCertificates", &requested.client_certificates)?;
    Ok(())
}

/// Parses a `cassandraVersion`, naming the supported ones on error.
pub fn parse_version(text: &str) -> Result<CassandraVersion, ValidationError> {
    CassandraVersion::parse(text).ok_or_else(|| {
        invalid(
            "properties.cassandraVersion",
            format!(
                "unsupported Cassandra version '{text}'; use one of {}",
                VERSIONS.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// Versions change one step at a time along 3.11 → 4.0 → 4.1 → 5.0; downgrades and skips are refused.
pub fn validate_version_step(from: &str, to: &str) -> Result<(), ValidationError> {
    let (from_v, to_v) = (parse_version(from)?, parse_version(to)?);
    if from_v == to_v || from_v.next() == Some(to_v) {
        return Ok(());
    }
    let message = match from_v.next() {
        Some(next) if to_v > from_v => format!(
            "cannot update from {from} to {to} in one step; update to {} first",
            next.as_str()
        ),
        Some(next) => format!(
            "cannot downgrade from {from} to {to}; the only allowed update is to {}",
            next.as_str()
        ),
        None => format!("cannot change {from} to {to}; {from} is the newest supported version"),
    };
    Err(invalid("properties.cassandraVersion", message))
}

fn validate_password(password: &str) -> Result<(), ValidationError> {
    let property = "properties.initialCassandraAdminPassword";
    if password.len() < MIN_PASSWORD_LENGTH || password.len() > MAX_PASSWORD_LENGTH {
        return Err(invalid(
            property,
            format!(
                "use a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} bytes (this one has {})",
                password.len()
            ),
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(invalid(property, "remove control characters from the password"));
    }
    Ok(())
}

fn validate_certificates(
    property: &str,
    certificates: &[crate::types::Certificate],
) -> Result<(), ValidationError> {
    for (i, certificate) in certificates.iter().enumerate() {
        let pem = certificate.pem.trim();
        if !pem.starts_with("-----BEGIN CERTIFICATE-----") || !pem.ends_with("-----END CERTIFICATE-----") {
            return Err(invalid(
                &format!("{property}[{i}].pem"),
                "give a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
            ));
        }
    }
    Ok(())
}

/// Checks a datacenter's properties (create or update).
pub fn validate_data_center(properties: &DataCenterProperties) -> Result<(), ValidationError> {
    match properties.node_count {
        None => {
            return Err(invalid(
                "properties.nodeCount",
                format!("give the number of nodes (1 to {MAX_NODES_PER_DATA_CENTER})"),
            ));
        }
        Some(n) if !(1..=MAX_NODES_PER_DATA_CENTER).contains(&n) => {
            return Err(invalid(
                "properties.nodeCount",
                format!("{n} nodes is out of range; use 1 to {MAX_NODES_PER_DATA_CENTER}"),
            ));
        }
        Some(_) => {}
    }
    if let Some(sku) = &properties.sku
        && find_sku(sku).is_none()
    {
        return Err(invalid(
            "properties.sku",
            format!(
                "unknown SKU '{sku}'; use one of {}",
                SKUS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if let Some(disks) = properties.disk_capacity
        && !(1..=MAX_DISK_CAPACITY).contains(&disks)
    {
        return Err(invalid(
            "properties.diskCapacity",
            format!("{disks} disks is out of range; use 1 to {MAX_DISK_CAPACITY} data directories per node"),
        ));
    }
    if let Some(fragment) = &properties.base64_encoded_cassandra_yaml_fragment {
        decode_yaml_fragment(fragment)?;
    }
    if properties.deallocated == Some(true) {
        return Err(invalid(
            "properties.deallocated",
            "deallocate the whole cluster with POST /clusters/{c}/deallocate",
        ));
    }
    Ok(())
}

/// Decodes and checks `base64EncodedCassandraYamlFragment`: valid base64 of a UTF-8 YAML map whose keys are
/// known cassandra.yaml keys (current or legacy spelling), none of them managed by the service, with values
/// cassandra.yaml accepts. Returns the YAML text.
pub fn decode_yaml_fragment(encoded: &str) -> Result<String, ValidationError> {
    let property = "properties.base64EncodedCassandraYamlFragment";
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| {
            invalid(
                property,
                format!("not valid base64 ({e}); encode the YAML with `base64 -w0 fragment.yaml`"),
            )
        })?;
    if bytes.len() > MAX_YAML_FRAGMENT_BYTES {
        return Err(invalid(
            property,
            format!(
                "the fragment has {} bytes; keep it under {MAX_YAML_FRAGMENT_BYTES}",
                bytes.len()
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        invalid(
            property,
            "the decoded fragment is not UTF-8 text; encode a YAML file",
        )
    })?;
    let value: Value = serde_yaml::from_str(&text)
        .map_err(|e| invalid(property, format!("the decoded fragment is not valid YAML: {e}")))?;
    let map = match value {
        Value::Null => return Ok(text),
        Value::Mapping(map) => map,
        _ => {
            return Err(invalid(
                property,
                "the fragment must be a YAML map of cassandra.yaml settings, e.g. `compaction_throughput: 64MiB/s`",
            ));
        }
    };
    let mut seen = BTreeSet::new();
    for key in map.keys() {
        let Some(key) = key.as_str() else {
            return Err(invalid(property, "every key of the fragment must be a string"));
        };
        let canonical = legacy_alias(key).map_or(key, |(new, _)| new);
        if FORBIDDEN_YAML_KEYS.contains(&key) || FORBIDDEN_YAML_KEYS.contains(&canonical) {
            return Err(invalid(
                property,
                format!(
                    "cassandra.yaml key '{key}' is managed by the service and cannot be overridden; remove it \
                     from the fragment"
                ),
            ));
        }
        if !is_known_key(key) && legacy_alias(key).is_none() {
            return Err(invalid(
                property,
                format!(
                    "unknown cassandra.yaml key '{key}'; check its spelling against Cassandra's cassandra.yaml"
                ),
            ));
        }
        if !seen.insert(canonical.to_owned()) {
            return Err(invalid(
                property,
                format!("'{key}' is set twice (under its old and new name); keep one"),
            ));
        }
    }
    // The node's own loader checks the values' types and ranges with cassandra.yaml's rules and wording.
    NodeConfig::from_yaml_str(&text, std::path::Path::new("."))
        .map_err(|e| invalid(property, format!("{e}; fix the value")))?;
    Ok(text)
}

/// Deallocating stops every node; a Production cluster only with `force` (it loses availability).
pub fn validate_deallocate(cluster_type: ClusterType, force: bool) -> Result<(), ValidationError> {
    if cluster_type == ClusterType::Production && !force {
        return Err(invalid(
            "clusterType",
            "a Production cluster cannot be deallocated; set clusterType to NonProduction first, or pass \
             force=true",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Certificate;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn dc(nodes: i64) -> DataCenterProperties {
        DataCenterProperties {
            node_count: Some(nodes),
            ..Default::default()
        }
    }

    #[test]
    fn names() {
        for good in ["c", "cluster-1", "Prod2"] {
            validate_cluster_name(good).unwrap();
        }
        for (bad, says) in [
            ("", "0 characters"),
            ("1abc", "start with a letter"),
            ("a_b", "contains '_'"),
            ("a.b", "contains '.'"),
            ("ab-", "ends with"),
            ("a--b", "contains '--'"),
        ] {
            let e = validate_cluster_name(bad).unwrap_err();
            assert!(e.message.contains(says), "{bad}: {e}");
            assert_eq!(e.property, "clusterName");
        }
        assert!(validate_cluster_name(&"a".repeat(MAX_NAME_LENGTH)).is_ok());
        assert!(validate_cluster_name(&"a".repeat(MAX_NAME_LENGTH + 1)).is_err());
        validate_data_center_name("dc_1-east").unwrap();
        assert!(
            validate_data_center_name("dc 1")
                .unwrap_err()
                .message
                .contains("contains ' '")
        );
    }

    #[test]
    fn node_count_must_be_positive_and_bounded() {
        validate_data_center(&dc(1)).unwrap();
        validate_data_center(&dc(MAX_NODES_PER_DATA_CENTER)).unwrap();
        for bad in [0, -3, MAX_NODES_PER_DATA_CENTER + 1] {
            let e = validate_data_center(&dc(bad)).unwrap_err();
            assert_eq!(e.property, "properties.nodeCount");
            assert!(e.message.contains("use 1 to 32"), "{e}");
        }
        let e = validate_data_center(&DataCenterProperties::default()).unwrap_err();
        assert!(e.message.contains("give the number of nodes"), "{e}");
    }

    #[test]
    fn skus_must_be_known() {
        let mut p = dc(3);
        p.sku = Some("Standard_D2s_v5".into());
        validate_data_center(&p).unwrap();
        p.sku = Some("Huge".into());
        let e = validate_data_center(&p).unwrap_err();
        assert!(
            e.message
                .starts_with("unknown SKU 'Huge'; use one of Standard_D2s_v5"),
            "{e}"
        );
    }

    #[test]
    fn disk_capacity_is_bounded() {
        let mut p = dc(1);
        p.disk_capacity = Some(0);
        assert_eq!(
            validate_data_center(&p).unwrap_err().property,
            "properties.diskCapacity"
        );
        p.disk_capacity = Some(2);
        validate_data_center(&p).unwrap();
    }

    #[test]
    fn versions_update_one_step_at_a_time() {
        validate_version_step("3.11", "4.0").unwrap();
        validate_version_step("4.0", "4.1").unwrap();
        validate_version_step("4.1", "5.0").unwrap();
        validate_version_step("4.1", "4.1").unwrap();
        let skip = validate_version_step("4.0", "5.0").unwrap_err();
        assert!(skip.message.contains("update to 4.1 first"), "{skip}");
        let down = validate_version_step("4.1", "4.0").unwrap_err();
        assert!(down.message.contains("cannot downgrade"), "{down}");
        let newest = validate_version_step("5.0", "3.11").unwrap_err();
        assert!(newest.message.contains("newest"), "{newest}");
        let unknown = parse_version("4.2").unwrap_err();
        assert!(
            unknown.message.contains("use one of 3.11, 4.0, 4.1, 5.0"),
            "{unknown}"
        );
    }

    #[test]
    fn cluster_update_rules() {
        let current = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            ..Default::default()
        };
        let mut requested = current.clone();
        requested.cassandra_version = Some("5.0".into());
        assert!(validate_cluster_update(&current, &requested).is_err());
        requested.cassandra_version = Some("4.1".into());
        validate_cluster_update(&current, &requested).unwrap();
        requested.initial_cassandra_admin_password = Some("long-enough".into());
        let e = validate_cluster_update(&current, &requested).unwrap_err();
        assert!(e.message.contains("ALTER ROLE"), "{e}");
    }

    #[test]
    fn new_cluster_rules() {
        let mut p = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            initial_cassandra_admin_password: Some("s3cret-pass".into()),
            ..Default::default()
        };
        validate_new_cluster(&p).unwrap();
        p.initial_cassandra_admin_password = Some("short".into());
        assert!(
            validate_new_cluster(&p)
                .unwrap_err()
                .message
                .contains("8 to 72 bytes")
        );
        p.initial_cassandra_admin_password = None;
        p.client_certificates = vec![Certificate { pem: "nope".into() }];
        let e = validate_new_cluster(&p).unwrap_err();
        assert_eq!(e.property, "properties.clientCertificates[0].pem");
        p.client_certificates.clear();
        p.deallocated = Some(true);
        assert!(validate_new_cluster(&p).is_err());
    }

    #[test]
    fn yaml_fragment_accepts_known_keys_with_valid_values() {
        let text =
            decode_yaml_fragment(&b64("compaction_throughput: 64MiB/s\nconcurrent_reads: 16\n")).unwrap();
        assert!(text.contains("compaction_throughput"));
        // Legacy spellings Cassandra still reads are accepted too.
        decode_yaml_fragment(&b64("read_request_timeout_in_ms: 7000\n")).unwrap();
        decode_yaml_fragment(&b64("")).unwrap();
    }

    #[test]
    fn yaml_fragment_rejects_every_forbidden_key_by_name() {
        for key in FORBIDDEN_YAML_KEYS {
            let e = decode_yaml_fragment(&b64(&format!("{key}: x\n"))).unwrap_err();
            assert!(
                e.message.contains(&format!("'{key}' is managed by the service")),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn yaml_fragment_rejects_unknown_keys_bad_values_and_bad_encoding() {
        let e = decode_yaml_fragment(&b64("compaction_thruput: 1\n")).unwrap_err();
        assert!(
            e.message
                .contains("unknown cassandra.yaml key 'compaction_thruput'"),
            "{e}"
        );
        let e = decode_yaml_fragment(&b64("concurrent_reads: lots\n")).unwrap_err();
        assert!(e.message.contains("concurrent_reads"), "{e}");
        let e = decode_yaml_fragment("%%%").unwrap_err();
        assert!(e.message.contains("base64 -w0"), "{e}");
        let e = decode_yaml_fragment(&b64("- a\n- b\n")).unwrap_err();
        assert!(e.message.contains("YAML map"), "{e}");
        let e = decode_yaml_fragment(&b64("a: [\n")).unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        let e = decode_yaml_fragment(&b64(
            "read_request_timeout: 5s\nread_request_timeout_in_ms: 5000\n",
        ))
        .unwrap_err();
        assert!(e.message.contains("set twice"), "{e}");
        let mut p = dc(1);
        p.base64_encoded_cassandra_yaml_fragment = Some(b64("authenticator: AllowAllAuthenticator\n"));
        let e = validate_data_center(&p).unwrap_err();
        assert_eq!(e.property, "properties.base64EncodedCassandraYamlFragment");
        assert!(e.to_string().contains("'authenticator'"), "{e}");
    }

    #[test]
    fn production_deallocate_needs_force() {
        let e = validate_deallocate(ClusterType::Production, false).unwrap_err();
        assert!(e.message.contains("NonProduction"), "{e}");
        validate_deallocate(ClusterType::Production, true).unwrap();
        validate_deallocate(ClusterType::NonProduction, false).unwrap();
    }
}
