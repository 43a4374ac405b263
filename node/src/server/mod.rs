//! The QUIC server: accepts connections, identifies the peer from its certificate, and serves
//! partners (partner ALPN, [`partner`]) and the node's own users (control ALPN, `crate::cmd`),
//! one request per stream.
//!
//! A peer's malformed or hostile request only ever ends that stream with an error frame; the
//! node goes on serving everyone else.

pub(crate) mod partner;

use std::sync::Arc;

use quinn::Connection;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cordon_protocol::error::ErrorCode;

use crate::cmd::Control;
use crate::limits::{Limits, TooManyConnections};
use crate::metrics::Metrics;
use crate::tls::{PeerIdentity, PeerVerifier};

use partner::PartnerService;

/// QUIC application error code: the peer's certificate does not fit the ALPN it chose.
const CLOSE_WRONG_ROLE: u32 = 0x10;
/// QUIC application error code: the node is shutting down.
pub(crate) const CLOSE_SHUTDOWN: u32 = 0x11;
/// QUIC application error code: the partner already holds as many connections as
/// `limits.max_connections_per_partner` allows.
pub const CLOSE_TOO_MANY_CONNECTIONS: u32 = 0x12;

/// What serving connections uses.
pub(crate) struct Server {
    pub(crate) trust: Arc<PeerVerifier>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) partners: PartnerService,
    pub(crate) control: Arc<Control>,
}

impl Server {
    /// Accepts connections until `stop` is cancelled.
    pub(crate) async fn accept_loop(
        self: Arc<Self>,
        endpoint: quinn::Endpoint,
        stop: CancellationToken,
        tracker: TaskTracker,
    ) {
        loop {
            let incoming = tokio::select! {
                i = endpoint.accept() => i,
                _ = stop.cancelled() => break,
            };
            let Some(incoming) = incoming else { break };
            // Before anything is known of the peer, only so many handshakes run at once: one
            // more is refused (QUIC CONNECTION_REFUSED) without spending a task or a signature
            // on it.
            let Some(permit) = self.limits.handshake() else {
                self.metrics.handshake_failed("busy");
                tracing::debug!(remote = %incoming.remote_address(), "handshake refused: too many in progress (limits.max_handshakes)");
                incoming.refuse();
                continue;
            };
            let server = self.clone();
            let stop = stop.clone();
            let t2 = tracker.clone();
            tracker.spawn(async move {
                let handshake = incoming.await;
                drop(permit);
                match handshake {
                    Ok(conn) => server.serve_connection(conn, stop, t2).await,
                    // Refused handshakes (unknown CA, wrong name, expired) end here.
                    Err(e) => {
                        server
                            .metrics
                            .handshake_failed(&crate::metrics::handshake_reason(&e));
                        tracing::info!(error = %e, "handshake refused or failed")
                    }
                }
            });
        }
    }

    /// The peer of a connection, identified again from its certificate and checked to fit the
    /// ALPN it chose (a user on the partner protocol, or a partner on the control one, is
    /// refused); a partner over its connection limit is refused too.
    fn admit(&self, conn: &Connection) -> Option<(PeerIdentity, Option<Permit>)> {
        let identity = match self.trust.identify_connection(conn) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(remote = %conn.remote_address(), error = %e, "peer refused after handshake");
                self.metrics.handshake_failed("wrong_role");
                conn.close(
                    CLOSE_WRONG_ROLE.into(),
                    b"certificate does not fit this protocol",
                );
                return None;
            }
        };
        tracing::debug!(peer = ?identity, remote = %conn.remote_address(), "connection");
        // A partner may hold only so many connections at once: one more is closed at once
        // with a reason, and its other connections (and every other partner) go on being
        // served.
        let PeerIdentity::Partner { name, .. } = &identity else {
            return Some((identity, None));
        };
        match self.limits.connection(name)? {
            Ok(p) => Some((identity, Some(p))),
            Err(TooManyConnections(most)) => {
                tracing::warn!(partner = %name, most, "connection refused: too many from this partner");
                self.metrics
                    .refused_partner(name, ErrorCode::LimitExceeded, false);
                let reason = format!(
                    "too many connections from {name}: at most {most} at once (limits.max_connections_per_partner); reuse an open one"
                );
                conn.close(CLOSE_TOO_MANY_CONNECTIONS.into(), reason.as_bytes());
                None
            }
        }
    }

    async fn serve_connection(
        self: Arc<Self>,
        conn: Connection,
        stop: CancellationToken,
        tracker: TaskTracker,
    ) {
        let Some((identity, _connection_permit)) = self.admit(&conn) else {
            return;
        };
        let identity = Arc::new(identity);
        loop {
            let stream = tokio::select! {
                s = conn.accept_bi() => s,
                _ = stop.cancelled() => break,
            };
            let (send, recv) = match stream {
                Ok(s) => s,
                Err(_) => return, // the peer closed the connection
            };
            // A certificate revoked after this connection's handshake ends the connection
            // here.
            if self.trust.revocations().is_revoked(identity.fingerprint()) {
                tracing::warn!(
                    peer = identity.name(),
                    "closed the connection of a revoked certificate"
                );
                conn.close(CLOSE_WRONG_ROLE.into(), b"certificate revoked");
                return;
            }
            let server = self.clone();
            let identity = identity.clone();
            tracker.spawn(async move {
                let r = match identity.as_ref() {
                    PeerIdentity::Partner { name, fingerprint } => {
                        // At most `limits.max_requests_per_partner` requests of one partner
                        // are served at once; its further streams wait here, and other
                        // partners are not slowed down.
                        let Some(_permit) = server.limits.request(name).await else {
                            return;
                        };
                        server.partners.serve(name, fingerprint, send, recv).await
                    }
                    PeerIdentity::User { .. } => {
                        crate::cmd::serve(&server.control, &identity, send, recv).await
                    }
                };
                if let Err(e) = r {
                    tracing::debug!(error = %e, "stream ended with an error");
                }
            });
        }
        // Let streams already accepted finish (they are tracked); close once they are done is
        // handled by the endpoint close at shutdown.
    }
}

/// A connection slot of a partner, held while the connection is served.
type Permit = tokio::sync::OwnedSemaphorePermit;
