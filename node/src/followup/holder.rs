//! The holder's side of follow-up requests: accept (after resolving every reference to this
//! node's own records), answer status requests, and the supervisor's review.

use std::collections::HashMap;

use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::collection::CollectionName;
use cordon_protocol::followup::{
    FollowupAccepted, FollowupDecision, FollowupRequest, FollowupState, HitReference,
    ReleasedReference, MAX_REFERENCES, MAX_STATUS_IDS, MAX_TEXT,
};
use cordon_protocol::messages::{unpack, PartnerResponse};
use cordon_protocol::oprf::{self, Tag};
use cordon_protocol::{ErrorCode, RemoteError};

use super::store::{self, HeldFollowup};
use super::{
    DecisionView, FieldView, FollowupCommand, FollowupReply, HeldRecord, HeldReference,
    HeldSummary, HeldView,
};
use crate::answer::{partner_actor, Answerer};
use crate::epoch::HolderEpoch;
use crate::error::NodeError;
use crate::holder::Frozen;
use crate::store::Store;

pub use super::state_name;

fn refuse(code: ErrorCode, message: impl Into<String>) -> RemoteError {
    RemoteError::new(code, message)
}

/// Serves a partner's follow-up request (blocking: resolving recomputes tags).
pub fn receive(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: FollowupRequest,
) -> PartnerResponse {
    let id = hex::encode(*req.id);
    match accept(a, partner, fingerprint, &req) {
        Ok(a) => PartnerResponse::FollowupAccepted(a),
        Err(r) => {
            // A refusal is logged too (what was asked, and why not), then sent.
            let mut e = base_entry(a, partner, fingerprint, &req, &id);
            e.reason = Some(format!("{}: {}", r.code, r.message));
            if let Err(err) = a.audit.append(&[e]) {
                tracing::error!(error = %err, "could not log a refused follow-up request");
            }
            tracing::info!(partner, code = %r.code, "follow-up request refused");
            a.metrics.refused_partner(partner, r.code, false);
            PartnerResponse::Error(r)
        }
    }
}

fn base_entry(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &FollowupRequest,
    id: &str,
) -> Entry {
    let mut e = a.audit.entry(
        a.holder.now(),
        EntryKind::FollowupRequested,
        partner_actor(partner, fingerprint),
    );
    e.partner = Some(partner.to_string());
    e.collection = Some(CollectionName::loggable(&req.collection));
    e.epoch = Some(req.epoch);
    e.items = Some((req.references.len() / 32) as u64);
    e.case_ref = Some(clip(&req.case_ref));
    e.purpose = Some(clip(&req.purpose));
    e.detail = Some(format!(
        "followup={id} requested_by={}",
        clip(&req.requested_by)
    ));
    e
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The references a request cites, once its texts and their number are checked.
fn checked(req: &FollowupRequest) -> Result<Vec<Tag>, RemoteError> {
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
    }
    let tags = unpack("references", &req.references)
        .map_err(|e| refuse(ErrorCode::BadRequest, e.to_string()))?;
    if tags.is_empty() || tags.len() > MAX_REFERENCES {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!("a follow-up request cites 1 to {MAX_REFERENCES} references"),
        ));
    }
    Ok(tags)
}

