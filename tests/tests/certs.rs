//! Certificates a node must refuse at the TLS handshake: expired, not yet valid, revoked,
//! self-signed, and from the wrong CA, each presented to a running node by a partner node (partner
//! channel) and by a person (control channel), and, where it costs little, presented by a
//! partner's server to this node as the querier.
//!
//! A refused handshake is recognised by its TLS alert, carried in QUIC's CONNECTION_CLOSE as
//! crypto error 0x100 + alert: `certificate_expired` (45, also for not yet valid),
//! `certificate_revoked` (44), `unknown_ca` (48), `decrypt_error` (51: a CA with the right name
//! and the wrong key). After each refusal the node still serves a good query.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cordon_node::admin;
use cordon_node::control::{ControlRequest, ControlResponse, PartnerOutcome};
use cordon_node::local::Agency;
use cordon_node::pki::{self, CertifiedKey, Role};
use cordon_node::revocation::{self, Revocations};
use cordon_node::tls::{self, TlsIdentity};
use cordon_node::Config;
use cordon_tests::{outcome, phones, query, Fed};
use rustls::pki_types::CertificateDer;
use time::{Duration as Days, OffsetDateTime};

const CERTIFICATE_REVOKED: u8 = 44;
const CERTIFICATE_EXPIRED: u8 = 45;
const UNKNOWN_CA: u8 = 48;
const DECRYPT_ERROR: u8 = 51;
/// Bounds the wait for the server's verdict; a refused handshake ends in milliseconds.
const VERDICT_WITHIN: Duration = Duration::from_secs(20);

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn read(a: &Agency, file: &str) -> String {
    std::fs::read_to_string(a.dir.join(file)).unwrap()
}

fn ca_of(a: &Agency) -> CertifiedKey {
    CertifiedKey {
        cert_pem: read(a, "ca.pem"),
        key_pem: read(a, "ca.key"),
    }
}

fn ca_der(a: &Agency) -> CertificateDer<'static> {
    pki::parse_cert_pem(&read(a, "ca.pem")).unwrap().0
}

fn node_identity(a: &Agency) -> TlsIdentity {
    TlsIdentity::from_pem(&read(a, "node.pem"), &read(a, "node.key")).unwrap()
}

fn identity(ck: &CertifiedKey) -> TlsIdentity {
    TlsIdentity::from_certified(ck).unwrap()
}

/// The TLS alert a QUIC connection was closed with, if it was a handshake failure.
fn alert(e: &quinn::ConnectionError) -> Option<u8> {
    match e {
        quinn::ConnectionError::ConnectionClosed(c) => cordon_node::net::tls_alert(c.error_code),
        quinn::ConnectionError::TransportError(t) => cordon_node::net::tls_alert(t.code),
        _ => None,
    }
}

/// Connects with `cfg` to `addr` as `server_name`; returns the alert the handshake ended with,
/// or None if the connection was accepted (the client learns of a refusal of its own
/// certificate only after its side of the handshake, so wait for the connection's end).
async fn handshake_alert(cfg: rustls::ClientConfig, addr: SocketAddr, name: &str) -> Option<u8> {
    let ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let cfg = tls::quinn_client_config(cfg).unwrap();
    let conn = match ep.connect_with(cfg, addr, name).unwrap().await {
        Ok(c) => c,
        Err(e) => return alert(&e),
    };
    // A one-byte request: a server that accepted the certificate answers it (with an error
    // frame), one that refused it has closed the connection with the alert.
    let got = match conn.open_bi().await {
        Err(e) => alert(&e),
        Ok((mut send, mut recv)) => {
            let _ = send.write_all(&[0]).await;
            let _ = send.finish();
            match tokio::time::timeout(VERDICT_WITHIN, recv.read_to_end(1 << 20)).await {
                Ok(Ok(_)) => None,
                _ => conn.close_reason().and_then(|e| alert(&e)),
            }
        }
    };
    ep.close(0u32.into(), b"");
    got
}

/// jp presents `id` as its node certificate to th (partner channel).
async fn as_partner(f: &Fed, id: &TlsIdentity) -> Option<u8> {
    let th = f.fed.agency("th").unwrap();
    let cfg = tls::partner_client_config(id, &ca_der(th)).unwrap();
    handshake_alert(cfg, th.addr, "th").await
}

/// A person presents `id` to th (control channel).
async fn as_user(f: &Fed, id: &TlsIdentity) -> Option<u8> {
    let th = f.fed.agency("th").unwrap();
    let cfg = tls::control_client_config(id, &ca_der(th)).unwrap();
    handshake_alert(cfg, th.addr, "th").await
}

