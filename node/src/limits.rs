//! How much of this node anyone may take at once: handshakes before the peer is known, and per
//! partner its open connections and the requests served at once (`[limits]`), so that one
//! partner, or a flood of anonymous handshakes, can never starve the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitSection;

/// The node's resource limits, as permits.
pub struct Limits {
    /// Per partner, how many of its requests may be served at once.
    requests: HashMap<String, Arc<Semaphore>>,
    /// Per partner, how many connections it may hold open at once.
    connections: HashMap<String, Arc<Semaphore>>,
    /// Handshakes in progress at once, from anyone (`limits.max_handshakes`).
    handshakes: Arc<Semaphore>,
    most_connections: usize,
    request_read_timeout: Duration,
    max_request_bytes: usize,
    shutdown_grace: Duration,
}

/// Why a partner's connection was refused: it holds this many already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyConnections(pub usize);

impl Limits {
    /// The limits of `[limits]`, for the configured `partners`.
    pub fn new(l: &LimitSection, partners: &[String]) -> Limits {
        let per_partner = |n: usize| -> HashMap<String, Arc<Semaphore>> {
            partners
                .iter()
                .map(|p| (p.clone(), Arc::new(Semaphore::new(n))))
                .collect()
        };
        Limits {
            requests: per_partner(l.max_requests_per_partner),
            connections: per_partner(l.max_connections_per_partner),
            handshakes: Arc::new(Semaphore::new(l.max_handshakes)),
            most_connections: l.max_connections_per_partner,
            request_read_timeout: l.request_read_timeout,
            max_request_bytes: l.max_request_bytes,
            shutdown_grace: l.shutdown_grace,
        }
    }

    /// A handshake slot, or None if `limits.max_handshakes` are in progress.
    pub fn handshake(&self) -> Option<OwnedSemaphorePermit> {
        self.handshakes.clone().try_acquire_owned().ok()
    }

    /// A connection slot of `partner`; None for a partner this node does not know.
    pub fn connection(
        &self,
        partner: &str,
    ) -> Option<Result<OwnedSemaphorePermit, TooManyConnections>> {
        let slots = self.connections.get(partner)?;
        Some(
            slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| TooManyConnections(self.most_connections)),
        )
    }

    /// A request slot of `partner`, once one is free; None for a partner this node does not
    /// know.
    pub async fn request(&self, partner: &str) -> Option<OwnedSemaphorePermit> {
        let permits = self.requests.get(partner)?.clone();
        permits.acquire_owned().await.ok()
    }

    /// How long a request may take to arrive whole.
    pub fn request_read_timeout(&self) -> Duration {
        self.request_read_timeout
    }

    /// The largest request this node reads.
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// How long in-flight requests may run on at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
}
