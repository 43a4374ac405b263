//! Synthetic but realistic watch-lists for the demo and the benchmark: mobile numbers of the
//! region (Thai, Cambodian, Myanmar, Lao, Vietnamese, Philippine, Japanese, US), e-mail
//! addresses, and IBANs of mule accounts, each written the way a different agency would.
//!
//! Generation is seeded, so every run plants the same overlaps.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use cordon_protocol::ident::{self, Kind, Options};

/// Given names for synthetic e-mail addresses.
pub const FIRST_NAMES: &[&str] = &[
    "somchai",
    "niran",
    "kittipong",
    "wei",
    "li.na",
    "zhang",
    "hoang",
    "nguyen",
    "aung",
    "kyaw",
    "sokha",
    "dara",
    "maria",
    "jose",
    "kenji",
    "yuki",
    "john",
    "mike",
    "anan",
    "ploy",
];

/// Mail providers for synthetic e-mail addresses.
pub const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "proton.me",
    "163.com",
    "qq.com",
    "hotmail.com",
    "mail.ru",
    "icloud.com",
    "gmx.de",
];

/// Given names of the region, for synthetic person records.
const GIVEN_NAMES: &[&str] = &[
    "Somchai",
    "Niran",
    "Kittipong",
    "Anan",
    "Ploy",
    "Wanida",
    "Suda",
    "Prasert",
    "Chaiwat",
    "Wei",
    "Lina",
    "Jun",
    "Mei",
    "Hao",
    "Xiaoling",
    "Tuan",
    "Lan",
    "Minh",
    "Huong",
    "Thanh",
    "Sokha",
    "Dara",
    "Vanna",
    "Bopha",
    "Kyaw",
    "Thandar",
    "Zaw",
    "Nilar",
    "Maria",
    "Jose",
    "Rogelio",
    "Kenji",
    "Yuki",
    "Haruto",
    "Priya",
    "Arjun",
    "Rahul",
    "Siti",
    "Ahmad",
    "Nurul",
];

/// Family names of the region, for synthetic person records.
const FAMILY_NAMES: &[&str] = &[
    "Saetang",
    "Wongsakul",
    "Chaiyaporn",
    "Rattanakorn",
    "Boonmee",
    "Kaewkla",
    "Chen",
    "Wang",
    "Liu",
    "Huang",
    "Zhao",
    "Tran",
    "Le",
    "Pham",
    "Hoang",
    "Vo",
    "Sok",
    "Chea",
    "Keo",
    "Ly",
    "Htet",
    "Naing",
    "Oo",
    "Reyes",
    "Santos",
    "Dela Cruz",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Sharma",
    "Patel",
    "Kumar",
    "Abdullah",
    "Rahman",
    "Ismail",
    "Kim",
    "Park",
    "Singh",
    "Tan",
    "Lim",
];

/// Nationalities (ISO alpha-2) of synthetic persons.
const NATIONALITIES: &[&str] = &[
    "TH", "CN", "VN", "KH", "MM", "LA", "PH", "MY", "ID", "IN", "JP", "KR", "US",
];

/// A seeded generator of unique identifiers.
pub struct Synth {
    rng: StdRng,
    seen: HashSet<String>,
}

/// Country calling code, national mobile prefixes, digits after the prefix.
const MOBILE: &[(&str, &[&str], usize)] = &[
    (
        "66",
        &[
            "81", "82", "83", "84", "85", "86", "87", "89", "91", "92", "93", "94", "95", "96",
            "97", "98", "61", "62", "63", "64", "65",
        ],
        7,
    ),
    (
        "855",
        &["12", "15", "16", "17", "77", "78", "89", "92", "96", "97"],
        6,
    ),
    (
        "95",
        &[
            "9250", "9251", "9252", "9253", "9254", "9420", "9421", "9765", "9766", "9777",
        ],
        6,
    ),
    (
        "856",
        &["2022", "2055", "2077", "2095", "2096", "2097", "2099"],
        6,
    ),
    (
        "84",
        &["90", "91", "93", "94", "96", "97", "98", "86", "88", "89"],
        7,
    ),
    (
        "63",
        &[
            "905", "906", "915", "916", "917", "926", "927", "935", "936", "945",
        ],
        7,
    ),
    ("81", &["90", "80", "70"], 8),
    (
        "1",
        &[
            "212", "213", "310", "312", "415", "646", "702", "718", "917",
        ],
        7,
    ),
];

