//! The QUIC server: accepts connections, identifies the peer from its certificate, and serves
//! partners (partner ALPN) and the node's own users (control ALPN), one request per stream.
//!
//! A peer's malformed or hostile request only ever ends that stream with an error frame; the
//! node goes on serving everyone else.

use std::sync::Arc;

use quinn::{Connection, RecvStream, SendStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::messages::{
    PartnerRequest, PartnerResponse, FILTER_CHUNK_BYTES, MAX_DELTA_TAGS_PER_FRAME,
};

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::collection::CollectionName;

use crate::control::{ControlError, ControlRequest, ControlResponse, ImportFrame};
use crate::error::{InternalError, NodeError, PeerError, TransportError};
use crate::import::PendingImport;
use crate::net::{read_frame, read_frame_within, write_frame};
use crate::tls::PeerIdentity;
use crate::Shared;

/// QUIC application error code: the peer's certificate does not fit the ALPN it chose.
const CLOSE_WRONG_ROLE: u32 = 0x10;
/// QUIC application error code: the node is shutting down.
pub(crate) const CLOSE_SHUTDOWN: u32 = 0x11;
/// QUIC application error code: the partner already holds as many connections as
/// `limits.max_connections_per_partner` allows.
pub const CLOSE_TOO_MANY_CONNECTIONS: u32 = 0x12;

/// Accepts connections until `stop` is cancelled.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => i,
            _ = stop.cancelled() => break,
        };
        let Some(incoming) = incoming else { break };
        // Before anything is known of the peer, only so many handshakes run at once: one more
        // is refused (QUIC CONNECTION_REFUSED) without spending a task or a signature on it.
        let Ok(permit) = shared.handshakes.clone().try_acquire_owned() else {
            shared.metrics.handshake_failed("busy");
            tracing::debug!(remote = %incoming.remote_address(), "handshake refused: too many in progress (limits.max_handshakes)");
            incoming.refuse();
            continue;
        };
        let shared = shared.clone();
        let stop = stop.clone();
        let t2 = tracker.clone();
        tracker.spawn(async move {
            let handshake = incoming.await;
            drop(permit);
            match handshake {
                Ok(conn) => serve_connection(shared, conn, stop, t2).await,
                // Refused handshakes (unknown CA, wrong name, expired) end here.
                Err(e) => {
                    shared
                        .metrics
                        .handshake_failed(&crate::metrics::handshake_reason(&e));
                    tracing::info!(error = %e, "handshake refused or failed")
                }
            }
        });
    }
}

async fn serve_connection(
    shared: Arc<Shared>,
    conn: Connection,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    // Identifies the peer again from its certificate and checks that it fits the ALPN it
    // chose (a user on the partner protocol, or a partner on the control one, is refused).
    let identity = match shared.trust.identify_connection(&conn) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(remote = %conn.remote_address(), error = %e, "peer refused after handshake");
            shared.metrics.handshake_failed("wrong_role");
            conn.close(
                CLOSE_WRONG_ROLE.into(),
                b"certificate does not fit this protocol",
            );
            return;
        }
    };
    tracing::debug!(peer = ?identity, remote = %conn.remote_address(), "connection");
    // A partner may hold only so many connections at once: one more is closed at once with a
    // reason, and its other connections (and every other partner) go on being served.
    let _connection_permit = match &identity {
        PeerIdentity::Partner { name, .. } => {
            let Some(slots) = shared.partner_connections.get(name) else {
                return;
            };
            match slots.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let most = shared.config.limits.max_connections_per_partner;
                    tracing::warn!(partner = %name, most, "connection refused: too many from this partner");
                    shared
                        .metrics
                        .refused_partner(name, ErrorCode::LimitExceeded, false);
                    let reason = format!(
                        "too many connections from {name}: at most {most} at once (limits.max_connections_per_partner); reuse an open one"
                    );
                    conn.close(CLOSE_TOO_MANY_CONNECTIONS.into(), reason.as_bytes());
                    return;
                }
            }
        }
        PeerIdentity::User { .. } => None,
    };
    let identity = Arc::new(identity);
    loop {
        let stream = tokio::select! {
            s = conn.accept_bi() => s,
            _ = stop.cancelled() => break,
        };
        let (send, recv) = match stream {
            Ok(s) => s,
            Err(_) => return, // the peer closed the connection
        };
        // A certificate revoked after this connection's handshake ends the connection here.
        if shared
            .trust
            .revocations()
            .is_revoked(identity.fingerprint())
        {
            tracing::warn!(
                peer = identity.name(),
                "closed the connection of a revoked certificate"
            );
            conn.close(CLOSE_WRONG_ROLE.into(), b"certificate revoked");
            return;
        }
        let shared = shared.clone();
        let identity = identity.clone();
        tracker.spawn(async move {
            let r = match identity.as_ref() {
                PeerIdentity::Partner { name, fingerprint } => {
                    // At most `limits.max_requests_per_partner` requests of one partner are
                    // served at once; its further streams wait here, and other partners are
                    // not slowed down.
                    let Some(permits) = shared.partner_permits.get(name).cloned() else {
                        return;
                    };
                    let Ok(_permit) = permits.acquire_owned().await else {
                        return;
                    };
                    serve_partner_stream(&shared, name, fingerprint, send, recv).await
                }
                PeerIdentity::User { .. } => {
                    serve_control_stream(&shared, &identity, send, recv).await
                }
            };
            if let Err(e) = r {
                tracing::debug!(error = %e, "stream ended with an error");
            }
        });
    }
    // Let streams already accepted finish (they are tracked); close once they are done is
    // handled by the endpoint close at shutdown.
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> PartnerResponse {
    PartnerResponse::Error(RemoteError::new(code, message))
}

