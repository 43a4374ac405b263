//! The network between simulated nodes: links with a latency and a loss rate, streams of
//! frames, and the queue of deliveries in virtual time.
//!
//! One request per stream, as on QUIC: the querier opens a stream and sends one frame; the
//! holder answers with frames and ends the stream. A lost message (drawn per message from the
//! link's loss rate) never arrives, so the querier's exchange times out in virtual time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use cordon_protocol::error::WireError;
use cordon_protocol::frame::{self, FrameError};
use cordon_protocol::messages::PartnerResponse;
use cordon_protocol::session::querier::ExchangeError;

/// One direction between two nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay of every message, in milliseconds.
    pub latency_ms: u64,
    /// Probability that a message is lost (0 to 1).
    pub loss: f64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            latency_ms: 5,
            loss: 0.0,
        }
    }
}

/// What a holder (or a lying one) does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Sends these frames, then ends the stream.
    Frames(Vec<PartnerResponse>),
    /// Sends these bytes as they are (garbage, a truncated frame), then ends the stream.
    Bytes(Vec<u8>),
    /// Never answers and never ends the stream.
    Silence,
    /// Ends the stream without answering.
    Close,
    /// Answers so many milliseconds later.
    After(u64, Box<Reply>),
}

/// The links of the simulation.
#[derive(Debug, Clone, Default)]
pub struct Network {
    default: Link,
    links: BTreeMap<(String, String), Link>,
}

impl Network {
    /// The link from `from` to `to`.
    pub fn link(&self, from: &str, to: &str) -> Link {
        self.links
            .get(&(from.to_string(), to.to_string()))
            .copied()
            .unwrap_or(self.default)
    }

    /// Sets the link from `from` to `to`.
    pub fn set(&mut self, from: &str, to: &str, link: Link) {
        self.links.insert((from.to_string(), to.to_string()), link);
    }

    /// Sets every link not set on its own.
    pub fn set_default(&mut self, link: Link) {
        self.default = link;
    }
}

/// A stream's identifier.
pub type StreamId = u64;

/// Something the network delivers.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A request frame arrives at a holder.
    Request {
        stream: StreamId,
        from: String,
        to: String,
        frame: Vec<u8>,
    },
    /// Response bytes arrive at the querier; `finish` ends the stream.
    Response {
        stream: StreamId,
        bytes: Vec<u8>,
        finish: bool,
    },
}

/// Deliveries by virtual time, in the order they were scheduled among equal times.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    items: BTreeMap<u64, Delivery>,
    next: u64,
}

impl Queue {
    pub(crate) fn push(&mut self, at_ms: u64, d: Delivery) {
        self.next += 1;
        self.heap.push(Reverse((at_ms, self.next)));
        self.items.insert(self.next, d);
    }

    /// When the next delivery is due.
    pub(crate) fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    pub(crate) fn pop(&mut self) -> Option<(u64, Delivery)> {
        let Reverse((t, seq)) = self.heap.pop()?;
        self.items.remove(&seq).map(|d| (t, d))
    }
}

/// The bytes of a reply, and whether it ends the stream; `None` for silence.
pub(crate) fn reply_bytes(reply: Reply) -> (u64, Option<(Vec<u8>, bool)>) {
    match reply {
        Reply::Frames(frames) => {
            let mut out = Vec::new();
            for f in &frames {
                match frame::encode(f) {
                    Ok(b) => out.extend_from_slice(&b),
                    // What a node cannot encode it does not send: the stream ends there.
                    Err(_) => break,
                }
            }
            (0, Some((out, true)))
        }
        Reply::Bytes(b) => (0, Some((b, true))),
        Reply::Silence => (0, None),
        Reply::Close => (0, Some((Vec::new(), true))),
        Reply::After(ms, r) => {
            let (more, r) = reply_bytes(*r);
            (ms.saturating_add(more), r)
        }
    }
}

/// What the querier has received on its current stream.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    bytes: VecDeque<u8>,
    finished: bool,
}

impl Inbox {
    pub(crate) fn receive(&mut self, bytes: &[u8], finish: bool) {
        self.bytes.extend(bytes);
        self.finished |= finish;
    }

    /// The next whole frame's payload; `None` while it has not all arrived. A stream that
    /// ended before a frame is a lost exchange; one that ended inside a frame, or bytes that
    /// are no frame, a malformed answer (as a node reading from QUIC sees them).
    pub(crate) fn read(&mut self) -> Option<Result<Vec<u8>, ExchangeError>> {
        let buf = self.bytes.make_contiguous();
        match frame::split_frame(buf) {
            Ok((payload, used)) => {
                let payload = payload.to_vec();
                self.bytes.drain(..used);
                Some(Ok(payload))
            }
            Err(FrameError::Incomplete { .. }) if !self.finished => None,
            Err(FrameError::Incomplete { .. }) if buf.is_empty() => {
                Some(Err(ExchangeError::ConnectionLost(
                    "the peer closed the stream without answering".into(),
                )))
            }
            Err(e) => Some(Err(ExchangeError::Malformed(WireError::Frame(e)))),
        }
    }
}
