//! Follow-up requests: the accountable second step after a hit, as in Prüm.
//!
//! 1. An investigator cites hit references (`<collection>:<epoch>:<tag hex>`) found in a
//!    partner's filter: `cordon followup request`. Their node logs `followup_requested`, keeps
//!    its own record of the request ([`querier`]) and sends it to the partner.
//! 2. The holder checks its policy, resolves every reference to its own records by recomputing
//!    the tags of the collection with the epoch's key, refuses the whole request if any reference
//!    resolves to nothing, and otherwise queues it and logs `followup_requested` ([`holder`]).
//! 3. The holder's supervisor lists, shows, approves (only fields marked releasable at import)
//!    or denies; each decision is logged as `followup_answered`.
//! 4. `cordon followup status` at the querier fetches the decisions on its open requests and
//!    stores them; the first arrival of an answer is logged as `followup_answered`.
//!
//! The control-channel messages are here; storage in [`store`].

pub mod holder;
pub mod querier;
pub mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::ErrorCode;

use crate::control::{ControlError, ControlResponse};
use crate::error::NodeError;
use crate::pki::{Action, Role};
use crate::Shared;

/// A follow-up command from a CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

fn error(code: ErrorCode, message: impl Into<String>) -> ControlResponse {
    ControlResponse::Error(ControlError {
        code,
        message: message.into(),
        details: Vec::new(),
    })
}

fn node_error(e: NodeError) -> ControlResponse {
    match e {
        NodeError::Remote(r) => error(r.code, r.message),
        NodeError::Control { code, message, .. } => error(code, message),
        NodeError::Misuse(m) => error(ErrorCode::BadRequest, m),
        other => error(ErrorCode::Internal, other.to_string()),
    }
}

/// The action a command needs.
pub fn action_of(cmd: &FollowupCommand) -> Action {
    match cmd {
        FollowupCommand::Request { .. } => Action::Query,
        FollowupCommand::Status { .. } => Action::FollowupStatus,
        FollowupCommand::List
        | FollowupCommand::Show { .. }
        | FollowupCommand::Approve { .. }
        | FollowupCommand::Deny { .. } => Action::FollowupReview,
    }
}

/// Serves one follow-up command of a person on the control channel.
pub async fn handle(
    shared: &Arc<Shared>,
    actor: &Actor,
    role: Role,
    cmd: FollowupCommand,
) -> ControlResponse {
    let action = action_of(&cmd);
    if !role.may(action) {
        return error(ErrorCode::NotAuthorized, role.refusal(&actor.name, action));
    }
    let r = match cmd {
        FollowupCommand::Request {
            partner,
            references,
            case_ref,
            purpose,
        } => querier::request(shared, actor, &partner, &references, &case_ref, &purpose)
            .await
            .map(FollowupReply::Requested),
        FollowupCommand::Status { id } => querier::status(shared, actor, id.as_deref())
            .await
            .map(FollowupReply::Status),
        review => {
            let (s, a) = (shared.clone(), actor.clone());
            tokio::task::spawn_blocking(move || holder::review(&s, &a, review))
                .await
                .unwrap_or_else(|e| Err(NodeError::Internal(format!("review failed: {e}"))))
        }
    };
    match r {
        Ok(reply) => ControlResponse::Followup(reply),
        Err(e) => node_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_protocol::frame::{decode_frame, encode};

    fn rt<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let back: T = decode_frame(&encode(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn followup_control_messages_round_trip() {
        for c in [
            FollowupCommand::Request {
                partner: "jp".into(),
                references: vec!["phones:1:ab".into()],
                case_ref: "C".into(),
                purpose: "p".into(),
            },
            FollowupCommand::List,
            FollowupCommand::Show { id: "ab".into() },
            FollowupCommand::Approve {
                id: "ab".into(),
                fields: Some(vec!["case_no".into()]),
            },
            FollowupCommand::Approve {
                id: "ab".into(),
                fields: None,
            },
            FollowupCommand::Deny {
                id: "ab".into(),
                reason: "r".into(),
            },
            FollowupCommand::Status { id: None },
        ] {
            rt(crate::control::ControlRequest::Followup(c));
        }
        let summary = HeldSummary {
            id: "ab".into(),
            partner: "th".into(),
            collection: "phones".into(),
            epoch: 1,
            references: 1,
            records: 1,
            case_ref: "C".into(),
            purpose: "p".into(),
            requested_by: "inv".into(),
            received_at: 5,
            state: "pending".into(),
        };
        let sent = SentView {
            id: "ab".into(),
            partner: "jp".into(),
            collection: "phones".into(),
            epoch: 1,
            references: vec!["phones:1:ab".into()],
            case_ref: "C".into(),
            purpose: "p".into(),
            requested_by: "inv".into(),
            sent_at: 3,
            records: 1,
            state: "approved".into(),
            released: vec![(
                "phones:1:ab".into(),
                vec![vec![("case_no".into(), "K".into())]],
            )],
            reason: None,
            answered_at: Some(9),
        };
        for r in [
            FollowupReply::Requested(sent.clone()),
            FollowupReply::Status(vec![sent]),
            FollowupReply::List(vec![summary.clone()]),
            FollowupReply::Show(HeldView {
                summary,
                references: vec![HeldReference {
                    reference: "phones:1:ab".into(),
                    records: vec![HeldRecord {
                        value: "+6681".into(),
                        fields: vec![FieldView {
                            name: "case_no".into(),
                            value: "K".into(),
                            releasable: true,
                        }],
                        deleted: false,
                    }],
                }],
                decision: Some(DecisionView {
                    decision: "denied".into(),
                    by: "sup".into(),
                    at: 4,
                    fields: vec![],
                    reason: Some("r".into()),
                }),
            }),
        ] {
            rt(crate::control::ControlResponse::Followup(r));
        }
    }
}
