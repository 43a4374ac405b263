//! `cordon status`: the node, its collections, partners, audit log and (for those who answer
//! for the node's use) its operational figures.

use serde::{Deserialize, Serialize};

use super::{Named, Operations, Role};
use crate::collection::CollectionName;
use crate::ident::Kind;

/// Node status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    /// Node name.
    pub node: String,
    /// Who asked.
    pub user: String,
    /// Their role.
    pub role: Named<Role>,
    /// Collections held.
    pub collections: Vec<CollectionStatus>,
    /// Configured partners.
    pub partners: Vec<String>,
    /// Audit log: entries, the log's verifier key, and alerts about partners.
    #[serde(default)]
    pub audit: AuditStatus,
    /// Activity since the node started, budgets left, epoch ages (the figures `/metrics`
    /// serves); for roles that may see partner status (operators, supervisors), else None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Operations>,
}

/// The audit part of [`StatusReply`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStatus {
    /// Entries in the log.
    pub entries: u64,
    /// The log's verifier key (C2SP vkey), for auditors.
    pub log_key: String,
    /// Per partner: the size of its log this node last verified and cosigned (0: never).
    pub partners: Vec<(String, u64)>,
    /// One sentence per inconsistency found in a partner's log.
    pub alerts: Vec<String>,
    /// Partners whose recent checkpoints could not be checked.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One collection in [`StatusReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionStatus {
    /// Name.
    pub name: CollectionName,
    /// Kind.
    pub kind: Named<Kind>,
    /// Records held.
    pub records: u64,
    /// Current epoch, if built.
    pub epoch: Option<u64>,
    /// Records added since the build.
    pub delta: u64,
    /// When the current epoch was built (Unix seconds; 0 if unknown).
    #[serde(default)]
    pub epoch_built_at: Option<u64>,
    /// When its key is next rotated on schedule (`rotate_every`), if it is.
    #[serde(default)]
    pub next_rotation: Option<u64>,
}
