//! IMEIs → the 15-digit IMEI: 8-digit TAC, 6-digit serial number, Luhn check digit
//! (3GPP TS 23.003 §6.2). Separators are dropped; an IMEISV (16 digits: TAC, serial, 2-digit
//! software version) and a 14-digit IMEI without its check digit (the form networks store and
//! transmit) are completed to the 15-digit IMEI, since they name the same handset.
//!
//! Not done: no TAC look-up (whether the model exists), no check that the IMEI was ever
//! issued; MEIDs (CDMA, hexadecimal) are not IMEIs and are refused.

use super::{invalid, IdentError, Kind, Options};
use unicode_normalization::UnicodeNormalization;

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Imei;
    // NFKC folds full-width digits and colon (Japanese and Chinese input methods) to ASCII.
    let s: String = raw.trim().nfkc().collect();
    // Trimmed again: NFKC can turn a character at either end into a space.
    let s = s.trim();
    let body = strip_label(s);
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '/' | '.' => {}
            c if c.is_whitespace() => {}
            c if c.is_ascii_hexdigit() => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "it contains the letter {c:?}; an IMEI has digits only (a hexadecimal \
                         number is probably a CDMA MEID, which is not an IMEI)"
                    ),
                ))
            }
            c => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "it contains {c:?}; an IMEI has 15 digits, separated at most by spaces, \
                         dashes, slashes or dots"
                    ),
                ))
            }
        }
    }
    // TAC and serial number: the 14 digits that identify the handset.
    let body14 = match digits.len() {
        14 | 15 => &digits[..14],
        // IMEISV: the software version (the last two digits) changes with updates of the same
        // handset, so it is dropped and the check digit computed.
        16 => &digits[..14],
        n => {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "it has {n} digits, but an IMEI has 15 (14 without the check digit, 16 as \
                     IMEISV); check for missing or extra digits"
                ),
            ))
        }
    };
    if body14.bytes().all(|b| b == b'0') {
        return Err(invalid(
            kind,
            raw,
            "it is all zeros, a placeholder some devices and records use for an unknown IMEI; \
             give the handset's real IMEI",
        ));
    }
    let check = check_digit(body14);
    if digits.len() == 15 {
        let given = char::from(digits.as_bytes()[14]);
        if given != check {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "its check digit is {given} but should be {check}; check for a mistyped \
                     digit (operator records that put 0 in place of the check digit: give the \
                     first 14 digits)"
                ),
            ));
        }
    }
    let mut out = String::with_capacity(15);
    out.push_str(body14);
    out.push(check);
    Ok(out)
}

/// Drops a leading `IMEI` or `IMEISV` label (any case) and a `:` or `#` after it, as records
/// and `*#06#` screen captures write it ("IMEI: 35-209900-176148-1").
fn strip_label(s: &str) -> &str {
    let mut rest = s;
    for label in ["IMEISV", "IMEI"] {
        if let Some(head) = rest.get(..label.len()) {
            if head.eq_ignore_ascii_case(label) {
                rest = &rest[label.len()..];
                break;
            }
        }
    }
    if rest.len() == s.len() {
        return s;
    }
    let rest = rest.trim_start();
    // A dual-SIM slot number (`IMEI1 35…`, `IMEI 2: 35…`) is part of the label, not of the
    // number: a 1 or 2 followed by `:` or whitespace. (Kept, it would make 16 digits and be
    // read as an IMEISV: a wrong IMEI.)
    let rest = match rest.as_bytes() {
        [b'1' | b'2', b':', ..] => &rest[1..],
        [b'1' | b'2', c, ..] if c.is_ascii_whitespace() => &rest[1..],
        _ => rest,
    };
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix(':')
        .or_else(|| rest.strip_prefix('#'))
        .unwrap_or(rest);
    rest.trim_start()
}

/// The Luhn check digit of 14 ASCII digits, as an ASCII digit (`luhn::checksum` returns it as
/// ASCII; the input is digits only, so it cannot panic).
fn check_digit(body14: &str) -> char {
    char::from(luhn::checksum(body14.as_bytes()))
}
