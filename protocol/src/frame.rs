//! Length-prefixed, versioned frames.
//!
//! Every message between two Cordon endpoints (node to node, CLI to node) travels in a frame:
//!
//! ```text
//! +---------+-----------------+---------------------------+
//! | version | payload length  | payload (one CBOR value)  |
//! | 1 byte  | 4 bytes, BE u32 | `length` bytes            |
//! +---------+-----------------+---------------------------+
//! ```
//!
//! The length is checked against [`MAX_PAYLOAD`] *before* anything is allocated, so a peer
//! cannot make a node reserve memory by announcing a huge frame. Like mini-redis, parsing
//! separates "need more bytes" ([`FrameError::Incomplete`]) from "malformed": a reader that
//! gets `Incomplete` waits for more input, anything else is the peer's fault.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::WireError;

/// The only frame version this build speaks.
pub const FRAME_VERSION: u8 = 1;
/// Bytes before the payload: version and length.
pub const HEADER_LEN: usize = 5;
/// Largest payload accepted, in bytes (8 MiB). Filters larger than this travel in chunks.
pub const MAX_PAYLOAD: usize = 8 << 20;

/// Why a frame header could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not an error: fewer bytes than a whole frame have arrived so far.
    #[error("incomplete frame: need {needed} more bytes")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// The first byte names a frame version this build does not speak.
    // Garbage looks the same as a newer version here, so the message names both causes.
    #[error(
        "unsupported frame version {0} (this node speaks version {FRAME_VERSION}): the peer runs \
         another protocol version or is not speaking the Cordon protocol"
    )]
    UnsupportedVersion(u8),
    /// The announced payload is larger than [`MAX_PAYLOAD`].
    #[error("frame of {len} bytes exceeds the {MAX_PAYLOAD}-byte limit")]
    TooLarge {
        /// The length the header announced.
        len: usize,
    },
    /// A zero-length payload cannot hold a CBOR value.
    #[error("empty frame")]
    Empty,
}

/// Parses a frame header and returns the payload length it announces.
///
/// `buf` may hold more than the header; only the first [`HEADER_LEN`] bytes are read.
pub fn parse_header(buf: &[u8]) -> Result<usize, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Err(FrameError::Incomplete {
            needed: HEADER_LEN - buf.len(),
        });
    };
    if header[0] != FRAME_VERSION {
        return Err(FrameError::UnsupportedVersion(header[0]));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLarge { len });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    Ok(len)
}

/// Splits one whole frame off the front of `buf`: returns its payload and the total bytes used.
pub fn split_frame(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    let len = parse_header(buf)?;
    let total = HEADER_LEN + len;
    match buf.get(HEADER_LEN..total) {
        Some(payload) => Ok((payload, total)),
        None => Err(FrameError::Incomplete {
            needed: total - buf.len(),
        }),
    }
}

/// Encodes a header for a payload of `len` bytes.
pub fn header(len: usize) -> Result<[u8; HEADER_LEN], FrameError> {
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLarge { len });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let l = (len as u32).to_be_bytes();
    Ok([FRAME_VERSION, l[0], l[1], l[2], l[3]])
}

/// Serialises `msg` as CBOR and wraps it in a frame.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    let mut out = vec![0u8; HEADER_LEN];
    ciborium::into_writer(msg, &mut out).map_err(|e| WireError::Encode(e.to_string()))?;
    let h = header(out.len() - HEADER_LEN)?;
    out[..HEADER_LEN].copy_from_slice(&h);
    Ok(out)
}

/// Decodes one CBOR value from a frame payload, rejecting trailing bytes.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, WireError> {
    let mut rest = payload;
    let value =
        ciborium::from_reader(&mut rest).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

/// Decodes a whole frame (header and payload) held in `buf`, which must contain exactly one frame.
pub fn decode_frame<T: DeserializeOwned>(buf: &[u8]) -> Result<T, WireError> {
    let (payload, used) = split_frame(buf)?;
    if used != buf.len() {
        return Err(WireError::TrailingBytes(buf.len() - used));
    }
    decode(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let msg = vec!["a".to_string(), "b".to_string()];
        let f = encode(&msg).unwrap();
        assert_eq!(f[0], FRAME_VERSION);
        let back: Vec<String> = decode_frame(&f).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn incomplete_is_not_malformed() {
        let f = encode(&42u32).unwrap();
        for cut in 0..f.len() {
            match split_frame(&f[..cut]) {
                Err(FrameError::Incomplete { needed }) => assert!(needed > 0),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        assert!(split_frame(&f).is_ok());
    }

    #[test]
    fn oversized_rejected_before_allocation() {
        let mut h = vec![FRAME_VERSION];
        h.extend_from_slice(&((MAX_PAYLOAD + 1) as u32).to_be_bytes());
        assert_eq!(
            parse_header(&h),
            Err(FrameError::TooLarge {
                len: MAX_PAYLOAD + 1
            })
        );
        assert!(matches!(
            header(MAX_PAYLOAD + 1),
            Err(FrameError::TooLarge { .. })
        ));
        let mut h = vec![FRAME_VERSION];
        h.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(parse_header(&h), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn bad_version_and_empty() {
        assert_eq!(
            parse_header(&[9, 0, 0, 0, 1]),
            Err(FrameError::UnsupportedVersion(9))
        );
        assert_eq!(
            parse_header(&[FRAME_VERSION, 0, 0, 0, 0]),
            Err(FrameError::Empty)
        );
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut f = encode(&7u8).unwrap();
        f.push(0);
        assert!(matches!(
            decode_frame::<u8>(&f),
            Err(WireError::TrailingBytes(1))
        ));
        // Two CBOR values in one payload: the second is trailing.
        let mut payload = Vec::new();
        ciborium::into_writer(&1u8, &mut payload).unwrap();
        ciborium::into_writer(&2u8, &mut payload).unwrap();
        assert!(matches!(
            decode::<u8>(&payload),
            Err(WireError::TrailingBytes(_))
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        for len in 0..300usize {
            let mut buf = vec![FRAME_VERSION];
            buf.extend_from_slice(&(len as u32).to_be_bytes());
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf.push(seed as u8);
            }
            let _ = decode_frame::<crate::messages::PartnerRequest>(&buf);
            let _ = decode_frame::<crate::messages::PartnerResponse>(&buf);
        }
    }
}
