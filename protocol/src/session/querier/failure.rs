//! Why a partner gave no answer: [`ExchangeError`], split by who is at fault, and its one
//! mapping to what the investigator sees, a [`FailureCode`] and one sentence ([`Failure`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, RemoteError, VerifyError, WireError};
use crate::ident::Kind;
use crate::session::sync::Rollback;

/// Why an exchange with one partner failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The partner refused a request (its code and sentence).
    #[error("refused: {0}")]
    Refused(RemoteError),
    /// The partner sent bytes that do not decode, or the wrong message.
    #[error("peer sent a malformed message: {0}")]
    Malformed(WireError),
    /// The partner's answer decodes but does not verify (signature, parameters, filter, delta,
    /// receipt, proof).
    #[error(transparent)]
    Invalid(VerifyError),
    /// The partner's descriptor goes back on what it signed before.
    #[error(transparent)]
    Rollback(Rollback),
    /// The partner's collection holds another kind of identifier than the items were read as
    /// (nothing but the descriptor was asked).
    #[error("the partner's collection holds `{found}` identifiers, but the items were read as `{expected}`")]
    KindMismatch {
        /// The kind the partner's descriptor states.
        found: String,
        /// The kind of the items.
        expected: Kind,
    },
    /// No (whole) answer arrived in time (the driver's clock).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The partner could not be reached, or refused the connection (transport).
    #[error("connection: {0}")]
    Unreachable(String),
    /// The connection or stream ended after the request was sent, before the whole answer.
    #[error("the connection dropped during the exchange: {0}")]
    ConnectionLost(String),
    /// This node failed (storage, a worker, missing configuration); nobody else's fault.
    #[error("{0}")]
    Local(String),
}

/// Who must act on an [`ExchangeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The partner: it refused, or its answer is wrong.
    Peer,
    /// The network between the nodes.
    Transport,
    /// This node.
    Local,
}

impl ExchangeError {
    /// Who must act.
    pub fn fault(&self) -> Fault {
        match self {
            ExchangeError::Refused(_)
            | ExchangeError::Malformed(_)
            | ExchangeError::Invalid(_)
            | ExchangeError::Rollback(_)
            | ExchangeError::KindMismatch { .. } => Fault::Peer,
            ExchangeError::Timeout(_)
            | ExchangeError::Unreachable(_)
            | ExchangeError::ConnectionLost(_) => Fault::Transport,
            ExchangeError::Local(_) => Fault::Local,
        }
    }

    /// The failure as the investigator sees it, `me` asking `partner` about `collection`.
    /// Refusals the protocol defines are put in this node's own words (the partner's text is
    /// shown only for the others, shortened).
    pub fn failure(&self, me: &str, partner: &str, collection: &str) -> Failure {
        let (code, message) = match self {
            ExchangeError::Refused(r) if r.code == ErrorCode::NotShared => (
                FailureCode::Refused(r.code),
                format!("{partner} does not share collection `{collection}` with {me}"),
            ),
            ExchangeError::Refused(r) if r.code == ErrorCode::ModeNotAllowed => (
                FailureCode::Refused(r.code),
                format!(
                    "{partner} shares collection `{collection}` with {me}, but not in this mode: {}",
                    sanitize(&r.message)
                ),
            ),
            ExchangeError::Refused(r) if r.code == ErrorCode::BudgetExhausted => (
                FailureCode::Refused(r.code),
                format!(
                    "{me}'s budget at {partner} for collection `{collection}` is spent: {}",
                    sanitize(&r.message)
                ),
            ),
            ExchangeError::Timeout(d) => (
                FailureCode::Timeout,
                format!(
                    "{partner} did not answer within {}",
                    humantime::format_duration(*d)
                ),
            ),
            ExchangeError::Unreachable(m) => (
                FailureCode::Unreachable,
                format!("cannot reach {partner}: {m}"),
            ),
            ExchangeError::ConnectionLost(m) => (
                FailureCode::ConnectionLost,
                format!("{partner} dropped the exchange before answering ({m})"),
            ),
            ExchangeError::Refused(r) => (
                FailureCode::Refused(r.code),
                // A partner's sentence, shortened and without control characters.
                format!("{partner} refused: {}", sanitize(&r.message)),
            ),
            // A verification or decoding error can quote what the partner sent (a signed
            // descriptor's node or collection, an unknown message name): shortened and
            // cleaned like a refusal's sentence.
            ExchangeError::Invalid(v) => (
                FailureCode::InvalidAnswer,
                format!("{partner}'s answer was rejected: {}", sanitize(&v.to_string())),
            ),
            ExchangeError::Rollback(r) => (
                FailureCode::InvalidAnswer,
                format!(
                    "{partner}'s answer was rejected: {}",
                    VerifyError::from(r.clone())
                ),
            ),
            ExchangeError::Malformed(w) => (
                FailureCode::InvalidAnswer,
                format!("{partner} sent a malformed answer: {}", sanitize(&w.to_string())),
            ),
            ExchangeError::KindMismatch { found, expected } => (
                FailureCode::KindMismatch,
                format!(
                    "{partner}'s collection `{collection}` holds `{}` identifiers, but the items were read as `{}`",
                    sanitize(found),
                    expected.as_str()
                ),
            ),
            ExchangeError::Local(m) => (FailureCode::Error, format!("{partner}: {m}")),
        };
        Failure { code, message }
    }
}

impl From<RemoteError> for ExchangeError {
    fn from(e: RemoteError) -> Self {
        ExchangeError::Refused(e)
    }
}

impl From<WireError> for ExchangeError {
    fn from(e: WireError) -> Self {
        ExchangeError::Malformed(e)
    }
}

