//! The querier's fan-out: one investigator query to every chosen partner at once.
//!
//! Per partner: fetch and verify the signed descriptor, bring the cached filter up to date
//! (reuse, delta or full), blind the items afresh, have the partner evaluate them, verify the
//! proof, unblind, and look the tags up. Each partner has its own time-out and its own error;
//! a slow or failing partner never holds back the others' answers.
//!
//! The raw items exist only in memory for the duration of the query: they are neither logged
//! nor stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture, FutureExt};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::RngCore;
use serde_bytes::ByteArray;

use cordon_protocol::count::CountBatch;
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::exchange::{BlindedBatch, FinishError, HashedInputs};
use cordon_protocol::ident::{self, Kind, Options};
use cordon_protocol::messages::MAX_ITEMS_PER_REQUEST;
use cordon_protocol::messages::{EvaluateRequest, PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::oprf::Tag;
use cordon_protocol::person::{self, KeyClass};
use cordon_protocol::ErrorCode;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::audit::receipt::{request_digest, Receipt};
use cordon_protocol::messages::{AuditHello, AuditReply};
use cordon_protocol::VerifyError;

use crate::audit::witness;
use cordon_protocol::collection::CollectionName;
use cordon_protocol::control::{FailureCode, FilterSource, MatchClass, Name, Named};

use crate::control::{Hit, ItemMatch, PartnerOutcome, PartnerResult, QueryReply, QueryRequest};
use crate::error::{NodeError, PeerError, TransportError};
use crate::partner_client::{PartnerEpoch, Traffic};
use crate::Shared;

fn invalid(message: impl Into<String>) -> NodeError {
    NodeError::request(message)
}

/// One partner's descriptor, fetched once and awaited by whoever needs it first.
type SharedDescriptor = futures_util::future::Shared<
    BoxFuture<'static, Arc<Result<(SignedDescriptor, EpochDescriptor), NodeError>>>,
>;

/// What every exchange of one query logs about it.
struct QueryCtx {
    query_id: String,
    actor: Actor,
    case_ref: String,
    purpose: String,
    /// What the investigator asked to learn.
    mode: QueryMode,
    /// Per partner, the exchange id and epoch of the last request sent, so that a failure is
    /// logged against the exchange it ended.
    sent: std::sync::Mutex<std::collections::HashMap<String, (String, u64)>>,
}

impl QueryCtx {
    fn entry(&self, shared: &Shared, kind: EntryKind, partner: &str, collection: &str) -> Entry {
        let mut e = shared
            .audit
            .entry(shared.clock.now_unix(), kind, self.actor.clone());
        e.partner = Some(partner.to_string());
        e.collection = Some(collection.to_string());
        e.mode = Some(self.mode.as_str().into());
        e.query_id = Some(self.query_id.clone());
        e.case_ref = Some(self.case_ref.clone());
        e.purpose = Some(self.purpose.clone());
        e
    }
}

/// Appends entries durably, off the async threads.
async fn log_entries(shared: &Arc<Shared>, entries: Vec<Entry>) -> Result<u64, NodeError> {
    let s = shared.clone();
    tokio::task::spawn_blocking(move || s.audit.append(s.audit.db(), &entries))
        .await
        .map_err(|e| NodeError::internal(format!("audit log writer failed: {e}")))?
}

/// Runs a query for the investigator `who`.
pub async fn run_query(
    shared: &Arc<Shared>,
    who: &Actor,
    mut q: QueryRequest,
) -> Result<QueryReply, NodeError> {
    let user = who.name.as_str();
    let started = Instant::now();
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
    let max = shared.config.limits.max_items_per_query;
    if q.items.len() > max {
        return Err(invalid(format!(
            "the query has {} items; at most {max} are allowed per query, split the file",
            q.items.len()
        )));
    }
    // Parsed once here; the reply carries the typed name.
    let name = CollectionName::parse(&q.collection).map_err(|e| invalid(e.to_string()))?;
    let partners: Vec<String> = if q.partners.is_empty() {
        shared
            .config
            .partners
            .iter()
            .map(|p| p.name.clone())
            .collect()
    } else {
        for p in &q.partners {
            if !shared.partners.knows(p) {
                let known: Vec<&str> = shared
                    .config
                    .partners
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                return Err(invalid(format!(
                    "`{p}` is not a partner of {}; configured partners: {}",
                    shared.config.node.name,
                    if known.is_empty() {
                        "none (add one with `cordon partner add`)".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        q.partners.clone()
    };
    if partners.is_empty() {
        return Err(invalid(format!(
            "{} has no partners yet; add one with `cordon partner add`",
            shared.config.node.name
        )));
    }

    let mut qid = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut qid);
    let query_id = hex::encode(qid);
    tracing::info!(
        query_id,
        user,
        case = %q.case_ref,
        purpose = %q.purpose,
        collection = %q.collection,
        items = q.items.len(),
        partners = %partners.join(","),
        "query started"
    );
    let timeout = shared.config.limits.query_timeout;
    let ctx = Arc::new(QueryCtx {
        query_id: query_id.clone(),
        actor: who.clone(),
        case_ref: q.case_ref.clone(),
        purpose: q.purpose.clone(),
        mode: q.mode,
        sent: Default::default(),
    });

    // Phase 1: descriptors, fetched for all partners at once. Each partner's exchange goes on
    // from its own descriptor as soon as it has it: a partner that hangs or dies holds up no
    // other (only learning the kind, when neither the user nor this node knows it, waits for
    // the first partner that names one).
    let descriptors: Vec<SharedDescriptor> = partners
        .iter()
        .map(|p| {
            let shared = shared.clone();
            let collection = q.collection.clone();
            let p = p.clone();
            async move {
                let r =
                    tokio::time::timeout(timeout, fetch_descriptor(&shared, &p, &collection)).await;
                Arc::new(r.unwrap_or(Err(NodeError::timeout(timeout))))
            }
            .boxed()
            .shared()
        })
        .collect();

    let kind: Kind = match (&q.kind, shared.local_kind(&q.collection)) {
        (Some(k), _) => k
            .parse()
            .map_err(|e: ident::IdentError| invalid(e.to_string()))?,
        (None, Some(k)) => k
            .parse()
            .map_err(|e: ident::IdentError| invalid(e.to_string()))?,
        // The first partner whose kind this build knows; a newer partner's unknown kind is
        // that partner's problem (it will fail with `kind_mismatch`), not the user's.
        (None, None) => {
            let mut pending: FuturesUnordered<SharedDescriptor> =
                descriptors.iter().cloned().collect();
            let mut known = None;
            let mut unknown = None;
            while let Some(d) = pending.next().await {
                if let Ok((_, d)) = d.as_ref() {
                    match d.kind.parse::<Kind>() {
                        Ok(k) => {
                            known = Some(k);
                            break;
                        }
                        Err(_) => unknown = unknown.or(Some(d.kind.clone())),
                    }
                }
            }
            match (known, unknown) {
                (Some(k), _) => k,
                (None, Some(k)) => {
                    return Err(invalid(format!(
                        "the partners' collection `{}` declares kind `{k}`, which this node does not know; pass --kind",
                        q.collection
                    )))
                }
                (None, None) => Kind::Text,
            }
        }
    };

    if q.mode == QueryMode::Count && kind == Kind::Person {
        return Err(invalid(
            "count mode does not take persons: each person is sent as several match keys, so the count would be of keys, not persons; use --mode match",
        ));
    }

    // Canonicalise every item; one bad item stops the query before anything is sent.
    let opts = q
        .read
        .to_ident(shared.config.identifiers.default_region.as_deref());
    // Canonicalising and hashing to the group both cost microseconds per item: done once for
    // all partners, in parallel, off the async threads.
    let items = Arc::new(std::mem::take(&mut q.items));
    let items2 = items.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(kind, &items2, &opts))
        .await
        .map_err(|e| NodeError::internal(format!("hashing failed: {e}")))?;
    let (hashed, map) = match prepared {
        Ok((h, m)) => (Arc::new(h), Arc::new(m)),
        Err(bad) => {
            return Err(NodeError::invalid(
                format!(
                    "{} of {} items are not valid `{}` identifiers; fix or remove them (nothing was sent)",
                    bad.len(),
                    items.len(),
                    kind.as_str()
                ),
                bad.into_iter().take(100).collect(),
            ))
        }
    };
    if map.owner.len() > MAX_ITEMS_PER_REQUEST {
        return Err(invalid(format!(
            "the {} items give {} OPRF items (persons give one per match key), more than the {MAX_ITEMS_PER_REQUEST} a request may carry; split the file",
            items.len(),
            map.owner.len()
        )));
    }
    let q_items = items;

    // Phase 2: every partner at once.
    let results = join_all(partners.iter().cloned().zip(descriptors).map(|(p, desc)| {
        let shared = shared.clone();
        let hashed = hashed.clone();
        let map = map.clone();
        let collection = q.collection.clone();
        let ctx = ctx.clone();
        async move {
            let remaining = timeout.saturating_sub(started.elapsed());
            let me = &shared.config.node.name;
            let work = async {
                let desc = desc.await;
                let (signed, d) = match desc.as_ref() {
                    Ok((s, d)) => (s.clone(), d.clone()),
                    Err(e) => return Ok(failed(me, &p, &collection, e)),
                };
                ask_partner(
                    &shared,
                    &ctx,
                    &p,
                    &collection,
                    kind,
                    signed,
                    d,
                    &hashed,
                    &map,
                )
                .await
            };
            let outcome = match tokio::time::timeout(remaining, work).await {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => failed(me, &p, &collection, &e),
                Err(_) => failed(me, &p, &collection, &NodeError::timeout(timeout)),
            };
            PartnerResult {
                partner: p,
                outcome,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }
        }
    }))
    .await;

    // Every partner that did not answer is logged with its reason, before the investigator
    // sees the result.
    let failures: Vec<Entry> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            PartnerOutcome::Failed { code, message } => {
                let mut e = ctx.entry(shared, EntryKind::QueryFailed, &r.partner, &q.collection);
                let sent = ctx.sent.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((id, epoch)) = sent.get(&r.partner) {
                    e.exchange_id = Some(id.clone());
                    e.epoch = Some(*epoch);
                }
                drop(sent);
                e.items = Some(map.owner.len() as u64);
                e.reason = Some(format!("{code}: {message}"));
                Some(e)
            }
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        log_entries(shared, failures).await?;
    }
    for r in &results {
        shared.metrics.query_sent(&r.partner, &r.outcome);
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
    Ok(QueryReply {
        query_id,
        collection: name,
        kind: Named::Known(kind),
        items: q_items.len() as u64,
        partners: results,
    })
}

async fn fetch_descriptor(
    shared: &Arc<Shared>,
    partner: &str,
    collection: &str,
) -> Result<(SignedDescriptor, EpochDescriptor), NodeError> {
    let mut t = Traffic::default();
    let req = PartnerRequest::GetDescriptor {
        collection: collection.to_string(),
    };
    match shared.partners.request(partner, &req, &mut t).await? {
        PartnerResponse::Descriptor(s) => {
            let key = shared.partner_keys.get(partner).ok_or_else(|| {
                NodeError::setup(format!("no signing key configured for `{partner}`"))
            })?;
            let d = s.verify(key, partner, collection, shared.clock.now_unix())?;
            Ok((s, d))
        }
        _ => Err(NodeError::from(cordon_protocol::WireError::Malformed(
            "expected a descriptor".into(),
        ))),
    }
}

/// One partner's whole answer: retried once from a fresh descriptor when the holder says our
/// epoch went stale between the descriptor and a later request (it rotated meanwhile).
#[allow(clippy::too_many_arguments)]
async fn ask_partner(
    shared: &Arc<Shared>,
    ctx: &Arc<QueryCtx>,
    partner: &str,
    collection: &str,
    kind: Kind,
    mut signed: SignedDescriptor,
    mut d: EpochDescriptor,
    hashed: &Arc<HashedInputs>,
    map: &Arc<ItemMap>,
) -> Result<PartnerOutcome, NodeError> {
    let mut traffic = Traffic::default();
    if d.kind != kind.as_str() {
        return Ok(PartnerOutcome::Failed {
            code: FailureCode::KindMismatch.into(),
            message: format!(
                "{partner}'s collection `{collection}` holds `{}` identifiers, but the items were read as `{}`",
                d.kind,
                kind.as_str()
            ),
        });
    }
    match ask_once(
        shared,
        ctx,
        partner,
        collection,
        &signed,
        &d,
        hashed,
        map,
        &mut traffic,
    )
    .await
    {
        Err(NodeError::Peer(PeerError::Refused(e))) if e.code == ErrorCode::StaleEpoch => {
            (signed, d) = fetch_descriptor(shared, partner, collection).await?;
            ask_once(
                shared,
                ctx,
                partner,
                collection,
                &signed,
                &d,
                hashed,
                map,
                &mut traffic,
            )
            .await
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
async fn ask_once(
    shared: &Arc<Shared>,
    ctx: &Arc<QueryCtx>,
    partner: &str,
    collection: &str,
    signed: &SignedDescriptor,
    d: &EpochDescriptor,
    hashed: &Arc<HashedInputs>,
    map: &Arc<ItemMap>,
    traffic: &mut Traffic,
) -> Result<PartnerOutcome, NodeError> {
    let cached = shared.partner_epoch(partner, collection)?;
    let (epoch, how) = shared
        .partners
        .sync(partner, signed.clone(), d.clone(), cached, traffic)
        .await?;
    if how != FilterSource::Cached {
        shared
            .save_partner_epoch(partner, collection, epoch.clone())
            .await?;
    }
    let h = hashed.clone();
    let mode = ctx.mode;
    let batch = tokio::task::spawn_blocking(move || Batch::new(mode, &h))
        .await
        .map_err(|e| NodeError::internal(format!("blinding failed: {e}")))?;
    // A fresh identifier per partner and attempt, so holders cannot link their logs by it.
    let mut qid = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut qid);
    let blinded = batch.request_bytes();
    let n = (blinded.len() / 32) as u64;
    let digest = request_digest(&blinded);
    // Logged durably before the request leaves.
    let mut sent = ctx.entry(shared, EntryKind::QuerySent, partner, collection);
    sent.exchange_id = Some(hex::encode(qid));
    sent.epoch = Some(d.epoch);
    sent.items = Some(n);
    log_entries(shared, vec![sent]).await?;
    ctx.sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(partner.to_string(), (hex::encode(qid), d.epoch));
    let hello = match shared.partner_log_keys.get(partner) {
        Some(_) => {
            let s = shared.clone();
            let p = partner.to_string();
            tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
                let state = witness::load(s.audit.db(), &p)?;
                witness::hello(&s.audit, s.audit.db(), &state)
            })
            .await
            .map_err(|e| NodeError::internal(format!("audit hello failed: {e}")))??
        }
        None => {
            return Err(NodeError::setup(format!(
                "no log keys configured for `{partner}`"
            )))
        }
    };
    let req = PartnerRequest::Evaluate(EvaluateRequest {
        query_id: ByteArray::new(qid),
        collection: collection.to_string(),
        epoch: d.epoch,
        blinded,
        mode: ctx.mode,
        audit: Some(hello.clone()),
    });
    let PartnerResponse::Evaluated(mut ev) =
        shared.partners.request(partner, &req, traffic).await?
    else {
        return Err(NodeError::from(cordon_protocol::WireError::Malformed(
            "expected an evaluation".into(),
        )));
    };
    if *ev.query_id != qid || ev.epoch != d.epoch {
        return Err(NodeError::from(cordon_protocol::WireError::Malformed(
            "the answer is for another query or epoch".into(),
        )));
    }
    let receipt = std::mem::take(&mut ev.receipt);
    let receipt = check_receipt(
        shared, partner, &receipt, &qid, collection, d.epoch, n, &digest, ctx.mode,
    )?;
    let reply = ev.audit.take();
    let pk = *d.public_key;
    let ep = epoch.clone();
    let map = map.clone();
    let counting = matches!(batch, Batch::Count(_));
    let (coll, epoch_no) = (collection.to_string(), d.epoch);
    let (hits, matches, count) = tokio::task::spawn_blocking(
        move || -> Result<(Vec<Hit>, Vec<ItemMatch>, usize), NodeError> {
            let tags = batch
                .finish(&pk, &ev.evaluated, &ev.proof)
                .map_err(|e| match e {
                    FinishError::Wire(w) => NodeError::from(w),
                    FinishError::Verify(v) => NodeError::from(v),
                })?;
            let found: Vec<usize> = (0..tags.len()).filter(|i| ep.contains(&tags[*i])).collect();
            if counting {
                // The tags are in the holder's order: they say how many, never which.
                return Ok((Vec::new(), Vec::new(), found.len()));
            }
            let hits: Vec<Hit> = found
                .iter()
                .map(|i| map.hit(*i, &tags[*i], &coll, epoch_no))
                .collect();
            let matches = map.matches(&found);
            let n = matches.len();
            Ok((hits, matches, n))
        },
    )
    .await
    .map_err(|e| NodeError::internal(format!("verification failed: {e}")))??;
    tracing::debug!(partner, wire_query_id = %hex::encode(qid), "evaluation verified");
    // Logged with the receipt and the partner's checkpoint before the investigator sees it.
    let mut done = ctx.entry(shared, EntryKind::QueryCompleted, partner, collection);
    done.exchange_id = Some(hex::encode(qid));
    done.epoch = Some(d.epoch);
    done.items = Some(n);
    done.hits = Some(count as u64);
    done.receipt = Some(receipt);
    let s = shared.clone();
    let p = partner.to_string();
    tokio::task::spawn_blocking(move || complete(&s, &p, done, &hello, reply.as_ref()))
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

/// The querier's blinded batch for one partner, in the query's mode.
enum Batch {
    /// A fresh blind per item, answers in order.
    Match(BlindedBatch),
    /// One blind for the batch, answers shuffled (distinct items only).
    Count(CountBatch),
}

impl Batch {
    fn new(mode: QueryMode, hashed: &HashedInputs) -> Self {
        let rng = &mut rand::rngs::OsRng;
        match mode {
            QueryMode::Match => Batch::Match(BlindedBatch::new(hashed, rng)),
            QueryMode::Count => Batch::Count(CountBatch::new(hashed, rng)),
        }
    }

    fn request_bytes(&self) -> Vec<u8> {
        match self {
            Batch::Match(b) => b.request_bytes(),
            Batch::Count(b) => b.request_bytes(),
        }
    }

    fn finish(
        &self,
        pk: &[u8; 32],
        evaluated: &[u8],
        proof: &[u8; 64],
    ) -> Result<Vec<Tag>, FinishError> {
        match self {
            Batch::Match(b) => b.finish(pk, evaluated, proof),
            Batch::Count(b) => b.finish(pk, evaluated, proof),
        }
    }
}

/// Which queried item (and, for persons, which key class) each OPRF item stands for.
struct ItemMap {
    /// Line in the query file of each queried item.
    lines: Vec<u64>,
    /// Queried item of each OPRF item.
    owner: Vec<u32>,
    /// Key class of each OPRF item (persons only).
    class: Vec<Option<KeyClass>>,
}

impl ItemMap {
    /// The hit of OPRF item `i`, whose tag was found in `collection`'s filter of `epoch`.
    fn hit(&self, i: usize, tag: &Tag, collection: &str, epoch: u64) -> Hit {
        let owner = self.owner.get(i).copied().unwrap_or(0) as usize;
        Hit {
            index: owner as u64,
            line: self.lines.get(owner).copied().unwrap_or(0),
            reference: cordon_protocol::followup::HitReference {
                collection: collection.to_string(),
                epoch,
                tag: *tag,
            }
            .to_string(),
            class: self.class.get(i).copied().flatten().map(Named::Known),
        }
    }

    /// Per queried item: the classes of its OPRF items at indices `found`, strongest first.
    fn matches(&self, found: &[usize]) -> Vec<ItemMatch> {
        let mut by_item: std::collections::BTreeMap<u32, Vec<Option<KeyClass>>> =
            Default::default();
        for &i in found {
            if let (Some(owner), Some(class)) = (self.owner.get(i), self.class.get(i)) {
                by_item.entry(*owner).or_default().push(*class);
            }
        }
        by_item
            .into_iter()
            .map(|(index, mut classes)| {
                classes.sort();
                classes.dedup();
                let names: Vec<Named<MatchClass>> = classes
                    .into_iter()
                    .map(|c| Named::Known(MatchClass::from(c)))
                    .collect();
                ItemMatch {
                    index: u64::from(index),
                    line: self.lines.get(index as usize).copied().unwrap_or(0),
                    strength: names
                        .first()
                        .cloned()
                        .unwrap_or(Named::Known(MatchClass::Exact)),
                    classes: names,
                }
            })
            .collect()
    }
}

/// One OPRF input and, for persons, the class of the key it is.
type ClassedInput = (Option<KeyClass>, Vec<u8>);

/// Canonicalises every item and hashes its OPRF items to the group; or lists the bad items.
fn prepare(
    kind: Kind,
    items: &[(u64, String)],
    opts: &Options,
) -> Result<(HashedInputs, ItemMap), Vec<String>> {
    use rayon::prelude::*;
    let results: Vec<Result<Vec<ClassedInput>, String>> = items
        .par_iter()
        .map(|(line, raw)| {
            // The message quotes only the first characters of the item, like import reports.
            let c = ident::canonicalize(kind, raw, opts).map_err(|e| {
                let hint = if kind == Kind::Person && !raw.trim_start().starts_with('{') {
                    " (the collection holds persons: give a CSV file with a header row or JSON Lines, and --kind person)"
                } else {
                    ""
                };
                format!("line {line}: {}{hint}", e.redacted(raw))
            })?;
            if kind != Kind::Person {
                return Ok(vec![(None, c.oprf_input())]);
            }
            let keys = person::match_keys(c.value())
                .map_err(|e| format!("line {line}: {}", e.redacted(raw)))?;
            if keys.is_empty() {
                return Err(format!(
                    "line {line}: this person gives no match key; add a date of birth or a document"
                ));
            }
            Ok(keys.into_iter().map(|k| (Some(k.class), k.input)).collect())
        })
        .collect();
    let bad: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    if !bad.is_empty() {
        return Err(bad);
    }
    let mut map = ItemMap {
        lines: items.iter().map(|(l, _)| *l).collect(),
        owner: Vec::new(),
        class: Vec::new(),
    };
    let mut inputs = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        for (class, input) in r.unwrap_or_default() {
            map.owner.push(i as u32);
            map.class.push(class);
            inputs.push(input);
        }
    }
    Ok((HashedInputs::new(&inputs), map))
}

/// A partner's failure as the investigator sees it. Refusals the protocol defines are put in
/// this node's own words (the partner's text is shown only for the others, shortened).
fn failed(me: &str, partner: &str, collection: &str, e: &NodeError) -> PartnerOutcome {
    let (code, message) = match e {
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::NotShared => (
            FailureCode::Refused(r.code),
            format!("{partner} does not share collection `{collection}` with {me}"),
        ),
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::ModeNotAllowed => (
            FailureCode::Refused(r.code),
            format!(
                "{partner} shares collection `{collection}` with {me}, but not in this mode: {}",
                sanitize(&r.message)
            ),
        ),
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::BudgetExhausted => (
            FailureCode::Refused(r.code),
            format!(
                "{me}'s budget at {partner} for collection `{collection}` is spent: {}",
                sanitize(&r.message)
            ),
        ),
        NodeError::Transport(TransportError::Timeout(d)) => (
            FailureCode::Timeout,
            format!("{partner} did not answer within {}", fmt_duration(*d)),
        ),
        NodeError::Transport(TransportError::Connection(m)) => (
            FailureCode::Unreachable,
            format!("cannot reach {partner}: {m}"),
        ),
        NodeError::Transport(TransportError::Dropped(m)) => (
            FailureCode::ConnectionLost,
            format!("{partner} dropped the exchange before answering ({m})"),
        ),
        // A stream cut short is a lost connection, not a malformed answer.
        NodeError::Transport(t @ TransportError::Truncated { .. }) => (
            FailureCode::ConnectionLost,
            format!("{partner} dropped the exchange before answering ({t})"),
        ),
        NodeError::Peer(PeerError::Refused(r)) => (
            FailureCode::Refused(r.code),
            // A partner's sentence, shortened and without control characters.
            format!("{partner} refused: {}", sanitize(&r.message)),
        ),
        NodeError::Peer(PeerError::Verify(v)) => (
            FailureCode::InvalidAnswer,
            format!("{partner}'s answer was rejected: {v}"),
        ),
        NodeError::Peer(PeerError::Wire(w)) => (
            FailureCode::InvalidAnswer,
            format!("{partner} sent a malformed answer: {w}"),
        ),
        other => (FailureCode::Error, format!("{partner}: {other}")),
    };
    PartnerOutcome::Failed {
        code: code.into(),
        message,
    }
}

/// A peer's text made safe to show and log: control characters replaced, at most 300 chars.
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl Shared {
    /// The cached epoch of a partner's collection (memory first, then the store).
    pub fn partner_epoch(
        &self,
        partner: &str,
        collection: &str,
    ) -> Result<Option<Arc<PartnerEpoch>>, NodeError> {
        let key = (partner.to_string(), collection.to_string());
        if let Some(e) = self
            .partner_epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(e.clone()));
        }
        let Some(c) = self.store.partner_cache(partner, collection)? else {
            return Ok(None);
        };
        // A cache that no longer decodes is dropped and fetched again, never trusted.
        match PartnerEpoch::from_cached(c) {
            Ok(e) => {
                let e = Arc::new(e);
                self.partner_epochs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, e.clone());
                Ok(Some(e))
            }
            Err(err) => {
                tracing::warn!(partner, collection, error = %err, "cached filter unusable; fetching it again");
                Ok(None)
            }
        }
    }

    async fn save_partner_epoch(
        self: &Arc<Self>,
        partner: &str,
        collection: &str,
        e: Arc<PartnerEpoch>,
    ) -> Result<(), NodeError> {
        // Two queries may sync the same partner at once; never let the slower one put an older
        // state back (that would also weaken the rollback checks).
        let key = (partner.to_string(), collection.to_string());
        let version = |p: &PartnerEpoch| (p.descriptor.epoch, p.descriptor.delta_count);
        if let Some(known) = self
            .partner_epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if version(known) > version(&e) {
                return Ok(());
            }
        }
        let cached = e.to_cached();
        let shared = self.clone();
        let (p, c) = (partner.to_string(), collection.to_string());
        tokio::task::spawn_blocking(move || shared.store.put_partner_cache(&p, &c, &cached))
            .await
            .map_err(|e| NodeError::storage(e.to_string()))??;
        self.partner_epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, e);
        Ok(())
    }
}

