//! IBANs → electronic format (upper case, no spaces), checksum and per-country format
//! validated by `iban_validate` (imported as `iban`) against the SWIFT IBAN registry.

use super::{invalid, IdentError, Kind};
use ::iban::{Iban, IbanLike, ParseBaseIbanError, ParseIbanError};

pub(super) fn canonicalize(raw: &str) -> Result<String, IdentError> {
    let kind = Kind::Iban;
    // Print format groups by four with spaces; people also use dashes and lower case.
    let mut compact = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "it contains {c:?}; an IBAN has only letters and digits (spaces and dashes \
                     between them are fine)"
                ),
            ));
        }
        compact.push(c.to_ascii_uppercase());
    }
    // The paper form may carry the word itself: "IBAN DE89 …". No country code is "IB".
    let compact = compact.strip_prefix("IBAN").unwrap_or(&compact);

    let iban: Iban = compact.parse().map_err(|e| {
        let reason = match e {
            ParseIbanError::InvalidBaseIban {
                source: ParseBaseIbanError::InvalidChecksum,
            } => "its check digits do not match the rest, so a character is probably mistyped; \
                  check it against the source"
                .to_owned(),
            ParseIbanError::InvalidBaseIban {
                source: ParseBaseIbanError::InvalidFormat,
            } => "an IBAN is two letters (the country), two check digits and up to 30 letters \
                  or digits; check that this is an IBAN and not a national account number"
                .to_owned(),
            ParseIbanError::UnknownCountry(_) => format!(
                "{} is not a country of the SWIFT IBAN registry; accounts of countries without \
                 IBANs (most of Southeast Asia) need another kind",
                compact.get(..2).unwrap_or(compact)
            ),
            ParseIbanError::InvalidBban(_) => format!(
                "its length or layout is wrong for a {} IBAN; check for missing or extra characters",
                compact.get(..2).unwrap_or(compact)
            ),
        };
        invalid(kind, raw, reason)
    })?;
    Ok(iban.electronic_str().to_owned())
}
