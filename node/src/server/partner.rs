//! A partner's requests, one per stream: read it (within the node's size and time limits),
//! refuse an invalid or ungranted collection name (logged), and serve it. Descriptors, filters
//! and deltas are served here; evaluations (`crate::answer`) and follow-up requests
//! (`crate::followup::holder`) on blocking threads, since they compute and write the log.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};

use cordon_protocol::collection::CollectionName;
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::messages::{
    PartnerRequest, PartnerResponse, FILTER_CHUNK_BYTES, MAX_DELTA_TAGS_PER_FRAME,
};

use crate::answer::Answerer;
use crate::error::NodeError;
use crate::limits::Limits;
use crate::net::{read_frame_within, write_frame};

/// What serving partners uses.
pub(crate) struct PartnerService {
    pub(crate) answerer: Answerer,
    pub(crate) limits: Arc<Limits>,
    /// Test builds only: how this node corrupts what it serves (see `misbehave`).
    #[cfg(feature = "test-util")]
    pub(crate) misbehaviour: Arc<crate::misbehave::MisbehaviourCell>,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> PartnerResponse {
    PartnerResponse::Error(RemoteError::new(code, message))
}

/// The collection a descriptor, filter, delta or follow-up request names, with the request's
/// kind as logged (evaluations excepted: `answer::evaluate` checks and logs theirs).
fn named_collection(req: &PartnerRequest) -> Option<(&'static str, &String)> {
    match req {
        PartnerRequest::GetDescriptor { collection } => Some(("get_descriptor", collection)),
        PartnerRequest::GetFilter { collection, .. } => Some(("get_filter", collection)),
        PartnerRequest::GetDelta { collection, .. } => Some(("get_delta", collection)),
        PartnerRequest::Followup(f) => Some(("followup", &f.collection)),
        PartnerRequest::Evaluate(_) | PartnerRequest::FollowupStatus { .. } => None,
    }
}

impl PartnerService {
    /// Reads a partner's request within the node's limits; the refusal to send if it cannot be
    /// read, None if the partner closed the stream first.
    async fn read(
        &self,
        recv: &mut RecvStream,
    ) -> Result<Option<Result<PartnerRequest, (ErrorCode, String)>>, NodeError> {
        let wait = self.limits.request_read_timeout();
        let read = read_frame_within::<PartnerRequest>(recv, self.limits.max_request_bytes());
        Ok(match tokio::time::timeout(wait, read).await {
            Ok(Ok(Some((r, _)))) => Some(Ok(r)),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some(Err(e.unreadable()?)),
            // A slow sender keeps one of its partner's request slots: time it out, so that it
            // cannot keep them all forever.
            Err(_) => Some(Err((
                ErrorCode::LimitExceeded,
                format!(
                    "the request did not arrive whole within {} (limits.request_read_timeout)",
                    humantime::format_duration(wait)
                ),
            ))),
        })
    }

    /// The refusal of a request whose collection name is invalid, or not granted to the
    /// partner (nothing of a collection, not even its descriptor, goes out without a grant).
    fn refusal(&self, partner: &str, what: &str, c: &str) -> Option<RemoteError> {
        // A collection name must be a valid one before anything looks it up (an empty or a
        // 64 KiB name is refused here).
        match CollectionName::parse(c) {
            Err(_) => Some(RemoteError::new(
                ErrorCode::BadRequest,
                format!(
                    "the collection name ({} bytes) is not a valid collection name: 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter",
                    c.len()
                ),
            )),
            // Follow-ups are checked by their own rules.
            Ok(_) if what != "followup" => self
                .answerer
                .governance
                .policy()
                .check_shared(partner, c)
                .err(),
            Ok(_) => None,
        }
    }

    /// Serves one stream of `partner`.
    pub(crate) async fn serve(
        &self,
        partner: &str,
        fingerprint: &[u8; 32],
        mut send: SendStream,
        mut recv: RecvStream,
    ) -> Result<(), NodeError> {
        let req = match self.read(&mut recv).await? {
            None => return Ok(()),
            Some(Ok(r)) => r,
            Some(Err((code, message))) => {
                tracing::info!(partner, code = code.as_str(), reason = %message, "request refused");
                self.answerer.metrics.refused_partner(partner, code, false);
                write_frame(&mut send, &refuse(code, message)).await?;
                let _ = send.finish();
                return Ok(());
            }
        };
        if let Some((what, c)) = named_collection(&req) {
            if let Some(r) = self.refusal(partner, what, c) {
                let named = (what, c.clone());
                return self
                    .send_logged_refusal(partner, fingerprint, &mut send, named, r)
                    .await;
            }
        }
        self.answer(partner, fingerprint, req, &mut send).await?;
        let _ = send.finish();
        Ok(())
    }