/// th, as the querier, connects to a server for "jp" presenting `id`, with the client
/// configuration th's node uses (jp's CA, th's node certificate, th's revocation list).
async fn as_partner_server(f: &Fed, id: &TlsIdentity, revoked: Arc<Revocations>) -> Option<u8> {
    let (th, jp) = (f.fed.agency("th").unwrap(), f.fed.agency("jp").unwrap());
    let partners = [tls::Partner {
        name: "th".into(),
        ca_cert: ca_der(th),
    }];
    let verifier = Arc::new(tls::PeerVerifier::new("jp", &ca_der(jp), &partners).unwrap());
    let server = tls::quinn_server_config(id, verifier).unwrap();
    let ep = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = ep.local_addr().unwrap();
    let accept = ep.clone();
    tokio::spawn(async move {
        while let Some(i) = accept.accept().await {
            tokio::spawn(async move {
                if let Ok(c) = i.await {
                    c.closed().await;
                }
            });
        }
    });
    let cfg = tls::partner_client_config_checked(&node_identity(th), &ca_der(jp), revoked).unwrap();
    let got = handshake_alert(cfg, addr, "jp").await;
    ep.close(0u32.into(), b"");
    got
}

/// Presents `node` as jp's client and as jp's server, and `user` as a user of th: each must be
/// refused in the handshake with `alert`. `what` names the certificate in failure messages.
async fn refused_three_ways(
    f: &Fed,
    node: &TlsIdentity,
    user: &TlsIdentity,
    alert: u8,
    what: &str,
) {
    assert_eq!(
        as_partner(f, node).await,
        Some(alert),
        "th let in {what} jp"
    );
    assert_eq!(as_user(f, user).await, Some(alert), "th let in {what} user");
    let got = as_partner_server(f, node, Arc::default()).await;
    assert_eq!(got, Some(alert), "th accepted {what} jp server");
}

/// th still answers jp's investigator.
async fn still_serves(f: &Fed) {
    let r = query(&f.investigator("jp"), "phones", &phones(0..5), &["th"])
        .await
        .unwrap();
    assert!(
        matches!(outcome(&r, "th"), PartnerOutcome::Answered { .. }),
        "th stopped answering its partner: {:?}",
        outcome(&r, "th")
    );
}

