//! Errors of the node library, split by who must act (as rustls splits its errors by who is
//! at fault):
//!
//! - [`OperatorError`]: the node's operator — its configuration, files, keys, disk or ports;
//! - [`UserError`]: the person who made the request — change it and ask again;
//! - [`PeerError`]: a partner (or, for a CLI, its node) sent something wrong or refused;
//! - [`TransportError`]: the connection or stream failed, or time ran out;
//! - [`StorageError`]: the database failed;
//! - [`InternalError`]: something inside the node that is nobody's input.
//!
//! [`NodeError::code`] is the one place that says which wire code ([`ErrorCode`]) an error is
//! reported with, and [`NodeError::to_control`] the one place that turns it into a control
//! channel refusal. Every message is one sentence a person can act on.

use std::path::PathBuf;
use std::time::Duration;

use cordon_protocol::control::ControlError;
use cordon_protocol::{ErrorCode, RemoteError, VerifyError, WireError};

/// Everything that can go wrong in a node, by who must act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node's operator must act: configuration, files, keys, disk, ports.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// The request cannot be carried out as asked; the person who made it must change it.
    #[error(transparent)]
    User(#[from] UserError),
    /// A peer sent something that does not decode or verify, refused, or exceeds a limit.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The connection or stream failed, or time ran out.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something failed inside the node that is nobody's input.
    #[error(transparent)]
    Internal(#[from] InternalError),
    /// A CLI's own node refused its control request (code, sentence, details such as bad
    /// rows).
    #[error("{message}")]
    Control {
        /// Machine-readable reason.
        code: ErrorCode,
        /// One sentence.
        message: String,
        /// Extra lines.
        details: Vec<String>,
    },
}

/// What the node's operator must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorError {
    /// The configuration file is missing or wrong.
    #[error("configuration {path}: {message}")]
    Config {
        /// Which file.
        path: PathBuf,
        /// What is wrong, naming the key and line.
        message: String,
    },
    /// A file the node needs could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file, key or certificate the node needs is there but unusable (the sentence says
    /// which and what to do).
    #[error("{0}")]
    Setup(String),
    /// A write failed because the disk is full or the process hit its file size limit.
    #[error("{0}: the disk holding the node's data folder is full, or the node hit its file size limit (`ulimit -f`, systemd LimitFSIZE); nothing of this operation was stored; free disk space or raise the limit, restart the node, then try again")]
    DiskFull(String),
    /// The UDP port could not be bound.
    #[error("cannot listen on {addr}: {source}; is another node already running there? change `node.listen` in node.toml")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificates, keys or TLS set-up.
    #[error(transparent)]
    Tls(#[from] crate::tls::error::TlsError),
    /// Certificate generation or parsing.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
}

/// What the person who made a request must change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The request cannot be carried out as asked (the sentence says why and what to do).
    #[error("{0}")]
    Request(String),
    /// The request is refused with this wire code (an unknown follow-up, or a partner's own
    /// refusal relayed).
    #[error("{message}")]
    Refused {
        /// Machine-readable reason.
        code: ErrorCode,
        /// One sentence.
        message: String,
    },
    /// The request's items are invalid: one sentence, and one line per bad item.
    #[error("{message}")]
    Invalid {
        /// One sentence.
        message: String,
        /// Per-item reasons.
        details: Vec<String>,
    },
}

/// What a peer did wrong (or refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// A peer sent bytes that do not decode.
    #[error("peer sent a malformed message: {0}")]
    Wire(#[from] WireError),
    /// A peer's answer does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A peer refused the request.
    #[error("refused: {0}")]
    Refused(#[from] RemoteError),
    /// The peer exceeds one of this node's resource limits (the sentence names it).
    #[error("{0}")]
    Limit(String),
}

/// A connection or stream that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made, or the peer refused it.
    #[error("connection: {0}")]
    Connection(String),
    /// The connection or stream failed after the exchange had begun (the peer died, closed
    /// it, or reset the stream).
    #[error("the connection dropped during the exchange: {0}")]
    Dropped(String),
    /// The peer finished the stream in the middle of a frame: the message is cut short, not
    /// malformed.
    #[error("the stream ended in the middle of a frame, {needed} bytes short")]
    Truncated {
        /// Bytes still expected at least.
        needed: usize,
    },
    /// Time ran out.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// The database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A read or write failed, or what was read is not what was written.
    #[error("database: {0}")]
    Database(String),
}

