//! The simulated holder: serves every partner request as the node does, built only from the
//! protocol's sessions — the gate and admission functions of
//! [`cordon_protocol::session::holder`] over in-memory views (epochs, replay guard, budgets),
//! the evaluation and its receipt, and the checkpoint witness over the in-memory log.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::frame;
use cordon_protocol::messages::{EvaluateRequest, PartnerRequest, PartnerResponse};
use cordon_protocol::session::holder::evaluate::{self, Refusal};
use cordon_protocol::session::holder::{
    self, admit_evaluate, Budgets, CurrentEpoch, HolderView, ReplayGuard, Spent, Unreadable,
};
use cordon_protocol::session::policy::Policy;
use cordon_protocol::session::witness;

use crate::epoch::HeldEpoch;
use crate::node::SimNode;

/// What admission reads of a simulated holder.
pub(crate) struct View<'a>(pub(crate) &'a SimNode);

impl HolderView for View<'_> {
    type Epoch = Arc<HeldEpoch>;
    fn node(&self) -> &str {
        &self.0.name
    }
    fn policy(&self) -> &Policy {
        &self.0.policy
    }
    fn max_items_per_query(&self) -> u64 {
        self.0.limits.max_items_per_query
    }
    fn current_epoch(&self, collection: &str) -> Option<CurrentEpoch<Arc<HeldEpoch>>> {
        self.0.collections.get(collection).map(|c| {
            let e = c.epoch();
            CurrentEpoch {
                number: e.number,
                delta_len: e.delta.len() as u64,
                epoch: e.clone(),
            }
        })
    }
}

/// The answered query ids, as the replay guard of admission.
struct Replay<'a>(&'a RefCell<BTreeSet<(u64, String, [u8; 16])>>);

impl ReplayGuard for Replay<'_> {
    type Claim<'c>
        = (u64, String, [u8; 16])
    where
        Self: 'c;
    type Error = Infallible;
    fn claim(
        &self,
        day: u64,
        partner: &str,
        query_id: &[u8; 16],
    ) -> Result<Option<Self::Claim<'_>>, Infallible> {
        let seen = self.0.borrow();
        let answered = [day, day.saturating_sub(1)]
            .iter()
            .any(|d| seen.contains(&(*d, partner.to_string(), *query_id)));
        Ok((!answered).then(|| (day, partner.to_string(), *query_id)))
    }
}

/// Items evaluated per day, partner and collection, as the budgets of admission.
struct Spend<'a>(&'a RefCell<BTreeMap<(u64, String, String), u64>>);

/// Items reserved of a budget: (day, partner, collection) and how many.
type Reservation = ((u64, String, String), u64);

impl Budgets for Spend<'_> {
    type Reservation = Reservation;
    type Error = Infallible;
    fn reserve(
        &self,
        day: u64,
        partner: &str,
        collection: &str,
        items: u64,
        limit: u64,
    ) -> Result<Result<Reservation, Spent>, Infallible> {
        let key = (day, partner.to_string(), collection.to_string());
        let mut spent = self.0.borrow_mut();
        let used = spent.get(&key).copied().unwrap_or(0);
        if used.saturating_add(items) > limit {
            return Ok(Err(Spent {
                used,
                limit,
                asked: items,
            }));
        }
        spent.insert(key.clone(), used + items);
        Ok(Ok((key, items)))
    }
}

