//! The simulator's tests, one binary: every rule a querier or a holder enforces, attacked by a
//! lying peer in a federation in memory, deterministically (seeded, virtual time).

mod answer;
mod attacks;
mod honest;
mod property;
mod refusals;
mod rollback;
mod support;
mod sync;
mod transport;
mod witness;
