//! The operational figures `cordon status` shows operators and supervisors: the node's
//! metrics (the same the Prometheus endpoint serves), as counts since the node started.

use serde::{Deserialize, Serialize};

use crate::collection::CollectionName;

/// What `cordon status` shows operators: the metrics, as figures since the node started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operations {
    /// When the node started (Unix seconds); the counters count from then.
    pub started_at: u64,
    /// Where `/metrics` is served, if it is.
    pub metrics_address: Option<String>,
    /// Evaluation requests from partners, per partner and outcome.
    pub queries_in: Vec<PartnerCount>,
    /// Queries to partners, per partner and outcome.
    pub queries_out: Vec<PartnerCount>,
    /// Refusals, per direction, partner and reason.
    pub refusals: Vec<RefusalCount>,
    /// Budgets left today, per partner and shared collection.
    pub budgets: Vec<BudgetLeft>,
    /// Age of each held collection's epoch.
    pub epoch_ages: Vec<EpochAge>,
    /// Failed handshakes, per reason.
    pub handshake_failures: Vec<ReasonCount>,
}

/// A count per partner and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerCount {
    /// Partner.
    pub partner: String,
    /// `answered`, `refused`, `timeout`, …
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// A count of refusals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalCount {
    /// `in`: this node refused the partner; `out`: the partner refused this node.
    pub direction: String,
    /// Partner.
    pub partner: String,
    /// The protocol error code.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// A count per reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// Reason.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// A partner's budget in one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLeft {
    /// Partner.
    pub partner: String,
    /// Collection.
    pub collection: CollectionName,
    /// Items it may still have evaluated today.
    pub left: u64,
    /// Its daily budget.
    pub daily_items: u64,
}

/// The age of a collection's epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAge {
    /// Collection.
    pub collection: CollectionName,
    /// Seconds since the epoch was built.
    pub seconds: u64,
}
