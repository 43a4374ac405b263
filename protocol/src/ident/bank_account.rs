//! Bank accounts of countries without IBAN → `CC:BANK:ACCOUNT`: the country's ISO 3166-1
//! alpha-2 code (as in IBANs and BICs), the bank identifier agencies of that country record,
//! and the account number, all upper-case ASCII without separators (`TH:004:1234567890`).
//!
//! Each supported country has one rule ([`RULES`]): its bank identifier is a national bank code
//! where one exists and is what its agencies record (Thailand, Singapore, Japan, India, the
//! United States), otherwise the bank's 8-character BIC. One identifier per country, so that
//! two nodes never write the same account two ways; a BIC is never translated into a national
//! code (that needs a directory that changes).
//!
//! Not done: no look-up of bank codes, BICs or routing numbers in a directory (only their shape
//! and, for US routing numbers, their check digit); no national account check digits; countries
//! with IBAN are refused (use `iban`), and so are countries not in [`RULES`].

use super::{country, invalid, IdentError, Kind, Options};
use ::iban::{Iban, ParseIbanError};
use unicode_normalization::UnicodeNormalization;

/// How one country writes the bank identifier.
#[derive(Clone, Copy)]
enum Bank {
    /// That many digits (a national bank code or routing number).
    Digits(usize),
    /// Japan: 4-digit bank code and 3-digit branch code, written as 7 digits.
    JapanBankBranch,
    /// India: IFSC, 4 letters, `0`, 6 letters or digits.
    Ifsc,
    /// US: ABA routing number, 9 digits with its check digit.
    Aba,
    /// The bank's 8-character BIC (ISO 9362); an 11-character BIC is cut to 8.
    Bic,
}

/// How one country writes the account number: digits only, of one of `lens`, or of
/// `min..=max` when `lens` is empty; `pad` left-pads with zeros to `max` (Japan).
struct Account {
    lens: &'static [usize],
    min: usize,
    max: usize,
    pad: bool,
}

/// Accounts whose length no public standard fixes: bounded only against junk. No domestic
/// account number is longer than 30 characters (the longest BBAN).
const ANY: Account = Account {
    lens: &[],
    min: 4,
    max: 30,
    pad: false,
};

/// The supported countries. Adding a country (or changing one) changes which inputs are read,
/// so it is a spec change: add it to the table in spec section "bank-account" with vectors.
const RULES: &[(&str, Bank, Account)] = &[
    // Bank of Thailand 3-digit bank codes (002 Bangkok Bank, 004 Kasikorn, 014 SCB, …).
    // Commercial banks issue 10-digit accounts; GSB, BAAC and GH Bank 12-digit ones.
    (
        "TH",
        Bank::Digits(3),
        Account {
            lens: &[10, 12],
            min: 10,
            max: 12,
            pad: false,
        },
    ),
    // Singapore 4-digit bank codes (7171 DBS/POSB, 7339 OCBC, 7375 UOB, …); FAST transfers need
    // only the bank code and the account number.
    ("SG", Bank::Digits(4), ANY),
    // Zengin: 4-digit bank code, 3-digit branch code, 7-digit account (zero-filled).
    (
        "JP",
        Bank::JapanBankBranch,
        Account {
            lens: &[],
            min: 1,
            max: 7,
            pad: true,
        },
    ),
    ("IN", Bank::Ifsc, ANY),
    // NACHA gives the account field 17 characters.
    (
        "US",
        Bank::Aba,
        Account {
            lens: &[],
            min: 4,
            max: 17,
            pad: false,
        },
    ),
    ("KH", Bank::Bic, ANY),
    ("MM", Bank::Bic, ANY),
    ("LA", Bank::Bic, ANY),
    ("VN", Bank::Bic, ANY),
    ("MY", Bank::Bic, ANY),
    ("PH", Bank::Bic, ANY),
    ("CN", Bank::Bic, ANY),
    ("ID", Bank::Bic, ANY),
];

/// Characters between the three fields.
fn is_field_sep(c: char) -> bool {
    c == ':' || c == '/' || c.is_whitespace()
}

