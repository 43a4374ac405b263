//! Canonical forms of identifiers.
//!
//! Two agencies can only find a shared identifier if both derive the *same bytes* from it: the
//! OPRF is evaluated on those bytes, so `081 234 5678` on one side and `+66812345678` on the
//! other would never match. This module turns what an operator or an import file gives
//! (`raw`) into one canonical string per [`Kind`], or says precisely why it cannot.
//! `spec/IDENTIFIERS.md` states each form byte for byte, so that another implementation can
//! reproduce it; `spec/vectors/identifiers.json` holds known answers that both must pass.
//!
//! What it deliberately does not do:
//! - **No fuzzy matching.** Equivalent *spellings* of one identifier are folded together (spaces,
//!   case, national vs. international phone format, Unicode normalisation), but different
//!   identifiers that a person might confuse are not (`O`/`0` in a passport number,
//!   transliterations of names). Gmail's dot-aliases are folded only on request
//!   ([`Options::provider_rules`]). Persons are matched on derived keys: see [`crate::person`].
//! - **No guessing.** When the input is ambiguous (a national phone number without a region,
//!   an IPv4 octet with a leading zero) it is refused, with a message that says how to fix it.
//! - **No network look-ups** and no I/O: whether a number or a domain exists is not checked.
//! - **No logging.** Error messages quote the input so an operator can fix it; show them to the
//!   person who typed or imported it, but never write them to the audit log.
//!
//! Key types: [`Kind`] (which identifier), [`Options`] (e.g. the default phone region),
//! [`canonicalize`] (the one entry point), [`Canonical`] (its result, with
//! [`Canonical::oprf_input`], the exact bytes fed to the OPRF) and [`IdentError`].
//!
//! Adding a kind: add the variant to [`Kind`] (and to [`Kind::ALL`], [`Kind::as_str`],
//! [`Kind::noun`]), add a file with a `canonicalize(raw, opts) -> Result<String, IdentError>`
//! function, dispatch to it in [`canonicalize`], and add its section and vectors to the spec.
//! The compiler points at every `match` that needs the new arm.

mod bank_account;
pub(crate) mod country;
mod crypto;
mod domain;
mod email;
mod ewallet;
mod iban;
mod imei;
mod ip;
mod national_id;
mod passport;
mod phone;
pub(crate) mod text;
mod url;

use std::fmt;
use std::str::FromStr;

/// Largest input accepted, in UTF-8 bytes, checked before any other work. No real identifier
/// comes near it; the cap bounds the cost of normalisation and of the parsers below.
pub const MAX_INPUT_BYTES: usize = 1024;

/// Longest excerpt of the input quoted in an error message, in characters.
const QUOTE_MAX_CHARS: usize = 60;

/// The kind of an identifier. Each collection holds one kind, and the kind's name is part of
/// the OPRF input, so equal strings of different kinds never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Telephone number, as E.164 (`+66812345678`).
    Phone,
    /// E-mail address, local part as given and domain in ASCII (`Somchai.J@example.com`).
    Email,
    /// IBAN in electronic format (`DE89370400440532013000`).
    Iban,
    /// IPv4 or IPv6 address (`192.0.2.1`, `2001:db8::1`).
    Ip,
    /// Issuing state and passport number (`THA:AA1234567`).
    Passport,
    /// Anything else, as case-folded NFKC text (`somchai jaidee`).
    Text,
    /// Bank account outside IBAN countries: country, bank code, account digits.
    BankAccount,
    /// E-wallet: provider and account ID.
    Ewallet,
    /// Cryptocurrency address, with its chain (BTC, ETH, TRON).
    Crypto,
    /// National identity number, with its country.
    NationalId,
    /// Registrable domain (`example.co.th`).
    Domain,
    /// URL as host and path, without scheme.
    Url,
    /// Mobile handset IMEI (15 digits, Luhn-checked).
    Imei,
    /// A person record; matched through several derived keys (see [`crate::person`]).
    Person,
}

