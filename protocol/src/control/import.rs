//! Imports and deletions on the control channel: the header that opens one, the frames that
//! carry the rows, and the node's answer once the import committed.
//!
//! A stream carries [`super::ControlRequest::Import`] (or `Delete`) first, then
//! [`ImportFrame::Rows`] or [`ImportFrame::Records`] frames, then [`ImportFrame::End`]; the node
//! answers once, after the import committed (or was refused).

use serde::{Deserialize, Serialize};

/// Start of an import (or of a deletion, whose values are read the same way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportHeader {
    /// Collection to add to (created on first import). Parsed by the node as a
    /// [`crate::collection::CollectionName`] before anything is read.
    pub collection: String,
    /// Identifier kind of every row (a [`crate::ident::Kind`] name).
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

/// How raw values are read (see [`crate::ident::Options`]); unset fields take the node's
/// defaults.
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
    /// The identifier options, with `default_region` used when no region was given.
    pub fn to_ident(&self, default_region: Option<&str>) -> crate::ident::Options {
        crate::ident::Options {
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
#[non_exhaustive]
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
