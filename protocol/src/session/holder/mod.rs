//! The holder's admission of each partner request, as pure functions over small views of its
//! state (spec/PROTOCOL.md §4, §6.6, §7). Each returns the admitted work, or the refusal to send
//! (a [`RemoteError`] with its code and one sentence); the driver logs refusals and performs
//! the work.
//!
//! The order of the checks is part of the contract, so that a refusal tells a partner no more
//! than it may learn:
//!
//! ```text
//! any request whose frame is unreadable           bad_request / limit_exceeded  (unreadable)
//! descriptor, filter, delta, follow-up            name valid            bad_request   (gate)
//! descriptor, filter, delta                       a grant shares it     not_shared    (gate)
//! descriptor                                      an epoch exists       unknown_collection
//! filter, delta                                   epoch current         unknown_collection, stale_epoch
//! delta                                           position ≤ count      bad_request
//! evaluate                                        name → grant and mode → epoch → size →
//!                                                 elements → replay → budget   (admit_evaluate)
//! follow-up                                       grant allows follow-ups → fields → references →
//!                                                 epoch → id fresh → queue → in filter or delta →
//!                                                 resolved
//! follow-up status                                at most 1,000 ids → the partner's own only
//! ```
//!
//! - [`evaluate`]: the evaluation's admission, the evaluation itself and its receipt.
//! - [`followup`]: follow-up requests and status requests.

pub mod evaluate;
pub mod followup;

use std::time::Duration;

use crate::collection::CollectionName;
use crate::descriptor::EpochDescriptor;
use crate::error::{ErrorCode, RemoteError, WireError};
use crate::messages::{
    pack, PartnerRequest, PartnerResponse, FILTER_CHUNK_BYTES, MAX_DELTA_TAGS_PER_FRAME,
};
use crate::oprf::Tag;
use crate::session::policy::Policy;
use crate::session::querier::sanitize;

pub use evaluate::{admit_evaluate, AdmittedEvaluate, Budgets, ReplayGuard, Spent};

/// A collection's current epoch as the driver holds it, with what admission reads of it.
#[derive(Debug, Clone)]
pub struct CurrentEpoch<E> {
    /// Its number.
    pub number: u64,
    /// Tags in its delta.
    pub delta_len: u64,
    /// The driver's epoch (keys, filter, delta), handed back with the admitted work.
    pub epoch: E,
}

/// What admission reads of the holder: its name, policy, limit and current epochs.
pub trait HolderView {
    /// The driver's epoch type.
    type Epoch;
    /// This node's name (refusals name it).
    fn node(&self) -> &str;
    /// The grants in force.
    fn policy(&self) -> &Policy;
    /// `limits.max_items_per_query`.
    fn max_items_per_query(&self) -> u64;
    /// The current epoch of a collection, if the holder has one.
    fn current_epoch(&self, collection: &str) -> Option<CurrentEpoch<Self::Epoch>>;
}

/// A request frame the holder could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// It did not decode.
    Malformed(WireError),
    /// Its header announces more than `limits.max_request_bytes`.
    TooLarge {
        /// Bytes announced.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// It did not arrive whole within `limits.request_read_timeout`.
    TooSlow(Duration),
}

/// The refusal of a request that could not be read.
pub fn unreadable(u: &Unreadable) -> RemoteError {
    match u {
        // The decoder's explanation can quote what the peer sent (an unknown message name, a
        // string where bytes belong, up to a whole frame of it): shortened and cleaned, since
        // the driver logs the refusal.
        Unreadable::Malformed(e) => RemoteError::new(
            ErrorCode::BadRequest,
            format!("malformed request: {}", sanitize(&e.to_string())),
        ),
        Unreadable::TooLarge { len, max } => RemoteError::new(
            ErrorCode::LimitExceeded,
            format!(
                "a frame of {len} bytes exceeds this node's limit of {max} bytes per request (`limits.max_request_bytes`)"
            ),
        ),
        Unreadable::TooSlow(wait) => RemoteError::new(
            ErrorCode::LimitExceeded,
            format!(
                "the request did not arrive whole within {} (limits.request_read_timeout)",
                humantime::format_duration(*wait)
            ),
        ),
    }
}

