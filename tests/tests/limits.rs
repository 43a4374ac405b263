//! Resource limits (`[limits]` of node.toml): a partner that floods a node with connections,
//! streams, oversized and endless requests, or follow-up requests, is throttled or refused
//! with a clear reason, while a well-behaved partner's queries keep succeeding.

mod support;

use futures_util::FutureExt;

use cordon_node::client;
use cordon_node::control::PartnerOutcome;
use cordon_node::followup::FollowupCommand;
use cordon_node::profile::Profile;
use cordon_node::NodeError;
use cordon_protocol::frame;
use cordon_protocol::messages::PartnerRequest;
use cordon_protocol::ErrorCode;
use cordon_tests::{hit_items, outcome, phones, query, Fed};

use support::{ask, connect, exchange, refused_with};

/// QUIC close code of a connection beyond `limits.max_connections_per_partner`.
const CLOSE_TOO_MANY_CONNECTIONS: u32 = 0x12;
const STREAMS: usize = 8;

fn tight(c: &str) -> String {
    c.replace("max_items_per_query = 65536", "max_items_per_query = 1000")
        .replace(
            "max_connections_per_partner = 4",
            "max_connections_per_partner = 3",
        )
        .replace(
            "max_streams_per_connection = 64",
            &format!("max_streams_per_connection = {STREAMS}"),
        )
        .replace(
            "max_requests_per_partner = 4",
            "max_requests_per_partner = 2",
        )
        .replace("max_request_bytes = 4194304", "max_request_bytes = 262144")
        .replace(
            "request_read_timeout = \"20s\"",
            "request_read_timeout = \"1s\"",
        )
        .replace(
            "max_pending_followups_per_partner = 1000",
            "max_pending_followups_per_partner = 1",
        )
}

/// us asks th and must get all its hits.
async fn us_is_served(f: &Fed, round: u32) {
    let asked = phones(round * 10..round * 10 + 20);
    let r = query(&f.investigator("us"), "phones", &asked, &["th"])
        .await
        .unwrap();
    let hits = hit_items(&r, "th", &asked).unwrap_or_else(|| {
        panic!(
            "us was not served in round {round}: {:?}",
            outcome(&r, "th")
        )
    });
    assert_eq!(hits.len(), 20, "round {round}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_partner_is_limited_while_others_are_served() {
    let f = Fed::start(&["th", "jp", "us"], tight);
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..200))
        .await
        .unwrap();
    us_is_served(&f, 0).await;

    // Pending follow-ups: jp may have one awaiting review at th; a second is refused.
    let r = query(&f.investigator("jp"), "phones", &phones(0..5), &["th"])
        .await
        .unwrap();
    let PartnerOutcome::Answered { hits, .. } = outcome(&r, "th") else {
        panic!("jp's query failed: {:?}", outcome(&r, "th"))
    };
    let profile = Profile::load(&f.investigator("jp")).unwrap();
    let request = |reference: &str| FollowupCommand::Request {
        partner: "th".into(),
        references: vec![reference.to_string()],
        case_ref: "CASE-9".into(),
        purpose: "identify the holder".into(),
    };
    client::followup_once(&profile, request(&hits[0].reference))
        .await
        .unwrap();
    let e = client::followup_once(&profile, request(&hits[1].reference))
        .await
        .unwrap_err();
    match &e {
        NodeError::Control { code, message, .. } => {
            assert_eq!(*code, ErrorCode::LimitExceeded, "{message}");
            assert!(
                message.contains("max_pending_followups_per_partner"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }

    // Connections: jp's node holds one to th since its query above; jp opens two more, and then
    // one more than it may: that one is closed with a reason, its others stay open.
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(connect(&f.fed, "jp", "th").await);
    }
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        futures_util::future::select_all(conns.iter().map(|(_, c)| {
            let c = c.clone();
            async move { c.closed().await }.boxed()
        })),
    )
    .await
    .expect("no connection of jp's was closed");
    let (reason, which, _) = closed;
    match reason {
        quinn::ConnectionError::ApplicationClosed(a) => {
            assert_eq!(a.error_code, CLOSE_TOO_MANY_CONNECTIONS.into());
            let why = String::from_utf8_lossy(&a.reason);
            assert!(why.contains("too many connections from jp"), "{why}");
            assert!(why.contains("at most 3"), "{why}");
        }
        other => panic!("closed for another reason: {other}"),
    }
    conns.remove(which);
    let (a, b) = (&conns[0].1, &conns[1].1);
    assert!(a.close_reason().is_none() && b.close_reason().is_none());

    // Frames: larger than th's limit (refused before the payload is even sent), larger than
    // the protocol's (malformed).
    let mut big = vec![frame::FRAME_VERSION];
    big.extend_from_slice(&(300_000u32).to_be_bytes());
    let m = refused_with(exchange(b, &big).await, ErrorCode::LimitExceeded);
    assert!(m.contains("limit of 262144 bytes"), "{m}");
    let mut huge = vec![frame::FRAME_VERSION];
    huge.extend_from_slice(&((frame::MAX_PAYLOAD + 1) as u32).to_be_bytes());
    refused_with(exchange(b, &huge).await, ErrorCode::BadRequest);

    // Streams: jp fills its streams on one connection with requests it never finishes
    // sending; one more stream cannot even be opened (QUIC flow control)...
    let mut slow = Vec::new();
    for _ in 0..STREAMS {
        let (mut send, recv) = a.open_bi().await.unwrap();
        let get = frame::encode(&PartnerRequest::GetDescriptor {
            collection: "phones".into(),
        })
        .unwrap();
        send.write_all(&get[..get.len() - 3]).await.unwrap();
        slow.push((send, recv));
    }
    assert!(
        a.open_bi().now_or_never().is_none(),
        "a stream beyond limits.max_streams_per_connection was opened"
    );
    // ...while us is served all along.
    for round in 1..4 {
        us_is_served(&f, round).await;
    }
    // Each endless request is refused once its time is up, and only then jp's next one gets
    // its turn.
    for (_send, mut recv) in slow {
        let buf = recv.read_to_end(1 << 16).await.unwrap();
        let m = refused_with(frame::decode_frame(&buf).ok(), ErrorCode::LimitExceeded);
        assert!(m.contains("did not arrive whole within 1s"), "{m}");
    }
    // Its streams freed, jp is served again on the same connection.
    assert!(matches!(
        ask(
            a,
            &PartnerRequest::GetDescriptor {
                collection: "phones".into()
            }
        )
        .await,
        Some(cordon_protocol::messages::PartnerResponse::Descriptor(_))
    ));

    us_is_served(&f, 5).await;
    f.fed.shutdown().await.unwrap();
}