impl Kind {
    /// Every kind, in a stable order (the order used in messages).
    pub const ALL: &'static [Kind] = &[
        Kind::Phone,
        Kind::Email,
        Kind::Iban,
        Kind::Ip,
        Kind::Passport,
        Kind::NationalId,
        Kind::BankAccount,
        Kind::Ewallet,
        Kind::Crypto,
        Kind::Domain,
        Kind::Url,
        Kind::Imei,
        Kind::Person,
        Kind::Text,
    ];

    /// The kind's name: what `FromStr` and serde accept, and the OPRF input's prefix.
    /// These strings are part of the protocol; never change one.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Iban => "iban",
            Kind::Ip => "ip",
            Kind::Passport => "passport",
            Kind::Text => "text",
            Kind::BankAccount => "bank-account",
            Kind::Ewallet => "ewallet",
            Kind::Crypto => "crypto",
            Kind::NationalId => "national-id",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Imei => "imei",
            Kind::Person => "person",
        }
    }

    /// What a person calls it, for messages ("is not a valid phone number").
    pub fn noun(&self) -> &'static str {
        match self {
            Kind::Phone => "phone number",
            Kind::Email => "e-mail address",
            Kind::Iban => "IBAN",
            Kind::Ip => "IP address",
            Kind::Passport => "passport number",
            Kind::Text => "text identifier",
            Kind::BankAccount => "bank account",
            Kind::Ewallet => "e-wallet account",
            Kind::Crypto => "crypto address",
            Kind::NationalId => "national ID number",
            Kind::Domain => "domain name",
            Kind::Url => "URL",
            Kind::Imei => "IMEI",
            Kind::Person => "person record",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = IdentError;

    /// Accepts the names of [`Kind::as_str`], ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| IdentError::UnknownKind { given: quote(s) })
    }
}

/// Settings that change how some kinds are read. The default reads only unambiguous input.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// ISO 3166-1 alpha-2 region (e.g. `TH`) used to read phone numbers written in national
    /// format (`081 234 5678`). Numbers written with `+` and a country code ignore it.
    pub default_region: Option<String>,
    /// `crypto` only: the chain (`btc`, `eth`, `tron`), or `auto` (also when `None`) to detect
    /// it from the address.
    pub chain: Option<String>,
    /// `ip` only: a time bucket appended to the address (e.g. `2025-08-23T14` for one hour).
    pub window: Option<String>,
    /// `email` only: apply the documented provider rules (e.g. Gmail ignores dots and
    /// `+tags` in the local part).
    pub provider_rules: bool,
}

impl Options {
    /// Options with a default phone region.
    pub fn with_region(region: impl Into<String>) -> Self {
        Options {
            default_region: Some(region.into()),
            ..Options::default()
        }
    }
}

/// A canonical identifier. Only [`canonicalize`] makes one, so holding one means the value is
/// in canonical form for its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Canonical {
    kind: Kind,
    value: String,
}

impl Canonical {
    /// The identifier kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The canonical form, e.g. `+66812345678`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The canonical form, owned.
    pub fn into_value(self) -> String {
        self.value
    }

    /// The exact bytes fed to the OPRF: `kind.as_str()` in ASCII, one `:` (0x3A), then the
    /// canonical value in UTF-8. The kind prefix is a domain separator: the text `1.2.3.4` and
    /// the IP address `1.2.3.4` give different tags. No length prefix is needed because kind
    /// names contain no `:`.
    pub fn oprf_input(&self) -> Vec<u8> {
        let kind = self.kind.as_str().as_bytes();
        let mut out = Vec::with_capacity(kind.len() + 1 + self.value.len());
        out.extend_from_slice(kind);
        out.push(b':');
        out.extend_from_slice(self.value.as_bytes());
        out
    }
}

/// Why an input has no canonical form. Every message is one sentence that quotes the input
/// (shortened when long), says what is wrong, and what to do.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the values the message quotes
pub enum IdentError {
    /// A kind name that is not one of [`Kind::ALL`].
    #[error("{given} is not an identifier kind; use one of: {list}", list = kind_list())]
    UnknownKind { given: String },

