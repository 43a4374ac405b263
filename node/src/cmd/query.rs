//! `cordon query`: every chosen partner asked at once (`crate::query`).

use std::sync::Arc;

use cordon_protocol::audit::entry::Actor;
use cordon_protocol::control::{ControlResponse, QueryRequest};

use super::{Answer, Control};
use crate::query::{run_query, Querying};

pub(super) async fn run(c: &Arc<Control>, actor: &Actor, q: QueryRequest) -> Answer {
    let parts = Querying {
        querier: c.querier.clone(),
        audit: c.audit.clone(),
        metrics: c.metrics.clone(),
    };
    // Without a kind given, the kind of this node's own collection of that name.
    let local_kind = c.holder.kind_of(&q.collection);
    match run_query(&parts, actor, q, local_kind).await {
        Ok(r) => Ok(ControlResponse::Query(r)),
        Err(e) => Err(e.to_control()),
    }
}
