//! Hostile input from a partner, each refused with its own code while the node goes on
//! serving; and partners that die, hang or answer garbage in the middle of a query, which
//! fail alone, with a sentence that says what happened.
//!
//! (`security.rs` covers garbage CBOR, truncated and huge frames and ragged batches.)

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use serde_bytes::ByteArray;

use cordon_node::control::PartnerOutcome;
use cordon_node::local::LocalFederation;
use cordon_node::{pki, tls};
use cordon_protocol::exchange::{BlindedBatch, HashedInputs};
use cordon_protocol::frame;
use cordon_protocol::messages::{
    EvaluateRequest, PartnerRequest, PartnerResponse, QueryMode, MAX_ITEMS_PER_REQUEST,
};
use cordon_protocol::ErrorCode;
use cordon_tests::{hit_items, outcome, phones, query, Fed};

use support::{ask, connect, exchange, refused_with};

/// `n` valid blinded elements (as a querier would send them).
fn blinded(n: usize) -> Vec<u8> {
    let inputs: Vec<Vec<u8>> = (0..n).map(|i| format!("item-{i}").into_bytes()).collect();
    BlindedBatch::new(&HashedInputs::new(&inputs), &mut rand::rngs::OsRng).request_bytes()
}

fn evaluate(qid: u8, collection: &str, epoch: u64, blinded: Vec<u8>) -> PartnerRequest {
    evaluate_as(QueryMode::Match, qid, collection, epoch, blinded)
}

