//! The simulated querier: drives one [`Exchange`] per partner over the simulated network, as
//! the node's query fan-out does — every partner at once, each with its own time-out in
//! virtual time, the cache of partners' epochs kept across queries, `query_sent` logged before
//! each evaluation leaves, completions and failures logged with the checkpoint exchange.
//!
//! A lying querier is [`Federation::send`]: any request, or any bytes, to any holder.

use std::sync::Arc;
use std::time::Duration;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::collection::CollectionName;
use cordon_protocol::frame;
use cordon_protocol::ident::{Kind, Options};
use cordon_protocol::messages::{PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::session::partner_epoch::PartnerEpoch;
use cordon_protocol::session::querier::{
    prepare, Answer, Exchange, ExchangeError, ExchangeParams, Failure, SentExchange, Step,
};
use cordon_protocol::session::sync::{self, Rollback};
use cordon_protocol::session::witness;

use crate::federation::Federation;
use crate::net::StreamId;

/// An investigator's query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// The collection asked about.
    pub collection: String,
    /// The kind the items are read as.
    pub kind: Kind,
    /// What to learn.
    pub mode: QueryMode,
    /// The items, one per line of the query file.
    pub items: Vec<String>,
    /// The partners asked.
    pub partners: Vec<String>,
}

/// One partner's part of a query.
#[derive(Debug, Clone)]
pub struct PartnerOutcome {
    /// The partner.
    pub partner: String,
    /// Its verified answer, or why there is none.
    pub result: Result<Answer, ExchangeError>,
    /// The failure as the investigator sees it.
    pub failure: Option<Failure>,
    /// 1, or 2 if the exchange was retried after `stale_epoch`.
    pub attempts: u8,
    /// Virtual milliseconds from the start of the query to the end of this exchange.
    pub elapsed_ms: u64,
}

impl PartnerOutcome {
    /// The answer; a failure is described in the error.
    pub fn answer(&self) -> Result<&Answer, String> {
        self.result.as_ref().map_err(|e| {
            let f = self.failure.clone();
            format!("{} failed: {e} ({f:?})", self.partner)
        })
    }

    /// The failure code as written, `answered` for an answer.
    pub fn code(&self) -> String {
        self.failure
            .as_ref()
            .map_or("answered".into(), |f| f.code.to_string())
    }
}

/// A query's outcome, one per partner in the order asked.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    /// The partners' outcomes.
    pub partners: Vec<PartnerOutcome>,
}

impl QueryOutcome {
    /// The outcome of one partner.
    pub fn of(&self, partner: &str) -> Result<&PartnerOutcome, String> {
        self.partners
            .iter()
            .find(|p| p.partner == partner)
            .ok_or_else(|| format!("{partner} was not asked"))
    }
}

/// One partner's exchange in flight.
struct Slot {
    partner: String,
    ex: Exchange,
    stream: Option<StreamId>,
    deadline: u64,
    sent: Option<SentExchange>,
    done: Option<PartnerOutcome>,
}

