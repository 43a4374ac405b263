//! Frames over QUIC streams: read one, write one.
//!
//! The header is read first and its length checked against the protocol's limit before the
//! payload buffer is allocated.

use quinn::{RecvStream, SendStream};
use serde::{de::DeserializeOwned, Serialize};

use cordon_protocol::frame::{self, HEADER_LEN};

use crate::error::NodeError;

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
    let mut header = [0u8; HEADER_LEN];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(n)) => {
            return Err(NodeError::Wire(cordon_protocol::WireError::Frame(
                frame::FrameError::Incomplete {
                    needed: HEADER_LEN - n,
                },
            )))
        }
        Err(quinn::ReadExactError::ReadError(e)) => {
            return Err(NodeError::Connection(e.to_string()))
        }
    }
    let len = frame::parse_header(&header).map_err(cordon_protocol::WireError::from)?;
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(n)) => {
            return Err(NodeError::Wire(cordon_protocol::WireError::Frame(
                frame::FrameError::Incomplete { needed: len - n },
            )))
        }
        Err(quinn::ReadExactError::ReadError(e)) => {
            return Err(NodeError::Connection(e.to_string()))
        }
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
        .ok_or_else(|| NodeError::Connection("the peer closed the stream without answering".into()))
}

/// Writes one frame; returns the bytes written.
pub async fn write_frame<T: Serialize>(send: &mut SendStream, msg: &T) -> Result<usize, NodeError> {
    let bytes = frame::encode(msg)?;
    send.write_all(&bytes)
        .await
        .map_err(|e| NodeError::Connection(e.to_string()))?;
    Ok(bytes.len())
}
