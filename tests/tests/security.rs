//! Who may connect, and what a malformed or hostile peer can do (nothing but get an error).

mod support;

use std::sync::Arc;

use cordon_node::admin::{self, InitOptions};
use cordon_node::control::PartnerOutcome;
use cordon_node::pki::Role;
use cordon_node::profile::Profile;
use cordon_node::{Config, Node, SystemClock};
use cordon_protocol::frame;
use cordon_protocol::messages::{PartnerRequest, PartnerResponse};
use cordon_protocol::ErrorCode;
use cordon_tests::{outcome, phones, query, Fed};
use support::{connect, exchange, refused_with};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_an_untrusted_ca_are_refused() {
    let f = Fed::start(&["th", "jp"], |c| {
        c.replace("connect_timeout = \"5s\"", "connect_timeout = \"2s\"")
    });
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..10))
        .await
        .unwrap();
    let th = f.fed.agency("th").unwrap().clone();

    // A stranger agency `xx` trusts th, but th does not trust xx.
    let xdir = f.dir.path().join("xx");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let xaddr = sock.local_addr().unwrap();
    let xcfg = admin::init_node(
        &InitOptions {
            name: "xx".into(),
            dir: xdir.clone(),
            listen: xaddr,
            public_address: None,
            region: Some("TH".into()),
        },
        now(),
    )
    .unwrap();
    admin::add_partner(&xcfg, &admin::read_card(&th.dir.join("card.toml")).unwrap()).unwrap();
    let xinv = admin::add_user(&xcfg, "mallory", Role::Investigator, now()).unwrap();
    let xnode = Node::bind_with(
        Config::load(&xcfg).unwrap(),
        Arc::new(SystemClock),
        Some(sock),
    )
    .unwrap();
    let stop = tokio_util_stop();
    let s2 = stop.clone();
    let task = tokio::spawn(async move { xnode.run(async move { s2.notified().await }).await });

    // Partner ALPN: th refuses xx's node certificate during the handshake.
    let r = query(&xinv, "phones", &phones(0..3), &["th"])
        .await
        .unwrap();
    match outcome(&r, "th") {
        PartnerOutcome::Failed { code, .. } => {
            assert!(code == "unreachable" || code == "timeout", "{code}")
        }
        o => panic!("th answered an untrusted node: {o:?}"),
    }

    // Control ALPN: a user certificate from xx's CA, presented to th, is refused.
    let mut p = Profile::load(&xinv).unwrap();
    p.address = th.addr;
    p.node = "th".into();
    p.ca_cert = th.dir.join("ca.pem");
    let refused = match cordon_node::client::ControlClient::connect(&p).await {
        Err(_) => true,
        Ok(c) => c.status().await.is_err(),
    };
    assert!(refused, "th served a user certified by an untrusted CA");

    // A partner's node certificate on the control ALPN is refused too (wrong role).
    let jp = f.fed.agency("jp").unwrap();
    let mut p = Profile::load(&f.investigator("th")).unwrap();
    p.cert = jp.dir.join("node.pem");
    p.key = jp.dir.join("node.key");
    p.ca_cert = th.dir.join("ca.pem");
    let refused = match cordon_node::client::ControlClient::connect(&p).await {
        Err(_) => true,
        Ok(c) => c.status().await.is_err(),
    };
    assert!(refused, "th let a partner node in on the control channel");

    stop.notify_one();
    task.await.unwrap().unwrap();
    f.fed.shutdown().await.unwrap();
}

fn tokio_util_stop() -> Arc<tokio::sync::Notify> {
    Arc::new(tokio::sync::Notify::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_hostile_requests_only_end_their_stream() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    let (_ep, conn) = connect(&f.fed, "jp", "th").await;

    // Garbage CBOR in a well-formed frame.
    let mut garbage = frame::header(6).unwrap().to_vec();
    garbage.extend_from_slice(&[0xff, 0x00, 0x13, 0x37, 0xde, 0xad]);
    refused_with(exchange(&conn, &garbage).await, ErrorCode::BadRequest);
    // A frame announcing more than the limit: refused before anything is allocated.
    let mut huge = vec![frame::FRAME_VERSION];
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    refused_with(exchange(&conn, &huge).await, ErrorCode::BadRequest);
    // An unknown frame version.
    refused_with(
        exchange(&conn, &[9, 0, 0, 0, 1, 0]).await,
        ErrorCode::BadRequest,
    );
    // A truncated frame.
    let ok = frame::encode(&PartnerRequest::GetDescriptor {
        collection: "phones".into(),
    })
    .unwrap();
    refused_with(
        exchange(&conn, &ok[..ok.len() - 2]).await,
        ErrorCode::BadRequest,
    );
    // Trailing bytes after a valid request.
    let mut trailing = ok.clone();
    trailing.push(0);
    let _ = exchange(&conn, &trailing).await; // either refused or the trailing byte ignored as a second frame

    // Invalid curve points: the identity, a non-canonical encoding, a ragged batch.
    let Some(PartnerResponse::Descriptor(d)) = exchange(&conn, &ok).await else {
        panic!("no descriptor")
    };
    let epoch = d.descriptor_unverified().unwrap().epoch;
    for blinded in [vec![0u8; 32], vec![0xffu8; 32], vec![1u8; 33], vec![]] {
        let req = PartnerRequest::Evaluate(cordon_protocol::messages::EvaluateRequest {
            query_id: serde_bytes::ByteArray::new([1; 16]),
            collection: "phones".into(),
            epoch,
            blinded,
            mode: Default::default(),
            audit: None,
        });
        refused_with(
            exchange(&conn, &frame::encode(&req).unwrap()).await,
            ErrorCode::BadRequest,
        );
    }
    // A stale epoch and an unknown collection get their own codes.
    let stale = PartnerRequest::GetFilter {
        collection: "phones".into(),
        epoch: epoch + 7,
    };
    refused_with(
        exchange(&conn, &frame::encode(&stale).unwrap()).await,
        ErrorCode::StaleEpoch,
    );
    let unknown = PartnerRequest::GetDescriptor {
        collection: "nope".into(),
    };
    refused_with(
        exchange(&conn, &frame::encode(&unknown).unwrap()).await,
        ErrorCode::UnknownCollection,
    );

    // After all that, th still serves: the same connection and a real query from jp both work.
    assert!(matches!(
        exchange(&conn, &ok).await,
        Some(PartnerResponse::Descriptor(_))
    ));
    let r = query(&f.investigator("jp"), "phones", &phones(50..150), &["th"])
        .await
        .unwrap();
    assert_eq!(
        cordon_tests::hit_items(&r, "th", &phones(50..150))
            .unwrap()
            .len(),
        50
    );
    f.fed.shutdown().await.unwrap();
}
