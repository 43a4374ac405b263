//! The checkpoint exchange with partners (spec/AUDIT.md §5): on every evaluation the querier
//! sends its latest checkpoint with a consistency proof from the one the holder last held, and
//! the holder answers with its own; each side verifies the other's, cosigns it, and keeps the
//! newest one it verified. A partner whose new checkpoint does not extend one it signed before
//! is flagged with an [`Alert`]: both signed checkpoints are evidence.
//!
//! ```text
//! querier                                             holder
//! hello(log, state) ── evaluate{…, audit: hello} ──▶  on_hello(log, state, hello): check, cosign
//!                                                     (log the answer, save the state), then
//!                   ◀── evaluated{…, audit: reply} ── reply(log, hello, size, cosignature, state)
//! on_reply(state, hello, reply): check, cosign
//! ```
//!
//! Cosignatures travel one exchange late: the querier's cosignature of the holder's checkpoint
//! goes out with its next request to that holder (it verifies the holder's checkpoint only once
//! the answer arrived).
//!
//! Pure verification over a [`CheckpointLog`] (the node's own log: a checkpoint at a size, the
//! latest, consistency proofs); no storage. The caller persists the returned
//! [`PartnerAudit`] in the same transaction as the exchange's log entry, keeps any alert, and
//! logs the [`Note`]s. A failure of this exchange never fails the query itself.

mod exchange;

pub use exchange::{hello, on_hello, on_reply, reply, Witnessed};

use serde::{Deserialize, Serialize};

use crate::audit::bundle::Alert;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::merkle::{verify_consistency, Hash};
use crate::audit::note::{open_note, NoteError, VerifierKey};
use crate::messages::unpack;

/// What a node keeps about one partner's log and about its own log as that partner saw it
/// (stored as JSON: the shape is part of the node's database).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerAudit {
    /// The partner's newest checkpoint this node verified (signed note).
    pub theirs: Option<String>,
    /// This node's cosignature line over `theirs`, sent with the next request to them.
    pub my_cosignature: Option<String>,
    /// This node's newest checkpoint the partner cosigned: our note plus their line.
    pub cosigned_by_them: Option<String>,
    /// Size of this node's checkpoint the partner holds.
    pub known_by_them: u64,
    /// Inconsistencies found so far.
    pub alerts: u64,
    /// The partner's checkpoints in a row that could not be checked against the kept one
    /// (reset by one that could): a partner that always sends proofs from the wrong size would
    /// otherwise never be checked, and never be flagged.
    #[serde(default)]
    pub unverified: u64,
}

/// The tree size a checkpoint note states (its second line), without checking it: for notes
/// this node verified before keeping them.
pub fn note_size(note: &str) -> Option<u64> {
    note.lines().nth(1).and_then(|l| l.parse().ok())
}

impl PartnerAudit {
    /// Size of the partner's checkpoint kept (0: none).
    pub fn their_size(&self) -> u64 {
        self.theirs.as_deref().and_then(note_size).unwrap_or(0)
    }
}

/// Unverifiable checkpoints in a row after which `cordon status` warns.
pub const UNVERIFIED_WARNING: u64 = 10;

/// How far below the kept size a partner's checkpoint may be and still be taken for one
/// overtaken by a concurrent exchange.
pub const REORDER_SLACK: u64 = 4096;

/// Longest checkpoint note or cosignature line accepted from a partner.
pub const MAX_PEER_NOTE_LEN: usize = 4096;

/// A partner's public keys for its log and cosignatures.
#[derive(Debug, Clone)]
pub struct PartnerLogKeys {
    /// Its log key (checkpoints), named by its origin.
    pub log: VerifierKey,
    /// Its cosigning key (type cosignature/v1), named by its node name.
    pub witness: VerifierKey,
    /// Its descriptor key (receipts), named by its node name.
    pub receipt: VerifierKey,
}

/// This node's own log, as the exchange reads it.
pub trait CheckpointLog {
    /// Why the log could not be read.
    type Error: std::fmt::Display;
    /// The latest signed checkpoint and its size (`None` while the log is empty).
    fn latest(&self) -> Result<Option<(u64, String)>, Self::Error>;
    /// The signed checkpoint at `size`, if there is one.
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, Self::Error>;
    /// A consistency proof between two sizes of the log.
    fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, Self::Error>;
}

/// Why this node could not take part in the exchange (its own failure, never the partner's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError<E> {
    /// The log could not be read.
    #[error("the audit log: {0}")]
    Log(E),
    /// The log is empty where it cannot be (a `query_sent` entry precedes every hello).
    #[error("the audit log is empty before a query")]
    EmptyLog,
    /// No checkpoint of the size the answer's entry made.
    #[error("no checkpoint of size {0} after an answer")]
    NoCheckpoint(u64),
    /// Signing a cosignature failed.
    #[error("cosigning: {0}")]
    Sign(NoteError),
}

