//! Three real nodes on loopback: queries, caching, deltas, per-partner failures, roles.

use std::collections::BTreeSet;

use cordon_node::control::PartnerOutcome;
use cordon_node::NodeError;
use cordon_protocol::ErrorCode;
use cordon_tests::{hit_items, import, outcome, phones, query, Fed};

fn fast_timeouts(cfg: &str) -> String {
    cfg.replace("connect_timeout = \"5s\"", "connect_timeout = \"1s\"")
        .replace("query_timeout = \"30s\"", "query_timeout = \"5s\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_cache_delta_and_stopped_partner() {
    let mut f = Fed::start(&["th", "jp", "us"], fast_timeouts);
    // jp holds 0..3000, us holds 2000..5000; th asks about 1500..2500 and 4900..5100.
    let jp_held = phones(0..3000);
    let us_held = phones(2000..5000);
    assert_eq!(
        import(&f.operator("jp"), "phones", "phone", &jp_held)
            .await
            .unwrap()
            .added,
        3000
    );
    assert_eq!(
        import(&f.operator("us"), "phones", "phone", &us_held)
            .await
            .unwrap()
            .added,
        3000
    );
    let mut asked = phones(1500..2500);
    asked.extend(phones(4900..5100));

    let r1 = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    let expect_jp: BTreeSet<String> = phones(1500..2500)
        .into_iter()
        .filter(|p| jp_held.contains(p))
        .collect();
    let expect_us: BTreeSet<String> = asked
        .iter()
        .filter(|p| us_held.contains(p))
        .cloned()
        .collect();
    assert_eq!(hit_items(&r1, "jp", &asked).unwrap(), expect_jp);
    assert_eq!(hit_items(&r1, "us", &asked).unwrap(), expect_us);
    let PartnerOutcome::Answered {
        filter,
        bytes_received: first_bytes,
        ..
    } = outcome(&r1, "jp")
    else {
        panic!()
    };
    assert_eq!(filter, "full");

    // The second query reuses the cached filter: no filter crosses the wire.
    let r2 = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    let PartnerOutcome::Answered {
        filter,
        bytes_received,
        bytes_sent,
        ..
    } = outcome(&r2, "jp")
    else {
        panic!()
    };
    assert_eq!(filter, "cached");
    let n = asked.len() as u64;
    assert!(
        *bytes_received < n * 32 + 1024,
        "received {bytes_received} bytes for {n} items"
    );
    assert!(
        *bytes_sent < n * 32 + 1024,
        "sent {bytes_sent} bytes for {n} items"
    );
    assert!(
        *first_bytes > *bytes_received + 4000,
        "first query should have carried the filter"
    );
    assert_eq!(hit_items(&r2, "jp", &asked).unwrap(), expect_jp);

    // jp adds records: th receives a delta, not the whole filter, and finds them.
    let added = phones(4950..4960);
    let rep = import(&f.operator("jp"), "phones", "phone", &added)
        .await
        .unwrap();
    assert!(!rep.rebuilt, "a small import extends the epoch");
    let r3 = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    let PartnerOutcome::Answered {
        filter,
        bytes_received,
        ..
    } = outcome(&r3, "jp")
    else {
        panic!()
    };
    assert_eq!(filter, "delta");
    assert!(
        *bytes_received < n * 32 + 10 * 32 + 2048,
        "a delta, not a filter: {bytes_received}"
    );
    let mut expect = expect_jp.clone();
    expect.extend(added.iter().cloned());
    assert_eq!(hit_items(&r3, "jp", &asked).unwrap(), expect);

    // us stops: its failure is reported for us alone, jp still answers.
    f.fed.stop("us").await.unwrap();
    let r4 = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    assert_eq!(hit_items(&r4, "jp", &asked).unwrap(), expect);
    match outcome(&r4, "us") {
        PartnerOutcome::Failed { code, message } => {
            assert!(
                code == "timeout" || code == "unreachable",
                "{code}: {message}"
            );
            assert!(message.contains("us"), "{message}");
        }
        other => panic!("us answered while stopped: {other:?}"),
    }
    // Restarted, it answers again from the same database.
    f.fed.start("us").unwrap();
    let r5 = query(&f.investigator("th"), "phones", &asked, &["us"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r5, "us", &asked).unwrap(), expect_us);
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_collection_kind_and_partner_are_clear_errors() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..10))
        .await
        .unwrap();
    let items = phones(0..5);

    // A collection the partner does not hold: a coded refusal naming it.
    let r = query(&f.investigator("th"), "phonez", &items, &[])
        .await
        .unwrap();
    match outcome(&r, "jp") {
        PartnerOutcome::Failed { code, message } => {
            assert_eq!(code, "refused:unknown_collection");
            assert!(message.contains("`phonez`"), "{message}");
        }
        o => panic!("{o:?}"),
    }

    // A partner name not in the configuration: refused before anything is sent.
    let e = query(&f.investigator("th"), "phones", &items, &["fr"])
        .await
        .unwrap_err();
    match e {
        NodeError::Control { code, message, .. } => {
            assert_eq!(code, ErrorCode::BadRequest);
            assert!(message.contains("`fr` is not a partner of th"), "{message}");
        }
        e => panic!("{e}"),
    }

    // Items that are not valid for the kind: the lines are named, nothing is sent.
    let bad = vec!["+66812345678".to_string(), "not a phone".to_string()];
    match query(&f.investigator("th"), "phones", &bad, &[])
        .await
        .unwrap_err()
    {
        NodeError::Control { details, .. } => assert!(
            details.iter().any(|d| d.starts_with("line 2:")),
            "{details:?}"
        ),
        e => panic!("{e}"),
    }

    // Importing another kind into an existing collection is refused.
    let e = import(
        &f.operator("jp"),
        "phones",
        "email",
        &["a@b.example".to_string()],
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("holds `phone` identifiers"), "{e}");
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_and_bad_imports_apply_nothing() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    // An investigator cannot import; an operator cannot query.
    let e = import(&f.investigator("jp"), "phones", "phone", &phones(0..3))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Control {
                code: ErrorCode::NotAuthorized,
                ..
            }
        ),
        "{e}"
    );
    let e = query(&f.operator("th"), "phones", &phones(0..3), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Control {
                code: ErrorCode::NotAuthorized,
                ..
            }
        ),
        "{e}"
    );

    // One bad row: nothing is imported, and the row is reported with its line.
    let mut rows = phones(0..5);
    rows.insert(2, "12".to_string());
    let r = import(&f.operator("jp"), "phones", "phone", &rows)
        .await
        .unwrap();
    assert_eq!(r.added, 0);
    assert_eq!(r.rejected_count, 1);
    assert_eq!(r.rejected[0].0, 3);
    let q = query(&f.investigator("th"), "phones", &phones(0..5), &[])
        .await
        .unwrap();
    assert!(
        matches!(outcome(&q, "jp"), PartnerOutcome::Failed { code, .. } if code == "refused:unknown_collection")
    );
    f.fed.shutdown().await.unwrap();
}
