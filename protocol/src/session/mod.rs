//! The protocol's sessions: what each side sends next, what an answer means, and when to
//! refuse, as state machines and pure functions. No I/O: no sockets, no files, no clock, no
//! global randomness. Time (`now`, Unix seconds) and randomness (`rng`) are arguments, and
//! every session type is `Send + 'static`, so a driver may run a CPU-heavy step on another
//! thread. The node drives these sessions over QUIC and redb; `cordon-sim` drives them in
//! memory, with a virtual clock and lying peers, so that every attack is a deterministic test.
//!
//! - [`sync`]: the querier's sync decision ([`sync::decide`]: use the cache, fetch a delta,
//!   fetch the whole filter) and the rollback rules ([`sync::Rollback`]).
//! - [`partner_epoch`]: a partner's verified epoch as the querier caches it, and its stored
//!   form.
//! - [`querier`]: the querier's exchange with one partner ([`querier::Exchange`]), from the
//!   descriptor to a verified answer or a typed failure ([`querier::ExchangeError`]) with the
//!   code and sentence the investigator sees.
//! - [`policy`]: the holder's grants.
//! - [`holder`]: the holder's admission of every partner request, in the order the spec
//!   states, over small views of its state (epochs, replay guard, budgets), returning the
//!   admitted work or the refusal to send.
//! - [`witness`]: the checkpoint exchange with partners (cosignatures, inconsistency alerts)
//!   over a "checkpoint at size N" lookup.
//!
//! What is not here: transport, storage, audit logging, metrics. A session says when the
//! driver must persist or log (and waits until it did) but never does it itself.
//!
//! ## Why sessions, and how to drive one
//!
//! The rules that keep a federation honest — a holder cannot roll a querier back, a partner
//! cannot exceed its grant, hits are exact — are decided here, on values, so that each can be
//! attacked in a test without a network: a lying peer is a function from the request (and the
//! honest answer) to any other answer. A driver does only what a session cannot:
//!
//! ```text
//! querier (one partner)                         holder (one request)
//! ───────────────────────────────────────       ─────────────────────────────────────────────
//! ex = Exchange::new(params, cache)             read a frame      → holder::unreadable on error
//! loop { match ex.poll() {                      holder::gate(policy, partner, &req)?
//!   Send(r)    → new stream, write r            descriptor: holder::current, descriptor_fresh
//!   Receive    → ex.handle(frame, now)          filter/delta: holder::epoch_at, filter_frames,
//!   LoadCache  → ex.load_cache(cache)                         delta_answer
//!   Persist(e) → store e; ex.persisted()        evaluate: holder::admit_evaluate(view, replay,
//!   Blind      → ex.blind(rng)                            budgets, partner, &req, now)?
//!   LogSent(s) → log; ex.logged(witness::hello)           evaluate::evaluate, receipt, sign,
//!   Verify     → ex.verify()                              witness::on_hello, log + persist in
//!   Done(a)    → log a.receipt; witness::on_reply         one transaction, witness::reply,
//!   Failed(e)  → log e.failure(me, partner, c)            evaluate::answer
//! }}                                            follow-up: holder::followup::*
//! ```
//!
//! Errors say who is at fault: the peer ([`querier::ExchangeError::Refused`], `Malformed`,
//! `Invalid`, `Rollback`, `KindMismatch`), the transport (`Timeout`, `Unreachable`,
//! `ConnectionLost`: the driver's to report) or this node (`Local`), with one mapping to the
//! code and sentence an investigator sees ([`querier::ExchangeError::failure`]). A holder's
//! refusals are [`crate::RemoteError`]s whose codes and sentences are part of the contract
//! (spec/PROTOCOL.md §7).

pub mod holder;
pub mod partner_epoch;
pub mod policy;
pub mod querier;
pub mod sync;
pub mod witness;

#[cfg(test)]
pub(crate) mod testing;
