//! A query on the control channel: what the investigator asks, and what each partner answered.
//!
//! The raw items travel only from the CLI to its own node, which never logs or stores them.

use serde::{Deserialize, Serialize};

use super::{FailureCode, MatchClass, Named, ReadOptions};
use crate::collection::CollectionName;
use crate::ident::Kind;
use crate::messages::QueryMode;
use crate::person::KeyClass;

/// A query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// Collection name at the partners (parsed by the node as a
    /// [`crate::collection::CollectionName`]).
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

/// Result of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryReply {
    /// Query identifier (hex), as the partners and logs know it.
    pub query_id: String,
    /// Collection.
    pub collection: CollectionName,
    /// Kind the items were read as.
    pub kind: Named<Kind>,
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
        /// How the filter was obtained: `cached`, `delta` or `full` (the name of a
        /// [`super::FilterSource`]; a string still, because callers keep it as one).
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
        /// Short machine-readable class (`timeout`, `unreachable`, `refused:<code>`,
        /// `invalid_answer`, …).
        code: Named<FailureCode>,
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
    /// the tag>` (see [`crate::followup::HitReference`]).
    pub reference: String,
    /// For persons: the class of the match key that hit (`document`, `name+dob`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Named<KeyClass>>,
}

/// What a partner holds of one queried item: every key class that hit, and the strongest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMatch {
    /// Index into the query's items.
    pub index: u64,
    /// Line of the item in the query file.
    pub line: u64,
    /// The strongest class that hit: `exact` for identifiers, a person key class otherwise.
    pub strength: Named<MatchClass>,
    /// Every class that hit, strongest first.
    pub classes: Vec<Named<MatchClass>>,
}
