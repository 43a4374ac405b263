//! Handshakes between in-memory rustls endpoints (and one over QUIC on loopback): who is
//! accepted, who is refused, and with which error.

use super::*;
use rustls::{CertificateError, ClientConnection, ServerConnection};
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// An agency: its CA and node certificate.
struct Agency {
    name: String,
    ca: CertifiedKey,
    node: TlsIdentity,
}

impl Agency {
    fn new(name: &str) -> Self {
        let ca = pki::new_ca(name, now()).unwrap();
        let node = pki::issue_node_cert(&ca, name, now()).unwrap();
        Agency {
            name: name.to_string(),
            node: TlsIdentity::from_certified(&node).unwrap(),
            ca,
        }
    }
    fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.cert_der().unwrap()
    }
    fn partner(&self) -> Partner {
        Partner {
            name: self.name.clone(),
            ca_cert: self.ca_der(),
        }
    }
    fn user(&self, user: &str, role: Role) -> TlsIdentity {
        let ck = pki::issue_user_cert(&self.ca, &self.name, user, role, now()).unwrap();
        TlsIdentity::from_certified(&ck).unwrap()
    }
}

#[derive(Debug)]
enum Failed {
    Server(rustls::Error),
    Client(rustls::Error),
}

/// Runs a full TLS 1.3 handshake in memory. The server's verdict on the client certificate
/// arrives after the client thinks it is done, so loop until nobody has anything to send.
fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), Failed> {
    for _ in 0..50 {
        let mut moved = false;
        while client.wants_write() {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
            }
            server.process_new_packets().map_err(Failed::Server)?;
            moved = true;
        }
        while server.wants_write() {
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
            }
            client.process_new_packets().map_err(Failed::Client)?;
            moved = true;
        }
        if !moved {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    Ok(())
}

/// Server side of `home`, trusting `partners`.
fn server_for(
    home: &Agency,
    partners: &[Partner],
) -> (Arc<PeerVerifier>, Arc<rustls::ServerConfig>) {
    let v = Arc::new(PeerVerifier::new(&home.name, &home.ca_der(), partners).unwrap());
    let cfg = server_config(&home.node, v.clone()).unwrap();
    (v, Arc::new(cfg))
}

/// Connects `client_cfg` to `server_cfg` under `name`; on success returns the peer chain
/// the server saw and the negotiated ALPN.
fn connect(
    client_cfg: rustls::ClientConfig,
    name: &str,
    server_cfg: &Arc<rustls::ServerConfig>,
) -> Result<(Vec<CertificateDer<'static>>, Option<Vec<u8>>), Failed> {
    let mut c = ClientConnection::new(Arc::new(client_cfg), server_name(name).unwrap()).unwrap();
    let mut s = ServerConnection::new(server_cfg.clone()).unwrap();
    handshake(&mut c, &mut s)?;
    let chain = s.peer_certificates().unwrap().to_vec();
    Ok((chain, s.alpn_protocol().map(|p| p.to_vec())))
}

fn refused_by_server(r: Result<impl fmt::Debug, Failed>) -> rustls::Error {
    match r {
        Err(Failed::Server(e)) => e,
        other => panic!("expected the server to refuse, got {other:?}"),
    }
}

fn is_app_failure(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
    )
}

fn is_unknown_issuer(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

#[test]
fn user_of_own_ca_is_accepted_with_role() {
    let th = Agency::new("th");
    let (v, scfg) = server_for(&th, &[]);
    let user = th.user("somchai.k", Role::Investigator);
    let ccfg = control_client_config(&user, &th.ca_der()).unwrap();
    let (chain, alpn) = connect(ccfg, "th", &scfg).unwrap();
    assert_eq!(alpn.as_deref(), Some(ALPN_CONTROL));
    let id = v.identify(&chain).unwrap();
    assert_eq!(
        id,
        PeerIdentity::User {
            name: "somchai.k".into(),
            role: Role::Investigator,
            fingerprint: pki::fingerprint(user.leaf()),
        }
    );
    id.check_alpn(alpn.as_deref()).unwrap();
    assert!(id.check_alpn(Some(ALPN_PARTNER)).is_err());

    let op = th.user("ops", Role::Operator);
    let (chain, _) = connect(
        control_client_config(&op, &th.ca_der()).unwrap(),
        "th",
        &scfg,
    )
    .unwrap();
    assert!(matches!(
        v.identify(&chain).unwrap(),
        PeerIdentity::User {
            role: Role::Operator,
            ..
        }
    ));
}

#[test]
fn partner_node_is_accepted_and_identified() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let us = Agency::new("us.fbi");
    let (v, scfg) = server_for(&th, &[us.partner(), jp.partner()]);
    let ccfg = partner_client_config(&jp.node, &th.ca_der()).unwrap();
    let (chain, alpn) = connect(ccfg, "th", &scfg).unwrap();
    assert_eq!(alpn.as_deref(), Some(ALPN_PARTNER));
    let id = v.identify(&chain).unwrap();
    assert_eq!(
        id,
        PeerIdentity::Partner {
            name: "jp.npa".into(),
            fingerprint: pki::fingerprint(jp.node.leaf()),
        }
    );
    id.check_alpn(alpn.as_deref()).unwrap();
    let e = id.check_alpn(Some(ALPN_CONTROL)).unwrap_err().to_string();
    assert!(e.contains("partner \"jp.npa\""), "{e}");
    assert_eq!(v.partner_names(), vec!["us.fbi", "jp.npa"]);
}

