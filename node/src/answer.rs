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
    unpack, EvaluateRequest, EvaluateResponse, PartnerResponse, QueryMode,
};
use cordon_protocol::{count, exchange};

use crate::audit::witness;
use crate::error::NodeError;
use crate::Shared;

fn base_entry(
    shared: &Shared,
    kind: EntryKind,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    items: u64,
) -> Entry {
    let mut e = shared.audit.entry(
        shared.clock.now_unix(),
        kind,
        Actor {
            name: partner.to_string(),
            role: "partner".into(),
            fingerprint: hex::encode(fingerprint),
        },
    );
    e.partner = Some(partner.to_string());
    // The name comes from the partner: logged only if it is a valid collection name.
    e.collection = Some(match crate::import::validate_collection(&req.collection) {
        Ok(()) => req.collection.clone(),
        Err(_) => format!("<invalid name of {} bytes>", req.collection.len()),
    });
    e.mode = Some(req.mode.as_str().into());
    e.exchange_id = Some(hex::encode(*req.query_id));
    e.epoch = Some(req.epoch);
    e.items = Some(items);
    e
}

/// Logs the refusal of a descriptor, filter or delta request by policy, then returns it.
pub(crate) fn refuse_sync(
    shared: &Shared,
    partner: &str,
    fingerprint: &[u8; 32],
    collection: &str,
    what: &str,
    err: RemoteError,
) -> RemoteError {
    let mut e = shared.audit.entry(
        shared.clock.now_unix(),
        EntryKind::QueryRefused,
        Actor {
            name: partner.to_string(),
            role: "partner".into(),
            fingerprint: hex::encode(fingerprint),
        },
    );
    e.partner = Some(partner.to_string());
    e.collection = Some(match crate::import::validate_collection(collection) {
        Ok(()) => collection.to_string(),
        Err(_) => format!("<invalid name of {} bytes>", collection.len()),
    });
    e.reason = Some(format!("{what}: {}: {}", err.code.as_str(), err.message));
    if let Err(le) = shared.audit.append(shared.audit.db(), &[e]) {
        tracing::error!(error = %le, "could not log a refusal");
    }
    tracing::info!(partner, code = err.code.as_str(), what, "request refused");
    shared.metrics.refused_partner(partner, err.code, false);
    err
}

/// Logs a refusal, then returns it. If even the log fails, the refusal still goes out: the
/// partner gets no data either way.
fn refused(
    shared: &Shared,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    items: u64,
    err: RemoteError,
) -> PartnerResponse {
    let mut e = base_entry(
        shared,
        EntryKind::QueryRefused,
        partner,
        fingerprint,
        req,
        items,
    );
    e.reason = Some(format!("{}: {}", err.code.as_str(), err.message));
    if let Err(le) = shared.audit.append(shared.audit.db(), &[e]) {
        tracing::error!(error = %le, "could not log a refusal");
    }
    tracing::info!(partner, code = err.code.as_str(), "evaluation refused");
    shared.metrics.refused_partner(partner, err.code, true);
    PartnerResponse::Error(err)
}

