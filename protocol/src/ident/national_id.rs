//! National identity numbers → `CCC:NUMBER`: the issuing country's ISO 3166-1 alpha-3 code
//! (as `passport` writes states) and the number, upper-case ASCII, separators removed.
//!
//! Four countries have their published check verified, because their numbers are common in
//! Southeast-Asian fraud cases and the check catches most typing mistakes: Thailand (13 digits,
//! mod 11), China (18 characters, ISO 7064 MOD 11-2), Singapore (NRIC/FIN, check letter) and
//! India (Aadhaar, 12 digits, Verhoeff). Every other country: 4 to 20 digits, no check.
//!
//! Not done: no birth-date or region-code checks inside Chinese numbers; China's 15-digit
//! first-generation numbers are refused, not converted (the conversion is not guaranteed to give
//! the holder's current number); numbers with letters outside Singapore (Hong Kong, Taiwan,
//! India's PAN, …) are refused until their rules are added.

use super::{country, invalid, IdentError, Kind, Options};
use unicode_normalization::UnicodeNormalization;
use verhoeff::Verhoeff;

/// Length bounds for countries without a specific rule.
const MIN_DIGITS: usize = 4;
const MAX_DIGITS: usize = 20;

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::NationalId;
    // NFKC folds full-width digits, letters and `：` (Chinese and Japanese input methods).
    // Trimmed again: NFKC can create spaces at either end (U+00A8 is a space and U+0308).
    let s: String = raw.trim().nfkc().collect();
    let s = s.trim();
    let Some(split) = s.find(|c: char| c == ':' || c == '/' || c.is_whitespace()) else {
        return Err(invalid(
            kind,
            raw,
            "it has no country; write the issuing country's ISO code, then the number, as in \
             TH:1101700230708 or CHN:11010519491231002X",
        ));
    };
    let (given_country, rest) = s.split_at(split);
    let rest = rest.trim_start_matches(|c: char| c == ':' || c == '/' || c.is_whitespace());
    let Some(cc) = country::alpha3(given_country) else {
        return Err(invalid(
            kind,
            raw,
            format!(
                "{given_country:?} is not an ISO 3166 country code; write the issuing country as \
                 two or three letters (TH or THA, CN or CHN), then the number"
            ),
        ));
    };
    let number = compact(rest, raw)?;
    if number.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "it has a country but no number; give both, as in TH:1101700230708",
        ));
    }
    let number = match cc {
        "THA" => thailand(&number, raw)?,
        "CHN" => china(&number, raw)?,
        "SGP" => singapore(&number, raw)?,
        "IND" => india(&number, raw)?,
        _ => other(cc, &number, raw)?,
    };
    Ok(format!("{cc}:{number}"))
}

/// The number with separators dropped and ASCII letters upper-cased; anything that is not an
/// ASCII letter or digit is refused.
fn compact(given: &str, raw: &str) -> Result<String, IdentError> {
    let mut out = String::with_capacity(given.len());
    for c in given.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            // Separators people write between digit groups (1-1017-00230-70-8, 1234 5678 9012).
            '-' | '.' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            c => {
                return Err(invalid(
                    Kind::NationalId,
                    raw,
                    format!(
                        "its number contains {c:?}; give letters and digits only (spaces, dashes, \
                         dots and slashes between them are dropped)"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Digits only, of one of the given lengths; `what` names the number in the message.
fn digits_of_len(number: &str, lens: &[usize], what: &str, raw: &str) -> Result<(), IdentError> {
    if let Some(c) = number.chars().find(|c| !c.is_ascii_digit()) {
        return Err(invalid(
            Kind::NationalId,
            raw,
            format!("it contains the letter {c:?}, but {what} has digits only; check the number"),
        ));
    }
    if !lens.contains(&number.len()) {
        return Err(invalid(
            Kind::NationalId,
            raw,
            format!(
                "it has {} digits, but {what} has {}; check for missing or extra digits",
                number.len(),
                lens.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    Ok(())
}

fn wrong_check(raw: &str, given: char, expected: char) -> IdentError {
    invalid(
        Kind::NationalId,
        raw,
        format!("its check digit is {given} but should be {expected}; check for a mistyped digit"),
    )
}

/// Thai citizen ID: 13 digits; the last is (11 − Σ dᵢ·(14 − i) mod 11) mod 10 over the first
/// 12 (weights 13 down to 2).
fn thailand(number: &str, raw: &str) -> Result<String, IdentError> {
    digits_of_len(number, &[13], "a Thai ID number", raw)?;
    let expected = thai_check(&number[..12]);
    let given = char::from(number.as_bytes()[12]);
    if given != expected {
        return Err(wrong_check(raw, given, expected));
    }
    Ok(number.to_owned())
}

/// Check digit of the first 12 digits of a Thai ID number (also used by `ewallet` for
/// PromptPay). The caller guarantees 12 ASCII digits.
pub(super) fn thai_check(first12: &str) -> char {
    let sum: u32 = first12
        .bytes()
        .zip((2..=13u32).rev())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = (11 - sum % 11) % 10;
    // `check` is below 10.
    char::from(b'0' + check as u8)
}

/// A Thai ID number checked as above, for `ewallet`: `Err` holds the reason it is not one.
pub(super) fn thai_id(number: &str) -> Result<(), String> {
    if number.len() != 13 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a Thai ID number has 13 digits".to_owned());
    }
    let expected = thai_check(&number[..12]);
    let given = char::from(number.as_bytes()[12]);
    if given != expected {
        return Err(format!(
            "the Thai ID check digit is {given} but should be {expected}; check for a mistyped \
             digit"
        ));
    }
    Ok(())
}

/// Chinese resident identity number (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check
/// character, `0`–`9` or `X` (10).
fn china(number: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::NationalId;
    if number.len() == 15 && number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            kind,
            raw,
            "it is a 15-digit first-generation Chinese ID number, no longer valid; give the \
             holder's 18-character number",
        ));
    }
    let (body, last) = number.split_at(number.len().saturating_sub(1));
    if number.len() == 18
        && body.contains('X')
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'X')
    {
        return Err(invalid(
            kind,
            raw,
            "it has an X before its last character, but in a Chinese ID number X may only be \
             the last (check) character; check for a mistyped digit",
        ));
    }
    if number.len() != 18 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it has {} characters, but a Chinese ID number has 18: 17 digits, then a digit \
                 or X; check for missing or extra characters",
                number.len()
            ),
        ));
    }
    // ISO 7064 MOD 11-2: weights 2^(17−i) mod 11; check = (12 − Σ mod 11) mod 11.
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = match (12 - sum % 11) % 11 {
        10 => 'X',
        // Below 10.
        d => char::from(b'0' + d as u8),
    };
    let given = last.chars().next().unwrap_or(' ');
    if given != expected {
        return Err(wrong_check(raw, given, expected));
    }
    Ok(number.to_owned())
}