/// The request's kind and collection name if that name is not a valid one (evaluations
/// excepted: `answer::evaluate` checks and logs theirs).
/// The collection a descriptor, filter, delta or follow-up request names, with the request's
/// kind as logged.
fn named_collection(req: &PartnerRequest) -> Option<(&'static str, &String)> {
    match req {
        PartnerRequest::GetDescriptor { collection } => Some(("get_descriptor", collection)),
        PartnerRequest::GetFilter { collection, .. } => Some(("get_filter", collection)),
        PartnerRequest::GetDelta { collection, .. } => Some(("get_delta", collection)),
        PartnerRequest::Followup(f) => Some(("followup", &f.collection)),
        PartnerRequest::Evaluate(_) | PartnerRequest::FollowupStatus { .. } => None,
    }
}

/// Logs the refusal `r` of a `what` request for `collection` (off the async threads: it writes
/// the audit log), then sends it and ends the stream.
async fn send_logged_refusal(
    shared: &Arc<Shared>,
    partner: &str,
    fingerprint: &[u8; 32],
    send: &mut SendStream,
    (what, collection): (&'static str, String),
    r: RemoteError,
) -> Result<(), NodeError> {
    let (s, p, f) = (shared.clone(), partner.to_string(), *fingerprint);
    let r = tokio::task::spawn_blocking(move || {
        crate::answer::refuse_sync(&s, &p, &f, &collection, what, r)
    })
    .await
    .unwrap_or_else(|e| RemoteError::new(ErrorCode::Internal, format!("refusal failed: {e}")));
    write_frame(send, &PartnerResponse::Error(r)).await?;
    let _ = send.finish();
    Ok(())
}

async fn serve_partner_stream(
    shared: &Arc<Shared>,
    partner: &str,
    fingerprint: &[u8; 32],
    mut send: SendStream,
    mut recv: RecvStream,
) -> Result<(), NodeError> {
    let limits = &shared.config.limits;
    let wait = limits.request_read_timeout;
    let read = tokio::time::timeout(
        wait,
        read_frame_within::<PartnerRequest>(&mut recv, limits.max_request_bytes),
    )
    .await;
    let refusal = match read {
        Ok(Ok(Some((r, _)))) => Ok(r),
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(e)) => match refusal_of(e) {
            Ok(r) => Err((r.code, r.message)),
            Err(e) => return Err(e),
        },
        // A slow sender keeps one of its partner's request slots: time it out, so that it
        // cannot keep them all forever.
        Err(_) => Err((
            ErrorCode::LimitExceeded,
            format!(
                "the request did not arrive whole within {} (limits.request_read_timeout)",
                humantime::format_duration(wait)
            ),
        )),
    };
    let req: PartnerRequest = match refusal {
        Ok(r) => r,
        Err((code, message)) => {
            tracing::info!(partner, code = code.as_str(), reason = %message, "request refused");
            shared.metrics.refused_partner(partner, code, false);
            write_frame(&mut send, &refuse(code, message)).await?;
            let _ = send.finish();
            return Ok(());
        }
    };
    if let Some((what, c)) = named_collection(&req) {
        // A collection name must be a valid one before anything looks it up (an empty or a
        // 64 KiB name is refused here). Evaluations check and log it themselves (`answer`).
        let refusal = match crate::import::validate_collection(c) {
            Err(_) => Some(RemoteError::new(
                ErrorCode::BadRequest,
                format!(
                    "the collection name ({} bytes) is not a valid collection name: 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter",
                    c.len()
                ),
            )),
            // Nothing of a collection, not even its descriptor, goes to a partner without a
            // grant. Follow-ups are checked by their own rules.
            Ok(()) if what != "followup" => shared.policy().check_shared(partner, c).err(),
            Ok(()) => None,
        };
        if let Some(r) = refusal {
            let named = (what, c.clone());
            return send_logged_refusal(shared, partner, fingerprint, &mut send, named, r).await;
        }
    }
    match req {
        PartnerRequest::GetDescriptor { collection } => {
            let resp = match shared.descriptor_for(&collection).await {
                Ok(d) => PartnerResponse::Descriptor(d),
                Err(r) => PartnerResponse::Error(r),
            };
            #[cfg(feature = "test-util")]
            let resp = crate::misbehave::response(shared, resp);
            write_frame(&mut send, &resp).await?;
        }
        PartnerRequest::GetFilter { collection, epoch } => {
            match shared.epoch_at(&collection, epoch) {
                Ok(e) => {
                    let filter = e.filter.clone();
                    #[cfg(feature = "test-util")]
                    let filter = crate::misbehave::filter(shared, &filter);
                    write_frame(
                        &mut send,
                        &PartnerResponse::FilterStart {
                            epoch,
                            total_bytes: filter.len() as u64,
                        },
                    )
                    .await?;
                    for chunk in filter.chunks(FILTER_CHUNK_BYTES) {
                        write_frame(
                            &mut send,
                            &PartnerResponse::FilterChunk {
                                bytes: chunk.to_vec(),
                            },
                        )
                        .await?;
                    }
                    tracing::info!(
                        partner,
                        collection,
                        epoch,
                        bytes = filter.len(),
                        "filter sent"
                    );
                }
                Err(r) => {
                    write_frame(&mut send, &PartnerResponse::Error(r)).await?;
                }
            }
        }
        PartnerRequest::GetDelta {
            collection,
            epoch,
            from,
        } => {
            let resp = match shared.epoch_at(&collection, epoch) {
                Ok(e) if from > e.delta.len() as u64 => refuse(
                    ErrorCode::BadRequest,
                    format!(
                        "delta position {from} is beyond the {} tags of epoch {epoch}",
                        e.delta.len()
                    ),
                ),
                Ok(e) => {
                    // At most one frame's worth; the querier asks again from where this ends.
                    let end = e.delta.len().min(from as usize + MAX_DELTA_TAGS_PER_FRAME);
                    PartnerResponse::Delta {
                        epoch,
                        from,
                        tags: cordon_protocol::messages::pack(&e.delta[from as usize..end]),
                    }
                }
                Err(r) => PartnerResponse::Error(r),
            };
            write_frame(&mut send, &resp).await?;
        }
        PartnerRequest::Evaluate(req) => {
            let (s, p, f) = (shared.clone(), partner.to_string(), *fingerprint);
            let resp =
                tokio::task::spawn_blocking(move || crate::answer::evaluate(&s, &p, &f, req))
                    .await
                    .unwrap_or_else(|e| {
                        refuse(ErrorCode::Internal, format!("evaluation failed: {e}"))
                    });
            #[cfg(feature = "test-util")]
            let resp = crate::misbehave::response(shared, resp);
            write_frame(&mut send, &resp).await?;
        }
        PartnerRequest::Followup(req) => {
            let (s, p, f) = (shared.clone(), partner.to_string(), *fingerprint);
            let resp = tokio::task::spawn_blocking(move || {
                crate::followup::holder::receive(&s, &p, &f, req)
            })
            .await
            .unwrap_or_else(|e| refuse(ErrorCode::Internal, format!("follow-up failed: {e}")));
            write_frame(&mut send, &resp).await?;
        }
        PartnerRequest::FollowupStatus { ids } => {
            let (s, p) = (shared.clone(), partner.to_string());
            let resp = tokio::task::spawn_blocking(move || {
                crate::followup::holder::answer_status(&s, &p, &ids)
            })
            .await
            .unwrap_or_else(|e| refuse(ErrorCode::Internal, format!("follow-up failed: {e}")));
            write_frame(&mut send, &resp).await?;
        }
    }
    let _ = send.finish();
    Ok(())
}

