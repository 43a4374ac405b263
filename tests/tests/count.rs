//! Count mode between real nodes: the querier learns how many of its items a partner holds,
//! the holder answers in an order of its own, and a partner's grant decides whether it may ask.

mod support;

use cordon_node::control::{PartnerOutcome, QueryRequest};
use cordon_node::profile::Profile;
use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::count::CountBatch;
use cordon_protocol::exchange::HashedInputs;
use cordon_protocol::ident::{self, Kind};
use cordon_protocol::messages::{EvaluateRequest, PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::oprf;
use cordon_tests::{import, outcome, phones, query, query_mode, Fed};
use support::{ask, connect};

fn count_of(r: &cordon_node::control::QueryReply, partner: &str) -> u64 {
    match outcome(r, partner) {
        PartnerOutcome::Answered {
            count: Some(c),
            hits,
            matches,
            ..
        } => {
            assert!(
                hits.is_empty() && matches.is_empty(),
                "count mode listed items"
            );
            *c
        }
        o => panic!("{partner} gave no count: {o:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_mode_counts_exactly_and_logs_the_mode() {
    let f = Fed::start(&["th", "jp", "us"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    import(&f.operator("us"), "phones", "phone", &phones(150..200))
        .await
        .unwrap();
    // 20 held by jp, 30 by us; the first five asked twice count once.
    let mut asked = phones(80..180);
    asked.extend(phones(80..85));
    let r = query_mode(
        &f.investigator("th"),
        "phones",
        &asked,
        &[],
        QueryMode::Count,
    )
    .await
    .unwrap();
    assert_eq!(count_of(&r, "jp"), 20);
    assert_eq!(count_of(&r, "us"), 30);
    // The same items in match mode agree.
    let m = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    let PartnerOutcome::Answered { matches, count, .. } = outcome(&m, "jp") else {
        panic!()
    };
    assert_eq!((matches.len(), *count), (25, None));

    // Both sides log the real mode; the querier logs the count as the hits.
    let th = export(&f, "th").await;
    let done: Vec<_> = th
        .iter()
        .filter(|e| {
            e.kind == EntryKind::QueryCompleted && e.query_id.as_deref() == Some(&r.query_id)
        })
        .collect();
    assert_eq!(done.len(), 2);
    for e in done {
        assert_eq!(e.mode.as_deref(), Some("count"));
        let want = if e.partner.as_deref() == Some("jp") {
            20
        } else {
            30
        };
        assert_eq!(e.hits, Some(want));
        assert_eq!(e.items, Some(100));
    }
    let jp = export(&f, "jp").await;
    let modes: Vec<_> = jp
        .iter()
        .filter(|e| e.kind == EntryKind::QueryAnswered)
        .map(|e| e.mode.clone().unwrap_or_default())
        .collect();
    assert_eq!(modes, ["count", "match"]);
    f.fed.shutdown().await.unwrap();
}

async fn export(f: &Fed, node: &str) -> Vec<cordon_protocol::audit::entry::Entry> {
    let profile = f.fed.agency(node).unwrap().auditor.clone();
    let c = cordon_node::client::ControlClient::connect(&Profile::load(&profile).unwrap())
        .await
        .unwrap();
    let bytes = c.audit_export(None, None).await.unwrap();
    c.close().await;
    cordon_protocol::audit::bundle::Bundle::parse(&bytes)
        .unwrap()
        .parsed_entries()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_answers_a_count_in_its_own_order() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("th"), "phones", "phone", &phones(0..50))
        .await
        .unwrap();
    let (_ep, conn) = connect(&f.fed, "jp", "th").await;
    let PartnerResponse::Descriptor(d) = ask(
        &conn,
        &PartnerRequest::GetDescriptor {
            collection: "phones".into(),
        },
    )
    .await
    .unwrap() else {
        panic!("no descriptor")
    };
    let d = d.descriptor_unverified().unwrap();
    // 30 held items and 10 others.
    let inputs: Vec<Vec<u8>> = phones(20..60)
        .iter()
        .map(|p| {
            ident::canonicalize(Kind::Phone, p, &Default::default())
                .unwrap()
                .oprf_input()
        })
        .collect();
    let batch = CountBatch::new(&HashedInputs::new(&inputs), &mut rand::rngs::OsRng);
    let blinded = batch.request_bytes();
    let req = PartnerRequest::Evaluate(EvaluateRequest {
        query_id: serde_bytes::ByteArray::new([7; 16]),
        collection: "phones".into(),
        epoch: d.epoch,
        blinded: blinded.clone(),
        mode: QueryMode::Count,
        audit: None,
    });
    let PartnerResponse::Evaluated(ev) = ask(&conn, &req).await.unwrap() else {
        panic!("no evaluation")
    };
    // What an in-order answer would have been, from th's own key.
    let shared = f.fed.shared("th").unwrap();
    let key = shared.epoch_at("phones", d.epoch).unwrap();
    let sent =
        oprf::decode_elements(&cordon_protocol::messages::unpack("b", &blinded).unwrap()).unwrap();
    let in_order: Vec<u8> = oprf::compress_batch(&oprf::blind_evaluate(&key.sk, &sent)).concat();
    assert_eq!(ev.evaluated.len(), in_order.len());
    assert_ne!(
        ev.evaluated, in_order,
        "the answer came back in request order"
    );
    let mut got: Vec<&[u8]> = ev.evaluated.chunks(32).collect();
    let mut want: Vec<&[u8]> = in_order.chunks(32).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // It verifies against the signed key, and the tags are the held ones, 30 of them.
    let tags = batch
        .finish(&d.public_key, &ev.evaluated, &ev.proof)
        .unwrap();
    let refs: Vec<&[u8]> = inputs.iter().map(|v| v.as_slice()).collect();
    let held = oprf::holder_tags(&key.sk, &refs[..30]).unwrap();
    assert_eq!(tags.iter().filter(|t| held.contains(t)).count(), 30);
    conn.close(0u32.into(), b"done");
    f.fed.shutdown().await.unwrap();
}

/// Needs the holder's enforcement of `[[grant]] modes` (the policy work of issue 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_granted_match_only_is_refused_a_count() {
    let f = Fed::start(&["th", "jp"], |c| {
        c.replace(
            "partner = \"jp\"\ncollections = [\"*\"]\nmodes = [\"match\", \"count\"]",
            "partner = \"jp\"\ncollections = [\"*\"]\nmodes = [\"match\"]",
        )
    });
    let th_cfg = std::fs::read_to_string(&f.fed.agency("th").unwrap().config_path).unwrap();
    assert!(
        th_cfg.contains("modes = [\"match\"]\n"),
        "the grant was not narrowed"
    );
    import(&f.operator("th"), "phones", "phone", &phones(0..10))
        .await
        .unwrap();
    let r = query_mode(
        &f.investigator("jp"),
        "phones",
        &phones(0..5),
        &[],
        QueryMode::Count,
    )
    .await
    .unwrap();
    match outcome(&r, "th") {
        PartnerOutcome::Failed { code, .. } => assert_eq!(code, "refused:mode_not_allowed"),
        o => panic!("th answered a count it does not grant: {o:?}"),
    }
    let r = query(&f.investigator("jp"), "phones", &phones(0..5), &[])
        .await
        .unwrap();
    assert!(matches!(outcome(&r, "th"), PartnerOutcome::Answered { .. }));
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_are_refused_in_count_mode() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let q = QueryRequest {
        collection: "people".into(),
        kind: Some("person".into()),
        read: Default::default(),
        items: vec![(
            1,
            "{\"name\":\"Somchai Jaidee\",\"dob\":\"1980-01-02\"}".into(),
        )],
        case_ref: "T-1".into(),
        purpose: "test".into(),
        partners: vec![],
        mode: QueryMode::Count,
    };
    let e = cordon_node::client::query_once(&Profile::load(&f.investigator("th")).unwrap(), q)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("count mode does not take persons"),
        "{e}"
    );
    f.fed.shutdown().await.unwrap();
}
