//! `cordon policy reload` and `cordon partner status`: the grants in force, re-read from
//! `node.toml`, and every partner's grants and today's use.

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::ControlResponse;

use super::{blocking, Answer, Control};

pub(super) async fn reload(c: &Arc<Control>, actor: &Actor) -> Answer {
    let (c, actor) = (c.clone(), actor.clone());
    let reply = blocking("reload", move || {
        c.governance.reload_policy(&c.audit, &actor)
    })
    .await?;
    Ok(ControlResponse::PolicyReloaded(reply))
}

pub(super) async fn partner_status(c: &Arc<Control>) -> Answer {
    let c = c.clone();
    let reply = blocking("partner status", move || {
        c.governance.partner_status(&c.audit, &c.holder.names()?)
    })
    .await?;
    Ok(ControlResponse::PartnerStatus(reply))
}