fn control_error(
    code: ErrorCode,
    message: impl Into<String>,
    details: Vec<String>,
) -> ControlResponse {
    ControlResponse::Error(ControlError {
        code,
        message: message.into(),
        details,
    })
}

fn node_error_to_control(e: &NodeError) -> ControlResponse {
    ControlResponse::Error(e.to_control())
}

/// The refusal a request that could not be read earns (malformed, cut short, or over a
/// limit), or the error itself if the stream failed and no answer can go out.
fn refusal_of(e: NodeError) -> Result<RemoteError, NodeError> {
    let message = match &e {
        NodeError::Peer(PeerError::Wire(w)) => format!("malformed request: {w}"),
        NodeError::Transport(TransportError::Truncated { .. }) => {
            format!("incomplete request: {e}")
        }
        NodeError::Peer(PeerError::Limit(m)) => m.clone(),
        _ => return Err(e),
    };
    Ok(RemoteError::new(e.code(), message))
}

async fn serve_control_stream(
    shared: &Arc<Shared>,
    who: &PeerIdentity,
    mut send: SendStream,
    mut recv: RecvStream,
) -> Result<(), NodeError> {
    let PeerIdentity::User {
        name,
        role,
        fingerprint,
    } = who
    else {
        return Ok(());
    };
    let actor = Actor {
        name: name.clone(),
        role: role.to_string(),
        fingerprint: hex::encode(fingerprint),
    };
    let req: ControlRequest = match read_frame(&mut recv).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(()),
        Err(e) => {
            let r = refusal_of(e)?;
            write_frame(&mut send, &control_error(r.code, r.message, vec![])).await?;
            let _ = send.finish();
            return Ok(());
        }
    };
    // Revocation is checked on every request, so it takes effect at once, even on a
    // connection opened before it.
    if let Some(r) = shared.revoked(name) {
        let when = time::OffsetDateTime::from_unix_timestamp(r.time as i64)
            .map(|t| t.date().to_string())
            .unwrap_or_default();
        write_frame(
            &mut send,
            &control_error(
                ErrorCode::NotAuthorized,
                format!(
                    "the certificate of user `{name}` was revoked on {when} by {} ({}); ask an operator of this node",
                    r.by, r.reason
                ),
                vec![],
            ),
        )
        .await?;
        let _ = send.finish();
        return Ok(());
    }
    // One check for every request: `ControlRequest::action` says what it does, and
    // `Role::may` who may do that.
    let action = req.action();
    if !role.may(action) {
        write_frame(
            &mut send,
            &control_error(ErrorCode::NotAuthorized, role.refusal(name, action), vec![]),
        )
        .await?;
        let _ = send.finish();
        return Ok(());
    }
    if matches!(
        req,
        ControlRequest::AuditExport { .. }
            | ControlRequest::AuditProve { .. }
            | ControlRequest::AuditConsistency { .. }
    ) {
        crate::audit::serve::serve(shared, &actor, *role, req, &mut send).await?;
        let _ = send.finish();
        return Ok(());
    }
    let resp = match req {
        ControlRequest::Status => match shared.status(name, role) {
            Ok(s) => ControlResponse::Status(s),
            Err(e) => node_error_to_control(&e),
        },
        ControlRequest::Import(header) => match receive_import(shared, header, true, &mut recv)
            .await
        {
            Ok(pending) => {
                let shared2 = shared.clone();
                let actor = actor.clone();
                match tokio::task::spawn_blocking(move || pending.commit(&shared2, &actor)).await {
                    Ok(Ok(reply)) => ControlResponse::Imported(reply),
                    Ok(Err(e)) => node_error_to_control(&e),
                    Err(e) => {
                        control_error(ErrorCode::Internal, format!("import failed: {e}"), vec![])
                    }
                }
            }
            Err(e) => node_error_to_control(&e),
        },
        ControlRequest::Query(q) => match crate::query::run_query(shared, &actor, q).await {
            Ok(r) => ControlResponse::Query(r),
            Err(e) => node_error_to_control(&e),
        },
        ControlRequest::PolicyReload => {
            let (s, a) = (shared.clone(), actor.clone());
            match tokio::task::spawn_blocking(move || s.reload_policy(&a)).await {
                Ok(Ok(r)) => ControlResponse::PolicyReloaded(r),
                Ok(Err(e)) => node_error_to_control(&e),
                Err(e) => control_error(ErrorCode::Internal, format!("reload failed: {e}"), vec![]),
            }
        }
        ControlRequest::PartnerStatus => match shared.partner_status() {
            Ok(r) => ControlResponse::PartnerStatus(r),
            Err(e) => node_error_to_control(&e),
        },
        ControlRequest::UserRevoke { name: user, reason } => {
            let (s, a, u) = (shared.clone(), actor.clone(), user.clone());
            match tokio::task::spawn_blocking(move || s.revoke_user(&a, &u, &reason)).await {
                Ok(Ok(())) => ControlResponse::UserRevoked { name: user },
                Ok(Err(e)) => node_error_to_control(&e),
                Err(e) => control_error(
                    ErrorCode::Internal,
                    format!("revocation failed: {e}"),
                    vec![],
                ),
            }
        }
        ControlRequest::Rotate { collection } => {
            let (s, a) = (shared.clone(), actor.clone());
            let why = crate::maintenance::RotationReason::OnDemand;
            let rotate = move || match CollectionName::parse(&collection) {
                Ok(c) => s.rotate(&c, why, &a),
                // No such name can be held.
                Err(_) => Err(s.not_held(&collection)),
            };
            match tokio::task::spawn_blocking(rotate).await {
                Ok(Ok(r)) => ControlResponse::Rotated(r),
                Ok(Err(e)) => node_error_to_control(&e),
                Err(e) => {
                    control_error(ErrorCode::Internal, format!("rotation failed: {e}"), vec![])
                }
            }
        }
        ControlRequest::Delete(header) => match receive_import(shared, header, false, &mut recv)
            .await
        {
            Ok(pending) => {
                let (s, a) = (shared.clone(), actor.clone());
                match tokio::task::spawn_blocking(move || s.delete_listed(pending, &a)).await {
                    Ok(Ok(r)) => ControlResponse::Deleted(r),
                    Ok(Err(e)) => node_error_to_control(&e),
                    Err(e) => {
                        control_error(ErrorCode::Internal, format!("deletion failed: {e}"), vec![])
                    }
                }
            }
            Err(e) => node_error_to_control(&e),
        },
        ControlRequest::Followup(cmd) => crate::followup::handle(shared, &actor, *role, cmd).await,
        // Answered above.
        ControlRequest::AuditExport { .. }
        | ControlRequest::AuditProve { .. }
        | ControlRequest::AuditConsistency { .. } => {
            control_error(ErrorCode::Internal, "audit request not routed", vec![])
        }
        _ => control_error(
            ErrorCode::BadRequest,
            "this node does not know that request",
            vec![],
        ),
    };
    match write_frame(&mut send, &resp).await {
        // A result too large for one frame (tens of thousands of hits) is reported, not dropped.
        Err(NodeError::Internal(InternalError::Encode(e))) => {
            let msg =
                format!("the answer does not fit one frame ({e}); ask about fewer items at a time");
            write_frame(
                &mut send,
                &control_error(ErrorCode::TooManyItems, msg, vec![]),
            )
            .await?;
        }
        other => {
            other?;
        }
    }
    let _ = send.finish();
    Ok(())
}