/// The refusal sentence of a spent budget: how much, and when it opens again.
fn budget_sentence(
    shared: &Shared,
    partner: &str,
    collection: &str,
    s: &crate::budget::Spent,
) -> String {
    let now = shared.clock.now_unix();
    let left = crate::budget::DAY - now % crate::budget::DAY;
    let base = format!(
        "{partner} has used {} of its {} items a day for collection `{collection}` at {}",
        s.used, s.limit, shared.config.node.name
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

/// Answers one evaluation (runs on a blocking thread: group arithmetic and fsync).
pub(crate) fn evaluate(
    shared: &Arc<Shared>,
    partner: &str,
    fingerprint: &[u8; 32],
    req: EvaluateRequest,
) -> PartnerResponse {
    let n = (req.blinded.len() / 32) as u64;
    if crate::import::validate_collection(&req.collection).is_err() {
        let r = RemoteError::new(
            ErrorCode::BadRequest,
            format!(
                "the collection name ({} bytes) is not a valid collection name",
                req.collection.len()
            ),
        );
        return refused(shared, partner, fingerprint, &req, n, r);
    }
    // The grant comes first: a partner without one learns nothing, not even whether the
    // collection exists.
    let grant = match shared
        .policy()
        .check_mode(partner, &req.collection, req.mode)
    {
        Ok(g) => g.clone(),
        Err(r) => return refused(shared, partner, fingerprint, &req, n, r),
    };
    let e = match shared.epoch_at(&req.collection, req.epoch) {
        Ok(e) => e,
        Err(r) => return refused(shared, partner, fingerprint, &req, n, r),
    };
    let node_max = shared.config.limits.max_items_per_query as u64;
    let max = grant.max_items_per_query.unwrap_or(node_max).min(node_max);
    if n > max {
        let r = RemoteError::new(
            ErrorCode::TooManyItems,
            format!(
                "{n} items in one request; {} accepts at most {max} per request from {partner}",
                shared.config.node.name
            ),
        );
        return refused(shared, partner, fingerprint, &req, n, r);
    }
    if let Err(err) = unpack("blinded", &req.blinded) {
        let r = RemoteError::new(ErrorCode::BadRequest, err.to_string());
        return refused(shared, partner, fingerprint, &req, n, r);
    }
    let day = crate::budget::day_of(shared.clock.now_unix());
    // One answer per query id and partner: a replay would put two receipts with one exchange
    // id into both logs.
    let claim = match shared
        .replay
        .claim(shared.audit.db(), day, partner, &req.query_id)
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            let r = RemoteError::new(
                ErrorCode::ReplayedQuery,
                format!(
                    "query id {} was already answered for {partner} by {}; every request needs a fresh random query id",
                    hex::encode(*req.query_id),
                    shared.config.node.name
                ),
            );
            return refused(shared, partner, fingerprint, &req, n, r);
        }
        Err(err) => {
            tracing::error!(error = %err, "could not read the answered query ids");
            let r = RemoteError::new(
                ErrorCode::Internal,
                "the holder could not check the query id; nothing was evaluated, try again later",
            );
            return refused(shared, partner, fingerprint, &req, n, r);
        }
    };
    let reservation = match shared.budgets.reserve(
        shared.audit.db(),
        day,
        partner,
        &req.collection,
        n,
        grant.daily_items,
    ) {
        Ok(Ok(r)) => r,
        Ok(Err(spent)) => {
            let r = RemoteError::new(
                ErrorCode::BudgetExhausted,
                budget_sentence(shared, partner, &req.collection, &spent),
            );
            return refused(shared, partner, fingerprint, &req, n, r);
        }
        Err(err) => {
            tracing::error!(error = %err, "could not read a budget");
            let r = RemoteError::new(
                ErrorCode::Internal,
                "the holder could not read the budget; nothing was evaluated, try again later",
            );
            return refused(shared, partner, fingerprint, &req, n, r);
        }
    };
    // Count mode shuffles the answers and proves only their sum (cordon_protocol::count).
    let evaluate = match req.mode {
        QueryMode::Match => exchange::holder_evaluate::<rand::rngs::OsRng>,
        QueryMode::Count => count::holder_evaluate_count::<rand::rngs::OsRng>,
    };
    let (evaluated, proof) = match evaluate(&e.sk, &e.pk, &req.blinded, &mut rand::rngs::OsRng) {
        Ok(x) => x,
        Err(err) => {
            shared.budgets.release(reservation);
            let r = RemoteError::new(ErrorCode::BadRequest, err.to_string());
            return refused(shared, partner, fingerprint, &req, n, r);
        }
    };
    match finish(shared, partner, fingerprint, &req, n, &reservation, &claim) {
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
            shared.metrics.query_answered(partner);
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
            shared.budgets.release(reservation);
            tracing::error!(error = %err, "could not log an answer; refusing it");
            shared
                .metrics
                .refused_partner(partner, ErrorCode::Internal, true);
            PartnerResponse::Error(RemoteError::new(
                ErrorCode::Internal,
                "the holder could not log this answer; nothing was disclosed, try again later",
            ))
        }
    }
}

/// Signs the receipt, processes the querier's checkpoint, and commits the answer's entry with
/// the partner's audit state in one transaction.
fn finish(
    shared: &Shared,
    partner: &str,
    fingerprint: &[u8; 32],
    req: &EvaluateRequest,
    n: u64,
    reservation: &crate::budget::Reservation,
    claim: &crate::replay::Claim<'_>,
) -> Result<(String, Option<cordon_protocol::messages::AuditReply>), NodeError> {
    let now = shared.clock.now_unix();
    let receipt = Receipt {
        exchange_id: *req.query_id,
        holder: shared.config.node.name.clone(),
        querier: partner.to_string(),
        collection: req.collection.clone(),
        epoch: req.epoch,
        mode: req.mode.as_str().into(),
        items: n,
        request_digest: request_digest(&req.blinded),
        time: now,
    }
    .sign(&shared.receipt_signer)
    .map_err(|e| NodeError::internal(format!("signing the receipt: {e}")))?;
    let db = shared.audit.db();
    let keys = shared.partner_log_keys.get(partner);
    let _serial = shared.audit_lock.lock().unwrap_or_else(|p| p.into_inner());
    let state = witness::load(db, partner)?;
    let (state, cosignature, alert) = match (&req.audit, keys) {
        (Some(h), Some(k)) => witness::on_hello(
            &shared.audit,
            db,
            partner,
            state,
            h,
            k,
            &shared.witness,
            now,
        )?,
        _ => (state, None, None),
    };
    let mut entry = base_entry(
        shared,
        EntryKind::QueryAnswered,
        partner,
        fingerprint,
        req,
        n,
    );
    entry.receipt = Some(receipt.clone());
    let mut entries = vec![entry];
    if let Some(a) = &alert {
        let mut flag = base_entry(
            shared,
            EntryKind::PartnerInconsistent,
            partner,
            fingerprint,
            req,
            n,
        );
        flag.reason = Some(a.reason.clone());
        entries.push(flag);
    }
    let txn = db.begin_write()?;
    let staged = shared.audit.stage(&txn, &entries)?;
    let size = staged.size_after();
    // The querier will keep the checkpoint of this size (the one the reply carries) unless it
    // finds it inconsistent: our next request to it proves consistency from there.
    let mut state = state;
    if req.audit.is_some() {
        state.known_by_them = size;
    }
    witness::save(&txn, partner, &state, alert.as_ref())?;
    // The budget spent commits with the entry: an answer sent is never refunded by a crash.
    shared.budgets.persist(&txn, reservation)?;
    claim.persist(&txn)?;
    txn.commit()?;
    staged.applied();
    let reply = match (&req.audit, keys) {
        (Some(h), Some(_)) => Some(witness::reply(
            &shared.audit,
            db,
            h,
            size,
            cosignature,
            &state,
        )?),
        _ => None,
    };
    Ok((receipt, reply))
}
