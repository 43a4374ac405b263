//! A running node: its components (each owning its part of the state), the QUIC endpoint that
//! serves partners and users, the maintenance pass, and the `/metrics` endpoint.
//!
//! [`Node::builder`] binds one ([`NodeBuilder`]); [`Node::run`] serves until a shutdown future
//! completes; [`NodeHandle`] is what the embedding program (and tests) may reach of a running
//! node.

mod builder;
mod handle;
mod setup;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cordon_protocol::audit::entry::EntryKind;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::NodeError;
use crate::governance::Governance;
use crate::holder::maintenance::{MaintenanceReport, MAINTENANCE_INTERVAL};
use crate::holder::Holder;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::querier::Querier;
use crate::server::{Server, CLOSE_SHUTDOWN};

pub use builder::NodeBuilder;
pub use handle::NodeHandle;

/// The components of a node.
struct Components {
    holder: Arc<Holder>,
    querier: Arc<Querier>,
    governance: Arc<Governance>,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    /// Test builds only: how this node corrupts what it serves (see `misbehave`).
    #[cfg(feature = "test-util")]
    misbehaviour: Arc<crate::misbehave::MisbehaviourCell>,
}

/// A bound, not yet running node.
pub struct Node {
    name: String,
    components: Components,
    server: Arc<Server>,
    endpoint: quinn::Endpoint,
    /// The `/metrics` socket, bound with the node so that a taken port fails the start.
    metrics_listener: Option<std::net::TcpListener>,
}

impl Node {
    /// How to bind a node with `config`: `Node::builder(config).clock(..).socket(..).bind()`.
    pub fn builder(config: Config) -> NodeBuilder {
        NodeBuilder::new(config)
    }

    /// Opens the database, loads keys and certificates, and binds the UDP port. Must be called
    /// inside a tokio runtime.
    pub fn bind(config: Config) -> Result<Node, NodeError> {
        Node::builder(config).bind()
    }

    /// As [`Node::bind`], with a clock of the caller's choosing.
    pub fn bind_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
        Node::builder(config).clock(clock).bind()
    }

    /// As [`Node::bind`], with a clock and, optionally, a UDP socket the caller already bound.
    pub fn bind_with(
        config: Config,
        clock: Arc<dyn Clock>,
        socket: Option<std::net::UdpSocket>,
    ) -> Result<Node, NodeError> {
        let b = Node::builder(config).clock(clock);
        match socket {
            Some(s) => b.socket(s),
            None => b,
        }
        .bind()
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        self.endpoint
            .local_addr()
            .map_err(|e| NodeError::connection(e.to_string()))
    }

    /// What may be reached of the node while it runs (see [`NodeHandle`]).
    pub fn handle(&self) -> NodeHandle {
        NodeHandle::new(&self.components)
    }

    /// Where `/metrics` is served (`[metrics] listen`), if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.components.metrics.address()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (up to `limits.shutdown_grace`), closes connections and the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let addr = self.local_addr()?;
        tracing::info!(node = %self.name, %addr, "node started");
        let c = &self.components;
        let accept = tokio::spawn(self.server.clone().accept_loop(
            self.endpoint.clone(),
            stop.clone(),
            tracker.clone(),
        ));
        let maintenance = tokio::spawn(maintenance_loop(
            c.holder.clone(),
            c.audit.clone(),
            stop.clone(),
        ));
        let source = (c.metrics.clone(), Arc::new(builder::figures(c)) as Arc<_>);
        let metrics = self
            .metrics_listener
            .and_then(|l| crate::metrics::http::start(l, source, stop.clone()));
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.endpoint.set_server_config(None);
        stop.cancel();
        let _ = accept.await;
        let _ = maintenance.await;
        if let Some(m) = metrics {
            let _ = m.await;
        }
        tracker.close();
        let grace = c.limits.shutdown_grace();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish in time; closing them"
            );
        }
        c.querier.close_all().await;
        self.endpoint
            .close(CLOSE_SHUTDOWN.into(), b"node shutting down");
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.endpoint.wait_idle())
            .await;
        if let Err(e) = c
            .audit
            .log_node(c.clock.now_unix(), EntryKind::NodeStopped, None)
        {
            tracing::error!(error = %e, "could not log the node's stop");
        }
        tracing::info!("node stopped");
        // The databases close when the last reference to the components drops here.
        Ok(())
    }
}

/// Runs [`Holder::maintain`] at once and then every [`MAINTENANCE_INTERVAL`] until `stop`; a
/// failed pass is logged and tried again at the next tick.
async fn maintenance_loop(holder: Arc<Holder>, audit: Arc<AuditLog>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let (h, a) = (holder.clone(), audit.clone());
        match tokio::task::spawn_blocking(move || h.maintain(&a)).await {
            Ok(Ok(r)) if r != MaintenanceReport::default() => {
                tracing::info!(report = ?r, "maintenance done")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "maintenance failed"),
            Err(e) => tracing::error!(error = %e, "maintenance task failed"),
        }
    }
}

/// Binds and runs a node until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    Node::bind(config)?.run(shutdown).await
}
