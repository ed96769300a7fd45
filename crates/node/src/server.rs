//! The CQL listener: one current-thread tokio runtime per core, each accepting on its own
//! SO_REUSEPORT socket so a connection lives on one core, with TLS (required, or optional by sniffing
//! the first byte) in front of the protocol handler.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mica_config::{NativeTls, TlsMode};
use mica_cql_protocol::SchemaChange;
use mica_query::QueryEngine;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinSet, LocalSet};
use tokio_rustls::TlsAcceptor;

use crate::connection;

/// Pending connections the kernel queues per listener socket.
const LISTEN_BACKLOG: i32 = 1024;
/// How long a client may take to send its first byte and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to finish their in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (for example when out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Node-wide state every connection uses.
pub(crate) struct Shared {
    pub engine: Arc<QueryEngine>,
    /// PasswordAuthenticator is configured: clients must log in after STARTUP.
    pub password_auth: bool,
    /// Largest accepted envelope body (`native_transport_max_frame_size`).
    pub max_frame_size: usize,
    /// `rpc_keepalive`: enable TCP keepalive on client sockets.
    pub keepalive: bool,
    /// Schema changes, fanned out to connections that sent REGISTER.
    pub events: broadcast::Sender<SchemaChange>,
    /// Topology and status changes gossip observed, for connections that registered for them.
    pub cluster_events: broadcast::Sender<mica_cql_protocol::Event>,
}

/// Binds `count` listener sockets sharing `address` through SO_REUSEPORT. An exclusive probe bind
/// first makes an address already served by another process fail here instead of silently sharing
/// its port.
pub(crate) fn bind(address: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    if address.port() != 0 {
        drop(listener_socket(address, false)?);
    }
    let first = listener_socket(address, true)?;
    // With port 0 the kernel picks a port for the first socket; the others must join that one.
    let shared_address = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..count.max(1) {
        listeners.push(listener_socket(shared_address, true)?);
    }
    Ok(listeners)
}

fn listener_socket(address: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Starts one thread per listener, each running its own current-thread runtime until `stop` turns
/// true.
pub(crate) fn spawn_workers(
    listeners: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
    tls: Option<NativeTls>,
    stop: watch::Receiver<bool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (shared, tls, stop) = (shared.clone(), tls.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("mica-cql-{i}"))
                .spawn(move || {
                    LocalSet::new().block_on(&runtime, accept_loop(listener, shared, tls, stop));
                })
        })
        .collect()
}

async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<NativeTls>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot register the CQL listener: {e}");
            return;
        }
    };
    let tls = tls
        .filter(|t| t.mode != TlsMode::Disabled)
        .map(|t| (TlsAcceptor::from(t.config), t.mode));
    let mut connections = JoinSet::new();
    // Connections get their own receiver: the loop below keeps `stop` borrowed while selecting.
    let connection_stop = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    connections.spawn_local(handle_socket(socket, peer, shared.clone(), tls.clone(), connection_stop.clone()));
                }
                Err(e) => {
                    tracing::warn!("accepting a CQL connection failed: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.wait_for(|&s| s) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connections still busy after {SHUTDOWN_GRACE:?}; closing them",
            connections.len()
        );
        connections.shutdown().await;
    }
}

async fn handle_socket(
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<(TlsAcceptor, TlsMode)>,
    stop: watch::Receiver<bool>,
) {
    // Responses are written in whole batches, so Nagle's algorithm would only add latency.
    let _ = socket.set_nodelay(true);
    if shared.keepalive {
        let _ = SockRef::from(&socket).set_keepalive(true);
    }
    let Some((acceptor, mode)) = tls else {
        return connection::serve(socket, peer, shared, stop).await;
    };
    if mode == TlsMode::Optional {
        let mut first = [0u8; 1];
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.peek(&mut first)).await {
            Ok(Ok(1)) if first[0] != TLS_HANDSHAKE_RECORD => {
                return connection::serve(socket, peer, shared, stop).await;
            }
            Ok(Ok(1)) => {}
            _ => return,
        }
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => connection::serve(stream, peer, shared, stop).await,
        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_port_listeners_share_one_address_and_exclude_others() {
        let listeners = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let addresses: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        assert_eq!(addresses.len(), 3);
        assert!(addresses.iter().all(|a| *a == addresses[0]));
        // A second node on the same address and port is refused rather than sharing it.
        let err = bind(addresses[0], 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
