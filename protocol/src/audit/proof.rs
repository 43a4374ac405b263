//! C2SP `tlog-proof`: an offline-verifiable proof that one entry is in the log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            optional, opaque (Cordon does not write it)
//! index <decimal>
//! <base64 hash>             the inclusion proof, deepest sibling first, one per line
//! ...
//!
//! <checkpoint as a signed note, with any cosignatures>
//! ```
//!
//! Verifying needs the entry's bytes and the log key: the checkpoint's signature is checked,
//! then the inclusion of `SHA-256(0x00 || entry)` at `index` under the checkpoint's root.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::checkpoint::Checkpoint;
use super::merkle::{leaf_hash, verify_inclusion, Hash};
use super::note::{open_note, NoteError, VerifierKey, MAX_NOTE_LEN};

/// First line of a proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data, if any.
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: u64,
    /// The inclusion proof.
    pub hashes: Vec<Hash>,
    /// The checkpoint's signed note, as given.
    pub checkpoint: String,
}

impl TlogProof {
    /// The file text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(x) = &self.extra {
            s.push_str(&format!("extra {}\n", STANDARD.encode(x)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a proof file strictly (canonical numbers and base64).
    pub fn parse(text: &str) -> Result<TlogProof, NoteError> {
        let bad = |m: String| NoteError::Malformed(format!("tlog-proof: {m}"));
        if text.len() > MAX_NOTE_LEN {
            return Err(bad("the file is over 1 MiB".into()));
        }
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint".into()))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad(format!("the first line is not {PROOF_HEADER:?}")));
        }
        let mut line = lines.next();
        let mut extra = None;
        if let Some(x) = line.and_then(|l| l.strip_prefix("extra ")) {
            let v = STANDARD
                .decode(x)
                .map_err(|_| bad("extra is not base64".into()))?;
            extra = Some(v);
            line = lines.next();
        }
        let idx = line
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| bad("missing the `index` line".into()))?;
        let index: u64 = idx
            .parse()
            .ok()
            .filter(|n: &u64| n.to_string() == idx)
            .ok_or_else(|| bad(format!("index {idx:?} is not a canonical number")))?;
        let mut hashes = Vec::new();
        for l in lines {
            let v = STANDARD
                .decode(l)
                .ok()
                .filter(|v| v.len() == 32 && STANDARD.encode(v) == l)
                .ok_or_else(|| bad(format!("proof line {l:?} is not base64 of 32 bytes")))?;
            let mut h = [0u8; 32];
            h.copy_from_slice(&v);
            hashes.push(h);
        }
        if hashes.len() > 64 {
            return Err(bad(format!("{} proof hashes; at most 64", hashes.len())));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Checks the checkpoint's signature with `log_key` and the entry's inclusion; returns the
    /// checkpoint.
    pub fn verify(&self, entry: &[u8], log_key: &VerifierKey) -> Result<Checkpoint, NoteError> {
        let (body, _) = open_note(self.checkpoint.as_bytes(), std::slice::from_ref(log_key))?;
        let c = Checkpoint::parse(&body)?;
        if c.origin != log_key.name() {
            return Err(NoteError::Verification(format!(
                "the checkpoint is of log {:?}, not {:?}",
                c.origin,
                log_key.name()
            )));
        }
        verify_inclusion(self.index, c.size, &leaf_hash(entry), &self.hashes, &c.root).map_err(
            |e| {
                NoteError::Verification(format!(
                    "the entry is not at index {} of the checkpointed log of size {}: {e}",
                    self.index, c.size
                ))
            },
        )?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{inclusion_proof, root};
    use crate::audit::note::{sign_note, Signer};

    #[test]
    fn proves_and_refuses() {
        let entries: Vec<Vec<u8>> = (0..7)
            .map(|i| format!("{{\"e\":{i}}}").into_bytes())
            .collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let s = Signer::from_seed("cordon/th.rtp", &[1; 32]).unwrap();
        let cp = Checkpoint {
            origin: "cordon/th.rtp".into(),
            size: 7,
            root: root(&leaves),
            extensions: vec![],
        };
        let note = sign_note(&cp.to_body().unwrap(), &[&s]).unwrap();
        let p = TlogProof {
            extra: None,
            index: 3,
            hashes: inclusion_proof(&leaves, 3).unwrap(),
            checkpoint: note,
        };
        let text = p.to_text();
        let back = TlogProof::parse(&text).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.verify(&entries[3], &s.verifier_key()).unwrap().size, 7);
        assert!(back.verify(&entries[4], &s.verifier_key()).is_err());
        let other = Signer::from_seed("cordon/th.rtp", &[2; 32]).unwrap();
        assert!(back.verify(&entries[3], &other.verifier_key()).is_err());
        let with_extra = TlogProof {
            extra: Some(b"x".to_vec()),
            ..p.clone()
        };
        assert_eq!(TlogProof::parse(&with_extra.to_text()).unwrap(), with_extra);
        for bad in [
            text.replace("index 3", "index 03"),
            text.replace(PROOF_HEADER, "c2sp.org/tlog-proof@v2"),
            text.replacen("\n\n", "\n", 1),
        ] {
            assert!(TlogProof::parse(&bad).is_err(), "{bad}");
        }
    }
}