pub(super) fn canonicalize(raw: &str, _opts: &Options) -> Result<String, IdentError> {
    let kind = Kind::BankAccount;
    // NFKC folds full-width letters, digits and `：` to ASCII.
    // Trimmed again: NFKC can create spaces at either end (U+00A8 is a space and U+0308).
    let s: String = raw.trim().nfkc().collect();
    let s = s.trim();
    let (given_country, rest) = next_field(s);
    if rest.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "it is not country, bank and account; write them as in TH:004:1234567890 or \
             KH:ABAAKHPP:001234567",
        ));
    }
    let Some(cc) = country::alpha2(given_country) else {
        return Err(invalid(
            kind,
            raw,
            format!(
                "{given_country:?} is not an ISO 3166 country code; start with the country's two \
                 letters, as in TH:004:1234567890"
            ),
        ));
    };
    let Some((_, bank_rule, account_rule)) = RULES.iter().find(|(c, _, _)| *c == cc) else {
        if has_iban(cc) {
            return Err(invalid(
                kind,
                raw,
                format!("{cc} accounts have IBANs; give the IBAN with --kind iban"),
            ));
        }
        return Err(invalid(
            kind,
            raw,
            format!(
                "bank accounts of {cc} are not supported yet (supported: {}); use --kind text",
                RULES
                    .iter()
                    .map(|(c, _, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let (bank_field, mut rest) = next_field(rest);
    let mut bank = bank_field.replace(['-', '.'], "").to_ascii_uppercase();
    // Japan: the branch code may be its own field (JP:0001:100:1234567).
    if matches!(bank_rule, Bank::JapanBankBranch) && bank.len() == 4 {
        let (branch, after) = next_field(rest);
        let branch = branch.replace(['-', '.'], "");
        // `JP 0001 1234567`: what follows the bank code is the account, not a branch code.
        if after.is_empty() && !(branch.len() == 3 && branch.bytes().all(|b| b.is_ascii_digit())) {
            return Err(invalid(
                kind,
                raw,
                format!(
                    "it has no 3-digit branch code after the 4-digit bank code; write bank code, \
                     branch code and account number, as in {}",
                    example(cc)
                ),
            ));
        }
        bank.push_str(&branch);
        rest = after;
    }
    if rest.is_empty() {
        return Err(invalid(
            kind,
            raw,
            "it has no account number after the bank identifier; write country, bank and \
             account, as in TH:004:1234567890",
        ));
    }
    let bank = bank_identifier(cc, *bank_rule, &bank, raw)?;
    let account = account_number(cc, account_rule, rest, raw)?;
    Ok(format!("{cc}:{bank}:{account}"))
}

/// Splits at the first run of field separators: (the field, what follows the run).
fn next_field(s: &str) -> (&str, &str) {
    match s.find(is_field_sep) {
        Some(i) => (&s[..i], s[i..].trim_start_matches(is_field_sep)),
        None => (s, ""),
    }
}

/// The bank identifier, already upper-cased and without `-` and `.`, checked for `cc`.
fn bank_identifier(cc: &str, rule: Bank, bank: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::BankAccount;
    let all_digits = |n: usize| bank.len() == n && bank.bytes().all(|b| b.is_ascii_digit());
    match rule {
        Bank::Digits(n) if all_digits(n) => Ok(bank.to_owned()),
        Bank::Digits(n) => Err(invalid(
            kind,
            raw,
            format!(
                "its bank identifier {bank:?} is not a {n}-digit {cc} bank code; {cc} accounts \
                 are written with the national bank code (not the BIC), as in {}",
                example(cc)
            ),
        )),
        Bank::JapanBankBranch if all_digits(7) => Ok(bank.to_owned()),
        Bank::JapanBankBranch => Err(invalid(
            kind,
            raw,
            format!(
                "its bank identifier {bank:?} is not a 4-digit bank code and 3-digit branch code; \
                 write them as in {}",
                example(cc)
            ),
        )),
        Bank::Ifsc => {
            let b = bank.as_bytes();
            let ok = b.len() == 11
                && b[..4].iter().all(u8::is_ascii_uppercase)
                && b[4] == b'0'
                && b[5..].iter().all(u8::is_ascii_alphanumeric);
            if ok {
                Ok(bank.to_owned())
            } else {
                Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its bank identifier {bank:?} is not an IFSC (4 letters, 0, then 6 \
                         letters or digits); write it as in {}",
                        example(cc)
                    ),
                ))
            }
        }
        Bank::Aba => {
            if !all_digits(9) {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its bank identifier {bank:?} is not a 9-digit ABA routing number; write \
                         it as in {}",
                        example(cc)
                    ),
                ));
            }
            let d: Vec<u32> = bank.bytes().map(|b| u32::from(b - b'0')).collect();
            if d.iter().all(|&x| x == 0) {
                // All zeros passes the check-digit formula; it is a placeholder, not a bank.
                return Err(invalid(
                    kind,
                    raw,
                    "its routing number is all zeros, which no bank has; give the bank's 9-digit \
                     ABA routing number",
                ));
            }
            // ABA check: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
            let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
            if !sum.is_multiple_of(10) {
                let part = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5];
                let expected = (10 - part % 10) % 10;
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its routing number's check digit is {} but should be {expected}; check \
                         for a mistyped digit",
                        d[8]
                    ),
                ));
            }
            Ok(bank.to_owned())
        }
        Bank::Bic => bic8(cc, bank, raw),
    }
}

