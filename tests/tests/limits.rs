//! Resource limits (`[limits]` of node.toml): a partner that floods a node with connections,
//! streams, oversized and endless requests, or follow-up requests, is throttled or refused
//! with a clear reason, while a well-behaved partner's queries keep succeeding; and anyone
//! flooding it with handshakes it never finishes is refused beyond `max_handshakes`.

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

use support::{ask, connect, exchange, partner_endpoint, refused_with};

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

/// A QUIC client that sends its first handshake flight and then goes quiet, as a flood of
/// unauthenticated clients would: the server has begun a handshake it must wait for. Driven by
/// hand (quinn-proto, a plain UDP socket) so that it stays quiet exactly until [`finish`].
struct HalfOpen {
    ep: quinn_proto::Endpoint,
    handle: quinn_proto::ConnectionHandle,
    conn: quinn_proto::Connection,
    sock: std::net::UdpSocket,
}

impl HalfOpen {
    fn start(cfg: quinn::ClientConfig, server: std::net::SocketAddr, name: &str) -> HalfOpen {
        let mut ep =
            quinn_proto::Endpoint::new(std::sync::Arc::new(Default::default()), None, false, None);
        let (handle, conn) = ep
            .connect(std::time::Instant::now(), cfg, server, name)
            .unwrap();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut h = HalfOpen {
            ep,
            handle,
            conn,
            sock,
        };
        h.flush();
        h
    }

    fn flush(&mut self) {
        let mut buf = Vec::new();
        while let Some(t) = self
            .conn
            .poll_transmit(std::time::Instant::now(), 1, &mut buf)
        {
            self.sock.send_to(&buf[..t.size], t.destination).unwrap();
            buf.clear();
        }
    }

    /// Answers the server's datagrams until the handshake completes (the read time-out only
    /// turns a hang into a failure).
    fn finish(mut self) {
        let bound = std::time::Duration::from_secs(20);
        self.sock.set_read_timeout(Some(bound)).unwrap();
        let mut data = vec![0u8; 65_536];
        loop {
            let (n, from) = self
                .sock
                .recv_from(&mut data)
                .expect("the server stopped answering a handshake");
            let mut out = Vec::new();
            let now = std::time::Instant::now();
            let datagram = bytes::BytesMut::from(&data[..n]);
            if let Some(quinn_proto::DatagramEvent::ConnectionEvent(_, ev)) =
                self.ep.handle(now, from, None, None, datagram, &mut out)
            {
                self.conn.handle_event(ev);
            }
            while let Some(ev) = self.conn.poll_endpoint_events() {
                if let Some(ev) = self.ep.handle_event(self.handle, ev) {
                    self.conn.handle_event(ev);
                }
            }
            self.flush();
            while let Some(ev) = self.conn.poll() {
                match ev {
                    quinn_proto::Event::Connected => return,
                    quinn_proto::Event::ConnectionLost { reason } => {
                        panic!("the half-open handshake failed: {reason}")
                    }
                    _ => {}
                }
            }
        }
    }
}

fn refused_at_once(e: &quinn::ConnectionError) -> bool {
    matches!(e, quinn::ConnectionError::ConnectionClosed(c)
        if c.error_code == quinn_proto::TransportErrorCode::CONNECTION_REFUSED)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_beyond_the_limit_are_refused_and_open_sessions_go_on() {
    let f = Fed::start(&["th", "jp", "us"], |c| {
        c.replace("max_handshakes = 256", "max_handshakes = 2")
    });
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..200))
        .await
        .unwrap();
    // us's node opens its connection to th (and keeps it open for its next queries).
    us_is_served(&f, 0).await;

    // Two handshakes begun and never finished take every slot.
    let th = f.fed.agency("th").unwrap().addr;
    let (ep, cfg) = partner_endpoint(&f.fed, "jp", "th");
    let half: Vec<HalfOpen> = (0..2)
        .map(|_| HalfOpen::start(cfg.clone(), th, "th"))
        .collect();
    // A third is refused at once, even from a partner. The half-open ones may still be in
    // flight to the server, so a connection accepted before they arrive is closed and tried
    // again: what must happen is a refusal, promptly.
    let mut refused = None;
    for _ in 0..50 {
        match ep.connect_with(cfg.clone(), th, "th").unwrap().await {
            Err(e) if refused_at_once(&e) => {
                refused = Some(e);
                break;
            }
            Err(e) => panic!("a handshake beyond the limit failed otherwise: {e}"),
            Ok(c) => c.close(0u32.into(), b"again"),
        }
    }
    assert!(
        refused.is_some(),
        "no handshake was refused with 2 of 2 in progress"
    );
    // A partner whose session is already open is served all along.
    us_is_served(&f, 1).await;

    // Once the half-open handshakes complete, their slots are free again.
    tokio::task::spawn_blocking(move || half.into_iter().for_each(HalfOpen::finish))
        .await
        .unwrap();
    let mut served = None;
    for _ in 0..50 {
        match ep.connect_with(cfg.clone(), th, "th").unwrap().await {
            Ok(c) => {
                served = Some(c);
                break;
            }
            // The server frees a slot just after the handshake it held completes.
            Err(e) if refused_at_once(&e) => tokio::task::yield_now().await,
            Err(e) => panic!("a handshake after the flood failed: {e}"),
        }
    }
    let conn = served.expect("handshakes stayed refused after the half-open ones completed");
    assert!(matches!(
        ask(
            &conn,
            &PartnerRequest::GetDescriptor {
                collection: "phones".into()
            }
        )
        .await,
        Some(cordon_protocol::messages::PartnerResponse::Descriptor(_))
    ));
    // The operator sees the refusals, counted as `busy`.
    let c = client::ControlClient::connect(&Profile::load(&f.operator("th")).unwrap())
        .await
        .unwrap();
    let ops = c.status().await.unwrap().operations.unwrap();
    c.close().await;
    assert!(
        ops.handshake_failures
            .iter()
            .any(|h| h.reason == "busy" && h.count >= 1),
        "{:?}",
        ops.handshake_failures
    );
    f.fed.shutdown().await.unwrap();
}
