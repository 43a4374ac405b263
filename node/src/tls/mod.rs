//! TLS for Cordon: rustls and quinn configurations, the client-certificate verifier, and
//! identification of the peer after the handshake.
//!
//! Trust model. Every agency has its own CA (see `crate::pki`). A node's QUIC server accepts a
//! client certificate if, and only if, either
//! - it chains to **our own CA** and its OU is a [`Role`]: a person on this node (control
//!   channel, [`ALPN_CONTROL`]); or
//! - it chains to **partner P's CA**, its CN and every SAN DNS name equal P's configured name, and
//!   its OU is `node`: partner node P (partner channel, [`ALPN_PARTNER`]).
//!
//! A partner is therefore identified by the pair (CA, name): partner P's CA cannot vouch for
//! partner Q, nor for a user of ours. Anything else is refused during the handshake with a
//! rustls error (`UnknownIssuer`, `Expired…`, `NotValidYet…` or `ApplicationVerificationFailure`),
//! and the reason is logged.
//!
//! Key types: [`PeerVerifier`] (the server's `ClientCertVerifier`, whose partner list can be
//! replaced at run time), [`Partner`], [`PeerIdentity`], [`TlsIdentity`] (a certificate chain and
//! its key), [`TlsError`]. Configuration builders: [`server_config`], [`partner_client_config`],
//! [`control_client_config`], and the quinn wrappers [`quinn_server_config`] /
//! [`quinn_client_config`].
//!
//! Revoked certificates (`crate::revocation`, a list of SHA-256 fingerprints) are refused
//! first, with `CertificateError::Revoked`, by the server's verifier and by the partner client
//! configurations built with [`partner_client_config_checked`].
//!
//! What it deliberately does not do: read files or decide what a role may do. Only TLS 1.3 with the `ring` provider is used, and session
//! resumption is off, so every connection presents and re-verifies its certificate against the
//! current partner list.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::pki::{self, CertInfo, CertifiedKey, PkiError, Role};
use crate::revocation::{CheckedServerVerifier, Revocations};

/// ALPN of the partner channel: node to node.
pub const ALPN_PARTNER: &[u8] = b"cordon-partner/1";
/// ALPN of the control channel: CLI user to their own node.
pub const ALPN_CONTROL: &[u8] = b"cordon-control/1";

/// QUIC keep-alive: well inside NAT and firewall UDP timeouts.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// QUIC idle timeout, in milliseconds (the unit QUIC carries it in).
pub const IDLE_TIMEOUT_MS: u32 = 30_000;
/// Concurrent bidirectional streams a peer may open on one connection.
pub const MAX_BIDI_STREAMS: u32 = 64;

/// Errors from building TLS configurations or identifying a peer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("the certificate given as {whose} CA is not usable as a trust anchor: {detail}; pass that agency's CA certificate (CN \"Cordon CA <node>\")")]
    BadTrustAnchor { whose: String, detail: String },
    #[error("partner {name:?} is listed more than once; list each partner once")]
    DuplicatePartner { name: String },
    #[error("partner {name:?} is this node itself (same name or same CA); a partner is another agency with its own CA")]
    PartnerIsSelf { name: String },
    #[error("could not build the TLS configuration: {0}; check that the certificate and private key belong together")]
    Config(#[source] rustls::Error),
    #[error("the TLS configuration cannot be used for QUIC: {0}")]
    Quic(String),
    #[error("the peer presented no certificate; Cordon requires a client certificate on every connection")]
    NoPeerCertificate,
    #[error("the peer's certificate was refused: {reason}")]
    PeerRefused {
        reason: String,
        /// The rustls error the handshake reports for the same decision.
        #[source]
        error: rustls::Error,
    },
    #[error("{who} connected with application protocol {got}, but must use {expected:?}; partners use the partner client configuration, users the control one")]
    WrongAlpn {
        who: String,
        got: String,
        expected: &'static str,
    },
}

