//! The checkpoint exchange with partners (spec/AUDIT.md §5): on every evaluation the
//! querier sends its latest checkpoint with a consistency proof from the one the holder last
//! held, and the holder answers with its own; each side verifies the other's, cosigns it, and
//! keeps the newest one it verified. A partner whose new checkpoint does not extend one it
//! signed before is flagged: both signed checkpoints are kept as evidence in `audit_alerts`,
//! an entry is logged, and `cordon status` shows it.
//!
//! Cosignatures travel one exchange late: the querier's cosignature of the holder's checkpoint
//! goes out with its next request to that holder (it verifies the holder's checkpoint only once
//! the answer arrived).
//!
//! Pure verification here; the caller persists the returned state in the same transaction as
//! the exchange's log entry.

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use cordon_protocol::audit::bundle::Alert;
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::cosignature::{cosign, verify_cosignature};
use cordon_protocol::audit::merkle::{verify_consistency, Hash};
use cordon_protocol::audit::note::{open_and_trim, open_note, Signer, VerifierKey};
use cordon_protocol::messages::{pack, unpack, AuditHello, AuditReply};

use super::{AuditLog, ALERTS, PARTNERS};
use crate::error::NodeError;

/// What a node keeps about one partner's log and about its own log as that partner saw it.
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

fn corrupt(e: impl std::fmt::Display) -> NodeError {
    NodeError::storage(format!("audit partner state: {e}"))
}

/// Reads a partner's state.
pub fn load(db: &Database, partner: &str) -> Result<PartnerAudit, NodeError> {
    let read = db.begin_read()?;
    let t = read.open_table(PARTNERS)?;
    match t.get(partner)? {
        Some(v) => serde_json::from_slice(v.value()).map_err(corrupt),
        None => Ok(PartnerAudit::default()),
    }
}

/// Every partner's state.
pub fn load_all(db: &Database) -> Result<Vec<(String, PartnerAudit)>, NodeError> {
    let read = db.begin_read()?;
    let t = read.open_table(PARTNERS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.push((
            k.value().to_string(),
            serde_json::from_slice(v.value()).map_err(corrupt)?,
        ));
    }
    Ok(out)
}

/// Writes a partner's state (and an alert, if any) into `txn`.
pub fn save(
    txn: &WriteTransaction,
    partner: &str,
    state: &PartnerAudit,
    alert: Option<&Alert>,
) -> Result<(), NodeError> {
    let bytes = serde_json::to_vec(state).map_err(corrupt)?;
    txn.open_table(PARTNERS)?
        .insert(partner, bytes.as_slice())?;
    if let Some(a) = alert {
        let mut t = txn.open_table(ALERTS)?;
        let next = t.last()?.map_or(0, |(k, _)| k.value() + 1);
        let bytes = serde_json::to_vec(a).map_err(corrupt)?;
        t.insert(next, bytes.as_slice())?;
    }
    Ok(())
}

