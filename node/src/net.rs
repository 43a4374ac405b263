//! Frames over QUIC streams: read one, write one.
//!
//! The header is read first and its length checked against the protocol's limit before the
//! payload buffer is allocated.

use quinn::{RecvStream, SendStream};
use serde::{de::DeserializeOwned, Serialize};

use cordon_protocol::frame::{self, HEADER_LEN};

use crate::error::{InternalError, NodeError, TransportError};

/// Reads one frame. `Ok(None)` means the peer finished the stream cleanly before a new frame.
pub async fn read_frame<T: DeserializeOwned>(
    recv: &mut RecvStream,
) -> Result<Option<T>, NodeError> {
    Ok(read_frame_sized(recv).await?.map(|(t, _)| t))
}

/// [`read_frame`], also returning the frame's size on the wire (header included).
pub async fn read_frame_sized<T: DeserializeOwned>(
    recv: &mut RecvStream,
) -> Result<Option<(T, usize)>, NodeError> {
    read_frame_within(recv, frame::MAX_PAYLOAD).await
}

/// [`read_frame_sized`] with a lower limit of this node's on the payload (`max` bytes): a
/// larger frame the protocol allows is refused as [`PeerError::Limit`](crate::error::PeerError::Limit), before its payload is
/// read or allocated. A stream finished in the middle of a frame is a
/// [`TransportError::Truncated`], not a malformed message.
pub async fn read_frame_within<T: DeserializeOwned>(
    recv: &mut RecvStream,
    max: usize,
) -> Result<Option<(T, usize)>, NodeError> {
    let mut header = [0u8; HEADER_LEN];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(n)) => {
            return Err(TransportError::Truncated {
                needed: HEADER_LEN - n,
            }
            .into())
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(lost(e)),
    }
    let len = frame::parse_header(&header).map_err(cordon_protocol::WireError::from)?;
    if len > max {
        return Err(NodeError::limit(format!(
            "a frame of {len} bytes exceeds this node's limit of {max} bytes per request (`limits.max_request_bytes`)"
        )));
    }
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(n)) => {
            return Err(TransportError::Truncated { needed: len - n }.into())
        }
        Err(quinn::ReadExactError::ReadError(e)) => return Err(lost(e)),
    }
    Ok(Some((frame::decode(&payload)?, HEADER_LEN + len)))
}

/// Reads one frame that must be there.
pub async fn expect_frame<T: DeserializeOwned>(recv: &mut RecvStream) -> Result<T, NodeError> {
    Ok(expect_frame_sized(recv).await?.0)
}

/// Reads one frame that must be there, with its size on the wire (header included).
pub async fn expect_frame_sized<T: DeserializeOwned>(
    recv: &mut RecvStream,
) -> Result<(T, usize), NodeError> {
    read_frame_sized(recv)
        .await?
        .ok_or_else(|| NodeError::dropped("the peer closed the stream without answering"))
}

/// Writes one frame; returns the bytes written.
pub async fn write_frame<T: Serialize>(send: &mut SendStream, msg: &T) -> Result<usize, NodeError> {
    let bytes = frame::encode(msg).map_err(InternalError::Encode)?;
    send.write_all(&bytes).await.map_err(|e| match e {
        quinn::WriteError::ConnectionLost(c) => connection_lost(c),
        other => NodeError::dropped(other.to_string()),
    })?;
    Ok(bytes.len())
}

/// A stream that failed once the exchange had begun, with quinn's reason (who closed, code).
fn lost(e: quinn::ReadError) -> NodeError {
    match e {
        quinn::ReadError::ConnectionLost(c) => connection_lost(c),
        other => NodeError::dropped(other.to_string()),
    }
}

/// A connection closed at the transport level (a TLS alert: the peer refused this node's
/// certificate after the client side of the handshake had completed) never got going: the peer
/// is unreachable for us. Any other end (the application closed it, a reset, a time-out) came
/// in the middle of the exchange.
fn connection_lost(c: quinn::ConnectionError) -> NodeError {
    match c {
        quinn::ConnectionError::ConnectionClosed(_)
        | quinn::ConnectionError::TransportError(_)
        | quinn::ConnectionError::VersionMismatch => {
            NodeError::connection(format!("the peer refused the connection: {}", explain(&c)))
        }
        other => NodeError::dropped(other.to_string()),
    }
}

/// A connection error for a person: what a refusal of our certificate means, then quinn's own
/// words (who closed, the code).
pub fn explain(c: &quinn::ConnectionError) -> String {
    match refused_certificate(c) {
        Some(why) => format!("{why} ({c})"),
        None => c.to_string(),
    }
}

/// The TLS alert a QUIC transport error carries, if it is one (0x100 + alert, RFC 9001 §4.8).
pub fn tls_alert(code: quinn::TransportErrorCode) -> Option<u8> {
    u64::from(code)
        .checked_sub(0x100)
        .and_then(|a| u8::try_from(a).ok())
}

/// What a TLS alert closing the connection says about our certificate, in words.
fn refused_certificate(c: &quinn::ConnectionError) -> Option<&'static str> {
    let quinn::ConnectionError::ConnectionClosed(close) = c else {
        return None;
    };
    Some(match tls_alert(close.error_code)? {
        44 => "it lists our certificate as revoked; ask its operator for a new one",
        45 => "it finds our certificate expired; ask for a new one",
        48 => "it does not trust the CA that issued our certificate",
        42 | 43 | 46 => "it did not accept our certificate",
        49 => "our certificate does not give access to it",
        _ => return None,
    })
}
