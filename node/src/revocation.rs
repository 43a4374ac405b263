//! Certificate revocation: certificates this node refuses although they chain to a CA it trusts.
//!
//! Design. Every agency runs its own CA and issues few certificates (one node certificate, a
//! handful of users), and each node already pins exactly which CA vouches for whom. So
//! revocation is a local deny-list of SHA-256 fingerprints of leaf certificates, the same
//! fingerprint `cordon` prints for every certificate, kept in `node.toml` as `[[revoked]]`
//! entries:
//!
//! ```toml
//! [[revoked]]
//! fingerprint = "3f1c…"            # SHA-256 of the certificate (DER), hex
//! reason = "laptop stolen 2026-12-01"
//! ```
//!
//! `cordon cert revoke` appends such an entry (from a PEM file or a fingerprint); `cordon
//! policy reload` or SIGHUP applies the list to a running node at once, as does a restart. A
//! listed certificate is refused at the TLS handshake in both directions: as a client of this
//! node (a user on the control channel, a partner node on the partner channel) and as a
//! partner's server when this node queries it. Connections opened before the revocation are
//! closed at their next request. A partner whose node key leaked tells its partners the
//! fingerprint out of band (it also re-issues its node certificate and sends a new card).
//!
//! Why not CRLs: a CRL says which serials a CA withdrew, so it needs a distribution channel per
//! partner CA and refreshing before its `nextUpdate`, or every handshake fails. A fingerprint
//! list names the exact certificate, needs no cooperation from the issuing CA (an operator can
//! cut off a partner's leaked node key at once), and cannot go stale. Revoking every
//! certificate of one of our users by name stays `cordon user revoke` (checked on every request).

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, DigitallySignedStruct};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

pub use crate::config::RevokedCert;
pub use crate::pki::parse_fingerprint;

use crate::config::Config;
use crate::error::NodeError;

/// Refuses a revocation without a reason (a certificate's, or a person's).
pub fn require_reason(reason: &str) -> Result<(), NodeError> {
    if reason.trim().is_empty() {
        return Err(NodeError::request(
            "a reason is required; pass --reason stating why the certificate is revoked",
        ));
    }
    Ok(())
}

/// The revoked fingerprints in force, replaceable at run time (shared by the server's client
/// verifier and the partner client configurations).
#[derive(Default)]
pub struct Revocations {
    /// Fingerprint → reason. Swapped whole; readers clone the `Arc` and never wait on a reload.
    set: RwLock<Arc<BTreeMap<[u8; 32], String>>>,
}

impl Revocations {
    /// The list of a configuration (already checked by `Config::parse`).
    pub fn from_config(list: &[RevokedCert]) -> Result<Self, String> {
        let r = Revocations::default();
        r.replace(list)?;
        Ok(r)
    }

    /// Replaces the list; returns whether it changed. On error the old list stays.
    pub fn replace(&self, list: &[RevokedCert]) -> Result<bool, String> {
        let mut new = BTreeMap::new();
        for r in list {
            new.insert(r.fingerprint_bytes()?, r.reason.clone());
        }
        let mut slot = self.set.write().unwrap_or_else(|p| p.into_inner());
        if **slot == new {
            return Ok(false);
        }
        *slot = Arc::new(new);
        Ok(true)
    }

    fn snapshot(&self) -> Arc<BTreeMap<[u8; 32], String>> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why `fingerprint` is revoked, if it is.
    pub fn reason(&self, fingerprint: &[u8; 32]) -> Option<String> {
        self.snapshot().get(fingerprint).cloned()
    }

    /// Whether `fingerprint` is revoked.
    pub fn is_revoked(&self, fingerprint: &[u8; 32]) -> bool {
        self.snapshot().contains_key(fingerprint)
    }

    /// How many certificates are revoked.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sentence logged when `der` is refused, or None if it is not revoked.
    pub fn refusal(&self, der: &CertificateDer<'_>) -> Option<String> {
        let fp = crate::pki::fingerprint(der);
        self.reason(&fp).map(|why| {
            let why = if why.is_empty() {
                "no reason given"
            } else {
                &why
            };
            format!(
                "certificate {} is revoked by this node's [[revoked]] list ({why})",
                hex::encode(fp)
            )
        })
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations")
            .field("revoked", &self.len())
            .finish()
    }
}

