//! Builds rustls configurations (ring provider) from the encryption options: the native transport
//! server, and the mutual-TLS server/client pair for internode connections.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::NodeConfig;
use crate::encryption::{ClientAuth, EncryptionOptions, InternodeEncryption, TlsMode};
use crate::error::{ConfigError, Result};

const CLIENT_SECTION: &str = "client_encryption_options";
const SERVER_SECTION: &str = "server_encryption_options";

/// TLS for the native (CQL) transport.
#[derive(Debug, Clone)]
pub struct NativeTls {
    pub config: Arc<ServerConfig>,
    /// [`TlsMode::Optional`]: plain connections are accepted too (sniff for a 0x16 first byte).
    pub mode: TlsMode,
}

/// TLS for internode messaging: a server side for inbound and a client side for outbound connections.
#[derive(Debug, Clone)]
pub struct InternodeTls {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
    pub mode: TlsMode,
    /// Which outbound connections to encrypt (all, or only across DCs/racks).
    pub internode_encryption: InternodeEncryption,
}

impl NodeConfig {
    /// The native transport TLS configuration, or `None` when client encryption is off.
    pub fn native_tls(&self) -> Result<Option<NativeTls>> {
        let opts = &self.client_encryption_options;
        match opts.client_tls_mode() {
            TlsMode::Disabled => Ok(None),
            mode => Ok(Some(NativeTls {
                config: build_server_config(opts, CLIENT_SECTION)?,
                mode,
            })),
        }
    }

    /// The internode TLS configurations, or `None` when internode encryption is off.
    pub fn internode_tls(&self) -> Result<Option<InternodeTls>> {
        let opts = &self.server_encryption_options;
        match opts.internode_tls_mode() {
            TlsMode::Disabled => Ok(None),
            mode => Ok(Some(InternodeTls {
                server: build_server_config(opts, SERVER_SECTION)?,
                client: build_client_config(opts, SERVER_SECTION)?,
                mode,
                internode_encryption: opts.internode_encryption,
            })),
        }
    }
}

fn tls_error(option: impl Into<String>, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Tls {
        option: option.into(),
        message: message.to_string(),
    }
}

/// Builds a server configuration: the keystore identity, TLS 1.2/1.3 as allowed by
/// `protocol`/`accepted_protocols`, and client certificates per `require_client_auth`, verified
/// against the truststore.
pub fn build_server_config(opts: &EncryptionOptions, section: &str) -> Result<Arc<ServerConfig>> {
    let (provider, versions) = provider_and_versions(opts, section)?;
    let identity = load_identity(opts, section, false)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| tls_error(section, e))?;
    let builder = match opts.require_client_auth {
        ClientAuth::NotRequired => builder.with_no_client_auth(),
        auth => {
            let roots = load_roots(opts, section, "require_client_auth is true or optional")?;
            let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if auth == ClientAuth::Optional {
                verifier = verifier.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| tls_error(format!("{section}.truststore"), e))?,
            )
        }
    };
    let config = builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| {
            tls_error(
                identity.option,
                format!("unusable key or certificate in {}: {e}", identity.origin),
            )
        })?;
    Ok(Arc::new(config))
}

/// Builds the client side of internode TLS: peers are verified against the truststore (host names
/// only when `require_endpoint_verification` is set) and the outbound keystore (default: keystore)
/// is presented for mutual TLS.
pub fn build_client_config(opts: &EncryptionOptions, section: &str) -> Result<Arc<ClientConfig>> {
    let (provider, versions) = provider_and_versions(opts, section)?;
    let identity = load_identity(opts, section, true)?;
    let roots = load_roots(opts, section, "peers' certificates must be verified")?;
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls_error(format!("{section}.truststore"), e))?;
    let verifier: Arc<dyn ServerCertVerifier> = if opts.require_endpoint_verification {
        webpki
    } else {
        Arc::new(ChainOnlyVerifier(webpki))
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| tls_error(section, e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(identity.chain, identity.key)
        .map_err(|e| {
            tls_error(
                identity.option,
                format!("unusable key or certificate in {}: {e}", identity.origin),
            )
        })?;
    Ok(Arc::new(config))
}

/// The ring provider restricted to the configured cipher suites, and the protocol versions to offer.
fn provider_and_versions(
    opts: &EncryptionOptions,
    section: &str,
) -> Result<(Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>)> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !opts.cipher_suites.is_empty() {
        for name in &opts.cipher_suites {
            if !provider
                .cipher_suites
                .iter()
                .any(|s| s.suite().as_str() == Some(name.as_str()))
            {
                tracing::warn!("{section}.cipher_suites: {name} is not supported and is skipped");
            }
        }
        provider.cipher_suites.retain(|s| {
            opts.cipher_suites
                .iter()
                .any(|n| s.suite().as_str() == Some(n.as_str()))
        });
        if provider.cipher_suites.is_empty() {
            return Err(tls_error(
                format!("{section}.cipher_suites"),
                "none of the listed cipher suites is supported",
            ));
        }
    }
    let names: Vec<&str> = if !opts.accepted_protocols.is_empty() {
        opts.accepted_protocols.iter().map(String::as_str).collect()
    } else {
        opts.protocol.as_deref().into_iter().collect()
    };
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for name in &names {
        let wanted: &[&'static SupportedProtocolVersion] = match name.trim() {
            "TLS" => rustls::DEFAULT_VERSIONS,
            "TLSv1.2" => &[&rustls::version::TLS12],
            "TLSv1.3" => &[&rustls::version::TLS13],
            other => {
                tracing::warn!("{section}: protocol {other} is not supported (only TLSv1.2 and TLSv1.3)");
                &[]
            }
        };
        for v in wanted {
            if !versions.iter().any(|have| have.version == v.version) {
                versions.push(v);
            }
        }
    }
    if names.is_empty() {
        versions = rustls::DEFAULT_VERSIONS.to_vec();
    }
    // A version none of the allowed suites can serve would only fail handshakes later.
    versions.retain(|v| {
        provider
            .cipher_suites
            .iter()
            .any(|s| s.version().version == v.version)
    });
    if versions.is_empty() {
        return Err(tls_error(
            format!("{section}.accepted_protocols"),
            format!(
                "no usable protocol among [{}]; supported are TLSv1.2 and TLSv1.3",
                names.join(", ")
            ),
        ));
    }
    Ok((Arc::new(provider), versions))
}

