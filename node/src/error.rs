//! Errors of the node library, split by who is at fault.

use std::path::PathBuf;

use cordon_protocol::{RemoteError, VerifyError, WireError};

/// Everything that can go wrong in a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration file is missing or wrong (the operator's to fix).
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
    /// The database failed.
    #[error("database: {0}")]
    Storage(String),
    /// A write failed because the disk is full or the process hit its file size limit.
    #[error("{0}: the disk holding the node's data folder is full, or the node hit its file size limit (`ulimit -f`, systemd LimitFSIZE); nothing of this operation was stored; free disk space or raise the limit, restart the node, then try again")]
    DiskFull(String),
    /// Certificates, keys or TLS set-up.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Certificate generation or parsing.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The UDP port could not be bound.
    #[error("cannot listen on {addr}: {source}; is another node already running there? change `node.listen` in node.toml")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A request from a user that cannot be carried out (the user's to fix).
    #[error("{0}")]
    Misuse(String),
    /// A peer sent bytes that do not decode.
    #[error("peer sent a malformed message: {0}")]
    Wire(#[from] WireError),
    /// A peer's answer does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A peer refused the request.
    #[error("refused: {0}")]
    Remote(#[from] RemoteError),
    /// The connection or stream failed.
    #[error("connection: {0}")]
    Connection(String),
    /// The connection or stream failed after the exchange had begun (the peer died, closed
    /// it, or reset the stream).
    #[error("the connection dropped during the exchange: {0}")]
    Dropped(String),
    /// The peer exceeds one of this node's resource limits (the sentence names it).
    #[error("{0}")]
    Limit(String),
    /// The node refused a control request (code, sentence, details such as bad rows).
    #[error("{message}")]
    Control {
        /// Machine-readable reason.
        code: cordon_protocol::ErrorCode,
        /// One sentence.
        message: String,
        /// Extra lines.
        details: Vec<String>,
    },
    /// Something failed inside the node that is nobody's input (a worker task died).
    #[error("internal error: {0}")]
    Internal(String),
    /// Time ran out.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
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
                NodeError::DiskFull(format!("writing the database failed ({io})"))
            }
            // redb refuses every write after a failed one, until the database is reopened.
            redb::Error::PreviousIo => NodeError::Storage(
                "an earlier write to the database failed (disk full?), so the database refuses writes until the node restarts; check the node's log and free disk space, then restart the node".into(),
            ),
            e => NodeError::Storage(e.to_string()),
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
