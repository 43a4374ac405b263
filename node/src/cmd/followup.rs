//! `cordon followup …`: file a request with a partner and see the partners' answers (the
//! querier's side), or review partners' requests on this agency's records (the holder's side).

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::{
    ControlError, ControlResponse, FollowupCommand, FollowupReply, Role,
};
use cordon_protocol::ErrorCode;

use super::{blocking, Answer, Control};
use crate::answer::Answerer;
use crate::followup::{holder, querier};
use crate::query::Querying;

pub(super) async fn run(
    c: &Arc<Control>,
    actor: &Actor,
    role: Role,
    cmd: FollowupCommand,
) -> Answer {
    let action = cmd.action();
    if !role.may(action) {
        return Err(ControlError::new(
            ErrorCode::NotAuthorized,
            role.refusal(&actor.name, action),
        ));
    }
    let asking = Querying {
        querier: c.querier.clone(),
        audit: c.audit.clone(),
        metrics: c.metrics.clone(),
    };
    let reply = match cmd {
        FollowupCommand::Request {
            partner,
            references,
            case_ref,
            purpose,
        } => querier::request(&asking, actor, &partner, &references, &case_ref, &purpose)
            .await
            .map(FollowupReply::Requested),
        FollowupCommand::Status { id } => querier::status(&asking, actor, id.as_deref())
            .await
            .map(FollowupReply::Status),
        review => {
            let a = Answerer {
                holder: c.holder.clone(),
                governance: c.governance.clone(),
                audit: c.audit.clone(),
                metrics: c.metrics.clone(),
            };
            let actor = actor.clone();
            return blocking("review", move || holder::review(&a, &actor, review))
                .await
                .map(ControlResponse::Followup);
        }
    };
    reply
        .map(ControlResponse::Followup)
        .map_err(|e| e.to_control())
}
