//! The holder's answer to one evaluation: check, evaluate, sign a receipt, take part in the
//! checkpoint exchange, and log the answer durably *before* it is sent. Refusals are logged
//! too, with their reason.
//!
//! What is logged: the partner, collection, epoch, item count, the exchange id and the receipt.
//! Never the blinded elements (the receipt holds only their SHA-256, which identifies this
//! request and tells nothing about the items, since each element is freshly blinded).

use std::sync::Arc;

use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::audit::receipt::{request_digest, Receipt};
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::messages::{
    unpack, AuditReply, EvaluateRequest, EvaluateResponse, PartnerResponse, QueryMode,
};
use cordon_protocol::{count, exchange};

use cordon_protocol::collection::CollectionName;

use crate::audit::AuditLog;
use crate::budget::{Reservation, Spent};
use crate::epoch::HolderEpoch;
use crate::error::NodeError;
use crate::governance::Governance;
use crate::holder::Holder;
use crate::metrics::Metrics;
use crate::replay::Claim;

/// What answering partners uses: the epochs held, who may ask what, the log, the metrics.
#[derive(Clone)]
pub struct Answerer {
    /// The collections held.
    pub holder: Arc<Holder>,
    /// Policy, budgets and answered query ids.
    pub governance: Arc<Governance>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
}

/// A partner as the log names it.
pub(crate) fn partner_actor(partner: &str, fingerprint: &[u8; 32]) -> Actor {
    Actor {
        name: partner.to_string(),
        role: "partner".into(),
        fingerprint: hex::encode(fingerprint),
    }
}

fn base_entry(
    a: &Answerer,
    kind: EntryKind,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    items: u64,
) -> Entry {
    let mut e = a
        .audit
        .entry(a.now(), kind, partner_actor(partner, fingerprint));
    e.partner = Some(partner.to_string());
    // The name comes from the partner: logged only if it is a valid collection name.
    e.collection = Some(CollectionName::loggable(&req.collection));
    e.mode = Some(req.mode.as_str().into());
    e.exchange_id = Some(hex::encode(*req.query_id));
    e.epoch = Some(req.epoch);
    e.items = Some(items);
    e
}

impl Answerer {
    /// Now, by the node's clock.
    fn now(&self) -> u64 {
        self.holder.now()
    }
}

/// Logs the refusal of a descriptor, filter or delta request by policy, then returns it.
pub(crate) fn refuse_sync(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    collection: &str,
    what: &str,
    err: RemoteError,
) -> RemoteError {
    let mut e = a.audit.entry(
        a.now(),
        EntryKind::QueryRefused,
        partner_actor(partner, fingerprint),
    );
    e.partner = Some(partner.to_string());
    e.collection = Some(CollectionName::loggable(collection));
    e.reason = Some(format!("{what}: {}: {}", err.code.as_str(), err.message));
    if let Err(le) = a.audit.append(&[e]) {
        tracing::error!(error = %le, "could not log a refusal");
    }
    tracing::info!(partner, code = err.code.as_str(), what, "request refused");
    a.metrics.refused_partner(partner, err.code, false);
    err
}

/// Logs a refusal, then returns it. If even the log fails, the refusal still goes out: the
/// partner gets no data either way.
fn refused(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    items: u64,
    err: RemoteError,
) -> PartnerResponse {
    let mut e = base_entry(a, EntryKind::QueryRefused, partner, fingerprint, req, items);
    e.reason = Some(format!("{}: {}", err.code.as_str(), err.message));
    if let Err(le) = a.audit.append(&[e]) {
        tracing::error!(error = %le, "could not log a refusal");
    }
    tracing::info!(partner, code = err.code.as_str(), "evaluation refused");
    a.metrics.refused_partner(partner, err.code, true);
    PartnerResponse::Error(err)
}

