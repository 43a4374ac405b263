//! Passports → `STATE:NUMBER`: the issuing state's ICAO 9303 three-letter code and the
//! document number, both upper-case ASCII, separators removed. Also reads a two-line TD3
//! machine-readable zone, checking the document number's check digit.

use super::{invalid, IdentError, Kind};
use unicode_normalization::UnicodeNormalization;

/// ICAO 9303 TD3 gives the document number 9 characters. Some states issue longer numbers
/// (carried elsewhere in the MRZ), and agencies' records hold them, so up to 20 are accepted.
const MAX_NUMBER: usize = 20;

/// TD3 (passport booklet) MRZ: two lines of 44 characters.
const TD3_LINE: usize = 44;

pub(super) fn canonicalize(raw: &str) -> Result<String, IdentError> {
    // NFKC folds full-width letters, digits and colon (Japanese input methods) to ASCII.
    let s: String = raw.trim().nfkc().collect();
    if s.contains('\n') {
        return mrz(&s, raw);
    }
    let kind = Kind::Passport;
    let Some(split) = s.find(|c: char| c == ':' || c == '/' || c.is_whitespace()) else {
        return Err(invalid(
            kind,
            raw,
            "it has no issuing state; write the state's three-letter code, then the number, as \
             in THA:AA1234567",
        ));
    };
    let (state, rest) = s.split_at(split);
    // `rest` starts with the separator; any run of separators may follow the state.
    let number = rest.trim_start_matches(|c: char| c == ':' || c == '/' || c.is_whitespace());
    let state = issuing_state(state, raw)?;
    let number = document_number(number, raw)?;
    Ok(format!("{state}:{number}"))
}

/// The issuing state: three ASCII letters, upper-cased. Germany's ICAO code is the single
/// letter `D`; it is written `DEU` (its ISO 3166 code) so that every state has three letters.
fn issuing_state(given: &str, raw: &str) -> Result<String, IdentError> {
    let state = given.to_ascii_uppercase();
    if state == "D" {
        return Ok("DEU".to_owned());
    }
    if state.len() != 3 || !state.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            Kind::Passport,
            raw,
            format!(
                "the issuing state {given:?} is not a three-letter ICAO 9303 code; write it like \
                 THA, JPN, USA, VNM or KHM, then the number, as in THA:AA1234567"
            ),
        ));
    }
    Ok(state)
}

/// The document number: spaces and dashes dropped, upper-cased, then only A–Z and 0–9.
fn document_number(given: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Passport;
    let mut number = String::with_capacity(given.len());
    for c in given.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "its document number contains {c:?}; a passport number has only letters A-Z \
                     and digits (spaces and dashes are dropped)"
                ),
            ));
        }
        number.push(c.to_ascii_uppercase());
    }
    if number.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "it has an issuing state but no document number; give both, as in THA:AA1234567",
        ));
    }
    if number.len() > MAX_NUMBER {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its document number has {} characters, more than {MAX_NUMBER}; check that it \
                 is one passport number",
                number.len()
            ),
        ));
    }
    Ok(number)
}

/// A TD3 MRZ (ICAO 9303 part 4): line 1 holds the issuing state at positions 3–5, line 2 the
/// document number at 1–9 and its check digit at 10.
fn mrz(s: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Passport;
    let lines: Vec<String> = s
        .lines()
        .map(|l| l.trim().to_ascii_uppercase())
        .filter(|l| !l.is_empty())
        .collect();
    let [line1, line2] = lines.as_slice() else {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it spans {} lines; give a passport as THA:AA1234567 on one line, or a \
                 passport MRZ as its two lines of 44 characters",
                lines.len()
            ),
        ));
    };
    if line1.len() != TD3_LINE || line2.len() != TD3_LINE {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its MRZ lines have {} and {} characters, but a passport (TD3) MRZ has two lines \
                 of {TD3_LINE}; check for missing or extra < fillers",
                line1.chars().count(),
                line2.chars().count()
            ),
        ));
    }
    let mrz_char = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<';
    if !line1.bytes().chain(line2.bytes()).all(mrz_char) {
        return Err(invalid(
            kind,
            raw,
            "its MRZ holds characters other than A-Z, 0-9 and <; check the OCR output",
        ));
    }
    if !line1.starts_with('P') {
        return Err(invalid(
            kind,
            raw,
            "its MRZ does not start with P, so it is not a passport (TD3) MRZ",
        ));
    }
    // All ASCII from here on, so byte ranges are character ranges; `get` still never panics.
    let (Some(state_field), Some(number_field), Some(check)) =
        (line1.get(2..5), line2.get(0..9), line2.get(9..10))
    else {
        return Err(invalid(kind, raw, "its MRZ is too short; check it"));
    };
    let state = state_field.trim_end_matches('<');
    let state = issuing_state(state, raw)?;

    let Some(expected) = check.bytes().next().filter(u8::is_ascii_digit) else {
        return Err(invalid(
            kind,
            raw,
            "its document number check digit is not a digit (longer numbers carried in the \
             optional data are not read); give the number as THA:NUMBER instead",
        ));
    };
    let computed = check_digit(number_field);
    if computed != expected - b'0' {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its document number {number_field:?} fails its check digit (the MRZ says {}, \
                 the number gives {computed}), so the MRZ was misread; check it against the \
                 passport",
                char::from(expected)
            ),
        ));
    }
    let number = number_field.trim_end_matches('<');
    if number.is_empty() || number.contains('<') {
        return Err(invalid(
            kind,
            raw,
            "its document number field is empty or has a < filler inside it; check the MRZ",
        ));
    }
    let number = document_number(number, raw)?;
    Ok(format!("{state}:{number}"))
}

/// ICAO 9303 part 3 check digit: weights 7, 3, 1 repeating; `0`–`9` count as 0–9, `A`–`Z`
/// as 10–35, `<` as 0; the sum modulo 10.
pub(crate) fn check_digit(field: &str) -> u8 {
    let sum: u32 = field
        .bytes()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(b, w)| {
            let v = match b {
                b'0'..=b'9' => u32::from(b - b'0'),
                b'A'..=b'Z' => u32::from(b - b'A') + 10,
                _ => 0,
            };
            v * w
        })
        .sum();
    // `sum % 10` is below 10, so the cast cannot truncate.
    (sum % 10) as u8
}
