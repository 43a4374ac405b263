//! The person record: reading the JSON object, checking each field, and writing the canonical
//! JSON `{"name","aliases","dob","sex","nationality","passport","national_id","reference"}`
//! (that order, absent fields left out, arrays for the multi-valued fields).
//!
//! Deliberately not done: no guessing of date formats (03/04/1990 is refused), no nationality
//! from a passport's issuing state (they differ for many people), no sorting of aliases (the
//! order is the holder's; keys do not depend on it below the key cap).

use crate::ident::text::DROPPED;
use crate::ident::{self, country, invalid, quote, IdentError, Kind, Options, MAX_INPUT_BYTES};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::{keys, MatchKey};

const FIELDS: &str = "name, aliases, dob, sex, nationality, passport, national_id, reference";

/// Most aliases a record may carry (besides `name`).
pub(crate) const MAX_ALIASES: usize = 7;
/// Most documents (passports and national IDs together).
pub(crate) const MAX_DOCUMENTS: usize = 8;
/// Longest name or alias, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Birth years accepted: none before 1900, none after 2100 (the protocol has no clock).
const YEARS: std::ops::RangeInclusive<u16> = 1900..=2100;

/// A checked person record. Only [`Person::parse`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    name: Option<String>,
    aliases: Vec<String>,
    dob: Option<String>,
    sex: Option<&'static str>,
    nationality: Option<&'static str>,
    passports: Vec<String>,
    national_ids: Vec<String>,
    reference: Option<String>,
}

fn err(raw: &str, reason: impl Into<String>) -> IdentError {
    invalid(Kind::Person, raw, reason)
}

