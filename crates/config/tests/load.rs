//! Loading cassandra.yaml end to end: the reference file, defaults, legacy spellings, errors,
//! rack/dc resolution and the render → load round trip.

use std::path::Path;
use std::time::Duration;

use mica_config::{
    ClientAuth, CommitLogSync, ConfigError, DataRate, DataStorage, InternodeEncryption, NodeConfig,
    ParameterizedClass, RackDc, render_cassandra_yaml,
};

const REFERENCE_YAML: &str = "/work/shared/reference/cassandra/cassandra.yaml";

fn load_str(yaml: &str) -> Result<mica_config::LoadedConfig, ConfigError> {
    NodeConfig::from_yaml_str(yaml, "/etc/mica")
}

#[test]
fn reference_cassandra_yaml_loads() {
    if !Path::new(REFERENCE_YAML).exists() {
        eprintln!("reference cassandra.yaml not present; skipping");
        return;
    }
    let loaded = NodeConfig::load(REFERENCE_YAML).expect("the reference cassandra.yaml must load");
    let c = &loaded.config;
    assert_eq!(c.cluster_name, "Test Cluster");
    assert_eq!(c.num_tokens, 16);
    assert_eq!(c.allocate_tokens_for_local_replication_factor, Some(3));
    assert_eq!(c.write_request_timeout, Duration::from_secs(10));
    assert_eq!(c.cas_contention_timeout, Duration::from_secs(5));
    assert_eq!(c.max_hint_window, Duration::from_secs(3 * 3600));
    assert_eq!(c.compaction_throughput, DataRate::mebibytes_per_second(64));
    assert_eq!(c.key_cache_size, None);
    assert_eq!(c.listen_address.as_deref(), Some("localhost"));
    assert_eq!(c.seeds(), ["127.0.0.1:7000"]);
    assert_eq!(c.authenticator.simple_name(), "AllowAllAuthenticator");
    assert_eq!(
        c.data_file_directories,
        [Path::new("/work/shared/reference/cassandra/data/data")]
    );
    assert_eq!(loaded.rackdc, RackDc::simple());
    assert!(
        loaded.ignored_keys.iter().any(|k| k == "memtable"),
        "{:?}",
        loaded.ignored_keys
    );
    assert!(c.native_tls().expect("no TLS").is_none());
    assert!(c.internode_tls().expect("no TLS").is_none());
}