    /// Logs the refusal `r` of a `what` request for `collection` (off the async threads: it
    /// writes the audit log), then sends it and ends the stream.
    async fn send_logged_refusal(
        &self,
        partner: &str,
        fingerprint: &[u8; 32],
        send: &mut SendStream,
        (what, collection): (&'static str, String),
        r: RemoteError,
    ) -> Result<(), NodeError> {
        let (a, p, f) = (self.answerer.clone(), partner.to_string(), *fingerprint);
        let r = tokio::task::spawn_blocking(move || {
            crate::answer::refuse_sync(&a, &p, &f, &collection, what, r)
        })
        .await
        .unwrap_or_else(|e| RemoteError::new(ErrorCode::Internal, format!("refusal failed: {e}")));
        write_frame(send, &PartnerResponse::Error(r)).await?;
        let _ = send.finish();
        Ok(())
    }

    /// Answers an admitted request.
    async fn answer(
        &self,
        partner: &str,
        fingerprint: &[u8; 32],
        req: PartnerRequest,
        send: &mut SendStream,
    ) -> Result<(), NodeError> {
        let (a, p, f) = (self.answerer.clone(), partner.to_string(), *fingerprint);
        let resp = match req {
            PartnerRequest::GetDescriptor { collection } => {
                match a.holder.descriptor_for(&collection).await {
                    Ok(d) => self.corrupted(PartnerResponse::Descriptor(d)),
                    Err(r) => PartnerResponse::Error(r),
                }
            }
            PartnerRequest::GetFilter { collection, epoch } => {
                return self.send_filter(partner, &collection, epoch, send).await;
            }
            PartnerRequest::GetDelta {
                collection,
                epoch,
                from,
            } => self.delta(&collection, epoch, from),
            PartnerRequest::Evaluate(req) => {
                let resp =
                    tokio::task::spawn_blocking(move || crate::answer::evaluate(&a, &p, &f, req))
                        .await
                        .unwrap_or_else(|e| {
                            refuse(ErrorCode::Internal, format!("evaluation failed: {e}"))
                        });
                self.corrupted(resp)
            }
            PartnerRequest::Followup(req) => tokio::task::spawn_blocking(move || {
                crate::followup::holder::receive(&a, &p, &f, req)
            })
            .await
            .unwrap_or_else(|e| refuse(ErrorCode::Internal, format!("follow-up failed: {e}"))),
            PartnerRequest::FollowupStatus { ids } => tokio::task::spawn_blocking(move || {
                crate::followup::holder::answer_status(&a, &p, &ids)
            })
            .await
            .unwrap_or_else(|e| refuse(ErrorCode::Internal, format!("follow-up failed: {e}"))),
        };
        write_frame(send, &resp).await?;
        Ok(())
    }

    /// The filter of `epoch`, in chunks after its announced size.
    async fn send_filter(
        &self,
        partner: &str,
        collection: &str,
        epoch: u64,
        send: &mut SendStream,
    ) -> Result<(), NodeError> {
        let e = match self.answerer.holder.epoch_at(collection, epoch) {
            Ok(e) => e,
            Err(r) => {
                write_frame(send, &PartnerResponse::Error(r)).await?;
                return Ok(());
            }
        };
        let filter = self.corrupted_filter(e.filter.as_slice());
        let start = PartnerResponse::FilterStart {
            epoch,
            total_bytes: filter.len() as u64,
        };
        write_frame(send, &start).await?;
        for chunk in filter.chunks(FILTER_CHUNK_BYTES) {
            let bytes = chunk.to_vec();
            write_frame(send, &PartnerResponse::FilterChunk { bytes }).await?;
        }
        tracing::info!(
            partner,
            collection,
            epoch,
            bytes = filter.len(),
            "filter sent"
        );
        Ok(())
    }

    /// Delta tags of `epoch` from position `from`: at most one frame's worth; the querier asks
    /// again from where this ends.
    fn delta(&self, collection: &str, epoch: u64, from: u64) -> PartnerResponse {
        match self.answerer.holder.epoch_at(collection, epoch) {
            Ok(e) if from > e.delta.len() as u64 => refuse(
                ErrorCode::BadRequest,
                format!(
                    "delta position {from} is beyond the {} tags of epoch {epoch}",
                    e.delta.len()
                ),
            ),
            Ok(e) => {
                let end = e.delta.len().min(from as usize + MAX_DELTA_TAGS_PER_FRAME);
                PartnerResponse::Delta {
                    epoch,
                    from,
                    tags: cordon_protocol::messages::pack(&e.delta[from as usize..end]),
                }
            }
            Err(r) => PartnerResponse::Error(r),
        }
    }

    /// A descriptor or evaluation answer as sent (test builds may corrupt it on purpose).
    fn corrupted(&self, resp: PartnerResponse) -> PartnerResponse {
        #[cfg(feature = "test-util")]
        let resp = crate::misbehave::response(&self.misbehaviour, resp);
        resp
    }

    /// The filter bytes as sent (test builds may corrupt them on purpose).
    fn corrupted_filter<'a>(&self, filter: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        #[cfg(feature = "test-util")]
        return std::borrow::Cow::Owned(crate::misbehave::filter(&self.misbehaviour, filter));
        #[cfg(not(feature = "test-util"))]
        std::borrow::Cow::Borrowed(filter)
    }
}