    /// Longer than [`MAX_INPUT_BYTES`]; refused before any other work.
    #[error(
        "{value} is {len} bytes long, more than the {max} bytes accepted for any identifier; \
         check that the column or field holds a single {noun}",
        max = MAX_INPUT_BYTES,
        noun = kind.noun()
    )]
    TooLong {
        kind: Kind,
        value: String,
        len: usize,
    },

    /// Nothing but whitespace (or, for text, invisible characters).
    #[error("{value} is empty; give the {noun} or leave the entry out", noun = kind.noun())]
    Empty { kind: Kind, value: String },

    /// [`Options::default_region`] is not a region the phone metadata knows.
    #[error(
        "{region} is not a region whose phone numbers can be read; pass --region as an ISO 3166 \
         two-letter code such as TH, JP, US, VN, KH or PH"
    )]
    BadRegion { region: String },

    /// A phone number without `+` and no default region to read it in.
    #[error(
        "{value} is a national-format phone number but no region was given; pass --region TH \
         (or the number's country) or write it in +E.164 form"
    )]
    NeedRegion { value: String },

    /// Anything else wrong with the input, said in `reason`.
    #[error("{value} is not a valid {noun}: {reason}", noun = kind.noun())]
    Invalid {
        kind: Kind,
        /// The input, quoted and possibly shortened.
        value: String,
        /// Why, and what to do.
        reason: String,
    },
}

impl IdentError {
    /// The same error with the quoted input replaced by [`redact`]`(raw)`: for reports that
    /// may be kept (an import's list of bad rows), where the whole value should not appear.
    /// Reasons never quote the whole input, so the result holds at most its first characters.
    pub fn redacted(self, raw: &str) -> Self {
        let r = redact(raw);
        match self {
            IdentError::TooLong { kind, len, .. } => IdentError::TooLong {
                kind,
                value: r,
                len,
            },
            IdentError::Empty { kind, .. } => IdentError::Empty { kind, value: r },
            IdentError::NeedRegion { .. } => IdentError::NeedRegion { value: r },
            IdentError::Invalid { kind, reason, .. } => IdentError::Invalid {
                kind,
                value: r,
                reason,
            },
            other @ (IdentError::UnknownKind { .. } | IdentError::BadRegion { .. }) => other,
        }
    }

    /// The kind being read when the error happened, if any.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            IdentError::TooLong { kind, .. }
            | IdentError::Empty { kind, .. }
            | IdentError::Invalid { kind, .. } => Some(*kind),
            IdentError::BadRegion { .. } | IdentError::NeedRegion { .. } => Some(Kind::Phone),
            IdentError::UnknownKind { .. } => None,
        }
    }
}

/// Turns `raw` into the canonical form of `kind`, or explains why it has none.
///
/// Never panics, whatever `raw` is. Inputs longer than [`MAX_INPUT_BYTES`] are refused before
/// any other work.
pub fn canonicalize(kind: Kind, raw: &str, opts: &Options) -> Result<Canonical, IdentError> {
    if raw.len() > MAX_INPUT_BYTES {
        return Err(IdentError::TooLong {
            kind,
            value: quote(raw),
            len: raw.len(),
        });
    }
    // Empty after trimming is the same mistake for every kind; say it once, plainly.
    if raw.trim().is_empty() {
        return Err(IdentError::Empty {
            kind,
            value: quote(raw),
        });
    }
    let cleaned = clean(kind, raw);
    if cleaned.trim().is_empty() {
        return Err(IdentError::Empty {
            kind,
            value: quote(raw),
        });
    }
    let raw = cleaned.as_ref();
    let value = match kind {
        Kind::Phone => phone::canonicalize(raw, opts)?,
        Kind::Email => email::canonicalize_with(raw, opts)?,
        Kind::Iban => iban::canonicalize(raw)?,
        Kind::Ip => ip::canonicalize(raw, opts)?,
        Kind::Passport => passport::canonicalize(raw)?,
        Kind::Text => text::canonicalize(raw)?,
        Kind::BankAccount => bank_account::canonicalize(raw, opts)?,
        Kind::Ewallet => ewallet::canonicalize(raw, opts)?,
        Kind::Crypto => crypto::canonicalize(raw, opts)?,
        Kind::NationalId => national_id::canonicalize(raw, opts)?,
        Kind::Domain => domain::canonicalize(raw, opts)?,
        Kind::Url => url::canonicalize(raw, opts)?,
        Kind::Imei => imei::canonicalize(raw, opts)?,
        Kind::Person => crate::person::canonicalize(raw, opts)?,
    };
    Ok(Canonical { kind, value })
}