#[test]
fn untrusted_ca_is_refused() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let stranger = Agency::new("kh");
    let (v, scfg) = server_for(&th, &[jp.partner()]);
    let ccfg = partner_client_config(&stranger.node, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(is_unknown_issuer(&e), "{e:?}");
    let e = v.identify(&[stranger.node.leaf().clone()]).unwrap_err();
    assert!(e.to_string().contains("neither this node's CA"), "{e}");

    // Same names as the partner, different CA key: webpki finds the issuer by name, then
    // the signature check fails.
    let impostor = Agency::new("jp.npa");
    let ccfg = partner_client_config(&impostor.node, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(
        matches!(
            e,
            rustls::Error::InvalidCertificate(CertificateError::BadSignature)
        ),
        "{e:?}"
    );
    let e = v.identify(&[impostor.node.leaf().clone()]).unwrap_err();
    assert!(e.to_string().contains("did not sign it"), "{e}");
}

#[test]
fn partner_ca_cannot_vouch_for_another_name() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let us = Agency::new("us.fbi");
    let (v, scfg) = server_for(&th, &[jp.partner(), us.partner()]);
    // jp's CA issues a node certificate naming another partner, and one naming a stranger.
    for name in ["us.fbi", "kh"] {
        let forged = pki::issue_node_cert(&jp.ca, name, now()).unwrap();
        let forged = TlsIdentity::from_certified(&forged).unwrap();
        let ccfg = partner_client_config(&forged, &th.ca_der()).unwrap();
        let e = refused_by_server(connect(ccfg, "th", &scfg));
        assert!(is_app_failure(&e), "{name}: {e:?}");
        let e = v
            .identify(&[forged.leaf().clone()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not name \"jp.npa\""), "{e}");
    }
}

#[test]
fn expired_and_not_yet_valid_are_refused() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (_, scfg) = server_for(&th, &[jp.partner()]);

    let old = now() - time::Duration::days(400);
    let expired = pki::issue_user_cert(&th.ca, "th", "old", Role::Investigator, old).unwrap();
    let ccfg = control_client_config(
        &TlsIdentity::from_certified(&expired).unwrap(),
        &th.ca_der(),
    )
    .unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(
        matches!(
            e,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "{e:?}"
    );

    let future = now() + time::Duration::days(1);
    let early = pki::issue_node_cert(&jp.ca, "jp.npa", future).unwrap();
    let ccfg =
        partner_client_config(&TlsIdentity::from_certified(&early).unwrap(), &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(
        matches!(
            e,
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
            )
        ),
        "{e:?}"
    );
}

#[test]
fn self_signed_leaf_is_refused() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (_, scfg) = server_for(&th, &[jp.partner()]);
    // A self-signed certificate with the partner's name and every other field right.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["jp.npa".to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "node");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jp.npa");
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key).unwrap();
    let id = TlsIdentity::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
    let ccfg = partner_client_config(&id, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(is_unknown_issuer(&e), "{e:?}");
}

#[test]
fn revoked_certificates_are_refused_both_ways() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, scfg) = server_for(&th, &[jp.partner()]);
    let user = th.user("somchai.k", Role::Investigator);
    let revoke = |ids: &[&TlsIdentity]| {
        let list: Vec<_> = ids
            .iter()
            .map(|i| crate::revocation::RevokedCert {
                fingerprint: hex(&pki::fingerprint(i.leaf())),
                reason: "key leaked".into(),
            })
            .collect();
        v.revocations().replace(&list).unwrap();
    };
    revoke(&[&user, &jp.node]);
    let is_revoked = |e: &rustls::Error| {
        matches!(
            e,
            rustls::Error::InvalidCertificate(CertificateError::Revoked)
        )
    };
    let ccfg = control_client_config(&user, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(is_revoked(&e), "{e:?}");
    let e = v.identify(&[user.leaf().clone()]).unwrap_err().to_string();
    assert!(e.contains("revoked") && e.contains("key leaked"), "{e}");
    let ccfg = partner_client_config(&jp.node, &th.ca_der()).unwrap();
    assert!(is_revoked(&refused_by_server(connect(ccfg, "th", &scfg))));

    // th as the querier: jp's server presents the revoked node certificate.
    let (_, jp_server) = server_for(&jp, &[th.partner()]);
    let ccfg =
        partner_client_config_checked(&th.node, &jp.ca_der(), v.revocations().clone()).unwrap();
    match connect(ccfg, "jp.npa", &jp_server) {
        Err(Failed::Client(e)) => assert!(is_revoked(&e), "{e:?}"),
        other => panic!("th accepted jp's revoked server certificate: {other:?}"),
    }

    // Lifting the revocation lets both in again, on the next handshake.
    revoke(&[]);
    let ccfg = control_client_config(&user, &th.ca_der()).unwrap();
    connect(ccfg, "th", &scfg).unwrap();
    let ccfg =
        partner_client_config_checked(&th.node, &jp.ca_der(), v.revocations().clone()).unwrap();
    connect(ccfg, "jp.npa", &jp_server).unwrap();
}

