//! Identifier kinds end to end: bad rows in imports and queries, and persons matched across
//! nodes on their derived keys.

use cordon_node::client;
use cordon_node::control::{ImportHeader, PartnerOutcome};
use cordon_node::profile::Profile;
use cordon_node::NodeError;
use cordon_tests::{import, query, Fed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_reported_redacted_and_block_the_import() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let rows: Vec<String> = vec![
        "+66812345678".into(),
        "081 234 5679".into(),
        "+66 81 234 567".into(), // one digit short
        "+66812345680".into(),
        "081-CALL-NOW".into(),
    ];
    // Without --skip-invalid nothing is imported, and each bad line is listed.
    let r = import(&f.operator("jp"), "phones", "phone", &rows)
        .await
        .unwrap();
    assert_eq!((r.rows, r.added, r.rejected_count), (5, 0, 2));
    let lines: Vec<u64> = r.rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![3, 5]);
    for (_, reason) in &r.rejected {
        // Only the first characters of the value are quoted.
        assert!(!reason.contains("+66 81 234 567\""), "{reason}");
        assert!(!reason.contains("081-CALL-NOW"), "{reason}");
        assert!(reason.contains("…"), "{reason}");
    }
    assert!(
        r.rejected[0].1.starts_with("\"+66 \"…"),
        "{}",
        r.rejected[0].1
    );
    assert!(
        r.rejected[0].1.contains("not a valid phone number"),
        "{}",
        r.rejected[0].1
    );

    // With it, the valid rows are.
    let header = ImportHeader {
        collection: "phones".into(),
        kind: "phone".into(),
        read: Default::default(),
        skip_invalid: true,
        source: "test".into(),
        releasable: Vec::new(),
    };
    let profile = Profile::load(&f.operator("jp")).unwrap();
    let r = client::import_rows(&profile, header, client::numbered(rows.clone()))
        .await
        .unwrap();
    assert_eq!((r.rows, r.added, r.rejected_count), (5, 3, 2));

    // A query with an invalid item names its line and is not sent.
    let asked: Vec<String> = vec!["+66812345678".into(), "+66 12".into()];
    match query(&f.investigator("th"), "phones", &asked, &[]).await {
        Err(NodeError::Control {
            message, details, ..
        }) => {
            assert!(message.contains("1 of 2 items"), "{message}");
            assert!(message.contains("nothing was sent"), "{message}");
            assert_eq!(details.len(), 1);
            assert!(details[0].starts_with("line 2: "), "{}", details[0]);
            assert!(!details[0].contains("+66 12"), "{}", details[0]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The valid ones match.
    let asked: Vec<String> = vec![
        "+66812345678".into(),
        "0812345680".into(),
        "+66812345681".into(),
    ];
    let r = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    let PartnerOutcome::Answered { matches, .. } = &r.partners[0].outcome else {
        panic!("jp failed: {r:?}");
    };
    let hit: Vec<(u64, &str)> = matches
        .iter()
        .map(|m| (m.line, m.strength.as_str()))
        .collect();
    assert_eq!(hit, vec![(1, "exact"), (2, "exact")]);
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_kinds_match_across_spellings() {
    let f = Fed::start(&["th", "us"], |c| c.to_string());
    // us writes each identifier one way, th another; canonical forms agree.
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "wallets",
            "crypto",
            &[
                "0x52908400098527886e0f7030069857d2e4169ee7",
                "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            ],
            &[
                "ETH:0x52908400098527886E0F7030069857D2E4169EE7",
                "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            ],
        ),
        (
            "wallets-th",
            "ewallet",
            &["promptpay:+66812345678", "gcash:+639171234567"],
            &["PromptPay: 081-234-5678", "TrueMoney: 081-234-5678"],
        ),
        (
            "accounts",
            "bank-account",
            &["TH:004:1234567890"],
            &["th 004 1-23456-789-0", "TH:014:1234567890"],
        ),
        (
            "sites",
            "domain",
            &["scam-site.co.th"],
            &["https://login.Scam-Site.co.th/verify", "scam-site.com"],
        ),
        (
            "handsets",
            "imei",
            &["352099001761481"],
            &["35-209900-176148-1", "35209900176148"],
        ),
    ];
    for (collection, kind, held, asked) in cases {
        let held: Vec<String> = held.iter().map(|s| s.to_string()).collect();
        let asked: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
        let r = import(&f.operator("us"), collection, kind, &held)
            .await
            .unwrap();
        assert_eq!(r.rejected_count, 0, "{kind}: {:?}", r.rejected);
        let r = query(&f.investigator("th"), collection, &asked, &[])
            .await
            .unwrap();
        let PartnerOutcome::Answered { matches, .. } = &r.partners[0].outcome else {
            panic!("{kind}: us failed: {r:?}");
        };
        let lines: Vec<u64> = matches.iter().map(|m| m.line).collect();
        let want: Vec<u64> = match *kind {
            "crypto" => vec![1, 2, 3],
            "imei" => vec![1, 2],
            _ => vec![1],
        };
        assert_eq!(lines, want, "{kind}");
    }
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_rules_bind_a_collection() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let profile = Profile::load(&f.operator("jp")).unwrap();
    let header = |rules: bool| ImportHeader {
        collection: "mailboxes".into(),
        kind: "email".into(),
        read: cordon_node::control::ReadOptions {
            provider_rules: rules,
            ..Default::default()
        },
        skip_invalid: false,
        source: "test".into(),
        releasable: Vec::new(),
    };
    let rows = client::numbered(vec!["Somchai.J+scam@GoogleMail.com".to_string()]);
    let r = client::import_rows(&profile, header(true), rows.clone())
        .await
        .unwrap();
    assert_eq!(r.added, 1);
    // A later import without the rules would store another form of the same mailboxes.
    match client::import_rows(&profile, header(false), rows).await {
        Err(NodeError::Control { message, .. }) => {
            assert!(message.contains("--provider-rules"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A querier using the rules finds the mailbox however it is written.
    let q = cordon_node::control::QueryRequest {
        collection: "mailboxes".into(),
        kind: Some("email".into()),
        read: cordon_node::control::ReadOptions {
            provider_rules: true,
            ..Default::default()
        },
        items: client::numbered(vec!["s.o.m.c.h.a.i.j@gmail.com".to_string()]),
        case_ref: "T-1".into(),
        purpose: "test".into(),
        partners: vec![],
        mode: Default::default(),
    };
    let r = client::query_once(&Profile::load(&f.investigator("th")).unwrap(), q)
        .await
        .unwrap();
    let PartnerOutcome::Answered { matches, .. } = &r.partners[0].outcome else {
        panic!("jp failed: {r:?}");
    };
    assert_eq!(matches.len(), 1);
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_match_on_derived_keys_with_a_strength() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    // jp's records, written jp's way.
    let held: Vec<String> = [
        r#"{"name":"JAIDEE SOMCHAI","nationality":"THA","passport":"tha aa 123 4567"}"#,
        r#"{"name":"NGUYEN VAN HUNG","dob":"1990-07-15","nationality":"VNM"}"#,
        r#"{"name":"Tatchai Pitaneelaboot","aliases":["Chai"],"dob":"1988-11-20","nationality":"TH"}"#,
        r#"{"name":"Nguyen Van Anh","dob":"1992-01-01","nationality":"VN"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let r = import(&f.operator("jp"), "persons", "person", &held)
        .await
        .unwrap();
    assert_eq!((r.added, r.rejected_count), (4, 0), "{:?}", r.rejected);
    // The same import again adds nothing: records are deduplicated on their canonical form.
    let r = import(&f.operator("jp"), "persons", "person", &held)
        .await
        .unwrap();
    assert_eq!((r.added, r.duplicates), (0, 4));

    // th's, written th's way; line 4 is another person with a near name and the same date.
    let asked: Vec<String> = [
        r#"{"name":"Somchai Jaidee","dob":"1985-03-02","passport":"THA:AA1234567"}"#,
        r#"{"name":"Nguyễn Văn Hùng","dob":"1990-07-15","nationality":"VN"}"#,
        r#"{"name":"Thatchai Phitanilabut","dob":"1988-11-20","nationality":"TH"}"#,
        r#"{"name":"Nguyen Van An","dob":"1992-01-01","nationality":"VN"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let r = query(&f.investigator("th"), "persons", &asked, &[])
        .await
        .unwrap();
    assert_eq!(r.kind, "person");
    let PartnerOutcome::Answered { matches, hits, .. } = &r.partners[0].outcome else {
        panic!("jp failed: {r:?}");
    };
    let got: Vec<(u64, &str)> = matches
        .iter()
        .map(|m| (m.line, m.strength.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1, "document"), (2, "name+dob"), (3, "fuzzy-name+dob")]
    );
    // Every class listed for an item is one whose key hit, strongest first.
    for m in matches {
        assert_eq!(m.classes[0], m.strength);
        for c in &m.classes {
            assert!(hits
                .iter()
                .any(|h| h.index == m.index && h.class.as_deref() == Some(c.as_str())));
        }
    }
    // An invalid person names its line and sends nothing.
    let bad = vec![r#"{"name":"Somchai","dob":"03/04/1990"}"#.to_string()];
    match query(&f.investigator("th"), "persons", &bad, &[]).await {
        Err(NodeError::Control { details, .. }) => {
            assert!(details[0].starts_with("line 1: "), "{details:?}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    f.fed.shutdown().await.unwrap();
}

/// `n` distinct synthetic persons starting at `from`, as JSON records.
fn persons(from: usize, n: usize) -> Vec<String> {
    const GIVEN: &[&str] = &[
        "Somchai", "Niran", "Wanida", "Prasert", "Chaiwat", "Sokha", "Dara", "Kyaw", "Thandar",
        "Rogelio", "Haruto", "Priya", "Arjun", "Siti", "Nurul", "Minh", "Huong", "Tuan",
    ];
    const FAMILY: &[&str] = &[
        "Saetang",
        "Wongsakul",
        "Boonmee",
        "Kaewkla",
        "Tran",
        "Pham",
        "Chea",
        "Keo",
        "Naing",
        "Reyes",
        "Santos",
        "Tanaka",
        "Sharma",
        "Patel",
        "Rahman",
        "Ismail",
        "Kumar",
        "Htet",
    ];
    (from..from + n)
        .map(|i| {
            let dob = format!(
                "{}-{:02}-{:02}",
                1950 + i / 336,
                1 + (i / 28) % 12,
                1 + i % 28
            );
            let name = format!(
                "{} {}",
                GIVEN[i % GIVEN.len()],
                FAMILY[(i / 7) % FAMILY.len()]
            );
            format!(r#"{{"name":"{name}","dob":"{dob}","nationality":"TH"}}"#)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_deltas_are_counted_in_keys() {
    // With the largest rebuild fraction, a delta may grow to the filter's own size. Counted in
    // records rather than keys, 450 persons (several keys each) added to 100 would make a delta
    // far beyond what queriers accept (2 × filter capacity), and the partner's answers would
    // be refused.
    let f = Fed::start(&["th", "jp"], |c| {
        c.replace(
            "rebuild_delta_fraction = 0.5",
            "rebuild_delta_fraction = 1.0",
        )
    });
    let first = persons(0, 100);
    let r = import(&f.operator("jp"), "persons", "person", &first)
        .await
        .unwrap();
    assert_eq!((r.added, r.rebuilt), (100, true));
    let more = persons(100, 450);
    let r = import(&f.operator("jp"), "persons", "person", &more)
        .await
        .unwrap();
    assert_eq!(r.added, 450);
    assert!(
        r.rebuilt,
        "450 persons' keys outnumber the 100 persons' keys: a rebuild"
    );
    // A few more go into a delta, which queriers accept and use.
    let last = persons(550, 5);
    let r = import(&f.operator("jp"), "persons", "person", &last)
        .await
        .unwrap();
    assert_eq!((r.added, r.rebuilt), (5, false));
    let asked = vec![first[3].clone(), more[200].clone(), last[4].clone()];
    let r = query(&f.investigator("th"), "persons", &asked, &[])
        .await
        .unwrap();
    let PartnerOutcome::Answered { matches, .. } = &r.partners[0].outcome else {
        panic!("jp failed: {r:?}");
    };
    let lines: Vec<(u64, &str)> = matches
        .iter()
        .map(|m| (m.line, m.strength.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![(1, "name+dob"), (2, "name+dob"), (3, "name+dob")]
    );
    f.fed.shutdown().await.unwrap();
}