/// The rustls error every revoked certificate is refused with.
pub fn revoked_error() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Revoked)
}

/// The querier's verifier of a partner's server certificate: the WebPKI checks against the
/// partner's CA, then the revocation list.
#[derive(Debug)]
pub struct CheckedServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    revoked: Arc<Revocations>,
}

impl CheckedServerVerifier {
    /// Wraps `inner`.
    pub fn new(inner: Arc<WebPkiServerVerifier>, revoked: Arc<Revocations>) -> Self {
        CheckedServerVerifier { inner, revoked }
    }
}

impl ServerCertVerifier for CheckedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(reason) = self.revoked.refusal(end_entity) {
            tracing::warn!(%reason, "refused a partner's server certificate");
            return Err(revoked_error());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Appends a `[[revoked]]` entry for `fingerprint` to the `node.toml` at `cfg_path` (what
/// `cordon cert revoke` does). `about` is a comment naming the certificate, if known.
/// Returns false, changing nothing, if the fingerprint is already listed.
pub fn revoke_in_config(
    cfg_path: &Path,
    fingerprint: &[u8; 32],
    reason: &str,
    about: Option<&str>,
) -> Result<bool, NodeError> {
    require_reason(reason)?;
    if reason.contains(['\n', '\r']) {
        return Err(NodeError::request("the reason must be one line"));
    }
    let cfg = Config::load(cfg_path)?;
    let listed = cfg
        .revoked
        .iter()
        .any(|r| r.fingerprint_bytes().ok().as_ref() == Some(fingerprint));
    if listed {
        return Ok(false);
    }
    let io = |source| NodeError::io("configuration", cfg_path.to_path_buf(), source);
    let mut text = std::fs::read_to_string(cfg_path).map_err(io)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let when = time::OffsetDateTime::now_utc().date();
    let _ = write!(text, "\n[[revoked]]\n# revoked {when}");
    if let Some(about) = about {
        let _ = write!(text, ": {}", about.replace(['\n', '\r'], " "));
    }
    // A TOML basic string: escape what TOML requires.
    let quoted = reason.replace('\\', "\\\\").replace('"', "\\\"");
    let _ = write!(
        text,
        "\nfingerprint = \"{}\"\nreason = \"{quoted}\"\n",
        hex::encode(fingerprint)
    );
    // Checked before it is written: a node.toml that no longer loads would stop the node.
    Config::parse(&text).map_err(|message| NodeError::config(cfg_path.to_path_buf(), message))?;
    // Written whole to a temporary file and renamed: a crash never leaves half a node.toml.
    let tmp = cfg_path.with_extension("toml.tmp");
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, cfg_path).map_err(io)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_both_spellings_and_bad_ones_are_explained() {
        let fp = [0xabu8; 32];
        let plain = hex::encode(fp);
        assert_eq!(parse_fingerprint(&plain).unwrap(), fp);
        let colons: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(parse_fingerprint(&colons.join(":")).unwrap(), fp);
        assert!(parse_fingerprint("abc").unwrap_err().contains("hex"));
        assert!(parse_fingerprint("abcd").unwrap_err().contains("2 bytes"));
    }

    #[test]
    fn the_list_is_replaced_whole_and_a_bad_list_keeps_the_old_one() {
        let entry = |fp: [u8; 32]| RevokedCert {
            fingerprint: hex::encode(fp),
            reason: "test".into(),
        };
        let r = Revocations::from_config(&[entry([1; 32])]).unwrap();
        assert!(r.is_revoked(&[1; 32]) && !r.is_revoked(&[2; 32]));
        assert!(!r.replace(&[entry([1; 32])]).unwrap());
        assert!(r.replace(&[entry([2; 32])]).unwrap());
        assert!(!r.is_revoked(&[1; 32]) && r.is_revoked(&[2; 32]));
        let bad = RevokedCert {
            fingerprint: "zz".into(),
            reason: String::new(),
        };
        assert!(r.replace(&[entry([3; 32]), bad]).is_err());
        assert!(r.is_revoked(&[2; 32]) && !r.is_revoked(&[3; 32]));
    }
}
