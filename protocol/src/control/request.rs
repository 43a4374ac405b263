//! What a CLI asks its node, and the action each request needs (the role check every request
//! passes first).

use serde::{Deserialize, Serialize};

use super::{Action, FollowupCommand, ImportHeader, QueryRequest};

/// What a CLI asks its node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlRequest {
    /// Node name, collections, partners.
    Status,
    /// Start an import; rows follow as [`super::ImportFrame`]s.
    Import(ImportHeader),
    /// Ask partners.
    Query(QueryRequest),
    /// Auditors: export the log (answered by [`super::ControlResponse::AuditChunk`] frames,
    /// then [`super::ControlResponse::AuditEnd`]).
    AuditExport {
        /// Entries at or after this time (Unix seconds).
        since: Option<u64>,
        /// Entries before this time (Unix seconds).
        until: Option<u64>,
    },
    /// Auditors: a C2SP tlog-proof of one entry against the latest checkpoint.
    AuditProve {
        /// Entry index.
        index: u64,
    },
    /// Auditors: a consistency proof between two sizes of the log.
    AuditConsistency {
        /// Older size.
        old: u64,
        /// Newer size; the latest when absent.
        new: Option<u64>,
    },
    /// Operators: rotate a collection's key now (a new epoch over the same records).
    Rotate {
        /// The collection.
        collection: String,
    },
    /// Operators: delete records; the values follow as [`super::ImportFrame`]s, read as an
    /// import reads them (the header's `kind` must be the collection's).
    Delete(ImportHeader),
    /// Operators: re-read `node.toml` and apply its `[[grant]]` sections.
    PolicyReload,
    /// Operators and supervisors: every partner's grants and today's use.
    PartnerStatus,
    /// Operators: revoke every certificate of a user, at once.
    UserRevoke {
        /// The user's name (the CN of their certificate).
        name: String,
        /// Why (logged).
        reason: String,
    },
    /// Follow-up requests: file one, review partners' ones, see answers.
    Followup(FollowupCommand),
}

impl ControlRequest {
    /// What the request does, for the role check every request passes first.
    pub fn action(&self) -> Action {
        match self {
            ControlRequest::Status => Action::Status,
            ControlRequest::Import(_) => Action::Import,
            ControlRequest::Query(_) => Action::Query,
            ControlRequest::AuditExport { .. }
            | ControlRequest::AuditProve { .. }
            | ControlRequest::AuditConsistency { .. } => Action::ReadAudit,
            ControlRequest::Rotate { .. } | ControlRequest::Delete(_) => Action::ManageData,
            ControlRequest::PolicyReload => Action::ChangePolicy,
            ControlRequest::PartnerStatus => Action::PartnerStatus,
            ControlRequest::UserRevoke { .. } => Action::ManageUsers,
            ControlRequest::Followup(cmd) => cmd.action(),
        }
    }
}
