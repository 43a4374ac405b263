//! The querier's check of the holder's receipt (spec/AUDIT.md §4): signed by the holder's
//! pinned descriptor key, and describing exactly the request that was sent.

use crate::audit::note::VerifierKey;
use crate::audit::receipt::Receipt;
use crate::error::VerifyError;
use crate::messages::QueryMode;

/// What the receipt of one evaluation must state.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedReceipt<'a> {
    /// The query id sent.
    pub exchange_id: &'a [u8; 16],
    /// This node's name.
    pub querier: &'a str,
    /// The collection asked.
    pub collection: &'a str,
    /// The epoch asked.
    pub epoch: u64,
    /// Blinded elements sent.
    pub items: u64,
    /// SHA-256 of the blinded elements sent.
    pub request_digest: &'a [u8; 32],
    /// The mode asked.
    pub mode: QueryMode,
}

/// Checks the holder's receipt against what was sent; returns it trimmed to its text and the
/// holder's signature (the form logged). A wrong receipt names every field that disagrees.
pub fn check_receipt(
    note: &str,
    key: &VerifierKey,
    want: &ExpectedReceipt<'_>,
) -> Result<String, VerifyError> {
    let bad = |m: String| VerifyError::Receipt(m);
    if note.is_empty() {
        return Err(bad("the answer carries no receipt".into()));
    }
    let (r, trimmed) = Receipt::open_trimmed(note, key).map_err(|e| bad(e.to_string()))?;
    let mut wrong = Vec::new();
    if r.exchange_id != *want.exchange_id {
        wrong.push("exchange id");
    }
    if r.querier != want.querier {
        wrong.push("querier");
    }
    if r.collection != want.collection {
        wrong.push("collection");
    }
    if r.epoch != want.epoch {
        wrong.push("epoch");
    }
    if r.items != want.items {
        wrong.push("item count");
    }
    if r.request_digest != *want.request_digest {
        wrong.push("request digest");
    }
    if r.mode != want.mode.as_str() {
        wrong.push("mode");
    }
    if wrong.is_empty() {
        Ok(trimmed)
    } else {
        Err(bad(format!(
            "it disagrees with the request on: {}",
            wrong.join(", ")
        )))
    }
}
