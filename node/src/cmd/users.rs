//! `cordon user revoke`: every certificate of a user refused from the next request on.

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::ControlResponse;

use super::{blocking, Answer, Control};

pub(super) async fn revoke(
    c: &Arc<Control>,
    actor: &Actor,
    user: String,
    reason: String,
) -> Answer {
    let (c, actor, name) = (c.clone(), actor.clone(), user.clone());
    blocking("revocation", move || {
        c.governance.revoke_user(&c.audit, &actor, &name, &reason)
    })
    .await?;
    Ok(ControlResponse::UserRevoked { name: user })
}
