//! The querier's fan-out: one investigator query to every chosen partner at once.
//!
//! Per partner: fetch and verify the signed descriptor, bring the cached filter up to date
//! (reuse, delta or full), blind the items afresh, have the partner evaluate them, verify the
//! proof, unblind, and look the tags up ([`exchange`]). Each partner has its own time-out and
//! its own error; a slow or failing partner never holds back the others' answers.
//!
//! The raw items exist only in memory for the duration of the query: they are neither logged
//! nor stored.

mod exchange;
mod failure;
mod items;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture, FutureExt};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::RngCore;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::collection::CollectionName;
use cordon_protocol::control::Named;
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::exchange::HashedInputs;
use cordon_protocol::ident::{self, Kind};
use cordon_protocol::messages::{QueryMode, MAX_ITEMS_PER_REQUEST};

use crate::audit::AuditLog;
use crate::control::{PartnerOutcome, PartnerResult, QueryReply, QueryRequest};
use crate::error::NodeError;
use crate::metrics::Metrics;
use crate::querier::Querier;

use failure::failed;
use items::{prepare, ItemMap};

/// What a query uses: the partners, the log, the metrics.
#[derive(Clone)]
pub struct Querying {
    /// Partners, their keys and cached epochs.
    pub querier: Arc<Querier>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
}

fn invalid(message: impl Into<String>) -> NodeError {
    NodeError::request(message)
}

/// One partner's descriptor, fetched once and awaited by whoever needs it first.
type SharedDescriptor = futures_util::future::Shared<
    BoxFuture<'static, Arc<Result<(SignedDescriptor, EpochDescriptor), NodeError>>>,
>;

/// One query, as every exchange of it needs it: what it logs, and the items ready to blind.
struct QueryCtx {
    parts: Querying,
    query_id: String,
    actor: Actor,
    case_ref: String,
    purpose: String,
    collection: CollectionName,
    kind: Kind,
    /// What the investigator asked to learn.
    mode: QueryMode,
    hashed: HashedInputs,
    map: ItemMap,
    /// Per partner, the exchange id and epoch of the last request sent, so that a failure is
    /// logged against the exchange it ended.
    sent: Mutex<HashMap<String, (String, u64)>>,
}

impl QueryCtx {
    fn entry(&self, kind: EntryKind, partner: &str) -> Entry {
        let mut e = self
            .parts
            .audit
            .entry(self.parts.querier.now(), kind, self.actor.clone());
        e.partner = Some(partner.to_string());
        e.collection = Some(self.collection.to_string());
        e.mode = Some(self.mode.as_str().into());
        e.query_id = Some(self.query_id.clone());
        e.case_ref = Some(self.case_ref.clone());
        e.purpose = Some(self.purpose.clone());
        e
    }

    /// Appends entries durably, off the async threads.
    async fn log(&self, entries: Vec<Entry>) -> Result<u64, NodeError> {
        let audit = self.parts.audit.clone();
        tokio::task::spawn_blocking(move || audit.append(&entries))
            .await
            .map_err(|e| NodeError::internal(format!("audit log writer failed: {e}")))?
    }
}