/// Who is at the other end of an authenticated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerIdentity {
    /// A partner agency's node.
    Partner { name: String, fingerprint: [u8; 32] },
    /// A person on this node.
    User {
        name: String,
        role: Role,
        fingerprint: [u8; 32],
    },
}

impl PeerIdentity {
    /// The partner's node name or the user's name.
    pub fn name(&self) -> &str {
        match self {
            PeerIdentity::Partner { name, .. } | PeerIdentity::User { name, .. } => name,
        }
    }

    /// SHA-256 of the peer's leaf certificate.
    pub fn fingerprint(&self) -> &[u8; 32] {
        match self {
            PeerIdentity::Partner { fingerprint, .. } | PeerIdentity::User { fingerprint, .. } => {
                fingerprint
            }
        }
    }

    /// The ALPN this kind of peer must use: partners speak the partner protocol, users the
    /// control protocol. The server offers both, so the handshake alone does not enforce this.
    pub fn expected_alpn(&self) -> &'static [u8] {
        match self {
            PeerIdentity::Partner { .. } => ALPN_PARTNER,
            PeerIdentity::User { .. } => ALPN_CONTROL,
        }
    }

    /// Refuses a connection whose negotiated ALPN does not fit the peer (e.g. a user's
    /// certificate on the partner channel).
    pub fn check_alpn(&self, negotiated: Option<&[u8]>) -> Result<(), TlsError> {
        if negotiated == Some(self.expected_alpn()) {
            return Ok(());
        }
        let who = match self {
            PeerIdentity::Partner { name, .. } => format!("partner {name:?}"),
            PeerIdentity::User { name, role, .. } => format!("user {name:?} ({role})"),
        };
        Err(TlsError::WrongAlpn {
            who,
            got: negotiated.map_or_else(
                || "none".to_string(),
                |p| format!("{:?}", String::from_utf8_lossy(p)),
            ),
            expected: std::str::from_utf8(self.expected_alpn()).unwrap_or_default(),
        })
    }
}

/// A certificate chain (leaf first) and its private key. `Debug` never shows the key.
pub struct TlsIdentity {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsIdentity {
    /// From PEM text: one or more certificates (leaf first) and a private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        Ok(TlsIdentity {
            cert_chain: pki::parse_certs_pem(cert_pem)?,
            key: pki::load_key_pem(key_pem)?,
        })
    }

    /// From a certificate issued by `crate::pki`.
    pub fn from_certified(ck: &CertifiedKey) -> Result<Self, TlsError> {
        Self::from_pem(&ck.cert_pem, &ck.key_pem)
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // from_pem guarantees at least one certificate.
        &self.cert_chain[0]
    }

    fn parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.cert_chain.clone(), self.key.clone_key())
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        let (cert_chain, key) = self.parts();
        TlsIdentity { cert_chain, key }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("leaf_fingerprint", &hex(&pki::fingerprint(self.leaf())))
            .field("chain_len", &self.cert_chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A partner agency as configured by the operator: its node name and its CA certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    pub name: String,
    pub ca_cert: CertificateDer<'static>,
}

/// One trust anchor with the WebPKI verifier built for it alone.
struct Anchor {
    /// Partner name; the node's own name for the own-CA anchor.
    name: String,
    ca_fingerprint: [u8; 32],
    verifier: Arc<dyn ClientCertVerifier>,
}

/// The server's client-certificate verifier (see the module doc for the rules).
///
/// Share it as `Arc<PeerVerifier>`: one clone goes into the rustls `ServerConfig`, the node keeps
/// another to call [`set_partners`](Self::set_partners) and [`identify`](Self::identify).
///
/// The partner list is an `Arc` snapshot behind a `std::sync::RwLock`: a handshake takes the read
/// lock only long enough to clone the `Arc`, so verification never runs under the lock and an
/// update never waits for handshakes. This is what `arc-swap` would give, without another
/// dependency; updates are rare (an operator adding or removing a partner).
pub struct PeerVerifier {
    own: Anchor,
    partners: RwLock<Arc<[Anchor]>>,
    provider: Arc<CryptoProvider>,
    revoked: Arc<Revocations>,
}