/// Every alert kept.
pub fn alerts(db: &Database) -> Result<Vec<Alert>, NodeError> {
    let read = db.begin_read()?;
    let t = read.open_table(ALERTS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(serde_json::from_slice(v.value()).map_err(corrupt)?);
    }
    Ok(out)
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

/// How far below the kept size a partner's checkpoint may be and still be taken for one
/// overtaken by a concurrent exchange.
pub const REORDER_SLACK: u64 = 4096;

/// Longest checkpoint note or cosignature line accepted from a partner.
pub const MAX_PEER_NOTE_LEN: usize = 4096;

/// The result of checking a partner's new checkpoint against the one kept.
pub enum Checked {
    /// It extends the kept one (or is the first): keep it and cosign it.
    Extends(Checkpoint),
    /// It cannot be checked now (the proof starts elsewhere); keep the old one.
    Unverifiable(String),
    /// It contradicts the kept one: evidence.
    Inconsistent(String),
}

/// Checks `new_note` (with a consistency proof from size `proof_from`) against the kept
/// checkpoint of the partner.
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

/// The querier's hello for `partner`: its latest checkpoint and what it owes the partner.
pub fn hello(log: &AuditLog, state: &PartnerAudit) -> Result<AuditHello, NodeError> {
    let (size, checkpoint) = log
        .latest()?
        .ok_or_else(|| NodeError::internal("the audit log is empty before a query"))?;
    let from = state.known_by_them;
    let proof = if from == 0 || from > size {
        Vec::new()
    } else {
        pack(&log.consistency(from, size)?)
    };
    let seen = state.their_size();
    Ok(AuditHello {
        checkpoint,
        proof_from: from,
        proof,
        seen,
        cosignature: state.my_cosignature.clone(),
    })
}

/// What the holder does with a hello: returns the new state, the cosignature to send back,
/// and an alert if the querier's log contradicts what it signed before.
pub fn on_hello(
    log: &AuditLog,
    partner: &str,
    mut state: PartnerAudit,
    h: &AuditHello,
    keys: &PartnerLogKeys,
    now: u64,
) -> Result<(PartnerAudit, Option<String>, Option<Alert>), NodeError> {
    // The querier's cosignature of our checkpoint of size `seen`.
    if let (Some(line), true) = (&h.cosignature, h.seen > 0) {
        if let Some(ours) = log.checkpoint_at(h.seen)? {
            take_cosignature(&mut state, partner, &ours, line, keys);
        }
    }
    let (cosignature, alert) = take_checkpoint(
        &mut state,
        partner,
        (&h.checkpoint, h.proof_from, &h.proof),
        keys,
        &log.witness,
        now,
    )?;
    Ok((state, cosignature, alert))
}

/// Keeps the partner's cosignature `line` over our signed checkpoint `ours` if it verifies
/// and is not older than the one kept.
fn take_cosignature(
    state: &mut PartnerAudit,
    partner: &str,
    ours: &str,
    line: &str,
    keys: &PartnerLogKeys,
) {
    if line.len() > MAX_PEER_NOTE_LEN || line.trim_end_matches('\n').contains('\n') {
        tracing::warn!(
            partner,
            "the partner's cosignature line is malformed; ignored"
        );
        return;
    }
    let size_of = note_size;
    let body = ours.split_once("\n\n").map(|(b, _)| format!("{b}\n"));
    match body.map(|b| verify_cosignature(&b, line, &keys.witness)) {
        Some(Ok(_)) => {
            let older = state
                .cosigned_by_them
                .as_deref()
                .and_then(size_of)
                .is_some_and(|kept| size_of(ours).is_none_or(|new| new < kept));
            if !older {
                let mut note = ours.trim_end_matches('\n').to_string();
                note.push('\n');
                note.push_str(line.trim_end_matches('\n'));
                note.push('\n');
                state.cosigned_by_them = Some(note);
            }
        }
        _ => tracing::warn!(
            partner,
            "the partner's cosignature of our checkpoint does not verify; ignored"
        ),
    }
}

/// Checks the partner's new checkpoint (note, proof start, proof) against the kept one: keeps
/// and cosigns it (returning our cosignature line), or raises an alert.
fn take_checkpoint(
    state: &mut PartnerAudit,
    partner: &str,
    (note, from, proof): (&str, u64, &[u8]),
    keys: &PartnerLogKeys,
    witness: &Signer,
    now: u64,
) -> Result<(Option<String>, Option<Alert>), NodeError> {
    // Kept and logged only as its text and the partner's own log signature.
    let trimmed = match note.len() <= MAX_PEER_NOTE_LEN {
        true => open_and_trim(note, std::slice::from_ref(&keys.log)).ok(),
        false => None,
    };
    let Some((_, trimmed)) = trimmed else {
        tracing::info!(
            partner,
            "partner checkpoint malformed, oversized or not signed by its log key; ignored"
        );
        return Ok((None, None));
    };
    let note = trimmed.as_str();
    Ok(
        match check(state.theirs.as_deref(), note, from, proof, &keys.log) {
            Checked::Extends(c) => {
                state.unverified = 0;
                let body = c
                    .to_body()
                    .map_err(|e| NodeError::internal(e.to_string()))?;
                let line =
                    cosign(&body, now, witness).map_err(|e| NodeError::internal(e.to_string()))?;
                state.theirs = Some(note.to_string());
                state.my_cosignature = Some(line.clone());
                (Some(line), None)
            }
            Checked::Unverifiable(why) => {
                state.unverified += 1;
                tracing::info!(partner, reason = %why, "partner checkpoint not cosigned this time");
                (None, None)
            }
            Checked::Inconsistent(why) => {
                state.alerts += 1;
                (None, Some(alert(partner, state, note, why, now)))
            }
        },
    )
}

fn alert(partner: &str, state: &PartnerAudit, new: &str, reason: String, now: u64) -> Alert {
    tracing::error!(
        partner,
        reason = %reason,
        "ALERT: partner presented an audit checkpoint inconsistent with one it signed before; both kept as evidence"
    );
    Alert {
        partner: partner.to_string(),
        time: now,
        old: state.theirs.clone().unwrap_or_default(),
        new: new.to_string(),
        reason,
    }
}

/// The holder's reply: its checkpoint of `size` (which includes the answer's entry) and a
/// proof from the size the querier holds.
pub fn reply(
    log: &AuditLog,
    h: &AuditHello,
    size: u64,
    cosignature: Option<String>,
    state: &PartnerAudit,
) -> Result<AuditReply, NodeError> {
    let checkpoint = log.checkpoint_at(size)?.ok_or_else(|| {
        NodeError::internal(format!("no checkpoint of size {size} after an answer"))
    })?;
    let proof = if h.seen == 0 || h.seen > size {
        Vec::new()
    } else {
        pack(&log.consistency(h.seen, size)?)
    };
    let known = state.their_size();
    Ok(AuditReply {
        checkpoint,
        proof,
        cosignature,
        known,
    })
}

/// What the querier does with the holder's reply to `sent` (the hello it sent).
pub fn on_reply(
    partner: &str,
    mut state: PartnerAudit,
    sent: &AuditHello,
    r: &AuditReply,
    keys: &PartnerLogKeys,
    witness: &Signer,
    now: u64,
) -> Result<(PartnerAudit, Option<Alert>), NodeError> {
    if let Some(line) = &r.cosignature {
        take_cosignature(&mut state, partner, &sent.checkpoint, line, keys);
    }
    state.known_by_them = r.known;
    let (_, alert) = take_checkpoint(
        &mut state,
        partner,
        (&r.checkpoint, sent.seen, &r.proof),
        keys,
        witness,
        now,
    )?;
    Ok((state, alert))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_protocol::audit::merkle::{leaf_hash, node_hash, root};
    use cordon_protocol::audit::note::sign_note;

    fn note(s: &Signer, size: u64, root: Hash) -> String {
        let c = Checkpoint {
            origin: s.name().into(),
            size,
            root,
            extensions: vec![],
        };
        sign_note(&c.to_body().unwrap(), &[s]).unwrap()
    }

    #[test]
    fn an_inflated_size_does_not_silence_later_checks() {
        let s = Signer::from_seed("th/audit", &[1; 32]).unwrap();
        let key = s.verifier_key();
        let leaves: Vec<Hash> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
        let kept = note(&s, 4, root(&leaves));
        // A made-up proof extending size 4 to 2^40: it verifies, so the claim is kept...
        let proof: Vec<Hash> = (2..40u8).map(|i| [i; 32]).collect();
        let mut r = root(&leaves);
        for c in &proof {
            r = node_hash(&r, c);
        }
        let jam = note(&s, 1 << 40, r);
        assert!(matches!(
            check(Some(&kept), &jam, 4, &pack(&proof), &key),
            Checked::Extends(_)
        ));
        // ...but the partner's real, much smaller checkpoints are then flagged.
        let other: Vec<Hash> = (10..15u8).map(|i| leaf_hash(&[i])).collect();
        let real = note(&s, 5, root(&other));
        assert!(matches!(
            check(Some(&jam), &real, 0, &[], &key),
            Checked::Inconsistent(_)
        ));
        // A checkpoint only a little older than the kept one is just late.
        let six: Vec<Hash> = (0..6u8).map(|i| leaf_hash(&[i])).collect();
        let kept6 = note(&s, 6, root(&six));
        assert!(matches!(
            check(Some(&kept6), &kept, 0, &[], &key),
            Checked::Unverifiable(_)
        ));
        // Checkpoints whose proofs always start elsewhere are counted until one verifies.
        let keys = PartnerLogKeys {
            log: key.clone(),
            witness: Signer::from_seed("th", &[2; 32])
                .unwrap()
                .cosignature_verifier_key(),
            receipt: Signer::from_seed("th", &[3; 32]).unwrap().verifier_key(),
        };
        let me = Signer::from_seed("jp", &[4; 32]).unwrap();
        let mut state = PartnerAudit {
            theirs: Some(kept.clone()),
            ..Default::default()
        };
        for i in 1..=3 {
            let (cosig, alert) =
                take_checkpoint(&mut state, "th", (&kept6, 1, &[]), &keys, &me, 9).unwrap();
            assert!(cosig.is_none() && alert.is_none());
            assert_eq!(state.unverified, i);
        }
        let proof = pack(&cordon_protocol::audit::merkle::consistency_proof(&six, 4).unwrap());
        let (cosig, _) =
            take_checkpoint(&mut state, "th", (&kept6, 4, &proof), &keys, &me, 9).unwrap();
        assert!(cosig.is_some());
        assert_eq!(state.unverified, 0);
        assert_eq!(state.theirs.as_deref(), Some(kept6.as_str()));
        // Same size, another root: inconsistent.
        let fork = note(&s, 4, root(&other[..4]));
        assert!(matches!(
            check(Some(&kept), &fork, 4, &[], &key),
            Checked::Inconsistent(_)
        ));
    }
}
