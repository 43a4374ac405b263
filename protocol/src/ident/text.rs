//! Free text (anything without a kind of its own) → NFKC, full Unicode case folding, NFKC
//! again, whitespace runs as one ASCII space, trimmed. Diacritics are kept: `Nguyễn` and
//! `Nguyen` stay different (names get phonetic keys elsewhere, never here).

use super::{invalid, IdentError, Kind};
use unicode_normalization::UnicodeNormalization;

/// Invisible characters dropped before anything else, for every kind (`ident::clean`). They render as nothing, and appear or
/// not depending on the tool that produced the text (Thai word-breakers insert U+200B, editors
/// add U+00AD and U+FEFF), so two copies of one text differ only by them. Zero-width joiner
/// and non-joiner are kept: they change how Indic, Arabic-script and emoji text reads.
pub(crate) const DROPPED: [char; 4] = [
    '\u{00AD}', // SOFT HYPHEN
    '\u{200B}', // ZERO WIDTH SPACE
    '\u{2060}', // WORD JOINER
    '\u{FEFF}', // ZERO WIDTH NO-BREAK SPACE (byte-order mark)
];

pub(super) fn canonicalize(raw: &str) -> Result<String, IdentError> {
    // Control characters other than whitespace (NUL, ESC, …) mean a broken import, not text.
    if let Some(c) = raw.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(invalid(
            Kind::Text,
            raw,
            format!(
                "it contains the control character U+{:04X}; the source is probably broken, so \
                 remove it",
                u32::from(c)
            ),
        ));
    }
    // DROPPED characters are already gone: `ident::canonicalize` removes them for every kind.
    let visible = raw;
    // NFKC first so compatibility forms (full-width Latin, ligatures, ㎒) expose their letters
    // to case folding; full folding (CaseFolding.txt C+F: ß → ss, ς → σ) rather than
    // to_lowercase, which is locale-free but not meant for matching. NFKC again because
    // folding can leave text unnormalised (ǰ folds to j + U+030C); the result is NFKC.
    let nfkc: String = visible.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let normal: String = folded.nfkc().collect();
    let mut out = String::with_capacity(normal.len());
    for word in normal.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        return Err(IdentError::Empty {
            kind: Kind::Text,
            value: super::quote(raw),
        });
    }
    Ok(out)
}