impl Federation {
    /// Runs `q` from node `from` to completion in virtual time.
    pub fn query(&mut self, from: &str, q: &QueryRequest) -> Result<QueryOutcome, String> {
        let collection = CollectionName::parse(&q.collection).map_err(|e| e.to_string())?;
        let rows: Vec<(u64, String)> = q
            .items
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64 + 1, v.clone()))
            .collect();
        let (hashed, map) =
            prepare(q.kind, &rows, &Options::default()).map_err(|bad| bad.join("; "))?;
        let (hashed, map) = (Arc::new(hashed), Arc::new(map));
        let start = self.clock.ms();
        let node = self.node(from)?;
        let timeout = node.limits.query_timeout_ms;
        let mut slots = Vec::new();
        for p in &q.partners {
            let keys = node
                .partners
                .get(p)
                .ok_or_else(|| format!("`{p}` is not a partner of {from}"))?;
            let params = ExchangeParams {
                me: from.to_string(),
                partner: p.clone(),
                collection: collection.clone(),
                kind: q.kind,
                mode: q.mode,
                descriptor_key: keys.descriptor,
                receipt_key: keys.log.receipt.clone(),
                inputs: hashed.clone(),
                items: map.clone(),
            };
            let cached = node.cache.get(&(p.clone(), q.collection.clone())).cloned();
            slots.push(Slot {
                partner: p.clone(),
                ex: Exchange::new(params, cached),
                stream: None,
                deadline: start + timeout,
                sent: None,
                done: None,
            });
        }
        loop {
            for slot in slots.iter_mut().filter(|s| s.done.is_none()) {
                self.step(from, q, slot, start);
            }
            let active = slots.iter().filter(|s| s.done.is_none());
            let Some(deadline) = active.map(|s| s.deadline).min() else {
                break;
            };
            match self.queue.next_at() {
                Some(at) if at <= deadline => {
                    self.clock.set(at);
                    if let Some((_, d)) = self.queue.pop() {
                        self.deliver(d);
                    }
                }
                _ => {
                    self.clock.set(deadline);
                    for s in slots
                        .iter_mut()
                        .filter(|s| s.done.is_none() && s.deadline <= deadline)
                    {
                        s.ex.fail(ExchangeError::Timeout(Duration::from_millis(timeout)));
                    }
                }
            }
        }
        Ok(QueryOutcome {
            partners: slots.into_iter().filter_map(|s| s.done).collect(),
        })
    }

    /// Moves one exchange on until it waits for the network or ends.
    fn step(&mut self, from: &str, q: &QueryRequest, slot: &mut Slot, start: u64) {
        loop {
            let now = self.clock.unix();
            match slot.ex.poll() {
                Step::Send(req) => match frame::encode(&req) {
                    Ok(bytes) => {
                        if let Some(old) = slot.stream.take() {
                            self.inboxes.remove(&old);
                        }
                        slot.stream = Some(self.open(from, &slot.partner, bytes));
                    }
                    Err(e) => slot.ex.fail(ExchangeError::Local(e.to_string())),
                },
                Step::Receive => {
                    let read = slot
                        .stream
                        .and_then(|s| self.inboxes.get_mut(&s))
                        .and_then(|i| i.read());
                    match read {
                        None => return,
                        Some(Ok(payload)) => slot.ex.handle_payload(&payload, now),
                        Some(Err(e)) => slot.ex.fail(e),
                    }
                }
                Step::LoadCache => {
                    let key = (slot.partner.clone(), q.collection.clone());
                    let cached = self
                        .nodes
                        .get(from)
                        .and_then(|n| n.cache.get(&key).cloned());
                    slot.ex.load_cache(cached);
                }
                Step::Persist(e) => match self.persist(from, &slot.partner, &q.collection, e) {
                    Ok(()) => slot.ex.persisted(),
                    Err(r) => slot.ex.fail(ExchangeError::Rollback(r)),
                },
                Step::Blind => slot.ex.blind(&mut self.rng),
                Step::LogSent(sent) => {
                    slot.sent = Some(sent);
                    match self.log_sent(from, &slot.partner, q, &sent) {
                        Ok(hello) => slot.ex.logged(hello),
                        Err(e) => slot.ex.fail(ExchangeError::Local(e)),
                    }
                }
                Step::Verify => slot.ex.verify(),
                Step::Done(a) => {
                    self.complete(from, &slot.partner, q, &a);
                    slot.done = Some(self.outcome(slot, Ok(*a), start));
                    return;
                }
                Step::Failed(e) => {
                    self.log_failure(from, &slot.partner, q, slot.sent.as_ref(), &e);
                    slot.done = Some(self.outcome(slot, Err(e), start));
                    return;
                }
            }
        }
    }

    fn outcome(
        &mut self,
        slot: &mut Slot,
        result: Result<Answer, ExchangeError>,
        start: u64,
    ) -> PartnerOutcome {
        if let Some(s) = slot.stream.take() {
            self.inboxes.remove(&s);
        }
        let p = &slot.ex.params();
        let failure = result
            .as_ref()
            .err()
            .map(|e| e.failure(&p.me, &p.partner, &p.collection));
        PartnerOutcome {
            partner: slot.partner.clone(),
            result,
            failure,
            attempts: slot.ex.attempt(),
            elapsed_ms: self.clock.ms() - start,
        }
    }

    /// Keeps a partner's new verified epoch, never putting an older state back, and refuses
    /// one that contradicts what another exchange stored meanwhile.
    fn persist(
        &mut self,
        from: &str,
        partner: &str,
        collection: &str,
        e: Arc<PartnerEpoch>,
    ) -> Result<(), Rollback> {
        let Some(node) = self.nodes.get_mut(from) else {
            return Ok(());
        };
        let key = (partner.to_string(), collection.to_string());
        if sync::supersedes(node.cache.get(&key).map(|k| &**k), &e)? {
            node.cache.insert(key, e);
        }
        Ok(())
    }

    /// Logs `query_sent`, then builds the audit hello (whose checkpoint includes that entry).
    fn log_sent(
        &mut self,
        from: &str,
        partner: &str,
        q: &QueryRequest,
        s: &SentExchange,
    ) -> Result<cordon_protocol::messages::AuditHello, String> {
        let now = self.clock.unix();
        let node = self.node_mut(from)?;
        let mut e = node.entry(now, EntryKind::QuerySent, partner, "investigator");
        e.collection = Some(q.collection.clone());
        e.mode = Some(q.mode.as_str().into());
        e.exchange_id = Some(hex::encode(s.exchange_id));
        e.epoch = Some(s.epoch);
        e.items = Some(s.items);
        node.log_entries(vec![e]);
        witness::hello(&node.log, &node.audit_of(partner)).map_err(|e| e.to_string())
    }

    /// Logs a completed exchange with the partner's checkpoint, as one step.
    fn complete(&mut self, from: &str, partner: &str, q: &QueryRequest, a: &Answer) {
        let now = self.clock.unix();
        let Some(node) = self.nodes.get_mut(from) else {
            return;
        };
        let state = node.audit_of(partner);
        let keys = node.partners.get(partner).map(|k| k.log.clone());
        let seen = match (&a.reply, keys) {
            (Some(r), Some(k)) => witness::on_reply(
                partner,
                state.clone(),
                &a.hello,
                r,
                &k,
                &node.keys.witness,
                now,
            )
            .ok(),
            _ => None,
        };
        let mut done = node.entry(now, EntryKind::QueryCompleted, partner, "investigator");
        done.collection = Some(q.collection.clone());
        done.mode = Some(q.mode.as_str().into());
        done.exchange_id = Some(hex::encode(a.exchange_id));
        done.epoch = Some(a.epoch);
        done.items = Some(a.items);
        done.hits = Some(a.found);
        done.receipt = Some(a.receipt.clone());
        let mut entries = vec![done.clone()];
        let (state, alert, notes) = match seen {
            Some(w) => (w.state, w.alert, w.notes),
            None => (state, None, Vec::new()),
        };
        if let Some(alert) = &alert {
            let mut flag = done;
            flag.kind = EntryKind::PartnerInconsistent;
            flag.receipt = None;
            flag.hits = None;
            flag.reason = Some(alert.reason.clone());
            entries.push(flag);
        }
        node.log_entries(entries);
        node.audit.insert(partner.to_string(), state);
        node.alerts.extend(alert);
        node.notes
            .extend(notes.into_iter().map(|n| (partner.to_string(), n)));
    }

    /// Logs a partner's failure against the exchange it ended, if one was sent.
    fn log_failure(
        &mut self,
        from: &str,
        partner: &str,
        q: &QueryRequest,
        sent: Option<&SentExchange>,
        err: &ExchangeError,
    ) {
        let now = self.clock.unix();
        let Some(node) = self.nodes.get_mut(from) else {
            return;
        };
        let f = err.failure(from, partner, &q.collection);
        let mut e = node.entry(now, EntryKind::QueryFailed, partner, "investigator");
        e.collection = Some(q.collection.clone());
        e.mode = Some(q.mode.as_str().into());
        if let Some(s) = sent {
            e.exchange_id = Some(hex::encode(s.exchange_id));
            e.epoch = Some(s.epoch);
        }
        e.reason = Some(format!("{}: {}", f.code, f.message));
        node.log_entries(vec![e]);
    }

    /// A lying querier: sends `req` from `from` to `to` on a new stream and collects the
    /// answer's frames until the stream ends, in virtual time (`Err` on time-out or bytes that
    /// are no frames).
    pub fn send(
        &mut self,
        from: &str,
        to: &str,
        req: &PartnerRequest,
    ) -> Result<Vec<PartnerResponse>, ExchangeError> {
        let bytes = frame::encode(req).map_err(ExchangeError::Malformed)?;
        self.send_bytes(from, to, bytes)
    }

    /// [`Federation::send`] of raw bytes (garbage, a truncated frame, a frame over a limit).
    pub fn send_bytes(
        &mut self,
        from: &str,
        to: &str,
        bytes: Vec<u8>,
    ) -> Result<Vec<PartnerResponse>, ExchangeError> {
        let timeout = self
            .node(from)
            .map_or(30_000, |n| n.limits.query_timeout_ms);
        let deadline = self.clock.ms() + timeout;
        let stream = self.open(from, to, bytes);
        let mut out = Vec::new();
        let result = loop {
            match self.inboxes.get_mut(&stream).and_then(|i| i.read()) {
                Some(Ok(payload)) => match frame::decode::<PartnerResponse>(&payload) {
                    Ok(r) => out.push(r),
                    Err(e) => break Err(ExchangeError::Malformed(e)),
                },
                // The stream ended after whole frames.
                Some(Err(ExchangeError::ConnectionLost(_))) => break Ok(out),
                Some(Err(e)) => break Err(e),
                None => match self.queue.next_at() {
                    Some(at) if at <= deadline => {
                        self.clock.set(at);
                        if let Some((_, d)) = self.queue.pop() {
                            self.deliver(d);
                        }
                    }
                    _ => {
                        self.clock.set(deadline);
                        break Err(ExchangeError::Timeout(Duration::from_millis(timeout)));
                    }
                },
            }
        };
        self.inboxes.remove(&stream);
        result
    }
}
