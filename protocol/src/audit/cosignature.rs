//! C2SP `tlog-cosignature` (Ed25519, "cosignature/v1"): a partner's timestamped statement
//! that it saw a checkpoint.
//!
//! Per c2sp.org/tlog-cosignature ("Format", "Ed25519 signed message"):
//!
//! - key ID = `SHA-256(name || "\n" || 0x04 || 32-byte public key)[:4]`;
//! - signature line = `— <name> base64(key ID || u64 big-endian timestamp || Ed25519 sig)`;
//! - signed message = `"cosignature/v1\n" || "time " || <timestamp, decimal, no leading zeroes>
//!   || "\n" || <checkpoint body, final newline included, no signature lines>`;
//! - the timestamp is POSIX seconds and MUST NOT exceed 2^63 - 1.
//!
//! The line is an ordinary signed-note signature, so it is appended to the checkpoint note and
//! [`super::note::open_note`] verifies it with a type-0x04 [`VerifierKey`]. Time is an
//! argument (no clock here): whether a timestamp is too old or in the future is the caller's
//! decision.
//!
//! Not done: the ML-DSA-44 cosignature (type 0x06, `subtree/v1`).

use super::checkpoint::Checkpoint;
use super::note::{
    find_key, parse_signature_line, signature_line, KeyType, NoteError, Signer, VerifierKey,
    MAX_NOTE_LEN,
};

/// Length of the big-endian timestamp that precedes the Ed25519 signature.
pub const COSIGNATURE_TIMESTAMP_LEN: usize = 8;

/// Largest timestamp allowed (tlog-cosignature: "MUST NOT exceed 2^63 - 1").
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;

/// The message an Ed25519 cosigner signs for `body` at `time`.
pub fn cosignature_message(time: u64, body: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{body}").into_bytes()
}

/// Cosigns a checkpoint body at `time` (Unix seconds) and returns the signature line, newline
/// included, ready to append to the checkpoint's signed note. The body must be a valid
/// checkpoint.
pub fn cosign(checkpoint_body: &str, time: u64, signer: &Signer) -> Result<String, NoteError> {
    if time > MAX_COSIGNATURE_TIME {
        return Err(NoteError::Misuse(format!(
            "cosignature time {time} exceeds 2^63 - 1; pass Unix seconds"
        )));
    }
    Checkpoint::parse(checkpoint_body).map_err(|e| {
        NoteError::Misuse(format!(
            "only a valid checkpoint body can be cosigned ({e})"
        ))
    })?;
    let key = signer.cosignature_verifier_key();
    let sig = signer.sign_raw(&cosignature_message(time, checkpoint_body));
    Ok(signature_line(
        signer.name(),
        key.key_id(),
        &[&time.to_be_bytes(), sig.as_ref()],
    ))
}

/// Verifies one cosignature line (with or without its final newline) over a checkpoint body
/// with a type-0x04 key, and returns its timestamp.
///
/// A line from another key (name or key ID differs) is a [`NoteError::Verification`] error
/// here, since the caller asked about this key.
pub fn verify_cosignature(
    checkpoint_body: &str,
    line: &str,
    key: &VerifierKey,
) -> Result<u64, NoteError> {
    if checkpoint_body.len() > MAX_NOTE_LEN || line.len() > MAX_NOTE_LEN {
        return Err(NoteError::Malformed("input over 1 MiB".into()));
    }
    if key.key_type() != KeyType::CosignatureV1 {
        return Err(NoteError::Misuse(
            "verify_cosignature needs a cosignature/v1 (type 0x04) key; use \
             Signer::cosignature_verifier_key or a vkey of type 0x04"
                .into(),
        ));
    }
    Checkpoint::parse(checkpoint_body)?;
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.contains('\n') {
        return Err(NoteError::Malformed(
            "pass exactly one signature line".into(),
        ));
    }
    if line.chars().any(|c| c < ' ') {
        return Err(NoteError::Malformed(
            "the cosignature line contains a control character".into(),
        ));
    }
    let sig = parse_signature_line(line)?;
    match find_key(std::slice::from_ref(key), sig.name, sig.id)? {
        None => Err(NoteError::Verification(format!(
            "the cosignature is from {}+{:08x}, not from the expected {}+{:08x}",
            sig.name,
            sig.id,
            key.name(),
            key.key_id()
        ))),
        Some(k) => k
            .verify_payload(checkpoint_body, &sig.payload)?
            .ok_or_else(|| NoteError::Verification("not a cosignature".into())),
    }
}