fn evaluate_as(
    mode: QueryMode,
    qid: u8,
    collection: &str,
    epoch: u64,
    blinded: Vec<u8>,
) -> PartnerRequest {
    PartnerRequest::Evaluate(EvaluateRequest {
        query_id: ByteArray::new([qid; 16]),
        collection: collection.into(),
        epoch,
        blinded,
        mode,
        audit: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_fields_versions_and_replays_get_coded_refusals() {
    let mut f = Fed::start(&["th", "jp"], |c| {
        c.replace("max_items_per_query = 65536", "max_items_per_query = 100")
    });
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    let (_ep, conn) = connect(&f.fed, "jp", "th").await;
    let get = PartnerRequest::GetDescriptor {
        collection: "phones".into(),
    };
    let Some(PartnerResponse::Descriptor(d)) = ask(&conn, &get).await else {
        panic!("no descriptor")
    };
    let epoch = d.descriptor_unverified().unwrap().epoch;

    // Invalid curve points beside valid ones: the identity, encodings that are not canonical
    // (a field element ≥ p, a "negative" one, the top bit set), in both modes.
    let good = blinded(3);
    let with = |at: usize, bad: [u8; 32]| {
        let mut b = good.clone();
        b[at * 32..at * 32 + 32].copy_from_slice(&bad);
        b
    };
    let mut negative = [0u8; 32];
    negative[0] = 1;
    let mut top_bit: [u8; 32] = good[..32].try_into().unwrap();
    top_bit[31] |= 0x80;
    for (i, b) in [
        with(1, [0u8; 32]),
        with(2, [0xff; 32]),
        with(0, negative),
        with(0, top_bit),
    ]
    .into_iter()
    .enumerate()
    {
        for mode in [QueryMode::Match, QueryMode::Count] {
            let req = evaluate_as(mode, 10 + i as u8, "phones", epoch, b.clone());
            let r = ask(&conn, &req).await;
            refused_with(r, ErrorCode::BadRequest);
        }
    }

    // Oversized and empty batches.
    let m = refused_with(
        ask(&conn, &evaluate(20, "phones", epoch, blinded(101))).await,
        ErrorCode::TooManyItems,
    );
    assert!(m.contains("101 items") && m.contains("at most 100"), "{m}");
    refused_with(
        ask(
            &conn,
            &evaluate(
                21,
                "phones",
                epoch,
                vec![0x5a; 32 * (MAX_ITEMS_PER_REQUEST + 1)],
            ),
        )
        .await,
        ErrorCode::TooManyItems,
    );
    refused_with(
        ask(&conn, &evaluate(22, "phones", epoch, Vec::new())).await,
        ErrorCode::BadRequest,
    );

    // Zero-length and maximum-length collection names, in every request that names one.
    let long = "a".repeat(64 << 10);
    for name in ["", long.as_str(), "Phones", "-x"] {
        for req in [
            PartnerRequest::GetDescriptor {
                collection: name.into(),
            },
            PartnerRequest::GetFilter {
                collection: name.into(),
                epoch,
            },
            PartnerRequest::GetDelta {
                collection: name.into(),
                epoch,
                from: 0,
            },
            evaluate(23, name, epoch, blinded(1)),
        ] {
            let m = refused_with(ask(&conn, &req).await, ErrorCode::BadRequest);
            assert!(m.contains("not a valid collection name"), "{m}");
        }
    }
    // The longest valid name is looked up, not refused as malformed.
    refused_with(
        ask(
            &conn,
            &PartnerRequest::GetDescriptor {
                collection: "p".repeat(64),
            },
        )
        .await,
        ErrorCode::UnknownCollection,
    );

    // Unknown frame versions and unknown message kinds.
    for version in [0u8, 2, 0x80, 0xff] {
        let mut bytes = frame::encode(&get).unwrap();
        bytes[0] = version;
        let m = refused_with(exchange(&conn, &bytes).await, ErrorCode::BadRequest);
        assert!(m.contains("unsupported frame version"), "{m}");
    }
    for kind in ["get_everything", "evaluate_all", ""] {
        let mut payload = Vec::new();
        ciborium_map(&mut payload, kind);
        let mut bytes = frame::header(payload.len()).unwrap().to_vec();
        bytes.extend_from_slice(&payload);
        refused_with(exchange(&conn, &bytes).await, ErrorCode::BadRequest);
    }

    // Replayed query ids. A refused request does not use up its id...
    refused_with(
        ask(&conn, &evaluate(30, "phones", epoch, blinded(200))).await,
        ErrorCode::TooManyItems,
    );
    let first = evaluate(30, "phones", epoch, blinded(5));
    assert!(matches!(
        ask(&conn, &first).await,
        Some(PartnerResponse::Evaluated(_))
    ));
    // ...an answered one is refused again, the same request or another under the same id...
    let m = refused_with(ask(&conn, &first).await, ErrorCode::ReplayedQuery);
    assert!(m.contains(&hex::encode([30u8; 16])), "{m}");
    refused_with(
        ask(&conn, &evaluate(30, "phones", epoch, blinded(2))).await,
        ErrorCode::ReplayedQuery,
    );
    // ...also after a restart of the holder.
    drop(conn);
    f.fed.stop("th").await.unwrap();
    f.fed.start("th").unwrap();
    let (_ep2, conn) = connect(&f.fed, "jp", "th").await;
    refused_with(ask(&conn, &first).await, ErrorCode::ReplayedQuery);
    assert!(matches!(
        ask(&conn, &evaluate(31, "phones", epoch, blinded(5))).await,
        Some(PartnerResponse::Evaluated(_))
    ));

    // Through all of it th kept serving: a real query from jp works.
    let asked = phones(50..150);
    let r = query(&f.investigator("jp"), "phones", &asked[..100], &["th"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r, "th", &asked[..100]).unwrap().len(), 50);
    f.fed.shutdown().await.unwrap();
}

/// A CBOR map `{kind: {"collection": "phones"}}`, written by hand (no serde in this crate).
fn ciborium_map(out: &mut Vec<u8>, kind: &str) {
    out.push(0xa1);
    text(out, kind);
    out.push(0xa1);
    text(out, "collection");
    text(out, "phones");
}

fn text(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 24);
    out.push(0x60 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// How the fake partner behaves on every stream.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Fake {
    /// Reads the request, starts an answer, then closes the whole connection.
    Dies = 0,
    /// Reads the request and never answers (the stream stays open).
    Hangs = 1,
    /// Reads the request and answers bytes that are no frame.
    Garbage = 2,
}

/// A fake `jp` on jp's own address and certificate, so th takes it for jp.
fn fake_partner(fed: &mut LocalFederation, mode: Arc<AtomicU8>) -> quinn::Endpoint {
    let jp = fed.agency("jp").unwrap().clone();
    let th = fed.agency("th").unwrap().clone();
    let pem = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
    let id =
        tls::TlsIdentity::from_pem(&pem(jp.dir.join("node.pem")), &pem(jp.dir.join("node.key")))
            .unwrap();
    let (jp_ca, _) = pki::parse_cert_pem(&pem(jp.dir.join("ca.pem"))).unwrap();
    let (th_ca, _) = pki::parse_cert_pem(&pem(th.dir.join("ca.pem"))).unwrap();
    let trust = tls::PeerVerifier::new(
        "jp",
        &jp_ca,
        &[tls::Partner {
            name: "th".into(),
            ca_cert: th_ca,
        }],
    )
    .unwrap();
    let cfg = tls::quinn_server_config(&id, Arc::new(trust)).unwrap();
    let socket = fed.take_socket("jp").expect("jp's port");
    let ep = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(cfg),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .unwrap();
    let ep2 = ep.clone();
    tokio::spawn(async move {
        while let Some(incoming) = ep2.accept().await {
            let mode = mode.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    let conn = conn.clone();
                    let mode = mode.load(Ordering::SeqCst);
                    tokio::spawn(async move {
                        let _ = recv.read_to_end(1 << 20).await;
                        if mode == Fake::Dies as u8 {
                            let _ = send.write_all(&[frame::FRAME_VERSION, 0, 0]).await;
                            conn.close(0u32.into(), b"");
                        } else if mode == Fake::Hangs as u8 {
                            // Holds the stream open until the test ends.
                            std::future::pending::<()>().await;
                            drop(send);
                        } else {
                            let _ = send.write_all(b"\xde\xad\xbe\xef not a frame").await;
                            let _ = send.finish();
                        }
                    });
                }
            });
        }
    });
    ep
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_that_dies_hangs_or_babbles_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut fed = LocalFederation::create(dir.path(), &["th", "jp", "us"], Some("TH")).unwrap();
    // th waits at most 2 s for a partner, so that the hanging one costs the test little.
    let th_cfg = fed.agency("th").unwrap().config_path.clone();
    let text = std::fs::read_to_string(&th_cfg).unwrap();
    std::fs::write(
        &th_cfg,
        text.replace("query_timeout = \"30s\"", "query_timeout = \"2s\""),
    )
    .unwrap();
    fed.start("th").unwrap();
    fed.start("us").unwrap();
    let us = fed.agency("us").unwrap().clone();
    let th = fed.agency("th").unwrap().clone();
    cordon_tests::import(&us.operator, "phones", "phone", &phones(0..50))
        .await
        .unwrap();
    let mode = Arc::new(AtomicU8::new(0));
    let fake = fake_partner(&mut fed, mode.clone());

    let asked = phones(40..60);
    let cases = [
        (
            Fake::Garbage,
            "invalid_answer",
            "jp sent a malformed answer",
        ),
        (Fake::Hangs, "timeout", "jp did not answer within 2s"),
        (Fake::Dies, "connection_lost", "jp dropped the exchange"),
    ];
    for (how, want_code, want_message) in cases {
        mode.store(how as u8, Ordering::SeqCst);
        // No kind given and th holds no `phones`: th learns the kind from us's descriptor
        // without waiting for jp.
        let r = query(&th.investigator, "phones", &asked, &["jp", "us"])
            .await
            .unwrap();
        match outcome(&r, "jp") {
            PartnerOutcome::Failed { code, message } => {
                assert_eq!(code, want_code, "{message}");
                assert!(message.starts_with(want_message), "{message}");
                assert!(!message.contains('\n'), "one sentence: {message}");
            }
            o => panic!("the fake jp answered: {o:?}"),
        }
        assert_eq!(
            hit_items(&r, "us", &asked).expect("us answered").len(),
            10,
            "us's answer beside a jp that {want_code}"
        );
    }
    fake.close(0u32.into(), b"");
    fed.shutdown().await.unwrap();
    drop(dir);
}
