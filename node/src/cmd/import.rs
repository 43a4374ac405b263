//! `cordon data import` and `cordon data delete`: the rows stream in, frame by frame, and are
//! read as they arrive (an import's values spooled to a temporary file in the data folder, a
//! deletion's kept in memory); once the last row arrived the holder applies them.

use std::sync::Arc;

use quinn::RecvStream;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::{ControlResponse, ImportFrame, ImportHeader};

use super::{blocking, Answer, Control};
use crate::error::NodeError;
use crate::import::PendingImport;
use crate::net::read_frame;

/// Reads the rows of an import (`import`) or of a deletion, frame by frame.
async fn receive(
    c: &Control,
    header: ImportHeader,
    import: bool,
    recv: &mut RecvStream,
) -> Result<PendingImport, NodeError> {
    let region = c.holder.default_region();
    let mut pending = if import {
        PendingImport::new(header, region, c.holder.spool_dir())?
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

/// An import: read, then applied and logged in one transaction.
pub(super) async fn import(
    c: &Arc<Control>,
    actor: &Actor,
    header: ImportHeader,
    recv: &mut RecvStream,
) -> Answer {
    let pending = receive(c, header, true, recv)
        .await
        .map_err(|e| e.to_control())?;
    let (c, actor) = (c.clone(), actor.clone());
    let reply = blocking("import", move || c.holder.import(&c.audit, pending, &actor)).await?;
    Ok(ControlResponse::Imported(reply))
}

/// A deletion: the listed values read as an import reads them, then deleted (and the key
/// rotated) in one logged transaction.
pub(super) async fn delete(
    c: &Arc<Control>,
    actor: &Actor,
    header: ImportHeader,
    recv: &mut RecvStream,
) -> Answer {
    let pending = receive(c, header, false, recv)
        .await
        .map_err(|e| e.to_control())?;
    let (c, actor) = (c.clone(), actor.clone());
    let reply = blocking("deletion", move || {
        c.holder.delete_listed(&c.audit, pending, &actor)
    })
    .await?;
    Ok(ControlResponse::Deleted(reply))
}
