//! Fetching what a verified descriptor signs: the whole filter (one stream: `filter_start`,
//! then chunks) and delta tags (one request per piece), each checked as it arrives
//! (spec/PROTOCOL.md §4.3, §4.4).

use crate::descriptor::EpochDescriptor;
use crate::error::{VerifyError, WireError};
use crate::filter::{chain_delta, FILTER_HEADER_LEN};
use crate::messages::{unpack, PartnerRequest, PartnerResponse};
use crate::oprf::Tag;

use super::ExchangeError;

/// The wire name of a response, for "expected …, got …".
pub fn response_name(r: &PartnerResponse) -> &'static str {
    match r {
        PartnerResponse::Descriptor(_) => "descriptor",
        PartnerResponse::FilterStart { .. } => "filter_start",
        PartnerResponse::FilterChunk { .. } => "filter_chunk",
        PartnerResponse::Delta { .. } => "delta",
        PartnerResponse::Evaluated(_) => "evaluated",
        PartnerResponse::Error(_) => "error",
        PartnerResponse::FollowupAccepted(_) => "followup_accepted",
        PartnerResponse::FollowupStatus { .. } => "followup_status",
    }
}

/// A malformed answer: `wanted` was expected, `got` arrived.
pub fn unexpected(wanted: &str, got: &PartnerResponse) -> ExchangeError {
    ExchangeError::Malformed(WireError::Malformed(format!(
        "expected a `{wanted}` answer, got `{}`",
        response_name(got)
    )))
}

/// One filter download: `get_filter`, then `filter_start` and `filter_chunk`s on its stream.
#[derive(Debug)]
pub struct FilterFetch {
    collection: String,
    epoch: u64,
    /// `45 + bitmap_bytes` of the signed parameters.
    expected: u64,
    /// The bytes so far, once `filter_start` announced the right size.
    bytes: Option<Vec<u8>>,
}

impl FilterFetch {
    /// A download of the filter `d` signs (its parameters passed
    /// [`crate::session::sync::accept`], which bounds the size).
    pub fn new(d: &EpochDescriptor) -> Self {
        FilterFetch {
            collection: d.collection.clone(),
            epoch: d.epoch,
            expected: FILTER_HEADER_LEN as u64 + d.filter.bitmap_bytes,
            bytes: None,
        }
    }

    /// The request that opens the stream.
    pub fn request(&self) -> PartnerRequest {
        PartnerRequest::GetFilter {
            collection: self.collection.clone(),
            epoch: self.epoch,
        }
    }

    /// Takes the next frame of the stream: `Ok(None)` while more are needed, the whole filter
    /// (not yet checked against the digest) once it arrived.
    pub fn handle(&mut self, resp: PartnerResponse) -> Result<Option<Vec<u8>>, ExchangeError> {
        let Some(out) = self.bytes.as_mut() else {
            let PartnerResponse::FilterStart { total_bytes, epoch } = resp else {
                return Err(match resp {
                    PartnerResponse::Error(e) => ExchangeError::Refused(e),
                    other => unexpected("filter_start", &other),
                });
            };
            // The announced size must be the one the signed parameters imply before any
            // memory is reserved for it.
            if epoch != self.epoch || total_bytes != self.expected {
                return Err(VerifyError::FilterMismatch(format!(
                    "a {total_bytes}-byte filter of epoch {epoch} announced; the descriptor signs {} bytes of epoch {}",
                    self.expected, self.epoch
                ))
                .into());
            }
            self.bytes = Some(Vec::with_capacity(total_bytes as usize));
            return Ok(None);
        };
        let total = self.expected;
        match resp {
            PartnerResponse::FilterChunk { bytes }
                if out.len() as u64 + bytes.len() as u64 <= total =>
            {
                out.extend_from_slice(&bytes)
            }
            PartnerResponse::FilterChunk { bytes } => {
                return Err(VerifyError::FilterMismatch(format!(
                    "filter chunks overrun the announced {total} bytes (at {} + {})",
                    out.len(),
                    bytes.len()
                ))
                .into())
            }
            PartnerResponse::Error(e) => return Err(ExchangeError::Refused(e)),
            other => return Err(unexpected("filter_chunk", &other)),
        }
        if (out.len() as u64) < total {
            return Ok(None);
        }
        Ok(self.bytes.take())
    }
}

/// One delta download: the tags from a position up to the signed count, one `get_delta` per
/// piece, then the chain check.
#[derive(Debug)]
pub struct DeltaFetch {
    collection: String,
    epoch: u64,
    /// The signed delta count.
    count: u64,
    /// The signed chain.
    chain: [u8; 32],
    /// The chain the cached tags end in (zero from position 0).
    base_chain: [u8; 32],
    /// Next position to ask.
    at: u64,
    tags: Vec<Tag>,
}

impl DeltaFetch {
    /// A download of `d`'s delta tags from position `from`, whose chain so far is `base_chain`.
    pub fn new(d: &EpochDescriptor, from: u64, base_chain: [u8; 32]) -> Self {
        DeltaFetch {
            collection: d.collection.clone(),
            epoch: d.epoch,
            count: d.delta_count,
            chain: *d.delta_chain,
            base_chain,
            at: from,
            tags: Vec::new(),
        }
    }

    /// The next request, or `None` once every signed tag arrived.
    pub fn request(&self) -> Option<PartnerRequest> {
        (self.at < self.count).then(|| PartnerRequest::GetDelta {
            collection: self.collection.clone(),
            epoch: self.epoch,
            from: self.at,
        })
    }

    /// Takes the answer to the last request.
    pub fn handle(&mut self, resp: PartnerResponse) -> Result<(), ExchangeError> {
        let at = self.at;
        match resp {
            PartnerResponse::Delta { tags, from, epoch } if from == at && epoch == self.epoch => {
                let mut tags = unpack("tags", &tags)?;
                // The holder may have imported more since it signed the descriptor: keep the
                // signed prefix (the chain check covers exactly that), and ask no further.
                tags.truncate(self.count.saturating_sub(at) as usize);
                if tags.is_empty() {
                    return Err(VerifyError::DeltaMismatch(format!(
                        "no tags from position {at}, but the descriptor signs {}",
                        self.count
                    ))
                    .into());
                }
                self.at += tags.len() as u64;
                self.tags.extend(tags);
                Ok(())
            }
            PartnerResponse::Delta { from, epoch, .. } => {
                Err(ExchangeError::Malformed(WireError::Malformed(format!(
                    "delta for position {from} of epoch {epoch}, asked position {at} of epoch {}",
                    self.epoch
                ))))
            }
            PartnerResponse::Error(e) => Err(ExchangeError::Refused(e)),
            other => Err(unexpected("delta", &other)),
        }
    }

    /// The tags fetched, once they chain from the base to the signed chain.
    pub fn finish(self) -> Result<Vec<Tag>, ExchangeError> {
        if chain_delta(self.base_chain, &self.tags) != self.chain {
            return Err(VerifyError::DeltaMismatch(
                "the delta tags do not chain to the signed digest".into(),
            )
            .into());
        }
        Ok(self.tags)
    }
}
