//! `mica cluster update` and `mica datacenter update` (az-style flags): build the PUT body for an existing
//! resource. A configuration change (sku, yaml fragment, version, client certificates) is applied by the
//! control plane as a rolling restart; the command waits for it like any long-running operation.

use std::path::PathBuf;

use crate::control::{parse_authentication_method, parse_auto_replicate, parse_cluster_type, parse_strategy};
use anyhow::{Context, Result};
use clap::Args;
use mica_control::client::Client;
use mica_control_api::{
    AuthenticationMethod, AutoReplicate, Certificate, ClusterProperties, ClusterResource, ClusterType,
    DataCenterProperties, DataCenterResource, OperationResource, ScheduledEventStrategy,
};

#[derive(Debug, Args)]
pub struct ClusterUpdateArgs {
    #[arg(short = 'c', long = "cluster-name")]
    pub cluster_name: String,
    /// The next version only (3.11 → 4.0 → 4.1 → 5.0); nodes restart one at a time.
    #[arg(long = "cassandra-version")]
    pub cassandra_version: Option<String>,
    #[arg(long = "cluster-type", value_parser = parse_cluster_type)]
    pub cluster_type: Option<ClusterType>,
    #[arg(long = "authentication-method", value_parser = parse_authentication_method)]
    pub authentication_method: Option<AuthenticationMethod>,
    /// PEM files of client certificates; clients must then present a certificate they sign.
    #[arg(long = "client-certificates", num_args = 1..)]
    pub client_certificates: Vec<PathBuf>,
    #[arg(long = "auto-replicate", value_parser = parse_auto_replicate)]
    pub auto_replicate: Option<AutoReplicate>,
    #[arg(long = "scheduled-event-strategy", value_parser = parse_strategy)]
    pub scheduled_event_strategy: Option<ScheduledEventStrategy>,
    #[arg(long = "repair-enabled")]
    pub repair_enabled: Option<bool>,
}

#[derive(Debug, Args)]
pub struct DataCenterUpdateArgs {
    #[arg(short = 'c', long = "cluster-name")]
    pub cluster_name: String,
    #[arg(short = 'd', long = "data-center-name")]
    pub data_center_name: String,
    #[arg(short = 'n', long = "node-count", allow_negative_numbers = true)]
    pub node_count: Option<i64>,
    /// A new SKU; nodes restart one at a time with its settings.
    #[arg(long)]
    pub sku: Option<String>,
    /// A new cassandra.yaml fragment (base64); nodes restart one at a time with it.
    #[arg(short = 'b', long = "base64-encoded-cassandra-yaml-fragment")]
    pub base64_encoded_cassandra_yaml_fragment: Option<String>,
}

/// Sends the cluster update (only what the flags set; the server keeps the rest) and returns the resource
/// path with the operation.
pub fn cluster(args: &ClusterUpdateArgs, client: &Client) -> Result<(String, OperationResource)> {
    let client_certificates = args
        .client_certificates
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|pem| Certificate { pem })
                .with_context(|| format!("cannot read {}", p.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let body = ClusterResource {
        properties: ClusterProperties {
            cassandra_version: args.cassandra_version.clone(),
            cluster_type: args.cluster_type,
            authentication_method: args.authentication_method,
            client_certificates,
            auto_replicate: args.auto_replicate,
            scheduled_event_strategy: args.scheduled_event_strategy,
            repair_enabled: args.repair_enabled,
            ..Default::default()
        },
        ..Default::default()
    };
    let path = format!("/clusters/{}", args.cluster_name);
    let op = client.put(&path, &body)?;
    Ok((path, op))
}

/// Sends the datacenter update: the current settings with the flags' values over them (a PUT replaces the
/// datacenter's properties, so what the flags leave out is sent as it is).
pub fn data_center(args: &DataCenterUpdateArgs, client: &Client) -> Result<(String, OperationResource)> {
    let path = format!(
        "/clusters/{}/dataCenters/{}",
        args.cluster_name, args.data_center_name
    );
    let current = client.get::<DataCenterResource>(&path)?.properties;
    let body = DataCenterResource {
        properties: DataCenterProperties {
            data_center_location: current.data_center_location,
            availability_zone: current.availability_zone,
            sku: args.sku.clone().or(current.sku),
            disk_sku: current.disk_sku,
            disk_capacity: current.disk_capacity,
            node_count: args.node_count.or(current.node_count),
            base64_encoded_cassandra_yaml_fragment: args
                .base64_encoded_cassandra_yaml_fragment
                .clone()
                .or(current.base64_encoded_cassandra_yaml_fragment),
            ..Default::default()
        },
        ..Default::default()
    };
    let op = client.put(&path, &body)?;
    Ok((path, op))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    use crate::control::{ClusterCommand, DataCenterCommand};
    use crate::{Cli, Command};

    #[test]
    fn update_flags_parse_az_style() {
        let cli = Cli::try_parse_from([
            "mica",
            "datacenter",
            "update",
            "-c",
            "c1",
            "-d",
            "dc1",
            "--sku",
            "Standard_D4s_v5",
            "-b",
            "eA==",
        ])
        .unwrap();
        let Command::Datacenter {
            command: DataCenterCommand::Update(args),
            ..
        } = cli.command
        else {
            panic!("expected datacenter update");
        };
        assert_eq!(
            (args.cluster_name.as_str(), args.data_center_name.as_str()),
            ("c1", "dc1")
        );
        assert_eq!(args.node_count, None, "left out: kept as it is");
        assert_eq!(args.sku.as_deref(), Some("Standard_D4s_v5"));
        assert_eq!(
            args.base64_encoded_cassandra_yaml_fragment.as_deref(),
            Some("eA==")
        );

        let cli = Cli::try_parse_from([
            "mica",
            "cluster",
            "update",
            "--cluster-name",
            "c1",
            "--cassandra-version",
            "4.1",
            "--client-certificates",
            "a.pem",
            "b.pem",
        ])
        .unwrap();
        let Command::Cluster {
            command: ClusterCommand::Update(args),
            ..
        } = cli.command
        else {
            panic!("expected cluster update");
        };
        assert_eq!(args.cassandra_version.as_deref(), Some("4.1"));
        assert_eq!(args.client_certificates.len(), 2);
    }
}
