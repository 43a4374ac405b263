//! Building blocks of the audit log (issue 4): the RFC 6962 Merkle tree its entries form, and
//! the C2SP note formats its checkpoints and partners' cosignatures use.
//!
//! No storage and no clock here: the node keeps the entries and passes the time in.
//!
//! - [`merkle`]: leaf and node hashes, roots, inclusion and consistency proofs (RFC 9162
//!   §2.1), and an incremental [`merkle::Frontier`].
//! - [`note`]: C2SP `signed-note` with Ed25519: verifier keys, signing, opening.
//! - [`checkpoint`]: the C2SP `tlog-checkpoint` body.
//! - [`cosignature`]: C2SP `tlog-cosignature` lines (a partner's timestamped signature).
//! - [`entry`]: one log entry (a line of JSON; the leaf hashes its exact bytes).
//! - [`receipt`]: the holder's signed receipt of one exchange.
//! - [`bundle`]: an exported log (entries, checkpoints, cosignatures) and its verification.
//! - [`proof`]: C2SP `tlog-proof` files for one entry.
//! - [`tree`]: an in-memory tree with every perfect subtree kept, for proofs at any size.

pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod receipt;
pub mod tree;