fn accept(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &FollowupRequest,
) -> Result<FollowupAccepted, RemoteError> {
    a.governance
        .policy()
        .check_followup(partner, &req.collection)?;
    let tags = checked(req)?;
    // The epochs stay as they are until the request is stored: a deletion or rotation cannot
    // commit between resolving the references and queuing them (it would leave a deleted
    // record's value in the queue, or accept a reference of an epoch just replaced).
    a.holder.frozen(|held| {
        let resolved = resolve_all(a, held, partner, req, &tags)?;
        let id = hex::encode(*req.id);
        let h = HeldFollowup {
            id: id.clone(),
            partner: partner.to_string(),
            collection: req.collection.clone(),
            epoch: req.epoch,
            references: tags
                .iter()
                .zip(resolved)
                .map(|(t, r)| (ByteArray::new(*t), r))
                .collect(),
            case_ref: req.case_ref.clone(),
            purpose: req.purpose.clone(),
            requested_by: req.requested_by.clone(),
            received_at: a.holder.now(),
            state: FollowupState::Pending,
            decided_by: None,
            decided_at: None,
            released_fields: Vec::new(),
        };
        let records = h.record_count();
        let mut entry = base_entry(a, partner, fingerprint, req, &id);
        entry.detail = Some(format!(
            "followup={id} requested_by={} references={} records={records}",
            req.requested_by,
            tags.len()
        ));
        queue(a, held.store(), &h, entry)?;
        tracing::info!(partner, collection = %req.collection, followup = %id, records, "follow-up request queued");
        Ok(FollowupAccepted {
            id: req.id,
            records,
        })
    })
}

