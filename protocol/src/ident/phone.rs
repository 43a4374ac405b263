//! Phone numbers → E.164 (`+` and up to 15 digits), validated against libphonenumber's
//! metadata through the `phonenumber` crate.

use super::{invalid, quote, IdentError, Kind, Options};
use phonenumber::{country, metadata::DATABASE, Mode, ParseError};
use std::str::FromStr;
use unicode_normalization::UnicodeNormalization;

/// More digits than any number with an international or trunk prefix can have (E.164 allows
/// 15 after the country code; an IDD such as `001` adds a few). Refused before parsing.
const MAX_DIGITS: usize = 20;

pub(super) fn canonicalize(raw: &str, opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::Phone;
    // Checked first: a bad region is a configuration mistake that affects every row.
    let region = region(opts)?;

    // NFKC turns full-width digits, plus and hyphen (common in Japanese sources) into ASCII.
    let text: String = raw.trim().nfkc().collect();
    let mut digits = String::new();
    let mut plus = false;
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if !plus && digits.is_empty() => plus = true,
            '+' => {
                return Err(invalid(
                    kind,
                    raw,
                    "a + may appear only once, before the country code; give one number per entry",
                ))
            }
            // Separators people write: they carry no meaning, so they are dropped. U+30FC is
            // the katakana long-vowel mark, often typed as a dash in Japanese numbers.
            '-' | '.' | '(' | ')' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' => {}
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "it contains the letter {c:?}; give digits only (extensions such as \
                         \"ext. 12\" and letter mnemonics are not accepted)"
                    ),
                ))
            }
            c => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "it contains {c:?}; a phone number may hold only digits, one leading +, \
                         spaces, dashes, dots, slashes and parentheses"
                    ),
                ))
            }
        }
    }
    if digits.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "it has no digits; give the number itself",
        ));
    }
    if digits.len() > MAX_DIGITS {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it has {} digits, more than any phone number; check for two numbers run together",
                digits.len()
            ),
        ));
    }
    if !plus && region.is_none() {
        return Err(IdentError::NeedRegion { value: quote(raw) });
    }

    // The crate only ever sees `+?[0-9]{1,20}`, which keeps its parser on well-trodden paths.
    let cleaned = if plus { format!("+{digits}") } else { digits };
    // A + number is read without the region: the crate otherwise applies the region's trunk
    // prefix rules to a foreign number (+7 8… is then read differently with region OM than
    // without), and the same +E.164 string must give the same bytes on every node.
    let number = phonenumber::parse(if plus { None } else { region }, &cleaned).map_err(|e| {
        let reason = match e {
            ParseError::InvalidCountryCode if plus => {
                "the digits after + do not start with a country calling code; check them".to_owned()
            }
            ParseError::InvalidCountryCode => {
                "it cannot be read as a number of the given region; check the digits and --region"
                    .to_owned()
            }
            ParseError::TooLong => {
                "it has too many digits; check for an extra digit or two numbers run together"
                    .to_owned()
            }
            ParseError::NoNumber | ParseError::TooShortNsn | ParseError::TooShortAfterIdd => {
                "it is too short; check for missing digits".to_owned()
            }
            ParseError::MalformedInteger(_) => {
                "it cannot be read as a phone number; check the digits".to_owned()
            }
        };
        invalid(kind, raw, reason)
    })?;

    if !phonenumber::is_valid(&number) {
        let code = number.code().value();
        return Err(invalid(
            kind,
            raw,
            format!(
                "it does not fit the numbering plan of country code +{code} (wrong length or \
                 unassigned range); check for a missing or extra digit{}",
                if plus {
                    ""
                } else {
                    " and that --region is right"
                }
            ),
        ));
    }

    let e164 = number.format().mode(Mode::E164).to_string();
    // Belt and braces: the form the spec promises, whatever the crate does.
    let well_formed = e164.len() <= 16
        && e164
            .strip_prefix('+')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(invalid(
            kind,
            raw,
            "it could not be put in E.164 form; write it as + country code and number",
        ));
    }
    // The result must read back as itself with no region, so that it is a fixed point and
    // equals what a node given the +E.164 spelling derives (a national number read with a
    // region could otherwise land on a number that is not valid in its own right).
    let again = phonenumber::parse(None, &e164)
        .ok()
        .filter(phonenumber::is_valid)
        .map(|n| n.format().mode(Mode::E164).to_string());
    if again.as_deref() != Some(e164.as_str()) {
        return Err(invalid(
            kind,
            raw,
            format!(
                "it reads as {e164}, which is not a valid number when read back; check the \
                 digits{}",
                if plus {
                    ""
                } else {
                    " and --region, or write it in +E.164 form"
                }
            ),
        ));
    }
    Ok(e164)
}

/// The default region from the options, checked: two ASCII letters naming a region the
/// metadata knows. Upper-cased, so `th` works too.
fn region(opts: &Options) -> Result<Option<country::Id>, IdentError> {
    let Some(given) = opts.default_region.as_deref() else {
        return Ok(None);
    };
    let bad = || IdentError::BadRegion {
        region: quote(given),
    };
    let code = given.trim();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let code = code.to_ascii_uppercase();
    let id = country::Id::from_str(&code).map_err(|_| bad())?;
    // The parser unwraps this lookup for a national number, so it must succeed first.
    if DATABASE.by_id(id.as_ref()).is_none() {
        return Err(bad());
    }
    Ok(Some(id))
}
