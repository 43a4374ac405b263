//! Messages on the control ALPN (`cordon-control/1`): an investigator's or operator's CLI
//! talking to its own node. One request per stream.
//!
//! Imports stream: [`ControlRequest::Import`] first, then [`ImportFrame::Rows`] frames, then
//! [`ImportFrame::End`]; the node answers once, after the import committed (or was refused).

use serde::{Deserialize, Serialize};

use cordon_protocol::messages::QueryMode;
use cordon_protocol::ErrorCode;

/// What a CLI asks its node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlRequest {
    /// Node name, collections, partners.
    Status,
    /// Start an import; rows follow as [`ImportFrame`]s.
    Import(ImportHeader),
    /// Ask partners.
    Query(QueryRequest),
    /// Auditors: export the log (answered by [`ControlResponse::AuditChunk`] frames, then
    /// [`ControlResponse::AuditEnd`]).
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
    /// Operators: delete records; the values follow as [`ImportFrame`]s, read as an import
    /// reads them (the header's `kind` must be the collection's).
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
    /// Follow-up requests: file one, review partners' ones, see answers
    /// (see [`crate::followup`]).
    Followup(crate::followup::FollowupCommand),
}

impl ControlRequest {
    /// What the request does, for the role check every request passes first.
    pub fn action(&self) -> crate::pki::Action {
        use crate::pki::Action;
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
            ControlRequest::Followup(cmd) => crate::followup::action_of(cmd),
        }
    }
}

/// Start of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportHeader {
    /// Collection to add to (created on first import).
    pub collection: String,
    /// Identifier kind of every row.
    pub kind: String,
    /// How to read the rows.
    pub read: ReadOptions,
    /// Apply the valid rows even if some are invalid.
    pub skip_invalid: bool,
    /// Name of the source file, for the log.
    pub source: String,
    /// Fields of the rows that a supervisor may ever release in answer to a follow-up
    /// request; the rows' other fields are kept but never released.
    #[serde(default)]
    pub releasable: Vec<String>,
}

/// How raw values are read (see `cordon_protocol::ident::Options`); unset fields take the
/// node's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// Region for national-format phone numbers; defaults to the node's.
    #[serde(default)]
    pub region: Option<String>,
    /// `crypto`: chain (`btc`, `eth`, `tron`, `auto`).
    #[serde(default)]
    pub chain: Option<String>,
    /// `ip`: time window appended to every address (e.g. `2025-08-23T14`).
    #[serde(default)]
    pub window: Option<String>,
    /// `email`: apply the documented provider rules (Gmail dots and `+tags`).
    #[serde(default)]
    pub provider_rules: bool,
}

impl ReadOptions {
    /// The protocol's options, with `default_region` used when no region was given.
    pub fn to_ident(&self, default_region: Option<&str>) -> cordon_protocol::ident::Options {
        cordon_protocol::ident::Options {
            default_region: self
                .region
                .clone()
                .or_else(|| default_region.map(str::to_string)),
            chain: self.chain.clone(),
            window: self.window.clone(),
            provider_rules: self.provider_rules,
        }
    }
}

/// A piece of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFrame {
    /// Raw values with their line numbers in the source file.
    Rows(Vec<(u64, String)>),
    /// No more rows.
    End,
    /// Raw values with the record's other fields (kept for follow-up requests).
    Records(Vec<ImportRow>),
}

/// A row with fields, in [`ImportFrame::Records`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// Line in the source file.
    pub line: u64,
    /// The raw identifier (for persons, the person's JSON object).
    pub value: String,
    /// The record's other fields: `(name, value)`.
    pub fields: Vec<(String, String)>,
}

