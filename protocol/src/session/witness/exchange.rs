//! Both sides of the checkpoint exchange: the querier's hello and its handling of the reply,
//! the holder's handling of the hello and its reply.

use crate::audit::bundle::Alert;
use crate::audit::cosignature::{cosign, verify_cosignature};
use crate::audit::note::{open_and_trim, Signer};
use crate::messages::{pack, AuditHello, AuditReply};

use super::{
    alert, check, note_size, Checked, CheckpointLog, Note, PartnerAudit, PartnerLogKeys,
    WitnessError, MAX_PEER_NOTE_LEN,
};

/// What handling a partner's side of the exchange gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// The partner's new state, to persist with the exchange's log entry.
    pub state: PartnerAudit,
    /// Holder: its cosignature line over the querier's checkpoint, to send back (if it
    /// verified).
    pub cosignature: Option<String>,
    /// Evidence of an inconsistent checkpoint, to keep and log (`partner_inconsistent`).
    pub alert: Option<Alert>,
    /// What the driver may log.
    pub notes: Vec<Note>,
}

/// The querier's hello for a partner whose state is `state`: its latest checkpoint, a proof
/// from the size the partner holds, and what it owes the partner.
pub fn hello<L: CheckpointLog>(
    log: &L,
    state: &PartnerAudit,
) -> Result<AuditHello, WitnessError<L::Error>> {
    let (size, checkpoint) = log
        .latest()
        .map_err(WitnessError::Log)?
        .ok_or(WitnessError::EmptyLog)?;
    let from = state.known_by_them;
    let proof = if from == 0 || from > size {
        Vec::new()
    } else {
        pack(&log.consistency(from, size).map_err(WitnessError::Log)?)
    };
    Ok(AuditHello {
        checkpoint,
        proof_from: from,
        proof,
        seen: state.their_size(),
        cosignature: state.my_cosignature.clone(),
    })
}

/// What the holder does with a hello: keeps the querier's cosignature of its own checkpoint,
/// then checks and cosigns the querier's checkpoint (or raises an alert).
#[allow(clippy::too_many_arguments)]
pub fn on_hello<L: CheckpointLog>(
    log: &L,
    partner: &str,
    mut state: PartnerAudit,
    h: &AuditHello,
    keys: &PartnerLogKeys,
    witness: &Signer,
    now: u64,
) -> Result<Witnessed, WitnessError<L::Error>> {
    let mut notes = Vec::new();
    // The querier's cosignature of our checkpoint of size `seen`.
    if let (Some(line), true) = (&h.cosignature, h.seen > 0) {
        if let Some(ours) = log.checkpoint_at(h.seen).map_err(WitnessError::Log)? {
            notes.extend(take_cosignature(&mut state, &ours, line, keys));
        }
    }
    let (cosignature, alert) = take_checkpoint(
        &mut state,
        partner,
        (&h.checkpoint, h.proof_from, &h.proof),
        keys,
        witness,
        now,
        &mut notes,
    )
    .map_err(WitnessError::Sign)?;
    Ok(Witnessed {
        state,
        cosignature,
        alert,
        notes,
    })
}

/// The holder's reply: its checkpoint of `size` (which includes the answer's entry) and a
/// proof from the size the querier holds.
pub fn reply<L: CheckpointLog>(
    log: &L,
    h: &AuditHello,
    size: u64,
    cosignature: Option<String>,
    state: &PartnerAudit,
) -> Result<AuditReply, WitnessError<L::Error>> {
    let checkpoint = log
        .checkpoint_at(size)
        .map_err(WitnessError::Log)?
        .ok_or(WitnessError::NoCheckpoint(size))?;
    let proof = if h.seen == 0 || h.seen > size {
        Vec::new()
    } else {
        pack(&log.consistency(h.seen, size).map_err(WitnessError::Log)?)
    };
    Ok(AuditReply {
        checkpoint,
        proof,
        cosignature,
        known: state.their_size(),
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
) -> Result<Witnessed, WitnessError<std::convert::Infallible>> {
    let mut notes = Vec::new();
    if let Some(line) = &r.cosignature {
        notes.extend(take_cosignature(&mut state, &sent.checkpoint, line, keys));
    }
    state.known_by_them = r.known;
    let (_, alert) = take_checkpoint(
        &mut state,
        partner,
        (&r.checkpoint, sent.seen, &r.proof),
        keys,
        witness,
        now,
        &mut notes,
    )
    .map_err(WitnessError::Sign)?;
    Ok(Witnessed {
        state,
        cosignature: None,
        alert,
        notes,
    })
}

/// Keeps the partner's cosignature `line` over our signed checkpoint `ours` if it verifies
/// and is not older than the one kept.
fn take_cosignature(
    state: &mut PartnerAudit,
    ours: &str,
    line: &str,
    keys: &PartnerLogKeys,
) -> Option<Note> {
    if line.len() > MAX_PEER_NOTE_LEN || line.trim_end_matches('\n').contains('\n') {
        return Some(Note::CosignatureMalformed);
    }
    let body = ours.split_once("\n\n").map(|(b, _)| format!("{b}\n"));
    match body.map(|b| verify_cosignature(&b, line, &keys.witness)) {
        Some(Ok(_)) => {
            let older = state
                .cosigned_by_them
                .as_deref()
                .and_then(note_size)
                .is_some_and(|kept| note_size(ours).is_none_or(|new| new < kept));
            if !older {
                let mut note = ours.trim_end_matches('\n').to_string();
                note.push('\n');
                note.push_str(line.trim_end_matches('\n'));
                note.push('\n');
                state.cosigned_by_them = Some(note);
            }
            None
        }
        _ => Some(Note::CosignatureInvalid),
    }
}

/// Checks the partner's new checkpoint (note, proof start, proof) against the kept one: keeps
/// and cosigns it (returning our cosignature line), or raises an alert.
pub(super) fn take_checkpoint(
    state: &mut PartnerAudit,
    partner: &str,
    (note, from, proof): (&str, u64, &[u8]),
    keys: &PartnerLogKeys,
    witness: &Signer,
    now: u64,
    notes: &mut Vec<Note>,
) -> Result<(Option<String>, Option<Alert>), crate::audit::note::NoteError> {
    // Kept and logged only as its text and the partner's own log signature.
    let trimmed = match note.len() <= MAX_PEER_NOTE_LEN {
        true => open_and_trim(note, std::slice::from_ref(&keys.log)).ok(),
        false => None,
    };
    let Some((_, trimmed)) = trimmed else {
        notes.push(Note::CheckpointIgnored);
        return Ok((None, None));
    };
    let note = trimmed.as_str();
    Ok(
        match check(state.theirs.as_deref(), note, from, proof, &keys.log) {
            Checked::Extends(c) => {
                state.unverified = 0;
                let line = cosign(&c.to_body()?, now, witness)?;
                state.theirs = Some(note.to_string());
                state.my_cosignature = Some(line.clone());
                (Some(line), None)
            }
            Checked::Unverifiable(why) => {
                state.unverified += 1;
                notes.push(Note::NotCosigned(why));
                (None, None)
            }
            Checked::Inconsistent(why) => {
                state.alerts += 1;
                (None, Some(alert(partner, state, note, why, now)))
            }
        },
    )
}
