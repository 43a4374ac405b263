//! The holder's receipt of one exchange: a C2SP signed note, signed with the holder's
//! descriptor key, that both nodes log. Either side can later prove the exchange happened and
//! what it was about, without anything in it revealing an item.
//!
//! Body, every line ending in `\n`:
//!
//! ```text
//! cordon.receipt/v1
//! query <exchange id, 32 lower-case hex digits>
//! holder <holder node name>
//! querier <querier node name>
//! collection <collection name>
//! epoch <decimal>
//! mode <match | count>
//! items <decimal: blinded elements evaluated>
//! request <standard base64 of SHA-256 over the concatenated blinded elements>
//! time <Unix seconds>
//! ```
//!
//! The only digest is over the *blinded* elements, which are fresh random-looking group
//! elements for every exchange: it identifies the request without telling anything about
//! the items behind it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::note::{open_and_trim, sign_note, NoteError, Signer, VerifierKey};

/// First line of every receipt.
pub const RECEIPT_HEADER: &str = "cordon.receipt/v1";

/// Longest signed receipt accepted (a real one is about 400 bytes).
pub const MAX_RECEIPT_LEN: usize = 2048;

/// What the holder attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The exchange's identifier (the `query_id` on the wire).
    pub exchange_id: [u8; 16],
    /// The answering node.
    pub holder: String,
    /// The asking node.
    pub querier: String,
    /// Collection evaluated.
    pub collection: String,
    /// Epoch whose key evaluated.
    pub epoch: u64,
    /// `match` or `count`.
    pub mode: String,
    /// Blinded elements evaluated.
    pub items: u64,
    /// SHA-256 of the concatenated blinded elements.
    pub request_digest: [u8; 32],
    /// When the holder answered (Unix seconds).
    pub time: u64,
}

/// SHA-256 of a request's blinded elements, as a receipt states it.
pub fn request_digest(blinded: &[u8]) -> [u8; 32] {
    Sha256::digest(blinded).into()
}

fn one_line(what: &str, v: &str) -> Result<(), NoteError> {
    if v.is_empty() || v.chars().any(|c| c.is_control() || c == ' ') {
        return Err(NoteError::Misuse(format!(
            "receipt field {what} {v:?} is empty or contains a space or control character"
        )));
    }
    Ok(())
}

impl Receipt {
    /// The note text.
    pub fn to_body(&self) -> Result<String, NoteError> {
        one_line("holder", &self.holder)?;
        one_line("querier", &self.querier)?;
        one_line("collection", &self.collection)?;
        one_line("mode", &self.mode)?;
        Ok(format!(
            "{RECEIPT_HEADER}\nquery {}\nholder {}\nquerier {}\ncollection {}\nepoch {}\nmode {}\nitems {}\nrequest {}\ntime {}\n",
            hex::encode(self.exchange_id),
            self.holder,
            self.querier,
            self.collection,
            self.epoch,
            self.mode,
            self.items,
            STANDARD.encode(self.request_digest),
            self.time
        ))
    }

