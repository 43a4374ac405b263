//! Attacks on every guarantee of the sessions, one test each: a lying holder against the
//! querier ([`on_querier`]), a lying querier against the holder ([`on_holder`]), and lying
//! logs against the checkpoint witness ([`on_witness`]). Each attack is refused, or pinned as
//! what the protocol does not prevent (said so in its test).

mod on_holder;
mod on_querier;
mod on_witness;
mod support;