/// A JSON object as its members in order, refusing duplicate names (serde_json's `Value`
/// would keep the last silently).
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!(
                            "the field {k:?} appears twice"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Person {
    /// Reads and checks a person record (a JSON object; see the module comment).
    pub fn parse(raw: &str, _opts: &Options) -> Result<Person, IdentError> {
        if raw.len() > MAX_INPUT_BYTES {
            return Err(IdentError::TooLong {
                kind: Kind::Person,
                value: quote(raw),
                len: raw.len(),
            });
        }
        let members: Members = serde_json::from_str(raw.trim()).map_err(|e| {
            err(
                raw,
                format!(
                    "it is not a JSON object of person fields ({e}); write it like \
                     {{\"name\": \"Somchai Jaidee\", \"dob\": \"1985-02-17\"}}"
                ),
            )
        })?;
        let mut p = Person {
            name: None,
            aliases: Vec::new(),
            dob: None,
            sex: None,
            nationality: None,
            passports: Vec::new(),
            national_ids: Vec::new(),
            reference: None,
        };
        for (field, value) in &members.0 {
            match field.as_str() {
                "name" => {
                    p.name = opt_string(raw, field, value)?
                        .map(|s| name(raw, field, &s))
                        .transpose()?
                }
                "aliases" => p.aliases = aliases(raw, value)?,
                "dob" => {
                    p.dob = opt_string(raw, field, value)?
                        .map(|s| dob(raw, &s))
                        .transpose()?
                }
                "sex" => {
                    p.sex = opt_string(raw, field, value)?
                        .map(|s| sex(raw, &s))
                        .transpose()?
                }
                "nationality" => {
                    p.nationality = opt_string(raw, field, value)?
                        .map(|s| {
                            country::alpha3(&s).ok_or_else(|| {
                                err(
                                    raw,
                                    format!(
                                        "its \"nationality\" {s:?} is not an ISO 3166 country \
                                         code; write it like TH, THA, MM or VNM"
                                    ),
                                )
                            })
                        })
                        .transpose()?
                }
                "passport" => p.passports = documents(raw, field, value, Kind::Passport)?,
                "national_id" => p.national_ids = documents(raw, field, value, Kind::NationalId)?,
                "reference" => p.reference = opt_string(raw, field, value)?.map(|s| plain(&s)),
                other => {
                    return Err(err(
                        raw,
                        format!("{other:?} is not a person field; the fields are {FIELDS}"),
                    ))
                }
            }
        }
        // An alias equal to the name, or to an earlier alias, adds nothing.
        let mut seen: Vec<String> = p.name.iter().cloned().collect();
        p.aliases.retain(|a| {
            if seen.contains(a) {
                false
            } else {
                seen.push(a.clone());
                true
            }
        });
        if p.aliases.len() > MAX_ALIASES {
            return Err(err(
                raw,
                format!(
                    "it has {} aliases, more than {MAX_ALIASES}; keep the ones most likely to \
                     be found elsewhere",
                    p.aliases.len()
                ),
            ));
        }
        if p.passports.len() + p.national_ids.len() > MAX_DOCUMENTS {
            return Err(err(
                raw,
                format!(
                    "it has more than {MAX_DOCUMENTS} passports and national IDs together; split \
                     the record or keep the current documents"
                ),
            ));
        }
        if p.name.is_none()
            && p.aliases.is_empty()
            && p.passports.is_empty()
            && p.national_ids.is_empty()
        {
            return Err(err(
                raw,
                "it has neither a name nor a document; give \"name\", \"passport\" or \
                 \"national_id\"",
            ));
        }
        let canonical = p.canonical_json();
        if canonical.len() > MAX_INPUT_BYTES {
            return Err(err(
                raw,
                format!(
                    "written canonically it is {} bytes, more than the {MAX_INPUT_BYTES} \
                     accepted; shorten the reference or drop aliases",
                    canonical.len()
                ),
            ));
        }
        Ok(p)
    }

    /// The canonical JSON: fields in the order name, aliases, dob, sex, nationality, passport,
    /// national_id, reference; absent ones left out; no whitespace.
    pub fn canonical_json(&self) -> String {
        let s = |v: &str| serde_json::to_string(v).unwrap_or_default();
        let list =
            |v: &[String]| format!("[{}]", v.iter().map(|x| s(x)).collect::<Vec<_>>().join(","));
        let mut parts: Vec<String> = Vec::new();
        if let Some(n) = &self.name {
            parts.push(format!("\"name\":{}", s(n)));
        }
        if !self.aliases.is_empty() {
            parts.push(format!("\"aliases\":{}", list(&self.aliases)));
        }
        if let Some(d) = &self.dob {
            parts.push(format!("\"dob\":{}", s(d)));
        }
        if let Some(x) = self.sex {
            parts.push(format!("\"sex\":{}", s(x)));
        }
        if let Some(c) = self.nationality {
            parts.push(format!("\"nationality\":{}", s(c)));
        }
        if !self.passports.is_empty() {
            parts.push(format!("\"passport\":{}", list(&self.passports)));
        }
        if !self.national_ids.is_empty() {
            parts.push(format!("\"national_id\":{}", list(&self.national_ids)));
        }
        if let Some(r) = &self.reference {
            parts.push(format!("\"reference\":{}", s(r)));
        }
        format!("{{{}}}", parts.join(","))
    }

    /// The match keys: deduplicated, sorted, at most [`super::MAX_KEYS`].
    pub fn match_keys(&self) -> Vec<MatchKey> {
        keys::derive(self)
    }

    /// The full name as written (NFC, whitespace collapsed).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// Other names, in the order given, without duplicates.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }
    /// Date of birth: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub fn dob(&self) -> Option<&str> {
        self.dob.as_deref()
    }
    /// `M`, `F` or `X`.
    pub fn sex(&self) -> Option<&str> {
        self.sex
    }
    /// ISO 3166-1 alpha-3 code.
    pub fn nationality(&self) -> Option<&str> {
        self.nationality
    }
    /// Canonical passports (`THA:AA1234567`), sorted.
    pub fn passports(&self) -> &[String] {
        &self.passports
    }
    /// Canonical national IDs (`THA:1101700230708`), sorted.
    pub fn national_ids(&self) -> &[String] {
        &self.national_ids
    }
    /// The holder's own reference; never used in keys.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    /// Every name: `name` first, then the aliases.
    pub(crate) fn all_names(&self) -> impl Iterator<Item = &str> {
        self.name
            .iter()
            .map(String::as_str)
            .chain(self.aliases.iter().map(String::as_str))
    }
}

/// A string field, or `None` for null, a missing value or only whitespace.
fn opt_string(raw: &str, field: &str, v: &Value) -> Result<Option<String>, IdentError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(err(
            raw,
            format!("its {field:?} is not a string; write it in double quotes"),
        )),
    }
}

