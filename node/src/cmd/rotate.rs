//! `cordon epoch rotate`: a new key and epoch over the same records, now.

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::collection::CollectionName;
use cordon_protocol::control::ControlResponse;

use super::{blocking, Answer, Control};
use crate::holder::maintenance::RotationReason;

pub(super) async fn run(c: &Arc<Control>, actor: &Actor, collection: String) -> Answer {
    let (c, actor) = (c.clone(), actor.clone());
    let reply = blocking("rotation", move || {
        match CollectionName::parse(&collection) {
            Ok(name) => c
                .holder
                .rotate(&c.audit, &name, RotationReason::OnDemand, &actor),
            // No such name can be held.
            Err(_) => Err(c.holder.not_held(&collection)),
        }
    })
    .await?;
    Ok(ControlResponse::Rotated(reply))
}
