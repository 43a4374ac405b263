//! Operators' answers: key rotations, deletions, policy reloads and partners' grants.

use serde::{Deserialize, Serialize};

use crate::collection::CollectionName;

/// Result of a key rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotateReply {
    /// Collection.
    pub collection: CollectionName,
    /// The epoch replaced.
    pub old_epoch: u64,
    /// The new epoch.
    pub new_epoch: u64,
    /// Records in the new epoch.
    pub records: u64,
    /// Seconds spent building it.
    pub seconds: f64,
}

/// Result of a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteReply {
    /// Rows read.
    pub rows: u64,
    /// Records found and deleted.
    pub deleted: u64,
    /// Lines of the valid values that were not held (at most 1,000 listed; never the values).
    pub not_found: Vec<u64>,
    /// How many valid values were not held.
    pub not_found_count: u64,
    /// Rows rejected: `(line, reason)`; at most 100 listed.
    pub rejected: Vec<(u64, String)>,
    /// Total rejected rows.
    pub rejected_count: u64,
    /// The epoch in force after the deletion (a new one if anything was deleted).
    pub epoch: u64,
    /// Records left in the collection.
    pub records: u64,
}

/// Result of a policy reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReloadReply {
    /// Whether the grants changed (and were applied and logged).
    pub changed: bool,
    /// The grants now in force, one line each.
    pub grants: Vec<String>,
    /// Sections of `node.toml` that changed too but apply only after a restart.
    pub restart_needed: Vec<String>,
    /// How many certificates `[[revoked]]` now refuses (absent from older nodes: 0).
    #[serde(default)]
    pub revoked: u64,
}

/// Partners' grants and budgets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerStatusReply {
    /// Start of the budget day (Unix seconds, 00:00 UTC).
    pub day_started: u64,
    /// Seconds until the budgets open again.
    pub resets_in: u64,
    /// One per configured partner.
    pub partners: Vec<PartnerPolicy>,
}

/// One partner in [`PartnerStatusReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerPolicy {
    /// Partner name.
    pub partner: String,
    /// Every collection held or named by a grant.
    pub collections: Vec<CollectionGrant>,
}

/// What one partner may do with one collection, and has done today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionGrant {
    /// Collection.
    pub collection: CollectionName,
    /// Whether this node holds it.
    pub held: bool,
    /// Whether a grant shares it with the partner.
    pub shared: bool,
    /// Modes granted.
    pub modes: Vec<String>,
    /// Items a day.
    pub daily_items: u64,
    /// Items evaluated (or in flight) today.
    pub used_today: u64,
    /// Most items per request.
    pub max_per_query: u64,
    /// Whether follow-up requests are accepted.
    pub followup: bool,
}
