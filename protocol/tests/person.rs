// Person records: canonical JSON round trip and fixed point, refusals, match keys (bounds,
// equivalent spellings, class separation), the known answers in `spec/vectors/persons.json`,
// and no panics on arbitrary input.

use cordon_protocol::ident::{canonicalize, IdentError, Kind, Options};
use cordon_protocol::person::{match_keys, KeyClass, MatchKey, Person, MAX_KEYS};
use proptest::prelude::*;

fn canon(raw: &str) -> Result<String, IdentError> {
    canonicalize(Kind::Person, raw, &Options::default()).map(|c| c.into_value())
}

fn keys(raw: &str) -> Vec<MatchKey> {
    match_keys(&canon(raw).unwrap()).unwrap()
}

fn inputs(raw: &str) -> Vec<String> {
    keys(raw)
        .into_iter()
        .map(|k| String::from_utf8(k.input).unwrap())
        .collect()
}

fn shares(a: &str, b: &str, class: KeyClass) -> bool {
    let ka = keys(a);
    keys(b).iter().any(|k| k.class == class && ka.contains(k))
}

#[test]
fn canonical_form_and_fixed_point() {
    let raw = r#"{ "reference": "case 12/2025", "passport": ["tha/aa 123 4567", "THA:AA1234567"],
        "sex": "female", "nationality": "th", "dob": "1985-02-17",
        "aliases": "Noi; Malee  Suksai ;", "name": "  Malee   Suksai " }"#;
    let c = canon(raw).unwrap();
    assert_eq!(
        c,
        r#"{"name":"Malee Suksai","aliases":["Noi"],"dob":"1985-02-17","sex":"F","nationality":"THA","passport":["THA:AA1234567"],"reference":"case 12/2025"}"#
    );
    assert_eq!(canon(&c).unwrap(), c);
    let p = Person::parse(&c, &Options::default()).unwrap();
    assert_eq!(p.name(), Some("Malee Suksai"));
    assert_eq!(p.aliases(), ["Noi".to_owned()]);
    assert_eq!(p.dob(), Some("1985-02-17"));
    assert_eq!(p.sex(), Some("F"));
    assert_eq!(p.nationality(), Some("THA"));
    assert_eq!(p.passports(), ["THA:AA1234567".to_owned()]);
    assert_eq!(p.reference(), Some("case 12/2025"));
    assert_eq!(p.canonical_json(), c);
}

