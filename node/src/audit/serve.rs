//! The auditor's requests on the control channel: export, single-entry proofs, consistency
//! proofs. Only roles that may read the log get an answer, and every read is itself logged
//! (who read what) before anything is returned.

use std::sync::Arc;

use quinn::SendStream;

use cordon_protocol::audit::bundle::encode_hashes;
use cordon_protocol::audit::entry::{Actor, EntryKind};
use cordon_protocol::ErrorCode;

use super::export::{self, ExportKeys};
use crate::control::{ControlError, ControlRequest, ControlResponse};
use crate::error::NodeError;
use crate::net::write_frame;
use crate::pki::Role;
use crate::Shared;

/// Bytes of a bundle per frame.
const CHUNK: usize = 4 << 20;

fn refusal(code: ErrorCode, message: String) -> ControlResponse {
    ControlResponse::Error(ControlError {
        code,
        message,
        details: Vec::new(),
    })
}

/// Serves one audit request, writing its answer frames to `send`.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    actor: &Actor,
    role: Role,
    req: ControlRequest,
    send: &mut SendStream,
) -> Result<(), NodeError> {
    if !role.may(crate::pki::Action::ReadAudit) {
        let msg = role.refusal(&actor.name, crate::pki::Action::ReadAudit);
        write_frame(send, &refusal(ErrorCode::NotAuthorized, msg)).await?;
        return Ok(());
    }
    let s = shared.clone();
    let a = actor.clone();
    let result = tokio::task::spawn_blocking(move || answer(&s, &a, req))
        .await
        .map_err(|e| NodeError::internal(format!("audit reader failed: {e}")))?;
    match result {
        Ok(frames) => {
            for f in frames {
                write_frame(send, &f).await?;
            }
            Ok(())
        }
        Err(e) => {
            write_frame(send, &ControlResponse::Error(e.to_control())).await?;
            Ok(())
        }
    }
}

fn answer(
    shared: &Shared,
    actor: &Actor,
    req: ControlRequest,
) -> Result<Vec<ControlResponse>, NodeError> {
    let db = shared.audit.db();
    let log = &shared.audit;
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
    let mut e = log.entry(shared.clock.now_unix(), EntryKind::AuditRead, actor.clone());
    e.detail = Some(what);
    log.append(db, &[e])?;
    Ok(match req {
        ControlRequest::AuditExport { since, until } => {
            let own = cordon_protocol::audit::note::VerifierKey::new(
                &shared.config.node.name,
                cordon_protocol::audit::note::KeyType::Ed25519,
                shared.receipt_signer.public_key(),
            )
            .map_err(|e| NodeError::internal(e.to_string()))?;
            let keys = ExportKeys {
                own_receipt: own.to_string(),
                partners: &shared.partner_log_keys,
            };
            let bundle = export::bundle(log, db, since, until, shared.clock.now_unix(), &keys)?;
            let bytes = bundle.to_bytes();
            let mut frames: Vec<ControlResponse> = bytes
                .chunks(CHUNK)
                .map(|c| ControlResponse::AuditChunk { bytes: c.to_vec() })
                .collect();
            frames.push(ControlResponse::AuditEnd);
            frames
        }
        ControlRequest::AuditProve { index } => {
            let (proof, entry) = export::prove(log, db, index)?;
            vec![ControlResponse::AuditProof {
                proof: proof.to_text(),
                entry,
            }]
        }
        ControlRequest::AuditConsistency { old, new } => {
            let (checkpoint, proof) = export::consistency(log, db, old, new)?;
            vec![ControlResponse::AuditConsistency {
                checkpoint,
                proof: encode_hashes(&proof),
            }]
        }
        _ => Vec::new(),
    })
}
