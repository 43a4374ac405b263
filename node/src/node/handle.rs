//! What may be reached of a running node from the program that runs it: its name and
//! `/metrics` address, a policy reload (SIGHUP), a maintenance pass, and, for tests, a look at
//! its epochs and caches and (feature `test-util`) a way to make it lie.

use std::net::SocketAddr;
use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::RemoteError;

use super::Components;
use crate::audit::AuditLog;
use crate::control::PolicyReloadReply;
use crate::epoch::HolderEpoch;
use crate::error::NodeError;
use crate::governance::Governance;
use crate::holder::maintenance::MaintenanceReport;
use crate::holder::Holder;
use crate::metrics::Metrics;
use crate::store::{CachedPartnerEpoch, Store};

/// A running node's handle (cheap to clone).
#[derive(Clone)]
pub struct NodeHandle {
    holder: Arc<Holder>,
    governance: Arc<Governance>,
    audit: Arc<AuditLog>,
    metrics: Arc<Metrics>,
    #[cfg(feature = "test-util")]
    misbehaviour: Arc<crate::misbehave::MisbehaviourCell>,
}

impl NodeHandle {
    pub(super) fn new(c: &Components) -> NodeHandle {
        NodeHandle {
            holder: c.holder.clone(),
            governance: c.governance.clone(),
            audit: c.audit.clone(),
            metrics: c.metrics.clone(),
            #[cfg(feature = "test-util")]
            misbehaviour: c.misbehaviour.clone(),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.holder.node()
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.address()
    }

    /// Re-reads `node.toml` and applies its grants and revocations, as `cordon policy reload`
    /// does; `actor` is who asked (the node itself, for SIGHUP). Blocking.
    pub fn reload_policy(&self, actor: &Actor) -> Result<PolicyReloadReply, NodeError> {
        self.governance.reload_policy(&self.audit, actor)
    }

    /// One maintenance pass (expiry and scheduled rotations), as the node runs it every
    /// minute. Blocking.
    pub fn maintain(&self) -> Result<MaintenanceReport, NodeError> {
        self.holder.maintain(&self.audit)
    }

    /// The current epoch of a held collection.
    pub fn holder_epoch(&self, collection: &str) -> Option<Arc<HolderEpoch>> {
        self.holder.epoch(collection)
    }

    /// The current epoch if it is `epoch`, else the refusal a partner would get.
    pub fn epoch_at(&self, collection: &str, epoch: u64) -> Result<Arc<HolderEpoch>, RemoteError> {
        self.holder.epoch_at(collection, epoch)
    }

    /// How many records a collection holds.
    pub fn record_count(&self, collection: &str) -> Result<u64, NodeError> {
        self.holder.store().record_count(collection)
    }

    /// The cached, verified epoch of a partner's collection, as stored.
    pub fn partner_cache(
        &self,
        partner: &str,
        collection: &str,
    ) -> Result<Option<CachedPartnerEpoch>, NodeError> {
        self.holder.store().partner_cache(partner, collection)
    }

    /// The node's database (tests reach it through `local::NodeView`).
    pub(crate) fn store(&self) -> &Store {
        self.holder.store()
    }

    /// The node's metrics (tests reach them through `local::NodeView`).
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Makes this node misbehave as a holder from now on (`Misbehaviour::None` to stop).
    #[cfg(feature = "test-util")]
    pub fn set_misbehaviour(&self, m: crate::misbehave::Misbehaviour) {
        self.misbehaviour.set(m)
    }
}