#[test]
fn documents_only_and_national_id() {
    let c = canon(r#"{"national_id": "THA:1101700230708", "passport": "KHM N0123456"}"#).unwrap();
    assert_eq!(
        c,
        r#"{"passport":["KHM:N0123456"],"national_id":["THA:1101700230708"]}"#
    );
    assert_eq!(
        inputs(&c),
        [
            "person:document:national-id:THA:1101700230708",
            "person:document:passport:KHM:N0123456"
        ]
    );
}

#[test]
fn refusals_say_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("[1,2]", "not a JSON object"),
        ("not json", "not a JSON object"),
        (r#"{"name":"A B","name":"C D"}"#, "appears twice"),
        (
            r#"{"name":"A B","age":"40"}"#,
            "\"age\" is not a person field; the fields are name",
        ),
        (r#"{"name":"Somchai","dob":"03/04/1990"}"#, "ISO 8601"),
        (r#"{"name":"Somchai","dob":"1990-02-30"}"#, "does not exist"),
        (r#"{"name":"Somchai","dob":"1990-13"}"#, "month 13"),
        (r#"{"name":"Somchai","dob":"1850"}"#, "outside 1900-2100"),
        (
            r#"{"name":"Somchai","dob":"2250-01-01"}"#,
            "outside 1900-2100",
        ),
        (r#"{"name":"Somchai","sex":"unknown"}"#, "not M, F or X"),
        (
            r#"{"name":"Somchai","nationality":"Thai"}"#,
            "not an ISO 3166",
        ),
        (
            r#"{"name":"Somchai","passport":"AA1234567"}"#,
            "\"passport\" entry is refused",
        ),
        (r#"{"name":"Somchai","dob":19900101}"#, "not a string"),
        (
            r#"{"sex":"M","dob":"1990"}"#,
            "neither a name nor a document",
        ),
        (r#"{"name":"123 ???"}"#, "no letters"),
        (r#"{"name":"A\u0000B"}"#, "control character"),
    ];
    for (raw, want) in cases {
        let e = canon(raw).expect_err(raw).to_string();
        assert!(e.contains(want), "{raw}: {e}");
        assert!(e.contains("person record"), "{raw}: {e}");
    }
    let many: Vec<String> = (0..9).map(|i| format!("THA:A{i}")).collect();
    let raw = serde_json::json!({"name": "X Y", "passport": many}).to_string();
    assert!(canon(&raw).unwrap_err().to_string().contains("more than 8"));
}

#[test]
fn key_classes_and_bytes() {
    let k = keys(r#"{"name":"Nguyễn Văn An","dob":"1990-05-12","nationality":"VN"}"#);
    for key in &k {
        let s = String::from_utf8(key.input.clone()).unwrap();
        assert!(
            s.starts_with(&format!("person:{}:", key.class.as_str())),
            "{s}"
        );
        assert!(s.is_ascii());
    }
    assert!(k
        .iter()
        .any(|x| x.input == b"person:name+dob:1990-05-12:an nguyen van"));
    // Sorted, deduplicated.
    let mut sorted = k.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, k);
    // No DOB: documents only.
    assert!(keys(r#"{"name":"Nguyễn Văn An","nationality":"VN"}"#).is_empty());
    // Year only: the weakest class only, and only with a nationality.
    let y = keys(r#"{"name":"Nguyễn Văn An","dob":"1990","nationality":"VN"}"#);
    assert!(
        !y.is_empty()
            && y.iter()
                .all(|x| x.class == KeyClass::FuzzyNameYearNationality)
    );
    assert!(keys(r#"{"name":"Nguyễn Văn An","dob":"1990-05"}"#).is_empty());
}

#[test]
fn equivalent_spellings_share_keys() {
    let d = r#""dob":"1984-06-12","nationality":"TH""#;
    let p = |n: &str| format!(r#"{{"name":"{n}",{d}}}"#);
    let same = [
        ("Thatchai Phitanilabut", "Tatchai Pitaneelaboot"),
        ("Thatchai Phitanilabut", "Phi Tani Labut Thatchai"),
        ("Somchai Jaidee", "สมชาย ใจดี"),
        ("Somchai Jaidee", "นายสมชาย ใจดี"),
        ("Mr Somchai Jaidee", "JAIDEE, Somchai"),
    ];
    for (a, b) in same {
        assert!(shares(&p(a), &p(b), KeyClass::FuzzyNameDob), "{a} / {b}");
    }
    let v = |n: &str| format!(r#"{{"name":"{n}","dob":"1990-05-12","nationality":"VN"}}"#);
    assert!(shares(
        &v("Nguyễn Văn An"),
        &v("Nguyen Van An"),
        KeyClass::NameDob
    ));
    assert!(shares(
        &v("Nguyễn Văn An"),
        &v("Van An Nguyen"),
        KeyClass::NameDob
    ));
    assert!(!shares(
        &v("Nguyen Van An"),
        &v("Nguyen Van Anh"),
        KeyClass::FuzzyNameDob
    ));
    let c = |n: &str| format!(r#"{{"name":"{n}","dob":"1985-04-12","nationality":"CN"}}"#);
    assert!(shares(
        &c("Zhang Wei"),
        &c("Chang Wei"),
        KeyClass::FuzzyNameDob
    ));
    assert!(shares(&c("张伟"), &c("Wei Zhang"), KeyClass::NameDob));
    assert!(shares(
        &c("Wong Ka Wai"),
        &c("Wang Ka Wai"),
        KeyClass::FuzzyNameDob
    ));
    assert!(!shares(
        &c("Wang Fang"),
        &c("Wang Feng"),
        KeyClass::FuzzyNameDob
    ));
    let m = |n: &str| format!(r#"{{"name":"{n}","dob":"1976-03-15","nationality":"MM"}}"#);
    assert!(shares(
        &m("U Aung Kyaw Moe"),
        &m("Aung Kyau Moe"),
        KeyClass::FuzzyNameDob
    ));
    assert!(!shares(
        &m("Aung Kyaw"),
        &m("Kyaw Aung"),
        KeyClass::FuzzyNameDob
    ));
    // Different DOB: nothing but the year class.
    assert!(!shares(
        &v("Nguyen Van An"),
        &v("Nguyen Van An").replace("05-12", "05-13"),
        KeyClass::FuzzyNameDob
    ));
}

#[test]
fn demo_expectations() {
    let p =
        |n: &str, d: &str, c: &str| format!(r#"{{"name":"{n}","dob":"{d}","nationality":"{c}"}}"#);
    let any = |a: &str, b: &str| {
        let ka = keys(a);
        keys(b).iter().any(|k| ka.contains(k))
    };
    let strongest = |a: &str, b: &str| {
        let ka = keys(a);
        keys(b)
            .into_iter()
            .filter(|k| ka.contains(k))
            .map(|k| k.class)
            .min()
    };
    assert!(!any(
        &p("Nguyen Van An", "1992-01-01", "VN"),
        &p("Nguyen Van Anh", "1992-01-01", "VN")
    ));
    assert!(!any(
        &p("Wang Wei", "1986-06-06", "CN"),
        &p("Wang Lei", "1986-06-06", "CN")
    ));
    assert_eq!(
        strongest(
            &p("Thatchai Phitanilabut", "1988-11-20", "TH"),
            &p("Tatchai Pitaneelaboot", "1988-11-20", "TH")
        ),
        Some(KeyClass::FuzzyNameDob)
    );
    assert!(strongest(
        &p("Zhang Xiaoming", "1979-02-11", "CN"),
        &p("Chang Hsiao-ming", "1979-02-11", "CN")
    )
    .is_some());
    assert_eq!(
        strongest(
            &p("Aung Kyaw Htun", "1982", "MM"),
            &p("U Aung Kyaw Tun", "1982-05-01", "MMR")
        ),
        Some(KeyClass::FuzzyNameYearNationality)
    );
    assert_eq!(
        strongest(
            &p("Nguyễn Văn Hùng", "1990-07-15", "VN"),
            &p("NGUYEN VAN HUNG", "1990-07-15", "VNM")
        ),
        Some(KeyClass::NameDob)
    );
}

#[test]
fn folding_rules() {
    let p =
        |n: &str, c: &str| format!(r#"{{"name":"{n}","dob":"1980-01-01","nationality":"{c}"}}"#);
    let same = [
        ("Li Qiang", "Li Ch'iang", "CN"),
        ("Li Jiang", "Li Chiang", "CN"),
        ("Wang Jianguo", "Wang Chien-kuo", "CN"),
        ("王建国", "Wang Jianguo", "CN"),
        ("Anan Saelim", "Anan Sae-lim", "TH"),
        ("Nattapong Srisuk", "Nuttapong Srisuk", "TH"),
        ("Phairoj Meesuk", "Pairot Misuk", "TH"),
        ("Soeharto", "Suharto", "ID"),
        ("Nur Aisyah binti Ahmad", "Nur Aishah binti Ahmad", "MY"),
        ("Jeong Seong-ho", "Jung Sung-ho", "KR"),
        ("김민준", "Gim Minjun", "KR"),
        ("Tuchiya Jun", "Tsuchiya Jun", "JP"),
        ("Souksavanh Phommachanh", "Souksavan Phommachan", "LA"),
        ("Somsanith Sengdara", "Somsanit Sengdala", "LA"),
        ("Than Htike Oo", "Than Htaik Oo", "MM"),
        ("Zaw Zaw Oo", "Zaw Zaw U", "MM"),
        ("Bhupinder Singh Dhillon", "Bhupinder Dhillon", "IN"),
        ("Sourav Ganguly", "Saurav Ganguly", "IN"),
        ("Nguyen Tan Dung", "Nguyen Tan Zung", "VN"),
        ("ยิ่งลักษณ์ ชินวัตร", "Yingluck Chinnawat", "TH"),
    ];
    for (a, b, c) in same {
        assert!(
            shares(&p(a, c), &p(b, c), KeyClass::FuzzyNameDob),
            "{a} / {b}"
        );
    }
    let different = [
        ("Li Qiang", "Li Jiang", "CN"),
        ("Xu Jing", "Xu Qing", "CN"),
        ("Anan Saelim", "Anon Saelim", "TH"),
        ("Ma Ma Win", "Ma Win", "MM"),
        ("Kim Ji-seon", "Kim Ji-sun", "KR"),
        ("Maria Cristina Reyes", "Maria Cecilia Reyes", "PH"),
        ("Nguyen Thi An", "Nguyen Van An", "VN"),
    ];
    for (a, b, c) in different {
        let ka = keys(&p(a, c));
        assert!(!keys(&p(b, c)).iter().any(|k| ka.contains(k)), "{a} / {b}");
    }
}

#[test]
fn key_count_is_bounded() {
    let aliases: Vec<String> = (0..7)
        .map(|i| format!("Ma Daw Kyaw Zin Thant Aung Sa{i} Nyein"))
        .collect();
    let raw = serde_json::json!({
        "name": "U Ko Aung San Suu Kyi Htun Htun Oo", "aliases": aliases, "dob": "1976-03-15",
        "passport": ["MMR:MA1", "MMR:MA2", "MMR:MA3", "MMR:MA4", "MMR:MA5", "MMR:MA6", "MMR:MA7"],
        "national_id": ["THA:1101700230708"]
    })
    .to_string();
    let k = keys(&raw);
    assert!(k.len() <= MAX_KEYS, "{}", k.len());
    // Documents are never cut.
    assert_eq!(
        k.iter().filter(|x| x.class == KeyClass::Document).count(),
        8
    );
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    input: serde_json::Value,
    canonical: String,
    keys: Vec<VKey>,
}

#[derive(serde::Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct VKey {
    class: KeyClass,
    input: String,
}

#[test]
fn known_answer_vectors() {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/vectors/persons.json"
    ));
    let vectors: Vec<Vector> = serde_json::from_str(text).unwrap();
    assert!(vectors.len() >= 8);
    for v in vectors {
        let raw = v.input.to_string();
        assert_eq!(canon(&raw).unwrap(), v.canonical);
        assert_eq!(canon(&v.canonical).unwrap(), v.canonical);
        let got: Vec<VKey> = keys(&raw)
            .into_iter()
            .map(|k| VKey {
                class: k.class,
                input: String::from_utf8(k.input).unwrap(),
            })
            .collect();
        assert_eq!(got, v.keys, "{raw}");
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        "[A-Za-zก-๙ ,.;'-]{0,30}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(serde_json::Value::from)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
        let _ = canon(&s);
        let _ = match_keys(&s);
    }

    #[test]
    fn arbitrary_records_are_fixed_points(
        name in prop::option::of("[A-Za-zก-๙À-ỹ ,.'-]{0,40}"),
        aliases in json_value(),
        dob in prop::option::of(prop_oneof![Just("1990-05-12".to_owned()), Just("1990".to_owned()), "\\PC{0,10}"]),
        nat in prop::option::of("[A-Za-z]{2,3}"),
        passport in json_value(),
    ) {
        let mut m = serde_json::Map::new();
        if let Some(n) = name { m.insert("name".into(), n.into()); }
        m.insert("aliases".into(), aliases);
        if let Some(d) = dob { m.insert("dob".into(), d.into()); }
        if let Some(n) = nat { m.insert("nationality".into(), n.into()); }
        m.insert("passport".into(), passport);
        let raw = serde_json::Value::Object(m).to_string();
        if let Ok(c) = canon(&raw) {
            prop_assert_eq!(canon(&c).unwrap(), c.clone());
            let k = match_keys(&c).unwrap();
            prop_assert!(k.len() <= MAX_KEYS);
        }
    }
}