/// The request's kind (as logged) and the collection it names, for descriptor, filter, delta
/// and follow-up requests (evaluations check their own name, [`admit_evaluate`]).
pub fn named_collection(req: &PartnerRequest) -> Option<(&'static str, &String)> {
    match req {
        PartnerRequest::GetDescriptor { collection } => Some(("get_descriptor", collection)),
        PartnerRequest::GetFilter { collection, .. } => Some(("get_filter", collection)),
        PartnerRequest::GetDelta { collection, .. } => Some(("get_delta", collection)),
        PartnerRequest::Followup(f) => Some(("followup", &f.collection)),
        PartnerRequest::Evaluate(_) | PartnerRequest::FollowupStatus { .. } => None,
    }
}

/// The gate every request naming a collection passes before anything looks it up: a valid
/// name (an empty or a 64 KiB name is refused here) and, except for follow-ups (which have
/// their own rules), a grant: nothing of a collection, not even its descriptor, goes to a
/// partner without one.
pub fn gate(policy: &Policy, partner: &str, req: &PartnerRequest) -> Result<(), RemoteError> {
    let Some((what, c)) = named_collection(req) else {
        return Ok(());
    };
    if CollectionName::parse(c).is_err() {
        return Err(RemoteError::new(
            ErrorCode::BadRequest,
            format!(
                "the collection name ({} bytes) is not a valid collection name: 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter",
                c.len()
            ),
        ));
    }
    if what != "followup" {
        policy.check_shared(partner, c)?;
    }
    Ok(())
}

/// `unknown_collection`: the holder has no epoch of it.
pub fn unknown_collection(node: &str, collection: &str) -> RemoteError {
    RemoteError::new(
        ErrorCode::UnknownCollection,
        format!("{node} holds no collection named `{collection}`"),
    )
}

/// The current epoch of `collection` (for a descriptor).
pub fn current<V: HolderView>(
    view: &V,
    collection: &str,
) -> Result<CurrentEpoch<V::Epoch>, RemoteError> {
    view.current_epoch(collection)
        .ok_or_else(|| unknown_collection(view.node(), collection))
}

/// The current epoch of `collection` if it is `epoch` (filter, delta, evaluation), else the
/// refusal to send.
pub fn epoch_at<V: HolderView>(
    view: &V,
    collection: &str,
    epoch: u64,
) -> Result<CurrentEpoch<V::Epoch>, RemoteError> {
    let e = current(view, collection)?;
    if e.number != epoch {
        return Err(RemoteError::new(
            ErrorCode::StaleEpoch,
            format!(
                "epoch {epoch} of `{collection}` is no longer current (now {}); fetch the descriptor again",
                e.number
            ),
        ));
    }
    Ok(e)
}

/// Whether a stored descriptor may be served as it is at `now`: at least half its validity
/// left and not issued more than 60 s ahead of the clock. Otherwise the holder re-signs it
/// first (same epoch, `issued_at = now`, `not_after = now + validity`).
pub fn descriptor_fresh(d: &EpochDescriptor, now: u64, validity_secs: u64) -> bool {
    d.not_after >= now + validity_secs / 2 && d.issued_at <= now + 60
}

/// The frames that answer `get_filter` of epoch `epoch`: `filter_start`, then the filter in
/// chunks of [`FILTER_CHUNK_BYTES`].
pub fn filter_frames(epoch: u64, filter: &[u8]) -> Vec<PartnerResponse> {
    let mut out = vec![PartnerResponse::FilterStart {
        epoch,
        total_bytes: filter.len() as u64,
    }];
    out.extend(
        filter
            .chunks(FILTER_CHUNK_BYTES)
            .map(|c| PartnerResponse::FilterChunk { bytes: c.to_vec() }),
    );
    out
}

/// The answer to `get_delta` from `from` of epoch `epoch` whose delta is `delta`: at most one
/// frame's worth (the querier asks again from where it ends), or `bad_request` for a position
/// beyond the delta.
pub fn delta_answer(epoch: u64, from: u64, delta: &[Tag]) -> Result<PartnerResponse, RemoteError> {
    if from > delta.len() as u64 {
        return Err(RemoteError::new(
            ErrorCode::BadRequest,
            format!(
                "delta position {from} is beyond the {} tags of epoch {epoch}",
                delta.len()
            ),
        ));
    }
    let end = delta.len().min(from as usize + MAX_DELTA_TAGS_PER_FRAME);
    Ok(PartnerResponse::Delta {
        epoch,
        from,
        tags: pack(&delta[from as usize..end]),
    })
}

#[cfg(test)]
mod tests;
