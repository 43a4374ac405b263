//! The server's client-certificate verifier: which chains a node accepts, and who they are.
//!
//! See the parent module's doc for the trust rules; [`PeerVerifier`] applies them, refusing
//! revoked certificates first, and [`Partner`] is one configured partner agency.

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::{hex, peer_chain, provider, single_root, PeerIdentity, TlsError};
use crate::pki::{self, CertInfo, Role};
use crate::revocation::Revocations;

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
