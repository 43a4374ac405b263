//! The querier's exchange with one partner about one collection, as a state machine
//! (spec/PROTOCOL.md §4, §5.8, §6.4, §6.5).
//!
//! An [`Exchange`] knows what to send next and what each answer means; its driver moves bytes,
//! keeps the cache and the audit log, and keeps time. The driver loops:
//!
//! ```text
//! loop {
//!     match exchange.poll() {
//!         Step::Send(request) => open a new stream, send it        (then Receive)
//!         Step::Receive       => read the next frame of the current stream, exchange.handle(it, now)
//!         Step::LoadCache     => exchange.load_cache(the partner's cached epoch, now as stored)
//!         Step::Persist(e)    => store e as the partner's cached epoch, exchange.persisted()
//!         Step::Blind         => exchange.blind(rng)                (CPU-heavy)
//!         Step::LogSent(s)    => log `query_sent` durably, exchange.logged(the audit hello)
//!         Step::Verify        => exchange.verify()                  (CPU-heavy)
//!         Step::Done(answer)  => log `query_completed` with answer.receipt; witness answer.reply
//!         Step::Failed(error) => log `query_failed` with error.failure(me, partner, collection)
//!     }
//! }
//! ```
//!
//! Transport failures (no answer in time, a refused connection, a stream closed early) are the
//! driver's to see: it ends the exchange with [`Exchange::fail`]. Timeouts are the driver's
//! clock, never the exchange's; the exchange is given `now` (Unix seconds) only to check a
//! descriptor's validity.
//!
//! The steps, in order, for one attempt:
//!
//! 1. `get_descriptor` (unless the exchange starts from one already verified), verified under
//!    the pinned key, for this partner and collection, valid now (§5.8); its kind must be the
//!    items' kind (first attempt only, §5.3).
//! 2. The sync ([`crate::session::sync`]): parameters and delta bound, the rollback rules
//!    against the cached epoch, then nothing, a delta (pieces, chain) or the whole filter (size
//!    announced first, chunks, digest) and its delta. A new state is persisted before anything
//!    is evaluated.
//! 3. Fresh blinds and a fresh query id, `query_sent` logged durably, then `evaluate` with the
//!    audit hello.
//! 4. The answer: `evaluated` for this query id and epoch, a receipt that describes the
//!    request, then the proof (count mode: the sum proof and no repeated tag), the tags and the
//!    lookups.
//!
//! A `stale_epoch` refusal during steps 2 to 4 of the first attempt (the holder rotated since
//! the descriptor) repeats the whole attempt once from a fresh descriptor, with the cache as
//! the driver then holds it, fresh blinds and a fresh query id (§6.5). The fresh descriptor
//! must be of the items' kind and of a newer epoch than the one refused.

mod batch;
mod failure;
mod fetch;
mod items;
mod receipt;

use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};
use serde_bytes::ByteArray;

pub use batch::Batch;
pub use failure::{sanitize, ExchangeError, Failure, FailureCode, Fault};
pub use fetch::{response_name, unexpected, DeltaFetch, FilterFetch};
pub use items::{prepare, Hit, ItemMap, ItemMatch};
pub use receipt::{check_receipt, ExpectedReceipt};

use crate::audit::note::VerifierKey;
use crate::audit::receipt::request_digest;
use crate::collection::CollectionName;
use crate::descriptor::{EpochDescriptor, SignedDescriptor};
use crate::error::{ErrorCode, WireError};
use crate::exchange::HashedInputs;
use crate::filter::EpochFilter;
use crate::ident::Kind;
use crate::messages::{
    AuditHello, AuditReply, EvaluateRequest, EvaluateResponse, PartnerRequest, PartnerResponse,
    QueryMode,
};
use crate::session::partner_epoch::PartnerEpoch;
use crate::session::sync::{accept, decide, FilterSource, Rollback, SyncPlan};

/// What an exchange is about, and the partner's pinned keys.
pub struct ExchangeParams {
    /// This node's name (the receipt must name it as the querier).
    pub me: String,
    /// The partner asked.
    pub partner: String,
    /// The collection asked about.
    pub collection: CollectionName,
    /// The kind the items were read as.
    pub kind: Kind,
    /// What the investigator asked to learn.
    pub mode: QueryMode,
    /// The partner's pinned descriptor key (Ed25519 public key).
    pub descriptor_key: [u8; 32],
    /// The partner's receipt key (the same key, as a note verifier named after the partner).
    pub receipt_key: VerifierKey,
    /// The items hashed to the group, shared by every partner of the query.
    pub inputs: Arc<HashedInputs>,
    /// Which queried item each OPRF item stands for.
    pub items: Arc<ItemMap>,
}