/// A query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// Collection name at the partners.
    pub collection: String,
    /// Kind of the items; if absent, the kind of the local collection of that name, else the
    /// kind the partners' descriptors state.
    pub kind: Option<String>,
    /// How to read the items.
    pub read: ReadOptions,
    /// Raw items with their line numbers (never logged, never stored).
    pub items: Vec<(u64, String)>,
    /// Case reference (mandatory).
    pub case_ref: String,
    /// Stated purpose (mandatory).
    pub purpose: String,
    /// Partner names; empty means all configured partners.
    pub partners: Vec<String>,
    /// `match` (which items each partner holds) or `count` (only how many); spec §8.
    #[serde(default)]
    pub mode: QueryMode,
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlResponse {
    /// Answer to [`ControlRequest::Status`].
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
    /// Answer to [`ControlRequest::Followup`].
    Followup(crate::followup::FollowupReply),
    /// Answer to [`ControlRequest::AuditProve`].
    AuditProof {
        /// The tlog-proof file text.
        proof: String,
        /// The entry's bytes (one JSON line).
        #[serde(with = "serde_bytes")]
        entry: Vec<u8>,
    },
    /// Answer to [`ControlRequest::AuditConsistency`].
    AuditConsistency {
        /// The signed checkpoint of the newer size.
        checkpoint: String,
        /// The proof, base64 hashes.
        proof: Vec<String>,
    },
    /// Answer to [`ControlRequest::Rotate`].
    Rotated(RotateReply),
    /// Answer to [`ControlRequest::Delete`], sent after the deletion (and its rotation)
    /// committed.
    Deleted(DeleteReply),
    /// Answer to [`ControlRequest::PolicyReload`].
    PolicyReloaded(PolicyReloadReply),
    /// Answer to [`ControlRequest::PartnerStatus`].
    PartnerStatus(PartnerStatusReply),
    /// Answer to [`ControlRequest::UserRevoke`]: the user's next request is refused.
    UserRevoked {
        /// The user revoked.
        name: String,
    },
}

/// Result of a key rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotateReply {
    /// Collection.
    pub collection: String,
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
    pub collection: String,
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

/// A refusal with a code and one sentence; `details` lists e.g. bad rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// One sentence.
    pub message: String,
    /// Extra lines (bad rows, …).
    pub details: Vec<String>,
}

/// Node status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReply {
    /// Node name.
    pub node: String,
    /// Who asked.
    pub user: String,
    /// Their role.
    pub role: String,
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
    pub operations: Option<crate::metrics::Operations>,
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
    pub name: String,
    /// Kind.
    pub kind: String,
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

/// Result of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReply {
    /// Rows read.
    pub rows: u64,
    /// New records stored.
    pub added: u64,
    /// Rows already present.
    pub duplicates: u64,
    /// Rows rejected: `(line, reason)`; at most 100 listed.
    pub rejected: Vec<(u64, String)>,
    /// Total rejected rows.
    pub rejected_count: u64,
    /// Epoch after the import.
    pub epoch: u64,
    /// Whether the epoch was (re)built by this import, rather than extended by a delta.
    pub rebuilt: bool,
    /// Seconds spent building or extending the epoch.
    pub epoch_seconds: f64,
    /// Records in the collection now.
    pub records: u64,
}

/// Result of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryReply {
    /// Query identifier (hex), as the partners and logs know it.
    pub query_id: String,
    /// Collection.
    pub collection: String,
    /// Kind the items were read as.
    pub kind: String,
    /// Items asked.
    pub items: u64,
    /// One entry per partner asked.
    pub partners: Vec<PartnerResult>,
}

/// One partner's part of a [`QueryReply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerResult {
    /// Partner name.
    pub partner: String,
    /// Hits, or why this partner gave none.
    pub outcome: PartnerOutcome,
    /// Milliseconds from start to this partner's answer.
    pub elapsed_ms: u64,
}

