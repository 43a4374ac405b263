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
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::pki::{self, CertifiedKey, PkiError, Role};
use crate::revocation::{CheckedServerVerifier, Revocations};

pub(crate) mod error;
mod verifier;

pub use error::TlsError;
pub use verifier::{Partner, PeerVerifier};

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
mod tests;
