//! Errors of the protocol crate, split by who is at fault.
//!
//! - [`WireError`]: bytes that do not decode (the sender's fault: malformed input).
//! - [`VerifyError`]: a decoded value whose signature, proof or digest does not check
//!   (the peer misbehaves or the data was altered).
//! - [`ErrorCode`] + [`RemoteError`]: what a node tells its peer when it refuses a request;
//!   the codes are part of the wire contract (`spec/PROTOCOL.md`, "Error codes").

use serde::{Deserialize, Serialize};

use crate::frame::FrameError;

/// Bytes that could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame header was bad (or more bytes are needed).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The payload is not a valid CBOR encoding of the expected message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A complete message was followed by more bytes.
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
    /// A field decoded but its value is out of range (wrong length, zero, too many items).
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// Field name as in `spec/PROTOCOL.md`.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Serialising a message failed (a bug on our side, never the peer's).
    #[error("could not encode message: {0}")]
    Encode(String),
}

/// A signature, proof or digest that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The epoch descriptor's signature does not verify under the partner's pinned key.
    #[error("epoch descriptor signature does not verify under the pinned signing key of `{node}`")]
    DescriptorSignature {
        /// Which node's key was tried.
        node: String,
    },
    /// The descriptor names another node, collection or kind than the one asked for.
    #[error("epoch descriptor mismatch: {0}")]
    DescriptorMismatch(String),
    /// The descriptor's validity period does not include the current time.
    #[error("epoch descriptor for epoch {epoch} is outside its validity period")]
    DescriptorExpired {
        /// The epoch named.
        epoch: u64,
    },
    /// Filter bytes do not match the parameters or digest the signed descriptor states.
    #[error("filter does not match its signed descriptor: {0}")]
    FilterMismatch(String),
    /// Delta tags do not chain to the digest the signed descriptor states.
    #[error("delta does not match its signed descriptor: {0}")]
    DeltaMismatch(String),
    /// The DLEQ proof does not show the evaluation used the descriptor's key.
    #[error("the holder's proof does not verify: its answer was not computed with the key of its signed descriptor")]
    Proof,
    /// The answer has a different number of items than the request.
    #[error("answer has {got} items but {expected} were asked")]
    Count {
        /// Items asked.
        expected: usize,
        /// Items answered.
        got: usize,
    },
    /// The holder's receipt is missing, not signed by its pinned key, or does not describe
    /// this exchange.
    #[error("the holder's receipt is not valid: {0}")]
    Receipt(String),
    /// A count-mode answer whose proof verifies but which cannot be an honest answer (two
    /// answers unblind to the same element, though every element sent was distinct).
    #[error("the holder's count answer is not valid: {0}")]
    CountAnswer(String),
}

/// Machine-readable reason a node gives when it refuses a request. Stable strings on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request did not decode or had an invalid field.
    BadRequest,
    /// The requested collection does not exist at the holder.
    UnknownCollection,
    /// The epoch named is not the holder's current one; fetch the descriptor again.
    StaleEpoch,
    /// Too many items in one request.
    TooManyItems,
    /// The peer is not allowed to make this request.
    NotAuthorized,
    /// The holder has no epoch built yet for this collection.
    NoEpoch,
    /// The node is shutting down.
    ShuttingDown,
    /// The holder does not share this collection with the querier (its policy grants none).
    NotShared,
    /// The holder shares the collection, but not in the mode asked for (`match`, `count`).
    ModeNotAllowed,
    /// The querier's budget of evaluated items for this collection is spent for today, or the
    /// request is larger than one query may be.
    BudgetExhausted,
    /// The holder's policy does not let the querier file follow-up requests on this collection.
    FollowupNotAllowed,
    /// A hit reference in a follow-up request matches no record of the current epoch (forged,
    /// mistyped, or from an epoch that has since been rotated away).
    UnknownReference,
    /// A follow-up request id the holder does not know (or that belongs to another partner).
    UnknownFollowup,
    /// An evaluation request reuses a query id this partner already had answered (the holder
    /// remembers the ids of the current and the previous UTC day); send a fresh random id.
    ReplayedQuery,
    /// The peer exceeds one of the holder's resource limits (request size, time to send a
    /// request, pending follow-ups); the message names the limit. Others are still served.
    LimitExceeded,
    /// Something failed inside the node; the message says what.
    Internal,
    /// A code this build does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as written on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownCollection => "unknown_collection",
            ErrorCode::StaleEpoch => "stale_epoch",
            ErrorCode::TooManyItems => "too_many_items",
            ErrorCode::NotAuthorized => "not_authorized",
            ErrorCode::NoEpoch => "no_epoch",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::NotShared => "not_shared",
            ErrorCode::ModeNotAllowed => "mode_not_allowed",
            ErrorCode::BudgetExhausted => "budget_exhausted",
            ErrorCode::FollowupNotAllowed => "followup_not_allowed",
            ErrorCode::UnknownReference => "unknown_reference",
            ErrorCode::UnknownFollowup => "unknown_followup",
            ErrorCode::ReplayedQuery => "replayed_query",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal as sent on the wire: a code and one human-readable sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct RemoteError {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// One sentence for a person.
    pub message: String,
}

impl RemoteError {
    /// Builds a refusal.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RemoteError {
            code,
            message: message.into(),
        }
    }
}
