//! C2SP `tlog-checkpoint`: the note text of a transparency-log tree head.
//!
//! Body (c2sp.org/tlog-checkpoint, "Note text"), every line ending in `\n`:
//!
//! ```text
//! <origin>                 non-empty
//! <tree size>              ASCII decimal, no leading zeroes ("0" for the empty tree)
//! <root hash>              standard padded base64 of the 32-byte RFC 6962 SHA-256 root
//! <extension line>...      optional, each non-empty (use NOT RECOMMENDED by the spec)
//! ```
//!
//! The body is signed as a signed note ([`super::note::sign_note`]) by the log key, whose name
//! SHOULD equal the origin, and cosigned by partners ([`super::cosignature::cosign`]).
//!
//! Strict on decode: no empty line anywhere, no control characters, the size must fit a u64
//! and be canonical (`007` is refused), the root must be canonical base64 of exactly 32 bytes.
//! The origin is not required to be a URL without spaces or `+` (a SHOULD; clients "MUST NOT
//! assume" it).
//!
//! Not done: checking the root against a Merkle tree (the caller's job) and interpreting
//! extension lines.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::note::{NoteError, MAX_NOTE_LEN};

/// A checkpoint: origin, tree size, root hash, and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Identifies the log; one line, non-empty.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 Merkle tree root (SHA-256) at `size`.
    pub root: [u8; 32],
    /// Opaque extension lines, each non-empty, without their newline.
    pub extensions: Vec<String>,
}

fn bad_line(what: &str, line: &str) -> Result<(), NoteError> {
    if line.is_empty() {
        return Err(NoteError::Misuse(format!("the checkpoint {what} is empty")));
    }
    if line.chars().any(|c| c < ' ') {
        return Err(NoteError::Misuse(format!(
            "the checkpoint {what} contains a newline or control character; keep it to one line"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// The note text (body) of this checkpoint, ending in a newline. Refuses an empty origin
    /// or extension line, or one containing a newline or control character.
    pub fn to_body(&self) -> Result<String, NoteError> {
        bad_line("origin", &self.origin)?;
        for e in &self.extensions {
            bad_line("extension line", e)?;
        }
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            body.push_str(e);
            body.push('\n');
        }
        if body.len() > MAX_NOTE_LEN {
            return Err(NoteError::Misuse(
                "the checkpoint body would exceed 1 MiB".into(),
            ));
        }
        Ok(body)
    }

    /// Parses a checkpoint body (the text of an opened note, see
    /// [`super::note::open_note`]).
    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let bad = |r: String| Err(NoteError::Malformed(r));
        if body.len() > MAX_NOTE_LEN {
            return bad("the checkpoint is over 1 MiB".into());
        }
        let Some(body) = body.strip_suffix('\n') else {
            return bad("a checkpoint body must end in a newline".into());
        };
        if body.chars().any(|c| c < ' ' && c != '\n') {
            return bad("the checkpoint contains a control character other than newline".into());
        }
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return bad("a checkpoint has at least three lines: origin, size and root".into());
        };
        if origin.is_empty() {
            return bad("the checkpoint origin line is empty".into());
        }
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !canonical {
            return bad(format!(
                "checkpoint size {size:?} is not a decimal number without leading zeroes"
            ));
        }
        let size = size.parse::<u64>().map_err(|_| {
            NoteError::Malformed(format!("checkpoint size {size} does not fit in 64 bits"))
        })?;
        let root: [u8; 32] = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| {
                NoteError::Malformed(
                    "the checkpoint root is not canonical base64 of 32 bytes".into(),
                )
            })?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return bad("checkpoint extension lines must be non-empty".into());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}
