//! C2SP `signed-note`: text signed by one or more Ed25519 keys, as used by the audit-log
//! checkpoints of issue 4 (see [`super::checkpoint`] and [`super::cosignature`]).
//!
//! Format (c2sp.org/signed-note, "Format"; golang.org/x/mod/sumdb/note `Open`/`Sign`):
//!
//! ```text
//! <text, ending in "\n">
//! <empty line>
//! — <key name> <base64(4-byte big-endian key ID || signature)>\n   (one or more)
//! ```
//!
//! - The whole note is UTF-8 with no ASCII control character other than `\n`.
//! - The text is everything up to and including the newline before the *last* `"\n\n"`; it may
//!   itself contain empty lines.
//! - A key name is non-empty, contains no Unicode space (`White_Space`) and no `+`.
//! - Ed25519 key ID = `SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]`
//!   (signed-note, "Ed25519 signatures"); the signature is RFC 8032 Ed25519 over the text.
//! - Verifier keys are written `<name>+<8 lowercase hex digits of key ID>+<base64(type || key)>`
//!   (the vkey form of golang.org/x/mod/sumdb/note `NewVerifier`, referenced by
//!   c2sp.org/tlog-cosignature as signed-note "vkeys").
//!
//! Opening follows the signed-note rules ("Signatures"): lines from unknown keys (name *and*
//! key ID must both match a configured key) are ignored; every line from a known key is
//! verified and one failure rejects the whole note (the SHOULD, taken as a MUST here); at least
//! one known key must have signed.
//!
//! Strictness beyond the Go implementation, deliberately: notes over [`MAX_NOTE_LEN`] bytes are
//! refused before anything else is looked at; base64 must be canonical (padding required, no
//! stray bits: base64 0.22 `STANDARD` refuses both); key IDs in vkeys must be lowercase hex;
//! every repeated line from a known key is verified (Go verifies only the first one).
//!
//! Not done: ECDSA (type 0x02), RFC 6962 (0x05), ML-DSA (0x06) keys; private-key text forms
//! (`PRIVATE+KEY+...`): keys come in as ring key pairs or seeds.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use super::cosignature::{cosignature_message, COSIGNATURE_TIMESTAMP_LEN};

/// Largest note (or checkpoint body, signature line or vkey) accepted, in bytes, checked before
/// any other parsing. Signed-note asks verifiers to bound the note size while accepting at
/// least 16 signatures; Cordon notes are a few hundred bytes.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// Most signature lines accepted in one note (the Go implementation's limit; signed-note
/// requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Signature type byte of plain Ed25519 note signatures (signed-note, "Signature types").
pub const TYPE_ED25519: u8 = 0x01;

/// Signature type byte of timestamped Ed25519 cosignatures (signed-note, "Signature types";
/// c2sp.org/tlog-cosignature).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The line prefix of a signature: em dash (U+2014) and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

const ED25519_SIG_LEN: usize = 64;

/// Why a note, key, checkpoint or cosignature was refused. Split by who must act: the sender
/// of malformed bytes, the holder of a key that does not verify, or the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The bytes are not a well-formed note, signature line, checkpoint or verifier key.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Well-formed, but a signature from a known key is wrong, or no known key signed.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The caller asked for something the formats cannot express (e.g. text without a final
    /// newline, an invalid key name, the wrong key type).
    #[error("misuse: {0}")]
    Misuse(String),
}

fn malformed(reason: impl Into<String>) -> NoteError {
    NoteError::Malformed(reason.into())
}

/// Which kind of signature a key makes (its signed-note type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Type 0x01: Ed25519 over the note text.
    Ed25519,
    /// Type 0x04: tlog-cosignature/v1, Ed25519 over `cosignature/v1\ntime <t>\n || text`.
    CosignatureV1,
}

