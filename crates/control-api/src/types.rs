//! Serde types of the control plane's REST resources, shaped like Azure's `Microsoft.DocumentDB/cassandraClusters`
//! resources with Azure's JSON property names, so users of `az managed-cassandra` recognise them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `provisioningState` of a cluster or datacenter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvisioningState {
    Creating,
    Updating,
    Deleting,
    Succeeded,
    Failed,
    Canceled,
}

impl ProvisioningState {
    /// The spelling used in JSON and in the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningState::Creating => "Creating",
            ProvisioningState::Updating => "Updating",
            ProvisioningState::Deleting => "Deleting",
            ProvisioningState::Succeeded => "Succeeded",
            ProvisioningState::Failed => "Failed",
            ProvisioningState::Canceled => "Canceled",
        }
    }

    /// Parses [`ProvisioningState::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<ProvisioningState> {
        [
            ProvisioningState::Creating,
            ProvisioningState::Updating,
            ProvisioningState::Deleting,
            ProvisioningState::Succeeded,
            ProvisioningState::Failed,
            ProvisioningState::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// `clusterType`: Production clusters cannot be deallocated without force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterType {
    #[default]
    Production,
    NonProduction,
}

/// `authenticationMethod`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthenticationMethod {
    None,
    #[default]
    Cassandra,
}

/// `autoReplicate`: which keyspaces the service extends to new datacenters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoReplicate {
    #[default]
    None,
    SystemKeyspaces,
    AllKeyspaces,
}

/// `scheduledEventStrategy`: how rolling operations take nodes down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduledEventStrategy {
    #[default]
    StopAny,
    StopByRack,
}

/// A PEM certificate (`clientCertificates`, `gossipCertificates`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub pem: String,
}

/// A node address (`seedNodes`, `externalSeedNodes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedNode {
    pub ip_address: String,
}

/// Why provisioning failed (`provisionError`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionError {
    pub code: String,
    pub message: String,
}

/// `clusters/{clusterName}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterResource {
    /// The resource path, e.g. `/clusters/c1` (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cluster name (read-only: the path names the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Always `Microsoft.DocumentDB/cassandraClusters` in responses.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub properties: ClusterProperties,
}

/// The resource type string of clusters.
pub const CLUSTER_RESOURCE_TYPE: &str = "Microsoft.DocumentDB/cassandraClusters";
/// The resource type string of datacenters.
pub const DATA_CENTER_RESOURCE_TYPE: &str = "Microsoft.DocumentDB/cassandraClusters/dataCenters";

/// `properties` of a cluster. Read-only properties are ignored in requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// `3.11`, `4.0`, `4.1` or `5.0`; defaults to [`crate::DEFAULT_CASSANDRA_VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cassandra_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_type: Option<ClusterType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<AuthenticationMethod>,
    /// Write-only: accepted in requests, never serialized (responses never carry secrets).
    #[serde(default, skip_serializing)]
    pub initial_cassandra_admin_password: Option<String>,
    /// When non-empty, clients must present a certificate signed by one of these (mTLS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_certificates: Vec<Certificate>,
    /// Read-only: the cluster CA that signs node certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gossip_certificates: Vec<Certificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_gossip_certificates: Vec<Certificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_seed_nodes: Vec<SeedNode>,
    /// Read-only: the seeds of every datacenter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seed_nodes: Vec<SeedNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_replicate: Option<AutoReplicate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_data_centers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_event_strategy: Option<ScheduledEventStrategy>,
    /// Whether the service runs automatic repairs (every node's primary ranges, one node at a time, once per
    /// interval well inside `gc_grace_seconds`). Absent means true, as in Azure Managed Instance; responses
    /// always carry the effective value (see [`repair_enabled`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deallocated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_endpoint: Option<SeedNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_error: Option<ProvisionError>,
}

/// `clusters/{c}/dataCenters/{dc}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataCenterResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub properties: DataCenterProperties,
}

/// `properties` of a datacenter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataCenterProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Free text for the local provider (where the datacenter "is").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center_location: Option<String>,
    /// Spread racks over availability zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<bool>,
    /// A tier of [`crate::SKUS`]; defaults to [`crate::DEFAULT_SKU`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_sku: Option<String>,
    /// Data directories per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_capacity: Option<i64>,
    /// Signed so that a negative count reaches validation (and a clear message) instead of a parse error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64_encoded_cassandra_yaml_fragment: Option<String>,
    /// Read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seed_nodes: Vec<SeedNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deallocated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_error: Option<ProvisionError>,
}

/// A list response (`GET /clusters`, `GET /clusters/{c}/dataCenters`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    pub value: Vec<T>,
}

/// `status` of a long-running operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::InProgress => "InProgress",
            OperationStatus::Succeeded => "Succeeded",
            OperationStatus::Failed => "Failed",
            OperationStatus::Canceled => "Canceled",
        }
    }

    pub fn parse(text: &str) -> Option<OperationStatus> {
        [
            OperationStatus::InProgress,
            OperationStatus::Succeeded,
            OperationStatus::Failed,
            OperationStatus::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the operation has finished one way or another.
    pub fn is_terminal(self) -> bool {
        self != OperationStatus::InProgress
    }
}

/// One step the reconciler took for an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStep {
    pub name: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
}

/// The error of a failed operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationError {
    pub code: String,
    pub message: String,
}

