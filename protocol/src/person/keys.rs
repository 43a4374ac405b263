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
//! Names of 3+ tokens also get the skeletons of their first and last token (a dropped middle
//! name), except for nationalities whose middle tokens are not optional ([`KEEP_MIDDLE`]).
//! Per name variant and profile: at most 2 token lists × 3 orders × 4 Wade–Giles readings.
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
                let mut exact: Vec<String> = variant
                    .iter()
                    .map(|t| t.trim_end_matches(names::HYPHEN).to_owned())
                    .collect();
                if !keep_order {
                    exact.sort();
                }
                push(KeyClass::NameDob, format!("{dob}:{}", exact.join(" ")));
            }
            for sk in profiles(name, nationality)
                .iter()
                .flat_map(|pr| skeletons(&variant, keep_order, *pr, nationality))
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
fn skeletons(
    tokens: &[String],
    keep_order: bool,
    profile: Profile,
    nat: Option<&str>,
) -> Vec<String> {
    // Initials ("Maria S. Reyes") go when at least two longer tokens remain; a lone `u` is
    // not an initial but the Burmese name U (Oo).
    let tokens: Vec<&String> = tokens
        .iter()
        .filter(|t| !names::CONNECTORS.contains(&t.trim_end_matches(names::HYPHEN)))
        .collect();
    let long: Vec<&str> = tokens
        .iter()
        .filter(|t| t.trim_end_matches(names::HYPHEN).len() > 1 || t.as_str() == "u")
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
    let mut out = Vec::new();
    let mut add = |t: &[&str]| {
        for s in skeleton(t, profile, nat) {
            out.push(format!("{tag}{s}"));
        }
    };
    let mut lists = vec![toks.clone()];
    // Middle names dropped: first and last token of a name of 3+ tokens (Bhupinder Singh Dhillon
    // = Bhupinder Dhillon), only for a known nationality whose middle tokens are optional
    // names rather than part of the given name or a gender or generation marker.
    if toks.len() >= 3 && nat.is_some_and(|n| !KEEP_MIDDLE.contains(&n)) {
        lists.push(vec![toks[0], toks[toks.len() - 1]]);
    }
    for toks in lists {
        add(&toks);
        if toks.len() >= 2 && !keep_order {
            let mut rotated = toks[1..].to_vec();
            rotated.push(toks[0]);
            add(&rotated);
            let mut sorted: Vec<(String, &str)> = toks
                .iter()
                .map(|t| (skeleton(&[t], profile, nat).concat(), *t))
                .collect();
            sorted.sort();
            let sorted: Vec<&str> = sorted.into_iter().map(|(_, t)| t).collect();
            add(&sorted);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Nationalities whose middle tokens are never dropped: Vietnamese (Van, Thi mark gender),
/// Chinese, Korean (generation syllables of the given name), Burmese (no family name: every
/// syllable is the name), Thai, Lao and Khmer (split syllables of one name: Chan-o-cha),
/// Malay and Indonesian (compound given names and a patronymic: Nur Aisyah binti Ahmad),
/// Filipino (compound given names are as common as a mother's surname in the middle:
/// Maria Cristina Reyes is not Maria Cecilia Reyes).
const KEEP_MIDDLE: &[&str] = &[
    "VNM", "CHN", "TWN", "HKG", "MAC", "SGP", "KOR", "PRK", "MMR", "THA", "LAO", "KHM", "MYS",
    "IDN", "BRN", "PHL",
];
