//! The HTTP/1.1 connection loop of `jwkd`: every connection bounded.
//!
//! `axum::serve` gives hyper no timer, so a connection may take forever to send its request
//! head and an idle keep-alive connection stays open forever, and it accepts without limit.
//! Here hyper's header-read timeout runs (it also closes a keep-alive connection that sends
//! no new request in time), at most `max_connections` are open at once (further ones wait in
//! the kernel's backlog until one closes); a failed accept (too many open files) is retried
//! after a pause by the listener (`axum::serve::Listener`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Most bytes a connection buffers while reading a request head (hyper answers a bodyless
/// 431 and closes the connection beyond it).
const HEAD_BUFFER: usize = 64 * 1024;
/// Most header fields hyper parses (a bodyless 431 beyond).
const HEAD_FIELDS: usize = 256;

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a connection has to send a whole request head, counted from when it starts
    /// waiting for one (so also the idle time allowed between keep-alive requests).
    pub header_timeout: Duration,
    /// Time in-flight requests get to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

/// Defaults: 1024 connections, 10 s for a request head (and between requests), 60 s grace.
pub const DEFAULT_LIMITS: ConnectionLimits = ConnectionLimits {
    max_connections: 1024,
    header_timeout: Duration::from_secs(10),
    shutdown_grace: Duration::from_secs(60),
};

/// Serves `service` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests (at most `limits.shutdown_grace`).
pub async fn serve<L, S>(
    mut listener: L,
    service: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener,
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Heads are bounded (and answered in the product's shape) by the router at
        // `MAX_URI`/`MAX_HEADER_BYTES`/`MAX_HEADER_FIELDS`; these larger bounds only stop a
        // connection from buffering more than that (hyper's defaults: ~400 KiB, 100 fields).
        .max_buf_size(HEAD_BUFFER)
        .max_headers(HEAD_FIELDS)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(
            service
                .clone()
                .map_request(|req: Request<Incoming>| req.map(axum::body::Body::new)),
        );
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopping.wait_for(|stop| *stop) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection task holds a slot until it ends: all slots back means all closed.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing");
    }
}
