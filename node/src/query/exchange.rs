//! One partner's part of a query: bring its filter up to date, blind, log what is sent, have
//! it evaluate, verify the receipt and the proof, unblind, look the tags up, and log the answer
//! with the partner's checkpoint before the investigator sees it. Retried once from a fresh
//! descriptor when the holder says the epoch went stale between the descriptor and the
//! evaluation (it rotated meanwhile).

use std::sync::Arc;

use rand::RngCore;
use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::{Entry, EntryKind};
use cordon_protocol::audit::receipt::request_digest;
use cordon_protocol::control::{FailureCode, FilterSource, Hit, ItemMatch, Name, PartnerOutcome};
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::exchange::FinishError;
use cordon_protocol::messages::{
    AuditHello, AuditReply, EvaluateRequest, EvaluateResponse, PartnerRequest, PartnerResponse,
};
use cordon_protocol::{ErrorCode, WireError};

use super::items::Batch;
use super::QueryCtx;
use crate::error::{NodeError, PeerError};
use crate::partner_client::{PartnerEpoch, Traffic};
use crate::querier::Expected;

/// One partner's whole answer, retried once if its epoch went stale meanwhile.
pub(super) async fn ask_partner(
    ctx: &Arc<QueryCtx>,
    partner: &str,
    mut signed: SignedDescriptor,
    mut d: EpochDescriptor,
) -> Result<PartnerOutcome, NodeError> {
    let mut traffic = Traffic::default();
    if d.kind != ctx.kind.as_str() {
        return Ok(PartnerOutcome::Failed {
            code: FailureCode::KindMismatch.into(),
            message: format!(
                "{partner}'s collection `{}` holds `{}` identifiers, but the items were read as `{}`",
                ctx.collection,
                d.kind,
                ctx.kind.as_str()
            ),
        });
    }
    match ask_once(ctx, partner, &signed, &d, &mut traffic).await {
        Err(NodeError::Peer(PeerError::Refused(e))) if e.code == ErrorCode::StaleEpoch => {
            (signed, d) = ctx
                .parts
                .querier
                .fetch_descriptor(partner, &ctx.collection)
                .await?;
            ask_once(ctx, partner, &signed, &d, &mut traffic).await
        }
        other => other,
    }
}

/// The partner's verified answer to one evaluation request.
struct Evaluated {
    /// The exchange id.
    qid: [u8; 16],
    /// Items sent.
    items: u64,
    /// The blinded batch (to unblind the answer).
    batch: Batch,
    /// The answer.
    response: EvaluateResponse,
    /// The holder's receipt, checked and trimmed.
    receipt: String,
    /// The checkpoint hello sent with the request.
    hello: AuditHello,
}

async fn ask_once(
    ctx: &Arc<QueryCtx>,
    partner: &str,
    signed: &SignedDescriptor,
    d: &EpochDescriptor,
    traffic: &mut Traffic,
) -> Result<PartnerOutcome, NodeError> {
    let querier = &ctx.parts.querier;
    let cached = querier.partner_epoch(partner, &ctx.collection)?;
    let (epoch, how) = querier
        .sync(partner, signed.clone(), d.clone(), cached, traffic)
        .await?;
    if how != FilterSource::Cached {
        querier
            .save_partner_epoch(partner, &ctx.collection, epoch.clone())
            .await?;
    }
    let mut ev = evaluate(ctx, partner, d, traffic).await?;
    let reply = ev.response.audit.take();
    let qid = ev.qid;
    let (items, hello, receipt) = (ev.items, ev.hello.clone(), std::mem::take(&mut ev.receipt));
    let counting = matches!(ev.batch, Batch::Count(_));
    let (hits, matches, count) = unblind(ctx, ev, epoch, d).await?;
    tracing::debug!(partner, wire_query_id = %hex::encode(qid), "evaluation verified");
    // Logged with the receipt and the partner's checkpoint before the investigator sees it.
    let mut done = ctx.entry(EntryKind::QueryCompleted, partner);
    done.exchange_id = Some(hex::encode(qid));
    done.epoch = Some(d.epoch);
    done.items = Some(items);
    done.hits = Some(count as u64);
    done.receipt = Some(receipt);
    let (c, p) = (ctx.clone(), partner.to_string());
    tokio::task::spawn_blocking(move || complete(&c, &p, done, &hello, reply.as_ref()))
        .await
        .map_err(|e| NodeError::internal(format!("audit log writer failed: {e}")))??;
    Ok(PartnerOutcome::Answered {
        epoch: d.epoch,
        partner_records: d.record_count + d.delta_count,
        hits,
        matches,
        filter: how.as_str().to_string(),
        bytes_sent: traffic.sent,
        bytes_received: traffic.received,
        count: counting.then_some(count as u64),
    })
}

