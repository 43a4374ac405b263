//! # cordon-protocol
//!
//! Everything two Cordon nodes must agree on, with **no I/O**: no sockets, no files, no
//! clocks, no global randomness. Time and randomness are arguments, so every exchange runs in
//! memory in tests and against published vectors. `spec/PROTOCOL.md` is the normative text;
//! this crate is its reference implementation.
//!
//! What is here:
//!
//! - [`frame`]: the versioned, length-prefixed frame with one hard size limit, and CBOR
//!   (ciborium) encoding that rejects trailing bytes.
//! - [`messages`]: requests and responses between nodes.
//! - [`collection`]: collection names, parsed once where they enter.
//! - [`control`]: a CLI talking to its own node: requests, answers, roles and what each may
//!   do.
//! - [`followup`]: follow-up requests on hits, and the hit reference format.
//! - [`oprf`]: RFC 9497 OPRF/VOPRF over ristretto255-SHA512, batched DLEQ proofs, and tag
//!   derivation.
//! - [`exchange`]: one query, both sides, as functions over bytes.
//! - [`count`]: the same in count mode (one shared blind, shuffled answers, a proof over sums).
//! - [`filter`]: the Bloom filter of an epoch and the delta hash chain.
//! - [`descriptor`]: the signed epoch descriptor.
//! - [`ident`]: canonical identifier forms, byte-identical on both sides: phones, e-mails,
//!   IBANs and other bank accounts, e-wallets, crypto addresses, IPs (with a time window),
//!   domains, URLs, passports, national IDs, IMEIs, text.
//! - [`person`]: person records and the match keys derived from them (documents, name and
//!   date of birth, and transliteration-robust name skeletons), with a strength per key class.
//! - [`audit`]: the audit log's Merkle tree (RFC 6962) and C2SP signed notes, checkpoints and
//!   cosignatures.
//! - [`error`]: errors split by who is at fault, and the wire error codes.
//! - [`session`]: both sides of every exchange as sans-I/O state machines and pure functions
//!   (the querier's sync and evaluation, the holder's admission, the checkpoint witness).
//!
//! What is deliberately not here: storage, networking, configuration and audit logging. Those
//! live in `cordon-node`, which drives the sessions.
//!
//! Key types: [`messages::PartnerRequest`], [`messages::PartnerResponse`],
//! [`descriptor::SignedDescriptor`], [`filter::EpochFilter`], [`exchange::BlindedBatch`],
//! [`ident::Canonical`], [`person::MatchKey`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod collection;
pub mod control;
pub mod count;
pub mod descriptor;
pub mod error;
pub mod exchange;
pub mod filter;
pub mod followup;
pub mod frame;
pub mod ident;
pub mod messages;
pub mod oprf;
pub mod person;
pub mod session;

pub use error::{ErrorCode, RemoteError, VerifyError, WireError};
