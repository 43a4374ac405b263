//! Building blocks of the audit log (issue 4): the RFC 6962 Merkle tree its entries form, and
//! the C2SP note formats its checkpoints and partners' cosignatures use.
//!
//! No storage and no clock here: the node keeps the entries and passes the time in. What is
//! not here yet: entry types, receipts, bundles and the auditor's tools.
//!
//! - [`merkle`]: leaf and node hashes, roots, inclusion and consistency proofs (RFC 9162
//!   §2.1), and an incremental [`merkle::Frontier`].
//! - [`note`]: C2SP `signed-note` with Ed25519: verifier keys, signing, opening.
//! - [`checkpoint`]: the C2SP `tlog-checkpoint` body.
//! - [`cosignature`]: C2SP `tlog-cosignature` lines (a partner's timestamped signature).

pub mod checkpoint;
pub mod cosignature;
pub mod merkle;
pub mod note;