/// A descriptor verified under the partner's pinned key.
#[derive(Debug, Clone)]
pub struct Verified {
    /// As received (what is cached).
    pub signed: SignedDescriptor,
    /// Decoded.
    pub descriptor: EpochDescriptor,
}

/// The request for a collection's current descriptor.
pub fn descriptor_request(collection: &str) -> PartnerRequest {
    PartnerRequest::GetDescriptor {
        collection: collection.to_string(),
    }
}

/// Checks the answer to [`descriptor_request`]: a descriptor signed by `key`, for `partner`
/// and `collection`, valid at `now` (§5.8).
pub fn verify_descriptor(
    resp: PartnerResponse,
    key: &[u8; 32],
    partner: &str,
    collection: &str,
    now: u64,
) -> Result<Verified, ExchangeError> {
    match resp {
        PartnerResponse::Descriptor(signed) => {
            let descriptor = signed.verify(key, partner, collection, now)?;
            Ok(Verified { signed, descriptor })
        }
        PartnerResponse::Error(e) => Err(ExchangeError::Refused(e)),
        _ => Err(ExchangeError::Malformed(WireError::Malformed(
            "expected a descriptor".into(),
        ))),
    }
}

/// What the driver does next.
#[derive(Debug)]
pub enum Step {
    /// Open a new stream to the partner and send this request; then read its answer
    /// ([`Step::Receive`]).
    Send(PartnerRequest),
    /// Read the next frame of the current stream and give it to [`Exchange::handle`].
    Receive,
    /// Give the partner's cached epoch as it is now to [`Exchange::load_cache`] (before the
    /// retry's sync: another query may have updated it).
    LoadCache,
    /// Store this epoch as the partner's cached one (replacing an older one), then call
    /// [`Exchange::persisted`]. Nothing is evaluated before. A driver whose cache another
    /// query may have changed meanwhile asks [`crate::session::sync::supersedes`] first: it
    /// stores only a state that goes further, and ends the exchange with the
    /// [`ExchangeError::Rollback`] it returns (two forks of one epoch) instead of storing.
    Persist(Arc<PartnerEpoch>),
    /// Call [`Exchange::blind`] with a cryptographic RNG (CPU-heavy: run it where it does not
    /// block I/O).
    Blind,
    /// Log that this evaluation is about to be sent, durably, then call [`Exchange::logged`]
    /// with this node's audit hello for the partner.
    LogSent(SentExchange),
    /// Call [`Exchange::verify`] (CPU-heavy: the proof, unblinding, lookups).
    Verify,
    /// The partner answered and the answer verified.
    Done(Box<Answer>),
    /// The exchange failed.
    Failed(ExchangeError),
}

/// An evaluation about to be sent, as logged (`query_sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentExchange {
    /// The query id on the wire (the exchange id in both logs).
    pub exchange_id: [u8; 16],
    /// The partner's epoch asked.
    pub epoch: u64,
    /// OPRF items sent.
    pub items: u64,
}

/// A verified answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The query id of the answered request.
    pub exchange_id: [u8; 16],
    /// The partner's epoch used.
    pub epoch: u64,
    /// Records the partner holds in that epoch (filter plus delta).
    pub partner_records: u64,
    /// OPRF items sent.
    pub items: u64,
    /// Match mode: one per OPRF item whose tag the partner holds (empty in count mode).
    pub hits: Vec<Hit>,
    /// Match mode: one per queried item with at least one hit, strongest first.
    pub matches: Vec<ItemMatch>,
    /// Count mode: how many of the distinct items the partner holds.
    pub count: Option<u64>,
    /// What `query_completed` logs as hits: items with a hit, or the count.
    pub found: u64,
    /// How the partner's filter was brought up to date.
    pub filter: FilterSource,
    /// The holder's receipt, trimmed to its text and the holder's signature (as logged).
    pub receipt: String,
    /// The audit hello that went with the request.
    pub hello: AuditHello,
    /// The holder's side of the checkpoint exchange, if it sent one.
    pub reply: Option<AuditReply>,
}