impl Synth {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Synth {
            rng: StdRng::seed_from_u64(seed),
            seen: HashSet::new(),
        }
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect()
    }

    /// A valid mobile number in +E.164, never returned twice.
    pub fn phone(&mut self) -> String {
        loop {
            // Weighted towards Thai numbers: the war room's own.
            let (cc, prefixes, rest) = if self.rng.gen_bool(0.5) {
                MOBILE[0]
            } else {
                MOBILE[self.rng.gen_range(0..MOBILE.len())]
            };
            let p = prefixes[self.rng.gen_range(0..prefixes.len())];
            let n = format!("+{cc}{p}{}", self.digits(rest));
            if self.seen.contains(&n) {
                continue;
            }
            if ident::canonicalize(Kind::Phone, &n, &Options::default())
                .map(|c| c.value() == n)
                .unwrap_or(false)
            {
                self.seen.insert(n.clone());
                return n;
            }
        }
    }

    /// A unique Ethereum address as block explorers print it: `0x` and 40 lower-case hex digits.
    pub fn eth_address(&mut self) -> String {
        loop {
            let a: String = (0..40)
                .map(|_| char::from(b"0123456789abcdef"[self.rng.gen_range(0..16usize)]))
                .collect();
            let a = format!("0x{a}");
            if self.seen.insert(a.clone()) {
                return a;
            }
        }
    }

    /// The same address as another agency's case file has it: with a chain prefix, in upper
    /// case (which carries no EIP-55 checksum, so it is accepted as written).
    pub fn messy_eth(&mut self, a: &str) -> String {
        let hex = a.trim_start_matches("0x").to_ascii_uppercase();
        match self.rng.gen_range(0..3) {
            0 => format!("ETH:0x{hex}"),
            1 => format!("ethereum:0x{hex}"),
            _ => format!("0x{hex}"),
        }
    }

    /// A synthetic person record (a JSON object), never the same name and date twice.
    pub fn person(&mut self) -> String {
        loop {
            let g = GIVEN_NAMES[self.rng.gen_range(0..GIVEN_NAMES.len())];
            let f = FAMILY_NAMES[self.rng.gen_range(0..FAMILY_NAMES.len())];
            let nat = NATIONALITIES[self.rng.gen_range(0..NATIONALITIES.len())];
            let dob = format!(
                "{}-{:02}-{:02}",
                self.rng.gen_range(1960..2006),
                self.rng.gen_range(1..13),
                self.rng.gen_range(1..29)
            );
            let mut o =
                serde_json::json!({"name": format!("{g} {f}"), "dob": dob, "nationality": nat});
            if self.rng.gen_bool(0.3) {
                let alpha3 = match nat {
                    "TH" => "THA",
                    "CN" => "CHN",
                    "VN" => "VNM",
                    "KH" => "KHM",
                    "MM" => "MMR",
                    "LA" => "LAO",
                    "PH" => "PHL",
                    "MY" => "MYS",
                    "ID" => "IDN",
                    "IN" => "IND",
                    "JP" => "JPN",
                    "KR" => "KOR",
                    _ => "USA",
                };
                o["passport"] = serde_json::Value::String(format!(
                    "{alpha3}:{}{}",
                    char::from(b'A' + self.rng.gen_range(0..26u8)),
                    self.digits(8)
                ));
            }
            let o = o.to_string();
            // No two persons share any match key, not even the weakest (`Hoang` and `Huang`
            // fold together): so every person hit in the demo is a planted one.
            if self.reserve_person(&o) {
                return o;
            }
        }
    }

    /// Records the match keys of `person` as taken; false if one already was (or if the
    /// record is invalid), in which case nothing is recorded.
    fn reserve_person(&mut self, person: &str) -> bool {
        match person_keys(person) {
            Some(keys) if !keys.iter().any(|k| self.seen.contains(k)) => {
                self.seen.extend(keys);
                true
            }
            _ => false,
        }
    }

    /// Records the match keys of a planted `person` as taken, so that no synthetic person
    /// shares one.
    pub fn plant_person(&mut self, person: &str) {
        self.seen.extend(person_keys(person).unwrap_or_default());
    }

    /// A unique e-mail address.
    pub fn email(&mut self) -> String {
        loop {
            let f = FIRST_NAMES[self.rng.gen_range(0..FIRST_NAMES.len())];
            let d = EMAIL_DOMAINS[self.rng.gen_range(0..EMAIL_DOMAINS.len())];
            let e = format!("{f}{}@{d}", self.rng.gen_range(10..100_000));
            if self.seen.insert(e.clone()) {
                return e;
            }
        }
    }

    /// A valid IBAN (electronic format) of a European mule account.
    pub fn iban(&mut self) -> String {
        loop {
            let (cc, bban) = match self.rng.gen_range(0..4) {
                0 => ("DE", self.digits(18)),
                1 => (
                    "NL",
                    format!(
                        "{}{}",
                        ["ABNA", "INGB", "RABO", "TRIO"][self.rng.gen_range(0..4)],
                        self.digits(10)
                    ),
                ),
                2 => (
                    "GB",
                    format!(
                        "{}{}",
                        ["NWBK", "BARC", "HBUK", "MONZ"][self.rng.gen_range(0..4)],
                        self.digits(14)
                    ),
                ),
                _ => ("FR", format!("{}{}", self.digits(20), self.digits(3))),
            };
            let iban = with_check_digits(cc, &bban);
            if self.seen.contains(&iban) {
                continue;
            }
            if ident::canonicalize(Kind::Iban, &iban, &Options::default()).is_ok() {
                self.seen.insert(iban.clone());
                return iban;
            }
        }
    }

    /// Rewrites a +E.164 number the way a person might have typed it: national format for
    /// Thai numbers (read with region TH), or the international format with spaces, dashes
    /// or the country code in parentheses.
    pub fn messy_phone(&mut self, e164: &str) -> String {
        let cc = phonenumber::parse(None, e164)
            .map(|n| n.code().value().to_string())
            .unwrap_or_default();
        let rest = e164.get(1 + cc.len()..).unwrap_or("");
        if rest.len() < 6 {
            return e164.to_string();
        }
        let (a, b) = rest.split_at(rest.len() - 4);
        match self.rng.gen_range(0..3) {
            0 if cc == "66" => format!("0{}-{}-{b}", &a[..2], &a[2..]),
            1 => format!("+{cc} {a} {b}"),
            _ => format!("(+{cc}) {a}-{b}"),
        }
    }

    /// The e-mail with its domain in another case (local parts are kept as given).
    pub fn messy_email(&mut self, e: &str) -> String {
        match e.split_once('@') {
            Some((l, d)) => format!("{l}@{}", d.to_uppercase()),
            None => e.to_string(),
        }
    }

    /// The IBAN in print format (groups of four, lower case).
    pub fn messy_iban(&mut self, iban: &str) -> String {
        iban.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn with_check_digits(cc: &str, bban: &str) -> String {
    let rearranged = format!("{bban}{cc}00");
    let mut rem: u32 = 0;
    for ch in rearranged.chars() {
        let v = ch.to_digit(36).unwrap_or(0);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    format!("{cc}{:02}{bban}", 98 - rem)
}

/// The match keys of a person record (JSON), as text; `None` if the record is invalid.
fn person_keys(person: &str) -> Option<Vec<String>> {
    let c = ident::canonicalize(Kind::Person, person, &Options::default()).ok()?;
    let keys = cordon_protocol::person::match_keys(c.value()).ok()?;
    Some(
        keys.into_iter()
            .map(|k| String::from_utf8_lossy(&k.input).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_valid_and_messy_forms_canonicalise_back() {
        let mut s = Synth::new(7);
        let th = Options::with_region("TH");
        for _ in 0..200 {
            let p = s.phone();
            let m = s.messy_phone(&p);
            assert_eq!(
                ident::canonicalize(Kind::Phone, &m, &th).unwrap().value(),
                p,
                "{m}"
            );
            let i = s.iban();
            let mi = s.messy_iban(&i);
            assert_eq!(
                ident::canonicalize(Kind::Iban, &mi, &th).unwrap().value(),
                i
            );
            let e = s.email();
            let me = s.messy_email(&e);
            assert_eq!(
                ident::canonicalize(Kind::Email, &me, &th).unwrap().value(),
                e
            );
        }
    }
}
