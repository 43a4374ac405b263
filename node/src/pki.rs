//! Certificate generation and parsing for Cordon's per-agency PKI.
//!
//! Every agency (node) runs its own certificate authority. This module creates that CA, issues the
//! two kinds of leaf certificate Cordon uses, and reads certificates and keys back from PEM:
//!
//! - **CA** ([`new_ca`]): self-signed ECDSA P-256, CN `Cordon CA <node>`, O `<node>`, 10 years,
//!   `basicConstraints CA:TRUE, pathlen:0` (it signs leaves only), keyUsage `keyCertSign, cRLSign`.
//! - **Node certificate** ([`issue_node_cert`]): CN and SAN DNS = node name, OU `node`,
//!   O = node name, EKU serverAuth + clientAuth, 2 years. The node's QUIC server presents it, and
//!   the node presents it again as a client when it queries partners.
//! - **User certificate** ([`issue_user_cert`]): a person. CN = user name, OU = [`Role`],
//!   O = node name, EKU clientAuth, 1 year. Used by the CLI on the control channel.
//!
//! Key types: [`CertifiedKey`] (a certificate and its PKCS#8 key, both PEM), [`CertInfo`] (what
//! [`parse_cert_pem`] / [`cert_info`] read from a certificate), [`Role`], [`PkiError`].
//!
//! What it deliberately does not do: decide who is trusted (that is `crate::tls`), store files, or
//! revoke certificates (that is `crate::revocation`, a list of fingerprints in node.toml). Validity is computed from the caller's `now`, so tests can make expired and
//! not-yet-valid certificates; `not_before` is backdated by [`CLOCK_SKEW`] so that a certificate
//! issued a moment ago is accepted by a partner whose clock is slightly behind. A leaf never
//! outlives its CA (its `not_after` is clamped to the CA's), and an expired CA issues nothing.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SecureRandom;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

/// How long an agency CA is valid (10 years, leap days included).
pub const CA_VALIDITY: Duration = Duration::days(3653);
/// How long a node certificate is valid (2 years).
pub const NODE_CERT_VALIDITY: Duration = Duration::days(731);
/// How long a user certificate is valid (1 year).
pub const USER_CERT_VALIDITY: Duration = Duration::days(365);
/// `not_before` is set this far before `now`: agencies' clocks are never exactly in step.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
/// The OU carried by node certificates (user certificates carry a [`Role`] instead).
pub const NODE_OU: &str = "node";

/// Errors from generating, parsing or loading certificates and keys.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("invalid node name {name:?}: {reason}; a node name is 1 to 63 characters of lower-case letters, digits, '-' and '.', starts with a letter, e.g. \"th\" or \"jp.npa\"")]
    InvalidNodeName { name: String, reason: &'static str },
    #[error("invalid user name {name:?}: {reason}; a user name is 1 to 64 characters of ASCII letters, digits, '.', '_', '-' and '@', starting with a letter or digit")]
    InvalidUserName { name: String, reason: &'static str },
    #[error("unknown role {value:?}; valid roles are: {valid}")]
    InvalidRole { value: String, valid: String },
    #[error(
        "could not read the {what} from PEM: {detail}; expected a '-----BEGIN {label}-----' block"
    )]
    Pem {
        what: &'static str,
        label: &'static str,
        detail: String,
    },
    #[error("could not parse the certificate: {0}; the file is not a valid X.509 certificate")]
    CertParse(String),
    #[error("the certificate for {subject:?} is not a CA certificate; pass the agency CA certificate (CN \"Cordon CA <node>\")")]
    NotACa { subject: String },
    #[error("the certificate for {subject:?} is unusable: {reason}")]
    Unusable { subject: String, reason: String },
    #[error("the CA private key does not belong to the CA certificate {subject:?}; use the key file that was written with that certificate")]
    KeyMismatch { subject: String },
    #[error("could not load the private key: {0}; expected a PKCS#8 ECDSA P-256 key as written by `cordon init`")]
    Key(String),
    #[error("could not generate the {what}: {source}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("the system random number generator failed; cannot create keys or serial numbers")]
    Random,
}

pub use cordon_protocol::control::{Action, Role};

impl From<cordon_protocol::control::UnknownRole> for PkiError {
    fn from(e: cordon_protocol::control::UnknownRole) -> Self {
        PkiError::InvalidRole {
            value: e.value,
            valid: e.valid,
        }
    }
}