/// A private key with its certificate chain, and where they came from (for errors).
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    option: String,
    origin: String,
}

/// PEM items of one source.
struct PemContents {
    certs: Vec<CertificateDer<'static>>,
    key: Option<PrivateKeyDer<'static>>,
}

fn load_identity(opts: &EncryptionOptions, section: &str, outbound: bool) -> Result<Identity> {
    let (option, origin, text) = if let Some(inline) = &opts.private_key {
        let option = format!("{section}.private_key");
        (
            option,
            "the inline private_key".to_owned(),
            inline.clone().into_bytes(),
        )
    } else {
        let (name, path) = match (&opts.outbound_keystore, outbound) {
            (Some(path), true) => ("outbound_keystore", path),
            _ => match &opts.keystore {
                Some(path) => ("keystore", path),
                None => {
                    return Err(tls_error(
                        format!("{section}.keystore"),
                        "no keystore (PEM private key and certificate) configured",
                    ));
                }
            },
        };
        let option = format!("{section}.{name}");
        (
            option.clone(),
            path.display().to_string(),
            read_file(&option, path)?,
        )
    };
    let mut contents = parse_pem(&text, &option, &origin)?;
    if let Some(inline_chain) = opts.private_key.as_ref().and(opts.certificate.as_ref()) {
        let chain_option = format!("{section}.certificate");
        contents
            .certs
            .extend(parse_pem(inline_chain.as_bytes(), &chain_option, "the inline certificate")?.certs);
    }
    let key = contents
        .key
        .ok_or_else(|| tls_error(&option, format!("no private key found in {origin}")))?;
    if contents.certs.is_empty() {
        return Err(tls_error(&option, format!("no certificate found in {origin}")));
    }
    Ok(Identity {
        chain: contents.certs,
        key,
        option,
        origin,
    })
}

fn load_roots(opts: &EncryptionOptions, section: &str, why: &str) -> Result<RootCertStore> {
    let (option, origin, text) = match (&opts.trusted_certificates, &opts.truststore) {
        (Some(inline), _) => (
            format!("{section}.trusted_certificates"),
            "the inline trusted_certificates".to_owned(),
            inline.clone().into_bytes(),
        ),
        (None, Some(path)) => {
            let option = format!("{section}.truststore");
            (
                option.clone(),
                path.display().to_string(),
                read_file(&option, path)?,
            )
        }
        (None, None) => {
            return Err(tls_error(
                format!("{section}.truststore"),
                format!("a PEM truststore is required ({why})"),
            ));
        }
    };
    let certs = parse_pem(&text, &option, &origin)?.certs;
    if certs.is_empty() {
        return Err(tls_error(&option, format!("no certificates found in {origin}")));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| tls_error(&option, format!("invalid CA certificate in {origin}: {e}")))?;
    }
    Ok(roots)
}

fn read_file(option: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_error(option, format!("cannot read {}: {e}", path.display())))
}

fn parse_pem(bytes: &[u8], option: &str, origin: &str) -> Result<PemContents> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(tls_error(
            option,
            format!("the private key in {origin} is encrypted; Mica needs an unencrypted PEM key"),
        ));
    }
    let mut contents = PemContents {
        certs: Vec::new(),
        key: None,
    };
    let mut any = false;
    for item in rustls_pemfile::read_all(&mut &bytes[..]) {
        any = true;
        match item.map_err(|e| tls_error(option, format!("invalid PEM in {origin}: {e}")))? {
            rustls_pemfile::Item::X509Certificate(cert) => contents.certs.push(cert),
            rustls_pemfile::Item::Pkcs1Key(key) if contents.key.is_none() => contents.key = Some(key.into()),
            rustls_pemfile::Item::Pkcs8Key(key) if contents.key.is_none() => contents.key = Some(key.into()),
            rustls_pemfile::Item::Sec1Key(key) if contents.key.is_none() => contents.key = Some(key.into()),
            _ => {}
        }
    }
    if !any {
        return Err(tls_error(
            option,
            format!(
                "no PEM data found in {origin} (Mica reads PEM key material only, as \
                 org.apache.cassandra.security.PEMBasedSslContextFactory does; JKS/PKCS12 stores are not supported)"
            ),
        ));
    }
    Ok(contents)
}

/// Verifies the peer's chain against the truststore but not its host name, which is what Cassandra
/// does unless `require_endpoint_verification` is set (peers are dialled by IP address).
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means the chain was trusted.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
