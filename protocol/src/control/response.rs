//! What the node answers a CLI: one frame per request, except an audit export (chunks, then
//! its end).

use serde::{Deserialize, Serialize};

use super::{
    ControlError, DeleteReply, FollowupReply, ImportReply, PartnerStatusReply, PolicyReloadReply,
    QueryReply, RotateReply, StatusReply,
};

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlResponse {
    /// Answer to [`super::ControlRequest::Status`].
    Status(StatusReply),
    /// Answer to an import.
    Imported(ImportReply),
    /// Answer to a query.
    Query(QueryReply),
    /// Refused or failed.
    Error(ControlError),
    /// A piece of an exported bundle.
    AuditChunk {
        /// The bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The export is complete.
    AuditEnd,
    /// Answer to [`super::ControlRequest::Followup`].
    Followup(FollowupReply),
    /// Answer to [`super::ControlRequest::AuditProve`].
    AuditProof {
        /// The tlog-proof file text.
        proof: String,
        /// The entry's bytes (one JSON line).
        #[serde(with = "serde_bytes")]
        entry: Vec<u8>,
    },
    /// Answer to [`super::ControlRequest::AuditConsistency`].
    AuditConsistency {
        /// The signed checkpoint of the newer size.
        checkpoint: String,
        /// The proof, base64 hashes.
        proof: Vec<String>,
    },
    /// Answer to [`super::ControlRequest::Rotate`].
    Rotated(RotateReply),
    /// Answer to [`super::ControlRequest::Delete`], sent after the deletion (and its rotation)
    /// committed.
    Deleted(DeleteReply),
    /// Answer to [`super::ControlRequest::PolicyReload`].
    PolicyReloaded(PolicyReloadReply),
    /// Answer to [`super::ControlRequest::PartnerStatus`].
    PartnerStatus(PartnerStatusReply),
    /// Answer to [`super::ControlRequest::UserRevoke`]: the user's next request is refused.
    UserRevoked {
        /// The user revoked.
        name: String,
    },
}

impl From<ControlError> for ControlResponse {
    fn from(e: ControlError) -> Self {
        ControlResponse::Error(e)
    }
}
