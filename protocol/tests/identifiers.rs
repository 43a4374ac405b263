// Identifier canonicalisation: the known-answer vectors in `spec/vectors/identifiers.json`,
// the API's promises, and properties (idempotence, equivalent spellings, no panics).

use cordon_protocol::ident::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn canon(kind: Kind, raw: &str) -> Result<String, IdentError> {
    canonicalize(kind, raw, &Options::default()).map(Canonical::into_value)
}

fn canon_in(kind: Kind, raw: &str, region: &str) -> Result<String, IdentError> {
    canonicalize(kind, raw, &Options::with_region(region)).map(Canonical::into_value)
}

// ---------------------------------------------------------------------------------------------
// Known-answer vectors
// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    kind: Kind,
    input: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    chain: Option<String>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    provider_rules: bool,
    #[serde(default)]
    canonical: Option<String>,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/vectors/identifiers.json"
    ));
    serde_json::from_str(text).expect("identifiers.json parses")
}

#[test]
fn known_answer_vectors() {
    let mut failures = Vec::new();
    let all = vectors();
    for (i, v) in all.iter().enumerate() {
        let opts = Options {
            default_region: v.region.clone(),
            chain: v.chain.clone(),
            window: v.window.clone(),
            provider_rules: v.provider_rules,
        };
        let got = canonicalize(v.kind, &v.input, &opts);
        match (&v.canonical, v.error, &got) {
            (Some(want), false, Ok(c)) => {
                if c.value() != want || c.kind() != v.kind {
                    failures.push(format!("#{i} {:?}: want {want:?}, got {:?}", v.input, c));
                    continue;
                }
                // The canonical form is a fixed point, and its OPRF input is kind ':' value.
                match canonicalize(v.kind, want, &opts) {
                    Ok(again) if again == *c => {}
                    other => {
                        failures.push(format!("#{i} {want:?} is not a fixed point: {other:?}"))
                    }
                }
                let mut oprf = v.kind.as_str().as_bytes().to_vec();
                oprf.push(b':');
                oprf.extend_from_slice(want.as_bytes());
                if c.oprf_input() != oprf {
                    failures.push(format!("#{i} oprf_input mismatch"));
                }
            }
            (None, true, Err(e)) => {
                // Every message quotes the offending value (possibly shortened): the region
                // when that is what is wrong, else the input; and it is a single line.
                let msg = e.to_string();
                let offending = match e {
                    IdentError::BadRegion { .. } => v.region.as_deref().unwrap_or_default(),
                    _ => v.input.as_str(),
                };
                let head: String = offending.chars().take(20).collect();
                let quoted = format!("{head:?}");
                if !msg.contains(quoted.trim_end_matches('"')) {
                    failures.push(format!("#{i} message does not quote the input: {msg}"));
                }
                if msg.contains('\n') {
                    failures.push(format!("#{i} message spans lines: {msg}"));
                }
            }
            (Some(_), false, Err(e)) => {
                failures.push(format!("#{i} {:?}: want Ok, got error: {e}", v.input))
            }
            (None, true, Ok(c)) => {
                failures.push(format!("#{i} {:?}: want an error, got {:?}", v.input, c))
            }
            _ => failures.push(format!(
                "#{i}: a vector has exactly one of canonical and error: true"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn vectors_cover_every_kind() {
    let all = vectors();
    assert!(all.len() >= 60, "only {} vectors", all.len());
    // Persons have their own vectors (`spec/vectors/persons.json`, checked in `person.rs`).
    for kind in Kind::ALL.iter().filter(|k| **k != Kind::Person) {
        let ok = all.iter().filter(|v| v.kind == *kind && !v.error).count();
        let bad = all.iter().filter(|v| v.kind == *kind && v.error).count();
        assert!(
            ok >= 5 && bad >= 3,
            "{kind}: {ok} valid and {bad} invalid vectors"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

#[test]
fn kind_names_round_trip() {
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>().unwrap(), *kind);
        assert_eq!(kind.to_string(), kind.as_str());
        let json = serde_json::to_string(kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), *kind);
    }
    assert_eq!(" Phone ".parse::<Kind>().unwrap(), Kind::Phone);
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "phone",
            "email",
            "iban",
            "ip",
            "passport",
            "national-id",
            "bank-account",
            "ewallet",
            "crypto",
            "domain",
            "url",
            "imei",
            "person",
            "text"
        ]
    );
}

#[test]
fn unknown_kind_lists_valid_ones() {
    let err = "telephone".parse::<Kind>().unwrap_err();
    assert!(matches!(err, IdentError::UnknownKind { .. }));
    assert_eq!(
        err.to_string(),
        "\"telephone\" is not an identifier kind; use one of: phone, email, iban, ip, passport, \
         national-id, bank-account, ewallet, crypto, domain, url, imei, person, text"
    );
}

#[test]
fn oprf_input_is_kind_colon_value() {
    let c = canon_in(Kind::Phone, "081 234 5678", "TH").unwrap();
    assert_eq!(c, "+66812345678");
    let c = canonicalize(Kind::Phone, "081 234 5678", &Options::with_region("TH")).unwrap();
    assert_eq!(c.oprf_input(), b"phone:+66812345678".to_vec());
    let t = canonicalize(Kind::Text, "Nguyễn", &Options::default()).unwrap();
    let mut want = b"text:".to_vec();
    want.extend_from_slice("nguyễn".as_bytes());
    assert_eq!(t.oprf_input(), want);
    // Same value, different kinds: different OPRF inputs.
    let ip = canonicalize(Kind::Ip, "1.2.3.4", &Options::default()).unwrap();
    let text = canonicalize(Kind::Text, "1.2.3.4", &Options::default()).unwrap();
    assert_eq!(ip.value(), text.value());
    assert_ne!(ip.oprf_input(), text.oprf_input());
}

#[test]
fn national_number_without_region_says_what_to_do() {
    let err = canon(Kind::Phone, "081 234 5678").unwrap_err();
    assert!(matches!(err, IdentError::NeedRegion { .. }));
    assert_eq!(
        err.to_string(),
        "\"081 234 5678\" is a national-format phone number but no region was given; pass \
         --region TH (or the number's country) or write it in +E.164 form"
    );
}

#[test]
fn bad_region_is_reported_as_such() {
    for region in ["XX", "THA", "", "T1", "ไทย"] {
        let err = canon_in(Kind::Phone, "+66 81 234 5678", region).unwrap_err();
        assert!(
            matches!(err, IdentError::BadRegion { .. }),
            "{region:?}: {err}"
        );
        assert!(err.to_string().contains("--region"), "{err}");
    }
}

/// Found by `digit_strings_never_panic_as_phones`: the phone crate, given a region, applies
/// that region's rules to a +CC number of another country, so "+78600000000" was valid with
/// region OM and invalid without. A + number must not depend on the region.
#[test]
fn plus_numbers_do_not_depend_on_the_region() {
    for raw in [
        "+78600000000",
        "+66812345678",
        "+66 0812345678",
        "+8613123456789",
    ] {
        let bare = canon(Kind::Phone, raw);
        for meta in phonenumber::metadata::DATABASE.iter() {
            if meta.id().len() == 2 {
                assert_eq!(
                    canon_in(Kind::Phone, raw, meta.id()),
                    bare,
                    "{raw} in {}",
                    meta.id()
                );
            }
        }
    }
}

#[test]
fn phone_errors_say_why() {
    let short = canon_in(Kind::Phone, "081 234 567", "TH").unwrap_err();
    assert!(short.to_string().contains("numbering plan"), "{short}");
    let cc = canon(Kind::Phone, "+999 123 4567").unwrap_err();
    assert!(cc.to_string().contains("country calling code"), "{cc}");
    let letters = canon_in(Kind::Phone, "081-CALL-NOW", "TH").unwrap_err();
    assert!(letters.to_string().contains("letter 'C'"), "{letters}");
}

#[test]
fn iban_errors_say_why() {
    let sum = canon(Kind::Iban, "DE88 3704 0044 0532 0130 00").unwrap_err();
    assert!(sum.to_string().contains("check digits"), "{sum}");
    let th = canon(Kind::Iban, "TH23 1234 5678 90").unwrap_err();
    assert!(th.to_string().contains("TH is not a country"), "{th}");
    // The SWIFT layout check, not only mod 97: a DE IBAN with a valid checksum but 21 digits.
    let de = with_check_digits("DE", "370400440532013000123");
    assert!(canon(Kind::Iban, &de)
        .unwrap_err()
        .to_string()
        .contains("length or layout"));
}

#[test]
fn ip_errors_say_why() {
    let octal = canon(Kind::Ip, "010.1.1.1").unwrap_err();
    assert!(octal.to_string().contains("leading zero"), "{octal}");
    let mapped = canon(Kind::Ip, "::ffff:010.0.0.1").unwrap_err();
    assert!(mapped.to_string().contains("leading zero"), "{mapped}");
    let port = canon(Kind::Ip, "192.0.2.1:8080").unwrap_err();
    assert!(port.to_string().contains(":port"), "{port}");
    let cidr = canon(Kind::Ip, "192.0.2.0/24").unwrap_err();
    assert!(cidr.to_string().contains("CIDR"), "{cidr}");
}

#[test]
fn mrz_check_digit_is_enforced() {
    let good = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                L898902C36UTO7408122F1204159ZE184226B<<<<<10";
    assert_eq!(canon(Kind::Passport, good).unwrap(), "UTO:L898902C3");
    // Each single-character misreading of the number field is caught by the check digit.
    let (line1, line2) = good.split_once('\n').unwrap();
    for pos in 0..9 {
        for c in ('0'..='9').chain('A'..='Z') {
            let mut l2: Vec<char> = line2.chars().collect();
            if l2[pos] == c {
                continue;
            }
            let before = l2[pos];
            l2[pos] = c;
            let bad: String = l2.into_iter().collect();
            // 7-3-1 weights miss some swaps of values that differ by a multiple of 10
            // (e.g. 'A' = 10 for '0'); only those may pass, and then with the other number.
            let differ_by_ten = (mrz_value(c) as i32 - mrz_value(before) as i32) % 10 == 0;
            match canon(Kind::Passport, &format!("{line1}\n{bad}")) {
                Err(e) => assert!(e.to_string().contains("check digit"), "{e}"),
                Ok(v) => assert!(differ_by_ten, "{bad} accepted as {v}"),
            }
        }
    }
    // A wrong-length line and a non-passport document are refused.
    assert!(canon(Kind::Passport, &format!("{line1}\n{}", &line2[..43])).is_err());
    assert!(canon(Kind::Passport, &format!("I{}\n{line2}", &line1[1..])).is_err());
}

#[test]
fn too_long_input_is_refused_before_work() {
    for kind in Kind::ALL {
        let big = "1".repeat(MAX_INPUT_BYTES + 1);
        let err = canon(*kind, &big).unwrap_err();
        assert!(matches!(err, IdentError::TooLong { len, .. } if len == MAX_INPUT_BYTES + 1));
        // The message quotes a short excerpt, not the whole input.
        assert!(err.to_string().len() < 300, "{err}");
        assert_eq!(err.kind(), Some(*kind));
    }
    // Exactly at the cap is read normally (text accepts it).
    let at_cap = "a".repeat(MAX_INPUT_BYTES);
    assert_eq!(canon(Kind::Text, &at_cap).unwrap(), at_cap);
}

#[test]
fn empty_input_is_refused_for_every_kind() {
    for kind in Kind::ALL {
        for raw in ["", "  ", "\t\n", "\u{3000}"] {
            let err = canon(*kind, raw).unwrap_err();
            assert!(
                matches!(err, IdentError::Empty { .. }),
                "{kind} {raw:?}: {err}"
            );
        }
    }
}

#[test]
fn every_region_example_number_reads_in_international_form() {
    let mut checked = 0;
    for meta in phonenumber::metadata::DATABASE.iter() {
        let descriptors = meta.descriptors();
        for d in [descriptors.mobile(), descriptors.fixed_line()]
            .into_iter()
            .flatten()
        {
            let Some(example) = d.example() else { continue };
            let want = format!("+{}{}", meta.country_code(), example);
            let spaced = format!("+{} {}", meta.country_code(), example);
            assert_eq!(canon(Kind::Phone, &spaced).unwrap(), want, "{}", meta.id());
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} examples");
}

#[test]
fn text_is_idempotent_on_every_code_point() {
    // Single characters, and each BMP character followed by the marks that interact with
    // normalisation or folding (acute, diaeresis, Greek ypogegrammeni, caron, Thai nikhahit).
    let marks = ['\u{301}', '\u{308}', '\u{345}', '\u{30C}', '\u{E4D}'];
    let mut checked = 0u32;
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let mut inputs = vec![c.to_string()];
        if u32::from(c) <= 0xFFFF {
            inputs.extend(marks.iter().map(|m| format!("{c}{m}")));
        }
        for s in inputs {
            if let Ok(once) = canon(Kind::Text, &s) {
                let twice = canon(Kind::Text, &once).unwrap();
                assert_eq!(once, twice, "not idempotent on {s:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000_000);
}

// ---------------------------------------------------------------------------------------------
// Helpers for generated inputs
// ---------------------------------------------------------------------------------------------

/// ISO 7064 MOD 97-10 check digits for `country` + `bban`, as an electronic-format IBAN.
fn with_check_digits(country: &str, bban: &str) -> String {
    let rearranged = format!("{bban}{country}00");
    let rem = rearranged.chars().fold(0u32, |acc, c| {
        let v = c.to_digit(36).unwrap();
        if v < 10 {
            (acc * 10 + v) % 97
        } else {
            (acc * 100 + v) % 97
        }
    });
    format!("{country}{:02}{bban}", 98 - rem)
}

/// ICAO 9303 character value.
fn mrz_value(c: char) -> u32 {
    match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        _ => 0,
    }
}

/// ICAO 9303 check digit, written independently of the crate's.
fn mrz_check(field: &str) -> char {
    let w = [7, 3, 1];
    let s: u32 = field
        .chars()
        .enumerate()
        .map(|(i, c)| mrz_value(c) * w[i % 3])
        .sum();
    char::from_digit(s % 10, 10).unwrap()
}

/// Joins `digits` with separators chosen by `seps` (cycled), so "0812345678" can become
/// "08-1234 5678" and so on.
fn spell(digits: &str, cuts: &[bool], seps: &[&str]) -> String {
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && cuts.get(i).copied().unwrap_or(false) {
            out.push_str(seps[i % seps.len()]);
        }
        out.push(d);
    }
    out
}

const SEPARATORS: &[&str] = &[" ", "-", ".", "  ", " - ", "/", "\u{a0}", "\u{2013}"];

/// Regions of the war room and a few others, with national prefix "0" (or "1" for NANP).
const PHONE_REGIONS: &[&str] = &[
    "TH", "JP", "US", "VN", "KH", "PH", "MM", "LA", "CN", "IN", "GB", "MY", "ID", "SG", "AU",
];

fn region_example() -> impl Strategy<Value = (String, u16, String, String)> {
    let mut cases = Vec::new();
    for r in PHONE_REGIONS {
        let meta = phonenumber::metadata::DATABASE.by_id(*r).unwrap();
        let d = meta.descriptors();
        for desc in [d.mobile(), d.fixed_line()].into_iter().flatten() {
            if let Some(ex) = desc.example() {
                let np = meta.national_prefix().unwrap_or("").to_owned();
                cases.push((r.to_string(), meta.country_code(), np, ex.to_owned()));
            }
        }
    }
    proptest::sample::select(cases)
}

fn any_kind() -> impl Strategy<Value = Kind> {
    proptest::sample::select(Kind::ALL.to_vec())
}

/// Characters that parsers of these kinds treat specially, plus some Unicode troublemakers.
fn noisy_string() -> impl Strategy<Value = String> {
    let pool: Vec<char> = "0123456789+-.()/:@[]%<\n\r\t xXaAzZ\u{a0}\u{3000}\u{200b}\u{301}\u{345}\
                           ǰßΣς\u{e33}\u{e4d}ไทย日本ｶﾞ０１＋－：＠\u{0}\u{feff}\u{10ffff}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(pool), 0..60)
        .prop_map(|v| v.into_iter().collect())
}

fn every_phone_region() -> impl Strategy<Value = String> {
    let ids: Vec<String> = phonenumber::metadata::DATABASE
        .iter()
        .map(|m| m.id().to_owned())
        .filter(|id| id.len() == 2)
        .collect();
    proptest::sample::select(ids)
}

fn any_region() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        proptest::sample::select(vec!["TH", "th", "JP", "US", "XX", "", "THA", "001", "ZZ"])
            .prop_map(str::to_owned),
        ".{0,4}",
    ])
}

/// 512 cases per property, unless PROPTEST_CASES asks for more (or fewer) for a longer run.
/// Failures are not persisted to a file beside this one: a case found is added to the
/// vectors or to a test above instead, where it documents something.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config.failure_persistence = None;
    config
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_input_never_panics(kind in any_kind(), raw in any::<String>(), region in any_region()) {
        let opts = Options { default_region: region, ..Options::default() };
        if let Ok(c) = canonicalize(kind, &raw, &opts) {
            prop_assert_eq!(canonicalize(kind, c.value(), &opts), Ok(c));
        }
    }

    #[test]
    fn noisy_input_never_panics(kind in any_kind(), raw in noisy_string(), region in any_region()) {
        let opts = Options { default_region: region, ..Options::default() };
        if let Ok(c) = canonicalize(kind, &raw, &opts) {
            prop_assert_eq!(canonicalize(kind, c.value(), &opts), Ok(c));
        }
    }

    /// The phone parser has unwraps inside; digit strings in every region it knows must not
    /// reach them.
    #[test]
    fn digit_strings_never_panic_as_phones(
        plus in any::<bool>(),
        digits in "[0-9]{0,22}",
        region in proptest::option::of(every_phone_region()),
    ) {
        let raw = if plus { format!("+{digits}") } else { digits };
        let opts = Options { default_region: region, ..Options::default() };
        if let Ok(c) = canonicalize(Kind::Phone, &raw, &opts) {
            prop_assert!(c.value().starts_with('+'));
            prop_assert_eq!(canonicalize(Kind::Phone, c.value(), &Options::default()), Ok(c));
        }
    }

    /// Equivalent spellings of one number give the same bytes: separators, parentheses,
    /// +CC versus national format with a region, and randomised trailing digits (the
    /// property then is "all agree", whether valid or not).
    #[test]
    fn phone_spellings_agree(
        (region, cc, np, example) in region_example(),
        tail in "[0-9]{3}",
        keep_example in any::<bool>(),
        cuts in proptest::collection::vec(any::<bool>(), 20),
        seps in proptest::collection::vec(proptest::sample::select(SEPARATORS.to_vec()), 1..4),
        paren in any::<bool>(),
    ) {
        let nsn = if keep_example || example.len() < 6 {
            example.clone()
        } else {
            format!("{}{tail}", &example[..example.len() - 3])
        };
        let cc = cc.to_string();
        let mut spellings = vec![
            (format!("+{cc}{nsn}"), None),
            (format!("+{cc} {}", spell(&nsn, &cuts, &seps)), None),
            (format!("+{cc}-{}", spell(&nsn, &cuts, &seps)), Some(region.clone())),
            (format!("{np}{}", spell(&nsn, &cuts, &seps)), Some(region.clone())),
            (format!("{np}{}", spell(&nsn, &cuts, &seps)), Some(region.to_lowercase())),
        ];
        if paren {
            spellings.push((format!("(+{cc}) {}", spell(&nsn, &cuts, &seps)), None));
        }
        let results: Vec<_> = spellings
            .iter()
            .map(|(raw, region)| {
                let opts = Options { default_region: region.clone(), ..Options::default() };
                canonicalize(Kind::Phone, raw, &opts).map(Canonical::into_value)
            })
            .collect();
        let want = format!("+{cc}{nsn}");
        if keep_example {
            // Metadata examples are valid numbers: every spelling must give exactly E.164.
            for (r, (raw, _)) in results.iter().zip(&spellings) {
                prop_assert_eq!(r.as_ref().ok(), Some(&want), "{:?}", raw);
            }
        } else {
            for (r, (raw, _)) in results.iter().zip(&spellings) {
                match r {
                    Ok(v) => prop_assert_eq!(v, &want, "{:?}", raw),
                    Err(_) => prop_assert!(results.iter().all(|x| x.is_err()), "{:?} {:?}", raw, results),
                }
            }
        }
        if let Ok(v) = &results[0] {
            prop_assert_eq!(canon(Kind::Phone, v), Ok(v.clone()));
        }
    }

    #[test]
    fn email_is_idempotent_and_domain_case_insensitive(
        local in "[A-Za-z0-9][A-Za-z0-9._%+-]{0,29}",
        labels in proptest::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9]{1,6}(-[a-zA-Z0-9]{1,6})?",
                proptest::sample::select(vec!["bücher", "ไทย", "例え", "việtnam", "данные", "ΕΛΛΑΣ"])
                    .prop_map(str::to_owned),
            ],
            1..4,
        ),
        tld in "[a-zA-Z]{2,6}",
    ) {
        let domain = format!("{}.{tld}", labels.join("."));
        let raw = format!("{local}@{domain}");
        let c = canon(Kind::Email, &raw).unwrap();
        prop_assert_eq!(canon(Kind::Email, &c), Ok(c.clone()));
        // The local part is kept byte for byte; the domain is lower-case ASCII.
        let (l, d) = c.split_once('@').unwrap();
        prop_assert_eq!(l, local.as_str());
        prop_assert!(d.is_ascii() && !d.bytes().any(|b| b.is_ascii_uppercase()));
        let upper = format!("{local}@{}", domain.to_uppercase());
        prop_assert_eq!(canon(Kind::Email, &upper), Ok(c.clone()));
        let padded = format!("  {raw}\t");
        prop_assert_eq!(canon(Kind::Email, &padded), Ok(c));
    }

    #[test]
    fn iban_spellings_agree_and_typos_are_caught(
        (country, bban) in prop_oneof![
            "[0-9]{18}".prop_map(|b| ("DE", b)),
            "[A-Z]{4}[0-9]{14}".prop_map(|b| ("GB", b)),
            "[A-Z]{4}[0-9]{10}".prop_map(|b| ("NL", b)),
            "[0-9]{10}[A-Z0-9]{11}[0-9]{2}".prop_map(|b| ("FR", b)),
            "[0-9]{2}[A-Z0-9]{18}".prop_map(|b| ("SA", b)),
        ],
        pos in 4usize..18,
        digit in 0u32..10,
    ) {
        let iban = with_check_digits(country, &bban);
        prop_assert_eq!(canon(Kind::Iban, &iban), Ok(iban.clone()));
        let groups: Vec<String> = iban.as_bytes().chunks(4)
            .map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        for spelled in [groups.join(" "), groups.join("-"), iban.to_lowercase(), format!("IBAN {}", groups.join(" "))] {
            prop_assert_eq!(canon(Kind::Iban, &spelled), Ok(iban.clone()), "{}", spelled);
        }
        // MOD 97-10 catches every single substitution.
        let mut chars: Vec<char> = iban.chars().collect();
        let new = char::from_digit(digit, 10).unwrap();
        if chars[pos] != new && chars[pos].is_ascii_digit() {
            chars[pos] = new;
            let typo: String = chars.into_iter().collect();
            prop_assert!(canon(Kind::Iban, &typo).is_err(), "{} accepted", typo);
        }
    }

    #[test]
    fn ipv4_round_trips(a in any::<Ipv4Addr>()) {
        let s = a.to_string();
        prop_assert_eq!(canon(Kind::Ip, &s), Ok(s.clone()));
        let mapped = format!("::ffff:{a}");
        prop_assert_eq!(canon(Kind::Ip, &mapped), Ok(s.clone()));
        let o = a.octets();
        let mapped_hex = format!("0:0:0:0:0:FFFF:{:X}:{:X}", u16::from_be_bytes([o[0], o[1]]), u16::from_be_bytes([o[2], o[3]]));
        prop_assert_eq!(canon(Kind::Ip, &mapped_hex), Ok(s.clone()));
    }

    #[test]
    fn ipv6_spellings_agree(a in any::<Ipv6Addr>()) {
        let want = match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        };
        let full: Vec<String> = a.segments().iter().map(|s| format!("{s:04X}")).collect();
        for spelled in [a.to_string(), full.join(":"), format!("[{a}]"), format!(" {} ", full.join(":").to_lowercase())] {
            prop_assert_eq!(canon(Kind::Ip, &spelled), Ok(want.clone()), "{}", spelled);
        }
        prop_assert_eq!(canon(Kind::Ip, &want), Ok(want.clone()));
    }

    #[test]
    fn passport_spellings_agree(
        state in "[A-Z]{3}",
        number in "[A-Z0-9]{1,20}",
        cuts in proptest::collection::vec(any::<bool>(), 20),
        seps in proptest::collection::vec(proptest::sample::select(vec![" ", "-"]), 1..3),
        lower in any::<bool>(),
    ) {
        let want = format!("{state}:{number}");
        let spelled = spell(&number, &cuts, &seps);
        let forms = [
            want.clone(),
            format!("{state} {spelled}"),
            format!("{state}/{spelled}"),
            format!("{state}: {spelled}"),
        ];
        for f in forms {
            let f = if lower { f.to_lowercase() } else { f };
            prop_assert_eq!(canon(Kind::Passport, &f), Ok(want.clone()), "{}", f);
        }
    }

    #[test]
    fn passport_mrz_reads_like_the_short_form(
        state in "[A-Z]{3}",
        number in "[A-Z0-9]{1,9}",
        names in "[A-Z]{1,10}<<[A-Z]{1,10}",
        dob in "[0-9]{6}",
    ) {
        let line1 = format!("{:<<44}", format!("P<{state}{names}"));
        let field = format!("{number:<<9}");
        let body = format!("{field}{}{state}{dob}{}M300101{}{}", mrz_check(&field), mrz_check(&dob), mrz_check("300101"), "<".repeat(14));
        let line2 = format!("{body}{}{}", mrz_check(&"<".repeat(14)), 0);
        prop_assert_eq!(line2.len(), 44);
        let mrz = format!("{line1}\n{line2}");
        prop_assert_eq!(canon(Kind::Passport, &mrz), Ok(format!("{state}:{number}")));
    }

    #[test]
    fn text_is_idempotent(raw in any::<String>()) {
        if let Ok(once) = canon(Kind::Text, &raw) {
            prop_assert_eq!(canon(Kind::Text, &once), Ok(once.clone()));
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }
    }

    #[test]
    fn text_is_idempotent_on_tricky_mixes(raw in noisy_string()) {
        if let Ok(once) = canon(Kind::Text, &raw) {
            prop_assert_eq!(canon(Kind::Text, &once), Ok(once.clone()));
        }
    }

    /// Case and width do not matter for text in the scripts the war room meets.
    #[test]
    fn text_ignores_case(words in proptest::collection::vec(
        "[a-zàáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹßαβγδεζηθικλμνξοπρσςτυφχψωабвгдежзийклмнопрстуфхцчшщъыьэюя]{1,8}",
        1..4,
    )) {
        let s = words.join(" ");
        let lower = canon(Kind::Text, &s).unwrap();
        prop_assert_eq!(canon(Kind::Text, &s.to_uppercase()), Ok(lower.clone()));
        let spaced = format!("\u{3000}{}\t", words.join(" \u{a0}\n "));
        prop_assert_eq!(canon(Kind::Text, &spaced), Ok(lower.clone()));
    }
}
