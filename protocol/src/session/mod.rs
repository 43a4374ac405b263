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

pub mod holder;
pub mod partner_epoch;
pub mod policy;
pub mod querier;
pub mod sync;
pub mod witness;

#[cfg(test)]
pub(crate) mod testing;