/// Parses a SHA-256 fingerprint: 64 hex digits, upper or lower case, `:` separators allowed.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(digits.trim()).map_err(|e| {
        format!("not hexadecimal ({e}); give the certificate's SHA-256 fingerprint, 64 hex digits")
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "{} bytes, but a SHA-256 fingerprint has 32 (64 hex digits)",
            b.len()
        )
    })
}

/// A certificate and its private key, both PEM. `key_pem` is PKCS#8.
///
/// `Debug` shows the certificate but never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl CertifiedKey {
    /// The certificate as DER.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        cert_der_from_pem(&self.cert_pem)
    }

    /// The private key as DER.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        load_key_pem(&self.key_pem)
    }
}

/// What Cordon reads from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    pub subject_cn: String,
    /// Organisational unit: `node`, or a role for user certificates.
    pub ou: Option<String>,
    /// Organisation: the node (agency) that the certificate belongs to.
    pub org: Option<String>,
    /// Common name of the issuer (for display; trust decisions use the signature, not this).
    pub issuer_cn: Option<String>,
    /// DNS names from the subjectAltName extension.
    pub dns_names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the certificate's DER encoding.
    pub fingerprint: [u8; 32],
    pub is_ca: bool,
}

/// Checks a node name: lower-case DNS label(s), because it is the TLS server name and the SAN.
pub fn validate_node_name(name: &str) -> Result<(), PkiError> {
    let err = |reason| PkiError::InvalidNodeName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(err("it is empty"));
    }
    if name.len() > 63 {
        return Err(err("it is longer than 63 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(err("it contains a character that is not allowed"));
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Err(err("it does not start with a letter"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(err("it has an empty part between dots"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(err("a part between dots starts or ends with '-'"));
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err("its last part is all digits"));
    }
    // Belt and braces: the name must also be a DNS name that rustls accepts as a server name.
    rustls_pki_types::DnsName::try_from(name).map_err(|_| err("it is not a valid DNS name"))?;
    Ok(())
}

/// Checks a user name: printable, unambiguous in logs and the audit trail (no spaces, no
/// control or look-alike Unicode characters).
pub fn validate_user_name(name: &str) -> Result<(), PkiError> {
    let err = |reason| PkiError::InvalidUserName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(err("it is empty"));
    }
    if name.len() > 64 {
        return Err(err("it is longer than 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
    {
        return Err(err("it contains a character that is not allowed"));
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(err("it does not start with a letter or digit"));
    }
    Ok(())
}

/// Creates an agency CA: self-signed, ECDSA P-256, valid for [`CA_VALIDITY`] from `now`.
pub fn new_ca(node: &str, now: OffsetDateTime) -> Result<CertifiedKey, PkiError> {
    validate_node_name(node)?;
    let key = new_key()?;
    let mut params = base_params(now, CA_VALIDITY)?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, node);
    params
        .distinguished_name
        .push(DnType::CommonName, ca_common_name(node));
    // pathlen 0: an agency CA signs leaves only, so a stolen leaf key can never mint certificates.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params
        .self_signed(&key)
        .map_err(|source| PkiError::Generate {
            what: "CA certificate",
            source,
        })?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues this node's certificate (server and partner-client identity) from its CA.
pub fn issue_node_cert(
    ca: &CertifiedKey,
    node: &str,
    now: OffsetDateTime,
) -> Result<CertifiedKey, PkiError> {
    validate_node_name(node)?;
    let mut params = base_params(now, NODE_CERT_VALIDITY)?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, node);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, NODE_OU);
    params.distinguished_name.push(DnType::CommonName, node);
    let dns = node
        .to_string()
        .try_into()
        .map_err(|source| PkiError::Generate {
            what: "node certificate",
            source,
        })?;
    params.subject_alt_names = vec![SanType::DnsName(dns)];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    issue(ca, params, now, "node certificate")
}

/// Issues a certificate for a person on this node, carrying their role.
pub fn issue_user_cert(
    ca: &CertifiedKey,
    node: &str,
    user: &str,
    role: Role,
    now: OffsetDateTime,
) -> Result<CertifiedKey, PkiError> {
    validate_node_name(node)?;
    validate_user_name(user)?;
    let mut params = base_params(now, USER_CERT_VALIDITY)?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, node);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, role.as_str());
    params.distinguished_name.push(DnType::CommonName, user);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(ca, params, now, "user certificate")
}

/// Parses one PEM certificate (the first, if the text holds several) and reads its fields.
pub fn parse_cert_pem(pem: &str) -> Result<(CertificateDer<'static>, CertInfo), PkiError> {
    let der = cert_der_from_pem(pem)?;
    let info = cert_info(&der)?;
    Ok((der, info))
}

/// Parses every certificate in a PEM text, in order (e.g. a chain or a bundle of partner CAs).
pub fn parse_certs_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", "CERTIFICATE", e))?;
    if certs.is_empty() {
        return Err(PkiError::Pem {
            what: "certificate",
            label: "CERTIFICATE",
            detail: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// Reads Cordon's fields from a DER certificate.
///
/// A certificate with more than one CN, OU or O is refused: identity must be unambiguous.
pub fn cert_info(der: &CertificateDer<'_>) -> Result<CertInfo, PkiError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| PkiError::CertParse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::CertParse(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    let subject = cert.subject();
    let subject_cn =
        single_attr(subject, "common name", AttrKind::Cn)?.ok_or_else(|| PkiError::Unusable {
            subject: subject.to_string(),
            reason: "it has no common name (CN)".into(),
        })?;
    let ou = single_attr(subject, "organisational unit", AttrKind::Ou)?;
    let org = single_attr(subject, "organisation", AttrKind::O)?;
    let issuer_cn = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    let mut dns_names = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::Unusable {
            subject: subject_cn.clone(),
            reason: format!("its subjectAltName extension is malformed ({e})"),
        })?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(d) = name {
                dns_names.push(d.to_string());
            }
        }
    }
    let basic = cert.basic_constraints().map_err(|e| PkiError::Unusable {
        subject: subject_cn.clone(),
        reason: format!("its basicConstraints extension is malformed ({e})"),
    })?;
    Ok(CertInfo {
        subject_cn,
        ou,
        org,
        issuer_cn,
        dns_names,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        fingerprint: fingerprint(der),
        is_ca: basic.is_some_and(|b| b.value.ca),
    })
}

/// Loads a private key from PEM (PKCS#8; SEC1 and PKCS#1 are accepted too).
pub fn load_key_pem(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    // The key text itself is never put into the error.
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| pem_error("private key", "PRIVATE KEY", e))
}

/// SHA-256 of a certificate's DER: how Cordon names a certificate in logs and the audit log.
pub fn fingerprint(der: &CertificateDer<'_>) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The CN of an agency CA.
pub fn ca_common_name(node: &str) -> String {
    format!("Cordon CA {node}")
}

fn cert_der_from_pem(pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| pem_error("certificate", "CERTIFICATE", e))
}

fn pem_error(what: &'static str, label: &'static str, e: rustls_pki_types::pem::Error) -> PkiError {
    let detail = match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!("no {what} found"),
        other => other.to_string(),
    };
    PkiError::Pem {
        what,
        label,
        detail,
    }
}