impl KeyType {
    /// The signed-note type byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => TYPE_ED25519,
            KeyType::CosignatureV1 => TYPE_COSIGNATURE_V1,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            TYPE_ED25519 => Some(KeyType::Ed25519),
            TYPE_COSIGNATURE_V1 => Some(KeyType::CosignatureV1),
            _ => None,
        }
    }
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+` (signed-note,
/// "Format"). Rust's `char::is_whitespace` is the `White_Space` property, as Go's
/// `unicode.IsSpace` used by `isValidName`. Control characters are refused too, since a note
/// may not contain them.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && c != '+' && !c.is_control())
}

/// `SHA-256(name || 0x0A || type || public key)[:4]` as a big-endian u32 (signed-note, "Ed25519
/// signatures"; tlog-cosignature, "Format" for type 0x04).
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', key_type.byte()]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A trusted public key: name, type and Ed25519 public key; the key ID is derived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifierKey {
    name: String,
    key_type: KeyType,
    public_key: [u8; 32],
    key_id: u32,
}

impl VerifierKey {
    /// A key from its parts; refuses an invalid name.
    pub fn new(name: &str, key_type: KeyType, public_key: [u8; 32]) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::Misuse(format!(
                "key name {name:?} is empty or contains a space, a '+' or a control character; \
                 use a schema-less URL such as example.org/audit"
            )));
        }
        Ok(VerifierKey {
            key_id: key_id(name, key_type, &public_key),
            name: name.to_owned(),
            key_type,
            public_key,
        })
    }

    /// Parses the vkey text form `<name>+<hex key ID>+<base64(type || public key)>`.
    /// The key ID must be 8 lowercase hex digits and equal the one derived from the rest.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        if vkey.len() > MAX_NOTE_LEN {
            return Err(malformed("the verifier key is over 1 MiB; check the input"));
        }
        // The name has no '+', so the first two '+' are the separators; the base64 may hold more.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(
                "a verifier key has the form <name>+<key id>+<base64 key>; a '+' is missing",
            ));
        };
        if !is_valid_key_name(name) {
            return Err(malformed(format!(
                "verifier key name {name:?} is empty or contains a space or control character"
            )));
        }
        if id_hex.len() != 8
            || !id_hex
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(malformed(format!(
                "verifier key ID {id_hex:?} is not 8 lowercase hex digits"
            )));
        }
        let declared = u32::from_str_radix(id_hex, 16)
            .map_err(|_| malformed("verifier key ID is not hexadecimal"))?;
        let raw = STANDARD.decode(b64).map_err(|_| {
            malformed("verifier key material is not canonical padded standard base64")
        })?;
        let Some((&type_byte, key)) = raw.split_first() else {
            return Err(malformed("verifier key material is empty"));
        };
        let key_type = KeyType::from_byte(type_byte).ok_or_else(|| {
            malformed(format!(
                "verifier key type 0x{type_byte:02x} is not supported; use 0x01 (Ed25519) or \
                 0x04 (cosignature/v1)"
            ))
        })?;
        let public_key: [u8; 32] = key.try_into().map_err(|_| {
            malformed(format!(
                "an Ed25519 verifier key holds 32 bytes after the type byte, not {}",
                key.len()
            ))
        })?;
        let k = VerifierKey::new(name, key_type, public_key)?;
        if k.key_id != declared {
            return Err(malformed(format!(
                "verifier key ID {id_hex} does not match the key (it should be {:08x}); the key \
                 was altered or mis-copied",
                k.key_id
            )));
        }
        Ok(k)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }
    /// The derived key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Checks an Ed25519 signature over `msg` with this key.
    pub(crate) fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key[..])
            .verify(msg, sig)
            .is_ok()
    }

    /// Verifies one signature payload (after the 4-byte key ID) over `text` according to the
    /// key type. Returns the cosignature timestamp for type 0x04.
    pub(crate) fn verify_payload(
        &self,
        text: &str,
        payload: &[u8],
    ) -> Result<Option<u64>, NoteError> {
        let bad = || {
            NoteError::Verification(format!(
                "the signature of {}+{:08x} does not verify; the note was altered or signed with \
                 another key",
                self.name, self.key_id
            ))
        };
        match self.key_type {
            KeyType::Ed25519 => {
                if payload.len() != ED25519_SIG_LEN || !self.verify_raw(text.as_bytes(), payload) {
                    return Err(bad());
                }
                Ok(None)
            }
            KeyType::CosignatureV1 => {
                if payload.len() != COSIGNATURE_TIMESTAMP_LEN + ED25519_SIG_LEN {
                    return Err(bad());
                }
                let (ts, sig) = payload.split_at(COSIGNATURE_TIMESTAMP_LEN);
                let mut t = [0u8; 8];
                t.copy_from_slice(ts);
                let time = u64::from_be_bytes(t);
                // tlog-cosignature: the timestamp "MUST NOT exceed 2^63 - 1".
                if time > i64::MAX as u64 || !self.verify_raw(&cosignature_message(time, text), sig)
                {
                    return Err(bad());
                }
                Ok(Some(time))
            }
        }
    }
}

impl std::fmt::Display for VerifierKey {
    /// The vkey text form, which [`VerifierKey::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.key_type.byte());
        raw.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(raw)
        )
    }
}

