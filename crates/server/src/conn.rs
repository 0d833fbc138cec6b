//! Connections: the accept loop behind [`crate::serve`], with the limits a server facing the internet needs.
//!
//! - Each connection must send a request's headers within [`ServerConfig::header_timeout`]; the same timeout
//!   closes a connection left idle between requests, so idle and half-sent-header connections cannot pile up.
//! - A request body that pauses longer than [`ServerConfig::body_timeout`] fails the request.
//! - At most [`ServerConfig::max_connections`] are open (and never more than the open-file limit allows, with
//!   room kept for the store's files); one more is closed at once and counted
//!   (`bellwether_refused_connections_total`).
//! - Accept errors (out of file descriptors) back off briefly instead of spinning, and the server goes on.
//! - On shutdown the listener closes, idle connections close, and requests in flight finish.

use crate::metrics::Metrics;
use crate::ServerConfig;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// File descriptors kept free for the store, logs and the inbox (beyond the connections).
const RESERVED_FILES: u64 = 256;

/// Raises the process's soft limit of open files to its hard limit (Linux defaults to 1,024, which a server
/// with many clients reaches), and returns the soft limit in force.
pub fn raise_open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the struct passed by pointer, which lives on this stack.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return 1_024;
            }
            if lim.rlim_cur < lim.rlim_max {
                let wanted = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                    tracing::debug!(
                        from = lim.rlim_cur,
                        to = lim.rlim_max,
                        "raised the open-file limit"
                    );
                    return lim.rlim_max;
                }
                tracing::warn!(
                    limit = lim.rlim_cur,
                    "could not raise the open-file limit; the server takes fewer connections"
                );
            }
            lim.rlim_cur
        }
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// The connections the server keeps open at most: the configured limit, within the open-file limit (raised
/// here, once, when serving starts).
pub fn connection_limit(config: &ServerConfig) -> usize {
    let files = raise_open_file_limit();
    let room = files.saturating_sub(RESERVED_FILES).max(16);
    (config.max_connections as u64).min(room).max(1) as usize
}

/// Accepts and serves connections on `listener` until `shutdown` resolves, then closes idle connections and
/// waits for the requests in flight.
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let service = tower::ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(config.body_timeout))
        .service(app);
    let limit = Arc::new(tokio::sync::Semaphore::new(connection_limit(config)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or the peer left before the accept: wait a little, go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            metrics.refused_connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service.clone()),
        );
        let conn = graceful.watch(conn);
        let metrics = metrics.clone();
        metrics.open_connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            metrics.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("stopping: finishing requests in flight");
    graceful.shutdown().await;
}