/// What the verifier decided about an accepted chain.
enum Accepted {
    Partner(String),
    User(String, Role),
}

/// Why a chain was refused: the rustls error for the handshake, and a sentence for the log.
struct Refusal {
    error: rustls::Error,
    reason: String,
}

impl Refusal {
    fn app(reason: String) -> Self {
        Refusal {
            error: rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ),
            reason,
        }
    }
}

impl PeerVerifier {
    /// A verifier for node `own_node` whose CA is `own_ca`, trusting `partners`.
    pub fn new(
        own_node: &str,
        own_ca: &CertificateDer<'static>,
        partners: &[Partner],
    ) -> Result<Self, TlsError> {
        pki::validate_node_name(own_node)?;
        let provider = provider();
        let own = build_anchor(own_node, own_ca, &provider, "this node's")?;
        let v = PeerVerifier {
            own,
            partners: RwLock::new(Arc::from(Vec::new())),
            provider,
            revoked: Arc::default(),
        };
        v.set_partners(partners)?;
        Ok(v)
    }

    /// Uses `revoked` (shared with the partner client configurations) as the revocation list.
    pub fn with_revocations(mut self, revoked: Arc<Revocations>) -> Self {
        self.revoked = revoked;
        self
    }

    /// The revocation list in force; replace its contents to revoke at run time.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revoked
    }

    /// Replaces the partner list. Either every partner is valid and the new list takes effect
    /// for the next handshake, or an error is returned and the old list stays.
    pub fn set_partners(&self, partners: &[Partner]) -> Result<(), TlsError> {
        let mut anchors: Vec<Anchor> = Vec::with_capacity(partners.len());
        for p in partners {
            pki::validate_node_name(&p.name)?;
            if anchors.iter().any(|a| a.name == p.name) {
                return Err(TlsError::DuplicatePartner {
                    name: p.name.clone(),
                });
            }
            let anchor = build_anchor(
                &p.name,
                &p.ca_cert,
                &self.provider,
                &format!("partner {:?}'s", p.name),
            )?;
            if p.name == self.own.name || anchor.ca_fingerprint == self.own.ca_fingerprint {
                return Err(TlsError::PartnerIsSelf {
                    name: p.name.clone(),
                });
            }
            anchors.push(anchor);
        }
        // A poisoned lock only means a writer panicked between two whole-Arc swaps: the value
        // is still a complete list, so keep using it.
        *self.partners.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(anchors);
        Ok(())
    }

    /// The configured partner names.
    pub fn partner_names(&self) -> Vec<String> {
        self.snapshot().iter().map(|a| a.name.clone()).collect()
    }

    /// Who presented `chain` (leaf first)? Re-runs the handshake's decision, at the current
    /// time and against the current partner list.
    pub fn identify(&self, chain: &[CertificateDer<'_>]) -> Result<PeerIdentity, TlsError> {
        self.identify_at(chain, UnixTime::now())
    }

    /// [`identify`](Self::identify) at a given time.
    pub fn identify_at(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<PeerIdentity, TlsError> {
        let (leaf, intermediates) = chain.split_first().ok_or(TlsError::NoPeerCertificate)?;
        let fingerprint = pki::fingerprint(leaf);
        match self.decide(leaf, intermediates, now) {
            Ok(Accepted::Partner(name)) => Ok(PeerIdentity::Partner { name, fingerprint }),
            Ok(Accepted::User(name, role)) => Ok(PeerIdentity::User {
                name,
                role,
                fingerprint,
            }),
            Err(r) => Err(TlsError::PeerRefused {
                reason: r.reason,
                error: r.error,
            }),
        }
    }

    /// Identifies the peer of an established QUIC connection and checks that it uses the
    /// channel (ALPN) meant for it.
    pub fn identify_connection(&self, conn: &quinn::Connection) -> Result<PeerIdentity, TlsError> {
        let chain = peer_chain(conn).ok_or(TlsError::NoPeerCertificate)?;
        let id = self.identify(&chain)?;
        let alpn = conn
            .handshake_data()
            .and_then(|h| h.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|h| h.protocol);
        id.check_alpn(alpn.as_deref())?;
        Ok(id)
    }

    fn snapshot(&self) -> Arc<[Anchor]> {
        self.partners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The one place where the trust rules live; the handshake and `identify` both call it.
    fn decide(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<Accepted, Refusal> {
        let info = pki::cert_info(leaf).map_err(|e| Refusal {
            error: rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
            reason: e.to_string(),
        })?;
        let subject = &info.subject_cn;
        if let Some(reason) = self.revoked.refusal(leaf) {
            return Err(Refusal {
                error: crate::revocation::revoked_error(),
                reason: format!("{subject:?}: {reason}"),
            });
        }

        // Errors other than UnknownIssuer mean an anchor recognised the issuer (e.g. the
        // certificate expired); they are more useful to report than "unknown issuer".
        let mut chain_error: Option<rustls::Error> = None;
        // A chain that verified but broke a naming rule is the most useful to report.
        let mut rule_refusal: Option<Refusal> = None;

        match self
            .own
            .verifier
            .verify_client_cert(leaf, intermediates, now)
        {
            Ok(_) => match user_rule(&info) {
                Ok(accepted) => return Ok(accepted),
                Err(r) => rule_refusal = Some(r),
            },
            Err(e) => note_chain_error(&mut chain_error, e),
        }

        for p in self.snapshot().iter() {
            match p.verifier.verify_client_cert(leaf, intermediates, now) {
                Ok(_) => match partner_rule(&info, &p.name) {
                    Ok(accepted) => return Ok(accepted),
                    Err(r) => {
                        rule_refusal.get_or_insert(r);
                    }
                },
                Err(e) => note_chain_error(&mut chain_error, e),
            }
        }

        if let Some(r) = rule_refusal {
            return Err(r);
        }
        let issuer = info.issuer_cn.as_deref().unwrap_or("?");
        Err(match chain_error {
            // The issuer name matched an anchor but the key did not: a CA impersonating one.
            Some(error @ rustls::Error::InvalidCertificate(CertificateError::BadSignature)) => {
                Refusal {
                    reason: format!(
                        "certificate {subject:?} names {issuer:?} as issuer, but that CA's key did not sign it (a different CA with the same name?)"
                    ),
                    error,
                }
            }
            Some(error) => Refusal {
                reason: format!(
                    "certificate {subject:?} issued by {issuer:?} failed verification: {error}"
                ),
                error,
            },
            None => Refusal {
                error: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                reason: format!(
                    "certificate {subject:?} was issued by {issuer:?}, which is neither this node's CA nor the CA of a configured partner"
                ),
            },
        })
    }
}

fn note_chain_error(slot: &mut Option<rustls::Error>, e: rustls::Error) {
    let unknown = matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
    if !unknown && slot.is_none() {
        *slot = Some(e);
    }
}

/// A chain to our own CA is accepted only for a person: OU must be a role.
fn user_rule(info: &CertInfo) -> Result<Accepted, Refusal> {
    let name = &info.subject_cn;
    let ou = info.ou.as_deref().unwrap_or("");
    let role: Role = ou.parse().map_err(|_| {
        Refusal::app(format!(
            "certificate {name:?} from this node's CA has OU {ou:?}, which is not a user role; only user certificates may connect with this node's CA"
        ))
    })?;
    pki::validate_user_name(name).map_err(|e| Refusal::app(e.to_string()))?;
    Ok(Accepted::User(name.clone(), role))
}

/// A chain to partner P's CA is accepted only for P's node certificate.
fn partner_rule(info: &CertInfo, partner: &str) -> Result<Accepted, Refusal> {
    let cn = &info.subject_cn;
    if cn != partner {
        return Err(Refusal::app(format!(
            "certificate {cn:?} from partner {partner:?}'s CA does not name {partner:?}; a partner's CA vouches only for that partner"
        )));
    }
    if info.ou.as_deref() != Some(pki::NODE_OU) {
        return Err(Refusal::app(format!(
            "certificate {cn:?} from partner {partner:?}'s CA has OU {:?}, not \"node\"; only the partner's node certificate may connect",
            info.ou.as_deref().unwrap_or("")
        )));
    }
    if info.dns_names.is_empty() || info.dns_names.iter().any(|d| d != partner) {
        return Err(Refusal::app(format!(
            "certificate {cn:?} from partner {partner:?}'s CA has DNS names {:?}; it must name exactly {partner:?}",
            info.dns_names
        )));
    }
    Ok(Accepted::Partner(partner.to_string()))
}

impl ClientCertVerifier for PeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// Empty on purpose: hinting CA names would tell any unauthenticated scanner which
    /// agencies this node partners with. Cordon clients hold one certificate, so need no hint.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.decide(end_entity, intermediates, now) {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err(r) => {
                tracing::warn!(
                    fingerprint = %hex(&pki::fingerprint(end_entity)),
                    reason = %r.reason,
                    "refused a client certificate"
                );
                Err(r.error)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl fmt::Debug for PeerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerVerifier")
            .field("own_node", &self.own.name)
            .field("partners", &self.partner_names())
            .finish_non_exhaustive()
    }
}

/// Builds a one-anchor WebPKI client verifier, after checking the certificate is a CA.
fn build_anchor(
    name: &str,
    ca: &CertificateDer<'static>,
    provider: &Arc<CryptoProvider>,
    whose: &str,
) -> Result<Anchor, TlsError> {
    let roots = Arc::new(single_root(ca, whose)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::BadTrustAnchor {
            whose: whose.to_string(),
            detail: e.to_string(),
        })?;
    Ok(Anchor {
        name: name.to_string(),
        ca_fingerprint: pki::fingerprint(ca),
        verifier,
    })
}

fn single_root(ca: &CertificateDer<'static>, whose: &str) -> Result<RootCertStore, TlsError> {
    let bad = |detail: String| TlsError::BadTrustAnchor {
        whose: whose.to_string(),
        detail,
    };
    let info = pki::cert_info(ca).map_err(|e| bad(e.to_string()))?;
    if !info.is_ca {
        return Err(bad(format!(
            "{:?} is not a CA certificate",
            info.subject_cn
        )));
    }
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| bad(e.to_string()))?;
    Ok(roots)
}

