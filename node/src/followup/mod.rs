//! Follow-up requests: the accountable second step after a hit, as in Prüm.
//!
//! 1. An investigator cites hit references (`<collection>:<epoch>:<tag hex>`) found in a
//!    partner's filter: `cordon followup request`. Their node logs `followup_requested`, keeps
//!    its own record of the request ([`querier`]) and sends it to the partner.
//! 2. The holder checks its policy, resolves every reference to its own records by recomputing
//!    the tags of the collection with the epoch's key, refuses the whole request if any reference
//!    resolves to nothing, and otherwise queues it and logs `followup_requested` ([`holder`]).
//! 3. The holder's supervisor lists, shows, approves (only fields marked releasable at import)
//!    or denies; each decision is logged as `followup_answered`.
//! 4. `cordon followup status` at the querier fetches the decisions on its open requests and
//!    stores them; the first arrival of an answer is logged as `followup_answered`.
//!
//! The control-channel messages are here; storage in [`store`].

pub mod holder;
pub mod querier;
pub mod store;

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::ErrorCode;

use crate::control::{ControlError, ControlResponse};
use crate::error::NodeError;
use crate::pki::{Action, Role};

use crate::Shared;
pub use cordon_protocol::control::{
    DecisionView, FieldView, Fields, FollowupCommand, FollowupReply, HeldRecord, HeldReference,
    HeldSummary, HeldView, SentView,
};

fn error(code: ErrorCode, message: impl Into<String>) -> ControlResponse {
    ControlResponse::Error(ControlError {
        code,
        message: message.into(),
        details: Vec::new(),
    })
}

fn node_error(e: NodeError) -> ControlResponse {
    ControlResponse::Error(e.to_control())
}

/// The action a command needs.
pub fn action_of(cmd: &FollowupCommand) -> Action {
    cmd.action()
}

/// Serves one follow-up command of a person on the control channel.
pub async fn handle(
    shared: &Arc<Shared>,
    actor: &Actor,
    role: Role,
    cmd: FollowupCommand,
) -> ControlResponse {
    let action = action_of(&cmd);
    if !role.may(action) {
        return error(ErrorCode::NotAuthorized, role.refusal(&actor.name, action));
    }
    let r = match cmd {
        FollowupCommand::Request {
            partner,
            references,
            case_ref,
            purpose,
        } => querier::request(shared, actor, &partner, &references, &case_ref, &purpose)
            .await
            .map(FollowupReply::Requested),
        FollowupCommand::Status { id } => querier::status(shared, actor, id.as_deref())
            .await
            .map(FollowupReply::Status),
        review => {
            let (s, a) = (shared.clone(), actor.clone());
            tokio::task::spawn_blocking(move || holder::review(&s, &a, review))
                .await
                .unwrap_or_else(|e| Err(NodeError::internal(format!("review failed: {e}"))))
        }
    };
    match r {
        Ok(reply) => ControlResponse::Followup(reply),
        Err(e) => node_error(e),
    }
}