/// A BIC (ISO 9362): 4 letters or digits (the institution), 2 letters (the country, which must
/// be `cc`), 2 letters or digits (the location), optionally 3 more (the branch). The branch is
/// dropped: the account belongs to the bank, whichever branch's BIC was written.
fn bic8(cc: &str, bic: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::BankAccount;
    let b = bic.as_bytes();
    let shape = (b.len() == 8 || b.len() == 11)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b[4..6].iter().all(u8::is_ascii_uppercase);
    if !shape {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its bank identifier {bic:?} is not a BIC (SWIFT code) of 8 or 11 letters and \
                 digits; {cc} accounts are written with the bank's BIC, as in {}",
                example(cc)
            ),
        ));
    }
    if &bic[4..6] != cc {
        return Err(invalid(
            kind,
            raw,
            format!(
                "its BIC {bic} belongs to a bank in {}, not {cc}; check the country and the BIC",
                &bic[4..6]
            ),
        ));
    }
    Ok(bic[..8].to_owned())
}

/// The account number: whitespace, `-`, `.` and dashes dropped; digits only; length per rule.
fn account_number(cc: &str, rule: &Account, given: &str, raw: &str) -> Result<String, IdentError> {
    let kind = Kind::BankAccount;
    let mut digits = String::with_capacity(given.len());
    for c in given.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '.' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its account number contains the letter {c:?}, but {cc} account numbers \
                         have digits only; check the number"
                    ),
                ))
            }
            c => {
                return Err(invalid(
                    kind,
                    raw,
                    format!(
                        "its account number contains {c:?}; give digits only (spaces and dashes \
                         are dropped), after the country and bank, as in {}",
                        example(cc)
                    ),
                ))
            }
        }
    }
    let n = digits.len();
    let ok = if rule.lens.is_empty() {
        (rule.min..=rule.max).contains(&n)
    } else {
        rule.lens.contains(&n)
    };
    if !ok {
        let wanted = if rule.lens.is_empty() {
            format!("{} to {}", rule.min, rule.max)
        } else {
            rule.lens
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        };
        return Err(invalid(
            kind,
            raw,
            format!(
                "its account number has {n} digits, but {cc} account numbers have {wanted}; \
                 check for missing or extra digits"
            ),
        ));
    }
    if rule.pad && n < rule.max {
        // Zengin account numbers are 7 digits, zero-filled on the left.
        digits.insert_str(0, &"0".repeat(rule.max - n));
    }
    Ok(digits)
}

/// An example of the canonical form for the country, for messages.
fn example(cc: &str) -> &'static str {
    match cc {
        "TH" => "TH:004:1234567890",
        "SG" => "SG:7171:1234567890",
        "JP" => "JP:0001100:1234567",
        "IN" => "IN:SBIN0001234:12345678901",
        "US" => "US:021000021:123456789",
        "KH" => "KH:ABAAKHPP:001234567",
        _ => "KH:ABAAKHPP:001234567 (bank's BIC)",
    }
}

/// Whether the SWIFT IBAN registry (as shipped in `iban_validate`) has the country: a
/// well-formed IBAN with a one-character BBAN is then refused for its BBAN, not its country.
fn has_iban(cc: &str) -> bool {
    // Check digits for `cc 00 0`: 98 − (BBAN, country as digits, `00`) mod 97 (ISO 13616).
    let numeric: String = std::iter::once("0".to_owned())
        .chain(cc.bytes().map(|b| (u32::from(b - b'A') + 10).to_string()))
        .chain(std::iter::once("00".to_owned()))
        .collect();
    let rem = numeric
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    let probe = format!("{cc}{:02}0", 98 - rem);
    !matches!(
        probe.parse::<Iban>(),
        Err(ParseIbanError::UnknownCountry(_)) | Err(ParseIbanError::InvalidBaseIban { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::has_iban;

    #[test]
    fn iban_countries_come_from_the_registry() {
        for cc in ["DE", "GB", "FR", "TL", "SA", "AE", "BR"] {
            assert!(has_iban(cc), "{cc}");
        }
        for cc in [
            "TH", "KH", "MM", "LA", "VN", "MY", "PH", "SG", "CN", "JP", "IN", "US", "ID",
        ] {
            assert!(!has_iban(cc), "{cc}");
        }
    }
}