async fn federation() -> Fed {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    cordon_tests::import(&f.operator("th"), "phones", "phone", &phones(0..10))
        .await
        .unwrap();
    cordon_tests::import(&f.operator("jp"), "phones", "phone", &phones(0..10))
        .await
        .unwrap();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_at_the_handshake() {
    let f = federation().await;
    let (th, jp) = (f.fed.agency("th").unwrap(), f.fed.agency("jp").unwrap());
    let long_ago = now() - Days::days(800);
    let node = identity(&pki::issue_node_cert(&ca_of(jp), "jp", long_ago).unwrap());
    let user =
        pki::issue_user_cert(&ca_of(th), "th", "old.laptop", Role::Operator, long_ago).unwrap();
    refused_three_ways(
        &f,
        &node,
        &identity(&user),
        CERTIFICATE_EXPIRED,
        "an expired",
    )
    .await;
    still_serves(&f).await;
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_yet_valid_certificate_is_refused_at_the_handshake() {
    let f = federation().await;
    let (th, jp) = (f.fed.agency("th").unwrap(), f.fed.agency("jp").unwrap());
    // Beyond the 5 minutes of clock skew a certificate's start is backdated by.
    let tomorrow = now() + Days::days(1);
    let node = identity(&pki::issue_node_cert(&ca_of(jp), "jp", tomorrow).unwrap());
    let user =
        pki::issue_user_cert(&ca_of(th), "th", "early", Role::Investigator, tomorrow).unwrap();
    refused_three_ways(&f, &node, &identity(&user), CERTIFICATE_EXPIRED, "a future").await;
    still_serves(&f).await;
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_refused_at_the_handshake() {
    let f = federation().await;
    // Every field right (names, OU, key usages), but signed by its own key.
    let self_signed = |cn: &str, ou: &str, dns: Vec<String>| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::new(dns).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, ou);
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.self_signed(&key).unwrap();
        TlsIdentity::from_pem(&cert.pem(), &key.serialize_pem()).unwrap()
    };
    let node = self_signed("jp", "node", vec!["jp".into()]);
    let user = self_signed("ops", "operator", vec![]);
    refused_three_ways(&f, &node, &user, UNKNOWN_CA, "a self-signed").await;
    still_serves(&f).await;
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_the_wrong_ca_is_refused_at_the_handshake() {
    let f = federation().await;
    // A stranger's CA, and an impostor CA that copies jp's CA name but not its key.
    for (ca_name, expected) in [("xx", UNKNOWN_CA), ("jp", DECRYPT_ERROR)] {
        let ca = pki::new_ca(ca_name, now()).unwrap();
        let node = identity(&pki::issue_node_cert(&ca, "jp", now()).unwrap());
        assert_eq!(as_partner(&f, &node).await, Some(expected), "CA {ca_name}");
        let user = pki::issue_user_cert(&ca, "th", "ops", Role::Operator, now()).unwrap();
        assert!(
            matches!(
                as_user(&f, &identity(&user)).await,
                Some(UNKNOWN_CA | DECRYPT_ERROR)
            ),
            "th let in a user certified by CA {ca_name}"
        );
        let alert = as_partner_server(&f, &node, Arc::default()).await;
        assert_eq!(
            alert,
            Some(expected),
            "th accepted a jp server from CA {ca_name}"
        );
    }
    still_serves(&f).await;
    f.fed.shutdown().await.unwrap();
}

/// Applies th's node.toml to the running th, as `cordon policy reload` does.
async fn reload(f: &Fed) {
    let p = cordon_node::profile::Profile::load(&f.operator("th")).unwrap();
    let c = cordon_node::client::ControlClient::connect(&p)
        .await
        .unwrap();
    let r = c.call(&ControlRequest::PolicyReload).await.unwrap();
    assert!(
        matches!(r, ControlResponse::PolicyReloaded(ref r) if r.changed),
        "the reload applied no change: {r:?}"
    );
    c.close().await;
}

fn answered(r: &cordon_node::control::QueryReply, partner: &str) -> bool {
    matches!(outcome(r, partner), PartnerOutcome::Answered { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_refused_at_the_handshake_in_both_directions() {
    let f = federation().await;
    let (th, jp) = (f.fed.agency("th").unwrap(), f.fed.agency("jp").unwrap());
    let cfg_path = th.config_path.clone();
    // Open connections both ways first: a revocation must also end those.
    let r = query(&f.investigator("th"), "phones", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(answered(&r, "jp"));
    still_serves(&f).await;

    // A second investigator loses their laptop; jp's node key leaks. th's operator revokes
    // both certificates.
    let stolen = admin::add_user(&cfg_path, "stolen.laptop", Role::Investigator, now()).unwrap();
    let stolen_dir = stolen.parent().unwrap();
    let inv_pem = std::fs::read_to_string(stolen_dir.join("cert.pem")).unwrap();
    let inv_key = std::fs::read_to_string(stolen_dir.join("key.pem")).unwrap();
    let inv_id = TlsIdentity::from_pem(&inv_pem, &inv_key).unwrap();
    assert_eq!(as_user(&f, &inv_id).await, None, "a valid user was refused");
    let jp_node = node_identity(jp);
    let jp_fp = pki::fingerprint(jp_node.leaf());
    assert!(
        revocation::revoke_in_config(&cfg_path, &jp_fp, "node key leaked", Some("jp")).unwrap()
    );
    let inv_fp = pki::fingerprint(inv_id.leaf());
    assert!(revocation::revoke_in_config(&cfg_path, &inv_fp, "laptop stolen", None).unwrap());
    assert!(
        !revocation::revoke_in_config(&cfg_path, &inv_fp, "again", None).unwrap(),
        "a fingerprint already listed was listed twice"
    );
    let bad = revocation::revoke_in_config(&cfg_path, &inv_fp, " ", None).unwrap_err();
    assert!(bad.to_string().contains("reason is required"), "{bad}");
    reload(&f).await;

    // th as the server: jp's node and the investigator are refused at the handshake.
    assert_eq!(as_partner(&f, &jp_node).await, Some(CERTIFICATE_REVOKED));
    assert_eq!(as_user(&f, &inv_id).await, Some(CERTIFICATE_REVOKED));
    query(&stolen, "phones", &phones(0..3), &["jp"])
        .await
        .expect_err("th served a revoked investigator");
    // jp's open connection is closed at its next request.
    let r = query(&f.investigator("jp"), "phones", &phones(0..3), &["th"])
        .await
        .unwrap();
    assert!(
        !answered(&r, "th"),
        "th answered jp after revoking its certificate"
    );

    // th as the querier: jp's server presents the revoked certificate.
    let list = Config::load(&cfg_path).unwrap().revoked;
    let revoked = Arc::new(Revocations::from_config(&list).unwrap());
    let alert = as_partner_server(&f, &jp_node, revoked).await;
    assert_eq!(alert, Some(CERTIFICATE_REVOKED));
    // th's open connection to jp is dropped, and the new handshake refused.
    let r = query(&f.investigator("th"), "phones", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(!answered(&r, "jp"), "th queried jp's revoked node");

    // The list is th's own: lifting it (edit node.toml, reload) lets both in again.
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let cut = text.find("\n[[revoked]]").unwrap();
    std::fs::write(&cfg_path, &text[..cut]).unwrap();
    reload(&f).await;
    let r = query(&f.investigator("th"), "phones", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(answered(&r, "jp"), "{:?}", outcome(&r, "jp"));
    still_serves(&f).await;
    f.fed.shutdown().await.unwrap();
}
