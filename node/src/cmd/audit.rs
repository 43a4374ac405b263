//! The auditor's requests: export, single-entry proofs, consistency proofs. Only roles that
//! may read the log get an answer, and every read is itself logged (who read what) before
//! anything is returned.

use std::sync::Arc;

use quinn::SendStream;

use cordon_protocol::audit::bundle::encode_hashes;
use cordon_protocol::audit::entry::{Actor, EntryKind};
use cordon_protocol::control::{Action, ControlError, ControlRequest, ControlResponse, Role};
use cordon_protocol::ErrorCode;

use super::{blocking, Control};
use crate::audit::export;
use crate::error::NodeError;
use crate::net::write_frame;

/// Bytes of a bundle per frame.
const CHUNK: usize = 4 << 20;

/// Whether a request is an auditor's (answered here, possibly in several frames).
pub(super) fn asks(req: &ControlRequest) -> bool {
    matches!(
        req,
        ControlRequest::AuditExport { .. }
            | ControlRequest::AuditProve { .. }
            | ControlRequest::AuditConsistency { .. }
    )
}

/// Serves one audit request, writing its answer frames to `send`.
pub(super) async fn serve(
    c: &Arc<Control>,
    actor: &Actor,
    role: Role,
    req: ControlRequest,
    send: &mut SendStream,
) -> Result<(), NodeError> {
    if !role.may(Action::ReadAudit) {
        let msg = role.refusal(&actor.name, Action::ReadAudit);
        let refusal = ControlError::new(ErrorCode::NotAuthorized, msg);
        write_frame(send, &ControlResponse::Error(refusal)).await?;
        return Ok(());
    }
    let (c, a) = (c.clone(), actor.clone());
    let frames = match blocking("audit reader", move || answer(&c, &a, req)).await {
        Ok(frames) => frames,
        Err(refusal) => vec![ControlResponse::Error(refusal)],
    };
    for f in frames {
        write_frame(send, &f).await?;
    }
    Ok(())
}

fn answer(
    c: &Control,
    actor: &Actor,
    req: ControlRequest,
) -> Result<Vec<ControlResponse>, NodeError> {
    let log = &c.audit;
    let what = match &req {
        ControlRequest::AuditExport { since, until } => format!(
            "export since {} until {}",
            since.map_or("the start".into(), |t| t.to_string()),
            until.map_or("now".into(), |t| t.to_string())
        ),
        ControlRequest::AuditProve { index } => format!("proof of entry #{index}"),
        ControlRequest::AuditConsistency { old, new } => format!(
            "consistency proof {old} -> {}",
            new.map_or("latest".into(), |n| n.to_string())
        ),
        _ => return Err(NodeError::internal("not an audit request")),
    };
    // The read is logged first, so it is part of what is read.
    let mut e = log.entry(c.holder.now(), EntryKind::AuditRead, actor.clone());
    e.detail = Some(what);
    log.append(&[e])?;
    Ok(match req {
        ControlRequest::AuditExport { since, until } => {
            let own = c.holder.receipt_key()?.to_string();
            let bundle = export::bundle(log, since, until, c.holder.now(), own)?;
            let bytes = bundle.to_bytes();
            let mut frames: Vec<ControlResponse> = bytes
                .chunks(CHUNK)
                .map(|c| ControlResponse::AuditChunk { bytes: c.to_vec() })
                .collect();
            frames.push(ControlResponse::AuditEnd);
            frames
        }
        ControlRequest::AuditProve { index } => {
            let (proof, entry) = export::prove(log, index)?;
            vec![ControlResponse::AuditProof {
                proof: proof.to_text(),
                entry,
            }]
        }
        ControlRequest::AuditConsistency { old, new } => {
            let (checkpoint, proof) = export::consistency(log, old, new)?;
            vec![ControlResponse::AuditConsistency {
                checkpoint,
                proof: encode_hashes(&proof),
            }]
        }
        _ => Vec::new(),
    })
}