/// Blinds the items afresh, logs the request durably, sends it with this node's checkpoint,
/// and checks that the answer is for this request and carries a valid receipt.
async fn evaluate(
    ctx: &Arc<QueryCtx>,
    partner: &str,
    d: &EpochDescriptor,
    traffic: &mut Traffic,
) -> Result<Evaluated, NodeError> {
    let c = ctx.clone();
    let batch = tokio::task::spawn_blocking(move || Batch::new(c.mode, &c.hashed))
        .await
        .map_err(|e| NodeError::internal(format!("blinding failed: {e}")))?;
    // A fresh identifier per partner and attempt, so holders cannot link their logs by it.
    let mut qid = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut qid);
    let blinded = batch.request_bytes();
    let items = (blinded.len() / 32) as u64;
    let digest = request_digest(&blinded);
    // Logged durably before the request leaves.
    let mut sent = ctx.entry(EntryKind::QuerySent, partner);
    sent.exchange_id = Some(hex::encode(qid));
    sent.epoch = Some(d.epoch);
    sent.items = Some(items);
    ctx.log(vec![sent]).await?;
    ctx.sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(partner.to_string(), (hex::encode(qid), d.epoch));
    let hello = hello(ctx, partner).await?;
    let req = PartnerRequest::Evaluate(EvaluateRequest {
        query_id: ByteArray::new(qid),
        collection: ctx.collection.to_string(),
        epoch: d.epoch,
        blinded,
        mode: ctx.mode,
        audit: Some(hello.clone()),
    });
    let querier = &ctx.parts.querier;
    let PartnerResponse::Evaluated(mut response) = querier.request(partner, &req, traffic).await?
    else {
        return Err(NodeError::from(WireError::Malformed(
            "expected an evaluation".into(),
        )));
    };
    if *response.query_id != qid || response.epoch != d.epoch {
        return Err(NodeError::from(WireError::Malformed(
            "the answer is for another query or epoch".into(),
        )));
    }
    let note = std::mem::take(&mut response.receipt);
    let expected = Expected {
        qid: &qid,
        collection: &ctx.collection,
        epoch: d.epoch,
        items,
        digest: &digest,
        mode: ctx.mode,
    };
    let receipt = querier.check_receipt(partner, &note, &expected)?;
    Ok(Evaluated {
        qid,
        items,
        batch,
        response,
        receipt,
        hello,
    })
}

/// This node's checkpoint hello for `partner` (which must have log keys configured).
async fn hello(ctx: &QueryCtx, partner: &str) -> Result<AuditHello, NodeError> {
    let audit = ctx.parts.audit.clone();
    if audit.partner_keys(partner).is_none() {
        return Err(NodeError::setup(format!(
            "no log keys configured for `{partner}`"
        )));
    }
    let p = partner.to_string();
    tokio::task::spawn_blocking(move || audit.hello(&p))
        .await
        .map_err(|e| NodeError::internal(format!("audit hello failed: {e}")))?
}

/// Verifies the proof, unblinds, and looks the tags up in the partner's epoch (off the async
/// threads): the hits and matches, and how many items the partner holds.
async fn unblind(
    ctx: &Arc<QueryCtx>,
    ev: Evaluated,
    epoch: Arc<PartnerEpoch>,
    d: &EpochDescriptor,
) -> Result<(Vec<Hit>, Vec<ItemMatch>, usize), NodeError> {
    let ctx = ctx.clone();
    let (pk, epoch_no) = (*d.public_key, d.epoch);
    tokio::task::spawn_blocking(move || {
        let r = &ev.response;
        let tags = ev
            .batch
            .finish(&pk, &r.evaluated, &r.proof)
            .map_err(|e| match e {
                FinishError::Wire(w) => NodeError::from(w),
                FinishError::Verify(v) => NodeError::from(v),
            })?;
        let found: Vec<usize> = (0..tags.len())
            .filter(|i| epoch.contains(&tags[*i]))
            .collect();
        if matches!(ev.batch, Batch::Count(_)) {
            // The tags are in the holder's order: they say how many, never which.
            return Ok((Vec::new(), Vec::new(), found.len()));
        }
        let hits: Vec<Hit> = found
            .iter()
            .map(|i| ctx.map.hit(*i, &tags[*i], &ctx.collection, epoch_no))
            .collect();
        let matches = ctx.map.matches(&found);
        let n = matches.len();
        Ok((hits, matches, n))
    })
    .await
    .map_err(|e| NodeError::internal(format!("verification failed: {e}")))?
}

/// Logs a completed exchange and the partner's checkpoint in one transaction.
fn complete(
    ctx: &QueryCtx,
    partner: &str,
    done: Entry,
    sent: &AuditHello,
    reply: Option<&AuditReply>,
) -> Result<(), NodeError> {
    let mut exchange = ctx.parts.audit.exchange(partner)?;
    let alert = match (reply, exchange.keys()) {
        (Some(r), Some(_)) => exchange.on_reply(sent, r, ctx.parts.querier.now())?,
        _ => {
            tracing::warn!(
                partner,
                "the partner's answer carried no checkpoint; nothing to cosign"
            );
            None
        }
    };
    let mut entries = vec![done.clone()];
    if let Some(a) = &alert {
        let mut flag = done;
        flag.kind = EntryKind::PartnerInconsistent;
        flag.receipt = None;
        flag.hits = None;
        flag.reason = Some(a.reason.clone());
        entries.push(flag);
    }
    exchange.commit(&entries, alert.as_ref(), |_, _, _| Ok(()))?;
    Ok(())
}