/// The crypto provider for every Cordon TLS configuration: ring, passed explicitly so that no
/// process-wide default is needed (and aws-lc-rs is never involved).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A validated node name as a TLS server name (what a client connects to).
pub fn server_name(node: &str) -> Result<ServerName<'static>, TlsError> {
    pki::validate_node_name(node)?;
    ServerName::try_from(node.to_string()).map_err(|_| {
        TlsError::Pki(PkiError::InvalidNodeName {
            name: node.to_string(),
            reason: "it is not a valid DNS name",
        })
    })
}

/// The node's server configuration: its node certificate, the [`PeerVerifier`], ALPNs
/// [partner, control], TLS 1.3 only, no session resumption.
pub fn server_config(
    node: &TlsIdentity,
    verifier: Arc<PeerVerifier>,
) -> Result<rustls::ServerConfig, TlsError> {
    let (chain, key) = node.parts();
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Config)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    cfg.alpn_protocols = vec![ALPN_PARTNER.to_vec(), ALPN_CONTROL.to_vec()];
    // No resumption: a resumed session skips certificate verification, so a partner removed
    // from the list could otherwise come back with an old ticket.
    cfg.send_tls13_tickets = 0;
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(cfg)
}

/// Client configuration for this node querying partner P: trusts P's CA only, presents our
/// node certificate, ALPN partner. Connect with server name = P's name ([`server_name`]).
pub fn partner_client_config(
    node: &TlsIdentity,
    partner_ca: &CertificateDer<'static>,
) -> Result<rustls::ClientConfig, TlsError> {
    client_config(node, partner_ca, "the partner's", ALPN_PARTNER, None)
}

