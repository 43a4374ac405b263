//! Raw partner connections, as a hostile partner opens them (shared by `hostile.rs` and
//! `limits.rs`).

#![allow(dead_code)]

use cordon_node::local::LocalFederation;
use cordon_node::{pki, tls};
use cordon_protocol::frame;
use cordon_protocol::messages::{PartnerRequest, PartnerResponse};
use cordon_protocol::ErrorCode;

/// A client endpoint with `from`'s node certificate, trusting `to`'s CA.
pub fn partner_endpoint(
    fed: &LocalFederation,
    from: &str,
    to: &str,
) -> (quinn::Endpoint, quinn::ClientConfig) {
    let to = fed.agency(to).unwrap();
    let from = fed.agency(from).unwrap();
    let id = tls::TlsIdentity::from_pem(
        &std::fs::read_to_string(from.dir.join("node.pem")).unwrap(),
        &std::fs::read_to_string(from.dir.join("node.key")).unwrap(),
    )
    .unwrap();
    let (ca, _) =
        pki::parse_cert_pem(&std::fs::read_to_string(to.dir.join("ca.pem")).unwrap()).unwrap();
    let cfg = tls::quinn_client_config(tls::partner_client_config(&id, &ca).unwrap()).unwrap();
    let ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    (ep, cfg)
}

/// One raw partner connection from `from` to `to`.
pub async fn connect(
    fed: &LocalFederation,
    from: &str,
    to: &str,
) -> (quinn::Endpoint, quinn::Connection) {
    let (ep, cfg) = partner_endpoint(fed, from, to);
    let addr = fed.agency(to).unwrap().addr;
    let conn = ep.connect_with(cfg, addr, to).unwrap().await.unwrap();
    (ep, conn)
}

/// Sends `bytes` on a new stream, finishes it, and decodes the one frame answered.
pub async fn exchange(conn: &quinn::Connection, bytes: &[u8]) -> Option<PartnerResponse> {
    let (mut send, mut recv) = conn.open_bi().await.ok()?;
    send.write_all(bytes).await.ok()?;
    let _ = send.finish();
    let buf = recv.read_to_end(16 << 20).await.ok()?;
    frame::decode_frame(&buf).ok()
}

/// Encodes `msg` and [`exchange`]s it.
pub async fn ask(conn: &quinn::Connection, msg: &PartnerRequest) -> Option<PartnerResponse> {
    exchange(conn, &frame::encode(msg).unwrap()).await
}

/// Asserts a refusal with `code`, returning its sentence.
#[track_caller]
pub fn refused_with(r: Option<PartnerResponse>, code: ErrorCode) -> String {
    match r {
        Some(PartnerResponse::Error(e)) => {
            assert_eq!(e.code, code, "{e}");
            e.message
        }
        other => panic!("expected a {code} refusal, got {other:?}"),
    }
}