#[derive(Clone, Copy)]
enum AttrKind {
    Cn,
    Ou,
    O,
}

fn single_attr(
    name: &X509Name<'_>,
    what: &str,
    kind: AttrKind,
) -> Result<Option<String>, PkiError> {
    let values: Vec<_> = match kind {
        AttrKind::Cn => name.iter_common_name().collect(),
        AttrKind::Ou => name.iter_organizational_unit().collect(),
        AttrKind::O => name.iter_organization().collect(),
    };
    match values.as_slice() {
        [] => Ok(None),
        [one] => one
            .as_str()
            .map(|s| Some(s.to_string()))
            .map_err(|_| PkiError::Unusable {
                subject: name.to_string(),
                reason: format!("its {what} is not a text string"),
            }),
        many => Err(PkiError::Unusable {
            subject: name.to_string(),
            reason: format!(
                "it has {} values for {what}; Cordon certificates carry exactly one",
                many.len()
            ),
        }),
    }
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Generate {
        what: "ECDSA P-256 key",
        source,
    })
}

/// Parameters common to every certificate: validity window and a random serial number.
fn base_params(now: OffsetDateTime, validity: Duration) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + validity;
    // Random 128-bit serial (RFC 5280: positive, at most 20 bytes). rcgen's default derives it
    // from the public key, which would repeat if a key were ever re-certified.
    let mut serial = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| PkiError::Random)?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(params)
}