/// A partner's answer or failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerOutcome {
    /// The partner answered and the answer verified.
    Answered {
        /// The partner's epoch used.
        epoch: u64,
        /// Records the partner holds in that epoch (filter plus delta).
        partner_records: u64,
        /// Hits, one per matching OPRF item (a person can have several).
        hits: Vec<Hit>,
        /// One entry per queried item with at least one hit, strongest first.
        #[serde(default)]
        matches: Vec<ItemMatch>,
        /// How the filter was obtained: `cached`, `delta` or `full`.
        filter: String,
        /// Bytes sent to the partner for this query.
        bytes_sent: u64,
        /// Bytes received from the partner for this query.
        bytes_received: u64,
        /// Count mode only: how many of the (distinct) items the partner holds; `hits` and
        /// `matches` are then empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u64>,
    },
    /// The partner failed or refused.
    Failed {
        /// Short machine-readable class (`timeout`, `unreachable`, `refused:<code>`, `invalid_answer`).
        code: String,
        /// One sentence.
        message: String,
    },
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Index into the query's items.
    pub index: u64,
    /// Line of the item in the query file.
    pub line: u64,
    /// The hit reference to cite in a follow-up request: `<collection>:<epoch>:<64 hex of
    /// the tag>` (see `cordon_protocol::followup::HitReference`).
    pub reference: String,
    /// For persons: the class of the match key that hit (`document`, `name+dob`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// What a partner holds of one queried item: every key class that hit, and the strongest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMatch {
    /// Index into the query's items.
    pub index: u64,
    /// Line of the item in the query file.
    pub line: u64,
    /// The strongest class that hit: `exact` for identifiers, a person key class otherwise.
    pub strength: String,
    /// Every class that hit, strongest first.
    pub classes: Vec<String>,
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
    fn every_control_message_round_trips() {
        rt(ControlRequest::Status);
        rt(ControlRequest::Import(ImportHeader {
            collection: "phones".into(),
            kind: "phone".into(),
            read: ReadOptions {
                region: Some("TH".into()),
                chain: Some("auto".into()),
                window: Some("2025-08-23T14".into()),
                provider_rules: true,
            },
            skip_invalid: true,
            source: "a.csv".into(),
            releasable: vec!["case_no".into()],
        }));
        rt(ImportFrame::Rows(vec![(1, "+66812345678".into())]));
        rt(ImportFrame::Records(vec![ImportRow {
            line: 2,
            value: "+66812345678".into(),
            fields: vec![("case_no".into(), "K-1".into())],
        }]));
        rt(ImportFrame::End);
        rt(ControlRequest::Query(QueryRequest {
            collection: "phones".into(),
            kind: None,
            read: ReadOptions::default(),
            items: vec![(3, "x".into())],
            case_ref: "C".into(),
            purpose: "p".into(),
            partners: vec!["jp".into()],
            mode: QueryMode::Count,
        }));
        rt(ControlRequest::AuditExport {
            since: Some(1),
            until: None,
        });
        rt(ControlRequest::AuditProve { index: 4 });
        rt(ControlRequest::AuditConsistency {
            old: 3,
            new: Some(9),
        });
        rt(ControlResponse::AuditChunk {
            bytes: vec![1, 2, 3],
        });
        rt(ControlResponse::AuditEnd);
        rt(ControlRequest::Rotate {
            collection: "phones".into(),
        });
        rt(ControlRequest::Delete(ImportHeader {
            collection: "phones".into(),
            kind: "phone".into(),
            read: ReadOptions::default(),
            skip_invalid: false,
            source: "gone.csv".into(),
            releasable: Vec::new(),
        }));
        rt(ControlResponse::Rotated(RotateReply {
            collection: "phones".into(),
            old_epoch: 3,
            new_epoch: 4,
            records: 10,
            seconds: 0.25,
        }));
        rt(ControlResponse::Deleted(DeleteReply {
            rows: 3,
            deleted: 1,
            not_found: vec![2],
            not_found_count: 1,
            rejected: vec![(3, "bad".into())],
            rejected_count: 1,
            epoch: 4,
            records: 9,
        }));
        rt(ControlRequest::PolicyReload);
        rt(ControlRequest::PartnerStatus);
        rt(ControlRequest::UserRevoke {
            name: "k.tanaka".into(),
            reason: "left the unit".into(),
        });
        rt(ControlResponse::PolicyReloaded(PolicyReloadReply {
            changed: true,
            grants: vec!["jp → *".into()],
            restart_needed: vec!["[limits]".into()],
            revoked: 2,
        }));
        rt(ControlResponse::UserRevoked {
            name: "k.tanaka".into(),
        });
        rt(ControlResponse::PartnerStatus(PartnerStatusReply {
            day_started: 86_400,
            resets_in: 3_600,
            partners: vec![PartnerPolicy {
                partner: "jp".into(),
                collections: vec![CollectionGrant {
                    collection: "phones".into(),
                    held: true,
                    shared: true,
                    modes: vec!["match".into()],
                    daily_items: 100,
                    used_today: 7,
                    max_per_query: 50,
                    followup: false,
                }],
            }],
        }));
        rt(ControlResponse::AuditProof {
            proof: "c2sp.org/tlog-proof@v1\n".into(),
            entry: b"{}".to_vec(),
        });
        rt(ControlResponse::AuditConsistency {
            checkpoint: "c".into(),
            proof: vec!["AAAA".into()],
        });
        rt(ControlResponse::Status(StatusReply {
            node: "th".into(),
            user: "u".into(),
            role: "operator".into(),
            collections: vec![CollectionStatus {
                name: "phones".into(),
                kind: "phone".into(),
                records: 3,
                epoch: Some(1),
                delta: 0,
                epoch_built_at: Some(1_700_000_000),
                next_rotation: None,
            }],
            partners: vec!["jp".into()],
            audit: AuditStatus {
                entries: 12,
                log_key: "th/audit+01234567+AQ".into(),
                partners: vec![("jp".into(), 9)],
                alerts: vec!["ALERT".into()],
                warnings: vec!["WARNING".into()],
            },
            operations: Some(crate::metrics::Operations {
                started_at: 1_700_000_000,
                metrics_address: Some("127.0.0.1:9464".into()),
                queries_in: vec![crate::metrics::PartnerCount {
                    partner: "jp".into(),
                    outcome: "answered".into(),
                    count: 4,
                }],
                budgets: vec![crate::metrics::BudgetLeft {
                    partner: "jp".into(),
                    collection: "phones".into(),
                    left: 10,
                    daily_items: 20,
                }],
                ..Default::default()
            }),
        }));
        rt(ControlResponse::Imported(ImportReply {
            rows: 3,
            added: 2,
            duplicates: 1,
            rejected: vec![(4, "bad".into())],
            rejected_count: 1,
            epoch: 1,
            rebuilt: true,
            epoch_seconds: 0.5,
            records: 2,
        }));
        rt(ControlResponse::Query(QueryReply {
            query_id: "00".into(),
            collection: "phones".into(),
            kind: "phone".into(),
            items: 1,
            partners: vec![
                PartnerResult {
                    partner: "jp".into(),
                    outcome: PartnerOutcome::Answered {
                        epoch: 1,
                        partner_records: 5,
                        hits: vec![Hit {
                            index: 0,
                            line: 1,
                            reference: "ab".into(),
                            class: Some("name+dob".into()),
                        }],
                        matches: vec![ItemMatch {
                            index: 0,
                            line: 1,
                            strength: "name+dob".into(),
                            classes: vec!["name+dob".into()],
                        }],
                        filter: "cached".into(),
                        bytes_sent: 1,
                        bytes_received: 2,
                        count: None,
                    },
                    elapsed_ms: 3,
                },
                PartnerResult {
                    partner: "kr".into(),
                    outcome: PartnerOutcome::Answered {
                        epoch: 2,
                        partner_records: 9,
                        hits: vec![],
                        matches: vec![],
                        filter: "full".into(),
                        bytes_sent: 1,
                        bytes_received: 2,
                        count: Some(3),
                    },
                    elapsed_ms: 3,
                },
                PartnerResult {
                    partner: "us".into(),
                    outcome: PartnerOutcome::Failed {
                        code: "timeout".into(),
                        message: "m".into(),
                    },
                    elapsed_ms: 4,
                },
            ],
        }));
        rt(ControlResponse::Error(ControlError {
            code: ErrorCode::NotAuthorized,
            message: "m".into(),
            details: vec!["d".into()],
        }));
    }
}