/// The request checked: its collection and the partners to ask.
fn checked(
    querier: &Querier,
    q: &QueryRequest,
) -> Result<(CollectionName, Vec<String>), NodeError> {
    if q.case_ref.trim().is_empty() {
        return Err(invalid(
            "a case reference is required; pass --case with the case this query serves",
        ));
    }
    if q.purpose.trim().is_empty() {
        return Err(invalid(
            "a purpose is required; pass --purpose stating why these items are queried",
        ));
    }
    if q.items.is_empty() {
        return Err(invalid(
            "the query has no items; the file holds no values to ask about",
        ));
    }
    let max = querier.max_items();
    if q.items.len() > max {
        return Err(invalid(format!(
            "the query has {} items; at most {max} are allowed per query, split the file",
            q.items.len()
        )));
    }
    // Parsed once here; the reply carries the typed name.
    let name = CollectionName::parse(&q.collection).map_err(|e| invalid(e.to_string()))?;
    let me = querier.node();
    if let Some(p) = q.partners.iter().find(|p| !querier.knows(p)) {
        let known = querier.partners();
        return Err(invalid(format!(
            "`{p}` is not a partner of {me}; configured partners: {}",
            if known.is_empty() {
                "none (add one with `cordon partner add`)".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let partners = match q.partners.is_empty() {
        true => querier.partners().to_vec(),
        false => q.partners.clone(),
    };
    if partners.is_empty() {
        return Err(invalid(format!(
            "{me} has no partners yet; add one with `cordon partner add`"
        )));
    }
    Ok((name, partners))
}

/// Every partner's descriptor, fetched at once. Each partner's exchange goes on from its own
/// descriptor as soon as it has it: a partner that hangs or dies holds up no other.
fn descriptors(
    querier: &Arc<Querier>,
    partners: &[String],
    collection: &CollectionName,
    timeout: Duration,
) -> Vec<SharedDescriptor> {
    partners
        .iter()
        .map(|p| {
            let querier = querier.clone();
            let collection = collection.clone();
            let p = p.clone();
            async move {
                let fetch = querier.fetch_descriptor(&p, &collection);
                let r = tokio::time::timeout(timeout, fetch).await;
                Arc::new(r.unwrap_or(Err(NodeError::timeout(timeout))))
            }
            .boxed()
            .shared()
        })
        .collect()
}

/// The kind the items are read as: the user's, else this node's own collection's, else the
/// first partner's whose kind this build knows (only this waits for a descriptor).
async fn kind_of(
    q: &QueryRequest,
    local_kind: Option<String>,
    descriptors: &[SharedDescriptor],
) -> Result<Kind, NodeError> {
    let given = q.kind.clone().or(local_kind);
    if let Some(k) = given {
        return k
            .parse()
            .map_err(|e: ident::IdentError| invalid(e.to_string()));
    }
    // A newer partner's unknown kind is that partner's problem (it will fail with
    // `kind_mismatch`), not the user's.
    let mut pending: FuturesUnordered<SharedDescriptor> = descriptors.iter().cloned().collect();
    let mut unknown = None;
    while let Some(d) = pending.next().await {
        if let Ok((_, d)) = d.as_ref() {
            match d.kind.parse::<Kind>() {
                Ok(k) => return Ok(k),
                Err(_) => unknown = unknown.or(Some(d.kind.clone())),
            }
        }
    }
    match unknown {
        Some(k) => Err(invalid(format!(
            "the partners' collection `{}` declares kind `{k}`, which this node does not know; pass --kind",
            q.collection
        ))),
        None => Ok(Kind::Text),
    }
}

/// The items canonicalised and hashed, once for all partners, in parallel, off the async
/// threads; one bad item stops the query before anything is sent.
async fn prepared(
    querier: &Querier,
    q: &mut QueryRequest,
    kind: Kind,
) -> Result<(HashedInputs, ItemMap), NodeError> {
    if q.mode == QueryMode::Count && kind == Kind::Person {
        return Err(invalid(
            "count mode does not take persons: each person is sent as several match keys, so the count would be of keys, not persons; use --mode match",
        ));
    }
    let opts = q.read.to_ident(querier.default_region());
    let items = std::mem::take(&mut q.items);
    let count = items.len();
    let prepared = tokio::task::spawn_blocking(move || prepare(kind, &items, &opts))
        .await
        .map_err(|e| NodeError::internal(format!("hashing failed: {e}")))?;
    let (hashed, map) = prepared.map_err(|bad| {
        NodeError::invalid(
            format!(
                "{} of {count} items are not valid `{}` identifiers; fix or remove them (nothing was sent)",
                bad.len(),
                kind.as_str()
            ),
            bad.into_iter().take(100).collect(),
        )
    })?;
    if map.owner.len() > MAX_ITEMS_PER_REQUEST {
        return Err(invalid(format!(
            "the {count} items give {} OPRF items (persons give one per match key), more than the {MAX_ITEMS_PER_REQUEST} a request may carry; split the file",
            map.owner.len()
        )));
    }
    Ok((hashed, map))
}

/// Runs a query for the investigator `who`. `local_kind` is the kind of this node's own
/// collection of that name, if it holds one.
pub async fn run_query(
    parts: &Querying,
    who: &Actor,
    mut q: QueryRequest,
    local_kind: Option<String>,
) -> Result<QueryReply, NodeError> {
    let started = Instant::now();
    let querier = &parts.querier;
    let (collection, partners) = checked(querier, &q)?;
    let mut qid = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut qid);
    let query_id = hex::encode(qid);
    tracing::info!(
        query_id,
        user = %who.name,
        case = %q.case_ref,
        purpose = %q.purpose,
        collection = %q.collection,
        items = q.items.len(),
        partners = %partners.join(","),
        "query started"
    );
    let timeout = querier.timeout();
    let descriptors = descriptors(querier, &partners, &collection, timeout);
    let kind = kind_of(&q, local_kind, &descriptors).await?;
    let items = q.items.len() as u64;
    let (hashed, map) = prepared(querier, &mut q, kind).await?;
    let ctx = Arc::new(QueryCtx {
        parts: parts.clone(),
        query_id: query_id.clone(),
        actor: who.clone(),
        case_ref: q.case_ref.clone(),
        purpose: q.purpose.clone(),
        collection,
        kind,
        mode: q.mode,
        hashed,
        map,
        sent: Default::default(),
    });
    let asked = partners.into_iter().zip(descriptors);
    let results = join_all(asked.map(|(p, desc)| ask(&ctx, p, desc, started))).await;
    log_failures(&ctx, &results).await?;
    report(&ctx, &results);
    Ok(QueryReply {
        query_id,
        collection: ctx.collection.clone(),
        kind: Named::Known(kind),
        items,
        partners: results,
    })
}

/// One partner's whole part of the query, within what is left of the query's time.
async fn ask(
    ctx: &Arc<QueryCtx>,
    partner: String,
    desc: SharedDescriptor,
    started: Instant,
) -> PartnerResult {
    let timeout = ctx.parts.querier.timeout();
    let remaining = timeout.saturating_sub(started.elapsed());
    let me = ctx.parts.querier.node();
    let c = ctx.collection.as_str();
    let work = async {
        let (signed, d) = match desc.await.as_ref() {
            Ok((s, d)) => (s.clone(), d.clone()),
            Err(e) => return Ok(failed(me, &partner, c, e)),
        };
        exchange::ask_partner(ctx, &partner, signed, d).await
    };
    let outcome = match tokio::time::timeout(remaining, work).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => failed(me, &partner, c, &e),
        Err(_) => failed(me, &partner, c, &NodeError::timeout(timeout)),
    };
    PartnerResult {
        partner,
        outcome,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// Every partner that did not answer is logged with its reason, before the investigator
/// sees the result.
async fn log_failures(ctx: &QueryCtx, results: &[PartnerResult]) -> Result<(), NodeError> {
    let failures: Vec<Entry> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            PartnerOutcome::Failed { code, message } => {
                let mut e = ctx.entry(EntryKind::QueryFailed, &r.partner);
                let sent = ctx.sent.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((id, epoch)) = sent.get(&r.partner) {
                    e.exchange_id = Some(id.clone());
                    e.epoch = Some(*epoch);
                }
                drop(sent);
                e.items = Some(ctx.map.owner.len() as u64);
                e.reason = Some(format!("{code}: {message}"));
                Some(e)
            }
            PartnerOutcome::Answered { .. } => None,
        })
        .collect();
    if !failures.is_empty() {
        ctx.log(failures).await?;
    }
    Ok(())
}

/// Counts and traces every partner's outcome.
fn report(ctx: &QueryCtx, results: &[PartnerResult]) {
    let query_id = &ctx.query_id;
    for r in results {
        ctx.parts.metrics.query_sent(&r.partner, &r.outcome);
        match &r.outcome {
            PartnerOutcome::Answered {
                hits, epoch, count, ..
            } => {
                let hits = count.unwrap_or(hits.len() as u64);
                tracing::info!(query_id, partner = %r.partner, epoch, hits, ms = r.elapsed_ms, "partner answered")
            }
            PartnerOutcome::Failed { code, message } => {
                // Debug formatting escapes what a partner may have put in its refusal.
                tracing::warn!(query_id, partner = %r.partner, code = code.as_str(), reason = ?message, "partner failed")
            }
        }
    }
}