/// Signs `params` (with a fresh key) by the CA, then checks that the result chains by name.
fn issue(
    ca: &CertifiedKey,
    mut params: CertificateParams,
    now: OffsetDateTime,
    what: &'static str,
) -> Result<CertifiedKey, PkiError> {
    let ca_der = cert_der_from_pem(&ca.cert_pem)?;
    let (_, ca_cert) = x509_parser::parse_x509_certificate(ca_der.as_ref())
        .map_err(|e| PkiError::CertParse(e.to_string()))?;
    let ca_subject = ca_cert.subject().to_string();
    if !ca_cert.is_ca() {
        return Err(PkiError::NotACa {
            subject: ca_subject,
        });
    }
    let ca_not_after = ca_cert.validity().not_after.to_datetime();
    if now > ca_not_after {
        return Err(PkiError::Unusable {
            subject: ca_subject,
            reason: format!("the CA expired on {ca_not_after}; create a new CA and re-issue"),
        });
    }
    // A leaf never outlives its CA: verification would fail at that point anyway.
    params.not_after = params.not_after.min(ca_not_after);
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(|e| PkiError::Key(e.to_string()))?;
    if ca_key.public_key_raw() != ca_cert.public_key().subject_public_key.data.as_ref() {
        return Err(PkiError::KeyMismatch {
            subject: ca_subject,
        });
    }

    // Rebuild the issuer name from the CA certificate. rcgen can do this itself only with its
    // `x509-parser` feature; we avoid that and instead check below that the bytes match.
    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = rcgen::DistinguishedName::new();
    for attr in ca_cert.subject().iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .map(|it| it.collect())
            .ok_or_else(|| PkiError::CertParse("CA subject has an unreadable attribute".into()))?;
        let value = attr.as_str().map_err(|_| PkiError::Unusable {
            subject: ca_subject.clone(),
            reason: "its subject holds a non-text attribute".into(),
        })?;
        issuer_params
            .distinguished_name
            .push(DnType::from_oid(&oid), value);
    }
    let issuer = Issuer::new(issuer_params, ca_key);

    // Leaves are never CAs, and say so explicitly; the AKI helps verifiers pick the issuer.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let key = new_key()?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|source| PkiError::Generate { what, source })?;

    let (_, issued) = x509_parser::parse_x509_certificate(cert.der().as_ref())
        .map_err(|e| PkiError::CertParse(e.to_string()))?;
    if issued.issuer().as_raw() != ca_cert.subject().as_raw() {
        return Err(PkiError::Unusable {
            subject: ca_subject,
            reason: "its subject could not be reproduced exactly as an issuer name (was it made by `cordon init`?)".into(),
        });
    }
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn ca_round_trip() {
        let t = now();
        let ca = new_ca("th", t).unwrap();
        let (der, info) = parse_cert_pem(&ca.cert_pem).unwrap();
        assert_eq!(info.subject_cn, "Cordon CA th");
        assert_eq!(info.org.as_deref(), Some("th"));
        assert_eq!(info.ou, None);
        assert!(info.is_ca);
        assert_eq!(info.issuer_cn.as_deref(), Some("Cordon CA th"));
        assert_eq!(
            info.not_before.unix_timestamp(),
            (t - CLOCK_SKEW).unix_timestamp()
        );
        assert_eq!(
            info.not_after.unix_timestamp(),
            (t + CA_VALIDITY).unix_timestamp()
        );
        assert_eq!(info.fingerprint, fingerprint(&der));
        assert!(load_key_pem(&ca.key_pem).is_ok());
        assert!(ca.key_pem.contains("BEGIN PRIVATE KEY"), "PKCS#8 expected");
    }

    #[test]
    fn node_and_user_round_trip() {
        let t = now();
        let ca = new_ca("jp.npa", t).unwrap();
        let node = issue_node_cert(&ca, "jp.npa", t).unwrap();
        let (_, info) = parse_cert_pem(&node.cert_pem).unwrap();
        assert_eq!(info.subject_cn, "jp.npa");
        assert_eq!(info.ou.as_deref(), Some("node"));
        assert_eq!(info.org.as_deref(), Some("jp.npa"));
        assert_eq!(info.dns_names, vec!["jp.npa".to_string()]);
        assert_eq!(info.issuer_cn.as_deref(), Some("Cordon CA jp.npa"));
        assert!(!info.is_ca);
        assert_eq!(
            info.not_after.unix_timestamp(),
            (t + NODE_CERT_VALIDITY).unix_timestamp()
        );

        let user = issue_user_cert(&ca, "jp.npa", "k.tanaka", Role::Operator, t).unwrap();
        let (_, info) = parse_cert_pem(&user.cert_pem).unwrap();
        assert_eq!(info.subject_cn, "k.tanaka");
        assert_eq!(info.ou.as_deref(), Some("operator"));
        assert_eq!(info.org.as_deref(), Some("jp.npa"));
        assert!(info.dns_names.is_empty());
        assert!(!info.is_ca);
        assert_eq!(
            info.not_after.unix_timestamp(),
            (t + USER_CERT_VALIDITY).unix_timestamp()
        );
    }

    #[test]
    fn serials_and_fingerprints_differ() {
        let ca = new_ca("th", now()).unwrap();
        let a = issue_node_cert(&ca, "th", now()).unwrap();
        let b = issue_node_cert(&ca, "th", now()).unwrap();
        let (_, ia) = parse_cert_pem(&a.cert_pem).unwrap();
        let (_, ib) = parse_cert_pem(&b.cert_pem).unwrap();
        assert_ne!(ia.fingerprint, ib.fingerprint);
    }

    #[test]
    fn issuing_refuses_wrong_key_and_non_ca() {
        let ca = new_ca("th", now()).unwrap();
        let other = new_ca("th", now()).unwrap();
        let mixed = CertifiedKey {
            cert_pem: ca.cert_pem.clone(),
            key_pem: other.key_pem.clone(),
        };
        let e = issue_node_cert(&mixed, "th", now()).unwrap_err();
        assert!(matches!(e, PkiError::KeyMismatch { .. }), "{e}");

        let leaf = issue_node_cert(&ca, "th", now()).unwrap();
        let e = issue_node_cert(&leaf, "th", now()).unwrap_err();
        assert!(matches!(e, PkiError::NotACa { .. }), "{e}");
        assert!(e.to_string().contains("not a CA certificate"));
    }

    #[test]
    fn leaves_never_outlive_their_ca() {
        let t = now();
        let old_ca = new_ca("th", t - CA_VALIDITY + Duration::days(100)).unwrap();
        let (_, ca_info) = parse_cert_pem(&old_ca.cert_pem).unwrap();
        let node = issue_node_cert(&old_ca, "th", t).unwrap();
        let (_, info) = parse_cert_pem(&node.cert_pem).unwrap();
        assert_eq!(info.not_after, ca_info.not_after);
        let e = issue_node_cert(&old_ca, "th", t + Duration::days(200)).unwrap_err();
        assert!(e.to_string().contains("the CA expired"), "{e}");
    }

    #[test]
    fn debug_never_shows_key() {
        let ca = new_ca("th", now()).unwrap();
        let dbg = format!("{ca:?}");
        assert!(dbg.contains("<redacted>"));
        assert!(!dbg.contains("PRIVATE KEY"));
        let body = ca.key_pem.lines().nth(1).unwrap();
        assert!(!dbg.contains(body));
    }

    #[test]
    fn node_names() {
        for ok in ["th", "jp.npa", "us-fbi", "a", "in.cbi2", "x1.y-2.z"] {
            validate_node_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "TH",
            "1th",
            "-th",
            "th-",
            "th.",
            ".th",
            "th..jp",
            "th_1",
            "th jp",
            "jp.-x",
            "jp.123",
            "ไทย",
        ] {
            let e = validate_node_name(bad).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains("lower-case letters"), "{msg}");
        }
    }

    #[test]
    fn node_name_length_limit() {
        assert!(validate_node_name(&format!("a{}", ".b".repeat(31))).is_ok()); // 63 chars
        let e = validate_node_name(&"a".repeat(64)).unwrap_err();
        assert!(e.to_string().contains("longer than 63"), "{e}");
    }

    #[test]
    fn user_names() {
        for ok in ["somchai.k", "K_Tanaka", "agent-7", "a@rtp.go.th", "007"] {
            validate_user_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "two words", ".dot", "-x", "Ñandú", "a/b", "x\n"] {
            let e = validate_user_name(bad).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains("ASCII letters"), "{msg}");
        }
        assert!(validate_user_name(&"a".repeat(65)).is_err());
        let ca = new_ca("th", now()).unwrap();
        assert!(matches!(
            issue_user_cert(&ca, "th", "bad name", Role::Investigator, now()),
            Err(PkiError::InvalidUserName { .. })
        ));
    }

    #[test]
    fn pem_errors_are_clear() {
        let e = parse_cert_pem("hello").unwrap_err().to_string();
        assert!(e.contains("no certificate found"), "{e}");
        assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
        let e = load_key_pem("").unwrap_err().to_string();
        assert!(e.contains("no private key found"), "{e}");
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_cert_pem(garbage),
            Err(PkiError::CertParse(_))
        ));
    }

    #[test]
    fn parse_bundle() {
        let a = new_ca("th", now()).unwrap();
        let b = new_ca("jp.npa", now()).unwrap();
        let bundle = format!("{}{}", a.cert_pem, b.cert_pem);
        let certs = parse_certs_pem(&bundle).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(cert_info(&certs[1]).unwrap().subject_cn, "Cordon CA jp.npa");
    }
}