/// Something failed inside the node that is nobody's input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InternalError {
    /// A worker task died, a state that cannot be reached was reached, …
    #[error("internal error: {0}")]
    Bug(String),
    /// The system random number generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A message of this node's could not be encoded (too large for one frame).
    #[error(transparent)]
    Encode(WireError),
}

impl NodeError {
    /// The configuration file `path` is wrong.
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        OperatorError::Config {
            path: path.into(),
            message: message.into(),
        }
        .into()
    }

    /// A file the node needs could not be read or written.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        OperatorError::Io {
            what,
            path: path.into(),
            source,
        }
        .into()
    }

    /// The UDP port could not be bound.
    pub fn bind(addr: std::net::SocketAddr, source: std::io::Error) -> Self {
        OperatorError::Bind { addr, source }.into()
    }

    /// A file, key or certificate is unusable: the operator must act.
    pub fn setup(message: impl Into<String>) -> Self {
        OperatorError::Setup(message.into()).into()
    }

    /// The request cannot be carried out as asked: its author must change it.
    pub fn request(message: impl Into<String>) -> Self {
        UserError::Request(message.into()).into()
    }

    /// The request is refused with `code`.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        UserError::Refused {
            code,
            message: message.into(),
        }
        .into()
    }

    /// The request's items are invalid.
    pub fn invalid(message: impl Into<String>, details: Vec<String>) -> Self {
        UserError::Invalid {
            message: message.into(),
            details,
        }
        .into()
    }

    /// The peer exceeds one of this node's limits.
    pub fn limit(message: impl Into<String>) -> Self {
        PeerError::Limit(message.into()).into()
    }

    /// No connection could be made.
    pub fn connection(message: impl Into<String>) -> Self {
        TransportError::Connection(message.into()).into()
    }

    /// The connection or stream failed during the exchange.
    pub fn dropped(message: impl Into<String>) -> Self {
        TransportError::Dropped(message.into()).into()
    }

    /// Time ran out.
    pub fn timeout(after: Duration) -> Self {
        TransportError::Timeout(after).into()
    }

    /// The database failed, or holds what it should not.
    pub fn storage(message: impl Into<String>) -> Self {
        StorageError::Database(message.into()).into()
    }

    /// Something inside the node failed.
    pub fn internal(message: impl Into<String>) -> Self {
        InternalError::Bug(message.into()).into()
    }

    /// The wire code this error is reported with, on the control channel and to partners.
    /// The one mapping: everything else that reports an error asks here.
    pub fn code(&self) -> ErrorCode {
        match self {
            // A configuration a reload found wrong is the requesting operator's to fix.
            NodeError::User(UserError::Refused { code, .. }) => *code,
            NodeError::User(_) | NodeError::Operator(OperatorError::Config { .. }) => {
                ErrorCode::BadRequest
            }
            NodeError::Peer(PeerError::Wire(_)) => ErrorCode::BadRequest,
            NodeError::Peer(PeerError::Refused(r)) => r.code,
            NodeError::Peer(PeerError::Limit(_)) => ErrorCode::LimitExceeded,
            // The sender's message is incomplete: its request, not this node, is at fault.
            NodeError::Transport(TransportError::Truncated { .. }) => ErrorCode::BadRequest,
            NodeError::Control { code, .. } => *code,
            _ => ErrorCode::Internal,
        }
    }

    /// The refusal a CLI sees on the control channel: [`NodeError::code`], the sentence and
    /// any details (a peer's refusal is relayed in its own words).
    pub fn to_control(&self) -> ControlError {
        let (message, details) = match self {
            NodeError::Peer(PeerError::Refused(r)) => (r.message.clone(), Vec::new()),
            NodeError::User(UserError::Invalid { message, details })
            | NodeError::Control {
                message, details, ..
            } => (message.clone(), details.clone()),
            other => (other.to_string(), Vec::new()),
        };
        ControlError {
            code: self.code(),
            message,
            details,
        }
    }

    /// The refusal a request that could not be read earns (malformed, cut short, or over a
    /// limit): its code and sentence; or the error itself if the stream failed and no answer
    /// can go out.
    pub fn unreadable(self) -> Result<(ErrorCode, String), NodeError> {
        let message = match &self {
            NodeError::Peer(PeerError::Wire(w)) => format!("malformed request: {w}"),
            NodeError::Transport(TransportError::Truncated { .. }) => {
                format!("incomplete request: {self}")
            }
            NodeError::Peer(PeerError::Limit(m)) => m.clone(),
            _ => return Err(self),
        };
        Ok((self.code(), message))
    }

    /// Whether the operator must free disk space (the node refuses writes until then).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, NodeError::Operator(OperatorError::DiskFull(_)))
    }
}