/// Something the driver may log about a partner's audit data (none fails the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The partner's cosignature line is malformed; ignored.
    CosignatureMalformed,
    /// The partner's cosignature of our checkpoint does not verify; ignored.
    CosignatureInvalid,
    /// The partner's checkpoint is malformed, oversized or not signed by its log key; ignored.
    CheckpointIgnored,
    /// The partner's checkpoint could not be checked this time (the reason); not cosigned.
    NotCosigned(String),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::CosignatureMalformed => {
                f.write_str("the partner's cosignature line is malformed; ignored")
            }
            Note::CosignatureInvalid => {
                f.write_str("the partner's cosignature of our checkpoint does not verify; ignored")
            }
            Note::CheckpointIgnored => f.write_str(
                "partner checkpoint malformed, oversized or not signed by its log key; ignored",
            ),
            Note::NotCosigned(why) => write!(f, "partner checkpoint not cosigned this time: {why}"),
        }
    }
}

/// A partner's checkpoint, opened with its log key.
fn open_theirs(note: &str, key: &VerifierKey) -> Result<Checkpoint, String> {
    let (body, _) = open_note(note.as_bytes(), std::slice::from_ref(key))
        .map_err(|e| format!("its checkpoint does not verify: {e}"))?;
    let c = Checkpoint::parse(&body).map_err(|e| format!("its checkpoint is malformed: {e}"))?;
    if c.origin != key.name() {
        return Err(format!("its checkpoint is of log {:?}", c.origin));
    }
    Ok(c)
}

/// The result of checking a partner's new checkpoint against the one kept.
#[derive(Debug)]
pub enum Checked {
    /// It extends the kept one (or is the first): keep it and cosign it.
    Extends(Checkpoint),
    /// It cannot be checked now (the proof starts elsewhere); keep the old one.
    Unverifiable(String),
    /// It contradicts the kept one: evidence.
    Inconsistent(String),
}

/// Checks `new_note` (with a consistency proof from size `proof_from`) against the kept
/// checkpoint of the partner (spec/AUDIT.md §5.2, steps 2 to 5).
pub fn check(
    kept: Option<&str>,
    new_note: &str,
    proof_from: u64,
    proof: &[u8],
    key: &VerifierKey,
) -> Checked {
    let new = match open_theirs(new_note, key) {
        Ok(c) => c,
        Err(e) => return Checked::Unverifiable(e),
    };
    let Some(kept) = kept else {
        return Checked::Extends(new);
    };
    let old = match open_theirs(kept, key) {
        Ok(c) => c,
        Err(e) => return Checked::Unverifiable(format!("the kept checkpoint: {e}")),
    };
    if new.size < old.size {
        // Concurrent exchanges can deliver a slightly older checkpoint after a newer one: not
        // news. A log far smaller than one the partner signed before has shrunk (rolled back,
        // or the kept size was an inflated claim): flagged, or a partner could silence every
        // later check by once signing a huge size with a made-up proof.
        return if old.size - new.size <= REORDER_SLACK {
            Checked::Unverifiable(format!(
                "its checkpoint of size {} is older than the kept one of size {}",
                new.size, old.size
            ))
        } else {
            Checked::Inconsistent(format!(
                "its log shrank from {} entries (signed before) to {}",
                old.size, new.size
            ))
        };
    }
    if new.size == old.size {
        return if new.root == old.root {
            Checked::Extends(new)
        } else {
            Checked::Inconsistent(format!(
                "it signed two different roots for the same size {}",
                old.size
            ))
        };
    }
    if proof_from != old.size {
        return Checked::Unverifiable(format!(
            "the proof starts at size {proof_from}, but the kept checkpoint is of size {}",
            old.size
        ));
    }
    let hashes: Vec<Hash> = match unpack("proof", proof) {
        Ok(h) => h,
        Err(e) => return Checked::Unverifiable(e.to_string()),
    };
    match verify_consistency(old.size, new.size, &hashes, &old.root, &new.root) {
        Ok(()) => Checked::Extends(new),
        Err(e) => Checked::Inconsistent(format!(
            "its checkpoint of size {} does not extend the one of size {} it signed before ({e})",
            new.size, old.size
        )),
    }
}

/// The evidence of an inconsistent checkpoint: the kept one and the new one.
fn alert(partner: &str, state: &PartnerAudit, new: &str, reason: String, now: u64) -> Alert {
    Alert {
        partner: partner.to_string(),
        time: now,
        old: state.theirs.clone().unwrap_or_default(),
        new: new.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests;
