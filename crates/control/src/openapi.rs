//! The hand-written OpenAPI 3 document served at `/openapi.json`. A test checks that its paths and methods are
//! exactly the server's routes ([`crate::server::ROUTES`]).

use serde_json::{Value, json};

/// The OpenAPI document.
pub fn document() -> Value {
    let problem = json!({"description": "An RFC 9457 problem document", "content": {"application/problem+json":
        {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let accepted = json!({"description": "Accepted; poll the operation named by Location",
        "headers": {"Location": {"schema": {"type": "string"}, "description": "/operations/{id}"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OperationResource"}}}});
    let ok = |schema: &str| {
        json!({"description": "OK", "content": {"application/json":
        {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
    };
    let body = |schema: &str| {
        json!({"required": true, "content": {"application/json":
        {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
    };
    let errors = |mut responses: Value| {
        for code in ["400", "401", "404", "409"] {
            responses[code] = problem.clone();
        }
        responses
    };
    let cluster =
        json!({"name": "clusterName", "in": "path", "required": true, "schema": {"type": "string"}});
    let dc = json!({"name": "dataCenterName", "in": "path", "required": true, "schema": {"type": "string"}});
    let string_enum = |values: &[&str]| json!({"type": "string", "enum": values});
    let certs =
        json!({"type": "array", "items": {"type": "object", "properties": {"pem": {"type": "string"}}}});
    let seeds = json!({"type": "array", "readOnly": true, "items": {"type": "object",
        "properties": {"ipAddress": {"type": "string"}}}});
    let provisioning = string_enum(&[
        "Creating",
        "Updating",
        "Deleting",
        "Succeeded",
        "Failed",
        "Canceled",
    ]);
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {"title": "Mica control plane", "version": env!("CARGO_PKG_VERSION"),
            "description": "Managed Apache Cassandra-compatible clusters; resources shaped like Azure's Microsoft.DocumentDB/cassandraClusters."},
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OK"}}}},
            "/clusters": {"get": {"summary": "List clusters", "responses": errors(ok("ClusterList"))}},
            "/clusters/{clusterName}": {
                "parameters": [cluster.clone()],
                "get": {"summary": "Show a cluster", "responses": errors(ok("ClusterResource"))},
                "put": {"summary": "Create or update a cluster", "requestBody": body("ClusterResource"),
                    "responses": errors(json!({"202": accepted.clone()}))},
                "delete": {"summary": "Delete a cluster and all its nodes and data",
                    "responses": errors(json!({"202": accepted.clone()}))}
            },
            "/clusters/{clusterName}/dataCenters": {"parameters": [cluster.clone()],
                "get": {"summary": "List datacenters", "responses": errors(ok("DataCenterList"))}},
            "/clusters/{clusterName}/dataCenters/{dataCenterName}": {
                "parameters": [cluster.clone(), dc],
                "get": {"summary": "Show a datacenter", "responses": errors(ok("DataCenterResource"))},
                "put": {"summary": "Create or update a datacenter", "requestBody": body("DataCenterResource"),
                    "responses": errors(json!({"202": accepted.clone()}))},
                "delete": {"summary": "Delete a datacenter", "responses": errors(json!({"202": accepted.clone()}))}
            },
            "/clusters/{clusterName}/status": {"parameters": [cluster.clone()],
                "get": {"summary": "Status of every node", "responses": errors(ok("ClusterStatus"))},
                "post": {"summary": "Status of every node (Azure's verb)", "responses": errors(ok("ClusterStatus"))}},
            "/clusters/{clusterName}/deallocate": {"parameters": [cluster.clone(),
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
                "post": {"summary": "Stop every node, keeping data (Production clusters need force=true)",
                    "responses": errors(json!({"202": accepted.clone()}))}},
            "/clusters/{clusterName}/start": {"parameters": [cluster],
                "post": {"summary": "Start a deallocated cluster", "responses": errors(json!({"202": accepted}))}},
            "/clusters/{clusterName}/invokeCommand": {"parameters": [{"name": "clusterName", "in": "path",
                    "required": true, "schema": {"type": "string"}}],
                "post": {"summary": "Run an allowlisted nodetool command on one node",
                    "description": format!("Allowed commands: {}. Arguments: a key starting with '-' is a flag followed by its value (if any); any other key's value (or the key, if the value is empty) is a positional argument, in key order.", crate::command::ALLOWED_COMMANDS.join(", ")),
                    "requestBody": body("CommandPostBody"), "responses": errors(ok("CommandOutput"))}},
            "/operations/{operationId}": {"parameters": [{"name": "operationId", "in": "path", "required": true,
                    "schema": {"type": "string"}}],
                "get": {"summary": "A long-running operation", "responses": errors(ok("OperationResource"))}},
            "/clusters/{clusterName}/metrics": {"parameters": [{"name": "clusterName", "in": "path",
                    "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "Read/write throughput and latency over the last hour, per datacenter and for the whole cluster",
                    "responses": errors(ok("ClusterMetrics"))}},
            "/clusters/{clusterName}/operations": {"parameters": [{"name": "clusterName", "in": "path",
                    "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "The cluster's operations, newest first (at most 100)",
                    "responses": errors(ok("OperationList"))}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "The token `mica server` prints at first start"}},
            "schemas": {
                "Problem": {"type": "object", "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"}, "property": {"type": "string"}}},
                "ClusterResource": {"type": "object", "properties": {"id": {"type": "string", "readOnly": true},
                    "name": {"type": "string", "readOnly": true}, "type": {"type": "string", "readOnly": true},
                    "properties": {"$ref": "#/components/schemas/ClusterProperties"}}},
                "ClusterProperties": {"type": "object", "properties": {
                    "provisioningState": provisioning.clone(),
                    "cassandraVersion": string_enum(&["3.11", "4.0", "4.1", "5.0"]),
                    "clusterType": string_enum(&["Production", "NonProduction"]),
                    "authenticationMethod": string_enum(&["None", "Cassandra"]),
                    "initialCassandraAdminPassword": {"type": "string", "writeOnly": true},
                    "clientCertificates": certs.clone(),
                    "gossipCertificates": {"allOf": [certs.clone()], "readOnly": true},
                    "externalGossipCertificates": certs,
                    "externalSeedNodes": {"type": "array", "items": {"type": "object",
                        "properties": {"ipAddress": {"type": "string"}}}},
                    "seedNodes": seeds.clone(),
                    "autoReplicate": string_enum(&["None", "SystemKeyspaces", "AllKeyspaces"]),
                    "externalDataCenters": {"type": "array", "items": {"type": "string"}},
                    "scheduledEventStrategy": string_enum(&["StopAny", "StopByRack"]),
                    "repairEnabled": {"type": "boolean", "default": true,
                        "description": "Automatic repairs (see RepairStatus); absent means true"},
                    "deallocated": {"type": "boolean", "readOnly": true},
                    "prometheusEndpoint": {"type": "object", "readOnly": true, "description":
                        "A node whose Prometheus endpoint answers: http://{ipAddress}:9180/metrics",
                        "properties": {"ipAddress": {"type": "string"}}},
                    "provisionError": {"$ref": "#/components/schemas/ProvisionError"}}},
                "ClusterList": {"type": "object", "properties": {"value": {"type": "array",
                    "items": {"$ref": "#/components/schemas/ClusterResource"}}}},
                "DataCenterResource": {"type": "object", "properties": {"id": {"type": "string", "readOnly": true},
                    "name": {"type": "string", "readOnly": true}, "type": {"type": "string", "readOnly": true},
                    "properties": {"$ref": "#/components/schemas/DataCenterProperties"}}},
                "DataCenterProperties": {"type": "object", "properties": {
                    "provisioningState": provisioning,
                    "dataCenterLocation": {"type": "string"},
                    "availabilityZone": {"type": "boolean"},
                    "sku": {"type": "string", "enum": mica_control_api::SKUS.iter().map(|s| s.name).collect::<Vec<_>>()},
                    "diskSku": {"type": "string"},
                    "diskCapacity": {"type": "integer", "minimum": 1, "maximum": mica_control_api::validate::MAX_DISK_CAPACITY},
                    "nodeCount": {"type": "integer", "minimum": 1,
                        "maximum": mica_control_api::validate::MAX_NODES_PER_DATA_CENTER},
                    "base64EncodedCassandraYamlFragment": {"type": "string", "format": "byte"},
                    "seedNodes": seeds,
                    "deallocated": {"type": "boolean", "readOnly": true},
                    "provisionError": {"$ref": "#/components/schemas/ProvisionError"}}},
                "DataCenterList": {"type": "object", "properties": {"value": {"type": "array",
                    "items": {"$ref": "#/components/schemas/DataCenterResource"}}}},
                "ProvisionError": {"type": "object", "readOnly": true, "properties": {"code": {"type": "string"},
                    "message": {"type": "string"}}},
                "OperationResource": {"type": "object", "properties": {"id": {"type": "string"},
                    "name": {"type": "string"}, "resourceId": {"type": "string"},
                    "status": string_enum(&["InProgress", "Succeeded", "Failed", "Canceled"]),
                    "percentComplete": {"type": "integer"}, "startTime": {"type": "integer"},
                    "endTime": {"type": "integer"},
                    "steps": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"},
                        "time": {"type": "integer"}}}},
                    "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "OperationList": {"type": "object", "properties": {"value": {"type": "array",
                    "items": {"$ref": "#/components/schemas/OperationResource"}}}},
                "CommandPostBody": {"type": "object", "required": ["command", "host"], "properties": {
                    "command": {"type": "string", "enum": crate::command::ALLOWED_COMMANDS},
                    "host": {"type": "string", "description": "The node's address"},
                    "arguments": {"type": "object", "additionalProperties": {"type": "string"}},
                    "cassandra-stop-start": {"type": "boolean"}, "readwrite": {"type": "boolean"}}},
                "ClusterMetrics": metrics_schema(),
                "CommandOutput": {"type": "object", "properties": {"commandOutput": {"type": "string"},
                    "errorOutput": {"type": "string"}, "exitCode": {"type": "integer"}}},
                "ClusterStatus": {"type": "object", "properties": {"dataCenters": {"type": "array", "items": {
                    "type": "object", "properties": {"name": {"type": "string"},
                    "seedNodes": {"type": "array", "items": {"type": "string"}},
                    "nodes": {"type": "array", "items": {"type": "object", "properties": {
                        "address": {"type": "string"}, "state": {"type": "string"}, "status": {"type": "string"},
                        "load": {"type": "string"}, "tokens": {"type": "array", "items": {"type": "string"}},
                        "owns": {"type": "number"}, "hostID": {"type": "string"}, "rack": {"type": "string"},
                        "timestamp": {"type": "integer"}, "diskUsedKB": {"type": "integer"},
                        "diskFreeKB": {"type": "integer"}, "memoryUsedKB": {"type": "integer"},
                        "memoryTotalKB": {"type": "integer"}, "cpuUsage": {"type": "number"}}}}}}},
                    "repair": {"$ref": "#/components/schemas/RepairStatus"}}},
                "RepairStatus": {"type": "object", "readOnly": true, "description":
                    "Automatic repairs (repairEnabled, absent means true): every interval each node repairs its \
                     primary ranges of every keyspace, one node at a time, never during an operation. Times are \
                     seconds since the Unix epoch.",
                    "properties": {"enabled": {"type": "boolean"}, "inProgress": {"type": "boolean"},
                    "currentNode": {"type": "string"}, "waiting": {"type": "string"},
                    "lastStarted": {"type": "integer"}, "lastCompleted": {"type": "integer"},
                    "nextScheduled": {"type": "integer"}, "lastError": {"type": "string"}}}
            }
        }
    });
    add_async_commands(&mut document, &errors);
    document
}

/// The `invokeCommandAsync` and `commands` paths and the `CommandPublicResource` schema.
fn add_async_commands(document: &mut Value, errors: &dyn Fn(Value) -> Value) {
    let cluster =
        json!({"name": "clusterName", "in": "path", "required": true, "schema": {"type": "string"}});
    let command = json!({"name": "commandId", "in": "path", "required": true, "schema": {"type": "string"}});
    let resource = json!({"$ref": "#/components/schemas/CommandPublicResource"});
    document["paths"]["/clusters/{clusterName}/invokeCommandAsync"] = json!({"parameters": [cluster.clone()],
        "post": {"summary": "Start an allowlisted nodetool command on one node; poll the command named by Location",
            "requestBody": {"required": true, "content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/CommandPostBody"}}}},
            "responses": errors(json!({"202": {"description": "Accepted",
                "headers": {"Location": {"schema": {"type": "string"},
                    "description": "/clusters/{clusterName}/commands/{commandId}"}},
                "content": {"application/json": {"schema": resource.clone()}}}}))}});
    document["paths"]["/clusters/{clusterName}/commands"] = json!({"parameters": [cluster.clone()],
        "get": {"summary": "The cluster's commands started with invokeCommandAsync, oldest first",
            "responses": errors(json!({"200": {"description": "OK", "content": {"application/json": {"schema":
                {"type": "object", "properties": {"value": {"type": "array", "items": resource.clone()}}}}}}}))}});
    document["paths"]["/clusters/{clusterName}/commands/{commandId}"] = json!({"parameters": [cluster, command],
        "get": {"summary": "A command started with invokeCommandAsync",
            "responses": errors(json!({"200": {"description": "OK",
                "content": {"application/json": {"schema": resource}}}}))}});
    document["components"]["schemas"]["CommandPublicResource"] = json!({"type": "object", "properties": {
        "commandId": {"type": "string"}, "command": {"type": "string"}, "host": {"type": "string"},
        "arguments": {"type": "object", "additionalProperties": {"type": "string"}},
        "isAdmin": {"type": "boolean"}, "cassandraStopStart": {"type": "boolean"}, "readWrite": {"type": "boolean"},
        "status": {"type": "string", "enum": ["Enqueued", "Processing", "Finished", "Failed"]},
        "result": {"type": "string", "description": "The command's output"},
        "errorOutput": {"type": "string"}, "exitCode": {"type": "integer"}, "outputFile": {"type": "string"},
        "enqueuedTime": {"type": "integer"}, "startTime": {"type": "integer"}, "endTime": {"type": "integer"}}});
}

/// `ClusterMetrics`: a separate function keeps the main `json!` literal within the macro recursion limit.
fn metrics_schema() -> Value {
    let number = json!({"type": "number"});
    json!({"type": "object", "properties": {
        "intervalSeconds": {"type": "integer"},
        "series": {"type": "array", "items": {"type": "object", "properties": {
            "dataCenter": {"type": "string", "nullable": true, "description": "null: the whole cluster"},
            "points": {"type": "array", "items": {"type": "object", "properties": {
                "time": {"type": "integer", "description": "Unix seconds"},
                "readsPerSecond": number, "writesPerSecond": number,
                "readLatencyP99Ms": number, "writeLatencyP99Ms": number,
                "readLatencyMeanMs": number, "writeLatencyMeanMs": number}}}}}}}})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_match_the_routes() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), crate::server::ROUTES.len());
        for (path, methods) in crate::server::ROUTES {
            let item = paths.get(*path).unwrap_or_else(|| panic!("{path} missing"));
            let mut documented: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "parameters")
                .collect();
            documented.sort_unstable();
            let mut expected = methods.to_vec();
            expected.sort_unstable();
            assert_eq!(documented, expected, "{path}");
        }
    }
}