/// A partner's epoch brought up to date for this attempt.
struct Synced {
    d: Verified,
    epoch: Arc<PartnerEpoch>,
    how: FilterSource,
}

/// The evaluation of this attempt.
struct Sent {
    batch: Batch,
    exchange_id: [u8; 16],
    items: u64,
    digest: [u8; 32],
    /// Until the request leaves.
    blinded: Vec<u8>,
}

/// An answer whose query id, epoch and receipt checked, before its proof is verified.
struct Evaluated {
    response: EvaluateResponse,
    receipt: String,
    hello: AuditHello,
    reply: Option<AuditReply>,
}

/// What a delta extends.
enum DeltaBase {
    /// The cached epoch (same epoch, more records).
    Cached(Arc<PartnerEpoch>),
    /// A filter just fetched (a new epoch).
    Fresh(EpochFilter),
}

enum Phase {
    Descriptor,
    LoadCache(Verified),
    Filter(Verified, FilterFetch),
    Delta(Verified, DeltaFetch, DeltaBase),
    Persist(Synced),
    Blind(Synced),
    LogSent(Synced, Sent),
    Evaluate(Synced, Sent, AuditHello),
    Verify(Synced, Sent, Box<Evaluated>),
    Done(Box<Answer>),
    Failed(ExchangeError),
    Spent,
}

/// One partner, one collection: from the descriptor to a verified answer.
pub struct Exchange {
    params: ExchangeParams,
    /// The partner's cached epoch as last known (the driver's, then what this exchange synced).
    cached: Option<Arc<PartnerEpoch>>,
    /// 1, or 2 during the retry after `stale_epoch`.
    attempt: u8,
    /// The epoch the first attempt synced: the retry's must be newer.
    first_epoch: Option<u64>,
    outbox: Option<PartnerRequest>,
    phase: Phase,
}

impl Exchange {
    /// An exchange that starts by fetching the partner's descriptor.
    pub fn new(params: ExchangeParams, cached: Option<Arc<PartnerEpoch>>) -> Self {
        let request = descriptor_request(&params.collection);
        Exchange {
            params,
            cached,
            attempt: 1,
            first_epoch: None,
            outbox: Some(request),
            phase: Phase::Descriptor,
        }
    }

    /// An exchange that goes on from a descriptor the driver fetched and checked with
    /// [`verify_descriptor`] (a driver that asks every partner for its descriptor first, to
    /// learn the kind).
    pub fn from_descriptor(
        params: ExchangeParams,
        cached: Option<Arc<PartnerEpoch>>,
        d: Verified,
    ) -> Self {
        let mut e = Exchange {
            params,
            cached,
            attempt: 1,
            first_epoch: None,
            outbox: None,
            phase: Phase::Spent,
        };
        e.descriptor_ready(d);
        e
    }

    /// The parameters.
    pub fn params(&self) -> &ExchangeParams {
        &self.params
    }

    /// 1, or 2 once the exchange retries after `stale_epoch`.
    pub fn attempt(&self) -> u8 {
        self.attempt
    }

    /// What to do next.
    pub fn poll(&mut self) -> Step {
        if let Some(r) = self.outbox.take() {
            return Step::Send(r);
        }
        match &self.phase {
            Phase::Descriptor | Phase::Filter(..) | Phase::Delta(..) | Phase::Evaluate(..) => {
                Step::Receive
            }
            Phase::LoadCache(_) => Step::LoadCache,
            Phase::Persist(s) => Step::Persist(s.epoch.clone()),
            Phase::Blind(_) => Step::Blind,
            Phase::LogSent(s, sent) => Step::LogSent(SentExchange {
                exchange_id: sent.exchange_id,
                epoch: s.d.descriptor.epoch,
                items: sent.items,
            }),
            Phase::Verify(..) => Step::Verify,
            Phase::Done(_) | Phase::Failed(_) | Phase::Spent => {
                match std::mem::replace(&mut self.phase, Phase::Spent) {
                    Phase::Done(a) => Step::Done(a),
                    Phase::Failed(e) => Step::Failed(e),
                    _ => Step::Failed(ExchangeError::Local(
                        "the exchange is over; nothing more to do".into(),
                    )),
                }
            }
        }
    }