/// `operations/{id}`: a long-running operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationResource {
    /// `/operations/{uuid}`.
    pub id: String,
    /// What was asked, e.g. `create dataCenter dc1`.
    pub name: String,
    /// The resource the operation changes, e.g. `/clusters/c1/dataCenters/dc1`.
    pub resource_id: String,
    pub status: OperationStatus,
    pub percent_complete: u8,
    #[serde(default)]
    pub steps: Vec<OperationStep>,
    /// Seconds since the Unix epoch.
    pub start_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OperationError>,
}

/// `POST clusters/{c}/invokeCommand`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandPostBody {
    pub command: String,
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
    pub host: String,
    #[serde(default, rename = "cassandra-stop-start")]
    pub cassandra_stop_start: Option<bool>,
    #[serde(default, rename = "readwrite")]
    pub read_write: Option<bool>,
}

/// The answer of `invokeCommand`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutput {
    pub command_output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// The state of a command run by `invokeCommandAsync` (Azure's `CommandPublicResource.status` values that
/// a command passes through here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandStatus {
    /// Accepted and stored; not started yet.
    Enqueued,
    /// Running against the node's admin API.
    Processing,
    /// Ran; `exitCode` says whether the verb itself succeeded.
    Finished,
    /// Could not run to the end (the node did not answer, or the control plane restarted meanwhile).
    Failed,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Enqueued => "Enqueued",
            CommandStatus::Processing => "Processing",
            CommandStatus::Finished => "Finished",
            CommandStatus::Failed => "Failed",
        }
    }

    /// Whether the command will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, CommandStatus::Finished | CommandStatus::Failed)
    }
}

/// `clusters/{c}/commands/{commandId}`: a command started by `invokeCommandAsync`, with Azure's
/// `CommandPublicResource` property names (`commandId`, `command`, `arguments`, `host`, `isAdmin`,
/// `cassandraStopStart`, `readWrite`, `result`, `status`, `outputFile`) plus `errorOutput` and `exitCode` as in
/// [`CommandOutput`] and Unix-second timestamps as in [`OperationResource`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandPublicResource {
    pub command_id: String,
    pub command: String,
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
    pub host: String,
    /// Commands never run with admin privileges here (only allowlisted nodetool verbs).
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub cassandra_stop_start: bool,
    #[serde(default)]
    pub read_write: bool,
    pub status: CommandStatus,
    /// The command's standard output (Azure's name for it), empty until it finished.
    #[serde(default)]
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Azure writes large results to a file; here the result is always inline, so this stays empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    /// Seconds since the Unix epoch: accepted, started, finished.
    pub enqueued_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<u64>,
}

/// `clusters/{c}/status`: every datacenter's nodes as the service observes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub data_centers: Vec<DataCenterStatus>,
    /// The cluster's automatic repairs (read-only; Azure has no repair resource, so this is Mica's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairStatus>,
}

/// Whether automatic repairs run for a cluster with these properties: `repairEnabled` absent means true.
pub fn repair_enabled(properties: &ClusterProperties) -> bool {
    properties.repair_enabled.unwrap_or(DEFAULT_REPAIR_ENABLED)
}

/// What an absent `repairEnabled` means (Azure's default).
pub const DEFAULT_REPAIR_ENABLED: bool = true;

/// `repair` of [`ClusterStatus`]: the service's automatic repair rounds. A round repairs every node's primary
/// ranges of every keyspace, one node at a time; times are seconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairStatus {
    /// The effective `repairEnabled`.
    pub enabled: bool,
    /// Whether a round has started and not finished (it may be waiting: see `waiting`).
    pub in_progress: bool,
    /// The node the round in progress repairs now or next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_node: Option<String>,
    /// Why a due or started round does not go on (an operation in progress, a node that does not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// When the last round started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<u64>,
    /// When the last round in which every node's repair succeeded finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<u64>,
    /// When the next round is due (absent while one is in progress or repairs are off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled: Option<u64>,
    /// The failures of the last finished round (its failed nodes are repaired again in the next round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One datacenter of [`ClusterStatus`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataCenterStatus {
    pub name: String,
    pub seed_nodes: Vec<String>,
    pub nodes: Vec<NodeStatus>,
}

/// One node of [`ClusterStatus`], with Azure's property names (`hostID`, `diskUsedKB`, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub address: String,
    /// Normal, Joining, Leaving, Moving or Stopped.
    pub state: String,
    /// Up or Down.
    pub status: String,
    /// Bytes of table data, as nodetool status shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<String>,
    #[serde(default)]
    pub tokens: Vec<String>,
    /// The node's share of the data in its datacenter times the replication factor, as a fraction (0.3 is 30%),
    /// as the nodes' `nodetool status` reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owns: Option<f64>,
    #[serde(default, rename = "hostID", skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<String>,
    /// When the service observed the node (seconds since the Unix epoch).
    pub timestamp: u64,
    #[serde(default, rename = "diskUsedKB", skip_serializing_if = "Option::is_none")]
    pub disk_used_kb: Option<u64>,
    #[serde(default, rename = "diskFreeKB", skip_serializing_if = "Option::is_none")]
    pub disk_free_kb: Option<u64>,
    #[serde(default, rename = "memoryUsedKB", skip_serializing_if = "Option::is_none")]
    pub memory_used_kb: Option<u64>,
    #[serde(default, rename = "memoryTotalKB", skip_serializing_if = "Option::is_none")]
    pub memory_total_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usage: Option<f64>,
}

/// An RFC 9457 problem document: the body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request property at fault (`properties.nodeCount`), for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// The content type of [`Problem`] responses.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