/// A named Ed25519 signing key. The same key pair signs notes (type 0x01) and, through
/// [`super::cosignature::cosign`], cosignatures (type 0x04); use distinct keys for the two
/// roles (tlog-cosignature requires distinct keys per cosigner, and a log key should sign
/// only its checkpoints).
pub struct Signer {
    name: String,
    key_pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("public_key", &self.key_pair.public_key())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Wraps a ring key pair under a key name; refuses an invalid name.
    pub fn new(name: &str, key_pair: Ed25519KeyPair) -> Result<Self, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::Misuse(format!(
                "signer name {name:?} is empty or contains a space, a '+' or a control \
                 character; use a schema-less URL such as example.org/audit"
            )));
        }
        Ok(Signer {
            name: name.to_owned(),
            key_pair,
        })
    }

    /// A signer from a 32-byte RFC 8032 private key seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        let kp = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| NoteError::Misuse("ring refused the Ed25519 seed".into()))?;
        Signer::new(name, kp)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.key_pair.public_key().as_ref());
        pk
    }

    /// The verifier key of this signer's note signatures (type 0x01).
    pub fn verifier_key(&self) -> VerifierKey {
        self.key(KeyType::Ed25519)
    }

    /// The verifier key of this signer's cosignatures (type 0x04).
    pub fn cosignature_verifier_key(&self) -> VerifierKey {
        self.key(KeyType::CosignatureV1)
    }

    fn key(&self, key_type: KeyType) -> VerifierKey {
        let public_key = self.public_key();
        VerifierKey {
            key_id: key_id(&self.name, key_type, &public_key),
            name: self.name.clone(),
            key_type,
            public_key,
        }
    }

    pub(crate) fn sign_raw(&self, msg: &[u8]) -> ring::signature::Signature {
        self.key_pair.sign(msg)
    }
}

/// Formats one signature line, newline included.
pub(crate) fn signature_line(name: &str, id: u32, payload: &[&[u8]]) -> String {
    let mut raw = id.to_be_bytes().to_vec();
    for p in payload {
        raw.extend_from_slice(p);
    }
    format!("{SIG_PREFIX}{name} {}\n", STANDARD.encode(raw))
}

/// Checks that `text` can be the text of a note: ends in a newline, no control character
/// other than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Misuse(
            "note text must end in a newline; append \"\\n\"".into(),
        ));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Misuse(
            "note text contains an ASCII control character other than newline; remove it".into(),
        ));
    }
    Ok(())
}

/// Signs `text` with each signer (type 0x01) and returns the note. The text must end in a
/// newline and contain no control character other than newline; signers must be non-empty
/// and distinct; the result must fit in [`MAX_NOTE_LEN`].
pub fn sign_note(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::Misuse(
            "sign_note needs at least one signer".into(),
        ));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(NoteError::Misuse(format!(
            "at most {MAX_SIGNATURES} signers fit in a note"
        )));
    }
    let mut note = String::with_capacity(text.len() + 1 + signers.len() * 120);
    note.push_str(text);
    note.push('\n');
    let mut seen = Vec::with_capacity(signers.len());
    for s in signers {
        let id = key_id(&s.name, KeyType::Ed25519, &s.public_key());
        if seen.contains(&(s.name.as_str(), id)) {
            return Err(NoteError::Misuse(format!(
                "signer {} is listed twice; list each key once",
                s.name
            )));
        }
        seen.push((s.name.as_str(), id));
        let sig = s.sign_raw(text.as_bytes());
        note.push_str(&signature_line(&s.name, id, &[sig.as_ref()]));
    }
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::Misuse(
            "the signed note would exceed 1 MiB; sign a shorter text".into(),
        ));
    }
    Ok(note)
}

/// One parsed signature line.
pub(crate) struct SigLine<'a> {
    pub name: &'a str,
    pub id: u32,
    pub payload: Vec<u8>,
}

