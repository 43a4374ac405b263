//! A partner's failure as the investigator sees it: a typed code and one sentence.

use std::time::Duration;

use cordon_protocol::control::{FailureCode, PartnerOutcome};
use cordon_protocol::ErrorCode;

use crate::error::{NodeError, PeerError, TransportError};

/// A partner's failure as the investigator sees it. Refusals the protocol defines are put in
/// this node's own words (the partner's text is shown only for the others, shortened).
pub(super) fn failed(me: &str, partner: &str, collection: &str, e: &NodeError) -> PartnerOutcome {
    let (code, message) = match e {
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::NotShared => (
            FailureCode::Refused(r.code),
            format!("{partner} does not share collection `{collection}` with {me}"),
        ),
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::ModeNotAllowed => (
            FailureCode::Refused(r.code),
            format!(
                "{partner} shares collection `{collection}` with {me}, but not in this mode: {}",
                sanitize(&r.message)
            ),
        ),
        NodeError::Peer(PeerError::Refused(r)) if r.code == ErrorCode::BudgetExhausted => (
            FailureCode::Refused(r.code),
            format!(
                "{me}'s budget at {partner} for collection `{collection}` is spent: {}",
                sanitize(&r.message)
            ),
        ),
        NodeError::Transport(TransportError::Timeout(d)) => (
            FailureCode::Timeout,
            format!("{partner} did not answer within {}", fmt_duration(*d)),
        ),
        NodeError::Transport(TransportError::Connection(m)) => (
            FailureCode::Unreachable,
            format!("cannot reach {partner}: {m}"),
        ),
        NodeError::Transport(TransportError::Dropped(m)) => (
            FailureCode::ConnectionLost,
            format!("{partner} dropped the exchange before answering ({m})"),
        ),
        // A stream cut short is a lost connection, not a malformed answer.
        NodeError::Transport(t @ TransportError::Truncated { .. }) => (
            FailureCode::ConnectionLost,
            format!("{partner} dropped the exchange before answering ({t})"),
        ),
        NodeError::Peer(PeerError::Refused(r)) => (
            FailureCode::Refused(r.code),
            // A partner's sentence, shortened and without control characters.
            format!("{partner} refused: {}", sanitize(&r.message)),
        ),
        NodeError::Peer(PeerError::Verify(v)) => (
            FailureCode::InvalidAnswer,
            format!("{partner}'s answer was rejected: {v}"),
        ),
        NodeError::Peer(PeerError::Wire(w)) => (
            FailureCode::InvalidAnswer,
            format!("{partner} sent a malformed answer: {w}"),
        ),
        other => (FailureCode::Error, format!("{partner}: {other}")),
    };
    PartnerOutcome::Failed {
        code: code.into(),
        message,
    }
}

/// A peer's text made safe to show and log: control characters replaced, at most 300 chars.
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
