//! The holder's admission of follow-up requests and status requests (spec/PROTOCOL.md §4.8).
//!
//! A follow-up request passes, in order: a grant that accepts follow-ups on the collection
//! ([`admit_followup`]: `followup_not_allowed`, or `not_shared` without any grant), its text
//! fields, its references (whole tags, 1 to 1,000), the collection's current epoch (`not_shared`
//! without one, `unknown_reference` for another epoch: its key is gone); a fresh id and room in
//! the partner's queue ([`check_queue`]); every reference in the epoch's filter or delta
//! ([`check_held`]); and, once the driver resolved every reference to its records
//! ([`check_resolved`]: `unknown_reference` if any resolves to none), the request is stored
//! (the driver checks the id and the queue again where it stores, atomically). The driver
//! holds its epochs still (no rotation or deletion) from the epoch check until the request is
//! stored.
//!
//! Resolving recomputes the tag of every record of the collection (spec §12): the cheap
//! checks come first, so that a partner citing made-up tags, or filing more than its queue
//! holds, costs this node no scan.

use serde_bytes::ByteArray;

use crate::error::{ErrorCode, RemoteError};
use crate::followup::{
    FollowupDecision, FollowupRequest, FollowupState, MAX_REFERENCES, MAX_STATUS_IDS, MAX_TEXT,
};
use crate::messages::{unpack, PartnerResponse};
use crate::oprf::Tag;
use crate::session::policy::Policy;

use super::{CurrentEpoch, HolderView};

fn refuse(code: ErrorCode, message: impl Into<String>) -> RemoteError {
    RemoteError::new(code, message)
}

/// A follow-up request admitted so far: its cited tags and the epoch to resolve them in.
#[derive(Debug)]
pub struct AdmittedFollowup<E> {
    /// The references' tags, in request order.
    pub tags: Vec<Tag>,
    /// The collection's current epoch (the one the references cite).
    pub epoch: CurrentEpoch<E>,
}

/// Most positions a refusal lists.
const LISTED: usize = 20;

/// References named by their positions in the request (from 1), never by their tags: the
/// refusal is logged by the holder, and a tag that resolves to none of its records is the tag
/// of an identifier the partner holds and this node does not, which its key would let anyone
/// reading the log test against a dictionary.
fn positions(at: &[usize], of: usize) -> String {
    let mut out: Vec<String> = at
        .iter()
        .take(LISTED)
        .map(|i| (i + 1).to_string())
        .collect();
    if at.len() > LISTED {
        out.push(format!("and {} more", at.len() - LISTED));
    }
    format!("{} of {of} (counted from 1)", out.join(", "))
}

/// Admits `partner`'s follow-up request up to the resolution of its references.
pub fn admit_followup<V: HolderView>(
    view: &V,
    partner: &str,
    req: &FollowupRequest,
) -> Result<AdmittedFollowup<V::Epoch>, RemoteError> {
    view.policy().check_followup(partner, &req.collection)?;
    for (what, v) in [
        ("case reference", &req.case_ref),
        ("purpose", &req.purpose),
        ("requester", &req.requested_by),
    ] {
        if v.trim().is_empty() || v.len() > MAX_TEXT {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("the {what} must be 1 to {MAX_TEXT} bytes"),
            ));
        }
        // Shown to this node's supervisor and written to its log: one line of text, without
        // escape sequences that would rewrite the screen it is shown on.
        if v.chars().any(char::is_control) {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("the {what} must be one line of text, without control characters"),
            ));
        }
    }
    let tags = unpack("references", &req.references)
        .map_err(|e| refuse(ErrorCode::BadRequest, e.to_string()))?;
    if tags.is_empty() || tags.len() > MAX_REFERENCES {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!("a follow-up request cites 1 to {MAX_REFERENCES} references"),
        ));
    }
    let epoch = view.current_epoch(&req.collection).ok_or_else(|| {
        refuse(
            ErrorCode::NotShared,
            format!(
                "{} does not share collection `{}` with {partner}",
                view.node(),
                req.collection
            ),
        )
    })?;
    if epoch.number != req.epoch {
        // The key of that epoch is gone: none of its tags can be resolved any more.
        return Err(refuse(
            ErrorCode::UnknownReference,
            format!(
                "epoch {} of `{}` is no longer current (now {}); none of the {} references found in it can be resolved; query again and cite the new references",
                req.epoch,
                req.collection,
                epoch.number,
                tags.len()
            ),
        ));
    }
    Ok(AdmittedFollowup { tags, epoch })
}

