//! Person records and their match keys.
//!
//! A person is a JSON object (`name`, `aliases`, `dob`, `sex`, `nationality`, `passport`,
//! `national_id`, `reference`). [`canonicalize`] checks it and writes one canonical JSON string
//! (fixed field order, canonical values), which the holder stores. A person is not matched on
//! that string: [`match_keys`] derives from it a small set of [`MatchKey`]s, each the exact bytes
//! fed to the OPRF, in four [`KeyClass`]es from documents (strongest) to a phonetic skeleton of
//! the name with birth year and nationality (weakest). Two records match when any of their keys
//! are equal; the strongest class that matched says how much to trust it.
//!
//! Fuzzy matching is done by *folding*: both sides compute the same skeleton from different
//! spellings (Thai RTGS and ad-hoc spellings, pinyin and Wade–Giles, diacritics, name order,
//! titles), so that equal bytes mean "probably the same name". `names.rs` and `thai.rs` hold the
//! rules; `spec/IDENTIFIERS.md` (section `person`) states them for other implementations.
//!
//! Deliberately not done: no key without a date of birth except documents (a name alone is far
//! too common to report), no edit-distance matching (the OPRF only finds equal bytes), no
//! matching on sex (often missing or mis-recorded), `reference` never enters a key.

mod keys;
mod names;
mod record;
mod thai;

use crate::ident::{IdentError, Options};

pub use record::Person;

/// How a match was found, strongest first (the derived `Ord` follows this order).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum KeyClass {
    /// The same passport or national ID number.
    #[serde(rename = "document")]
    Document,
    /// The same name tokens (transliterated, titles removed, any order) and date of birth.
    #[serde(rename = "name+dob")]
    NameDob,
    /// The same phonetic skeleton of the name and the same date of birth.
    #[serde(rename = "fuzzy-name+dob")]
    FuzzyNameDob,
    /// The same phonetic skeleton, birth year and nationality.
    #[serde(rename = "fuzzy-name+year+nationality")]
    FuzzyNameYearNationality,
}

impl KeyClass {
    /// Every class, strongest first.
    pub const ALL: [KeyClass; 4] = [
        KeyClass::Document,
        KeyClass::NameDob,
        KeyClass::FuzzyNameDob,
        KeyClass::FuzzyNameYearNationality,
    ];

    /// The class name, part of the OPRF input; never changes.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyClass::Document => "document",
            KeyClass::NameDob => "name+dob",
            KeyClass::FuzzyNameDob => "fuzzy-name+dob",
            KeyClass::FuzzyNameYearNationality => "fuzzy-name+year+nationality",
        }
    }
}

impl std::fmt::Display for KeyClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One match key: its class and the exact OPRF input,
/// `person:` class `:` value (see the spec for each class's value).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchKey {
    /// How strong a match on this key is.
    pub class: KeyClass,
    /// The exact bytes fed to the OPRF (UTF-8, in fact ASCII).
    pub input: Vec<u8>,
}

/// Most keys one person yields: every key costs an OPRF evaluation on both sides.
pub const MAX_KEYS: usize = 64;

/// Canonical JSON of a person record (the `person` identifier kind).
pub(crate) fn canonicalize(raw: &str, opts: &Options) -> Result<String, IdentError> {
    Person::parse(raw, opts).map(|p| p.canonical_json())
}

/// Match keys of a stored canonical value (what [`canonicalize`] returned): deduplicated,
/// sorted by class then bytes, at most [`MAX_KEYS`].
pub fn match_keys(canonical: &str) -> Result<Vec<MatchKey>, IdentError> {
    Ok(Person::parse(canonical, &Options::default())?.match_keys())
}
