//! What can go wrong building TLS configurations or identifying a peer. Its own module, below
//! the rest of `tls`, so that the node's error type can hold it without importing TLS set-up.

use crate::pki::PkiError;

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