/// [`partner_client_config`] that also refuses a partner server whose certificate is in
/// `revoked` (the node's own list, so a reload applies to later handshakes).
pub fn partner_client_config_checked(
    node: &TlsIdentity,
    partner_ca: &CertificateDer<'static>,
    revoked: Arc<Revocations>,
) -> Result<rustls::ClientConfig, TlsError> {
    client_config(
        node,
        partner_ca,
        "the partner's",
        ALPN_PARTNER,
        Some(revoked),
    )
}

/// Client configuration for a CLI user talking to their own node: trusts our CA only,
/// presents the user's certificate, ALPN control. Connect with server name = our node's name.
pub fn control_client_config(
    user: &TlsIdentity,
    own_ca: &CertificateDer<'static>,
) -> Result<rustls::ClientConfig, TlsError> {
    client_config(user, own_ca, "this node's", ALPN_CONTROL, None)
}

fn client_config(
    me: &TlsIdentity,
    ca: &CertificateDer<'static>,
    whose: &str,
    alpn: &[u8],
    revoked: Option<Arc<Revocations>>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let roots = Arc::new(single_root(ca, whose)?);
    let server_verifier: Arc<WebPkiServerVerifier> =
        WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::BadTrustAnchor {
                whose: whose.to_string(),
                detail: e.to_string(),
            })?;
    let (chain, key) = me.parts();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::Config)?;
    let builder = match revoked {
        Some(r) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CheckedServerVerifier::new(
                server_verifier,
                r,
            ))),
        None => builder.with_webpki_verifier(server_verifier),
    };
    let mut cfg = builder
        .with_client_auth_cert(chain, key)
        .map_err(TlsError::Config)?;
    cfg.alpn_protocols = vec![alpn.to_vec()];
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(cfg)
}

