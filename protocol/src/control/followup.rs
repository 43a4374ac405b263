//! Follow-up requests on the control channel: an investigator files one, a supervisor
//! reviews partners' ones, and both see where they stand. (The partners' own messages are in
//! [`crate::followup`].)

use serde::{Deserialize, Serialize};

use super::Action;

/// A follow-up command from a CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FollowupCommand {
    /// Investigator: file a request with a partner.
    Request {
        /// The holder.
        partner: String,
        /// Hit references, all of one collection and epoch.
        references: Vec<String>,
        /// Case reference (mandatory).
        case_ref: String,
        /// Stated purpose (mandatory).
        purpose: String,
    },
    /// Supervisor: partners' requests on this agency's records, pending first.
    List,
    /// Supervisor: one request, with the records it hit and all their fields.
    Show {
        /// Identifier (or a unique prefix of it).
        id: String,
    },
    /// Supervisor: release fields of the hit records.
    Approve {
        /// Identifier (or a unique prefix of it).
        id: String,
        /// Fields to release; every releasable field when absent.
        fields: Option<Vec<String>>,
    },
    /// Supervisor: refuse the request.
    Deny {
        /// Identifier (or a unique prefix of it).
        id: String,
        /// Why (mandatory; the requesting agency sees it).
        reason: String,
    },
    /// Investigator or supervisor: requests this node sent, with the partners' answers
    /// (fetched from the partners for those still open).
    Status {
        /// One request (identifier or unique prefix); all when absent.
        id: Option<String>,
    },
}

/// A node's answer to a [`FollowupCommand`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FollowupReply {
    /// The request was accepted by the partner.
    Requested(SentView),
    /// Partners' requests, pending first.
    List(Vec<HeldSummary>),
    /// One partner's request in full (also the answer to approve and deny).
    Show(HeldView),
    /// Requests this node sent.
    Status(Vec<SentView>),
}

/// A partner's request as listed at the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSummary {
    /// Identifier (hex).
    pub id: String,
    /// The requesting partner.
    pub partner: String,
    /// Collection.
    pub collection: String,
    /// Epoch the references were found in.
    pub epoch: u64,
    /// References cited.
    pub references: u64,
    /// Records they resolved to.
    pub records: u64,
    /// The partner's case reference.
    pub case_ref: String,
    /// The stated purpose.
    pub purpose: String,
    /// The partner's investigator.
    pub requested_by: String,
    /// When it arrived (Unix seconds).
    pub received_at: u64,
    /// `pending`, `approved` or `denied`.
    pub state: String,
}

/// A partner's request in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldView {
    /// The summary.
    pub summary: HeldSummary,
    /// Per cited reference, the records it resolved to.
    pub references: Vec<HeldReference>,
    /// The decision, once made.
    pub decision: Option<DecisionView>,
}

/// One cited reference at the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldReference {
    /// The reference as the partner cited it.
    pub reference: String,
    /// The records.
    pub records: Vec<HeldRecord>,
}

/// One of the holder's records hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRecord {
    /// Its canonical value.
    pub value: String,
    /// Its fields; `releasable` marks those that may be released.
    pub fields: Vec<FieldView>,
    /// Whether the record has been deleted since the request arrived.
    #[serde(default)]
    pub deleted: bool,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldView {
    /// Field name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Whether it was marked releasable at import.
    pub releasable: bool,
}

/// A supervisor's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    /// `approved` or `denied`.
    pub decision: String,
    /// The supervisor.
    pub by: String,
    /// When (Unix seconds).
    pub at: u64,
    /// Fields released (approved).
    pub fields: Vec<String>,
    /// The reason (denied).
    pub reason: Option<String>,
}

/// One record's released `(field, value)` pairs.
pub type Fields = Vec<(String, String)>;

/// A request this node sent, and what the partner answered so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentView {
    /// Identifier (hex), as both nodes know it.
    pub id: String,
    /// The holder.
    pub partner: String,
    /// Collection at the holder.
    pub collection: String,
    /// Epoch of the references.
    pub epoch: u64,
    /// References cited.
    pub references: Vec<String>,
    /// Case reference.
    pub case_ref: String,
    /// Purpose.
    pub purpose: String,
    /// The investigator who filed it.
    pub requested_by: String,
    /// When it was sent (Unix seconds).
    pub sent_at: u64,
    /// Records the holder resolved the references to.
    pub records: u64,
    /// `pending`, `approved`, `denied`, or `unknown` (the holder no longer knows it).
    pub state: String,
    /// Approved: per reference, the released records' fields.
    pub released: Vec<(String, Vec<Fields>)>,
    /// Denied: the holder's reason.
    pub reason: Option<String>,
    /// When the answer arrived here (Unix seconds).
    pub answered_at: Option<u64>,
}

impl FollowupCommand {
    /// The action the command needs.
    pub fn action(&self) -> Action {
        match self {
            FollowupCommand::Request { .. } => Action::Query,
            FollowupCommand::Status { .. } => Action::FollowupStatus,
            FollowupCommand::List
            | FollowupCommand::Show { .. }
            | FollowupCommand::Approve { .. }
            | FollowupCommand::Deny { .. } => Action::FollowupReview,
        }
    }
}