/// Every cited reference resolved to the records it hit in the current epoch; the whole
/// request is refused if the epoch is not current or any reference hits nothing.
fn resolve_all(
    a: &Answerer,
    held: &Frozen<'_>,
    partner: &str,
    req: &FollowupRequest,
    tags: &[Tag],
) -> Result<Vec<Vec<String>>, RemoteError> {
    let epoch = held.epoch(&req.collection).ok_or_else(|| {
        refuse(
            ErrorCode::NotShared,
            format!(
                "{} does not share collection `{}` with {partner}",
                a.holder.node(),
                req.collection
            ),
        )
    })?;
    let cite = |t: &Tag| {
        HitReference {
            collection: req.collection.clone(),
            epoch: req.epoch,
            tag: *t,
        }
        .to_string()
    };
    if epoch.epoch != req.epoch {
        // The key of that epoch is gone: none of its tags can be resolved any more.
        return Err(refuse(
            ErrorCode::UnknownReference,
            format!(
                "epoch {} of `{}` is no longer current (now {}); references found in it cannot be resolved; query again and cite the new references: {}",
                req.epoch,
                req.collection,
                epoch.epoch,
                tags.iter().map(cite).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let resolved = resolve(&epoch, held.store(), tags)
        .map_err(|e| refuse(ErrorCode::Internal, e.to_string()))?;
    let unknown: Vec<String> = tags
        .iter()
        .zip(&resolved)
        .filter(|(_, r)| r.is_empty())
        .map(|(t, _)| cite(t))
        .collect();
    if !unknown.is_empty() {
        return Err(refuse(
            ErrorCode::UnknownReference,
            format!(
                "{} of the {} references match no record of `{}` in epoch {}; the request is refused as a whole: {}",
                unknown.len(),
                tags.len(),
                req.collection,
                req.epoch,
                unknown.join(", ")
            ),
        ));
    }
    Ok(resolved)
}

/// Stores a partner's request for review with its entry, unless its id is taken or the
/// partner has too many awaiting review.
fn queue(a: &Answerer, records: &Store, h: &HeldFollowup, entry: Entry) -> Result<(), RemoteError> {
    let internal = |e: NodeError| refuse(ErrorCode::Internal, e.to_string());
    let txn = records.db().begin_write().map_err(|e| internal(e.into()))?;
    if store::held_exists(&txn, &h.id).map_err(internal)? {
        return Err(refuse(
            ErrorCode::BadRequest,
            format!(
                "follow-up identifier {} is already used; send the request again with a new one",
                h.id
            ),
        ));
    }
    let most = a.governance.max_pending_followups();
    if store::held_pending_of(&txn, &h.partner).map_err(internal)? >= most {
        return Err(refuse(
            ErrorCode::LimitExceeded,
            format!(
                "{} already has {most} follow-up requests awaiting review at {} (`limits.max_pending_followups_per_partner`); wait for decisions before filing more",
                h.partner,
                a.holder.node()
            ),
        ));
    }
    store::put_held(&txn, h).map_err(internal)?;
    // Queued means logged: the entry commits with the request (see `audit::pending`).
    crate::audit::pending::put(&txn, &[entry]).map_err(internal)?;
    txn.commit().map_err(|e| internal(e.into()))?;
    crate::audit::pending::flush(records.db(), &a.audit).map_err(internal)?;
    Ok(())
}

/// Per wanted tag, the canonical values of the records one of whose items has that tag under
/// the epoch's key. Every record's tags are recomputed (over every core), chunk by chunk as
/// an epoch build reads them, so a large collection is never all in memory.
pub fn resolve(
    epoch: &HolderEpoch,
    store: &Store,
    wanted: &[Tag],
) -> Result<Vec<Vec<String>>, NodeError> {
    use rayon::prelude::*;
    let index: HashMap<&Tag, usize> = wanted.iter().enumerate().map(|(i, t)| (t, i)).collect();
    let mut out: Vec<Vec<String>> = vec![Vec::new(); wanted.len()];
    store.for_each_record_chunk(&epoch.collection, crate::epoch::BUILD_CHUNK, |chunk| {
        let per: Vec<Vec<Vec<u8>>> = chunk
            .values
            .par_iter()
            .map(|v| crate::epoch::items_of(&epoch.kind, v))
            .collect::<Result<_, _>>()?;
        let mut owner = Vec::new();
        let mut inputs: Vec<&[u8]> = Vec::new();
        for (i, items) in per.iter().enumerate() {
            for it in items {
                owner.push(i);
                inputs.push(it);
            }
        }
        let tags = oprf::holder_tags(&epoch.sk, &inputs)
            .map_err(|e| NodeError::internal(format!("tag derivation failed: {e}")))?;
        for (k, t) in tags.iter().enumerate() {
            if let Some(&w) = index.get(t) {
                let v = &chunk.values[owner[k]];
                if !out[w].contains(v) {
                    out[w].push(v.clone());
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Decisions on `ids` that are `partner`'s own requests; others are left out, so a partner
/// learns nothing of another's.
pub fn answer_status(a: &Answerer, partner: &str, ids: &[ByteArray<16>]) -> PartnerResponse {
    if ids.len() > MAX_STATUS_IDS {
        return PartnerResponse::Error(refuse(
            ErrorCode::TooManyItems,
            format!("ask about at most {MAX_STATUS_IDS} follow-up requests at a time"),
        ));
    }
    let all = match store::held_all(a.holder.store().db()) {
        Ok(a) => a,
        Err(e) => return PartnerResponse::Error(refuse(ErrorCode::Internal, e.to_string())),
    };
    let by_id: HashMap<&str, &HeldFollowup> = all
        .iter()
        .filter(|h| h.partner == partner)
        .map(|h| (h.id.as_str(), h))
        .collect();
    // Answers go out only while the policy still accepts the partner's follow-ups on that
    // collection (a reload may have withdrawn it since the request or the decision).
    let policy = a.governance.policy();
    for id in ids {
        if let Some(h) = by_id.get(hex::encode(**id).as_str()) {
            if let Err(r) = policy.check_followup(partner, &h.collection) {
                return PartnerResponse::Error(r);
            }
        }
    }
    let decisions = ids
        .iter()
        .filter_map(|id| {
            let h = by_id.get(hex::encode(**id).as_str())?;
            Some(FollowupDecision {
                id: *id,
                state: h.state.clone(),
                decided_at: h.decided_at,
            })
        })
        .collect();
    PartnerResponse::FollowupStatus { decisions }
}

fn summary(h: &HeldFollowup) -> HeldSummary {
    HeldSummary {
        id: h.id.clone(),
        partner: h.partner.clone(),
        collection: h.collection.clone(),
        epoch: h.epoch,
        references: h.references.len() as u64,
        records: h.record_count(),
        case_ref: h.case_ref.clone(),
        purpose: h.purpose.clone(),
        requested_by: h.requested_by.clone(),
        received_at: h.received_at,
        state: state_name(&h.state).to_string(),
    }
}

fn view(a: &Answerer, h: &HeldFollowup) -> Result<HeldView, NodeError> {
    let db = a.holder.store().db();
    let mut references = Vec::new();
    for (tag, values) in &h.references {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let fields = store::fields_of(db, &h.collection, &refs)?;
        let mut records = Vec::new();
        for (v, f) in values.iter().zip(fields) {
            let f = f.unwrap_or_default();
            records.push(HeldRecord {
                value: v.clone(),
                fields: f
                    .fields
                    .iter()
                    .map(|(n, val)| FieldView {
                        name: n.clone(),
                        value: val.clone(),
                        releasable: f.releasable.contains(n),
                    })
                    .collect(),
                deleted: !store::record_exists(db, &h.collection, v)?,
            });
        }
        references.push(HeldReference {
            reference: HitReference {
                collection: h.collection.clone(),
                epoch: h.epoch,
                tag: **tag,
            }
            .to_string(),
            records,
        });
    }
    let decision = match (&h.state, &h.decided_by, h.decided_at) {
        (FollowupState::Pending, _, _) => None,
        (s, by, at) => Some(DecisionView {
            decision: state_name(s).to_string(),
            by: by.clone().unwrap_or_default(),
            at: at.unwrap_or(0),
            fields: h.released_fields.clone(),
            reason: match s {
                FollowupState::Denied { reason } => Some(reason.clone()),
                _ => None,
            },
        }),
    };
    Ok(HeldView {
        summary: summary(h),
        references,
        decision,
    })
}

/// The supervisor's commands (blocking).
pub fn review(
    a: &Answerer,
    actor: &Actor,
    cmd: FollowupCommand,
) -> Result<FollowupReply, NodeError> {
    let db = a.holder.store().db();
    let all = store::held_all(db)?;
    let find = |id: &str| -> Result<HeldFollowup, NodeError> {
        let full = store::resolve_id(all.iter().map(|h| h.id.as_str()), id)?;
        all.iter()
            .find(|h| h.id == full)
            .cloned()
            .ok_or_else(|| NodeError::internal("follow-up vanished"))
    };
    match cmd {
        FollowupCommand::List => {
            let mut list: Vec<&HeldFollowup> = all.iter().collect();
            // Pending first, oldest first among them; decided ones newest first.
            list.sort_by_key(|h| match h.state {
                FollowupState::Pending => (0, h.received_at as i64),
                _ => (1, -(h.decided_at.unwrap_or(0) as i64)),
            });
            Ok(FollowupReply::List(list.into_iter().map(summary).collect()))
        }
        FollowupCommand::Show { id } => Ok(FollowupReply::Show(view(a, &find(&id)?)?)),
        FollowupCommand::Approve { id, fields } => {
            let h = find(&id)?;
            decide(a, actor, h, Decision::Approve(fields))
        }
        FollowupCommand::Deny { id, reason } => {
            let reason = reason.trim().to_string();
            if reason.is_empty() || reason.len() > MAX_TEXT {
                return Err(NodeError::request(format!(
                    "a denial needs a reason of 1 to {MAX_TEXT} bytes (--reason); the requesting agency sees it"
                )));
            }
            let h = find(&id)?;
            decide(a, actor, h, Decision::Deny(reason))
        }
        _ => Err(NodeError::internal("not a review command")),
    }
}

enum Decision {
    Approve(Option<Vec<String>>),
    Deny(String),
}

fn decide(
    a: &Answerer,
    actor: &Actor,
    h: HeldFollowup,
    d: Decision,
) -> Result<FollowupReply, NodeError> {
    let db = a.holder.store().db();
    let txn = db.begin_write()?;
    // Read again inside the writer: two supervisors deciding at once cannot both win.
    let mut h =
        store::get_held(&txn, &h.id)?.ok_or_else(|| NodeError::internal("follow-up vanished"))?;
    if h.state != FollowupState::Pending {
        return Err(NodeError::request(format!(
            "follow-up request {} was already {} by {}; a decision is final",
            h.id,
            state_name(&h.state),
            h.decided_by.clone().unwrap_or_default()
        )));
    }
    if matches!(d, Decision::Approve(_)) {
        if let Err(r) = a
            .governance
            .policy()
            .check_followup(&h.partner, &h.collection)
        {
            return Err(NodeError::request(format!(
                "follow-up request {} cannot be approved: {} (the policy changed since it arrived); deny it instead",
                h.id, r.message
            )));
        }
    }
    let now = a.holder.now();
    let mut entry = a
        .audit
        .entry(now, EntryKind::FollowupAnswered, actor.clone());
    entry.partner = Some(h.partner.clone());
    entry.collection = Some(h.collection.clone());
    entry.epoch = Some(h.epoch);
    entry.items = Some(h.references.len() as u64);
    entry.case_ref = Some(h.case_ref.clone());
    entry.purpose = Some(h.purpose.clone());
    match d {
        Decision::Deny(reason) => {
            entry.detail = Some(format!("followup={} decision=denied", h.id));
            entry.reason = Some(reason.clone());
            h.state = FollowupState::Denied { reason };
        }
        Decision::Approve(wanted) => {
            let (released, names) = release(a, &h, wanted.as_deref())?;
            entry.detail = Some(format!(
                "followup={} decision=approved records={} fields={}",
                h.id,
                h.record_count(),
                names.join(",")
            ));
            h.released_fields = names;
            h.state = FollowupState::Approved { released };
        }
    }
    h.decided_by = Some(actor.name.clone());
    h.decided_at = Some(now);
    store::put_held(&txn, &h)?;
    crate::audit::pending::put(&txn, &[entry])?;
    txn.commit()?;
    crate::audit::pending::flush(db, &a.audit)?;
    tracing::info!(followup = %h.id, partner = %h.partner, decision = state_name(&h.state), by = %actor.name, "follow-up decided");
    Ok(FollowupReply::Show(view(a, &h)?))
}

/// The released values: per reference, per record, the chosen fields that are releasable for
/// that record. A field that is releasable nowhere in the request is refused by name.
fn release(
    a: &Answerer,
    h: &HeldFollowup,
    wanted: Option<&[String]>,
) -> Result<(Vec<ReleasedReference>, Vec<String>), NodeError> {
    let db = a.holder.store().db();
    let mut per_ref = Vec::new();
    let mut releasable_anywhere: Vec<String> = Vec::new();
    let mut present_anywhere: Vec<String> = Vec::new();
    for (tag, values) in &h.references {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let fields = store::fields_of(db, &h.collection, &refs)?;
        for f in fields.iter().flatten() {
            for r in &f.releasable {
                if !releasable_anywhere.contains(r) {
                    releasable_anywhere.push(r.clone());
                }
            }
            for (n, _) in &f.fields {
                if !present_anywhere.contains(n) {
                    present_anywhere.push(n.clone());
                }
            }
        }
        per_ref.push((tag, fields));
    }
    let names: Vec<String> = match wanted {
        None => releasable_anywhere.clone(),
        Some(w) => {
            for name in w {
                if !releasable_anywhere.contains(name) {
                    let why = if present_anywhere.contains(name) {
                        "was not marked releasable at import"
                    } else {
                        "is not a field of these records"
                    };
                    return Err(NodeError::request(format!(
                        "field `{name}` {why}; releasable fields here: {}",
                        if releasable_anywhere.is_empty() {
                            "none".to_string()
                        } else {
                            releasable_anywhere.join(", ")
                        }
                    )));
                }
            }
            let mut w = w.to_vec();
            w.dedup();
            w
        }
    };
    let released = per_ref
        .into_iter()
        .map(|(tag, fields)| ReleasedReference {
            tag: *tag,
            records: fields
                .into_iter()
                .map(|f| {
                    let f = f.unwrap_or_default();
                    f.fields
                        .into_iter()
                        .filter(|(n, _)| names.contains(n) && f.releasable.contains(n))
                        .collect()
                })
                .collect(),
        })
        .collect();
    Ok((released, names))
}