/// Keep-alive 5 s, idle timeout 30 s, at most 64 concurrent bidirectional streams.
pub fn transport_config() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_idle_timeout(Some(quinn::VarInt::from_u32(IDLE_TIMEOUT_MS).into()));
    t.max_concurrent_bidi_streams(MAX_BIDI_STREAMS.into());
    t
}

/// The node's quinn server configuration ([`server_config`] plus [`transport_config`]).
pub fn quinn_server_config(
    node: &TlsIdentity,
    verifier: Arc<PeerVerifier>,
) -> Result<quinn::ServerConfig, TlsError> {
    let tls = server_config(node, verifier)?;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(Arc::new(transport_config()));
    Ok(cfg)
}

/// A quinn client configuration from [`partner_client_config`] or [`control_client_config`].
pub fn quinn_client_config(tls: rustls::ClientConfig) -> Result<quinn::ClientConfig, TlsError> {
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(Arc::new(transport_config()));
    Ok(cfg)
}

/// The certificate chain the peer presented on a QUIC connection (leaf first).
pub fn peer_chain(conn: &quinn::Connection) -> Option<Vec<CertificateDer<'static>>> {
    conn.peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()
        .map(|b| *b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{ClientConnection, ServerConnection};
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
    fn handshake(
        client: &mut ClientConnection,
        server: &mut ServerConnection,
    ) -> Result<(), Failed> {
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
        let mut c =
            ClientConnection::new(Arc::new(client_cfg), server_name(name).unwrap()).unwrap();
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
            partner_client_config(&TlsIdentity::from_certified(&early).unwrap(), &th.ca_der())
                .unwrap();
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
}