impl From<WireError> for NodeError {
    fn from(e: WireError) -> Self {
        PeerError::Wire(e).into()
    }
}

impl From<VerifyError> for NodeError {
    fn from(e: VerifyError) -> Self {
        PeerError::Verify(e).into()
    }
}

impl From<RemoteError> for NodeError {
    fn from(e: RemoteError) -> Self {
        PeerError::Refused(e).into()
    }
}

impl From<crate::tls::error::TlsError> for NodeError {
    fn from(e: crate::tls::error::TlsError) -> Self {
        OperatorError::Tls(e).into()
    }
}

impl From<crate::pki::PkiError> for NodeError {
    fn from(e: crate::pki::PkiError) -> Self {
        OperatorError::Pki(e).into()
    }
}

/// Whether an I/O error means "no room": disk full (ENOSPC), quota (EDQUOT) or the file size
/// limit (EFBIG, with SIGXFSZ ignored).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

impl From<redb::Error> for NodeError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) if is_disk_full(&io) => {
                OperatorError::DiskFull(format!("writing the database failed ({io})")).into()
            }
            // redb refuses every write after a failed one, until the database is reopened.
            redb::Error::PreviousIo => NodeError::storage(
                "an earlier write to the database failed (disk full?), so the database refuses writes until the node restarts; check the node's log and free disk space, then restart the node",
            ),
            e => NodeError::storage(e.to_string()),
        }
    }
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for NodeError {
            fn from(e: $t) -> Self {
                NodeError::from(redb::Error::from(e))
            }
        }
    )*};
}
storage_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mapping_to_wire_codes_and_the_same_sentences() {
        let user = NodeError::request("the query has no items");
        assert_eq!(user.code(), ErrorCode::BadRequest);
        assert_eq!(user.to_string(), "the query has no items");
        let refused = NodeError::from(RemoteError::new(ErrorCode::NotShared, "not yours"));
        assert_eq!(refused.code(), ErrorCode::NotShared);
        assert_eq!(refused.to_control().message, "not yours");
        assert_eq!(refused.to_string(), "refused: not yours [not_shared]");
        let cut = NodeError::from(TransportError::Truncated { needed: 3 });
        assert_eq!(cut.code(), ErrorCode::BadRequest);
        assert!(!cut.to_string().contains("malformed"));
        assert_eq!(NodeError::limit("too big").code(), ErrorCode::LimitExceeded);
        assert_eq!(
            NodeError::from(InternalError::Random).code(),
            ErrorCode::Internal
        );
        assert_eq!(NodeError::storage("x").to_string(), "database: x");
        let invalid = NodeError::invalid("2 of 3 items are not valid", vec!["line 1".into()]);
        assert_eq!(invalid.to_control().details, vec!["line 1".to_string()]);
        let full = NodeError::from(redb::Error::Io(std::io::Error::from(
            std::io::ErrorKind::StorageFull,
        )));
        assert!(full.is_disk_full());
        assert_eq!(full.code(), ErrorCode::Internal);
    }
}
