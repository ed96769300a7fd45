//! The node's datacenter and rack: `cassandra-rackdc.properties` (for GossipingPropertyFileSnitch)
//! and the fixed answers of the other snitches Mica supports.

use std::path::Path;

use crate::config::NodeConfig;
use crate::error::{ConfigError, Result};
use crate::value::simple_class_name;

/// File name of the rack/dc properties, looked up next to cassandra.yaml.
pub const RACKDC_FILE: &str = "cassandra-rackdc.properties";

/// Where this node sits in the cluster topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RackDc {
    pub dc: String,
    pub rack: String,
    /// `prefer_local`: connect to peers in the same DC over their private (listen) address.
    pub prefer_local: bool,
    /// `dc_suffix`, used by cloud snitches only; GossipingPropertyFileSnitch does not apply it.
    pub dc_suffix: Option<String>,
}

impl RackDc {
    /// SimpleSnitch's topology.
    pub fn simple() -> Self {
        Self::named("datacenter1", "rack1")
    }

    fn named(dc: &str, rack: &str) -> Self {
        Self {
            dc: dc.to_owned(),
            rack: rack.to_owned(),
            prefer_local: false,
            dc_suffix: None,
        }
    }

    /// Parses cassandra-rackdc.properties text (Java properties: `key=value` or `key: value`, `#`/`!`
    /// comments). Missing `dc`/`rack` default to `dc1`/`rack1`; other keys are ignored.
    pub fn parse_properties(text: &str) -> Self {
        let mut rackdc = Self::named("dc1", "rack1");
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some(split) = line.find(['=', ':']) else {
                continue;
            };
            let (key, value) = (line[..split].trim(), line[split + 1..].trim());
            match key {
                "dc" if !value.is_empty() => rackdc.dc = value.to_owned(),
                "rack" if !value.is_empty() => rackdc.rack = value.to_owned(),
                "prefer_local" => rackdc.prefer_local = value.eq_ignore_ascii_case("true"),
                "dc_suffix" => rackdc.dc_suffix = (!value.is_empty()).then(|| value.to_owned()),
                _ => {}
            }
        }
        rackdc
    }

    /// Reads `path`; a missing file gives the defaults (dc1/rack1) with a warning.
    pub fn read(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse_properties(&text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!("{} not found; using dc1/rack1", path.display());
                Ok(Self::named("dc1", "rack1"))
            }
            Err(source) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// The topology the configured `endpoint_snitch` gives this node.
pub(crate) fn resolve_topology(config: &NodeConfig, config_dir: &Path) -> Result<RackDc> {
    let snitch = simple_class_name(&config.endpoint_snitch);
    let unsupported = |reason: &str| ConfigError::UnsupportedSnitch {
        snitch: config.endpoint_snitch.clone(),
        reason: reason.to_owned(),
    };
    match snitch {
        "SimpleSnitch" => Ok(RackDc::simple()),
        "GossipingPropertyFileSnitch" => RackDc::read(&config_dir.join(RACKDC_FILE)),
        "RackInferringSnitch" => {
            // DC and rack are the second and third octets of the node's IPv4 address.
            let address = config
                .broadcast_address
                .as_deref()
                .or(config.listen_address.as_deref());
            match address.and_then(|a| a.trim().parse::<std::net::Ipv4Addr>().ok()) {
                Some(ip) => Ok(RackDc::named(
                    &ip.octets()[1].to_string(),
                    &ip.octets()[2].to_string(),
                )),
                None => Err(unsupported(
                    "it needs listen_address or broadcast_address to be an IPv4 address",
                )),
            }
        }
        "PropertyFileSnitch" => Err(unsupported(
            "use GossipingPropertyFileSnitch with cassandra-rackdc.properties",
        )),
        "Ec2Snitch"
        | "Ec2MultiRegionSnitch"
        | "GoogleCloudSnitch"
        | "AlibabaCloudSnitch"
        | "AzureSnitch"
        | "CloudstackSnitch" => Err(unsupported(
            "cloud metadata services are not queried; use GossipingPropertyFileSnitch with cassandra-rackdc.properties",
        )),
        _ => Err(unsupported("unknown snitch class")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_properties() {
        let text = std::fs::read_to_string("/work/shared/reference/cassandra/cassandra-rackdc.properties")
            .unwrap_or_else(|_| "dc=dc1\nrack=rack1\n# prefer_local=true\n".to_owned());
        let rackdc = RackDc::parse_properties(&text);
        assert_eq!(rackdc, RackDc::named("dc1", "rack1"));
    }

    #[test]
    fn parses_all_keys_and_java_separators() {
        let rackdc = RackDc::parse_properties(
            "! comment\n dc = east \nrack:r7\nprefer_local=TRUE\ndc_suffix=_x\nec2_naming_scheme=legacy\n",
        );
        assert_eq!(rackdc.dc, "east");
        assert_eq!(rackdc.rack, "r7");
        assert!(rackdc.prefer_local);
        assert_eq!(rackdc.dc_suffix.as_deref(), Some("_x"));
        assert_eq!(RackDc::parse_properties(""), RackDc::named("dc1", "rack1"));
    }

    #[test]
    fn snitches_resolve_or_are_refused() {
        let dir = Path::new("/nonexistent-mica-dir");
        let mut config = NodeConfig::with_config_dir(dir);
        assert_eq!(resolve_topology(&config, dir).expect("simple"), RackDc::simple());
        config.endpoint_snitch = "org.apache.cassandra.locator.GossipingPropertyFileSnitch".into();
        assert_eq!(
            resolve_topology(&config, dir).expect("missing file"),
            RackDc::named("dc1", "rack1")
        );
        config.endpoint_snitch = "RackInferringSnitch".into();
        config.listen_address = Some("10.20.30.40".into());
        assert_eq!(
            resolve_topology(&config, dir).expect("inferred"),
            RackDc::named("20", "30")
        );
        config.endpoint_snitch = "Ec2Snitch".into();
        let err = resolve_topology(&config, dir).expect_err("cloud");
        assert!(err.to_string().contains("Ec2Snitch"), "{err}");
    }
}