#[test]
fn user_cert_from_partner_ca_is_refused() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, scfg) = server_for(&th, &[jp.partner()]);
    let jp_user = jp.user("k.tanaka", Role::Investigator);
    let ccfg = control_client_config(&jp_user, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(is_app_failure(&e), "{e:?}");
    assert!(v.identify(&[jp_user.leaf().clone()]).is_err());
}

#[test]
fn own_node_cert_is_not_a_user() {
    let th = Agency::new("th");
    let (v, scfg) = server_for(&th, &[]);
    let ccfg = control_client_config(&th.node, &th.ca_der()).unwrap();
    let e = refused_by_server(connect(ccfg, "th", &scfg));
    assert!(is_app_failure(&e), "{e:?}");
    let e = v
        .identify(&[th.node.leaf().clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a user role"), "{e}");
}

#[test]
fn client_refuses_server_with_other_name() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    // th's CA issues a certificate for "th-backup"; a partner connecting to "th" must refuse it.
    let other = pki::issue_node_cert(&th.ca, "th-backup", now()).unwrap();
    let other = TlsIdentity::from_certified(&other).unwrap();
    let v = Arc::new(PeerVerifier::new("th", &th.ca_der(), &[jp.partner()]).unwrap());
    let scfg = Arc::new(server_config(&other, v).unwrap());
    let ccfg = partner_client_config(&jp.node, &th.ca_der()).unwrap();
    match connect(ccfg, "th", &scfg) {
        Err(Failed::Client(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => {}
        other => panic!("expected the client to refuse the name, got {other:?}"),
    }
}

#[test]
fn client_refuses_server_from_other_ca() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    // An impostor with the same node name (hence the same CA name) but another CA key.
    let impostor = Agency::new("th");
    let (_, scfg) = server_for(&impostor, &[jp.partner()]);
    let ccfg = partner_client_config(&jp.node, &th.ca_der()).unwrap();
    match connect(ccfg, "th", &scfg) {
        Err(Failed::Client(rustls::Error::InvalidCertificate(
            CertificateError::BadSignature | CertificateError::UnknownIssuer,
        ))) => {}
        other => panic!("expected the client to refuse, got {other:?}"),
    }
    // A server whose certificate comes from an unrelated CA.
    let kh = Agency::new("kh");
    let (_, scfg) = server_for(&kh, &[]);
    let ccfg = partner_client_config(&jp.node, &th.ca_der()).unwrap();
    match connect(ccfg, "th", &scfg) {
        Err(Failed::Client(e)) => assert!(is_unknown_issuer(&e), "{e:?}"),
        other => panic!("expected the client to refuse, got {other:?}"),
    }
}

#[test]
fn partners_change_at_run_time() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, scfg) = server_for(&th, &[]);
    let try_jp = || {
        connect(
            partner_client_config(&jp.node, &th.ca_der()).unwrap(),
            "th",
            &scfg,
        )
    };
    assert!(is_unknown_issuer(&refused_by_server(try_jp())));
    v.set_partners(&[jp.partner()]).unwrap();
    let (chain, _) = try_jp().unwrap();
    assert_eq!(v.identify(&chain).unwrap().name(), "jp.npa");
    v.set_partners(&[]).unwrap();
    assert!(is_unknown_issuer(&refused_by_server(try_jp())));
    // identify() follows the current list too.
    assert!(v.identify(&chain).is_err());
}