/// Parses `— <name> <base64>` (without its newline).
pub(crate) fn parse_signature_line(line: &str) -> Result<SigLine<'_>, NoteError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
        malformed("a signature line must start with an em dash (U+2014) and a space")
    })?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("a signature line needs a key name, a space and base64"))?;
    if !is_valid_key_name(name) {
        return Err(malformed(format!(
            "signature key name {name:?} is empty or contains a space, '+' or control character"
        )));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| malformed("a signature is not canonical padded standard base64"))?;
    // A key ID and at least one signature byte (as Go requires).
    if raw.len() < 5 {
        return Err(malformed(
            "a signature is shorter than its 4-byte key ID plus one byte",
        ));
    }
    let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    Ok(SigLine {
        name,
        id,
        payload: raw[4..].to_vec(),
    })
}

/// Finds the key with `name` and `id`; two different configured keys with the same name and
/// ID are ambiguous, which is the caller's configuration error.
pub(crate) fn find_key<'k>(
    keys: &'k [VerifierKey],
    name: &str,
    id: u32,
) -> Result<Option<&'k VerifierKey>, NoteError> {
    let mut found: Option<&VerifierKey> = None;
    for k in keys.iter().filter(|k| k.name == name && k.key_id == id) {
        match found {
            Some(f) if f != k => {
                return Err(NoteError::Misuse(format!(
                    "two configured keys share name {name} and key ID {id:08x}; remove one"
                )))
            }
            _ => found = Some(k),
        }
    }
    Ok(found)
}

/// Opens a signed note: checks its form, verifies every signature from a known key, and
/// returns the text and the names of the known keys that signed (in note order, each once).
///
/// Lines from unknown keys are ignored (but must be well-formed). Any signature of a known key
/// that fails rejects the note, as does a note with no signature from a known key. Keys of type
/// 0x04 verify tlog-cosignature lines over the text.
pub fn open_note(note: &[u8], keys: &[VerifierKey]) -> Result<(String, Vec<String>), NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(malformed(format!(
            "the note is {} bytes, over the 1 MiB limit",
            note.len()
        )));
    }
    let note = std::str::from_utf8(note).map_err(|e| {
        malformed(format!(
            "the note is not UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    if let Some(pos) = note.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(malformed(format!(
            "the note has an ASCII control character at byte {pos}; only newline is allowed"
        )));
    }
    let split = note.rfind("\n\n").ok_or_else(|| {
        malformed("the note has no empty line between its text and its signatures")
    })?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(malformed(
            "the note must end with a signature line and a final newline",
        ));
    };
    let mut verified: Vec<(&str, u32)> = Vec::new();
    for (n, line) in sigs.split('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(malformed(format!(
                "the note has more than {MAX_SIGNATURES} signature lines"
            )));
        }
        let sig = parse_signature_line(line)?;
        let Some(key) = find_key(keys, sig.name, sig.id)? else {
            continue; // unknown key: ignored, as signed-note requires
        };
        key.verify_payload(text, &sig.payload)?;
        if !verified.contains(&(sig.name, sig.id)) {
            verified.push((sig.name, sig.id));
        }
    }
    if verified.is_empty() {
        return Err(NoteError::Verification(
            "no configured key signed the note; check the verifier keys".into(),
        ));
    }
    let names = verified.into_iter().map(|(n, _)| n.to_owned()).collect();
    Ok((text.to_owned(), names))
}

/// Opens `note` with `keys` and returns it reduced to its text and the signature lines of
/// those keys (in note order), dropping lines of unknown keys. A node keeps and logs notes it
/// received from peers only in this form, so a peer cannot pad them with junk signatures.
pub fn open_and_trim(note: &str, keys: &[VerifierKey]) -> Result<(String, String), NoteError> {
    let (text, _) = open_note(note.as_bytes(), keys)?;
    let sigs = note.get(text.len() + 1..).unwrap_or_default();
    let mut out = String::with_capacity(text.len() + 1 + 160 * keys.len());
    out.push_str(&text);
    out.push('\n');
    for line in sigs.lines() {
        if let Ok(sig) = parse_signature_line(line) {
            if keys
                .iter()
                .any(|k| k.name() == sig.name && k.key_id() == sig.id)
            {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok((text, out))
}