impl SimNode {
    /// Serves one request frame from `partner` at `now`: a frame over the node's size limit or
    /// one that does not decode is refused, anything else served.
    pub fn serve_frame(
        &mut self,
        partner: &str,
        bytes: &[u8],
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Vec<PartnerResponse> {
        let max = self.limits.max_request_bytes;
        let unreadable = match frame::parse_header(bytes) {
            Ok(len) if len > max => Some(Unreadable::TooLarge { len, max }),
            _ => match frame::decode_frame::<PartnerRequest>(bytes) {
                Ok(req) => return self.serve(partner, req, now, rng),
                Err(e) => Some(Unreadable::Malformed(e)),
            },
        };
        let r = unreadable.map_or_else(
            || RemoteError::new(ErrorCode::Internal, "unreadable request"),
            |u| holder::unreadable(&u),
        );
        vec![PartnerResponse::Error(r)]
    }

    /// Serves one request from `partner` at `now` (the frames of the answer, in order).
    pub fn serve(
        &mut self,
        partner: &str,
        req: PartnerRequest,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Vec<PartnerResponse> {
        if let Err(r) = holder::gate(&self.policy, partner, &req) {
            if let Some((what, c)) = holder::named_collection(&req) {
                let mut e = self.entry(now, EntryKind::QueryRefused, partner, "partner");
                e.collection = Some(Self::loggable(c));
                e.reason = Some(format!("{what}: {}: {}", r.code.as_str(), r.message));
                self.log_entries(vec![e]);
            }
            return vec![PartnerResponse::Error(r)];
        }
        let one = |r: Result<PartnerResponse, RemoteError>| {
            vec![r.unwrap_or_else(PartnerResponse::Error)]
        };
        match req {
            PartnerRequest::GetDescriptor { collection } => one(self.descriptor(&collection, now)),
            PartnerRequest::GetFilter { collection, epoch } => {
                match holder::epoch_at(&View(self), &collection, epoch) {
                    Ok(e) => holder::filter_frames(epoch, &e.epoch.filter),
                    Err(r) => vec![PartnerResponse::Error(r)],
                }
            }
            PartnerRequest::GetDelta {
                collection,
                epoch,
                from,
            } => one(holder::epoch_at(&View(self), &collection, epoch)
                .and_then(|e| holder::delta_answer(epoch, from, &e.epoch.delta))),
            PartnerRequest::Evaluate(r) => vec![self.evaluate(partner, r, now, rng)],
            PartnerRequest::Followup(f) => vec![self.receive_followup(partner, &f, now)],
            PartnerRequest::FollowupStatus { ids } => {
                let held = |id: &[u8; 16]| self.held_status(partner, id);
                one(holder::followup::status_answer(
                    &self.policy,
                    partner,
                    &ids,
                    held,
                ))
            }
        }
    }

    /// The current descriptor, re-signed first if it aged.
    fn descriptor(&mut self, collection: &str, now: u64) -> Result<PartnerResponse, RemoteError> {
        holder::current(&View(self), collection)?;
        let validity = self.settings.validity_secs;
        let Some(c) = self.collections.get_mut(collection) else {
            return Err(holder::unknown_collection(&self.name, collection));
        };
        if !holder::descriptor_fresh(&c.epoch().descriptor, now, validity) {
            c.resign(self.keys.descriptor(), now).map_err(|e| {
                RemoteError::new(ErrorCode::Internal, format!("re-signing failed: {e}"))
            })?;
        }
        Ok(PartnerResponse::Descriptor(c.epoch().signed.clone()))
    }

    /// Answers one evaluation: admission, evaluation, receipt, the checkpoint exchange, and
    /// the answer logged before it is sent.
    fn evaluate(
        &mut self,
        partner: &str,
        req: EvaluateRequest,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> PartnerResponse {
        let n = (req.blinded.len() / 32) as u64;
        let (replay, spend) = (Replay(&self.answered), Spend(&self.spent));
        let (epoch, claim, reservation) =
            match admit_evaluate(&View(self), &replay, &spend, partner, &req, now) {
                Ok(a) => (a.epoch.epoch, a.claim, a.reservation),
                Err(Refusal { error, .. }) => return self.refused(partner, &req, n, error, now),
            };
        let out = match evaluate::evaluate(&epoch.sk, &epoch.pk, &req, rng) {
            Ok(out) => out,
            Err(r) => {
                self.release(&reservation);
                return self.refused(partner, &req, n, r, now);
            }
        };
        match self.finish(partner, &req, n, now) {
            Ok((receipt, reply)) => {
                // The id and the budget count from here: the answer is logged.
                self.answered.borrow_mut().insert(claim);
                PartnerResponse::Evaluated(evaluate::answer(&req, out, receipt, reply))
            }
            Err(why) => {
                self.release(&reservation);
                self.notes
                    .push((partner.to_string(), witness::Note::NotCosigned(why)));
                PartnerResponse::Error(RemoteError::new(
                    ErrorCode::Internal,
                    "the holder could not log this answer; nothing was disclosed, try again later",
                ))
            }
        }
    }

    fn release(&self, (key, items): &Reservation) {
        if let Some(u) = self.spent.borrow_mut().get_mut(key) {
            *u = u.saturating_sub(*items);
        }
    }

    /// The base of an evaluation's entries.
    fn evaluation_entry(
        &self,
        kind: EntryKind,
        partner: &str,
        req: &EvaluateRequest,
        n: u64,
        now: u64,
    ) -> cordon_protocol::audit::entry::Entry {
        let mut e = self.entry(now, kind, partner, "partner");
        e.collection = Some(Self::loggable(&req.collection));
        e.mode = Some(req.mode.as_str().into());
        e.exchange_id = Some(hex::encode(*req.query_id));
        e.epoch = Some(req.epoch);
        e.items = Some(n);
        e
    }

    /// Logs a refusal, then returns it.
    fn refused(
        &mut self,
        partner: &str,
        req: &EvaluateRequest,
        n: u64,
        err: RemoteError,
        now: u64,
    ) -> PartnerResponse {
        let mut e = self.evaluation_entry(EntryKind::QueryRefused, partner, req, n, now);
        e.reason = Some(format!("{}: {}", err.code.as_str(), err.message));
        self.log_entries(vec![e]);
        PartnerResponse::Error(err)
    }

    /// Signs the receipt, takes the querier's checkpoint, logs the answer (and any alert) with
    /// the partner's new audit state, and builds the reply.
    fn finish(
        &mut self,
        partner: &str,
        req: &EvaluateRequest,
        n: u64,
        now: u64,
    ) -> Result<(String, Option<cordon_protocol::messages::AuditReply>), String> {
        let receipt = evaluate::receipt(req, &self.name, partner, now)
            .sign(&self.keys.receipt)
            .map_err(|e| format!("signing the receipt: {e}"))?;
        let keys = self.partners.get(partner).map(|k| k.log.clone());
        let state = self.audit_of(partner);
        let seen = match (&req.audit, &keys) {
            (Some(h), Some(k)) => {
                witness::on_hello(&self.log, partner, state, h, k, &self.keys.witness, now)
                    .map_err(|e| e.to_string())?
            }
            _ => witness::Witnessed {
                state,
                cosignature: None,
                alert: None,
                notes: Vec::new(),
            },
        };
        let mut entry = self.evaluation_entry(EntryKind::QueryAnswered, partner, req, n, now);
        entry.receipt = Some(receipt.clone());
        let mut entries = vec![entry];
        if let Some(a) = &seen.alert {
            let mut flag =
                self.evaluation_entry(EntryKind::PartnerInconsistent, partner, req, n, now);
            flag.reason = Some(a.reason.clone());
            entries.push(flag);
        }
        let size = self.log_entries(entries);
        let mut state = seen.state;
        // The querier keeps the checkpoint of this size unless it finds it inconsistent: our
        // next request to it proves consistency from there.
        if req.audit.is_some() {
            state.known_by_them = size;
        }
        self.notes
            .extend(seen.notes.into_iter().map(|n| (partner.to_string(), n)));
        self.alerts.extend(seen.alert);
        self.audit.insert(partner.to_string(), state.clone());
        let reply = match (&req.audit, keys) {
            (Some(h), Some(_)) => Some(
                witness::reply(&self.log, h, size, seen.cosignature, &state)
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        Ok((receipt, reply))
    }
}