#[test]
fn every_reference_key_is_accepted_when_uncommented() {
    // Each key, commented or not, must be accepted; a null value stands for "unset".
    for key in mica_config::keys::REFERENCE_KEYS
        .iter()
        .chain(mica_config::keys::EXTRA_KEYS)
    {
        let yaml = format!("{key}:\n");
        load_str(&yaml).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[test]
fn empty_file_gives_cassandra_defaults() {
    let c = load_str("").expect("empty").config;
    assert_eq!(c.cluster_name, "Test Cluster");
    assert_eq!(c.native_transport_port, 9042);
    assert_eq!(c.storage_port, 7000);
    assert_eq!(c.num_tokens, 16);
    assert_eq!(c.commitlog_sync, CommitLogSync::Periodic);
    assert_eq!(c.commitlog_sync_period, Duration::from_millis(10_000));
    assert_eq!(c.authenticator, ParameterizedClass::new("AllowAllAuthenticator"));
    assert_eq!(c.authorizer.simple_name(), "AllowAllAuthorizer");
    assert_eq!(c.read_request_timeout, Duration::from_millis(5000));
    assert_eq!(c.write_request_timeout, Duration::from_millis(2000));
    assert_eq!(c.range_request_timeout, Duration::from_millis(10_000));
    assert_eq!(c.cas_contention_timeout, Duration::from_millis(1000));
    assert_eq!(c.native_transport_max_frame_size, DataStorage::mebibytes(16));
    assert_eq!(c.batch_size_warn_threshold, DataStorage::kibibytes(5));
    assert_eq!(c.batch_size_fail_threshold, DataStorage::kibibytes(50));
    assert_eq!(
        (c.tombstone_warn_threshold, c.tombstone_failure_threshold),
        (1000, 100_000)
    );
    assert_eq!(c.data_file_directories, [Path::new("/etc/mica/data/data")]);
    assert_eq!(c.commitlog_directory, Path::new("/etc/mica/data/commitlog"));
    assert_eq!(c.hints_directory, Path::new("/etc/mica/data/hints"));
    assert_eq!(c.saved_caches_directory, Path::new("/etc/mica/data/saved_caches"));
    assert_eq!(c.mica.release_version_parts(), Some((4, 1, 5)));
}

#[test]
fn unit_values_and_legacy_spellings_are_typed() {
    let c = load_str(
        "read_request_timeout_in_ms: 7000\nwrite_request_timeout: 3s\ncommitlog_sync: group\n\
         commitlog_sync_group_window: 15ms\nnative_transport_max_frame_size_in_mb: 32\nkey_cache_size_in_mb: 100\n\
         memtable_heap_space_in_mb: 2048\nstream_throughput_outbound_megabits_per_sec: 200\n\
         compaction_throughput_mb_per_sec: 16\nmax_hint_window_in_ms: 3600000\ncommitlog_sync_period_in_ms: 2000\n\
         batch_size_warn_threshold: 1024KiB\nenable_materialized_views: true\ncommitlog_sync_batch_window_in_ms: 2.5\n",
    )
    .expect("valid")
    .config;
    assert_eq!(c.read_request_timeout, Duration::from_millis(7000));
    assert_eq!(c.write_request_timeout, Duration::from_secs(3));
    assert_eq!(c.commitlog_sync, CommitLogSync::Group);
    assert_eq!(c.commitlog_sync_group_window, Duration::from_millis(15));
    assert_eq!(c.native_transport_max_frame_size, DataStorage::mebibytes(32));
    assert_eq!(c.key_cache_size, Some(DataStorage::mebibytes(100)));
    assert_eq!(c.memtable_heap_space, Some(DataStorage::gibibytes(2)));
    assert_eq!(
        c.stream_throughput_outbound,
        DataRate::bytes_per_second(25_000_000)
    );
    assert_eq!(c.compaction_throughput, DataRate::mebibytes_per_second(16));
    assert_eq!(c.max_hint_window, Duration::from_secs(3600));
    assert_eq!(c.commitlog_sync_period, Duration::from_secs(2));
    assert_eq!(c.batch_size_warn_threshold, DataStorage::mebibytes(1));
    assert!(c.materialized_views_enabled);
    assert_eq!(c.commitlog_sync_batch_window_in_ms, Some(2.5));
}

#[test]
fn unknown_key_names_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cassandra.yaml");
    std::fs::write(&path, "cluster_name: x\nfoo: 1\n").expect("write");
    let err = NodeConfig::load(&path).expect_err("unknown key");
    assert_eq!(
        err.to_string(),
        format!("unknown configuration key 'foo' in {}", path.display())
    );
    let err = load_str("mica:\n  admin_prot: 1\n").expect_err("unknown mica key");
    assert!(
        err.to_string()
            .starts_with("unknown configuration key 'mica.admin_prot'"),
        "{err}"
    );
    let err = load_str("client_encryption_options:\n  keystor: x\n").expect_err("unknown sub key");
    assert!(
        err.to_string().contains("'client_encryption_options.keystor'"),
        "{err}"
    );
}

#[test]
fn both_spellings_of_a_key_are_rejected() {
    let err =
        load_str("read_request_timeout: 5000ms\nread_request_timeout_in_ms: 5000\n").expect_err("twice");
    assert!(matches!(err, ConfigError::BothSpellings { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("read_request_timeout_in_ms") && text.contains("'read_request_timeout'"),
        "{text}"
    );
}

#[test]
fn wrong_values_name_key_and_expected_form() {
    let cases = [
        (
            "read_request_timeout: abc",
            "invalid value 'abc' for read_request_timeout: expected a duration like 5000ms",
        ),
        (
            "read_request_timeout: 5000",
            "invalid value '5000' for read_request_timeout: expected a duration like 5000ms",
        ),
        (
            "native_transport_max_frame_size: 16",
            "expected a data size like 16MiB",
        ),
        (
            "compaction_throughput: 64MiB",
            "expected a data rate like 64MiB/s",
        ),
        (
            "native_transport_port: x",
            "invalid value 'x' for native_transport_port",
        ),
        (
            "commitlog_sync: sometimes",
            "expected one of periodic, batch, group",
        ),
        (
            "mica:\n  release_version: five",
            "expected a release version like 4.1.5",
        ),
    ];
    for (yaml, expected) in cases {
        let err = load_str(yaml).expect_err(yaml);
        assert!(err.to_string().contains(expected), "{yaml}: {err}");
    }
}

#[test]
fn semantic_checks_follow_cassandra() {
    assert!(load_str("num_tokens: 2\ninitial_token: '1,2,3'").is_err());
    assert_eq!(
        load_str("num_tokens: 3\ninitial_token: '1, 2,3'")
            .expect("ok")
            .config
            .initial_tokens(),
        ["1", "2", "3"]
    );
    assert!(load_str("listen_address: 0.0.0.0").is_err());
    assert!(load_str("rpc_address: 0.0.0.0").is_err());
    assert!(load_str("rpc_address: 0.0.0.0\nbroadcast_rpc_address: 10.0.0.1").is_ok());
    assert!(load_str("native_transport_max_frame_size: 2GiB").is_err());
    // Timeouts below 10ms are raised to 10ms, as Cassandra does.
    let c = load_str("read_request_timeout: 1ms").expect("clamped").config;
    assert_eq!(c.read_request_timeout, Duration::from_millis(10));
    assert!(load_str("- not\n- a map\n").is_err());
    assert!(matches!(
        load_str("a: [").expect_err("bad yaml"),
        ConfigError::Yaml { .. }
    ));
}

#[test]
fn ignored_keys_are_listed_once_and_nulls_are_not() {
    let loaded = load_str(
        "disk_failure_policy: stop\nprepared_statements_cache_size:\nhinted_handoff_throttle_in_kb: 1024\n\
         client_encryption_options:\n  enabled: false\n  store_type: JKS\n",
    )
    .expect("valid");
    assert_eq!(
        loaded.ignored_keys,
        [
            "disk_failure_policy",
            "hinted_handoff_throttle_in_kb",
            "client_encryption_options.store_type"
        ]
    );
}

#[test]
fn gossiping_snitch_reads_rackdc_next_to_the_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("cassandra-rackdc.properties"),
        "dc=east\nrack=r2\nprefer_local=true\n",
    )
    .expect("write");
    let path = dir.path().join("cassandra.yaml");
    std::fs::write(&path, "endpoint_snitch: GossipingPropertyFileSnitch\n").expect("write");
    let loaded = NodeConfig::load(&path).expect("valid");
    assert_eq!(
        (loaded.rackdc.dc.as_str(), loaded.rackdc.rack.as_str()),
        ("east", "r2")
    );
    assert!(loaded.rackdc.prefer_local);
    let err = NodeConfig::from_yaml_str("endpoint_snitch: Ec2Snitch", dir.path()).expect_err("cloud");
    assert!(matches!(err, ConfigError::UnsupportedSnitch { .. }));
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = NodeConfig::load("/nonexistent/mica/cassandra.yaml").expect_err("missing");
    assert!(
        err.to_string().contains("/nonexistent/mica/cassandra.yaml"),
        "{err}"
    );
}

#[test]
fn render_then_load_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = NodeConfig::with_config_dir(dir.path());
    c.cluster_name = "Round Trip".into();
    c.num_tokens = 4;
    c.initial_token = Some("-100,0,100,200".into());
    c.listen_address = Some("10.0.0.1".into());
    c.rpc_address = Some("0.0.0.0".into());
    c.broadcast_rpc_address = Some("10.0.0.1".into());
    c.native_transport_port = 19042;
    c.set_seeds(&["10.0.0.1:7000", "10.0.0.2:7000"]);
    c.endpoint_snitch = "GossipingPropertyFileSnitch".into();
    c.authenticator = ParameterizedClass::new("PasswordAuthenticator");
    c.commitlog_sync = CommitLogSync::Batch;
    c.read_request_timeout = Duration::from_millis(1500);
    c.key_cache_size = Some(DataStorage::mebibytes(10));
    c.compaction_throughput = DataRate::bytes_per_second(0);
    c.data_file_directories = vec![dir.path().join("d1"), "/var/lib/mica/d2".into()];
    c.commitlog_directory = dir.path().join("cl");
    c.client_encryption_options.enabled = Some(true);
    c.client_encryption_options.keystore = Some(dir.path().join("node.pem"));
    c.client_encryption_options.require_client_auth = ClientAuth::Optional;
    c.client_encryption_options.truststore = Some(dir.path().join("ca.pem"));
    c.server_encryption_options.internode_encryption = InternodeEncryption::All;
    c.server_encryption_options.accepted_protocols = vec!["TLSv1.3".into()];
    c.phi_convict_threshold = 12.0;
    c.mica.admin_port = 19180;
    c.mica.release_version = "5.0.2".into();
    c.mica.release_version_configured = true;
    c.other.insert(
        "disk_failure_policy".into(),
        serde_yaml::Value::String("best_effort".into()),
    );

    let text = render_cassandra_yaml(&c);
    assert!(
        !text.contains("storage_port"),
        "defaults are not written:\n{text}"
    );
    assert!(text.contains("d1"), "{text}");
    let path = dir.path().join("cassandra.yaml");
    std::fs::write(&path, &text).expect("write");
    let loaded = NodeConfig::load(&path).expect("rendered yaml must load");
    assert_eq!(loaded.config, c, "rendered:\n{text}");
    assert_eq!(loaded.ignored_keys, ["disk_failure_policy"]);

    // The defaults render to an empty document that loads back to the defaults.
    let defaults = NodeConfig::with_config_dir(dir.path());
    let text = render_cassandra_yaml(&defaults);
    assert_eq!(
        NodeConfig::from_yaml_str(&text, dir.path())
            .expect("defaults")
            .config,
        defaults
    );
}

