//! Node configuration of authorization: CassandraAuthorizer needs logins, as in Cassandra.

use mica_config::NodeConfig;
use mica_node::{Node, NodeError};

#[test]
fn cassandra_authorizer_requires_password_authentication() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "cluster_name: 'Mica Test'\nlisten_address: 127.0.0.1\nrpc_address: 127.0.0.1\n\
                start_native_transport: false\nauthenticator: AllowAllAuthenticator\n\
                authorizer: CassandraAuthorizer\n";
    let loaded = NodeConfig::from_yaml_str(yaml, dir.path()).expect("valid yaml");
    match Node::start(loaded) {
        Err(NodeError::Config(message)) => {
            assert_eq!(
                message,
                "AllowAllAuthenticator can't be used with CassandraAuthorizer"
            )
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("the node started"),
    }
}