#[test]
fn bad_partner_lists_are_rejected_and_old_list_kept() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, _) = server_for(&th, &[jp.partner()]);
    let dup = v.set_partners(&[jp.partner(), jp.partner()]).unwrap_err();
    assert!(matches!(dup, TlsError::DuplicatePartner { .. }), "{dup}");
    let not_ca = Partner {
        name: "jp.npa".into(),
        ca_cert: jp.node.leaf().clone(),
    };
    let e = v.set_partners(&[not_ca]).unwrap_err().to_string();
    assert!(e.contains("not a CA certificate"), "{e}");
    let bad_name = Partner {
        name: "JP".into(),
        ca_cert: jp.ca_der(),
    };
    assert!(matches!(
        v.set_partners(&[bad_name]),
        Err(TlsError::Pki(PkiError::InvalidNodeName { .. }))
    ));
    let me = Partner {
        name: "kh".into(),
        ca_cert: th.ca_der(),
    };
    assert!(matches!(
        v.set_partners(&[me]),
        Err(TlsError::PartnerIsSelf { .. })
    ));
    assert_eq!(v.partner_names(), vec!["jp.npa"]);
}

#[test]
fn identify_edge_cases() {
    let th = Agency::new("th");
    let (v, _) = server_for(&th, &[]);
    assert!(matches!(v.identify(&[]), Err(TlsError::NoPeerCertificate)));
    let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    match v.identify(&[junk]) {
        Err(TlsError::PeerRefused { error, .. }) => assert_eq!(
            error,
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mismatched_cert_and_key_are_refused() {
    let th = Agency::new("th");
    let node = pki::issue_node_cert(&th.ca, "th", now()).unwrap();
    let other = pki::issue_node_cert(&th.ca, "th", now()).unwrap();
    let mixed = TlsIdentity::from_pem(&node.cert_pem, &other.key_pem).unwrap();
    let v = Arc::new(PeerVerifier::new("th", &th.ca_der(), &[]).unwrap());
    let e = server_config(&mixed, v).unwrap_err();
    assert!(matches!(e, TlsError::Config(_)), "{e}");
    assert!(e.to_string().contains("belong together"), "{e}");
    assert!(partner_client_config(&mixed, &th.ca_der()).is_err());
}

#[test]
fn identity_debug_hides_key() {
    let th = Agency::new("th");
    let dbg = format!("{:?}", th.node);
    assert!(dbg.contains("<redacted>"), "{dbg}");
    let key_line = th.ca.key_pem.lines().nth(1).unwrap();
    assert!(!dbg.contains(key_line));
    let v = PeerVerifier::new("th", &th.ca_der(), &[]).unwrap();
    assert!(format!("{v:?}").contains("\"th\""));
}

#[test]
fn quinn_configs_build() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, _) = server_for(&th, &[jp.partner()]);
    quinn_server_config(&th.node, v).unwrap();
    quinn_client_config(partner_client_config(&jp.node, &th.ca_der()).unwrap()).unwrap();
    let user = th.user("a", Role::Auditor);
    quinn_client_config(control_client_config(&user, &th.ca_der()).unwrap()).unwrap();
}

/// End to end over QUIC on the loopback interface: the wrappers fit together and
/// `peer_chain` / `identify_connection` see the client certificate.
#[tokio::test]
async fn quic_loopback_identifies_partner_and_user() {
    let th = Agency::new("th");
    let jp = Agency::new("jp.npa");
    let (v, _) = server_for(&th, &[jp.partner()]);
    let server_cfg = quinn_server_config(&th.node, v.clone()).unwrap();
    let server = quinn::Endpoint::server(server_cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();

    let accept = tokio::spawn({
        let v = v.clone();
        async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let conn = server.accept().await.unwrap().await.unwrap();
                seen.push(v.identify_connection(&conn).unwrap());
                // Keep the connection until the client has seen the handshake finish.
                let _ = conn.accept_bi().await;
            }
            seen
        }
    });

    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    for cfg in [
        partner_client_config(&jp.node, &th.ca_der()).unwrap(),
        control_client_config(&th.user("somchai.k", Role::Investigator), &th.ca_der()).unwrap(),
    ] {
        client.set_default_client_config(quinn_client_config(cfg).unwrap());
        let conn = client.connect(addr, "th").unwrap().await.unwrap();
        let server_chain = peer_chain(&conn).unwrap();
        assert_eq!(pki::cert_info(&server_chain[0]).unwrap().subject_cn, "th");
        // Open a stream so the server's accept_bi returns, then close.
        let (mut send, _recv) = conn.open_bi().await.unwrap();
        send.write_all(b"x").await.unwrap();
        send.finish().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        conn.close(0u32.into(), b"done");
    }
    let seen = tokio::time::timeout(Duration::from_secs(10), accept)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen[0].name(), "jp.npa");
    assert!(matches!(seen[0], PeerIdentity::Partner { .. }));
    assert!(matches!(
        &seen[1],
        PeerIdentity::User { name, role: Role::Investigator, .. } if name == "somchai.k"
    ));
    client.wait_idle().await;
}