    /// Parses a receipt body (strictly: every line present, in order, canonical numbers).
    pub fn parse(body: &str) -> Result<Receipt, NoteError> {
        let bad = |m: String| NoteError::Malformed(format!("receipt: {m}"));
        let body = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text does not end in a newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        const FIELDS: [&str; 9] = [
            "query",
            "holder",
            "querier",
            "collection",
            "epoch",
            "mode",
            "items",
            "request",
            "time",
        ];
        if lines.len() != FIELDS.len() + 1 || lines[0] != RECEIPT_HEADER {
            return Err(bad(format!(
                "expected the line {RECEIPT_HEADER:?} and {} fields",
                FIELDS.len()
            )));
        }
        let mut v = Vec::with_capacity(FIELDS.len());
        for (line, name) in lines[1..].iter().zip(FIELDS) {
            let value = line
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(format!("expected the field `{name}`, found {line:?}")))?;
            if value.is_empty() || value.contains(' ') {
                return Err(bad(format!("field `{name}` is empty or has a space")));
            }
            v.push(value);
        }
        let num = |name: &str, s: &str| -> Result<u64, NoteError> {
            let n: u64 = s
                .parse()
                .map_err(|_| bad(format!("field `{name}` {s:?} is not a number")))?;
            if n.to_string() != s {
                return Err(bad(format!("field `{name}` {s:?} is not canonical")));
            }
            Ok(n)
        };
        let mut exchange_id = [0u8; 16];
        hex::decode_to_slice(v[0], &mut exchange_id)
            .map_err(|_| bad(format!("query {:?} is not 32 hex digits", v[0])))?;
        if hex::encode(exchange_id) != v[0] {
            return Err(bad("query id must be lower-case hex".into()));
        }
        let digest = STANDARD
            .decode(v[7])
            .ok()
            .filter(|d| d.len() == 32 && STANDARD.encode(d) == v[7])
            .ok_or_else(|| bad("request is not canonical base64 of 32 bytes".into()))?;
        let mut request_digest = [0u8; 32];
        request_digest.copy_from_slice(&digest);
        Ok(Receipt {
            exchange_id,
            holder: v[1].to_string(),
            querier: v[2].to_string(),
            collection: v[3].to_string(),
            epoch: num("epoch", v[4])?,
            mode: v[5].to_string(),
            items: num("items", v[6])?,
            request_digest,
            time: num("time", v[8])?,
        })
    }

    /// Signs the receipt as a note with the holder's key (whose name must be the holder's).
    pub fn sign(&self, holder_key: &Signer) -> Result<String, NoteError> {
        if holder_key.name() != self.holder {
            return Err(NoteError::Misuse(format!(
                "a receipt of {} cannot be signed with the key of {}",
                self.holder,
                holder_key.name()
            )));
        }
        sign_note(&self.to_body()?, &[holder_key])
    }

    /// Opens a signed receipt: checks the holder's signature and that the holder named in it
    /// is the key's owner.
    pub fn open(note: &str, holder_key: &VerifierKey) -> Result<Receipt, NoteError> {
        Receipt::open_trimmed(note, holder_key).map(|(r, _)| r)
    }

    /// As [`Receipt::open`], also returning the note reduced to its text and the holder's
    /// signature: the form to log. Refuses notes over [`MAX_RECEIPT_LEN`].
    pub fn open_trimmed(
        note: &str,
        holder_key: &VerifierKey,
    ) -> Result<(Receipt, String), NoteError> {
        if note.len() > MAX_RECEIPT_LEN {
            return Err(NoteError::Malformed(format!(
                "the receipt is {} bytes, over the {MAX_RECEIPT_LEN}-byte limit",
                note.len()
            )));
        }
        let (body, trimmed) = open_and_trim(note, std::slice::from_ref(holder_key))?;
        let r = Receipt::parse(&body)?;
        if r.holder != holder_key.name() {
            return Err(NoteError::Verification(format!(
                "the receipt names holder {} but is signed by {}",
                r.holder,
                holder_key.name()
            )));
        }
        Ok((r, trimmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            exchange_id: [0xab; 16],
            holder: "jp.npa".into(),
            querier: "th.rtp".into(),
            collection: "phones".into(),
            epoch: 3,
            mode: "match".into(),
            items: 1000,
            request_digest: request_digest(&[7u8; 64]),
            time: 1_763_800_000,
        }
    }

    #[test]
    fn signs_opens_and_round_trips() {
        let s = Signer::from_seed("jp.npa", &[5; 32]).unwrap();
        let note = sample().sign(&s).unwrap();
        assert_eq!(Receipt::open(&note, &s.verifier_key()).unwrap(), sample());
        assert_eq!(
            Receipt::parse(&sample().to_body().unwrap()).unwrap(),
            sample()
        );
    }

    #[test]
    fn refuses_tampering_and_wrong_keys() {
        let s = Signer::from_seed("jp.npa", &[5; 32]).unwrap();
        let note = sample().sign(&s).unwrap();
        let forged = note.replace("items 1000", "items 1001");
        assert!(matches!(
            Receipt::open(&forged, &s.verifier_key()),
            Err(NoteError::Verification(_))
        ));
        let other = Signer::from_seed("jp.npa", &[6; 32]).unwrap();
        assert!(Receipt::open(&note, &other.verifier_key()).is_err());
        // Signed by a key of another name.
        let th = Signer::from_seed("th.rtp", &[5; 32]).unwrap();
        assert!(sample().sign(&th).is_err());
    }

    #[test]
    fn parse_is_strict() {
        let body = sample().to_body().unwrap();
        for bad in [
            body.replace("epoch 3", "epoch 03"),
            body.replace("cordon.receipt/v1", "cordon.receipt/v2"),
            body.replace("mode match\n", ""),
            body.replace("query ab", "query AB"),
            body.trim_end().to_string(),
        ] {
            assert!(Receipt::parse(&bad).is_err(), "{bad}");
        }
    }
}
