//! Shared test material: a throwaway CA issuing node certificates, and gossip TLS built from them.

use std::net::IpAddr;

use mica_cluster::GossipTls;
use mica_config::EncryptionOptions;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA certificate (PEM) that issues node identities (key + certificate PEM).
pub struct Ca {
    pem: String,
    key: KeyPair,
    params: CertificateParams,
}

impl Ca {
    pub fn new() -> Ca {
        let key = KeyPair::generate().expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("ca cert").pem();
        Ca { pem, key, params }
    }

    pub fn issue(&self, ip: IpAddr) -> String {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec![ip.to_string()]).expect("params");
        let cert = params.signed_by(&key, &issuer).expect("sign");
        format!("{}{}", key.serialize_pem(), cert.pem())
    }
}

/// Mutual TLS for a node presenting `identity` and trusting `trusted`.
pub fn tls_for(dir: &std::path::Path, name: &str, identity: &str, trusted: &Ca) -> GossipTls {
    let keystore = dir.join(format!("{name}.pem"));
    let truststore = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&keystore, identity).expect("write keystore");
    std::fs::write(&truststore, &trusted.pem).expect("write truststore");
    let opts = EncryptionOptions {
        keystore: Some(keystore),
        truststore: Some(truststore),
        internode_encryption: mica_config::InternodeEncryption::All,
        ..Default::default()
    };
    GossipTls::from_options(&opts).expect("tls")
}