/// Text as stored: no control characters, invisible characters dropped, NFC, whitespace runs
/// as one space, trimmed.
fn plain(s: &str) -> String {
    let nfc: String = s
        .chars()
        .filter(|c| !DROPPED.contains(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .nfc()
        .collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn name(raw: &str, field: &str, s: &str) -> Result<String, IdentError> {
    if let Some(c) = s.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(err(
            raw,
            format!(
                "its {field:?} contains the control character U+{:04X}; remove it",
                u32::from(c)
            ),
        ));
    }
    let n = plain(s);
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(err(
            raw,
            format!("its {field:?} is longer than {MAX_NAME_CHARS} characters; give one name"),
        ));
    }
    if super::names::tokens(&n).is_empty() {
        return Err(err(
            raw,
            format!(
                "its {field:?} {n:?} has no letters that can be matched; give the name in letters"
            ),
        ));
    }
    Ok(n)
}

fn aliases(raw: &str, v: &Value) -> Result<Vec<String>, IdentError> {
    let items: Vec<String> = match v {
        Value::Null => Vec::new(),
        Value::String(s) => s.split(';').map(str::to_owned).collect(),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(err(raw, "its \"aliases\" holds something other than strings; give an array of names")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(err(raw, "its \"aliases\" is not a string or an array of strings; write [\"Name One\", \"Name Two\"]")),
    };
    if items.len() > 4 * MAX_ALIASES {
        return Err(err(
            raw,
            format!(
                "its \"aliases\" has {} entries, more than {MAX_ALIASES}",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| name(raw, "aliases", s))
        .collect()
}

fn dob(raw: &str, s: &str) -> Result<String, IdentError> {
    let t = s.trim();
    let bad_form = || {
        err(
            raw,
            format!(
                "its \"dob\" {t:?} is not an ISO 8601 date; write YYYY-MM-DD (or YYYY-MM, \
                 YYYY when only that is known), e.g. 1985-02-17"
            ),
        )
    };
    let parts: Vec<&str> = t.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    if !matches!(lens.as_slice(), [4] | [4, 2] | [4, 2, 2])
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad_form());
    }
    let num = |p: &str| p.parse::<u16>().unwrap_or(0);
    let year = num(parts[0]);
    if !YEARS.contains(&year) {
        return Err(err(
            raw,
            format!("its \"dob\" year {year} is outside 1900-2100; check the date"),
        ));
    }
    if let Some(m) = parts.get(1) {
        let m = num(m);
        if !(1..=12).contains(&m) {
            return Err(err(
                raw,
                format!("its \"dob\" {t:?} has month {m}; months are 01 to 12"),
            ));
        }
        if let Some(d) = parts.get(2) {
            let d = num(d);
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let days = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            if d < 1 || d > days {
                return Err(err(
                    raw,
                    format!("its \"dob\" {t:?} does not exist (that month has {days} days); check the date"),
                ));
            }
        }
    }
    Ok(t.to_owned())
}

fn sex(raw: &str, s: &str) -> Result<&'static str, IdentError> {
    match s.trim().to_lowercase().as_str() {
        "m" | "male" => Ok("M"),
        "f" | "female" => Ok("F"),
        "x" => Ok("X"),
        _ => Err(err(
            raw,
            format!("its \"sex\" {s:?} is not M, F or X (male and female are accepted too)"),
        )),
    }
}

fn documents(raw: &str, field: &str, v: &Value, kind: Kind) -> Result<Vec<String>, IdentError> {
    let items: Vec<&str> = match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(err(raw, format!("its {field:?} holds something other than strings; give an array of strings"))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(err(raw, format!("its {field:?} is not a string or an array of strings"))),
    };
    if items.len() > 4 * MAX_DOCUMENTS {
        return Err(err(
            raw,
            format!(
                "its {field:?} has {} entries, more than {MAX_DOCUMENTS}",
                items.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for item in items.into_iter().filter(|s| !s.trim().is_empty()) {
        let c = ident::canonicalize(kind, item, &Options::default())
            .map_err(|e| err(raw, format!("its {field:?} entry is refused ({e})")))?;
        out.push(c.into_value());
    }
    out.sort();
    out.dedup();
    Ok(out)
}