/// Checks the holder's receipt against what was sent; returns it trimmed to its text and the
/// holder's signature (the form logged).
#[allow(clippy::too_many_arguments)]
fn check_receipt(
    shared: &Shared,
    partner: &str,
    note: &str,
    qid: &[u8; 16],
    collection: &str,
    epoch: u64,
    items: u64,
    digest: &[u8; 32],
    mode: QueryMode,
) -> Result<String, NodeError> {
    let bad = |m: String| NodeError::from(VerifyError::Receipt(m));
    let keys = shared
        .partner_log_keys
        .get(partner)
        .ok_or_else(|| bad(format!("no receipt key is configured for {partner}")))?;
    if note.is_empty() {
        return Err(bad("the answer carries no receipt".into()));
    }
    let (r, trimmed) =
        Receipt::open_trimmed(note, &keys.receipt).map_err(|e| bad(e.to_string()))?;
    let mut wrong = Vec::new();
    if r.exchange_id != *qid {
        wrong.push("exchange id");
    }
    if r.querier != shared.config.node.name {
        wrong.push("querier");
    }
    if r.collection != collection {
        wrong.push("collection");
    }
    if r.epoch != epoch {
        wrong.push("epoch");
    }
    if r.items != items {
        wrong.push("item count");
    }
    if r.request_digest != *digest {
        wrong.push("request digest");
    }
    if r.mode != mode.as_str() {
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

/// Logs a completed exchange and the partner's checkpoint in one transaction.
fn complete(
    shared: &Shared,
    partner: &str,
    done: Entry,
    sent: &AuditHello,
    reply: Option<&AuditReply>,
) -> Result<(), NodeError> {
    let db = shared.audit.db();
    let _serial = shared.audit_lock.lock().unwrap_or_else(|p| p.into_inner());
    let state = witness::load(db, partner)?;
    let (state, alert) = match (reply, shared.partner_log_keys.get(partner)) {
        (Some(r), Some(k)) => witness::on_reply(
            partner,
            state,
            sent,
            r,
            k,
            &shared.witness,
            shared.clock.now_unix(),
        )?,
        _ => {
            tracing::warn!(
                partner,
                "the partner's answer carried no checkpoint; nothing to cosign"
            );
            (state, None)
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
    let txn = db.begin_write()?;
    let staged = shared.audit.stage(&txn, &entries)?;
    witness::save(&txn, partner, &state, alert.as_ref())?;
    txn.commit()?;
    staged.applied();
    Ok(())
}
