//! The requesting side of follow-up requests: file one with a partner, and fetch the
//! partners' decisions on the open ones.

use std::collections::BTreeMap;

use rand::RngCore;
use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::followup::{
    FollowupRequest, FollowupState, HitReference, MAX_REFERENCES, MAX_TEXT,
};
use cordon_protocol::messages::{pack, PartnerRequest, PartnerResponse};

use super::state_name;
use super::store::{self, SentFollowup};
use super::SentView;
use crate::error::{NodeError, PeerError};
use crate::partner_client::Traffic;
use crate::query::Querying;

fn misuse(m: impl Into<String>) -> NodeError {
    NodeError::request(m.into())
}

fn entry(q: &Querying, kind: EntryKind, actor: &Actor, s: &SentFollowup) -> Entry {
    let mut e = q.audit.entry(q.querier.now(), kind, actor.clone());
    e.partner = Some(s.partner.clone());
    e.collection = Some(s.collection.clone());
    e.epoch = Some(s.epoch);
    e.items = Some(s.references.len() as u64);
    e.case_ref = Some(s.case_ref.clone());
    e.purpose = Some(s.purpose.clone());
    e
}

/// Stores `s` and logs `entries` in one commit, then moves the entries into the log.
fn save(q: &Querying, s: &SentFollowup, entries: &[Entry]) -> Result<(), NodeError> {
    let db = q.querier.store().db();
    let txn = db.begin_write()?;
    store::put_sent(&txn, s)?;
    if !entries.is_empty() {
        crate::audit::pending::put(&txn, entries)?;
    }
    txn.commit()?;
    crate::audit::pending::flush(db, &q.audit)
}

async fn save_async(q: &Querying, s: &SentFollowup, entries: Vec<Entry>) -> Result<(), NodeError> {
    let (sh, s) = (q.clone(), s.clone());
    tokio::task::spawn_blocking(move || save(&sh, &s, &entries))
        .await
        .map_err(|e| NodeError::internal(format!("follow-up store failed: {e}")))?
}

/// Files a follow-up request with `partner` on `references` (all of one collection and epoch).
pub async fn request(
    q: &Querying,
    actor: &Actor,
    partner: &str,
    references: &[String],
    case_ref: &str,
    purpose: &str,
) -> Result<SentView, NodeError> {
    if case_ref.trim().is_empty() || case_ref.len() > MAX_TEXT {
        return Err(misuse(
            "a case reference is required; pass --case with the case this follow-up serves",
        ));
    }
    if purpose.trim().is_empty() || purpose.len() > MAX_TEXT {
        return Err(misuse(
            "a purpose is required; pass --purpose stating why the records are needed",
        ));
    }
    if !q.querier.knows(partner) {
        return Err(misuse(format!(
            "`{partner}` is not a configured partner; `cordon status` lists them"
        )));
    }
    if references.is_empty() || references.len() > MAX_REFERENCES {
        return Err(misuse(format!(
            "give 1 to {MAX_REFERENCES} hit references (--hit), as `cordon query` printed them"
        )));
    }
    let mut parsed: Vec<HitReference> = Vec::new();
    for r in references {
        let h: HitReference = r.parse().map_err(NodeError::request)?;
        if let Some(first) = parsed.first() {
            if first.collection != h.collection || first.epoch != h.epoch {
                return Err(misuse(format!(
                    "hit reference {r} is of `{}` epoch {}, but {first} is of `{}` epoch {}; file one request per collection and epoch",
                    h.collection, h.epoch, first.collection, first.epoch
                )));
            }
        }
        if !parsed.contains(&h) {
            parsed.push(h);
        }
    }
    let (collection, epoch) = (parsed[0].collection.clone(), parsed[0].epoch);
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let mut sent = SentFollowup {
        id: hex::encode(id),
        partner: partner.to_string(),
        collection: collection.clone(),
        epoch,
        references: parsed.iter().map(ToString::to_string).collect(),
        case_ref: case_ref.to_string(),
        purpose: purpose.to_string(),
        requested_by: actor.name.clone(),
        sent_at: q.querier.now(),
        records: 0,
        state: Some(FollowupState::Pending),
        answered_at: None,
        refused: None,
    };
    // Logged and kept before the request leaves.
    let mut e = entry(q, EntryKind::FollowupRequested, actor, &sent);
    e.detail = Some(format!("followup={}", sent.id));
    save_async(q, &sent, vec![e]).await?;
    let req = PartnerRequest::Followup(FollowupRequest {
        id: ByteArray::new(id),
        collection,
        epoch,
        references: pack(&parsed.iter().map(|h| h.tag).collect::<Vec<_>>()),
        case_ref: case_ref.to_string(),
        purpose: purpose.to_string(),
        requested_by: actor.name.clone(),
    });
    match q
        .querier
        .request(partner, &req, &mut Traffic::default())
        .await
    {
        Ok(PartnerResponse::FollowupAccepted(a)) if *a.id == id => {
            sent.records = a.records;
            save_async(q, &sent, Vec::new()).await?;
            Ok(view(&sent))
        }
        Ok(_) => Err(NodeError::from(cordon_protocol::WireError::Malformed(
            "expected the acceptance of this follow-up request".into(),
        ))),
        Err(NodeError::Peer(PeerError::Refused(r))) => {
            sent.state = None;
            sent.refused = Some(format!("{}: {}", r.code, r.message));
            sent.answered_at = Some(q.querier.now());
            let mut e = entry(q, EntryKind::FollowupAnswered, actor, &sent);
            e.detail = Some(format!("followup={} decision=refused", sent.id));
            e.reason = sent.refused.clone();
            save_async(q, &sent, vec![e]).await?;
            Err(NodeError::refused(
                r.code,
                format!(
                    "{partner} refused follow-up request {}: {}",
                    sent.id, r.message
                ),
            ))
        }
        // Not sent, or no answer: the request stays recorded as pending; `status` asks again.
        Err(e) => Err(e),
    }
}