#[test]
fn cassandra_flavoured_render_writes_required_keys_and_loads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = NodeConfig::with_config_dir(dir.path());
    c.mica.admin_port = 1234;
    let text = mica_config::render_cassandra_yaml_for_cassandra(&c);
    for key in [
        "cluster_name:",
        "num_tokens: 16",
        "partitioner:",
        "endpoint_snitch:",
        "- seeds: 127.0.0.1:7000",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    assert!(text.contains("commitlog_sync_period: 10s"), "{text}");
    assert!(
        text.contains(&dir.path().join("data/commitlog").display().to_string()),
        "{text}"
    );
    assert!(!text.contains("mica"), "{text}");
    let mut loaded = NodeConfig::from_yaml_str(&text, dir.path())
        .expect("loads")
        .config;
    loaded.mica.admin_port = 1234;
    assert_eq!(loaded, c);
}

#[test]
fn duplicate_yaml_keys_are_rejected() {
    let err = load_str("num_tokens: 4\nnum_tokens: 8\n").expect_err("duplicate");
    assert!(err.to_string().contains("num_tokens"), "{err}");
}

#[test]
fn mica_tombstone_purge_interval_takes_units_and_zero() {
    let c = load_str("mica:\n  tombstone_purge_interval: 15m\n")
        .expect("loads")
        .config;
    assert_eq!(c.mica.tombstone_purge_interval, Duration::from_secs(900));
    let c = load_str("mica:\n  tombstone_purge_interval: 0s\n")
        .expect("loads")
        .config;
    assert_eq!(c.mica.tombstone_purge_interval, Duration::ZERO);
    let c = load_str("cluster_name: x\n").expect("loads").config;
    assert_eq!(c.mica.tombstone_purge_interval, Duration::from_secs(3600));
    assert!(load_str("mica:\n  tombstone_purge_interval: often\n").is_err());
}
