//! Match keys of a person: `person:` class `:` value, one OPRF input each.
//!
//! | class | value |
//! |---|---|
//! | `document` | `passport:` canonical passport, or `national-id:` canonical national ID |
//! | `name+dob` | `YYYY-MM-DD:` name tokens sorted, joined by one space |
//! | `fuzzy-name+dob` | `YYYY-MM-DD:` skeleton |
//! | `fuzzy-name+year+nationality` | `YYYY:` alpha-3 `:` skeleton |
//!
//! Skeletons are taken of the tokens in three orders (as written, first token moved to the end,
//! sorted by skeleton), which covers family-name-first/last and split or joined syllables.
//! Myanmar nationals (MMR) have no family name, so their token order is kept as written.
//!
//! Deliberately not done: no name key without a date of birth (a name alone matches thousands
//! of people), no key from a month-precision date except the year-and-nationality one.

use super::names::{self, skeleton, Profile};
use super::{KeyClass, MatchKey, Person, MAX_KEYS};

/// Shortest skeleton that gets a fuzzy key, in symbols: `Li` + `Na` (`LiN`) is enough, a bare
/// `Wu` (`W`) is not.
const MIN_SKELETON: usize = 3;

pub(crate) fn derive(p: &Person) -> Vec<MatchKey> {
    let mut keys: Vec<MatchKey> = Vec::new();
    let mut push = |class: KeyClass, value: String| {
        let input = format!("person:{}:{value}", class.as_str()).into_bytes();
        let key = MatchKey { class, input };
        if !keys.contains(&key) {
            keys.push(key);
        }
    };
    for d in p.passports() {
        push(KeyClass::Document, format!("passport:{d}"));
    }
    for d in p.national_ids() {
        push(KeyClass::Document, format!("national-id:{d}"));
    }
    let full_dob = p.dob().filter(|d| d.len() == 10);
    let year = p.dob().and_then(|d| d.get(..4));
    let nationality = p.nationality();
    let keep_order = nationality == Some("MMR");
    for name in p.all_names() {
        for variant in names::strip_titles(&names::tokens(name)) {
            if variant.iter().map(String::len).sum::<usize>() < 2 {
                continue;
            }
            if let Some(dob) = full_dob {
                let mut exact = variant.clone();
                if !keep_order {
                    exact.sort();
                }
                push(KeyClass::NameDob, format!("{dob}:{}", exact.join(" ")));
            }
            for sk in profiles(name, nationality)
                .iter()
                .flat_map(|pr| skeletons(&variant, keep_order, *pr))
            {
                if sk.len() < MIN_SKELETON + 2 {
                    continue;
                }
                if let Some(dob) = full_dob {
                    push(KeyClass::FuzzyNameDob, format!("{dob}:{sk}"));
                }
                if let (Some(y), Some(n)) = (year, nationality) {
                    push(KeyClass::FuzzyNameYearNationality, format!("{y}:{n}:{sk}"));
                }
            }
        }
    }
    // Over the cap, stronger classes win; within a class, earlier names (the name before the
    // aliases) win. Stable sort keeps generation order inside a class.
    keys.sort_by_key(|k| k.class);
    keys.truncate(MAX_KEYS);
    keys.sort();
    keys
}

/// Skeletons of the name's tokens in the orders that are tried.
/// The skeleton profiles of a name: Thai for Thai and Lao nationals and for names written in
/// Thai script, general for other nationals, both when the nationality is unknown.
fn profiles(name: &str, nationality: Option<&str>) -> Vec<Profile> {
    if name.chars().any(super::thai::is_thai) || matches!(nationality, Some("THA" | "LAO")) {
        vec![Profile::Thai]
    } else if nationality.is_some() {
        vec![Profile::General]
    } else {
        vec![Profile::General, Profile::Thai]
    }
}

/// Skeletons of the name's tokens in the orders that are tried, each tagged with its
/// profile: `g:` general, `t:` Thai.
fn skeletons(tokens: &[String], keep_order: bool, profile: Profile) -> Vec<String> {
    // Initials ("Maria S. Reyes") go when at least two longer tokens remain.
    let tokens: Vec<&String> = tokens
        .iter()
        .filter(|t| !names::CONNECTORS.contains(&t.as_str()))
        .collect();
    let long: Vec<&str> = tokens
        .iter()
        .filter(|t| t.len() > 1)
        .map(|t| t.as_str())
        .collect();
    let toks: Vec<&str> = if long.len() >= 2 {
        long
    } else {
        tokens.iter().map(|t| t.as_str()).collect()
    };
    let tag = match profile {
        Profile::General => "g:",
        Profile::Thai => "t:",
    };
    let sk = |t: &[&str]| format!("{tag}{}", skeleton(t, profile));
    let mut out = vec![sk(&toks)];
    if toks.len() >= 2 && !keep_order {
        let mut rotated = toks[1..].to_vec();
        rotated.push(toks[0]);
        out.push(sk(&rotated));
        let mut sorted: Vec<(String, &str)> = toks.iter().map(|t| (sk(&[t]), *t)).collect();
        sorted.sort();
        let sorted: Vec<&str> = sorted.into_iter().map(|(_, t)| t).collect();
        out.push(sk(&sorted));
    }
    out.sort();
    out.dedup();
    out
}