/// The refusal sentence of a spent budget: how much, and when it opens again.
fn budget_sentence(a: &Answerer, partner: &str, collection: &str, s: &Spent) -> String {
    let now = a.now();
    let left = crate::budget::DAY - now % crate::budget::DAY;
    let base = format!(
        "{partner} has used {} of its {} items a day for collection `{collection}` at {}",
        s.used,
        s.limit,
        a.holder.node()
    );
    if s.asked > s.limit {
        format!(
            "{base}; a request of {} items can never fit, split it",
            s.asked
        )
    } else {
        format!(
            "{base}, and this request asks for {} more; the budget opens again at 00:00 UTC, in {}h{:02}m",
            s.asked,
            left / 3600,
            left % 3600 / 60
        )
    }
}

/// An evaluation request admitted: the epoch it is for, its claimed query id and its
/// reserved budget.
struct Admitted<'a> {
    epoch: Arc<HolderEpoch>,
    claim: Claim<'a>,
    reservation: Reservation,
}

/// The holder's admission of an evaluation request, in order: a valid collection name, a
/// grant in this mode (a partner without one learns nothing, not even whether the collection
/// exists), the current epoch, the size, a fresh query id, and the budget. The first check
/// that fails gives the refusal.
fn admit<'a>(
    a: &'a Answerer,
    partner: &str,
    req: &EvaluateRequest,
    n: u64,
) -> Result<Admitted<'a>, RemoteError> {
    if CollectionName::parse(&req.collection).is_err() {
        return Err(RemoteError::new(
            ErrorCode::BadRequest,
            format!(
                "the collection name ({} bytes) is not a valid collection name",
                req.collection.len()
            ),
        ));
    }
    let policy = a.governance.policy();
    let grant = policy.check_mode(partner, &req.collection, req.mode)?;
    let epoch = a.holder.epoch_at(&req.collection, req.epoch)?;
    let node_max = a.governance.max_items_per_query();
    let max = grant.max_items_per_query.unwrap_or(node_max).min(node_max);
    if n > max {
        return Err(RemoteError::new(
            ErrorCode::TooManyItems,
            format!(
                "{n} items in one request; {} accepts at most {max} per request from {partner}",
                a.holder.node()
            ),
        ));
    }
    if let Err(err) = unpack("blinded", &req.blinded) {
        return Err(RemoteError::new(ErrorCode::BadRequest, err.to_string()));
    }
    let day = crate::budget::day_of(a.now());
    // One answer per query id and partner: a replay would put two receipts with one exchange
    // id into both logs.
    let claim = match a.governance.claim(&a.audit, day, partner, &req.query_id) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(RemoteError::new(
                ErrorCode::ReplayedQuery,
                format!(
                    "query id {} was already answered for {partner} by {}; every request needs a fresh random query id",
                    hex::encode(*req.query_id),
                    a.holder.node()
                ),
            ))
        }
        Err(err) => {
            tracing::error!(error = %err, "could not read the answered query ids");
            return Err(RemoteError::new(
                ErrorCode::Internal,
                "the holder could not check the query id; nothing was evaluated, try again later",
            ));
        }
    };
    let who = (partner, req.collection.as_str());
    let reservation = match a
        .governance
        .reserve(&a.audit, day, who, n, grant.daily_items)
    {
        Ok(Ok(r)) => r,
        Ok(Err(spent)) => {
            return Err(RemoteError::new(
                ErrorCode::BudgetExhausted,
                budget_sentence(a, partner, &req.collection, &spent),
            ))
        }
        Err(err) => {
            tracing::error!(error = %err, "could not read a budget");
            return Err(RemoteError::new(
                ErrorCode::Internal,
                "the holder could not read the budget; nothing was evaluated, try again later",
            ));
        }
    };
    Ok(Admitted {
        epoch,
        claim,
        reservation,
    })
}

