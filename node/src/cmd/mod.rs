//! The control channel: a CLI's requests to its own node, one request per stream, one command
//! per file. The dispatcher reads the request, refuses a revoked user or a role that may not
//! do what is asked (one check for every request: [`ControlRequest::action`] says what it
//! does, [`Role::may`] who may do that), and hands it to its command, which receives only the
//! components it uses.

mod audit;
mod followup;
mod import;
mod policy;
mod query;
mod rotate;
mod status;
mod users;

use std::sync::Arc;

use quinn::{RecvStream, SendStream};

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::{ControlError, ControlRequest, ControlResponse, Role};
use cordon_protocol::ErrorCode;

use crate::audit::AuditLog;
use crate::error::{InternalError, NodeError};
use crate::governance::Governance;
use crate::holder::Holder;
use crate::metrics::Metrics;
use crate::net::{read_frame, write_frame};
use crate::querier::Querier;
use crate::tls::PeerIdentity;

pub(crate) use status::Figures;

/// Everything the control commands use; each command takes only its part.
pub(crate) struct Control {
    pub(crate) holder: Arc<Holder>,
    pub(crate) querier: Arc<Querier>,
    pub(crate) governance: Arc<Governance>,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) metrics: Arc<Metrics>,
}

/// What a command answers: its response, or the refusal to send instead.
type Answer = Result<ControlResponse, ControlError>;

/// Runs `f` off the async threads; a worker that dies is reported as `what failed`.
async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, NodeError> + Send + 'static,
) -> Result<T, ControlError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_control()),
        Err(e) => Err(ControlError::new(
            ErrorCode::Internal,
            format!("{what} failed: {e}"),
        )),
    }
}

async fn send_once(send: &mut SendStream, resp: &ControlResponse) -> Result<(), NodeError> {
    write_frame(send, resp).await?;
    let _ = send.finish();
    Ok(())
}

/// Serves one control stream of a user.
pub(crate) async fn serve(
    control: &Arc<Control>,
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
            let (code, message) = e.unreadable()?;
            let refusal = ControlError::new(code, message);
            return send_once(&mut send, &refusal.into()).await;
        }
    };
    if let Some(refusal) = refused(control, name, *role, &req) {
        return send_once(&mut send, &refusal.into()).await;
    }
    if audit::asks(&req) {
        audit::serve(control, &actor, *role, req, &mut send).await?;
        let _ = send.finish();
        return Ok(());
    }
    let resp = dispatch(control, &actor, *role, req, &mut recv)
        .await
        .unwrap_or_else(ControlResponse::Error);
    match write_frame(&mut send, &resp).await {
        // A result too large for one frame (tens of thousands of hits) is reported, not dropped.
        Err(NodeError::Internal(InternalError::Encode(e))) => {
            let msg =
                format!("the answer does not fit one frame ({e}); ask about fewer items at a time");
            let refusal = ControlResponse::Error(ControlError::new(ErrorCode::TooManyItems, msg));
            write_frame(&mut send, &refusal).await?;
        }
        other => {
            other?;
        }
    }
    let _ = send.finish();
    Ok(())
}

/// The refusal of a revoked user, or of a role that may not do what is asked.
fn refused(
    control: &Control,
    name: &str,
    role: Role,
    req: &ControlRequest,
) -> Option<ControlError> {
    // Revocation is checked on every request, so it takes effect at once, even on a
    // connection opened before it.
    if let Some(r) = control.governance.revoked(name) {
        let when = time::OffsetDateTime::from_unix_timestamp(r.time as i64)
            .map(|t| t.date().to_string())
            .unwrap_or_default();
        return Some(ControlError::new(
            ErrorCode::NotAuthorized,
            format!(
                "the certificate of user `{name}` was revoked on {when} by {} ({}); ask an operator of this node",
                r.by, r.reason
            ),
        ));
    }
    let action = req.action();
    if !role.may(action) {
        return Some(ControlError::new(
            ErrorCode::NotAuthorized,
            role.refusal(name, action),
        ));
    }
    None
}

/// Hands a request to its command.
async fn dispatch(
    c: &Arc<Control>,
    actor: &Actor,
    role: Role,
    req: ControlRequest,
    recv: &mut RecvStream,
) -> Answer {
    match req {
        ControlRequest::Status => status::run(c, &actor.name, role).await,
        ControlRequest::Import(header) => import::import(c, actor, header, recv).await,
        ControlRequest::Delete(header) => import::delete(c, actor, header, recv).await,
        ControlRequest::Query(q) => query::run(c, actor, q).await,
        ControlRequest::Rotate { collection } => rotate::run(c, actor, collection).await,
        ControlRequest::PolicyReload => policy::reload(c, actor).await,
        ControlRequest::PartnerStatus => policy::partner_status(c).await,
        ControlRequest::UserRevoke { name, reason } => users::revoke(c, actor, name, reason).await,
        ControlRequest::Followup(cmd) => followup::run(c, actor, role, cmd).await,
        _ => Err(ControlError::new(
            ErrorCode::BadRequest,
            "this node does not know that request",
        )),
    }
}