/// The requests this node sent (one, or all), after asking each partner for its decisions on
/// those still open.
pub async fn status(
    q: &Querying,
    actor: &Actor,
    id: Option<&str>,
) -> Result<Vec<SentView>, NodeError> {
    let all = store::sent_all(q.querier.store().db())?;
    let mut chosen: Vec<SentFollowup> = match id {
        Some(id) => {
            let full = store::resolve_id(all.iter().map(|s| s.id.as_str()), id)?;
            all.into_iter().filter(|s| s.id == full).collect()
        }
        None => all,
    };
    let mut open: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in chosen.iter().enumerate() {
        if s.refused.is_none() && s.state == Some(FollowupState::Pending) {
            open.entry(s.partner.clone()).or_default().push(i);
        }
    }
    for (partner, idx) in open {
        let ids: Vec<ByteArray<16>> = idx
            .iter()
            .filter_map(|&i| {
                let b: [u8; 16] = hex::decode(&chosen[i].id).ok()?.try_into().ok()?;
                Some(ByteArray::new(b))
            })
            .collect();
        let req = PartnerRequest::FollowupStatus { ids };
        let decisions = match q
            .querier
            .request(&partner, &req, &mut Traffic::default())
            .await
        {
            Ok(PartnerResponse::FollowupStatus { decisions }) => decisions,
            Ok(_) => {
                tracing::warn!(partner, "unexpected answer to a follow-up status request");
                continue;
            }
            Err(e) => {
                // Shown as still pending; asked again next time.
                tracing::warn!(partner, error = %e, "follow-up status not available");
                continue;
            }
        };
        for &i in &idx {
            let s = &mut chosen[i];
            let d = decisions.iter().find(|d| hex::encode(*d.id) == s.id);
            let new_state = d.map(|d| d.state.clone());
            if new_state == s.state {
                continue;
            }
            s.state = new_state;
            let mut entries = Vec::new();
            if let Some(st @ (FollowupState::Approved { .. } | FollowupState::Denied { .. })) =
                &s.state
            {
                s.answered_at = Some(q.querier.now());
                let mut e = entry(q, EntryKind::FollowupAnswered, actor, s);
                let mut detail = format!("followup={} decision={}", s.id, state_name(st));
                match st {
                    FollowupState::Approved { released } => {
                        // Field names only: never the released values.
                        let mut names: Vec<&str> = released
                            .iter()
                            .flat_map(|r| r.records.iter().flatten().map(|(n, _)| n.as_str()))
                            .collect();
                        names.sort_unstable();
                        names.dedup();
                        detail.push_str(&format!(" fields={}", names.join(",")));
                    }
                    FollowupState::Denied { reason } => e.reason = Some(reason.clone()),
                    FollowupState::Pending => {}
                }
                e.detail = Some(detail);
                entries.push(e);
            }
            save_async(q, s, entries).await?;
        }
    }
    chosen.sort_by_key(|s| std::cmp::Reverse(s.sent_at));
    Ok(chosen.iter().map(view).collect())
}

fn view(s: &SentFollowup) -> SentView {
    let (state, released, reason) = match (&s.refused, &s.state) {
        (Some(r), _) => ("refused".to_string(), Vec::new(), Some(r.clone())),
        (None, None) => ("unknown".to_string(), Vec::new(), None),
        (None, Some(FollowupState::Pending)) => ("pending".to_string(), Vec::new(), None),
        (None, Some(FollowupState::Denied { reason })) => {
            ("denied".to_string(), Vec::new(), Some(reason.clone()))
        }
        (None, Some(FollowupState::Approved { released })) => (
            "approved".to_string(),
            released
                .iter()
                .map(|r| {
                    (
                        HitReference {
                            collection: s.collection.clone(),
                            epoch: s.epoch,
                            tag: *r.tag,
                        }
                        .to_string(),
                        r.records.clone(),
                    )
                })
                .collect(),
            None,
        ),
    };
    SentView {
        id: s.id.clone(),
        partner: s.partner.clone(),
        collection: s.collection.clone(),
        epoch: s.epoch,
        references: s.references.clone(),
        case_ref: s.case_ref.clone(),
        purpose: s.purpose.clone(),
        requested_by: s.requested_by.clone(),
        sent_at: s.sent_at,
        records: s.records,
        state,
        released,
        reason,
        answered_at: s.answered_at,
    }
}