    /// Ends the exchange with a failure the driver saw (time-out, transport, its own).
    pub fn fail(&mut self, e: ExchangeError) {
        self.outbox = None;
        self.phase = Phase::Failed(e);
    }

    /// Gives a frame's payload as read from the current stream (decoded here; bytes that do not
    /// decode fail the exchange as malformed).
    pub fn handle_payload(&mut self, payload: &[u8], now: u64) {
        match crate::frame::decode::<PartnerResponse>(payload) {
            Ok(r) => self.handle(r, now),
            Err(e) => self.error(e.into()),
        }
    }

    /// Gives the response just read ([`Step::Receive`]); `now` in Unix seconds.
    pub fn handle(&mut self, resp: PartnerResponse, now: u64) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Descriptor => {
                let p = &self.params;
                match verify_descriptor(resp, &p.descriptor_key, &p.partner, &p.collection, now) {
                    Ok(d) if self.attempt == 1 => self.descriptor_ready(d),
                    Ok(d) => self.retry_ready(d),
                    Err(e) => self.phase = Phase::Failed(e),
                }
            }
            Phase::Filter(d, mut fetch) => match fetch.handle(resp) {
                Ok(None) => self.phase = Phase::Filter(d, fetch),
                Ok(Some(bytes)) => {
                    let f = &d.descriptor;
                    match EpochFilter::from_bytes(bytes, &f.filter, &f.filter_digest) {
                        Ok(filter) if f.delta_count > 0 => {
                            let fetch = DeltaFetch::new(f, 0, [0; 32]);
                            self.outbox = fetch.request();
                            self.phase = Phase::Delta(d, fetch, DeltaBase::Fresh(filter));
                        }
                        Ok(filter) => {
                            let e = PartnerEpoch::new(d.signed.clone(), f.clone(), filter, vec![]);
                            self.synced(d, e, FilterSource::Full);
                        }
                        Err(e) => self.error(e.into()),
                    }
                }
                Err(e) => self.error(e),
            },
            Phase::Delta(d, mut fetch, base) => {
                if let Err(e) = fetch.handle(resp) {
                    return self.error(e);
                }
                if let Some(next) = fetch.request() {
                    self.outbox = Some(next);
                    self.phase = Phase::Delta(d, fetch, base);
                    return;
                }
                match fetch.finish().and_then(|tags| extend(&d, base, tags)) {
                    Ok((e, how)) => self.synced(d, e, how),
                    Err(e) => self.error(e),
                }
            }
            Phase::Evaluate(s, sent, hello) => self.evaluated(s, sent, hello, resp),
            phase => {
                self.phase = phase;
                self.misuse("a response was given when none was awaited");
            }
        }
    }

    /// Gives the partner's cached epoch as the driver holds it now ([`Step::LoadCache`]).
    pub fn load_cache(&mut self, cached: Option<Arc<PartnerEpoch>>) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::LoadCache(d) => {
                self.cached = cached;
                self.sync(d);
            }
            phase => {
                self.phase = phase;
                self.misuse("a cache was given when none was asked for");
            }
        }
    }

    /// Says the epoch of [`Step::Persist`] is stored.
    pub fn persisted(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Persist(s) => self.phase = Phase::Blind(s),
            phase => {
                self.phase = phase;
                self.misuse("persisted() without a state to persist");
            }
        }
    }

    /// Blinds the items afresh and draws a fresh query id ([`Step::Blind`]).
    pub fn blind(&mut self, rng: &mut (impl RngCore + CryptoRng)) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Blind(s) => {
                let batch = Batch::new(self.params.mode, &self.params.inputs, rng);
                // Fresh per partner and attempt, so holders cannot link their logs by it.
                let mut exchange_id = [0u8; 16];
                rng.fill_bytes(&mut exchange_id);
                let blinded = batch.request_bytes();
                let sent = Sent {
                    exchange_id,
                    items: (blinded.len() / 32) as u64,
                    digest: request_digest(&blinded),
                    blinded,
                    batch,
                };
                self.phase = Phase::LogSent(s, sent);
            }
            phase => {
                self.phase = phase;
                self.misuse("blind() when nothing is to be blinded");
            }
        }
    }

    /// Says `query_sent` is logged, with this node's audit hello for the partner
    /// ([`Step::LogSent`]); the evaluation goes out next.
    pub fn logged(&mut self, hello: AuditHello) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::LogSent(s, mut sent) => {
                self.outbox = Some(PartnerRequest::Evaluate(EvaluateRequest {
                    query_id: ByteArray::new(sent.exchange_id),
                    collection: self.params.collection.to_string(),
                    epoch: s.d.descriptor.epoch,
                    blinded: std::mem::take(&mut sent.blinded),
                    mode: self.params.mode,
                    audit: Some(hello.clone()),
                }));
                self.phase = Phase::Evaluate(s, sent, hello);
            }
            phase => {
                self.phase = phase;
                self.misuse("logged() when nothing was to be logged");
            }
        }
    }

    /// Verifies the answer's proof, unblinds and looks the tags up ([`Step::Verify`]).
    pub fn verify(&mut self) {
        let Phase::Verify(s, sent, answer) = std::mem::replace(&mut self.phase, Phase::Spent)
        else {
            return self.misuse("verify() without an answer to verify");
        };
        let d = &s.d.descriptor;
        let Evaluated {
            response: ev,
            receipt,
            hello,
            reply,
        } = *answer;
        let tags = match sent.batch.finish(&d.public_key, &ev.evaluated, &ev.proof) {
            Ok(t) => t,
            Err(e) => return self.error(e.into()),
        };
        let found: Vec<usize> = (0..tags.len())
            .filter(|i| s.epoch.contains(&tags[*i]))
            .collect();
        let counting = sent.batch.counting();
        let (hits, matches, n) = if counting {
            // The tags are in the holder's order: they say how many, never which.
            (Vec::new(), Vec::new(), found.len())
        } else {
            let items = &self.params.items;
            let hits: Vec<Hit> = found
                .iter()
                .map(|i| items.hit(*i, &tags[*i], &self.params.collection, d.epoch))
                .collect();
            let matches = items.matches(&found);
            let n = matches.len();
            (hits, matches, n)
        };
        self.phase = Phase::Done(Box::new(Answer {
            exchange_id: sent.exchange_id,
            epoch: d.epoch,
            partner_records: d.record_count + d.delta_count,
            items: sent.items,
            hits,
            matches,
            count: counting.then_some(n as u64),
            found: n as u64,
            filter: s.how,
            receipt,
            hello,
            reply,
        }));
    }

    fn misuse(&mut self, what: &str) {
        self.outbox = None;
        self.phase = Phase::Failed(ExchangeError::Local(format!(
            "the exchange was driven out of order: {what}"
        )));
    }

    /// A peer's error: a `stale_epoch` refusal of the first attempt starts the retry.
    fn error(&mut self, e: ExchangeError) {
        match e {
            ExchangeError::Refused(r) if r.code == ErrorCode::StaleEpoch && self.attempt == 1 => {
                self.attempt = 2;
                self.outbox = Some(descriptor_request(&self.params.collection));
                self.phase = Phase::Descriptor;
            }
            e => self.phase = Phase::Failed(e),
        }
    }

    /// The first descriptor: its kind, then the sync.
    fn descriptor_ready(&mut self, d: Verified) {
        if self.kind_matches(&d) {
            self.sync(d);
        }
    }

    /// The retry's descriptor: its kind again (a descriptor of another kind is no answer to
    /// these items, whichever attempt brings it), and an epoch past the one refused as no
    /// longer current: `stale_epoch` says the holder moved on, so the same epoch, or an older
    /// one (a rolled-back holder serving an epoch whose deleted records it still holds), goes
    /// back on what it signed for the first attempt, though that was never cached.
    fn retry_ready(&mut self, d: Verified) {
        if !self.kind_matches(&d) {
            return;
        }
        if let Some(refused) = self.first_epoch.filter(|e| d.descriptor.epoch <= *e) {
            self.phase = Phase::Failed(ExchangeError::Rollback(Rollback::StaleNotNewer {
                refused,
                signed: d.descriptor.epoch,
            }));
            return;
        }
        self.phase = Phase::LoadCache(d);
    }

    /// Whether the descriptor's kind is the items' (otherwise the exchange fails).
    fn kind_matches(&mut self, d: &Verified) -> bool {
        let kind = self.params.kind;
        if d.descriptor.kind != kind.as_str() {
            self.phase = Phase::Failed(ExchangeError::KindMismatch {
                found: d.descriptor.kind.clone(),
                expected: kind,
            });
            return false;
        }
        true
    }

    /// Checks the descriptor against the cache and starts what the plan says.
    fn sync(&mut self, d: Verified) {
        if self.attempt == 1 {
            self.first_epoch = Some(d.descriptor.epoch);
        }
        if let Err(e) = accept(&d.descriptor) {
            self.phase = Phase::Failed(e.into());
            return;
        }
        let cached = self.cached.clone();
        match decide(cached.as_deref().map(|c| &c.descriptor), &d.descriptor) {
            Err(r) => self.phase = Phase::Failed(r.into()),
            Ok(SyncPlan::UseCached) => match cached {
                Some(c) => {
                    self.phase = Phase::Blind(Synced {
                        d,
                        epoch: c,
                        how: FilterSource::Cached,
                    })
                }
                None => self.misuse("no cache to use"),
            },
            Ok(SyncPlan::FetchDelta { from }) => match cached {
                Some(c) => {
                    let fetch = DeltaFetch::new(&d.descriptor, from, *c.descriptor.delta_chain);
                    self.outbox = fetch.request();
                    self.phase = Phase::Delta(d, fetch, DeltaBase::Cached(c));
                }
                None => self.misuse("no cache to extend"),
            },
            Ok(SyncPlan::FetchFull) => {
                let fetch = FilterFetch::new(&d.descriptor);
                self.outbox = Some(fetch.request());
                self.phase = Phase::Filter(d, fetch);
            }
        }
    }

    /// A new verified state: persisted before anything is evaluated.
    fn synced(&mut self, d: Verified, e: PartnerEpoch, how: FilterSource) {
        let epoch = Arc::new(e);
        self.cached = Some(epoch.clone());
        self.phase = Phase::Persist(Synced { d, epoch, how });
    }

    /// The answer to `evaluate`: for this query and epoch, with a receipt of this request.
    fn evaluated(&mut self, s: Synced, sent: Sent, hello: AuditHello, resp: PartnerResponse) {
        let mut ev = match resp {
            PartnerResponse::Evaluated(ev) => Box::new(ev),
            PartnerResponse::Error(e) => return self.error(ExchangeError::Refused(e)),
            _ => {
                return self.error(ExchangeError::Malformed(WireError::Malformed(
                    "expected an evaluation".into(),
                )))
            }
        };
        let d = &s.d.descriptor;
        if *ev.query_id != sent.exchange_id || ev.epoch != d.epoch {
            return self.error(ExchangeError::Malformed(WireError::Malformed(
                "the answer is for another query or epoch".into(),
            )));
        }
        let note = std::mem::take(&mut ev.receipt);
        let want = ExpectedReceipt {
            exchange_id: &sent.exchange_id,
            querier: &self.params.me,
            collection: &self.params.collection,
            epoch: d.epoch,
            items: sent.items,
            request_digest: &sent.digest,
            mode: self.params.mode,
        };
        match check_receipt(&note, &self.params.receipt_key, &want) {
            Ok(receipt) => {
                let reply = ev.audit.take();
                let answer = Evaluated {
                    response: *ev,
                    receipt,
                    hello,
                    reply,
                };
                self.phase = Phase::Verify(s, sent, Box::new(answer));
            }
            Err(e) => self.error(e.into()),
        }
    }
}

/// The epoch a delta completes: the cached one extended (its filter checked again against the
/// new descriptor), or the filter just fetched with its delta.
fn extend(
    d: &Verified,
    base: DeltaBase,
    tags: Vec<crate::oprf::Tag>,
) -> Result<(PartnerEpoch, FilterSource), ExchangeError> {
    let f = &d.descriptor;
    Ok(match base {
        DeltaBase::Cached(c) => {
            let mut delta_list = c.delta_list.clone();
            delta_list.extend_from_slice(&tags);
            let filter =
                EpochFilter::from_bytes(c.filter.as_bytes().to_vec(), &f.filter, &f.filter_digest)?;
            (
                PartnerEpoch::new(d.signed.clone(), f.clone(), filter, delta_list),
                FilterSource::Delta,
            )
        }
        DeltaBase::Fresh(filter) => (
            PartnerEpoch::new(d.signed.clone(), f.clone(), filter, tags),
            FilterSource::Full,
        ),
    })
}

#[cfg(test)]
mod tests;