/// Refuses the whole request, before any record is scanned, if any of its `tags` is in
/// neither the filter nor the delta of the epoch (`held`): every record's tag is in one of
/// them, so such a reference can resolve to nothing.
pub fn check_held(
    req: &FollowupRequest,
    tags: &[Tag],
    held: impl Fn(&Tag) -> bool,
) -> Result<(), RemoteError> {
    let unknown: Vec<usize> = (0..tags.len()).filter(|i| !held(&tags[*i])).collect();
    unmatched(req, tags.len(), &unknown)
}

/// Refuses the whole request if any of its `tags` resolved to no record (`resolved[i]`: the
/// records tag `i` resolved to).
pub fn check_resolved<T>(
    req: &FollowupRequest,
    tags: &[Tag],
    resolved: &[Vec<T>],
) -> Result<(), RemoteError> {
    let unknown: Vec<usize> = (0..tags.len())
        .filter(|i| resolved.get(*i).is_none_or(Vec::is_empty))
        .collect();
    unmatched(req, tags.len(), &unknown)
}

/// The refusal of a request of `cited` references, those at `unknown` matching no record.
fn unmatched(req: &FollowupRequest, cited: usize, unknown: &[usize]) -> Result<(), RemoteError> {
    if unknown.is_empty() {
        return Ok(());
    }
    Err(refuse(
        ErrorCode::UnknownReference,
        format!(
            "{} of the {} references match no record of `{}` in epoch {}; the request is refused as a whole: the references at positions {}",
            unknown.len(),
            cited,
            req.collection,
            req.epoch,
            positions(unknown, cited)
        ),
    ))
}

/// The checks of the queue, before anything is resolved and again where the request is
/// stored: its id is not used yet, and `partner` has fewer than `most` requests awaiting
/// review at `node` (`pending`).
pub fn check_queue(
    node: &str,
    partner: &str,
    id: &[u8; 16],
    id_used: bool,
    pending: u64,
    most: u64,
) -> Result<(), RemoteError> {
    if id_used {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!(
                "follow-up identifier {} is already used; send the request again with a new one",
                hex::encode(id)
            ),
        ));
    }
    if pending >= most {
        return Err(refuse(
            ErrorCode::LimitExceeded,
            format!(
                "{partner} already has {most} follow-up requests awaiting review at {node} (`limits.max_pending_followups_per_partner`); wait for decisions before filing more"
            ),
        ));
    }
    Ok(())
}

/// A held follow-up request as a status answer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldStatus {
    /// Its collection.
    pub collection: String,
    /// Pending, approved or denied.
    pub state: FollowupState,
    /// When it was decided.
    pub decided_at: Option<u64>,
}

/// The answer to `partner`'s status request about `ids`; `held` finds a request by id among
/// **that partner's** own (others are left out, so that a partner learns nothing of another's).
/// Answers go out only while the policy still accepts the partner's follow-ups on the
/// collection (a reload may have withdrawn it since).
pub fn status_answer(
    policy: &Policy,
    partner: &str,
    ids: &[ByteArray<16>],
    held: impl Fn(&[u8; 16]) -> Option<HeldStatus>,
) -> Result<PartnerResponse, RemoteError> {
    if ids.len() > MAX_STATUS_IDS {
        return Err(refuse(
            ErrorCode::TooManyItems,
            format!("ask about at most {MAX_STATUS_IDS} follow-up requests at a time"),
        ));
    }
    // Each id answered once: a thousand copies of the id of one approved request would
    // otherwise make this node copy its released records a thousand times into one answer.
    let mut asked = std::collections::HashSet::with_capacity(ids.len());
    let found: Vec<(ByteArray<16>, HeldStatus)> = ids
        .iter()
        .filter(|id| asked.insert(**id))
        .filter_map(|id| Some((*id, held(id)?)))
        .collect();
    for (_, h) in &found {
        policy.check_followup(partner, &h.collection)?;
    }
    let decisions = found
        .into_iter()
        .map(|(id, h)| FollowupDecision {
            id,
            state: h.state,
            decided_at: h.decided_at,
        })
        .collect();
    Ok(PartnerResponse::FollowupStatus { decisions })
}