/// Reads the rows of an import (`import`) or of a deletion, frame by frame: an import's values
/// go to a temporary file in the data folder as they arrive, a deletion's stay in memory.
async fn receive_import(
    shared: &Arc<Shared>,
    header: crate::control::ImportHeader,
    import: bool,
    recv: &mut RecvStream,
) -> Result<PendingImport, NodeError> {
    let region = shared.config.identifiers.default_region.clone();
    let mut pending = if import {
        let dir = shared.config.db_path();
        let dir = dir.parent().unwrap_or(std::path::Path::new("."));
        PendingImport::new(header, region, dir)?
    } else {
        PendingImport::for_deletion(header, region)?
    };
    loop {
        match read_frame::<ImportFrame>(recv).await? {
            // CPU-bound work: off the async threads (works on any runtime flavour).
            Some(ImportFrame::Rows(rows)) => {
                pending =
                    tokio::task::spawn_blocking(move || pending.add_rows(rows).map(|()| pending))
                        .await
                        .map_err(|e| NodeError::internal(format!("import worker failed: {e}")))??;
            }
            Some(ImportFrame::Records(rows)) => {
                pending = tokio::task::spawn_blocking(move || {
                    pending.add_records(rows).map(|()| pending)
                })
                .await
                .map_err(|e| NodeError::internal(format!("import worker failed: {e}")))??;
            }
            Some(ImportFrame::End) => return Ok(pending),
            Some(_) => {
                return Err(NodeError::request(
                    "the import sent a frame this node does not know; nothing was stored",
                ))
            }
            None => {
                return Err(NodeError::request(
                    "the import ended before its last row arrived; nothing was stored",
                ))
            }
        }
    }
}