impl From<VerifyError> for ExchangeError {
    fn from(e: VerifyError) -> Self {
        ExchangeError::Invalid(e)
    }
}

impl From<Rollback> for ExchangeError {
    fn from(e: Rollback) -> Self {
        ExchangeError::Rollback(e)
    }
}

impl From<crate::exchange::FinishError> for ExchangeError {
    fn from(e: crate::exchange::FinishError) -> Self {
        match e {
            crate::exchange::FinishError::Wire(w) => ExchangeError::Malformed(w),
            crate::exchange::FinishError::Verify(v) => ExchangeError::Invalid(v),
        }
    }
}

/// What the investigator sees of a partner that gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The class of failure.
    pub code: FailureCode,
    /// One sentence naming the partner and what happened.
    pub message: String,
}

/// The class of a partner's failure, as written in the query result and the audit log:
/// `refused:<error code>`, `timeout`, `unreachable`, `connection_lost`, `invalid_answer`,
/// `kind_mismatch` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCode {
    /// The partner refused with this code.
    Refused(ErrorCode),
    /// No answer in time.
    Timeout,
    /// The partner could not be reached.
    Unreachable,
    /// The partner dropped the exchange before answering.
    ConnectionLost,
    /// The answer did not decode or did not verify.
    InvalidAnswer,
    /// The partner's collection holds another kind of identifier.
    KindMismatch,
    /// This node failed.
    Error,
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureCode::Refused(c) => write!(f, "refused:{c}"),
            FailureCode::Timeout => f.write_str("timeout"),
            FailureCode::Unreachable => f.write_str("unreachable"),
            FailureCode::ConnectionLost => f.write_str("connection_lost"),
            FailureCode::InvalidAnswer => f.write_str("invalid_answer"),
            FailureCode::KindMismatch => f.write_str("kind_mismatch"),
            FailureCode::Error => f.write_str("error"),
        }
    }
}

impl std::str::FromStr for FailureCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(code) = s.strip_prefix("refused:") {
            use serde::de::IntoDeserializer;
            let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                code.into_deserializer();
            return ErrorCode::deserialize(d)
                .map(FailureCode::Refused)
                .map_err(|e| e.to_string());
        }
        Ok(match s {
            "timeout" => FailureCode::Timeout,
            "unreachable" => FailureCode::Unreachable,
            "connection_lost" => FailureCode::ConnectionLost,
            "invalid_answer" => FailureCode::InvalidAnswer,
            "kind_mismatch" => FailureCode::KindMismatch,
            "error" => FailureCode::Error,
            other => return Err(format!("failure code {:?} is not known", sanitize(other))),
        })
    }
}

impl Serialize for FailureCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A peer's text made safe to show and log: control characters and the invisible characters
/// that reorder a line on screen (bidirectional overrides and isolates) replaced, at most 300
/// chars.
pub fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| {
            if c.is_control() || reorders(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if s.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

/// Bidirectional formatting characters: a partner's sentence must not make the rest of a
/// terminal or log line read in another order than it is written.
fn reorders(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_spellings() {
        for (code, text) in [
            (
                FailureCode::Refused(ErrorCode::NotShared),
                "refused:not_shared",
            ),
            (FailureCode::Refused(ErrorCode::Unknown), "refused:unknown"),
            (FailureCode::Timeout, "timeout"),
            (FailureCode::Unreachable, "unreachable"),
            (FailureCode::ConnectionLost, "connection_lost"),
            (FailureCode::InvalidAnswer, "invalid_answer"),
            (FailureCode::KindMismatch, "kind_mismatch"),
            (FailureCode::Error, "error"),
        ] {
            assert_eq!(code.to_string(), text);
            assert_eq!(text.parse::<FailureCode>().unwrap(), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<FailureCode>(&json).unwrap(), code);
        }
        // A newer partner's code still reads as a refusal.
        assert_eq!(
            "refused:brand_new".parse::<FailureCode>().unwrap(),
            FailureCode::Refused(ErrorCode::Unknown)
        );
        assert!("nonsense".parse::<FailureCode>().is_err());
    }

    #[test]
    fn sentences_name_the_partner() {
        let f = |e: ExchangeError| e.failure("th", "jp", "phones");
        let r = f(ExchangeError::Refused(RemoteError::new(
            ErrorCode::NotShared,
            "whatever the partner says",
        )));
        assert_eq!(r.code.to_string(), "refused:not_shared");
        assert_eq!(r.message, "jp does not share collection `phones` with th");
        let r = f(ExchangeError::Timeout(Duration::from_secs(30)));
        assert_eq!(r.message, "jp did not answer within 30s");
        let r = f(ExchangeError::Refused(RemoteError::new(
            ErrorCode::Internal,
            format!("a\nb{}", "x".repeat(400)),
        )));
        assert!(r.message.starts_with("jp refused: a b"));
        assert!(r.message.ends_with('…'));
        // Nothing that reorders the line, and exactly 300 characters are not cut.
        assert_eq!(sanitize("a\u{202e}b\u{2067}c\u{200f}"), "a b c ");
        assert_eq!(sanitize(&"é".repeat(300)), "é".repeat(300));
        let r = f(ExchangeError::Rollback(Rollback::ChainForked));
        assert_eq!(r.code, FailureCode::InvalidAnswer);
        assert_eq!(r.message, "jp's answer was rejected: epoch descriptor mismatch: the partner went back on what it signed before: the same delta count with another chain");
        assert_eq!(
            ExchangeError::Timeout(Duration::from_secs(1)).fault(),
            Fault::Transport
        );
    }
}