/// Answers one evaluation (runs on a blocking thread: group arithmetic and fsync).
pub(crate) fn evaluate(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: EvaluateRequest,
) -> PartnerResponse {
    let n = (req.blinded.len() / 32) as u64;
    let ok = match admit(a, partner, &req, n) {
        Ok(ok) => ok,
        Err(r) => return refused(a, partner, fingerprint, &req, n, r),
    };
    // Count mode shuffles the answers and proves only their sum (cordon_protocol::count).
    let evaluate = match req.mode {
        QueryMode::Match => exchange::holder_evaluate::<rand::rngs::OsRng>,
        QueryMode::Count => count::holder_evaluate_count::<rand::rngs::OsRng>,
    };
    let e = &ok.epoch;
    let (evaluated, proof) = match evaluate(&e.sk, &e.pk, &req.blinded, &mut rand::rngs::OsRng) {
        Ok(x) => x,
        Err(err) => {
            a.governance.release(ok.reservation);
            let r = RemoteError::new(ErrorCode::BadRequest, err.to_string());
            return refused(a, partner, fingerprint, &req, n, r);
        }
    };
    match finish(a, partner, fingerprint, &req, n, &ok) {
        Ok((receipt, audit)) => {
            tracing::info!(
                partner,
                collection = %req.collection,
                epoch = req.epoch,
                items = n,
                mode = req.mode.as_str(),
                exchange_id = %hex::encode(*req.query_id),
                "query answered"
            );
            a.metrics.query_answered(partner);
            PartnerResponse::Evaluated(EvaluateResponse {
                query_id: req.query_id,
                epoch: req.epoch,
                evaluated,
                proof: ByteArray::new(proof),
                receipt,
                audit,
            })
        }
        Err(err) => {
            // Nothing is sent that was not logged.
            a.governance.release(ok.reservation);
            tracing::error!(error = %err, "could not log an answer; refusing it");
            a.metrics
                .refused_partner(partner, ErrorCode::Internal, true);
            PartnerResponse::Error(RemoteError::new(
                ErrorCode::Internal,
                "the holder could not log this answer; nothing was disclosed, try again later",
            ))
        }
    }
}

/// Signs the receipt, processes the querier's checkpoint, and commits the answer's entry with
/// the partner's audit state, its spent budget and its query id in one transaction.
fn finish(
    a: &Answerer,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    n: u64,
    ok: &Admitted<'_>,
) -> Result<(String, Option<AuditReply>), NodeError> {
    let now = a.now();
    let receipt = a.holder.sign_receipt(&Receipt {
        exchange_id: *req.query_id,
        holder: a.holder.node().to_string(),
        querier: partner.to_string(),
        collection: req.collection.clone(),
        epoch: req.epoch,
        mode: req.mode.as_str().into(),
        items: n,
        request_digest: request_digest(&req.blinded),
        time: now,
    })?;
    let mut exchange = a.audit.exchange(partner)?;
    let (cosignature, alert) = match &req.audit {
        Some(h) => exchange.on_hello(h, now)?,
        None => (None, None),
    };
    let mut entry = base_entry(a, EntryKind::QueryAnswered, partner, fingerprint, req, n);
    entry.receipt = Some(receipt.clone());
    let mut entries = vec![entry];
    if let Some(alert) = &alert {
        let mut flag = base_entry(
            a,
            EntryKind::PartnerInconsistent,
            partner,
            fingerprint,
            req,
            n,
        );
        flag.reason = Some(alert.reason.clone());
        entries.push(flag);
    }
    let size = exchange.commit(&entries, alert.as_ref(), |txn, size, state| {
        // The querier will keep the checkpoint of this size (the one the reply carries)
        // unless it finds it inconsistent: our next request to it proves consistency from
        // there.
        if req.audit.is_some() {
            state.known_by_them = size;
        }
        // The budget spent commits with the entry: an answer sent is never refunded by a
        // crash.
        a.governance.persist_answer(txn, &ok.reservation, &ok.claim)
    })?;
    let reply = match (&req.audit, exchange.keys()) {
        (Some(h), Some(_)) => Some(exchange.reply(h, size, cosignature)?),
        _ => None,
    };
    Ok((receipt, reply))
}
