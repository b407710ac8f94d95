//! The accept loop: HTTP/1.1 with upgrades (WebSocket), each connection
//! served by hyper with a header read timeout. axum's own `serve` has none,
//! so a client that opens connections and never finishes a request's
//! headers, or keeps them idle between requests, would hold a file
//! descriptor each forever, and a few thousand of them use up the process's
//! limit. hyper starts the timer whenever it waits for a request head, so
//! the one setting bounds both the slow head and the idle keep-alive
//! connection. A request's body and its handling are bounded by the request
//! timeout layer; an upgraded WebSocket is the socket's own (it answers
//! pings and closes on its own rules).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How long to wait for the connections in flight once shutting down.
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, lets every connection finish its request in flight, and
/// returns (WebSockets are closed by their own shutdown signal).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (draining, drain) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            stream,
            remote,
            router.clone(),
            header_timeout,
            Some(drain.clone()),
        ));
    }
    // Connections the kernel has completed but this loop not yet taken
    // would be reset when the listener closes, though a client (a proxy)
    // may already have written its request into one. Each is taken and
    // answers the request it brings (once the process is stopping, every
    // answer closes its connection), without the drain signal that would
    // close it unread.
    match listener.into_std() {
        Ok(listener) => take_backlog(&listener, &router, header_timeout, &mut connections),
        Err(error) => tracing::warn!(%error, "could not take the listen backlog before closing"),
    }
    let _ = draining.send(true);
    let drained = tokio::time::timeout(DRAIN_WAIT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after {DRAIN_WAIT:?}: closing them");
    }
    Ok(())
}

/// Takes every connection the kernel has already completed on `listener`
/// (which closes when the caller drops it) and serves each without the
/// drain signal.
fn take_backlog(
    listener: &std::net::TcpListener,
    router: &Router,
    header_timeout: Duration,
    connections: &mut tokio::task::JoinSet<()>,
) {
    loop {
        let (stream, remote) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                if error.kind() != std::io::ErrorKind::WouldBlock {
                    tracing::debug!(%error, "accepting while stopping failed");
                }
                return;
            }
        };
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream));
        match stream {
            Ok(stream) => {
                connections.spawn(connection(
                    stream,
                    remote,
                    router.clone(),
                    header_timeout,
                    None,
                ));
            }
            Err(error) => {
                tracing::debug!(%error, %remote, "a connection taken while stopping failed")
            }
        }
    }
}

/// Serves one connection until it ends, or, once `drain` says so, until
/// the request in flight is answered (an idle connection closes at once).
async fn connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    router: Router,
    header_timeout: Duration,
    drain: Option<watch::Receiver<bool>>,
) {
    // Frames are small and latency matters more than packet count: no
    // Nagle delay behind an unacknowledged frame.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
    let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        request
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    let Some(mut drain) = drain else {
        log_end(connection.await, remote);
        return;
    };
    tokio::select! {
        result = connection.as_mut() => log_end(result, remote),
        () = async { let _ = drain.wait_for(|draining| *draining).await; } => {
            connection.as_mut().graceful_shutdown();
            log_end(connection.await, remote);
        }
    }
}

fn log_end(result: Result<(), hyper::Error>, remote: SocketAddr) {
    if let Err(error) = result {
        // Timeouts, resets and malformed requests: the client's doing.
        tracing::debug!(%error, %remote, "connection ended with an error");
    }
}
