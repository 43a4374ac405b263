//! `GET /metrics` over plain HTTP/1.1, on the `[metrics] listen` address.
//!
//! Hand-written on tokio's `TcpListener` rather than built on hyper: the workspace has no HTTP
//! stack, and one read-only route for a scraper on a local address does not justify hyper,
//! http, httparse and their kin in a daemon whose exposed surface is kept small. It reads one
//! request head (at most [`MAX_HEAD`] bytes within [`READ_TIMEOUT`]), answers it, and closes
//! the connection: no keep-alive, no request bodies, no chunking. Anything it does not
//! understand gets a 4xx; a slow or silent client is dropped at the time-out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{GaugeSource, Metrics};
use crate::config::{metrics_exposure, Exposure};
use crate::error::NodeError;

/// Longest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a client gets to send its whole request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client gets to take the whole answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes served at once; further connections are closed at once (a scraper retries).
const MAX_CONNECTIONS: usize = 8;

/// The content type of the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the `/metrics` TCP socket (non-blocking, for tokio), at [`crate::Node::bind`] so
/// that a port already taken fails the start.
pub(crate) fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, NodeError> {
    let fail = |e: std::io::Error| {
        NodeError::setup(format!(
            "cannot serve metrics on {addr}: {e}; is another program using that port? change `metrics.listen` in node.toml"
        ))
    };
    let l = std::net::TcpListener::bind(addr).map_err(fail)?;
    l.set_nonblocking(true).map_err(fail)?;
    Ok(l)
}

/// Starts serving on a socket from [`bind`] until `stop` (inside the runtime). None if tokio
/// cannot take the socket, which is logged: the node runs on without metrics.
pub(crate) fn start(
    listener: std::net::TcpListener,
    source: Source,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot serve /metrics");
            return None;
        }
    };
    let addr = source.0.address();
    if addr.map(|a| metrics_exposure(&a)) == Some(Exposure::Loopback) {
        tracing::info!(addr = ?addr, "serving /metrics");
    } else {
        tracing::warn!(
            addr = ?addr,
            "serving /metrics over plain HTTP beyond this machine; restrict who can reach the port"
        );
    }
    Some(tokio::spawn(serve(listener, source, stop)))
}

/// Serves until `stop` is cancelled; connections still open then are dropped.
pub(crate) async fn serve(listener: TcpListener, source: Source, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => break,
        };
        while conns.try_join_next().is_some() {}
        match accepted {
            Ok((stream, _)) if conns.len() < MAX_CONNECTIONS => {
                conns.spawn(answer(stream, source.clone()));
            }
            // Over the limit: dropping the stream closes it.
            Ok(_) => tracing::debug!("metrics: too many connections; one closed"),
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    conns.shutdown().await;
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `GET /metrics` (`head`: a HEAD request, headers only).
    Metrics { head: bool },
    /// A well-formed request for something else.
    NotFound,
    /// A method other than GET or HEAD.
    MethodNotAllowed,
    /// Not an HTTP/1.x request line.
    Bad,
}

/// Parses the request line of a head (the headers are not needed).
pub(crate) fn parse(head: &[u8]) -> Request {
    let Some(line) = head.split(|&b| b == b'\n').next() else {
        return Request::Bad;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Request::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Request::Bad;
    }
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET", "/metrics") => Request::Metrics { head: false },
        ("HEAD", "/metrics") => Request::Metrics { head: true },
        ("GET" | "HEAD", _) => Request::NotFound,
        _ if method.bytes().all(|b| b.is_ascii_uppercase()) && !method.is_empty() => {
            Request::MethodNotAllowed
        }
        _ => Request::Bad,
    }
}

/// Reads up to the blank line ending the head. None: the client closed, sent too much, or
/// took too long.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
                return Some(());
            }
            if buf.len() > MAX_HEAD {
                return Some(());
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    Some(buf)
}

async fn answer(mut stream: TcpStream, source: Source) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let request = if head.len() > MAX_HEAD {
        None
    } else {
        Some(parse(&head))
    };
    let head_only = matches!(request, Some(Request::Metrics { head: true }));
    let (status, body, extra) = match request {
        None => (
            "431 Request Header Fields Too Large",
            "request head too large\n".to_string(),
            "",
        ),
        Some(Request::Bad) => ("400 Bad Request", "bad request\n".into(), ""),
        Some(Request::NotFound) => ("404 Not Found", "only /metrics is served here\n".into(), ""),
        Some(Request::MethodNotAllowed) => (
            "405 Method Not Allowed",
            "only GET and HEAD\n".into(),
            "Allow: GET, HEAD\r\n",
        ),
        Some(Request::Metrics { .. }) => match render(&source).await {
            Ok(text) => ("200 OK", text, ""),
            Err(e) => {
                tracing::error!(error = %e, "metrics could not be read");
                (
                    "500 Internal Server Error",
                    "the metrics could not be read; see the node's log\n".into(),
                    "",
                )
            }
        },
    };
    let content_type = if status.starts_with("200") {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    let write = async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, write).await;
}

/// The metrics served, and where their gauges are read from.
pub(crate) type Source = (Arc<Metrics>, Arc<dyn GaugeSource>);

/// Refreshes the gauges (database reads: on a blocking thread) and encodes everything.
async fn render(source: &Source) -> Result<String, NodeError> {
    let (metrics, gauges) = source.clone();
    tokio::task::spawn_blocking(move || {
        metrics.set_gauges(&gauges.gauges()?);
        metrics.encode()
    })
    .await
    .map_err(|e| NodeError::internal(format!("metrics task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics { head: false }
        );
        assert_eq!(
            parse(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics { head: true }
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::MethodNotAllowed
        );
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
            b"",
            b"\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad),
                Request::Bad,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