/// Singapore NRIC/FIN: a prefix letter (S, T citizens and PRs; F, G, M foreigners), 7 digits
/// and a check letter. Weights 2 7 6 5 4 3 2; T and G add 4, M adds 3; the remainder mod 11
/// picks the letter from the prefix's table.
fn singapore(number: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::NationalId;
    let b = number.as_bytes();
    let shape = b.len() == 9
        && b[0].is_ascii_uppercase()
        && b[1..8].iter().all(u8::is_ascii_digit)
        && b[8].is_ascii_uppercase();
    if !shape {
        return Err(invalid(
            kind,
            raw,
            "a Singapore NRIC or FIN is a letter, 7 digits and a check letter, as in S1234567D; \
             check the number",
        ));
    }
    let (offset, table): (u32, &[u8; 11]) = match b[0] {
        b'S' => (0, b"JZIHGFEDCBA"),
        b'T' => (4, b"JZIHGFEDCBA"),
        b'F' => (0, b"XWUTRQPNMLK"),
        b'G' => (4, b"XWUTRQPNMLK"),
        b'M' => (3, b"XWUTRQPNJLK"),
        p => {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "it starts with {:?}, but a Singapore NRIC or FIN starts with S, T, F, G or \
                     M; check the number",
                    char::from(p)
                ),
            ))
        }
    };
    const WEIGHTS: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = b[1..8]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum::<u32>()
        + offset;
    // `sum % 11` is below 11, the table's length.
    let expected = char::from(table[(sum % 11) as usize]);
    let given = char::from(b[8]);
    if given != expected {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its check letter is {given} but should be {expected}; check for a mistyped \
                 digit or letter"
            ),
        ));
    }
    Ok(number.to_owned())
}

/// Indian Aadhaar: 12 digits, not starting with 0 or 1 (UIDAI does not issue those), the last
/// a Verhoeff check digit.
fn india(number: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::NationalId;
    digits_of_len(number, &[12], "an Aadhaar number", raw)?;
    if number.starts_with(['0', '1']) {
        return Err(invalid(
            kind,
            raw,
            "it starts with 0 or 1, which no Aadhaar number does; check the number (only \
             Aadhaar numbers are accepted for India)",
        ));
    }
    if !number.validate_verhoeff_check_digit() {
        // 11 ASCII digits: the crate's calculation cannot panic.
        let expected = char::from(b'0' + number[..11].calculate_verhoeff_check_digit());
        let given = char::from(number.as_bytes()[11]);
        return Err(wrong_check(raw, given, expected));
    }
    Ok(number.to_owned())
}

/// Any other country: 4 to 20 digits, no check.
fn other(cc: &str, number: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::NationalId;
    if let Some(c) = number.chars().find(|c| !c.is_ascii_digit()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it contains the letter {c:?}, but national ID numbers of {cc} are read as \
                 digits only; give the digits, or use kind text for a number with letters"
            ),
        ));
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&number.len()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it has {} digits; a national ID number has {MIN_DIGITS} to {MAX_DIGITS}, so \
                 check that this is one whole number",
                number.len()
            ),
        ));
    }
    Ok(number.to_owned())
}