/// The common first step of every kind (`spec/IDENTIFIERS.md` §1): drop the invisible
/// characters that tools insert (a byte-order mark at the start of a CSV cell, a Thai
/// word-breaker's zero-width space), and, for kinds whose values are numbers, read decimal
/// digits of other scripts (Thai ๐–๙, Khmer, Myanmar, Lao, Devanagari, …) as ASCII digits:
/// Thai documents write phone and ID numbers in either.
fn clean(kind: Kind, raw: &str) -> std::borrow::Cow<'_, str> {
    let numeric = matches!(
        kind,
        Kind::Phone
            | Kind::BankAccount
            | Kind::NationalId
            | Kind::Imei
            | Kind::Passport
            | Kind::Ewallet
    );
    let changes = |c: char| text::DROPPED.contains(&c) || (numeric && native_digit(c).is_some());
    if !raw.chars().any(changes) {
        return std::borrow::Cow::Borrowed(raw);
    }
    raw.chars()
        .filter(|c| !text::DROPPED.contains(c))
        .map(|c| match native_digit(c) {
            Some(d) if numeric => d,
            _ => c,
        })
        .collect::<String>()
        .into()
}

/// Code points of the digit zero of the decimal-digit (Unicode `Nd`) blocks read as ASCII
/// digits: zero to nine are ten consecutive code points in each. Hand-written because the
/// standard library gives the value of ASCII digits only; the list is the spec's (§1).
const DIGIT_ZEROS: &[u32] = &[
    0x0660, // Arabic-Indic
    0x06F0, // Extended Arabic-Indic (Urdu, Persian)
    0x0966, // Devanagari
    0x09E6, // Bengali
    0x0A66, // Gurmukhi
    0x0AE6, // Gujarati
    0x0B66, // Oriya
    0x0BE6, // Tamil
    0x0C66, // Telugu
    0x0CE6, // Kannada
    0x0D66, // Malayalam
    0x0E50, // Thai
    0x0ED0, // Lao
    0x1040, // Myanmar
    0x1090, // Myanmar Shan
    0x17E0, // Khmer
    0x1B50, // Balinese
    0xA9D0, // Javanese
    0xAA50, // Cham
    0xFF10, // full-width (NFKC maps these too)
];

/// The ASCII digit a decimal digit of another script stands for.
fn native_digit(c: char) -> Option<char> {
    let cp = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&cp))
        .and_then(|z| char::from_digit(cp - z, 10))
}

/// `"a", "b", …` of every kind name, for the unknown-kind message.
fn kind_list() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The input as it appears in messages: Rust debug quoting (so control characters and
/// invisible spaces show as escapes), cut to [`QUOTE_MAX_CHARS`] characters so that a
/// megabyte of junk does not become a megabyte of error.
pub(crate) fn quote(raw: &str) -> String {
    let mut chars = raw.chars();
    let head: String = chars.by_ref().take(QUOTE_MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// At most the first 4 characters of `raw`, and never more than half of them, quoted, with
/// `…` when anything was cut: enough for an operator to find the row, not enough to disclose
/// the identifier (`"+668…"` for `+66812345678`).
pub fn redact(raw: &str) -> String {
    let raw = raw.trim();
    let n = raw.chars().count();
    let keep = (n / 2).min(4);
    let head: String = raw.chars().take(keep).collect();
    if keep < n {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// Shorthand for [`IdentError::Invalid`].
pub(crate) fn invalid(kind: Kind, raw: &str, reason: impl Into<String>) -> IdentError {
    IdentError::Invalid {
        kind,
        value: quote(raw),
        reason: reason.into(),
    }
}
