//! Test harness: starts a node in-process on its own loopback address and speaks the raw native
//! protocol to it through mica-cql-protocol's client-side encoders.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mica_config::NodeConfig;
use mica_cql_protocol::{
    Compression, FrameDecoder, FrameEncoder, FrameHeader, QueryParameters, Request, Response, ResultBody,
    Rows, StringMap, Version,
};
use mica_node::{Node, NodeHandle};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for any single response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(20);

static NEXT_HOST: AtomicU8 = AtomicU8::new(1);

/// A loopback address no other test process uses: the process id picks the second and third octets.
pub fn unique_address() -> String {
    let pid = std::process::id();
    let host = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
    format!("127.{}.{}.{host}", 100 + (pid / 256) % 100, pid % 256)
}

/// A started node with its directory.
pub struct TestNode {
    pub dir: TempDir,
    yaml: String,
    pub handle: Option<NodeHandle>,
    pub addr: SocketAddr,
}

impl TestNode {
    /// Starts a node whose cassandra.yaml is the common settings plus `extra_yaml`; `prepare` may
    /// write files (certificates) into the directory first.
    pub fn start_with(extra_yaml: &str, prepare: impl FnOnce(&Path, &str)) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let address = unique_address();
        prepare(dir.path(), &address);
        let yaml = format!(
            "cluster_name: 'Mica Test'\nlisten_address: {address}\nrpc_address: {address}\n\
             native_transport_port: 9042\nnum_tokens: 4\n{extra_yaml}"
        );
        let handle = start_node(&yaml, dir.path());
        let addr = handle.native_address().expect("native transport enabled");
        TestNode {
            dir,
            yaml,
            handle: Some(handle),
            addr,
        }
    }

    /// Stops the node and starts it again on the same directory and configuration.
    pub fn restart(&mut self) {
        self.shutdown();
        self.handle = Some(start_node(&self.yaml, self.dir.path()));
    }

    pub fn start(extra_yaml: &str) -> TestNode {
        Self::start_with(extra_yaml, |_, _| {})
    }

    pub async fn connect(&self, version: Version) -> Client<TcpStream> {
        Client::new(TcpStream::connect(self.addr).await.expect("connect"), version)
    }

    pub fn shutdown(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().expect("clean shutdown");
        }
    }
}

fn start_node(yaml: &str, dir: &Path) -> NodeHandle {
    let loaded = NodeConfig::from_yaml_str(yaml, dir).expect("valid yaml");
    Node::start(loaded).expect("node starts")
}

/// A raw protocol client over any byte stream.
pub struct Client<S> {
    pub io: S,
    pub version: Version,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(io: S, version: Version) -> Self {
        Client {
            io,
            version,
            decoder: FrameDecoder::default(),
            encoder: FrameEncoder::new(),
            buf: BytesMut::new(),
        }
    }

    /// Sends a request in the client's current framing.
    pub async fn send(&mut self, stream: i16, request: &Request) {
        let mut envelope = BytesMut::new();
        request
            .encode_envelope(&mut envelope, self.version, stream, false, None)
            .expect("encodable request");
        let mut wire = BytesMut::new();
        self.encoder.encode(&mut envelope, &mut wire).expect("framing");
        self.send_raw(&wire).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// The next response, or `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<(FrameHeader, Response)> {
        loop {
            if let Some(envelope) = self
                .decoder
                .decode(&mut self.buf)
                .expect("valid response framing")
            {
                let message = Response::decode(&envelope).expect("valid response");
                return Some((envelope.header, message.response));
            }
            let read = tokio::time::timeout(RESPONSE_TIMEOUT, self.io.read_buf(&mut self.buf))
                .await
                .expect("response in time");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Sends a request and returns the response on the same stream.
    pub async fn request(&mut self, stream: i16, request: &Request) -> Response {
        self.send(stream, request).await;
        let (header, response) = self.recv().await.expect("a response");
        assert_eq!(header.stream, stream);
        response
    }

    /// STARTUP; a v5 connection switches to segments once READY or AUTHENTICATE arrives.
    pub async fn startup(&mut self, extra: &[(&str, &str)]) -> Response {
        let mut options = StringMap::new();
        options.insert("CQL_VERSION".into(), "3.0.0".into());
        for (k, v) in extra {
            options.insert((*k).into(), (*v).into());
        }
        let response = self.request(1, &Request::Startup(options)).await;
        let accepted = matches!(response, Response::Ready | Response::Authenticate(_));
        let compression = extra
            .iter()
            .find(|(k, _)| *k == "COMPRESSION")
            .and_then(|(_, v)| Compression::from_name(v));
        if accepted && self.version.is_v5() {
            let lz4 = compression == Some(Compression::Lz4);
            self.decoder.enable_segments(lz4);
            self.encoder.enable_segments(lz4);
        } else if accepted {
            self.decoder.set_compression(compression);
            self.encoder.set_compression(compression);
        }
        response
    }

    pub async fn login(&mut self, user: &str, password: &str) -> Response {
        let token = format!("\0{user}\0{password}");
        self.request(2, &Request::AuthResponse(Some(Bytes::from(token.into_bytes()))))
            .await
    }

    pub async fn query(&mut self, stream: i16, cql: &str) -> Response {
        let request = Request::Query {
            query: cql.to_owned(),
            params: QueryParameters::default(),
        };
        self.request(stream, &request).await
    }

    /// Runs a query that must return rows.
    pub async fn rows(&mut self, stream: i16, cql: &str) -> Rows {
        match self.query(stream, cql).await {
            Response::Result(ResultBody::Rows(rows)) => rows,
            other => panic!("expected rows for {cql}, got {other:?}"),
        }
    }

    /// Whether the server has closed the connection (reads EOF, possibly after pending responses).
    pub async fn closed(&mut self) -> bool {
        let mut scratch = [0u8; 1024];
        loop {
            match tokio::time::timeout(RESPONSE_TIMEOUT, self.io.read(&mut scratch)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}

/// The text of a single-cell result.
pub fn single_text(rows: &Rows) -> String {
    let cell = rows.rows[0][0].as_ref().expect("non-null cell");
    String::from_utf8(cell.to_vec()).expect("text cell")
}
