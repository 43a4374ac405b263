//! `cordon status`: the node, its collections, partners and audit log, and for those who may
//! see partners' activity (operators, supervisors) the figures `/metrics` serves.

use std::sync::Arc;

use cordon_protocol::control::{Action, BudgetLeft, ControlResponse, Named, Role, StatusReply};

use super::{blocking, Answer, Control};
use crate::audit::AuditLog;
use crate::error::NodeError;
use crate::governance::Governance;
use crate::holder::Holder;
use crate::metrics::{GaugeSource, Gauges};

/// The gauges, read from the components that hold them.
pub(crate) struct Figures {
    pub(crate) holder: Arc<Holder>,
    pub(crate) governance: Arc<Governance>,
    pub(crate) audit: Arc<AuditLog>,
}

impl GaugeSource for Figures {
    fn gauges(&self) -> Result<Gauges, NodeError> {
        let mut g = Gauges::default();
        let held = self.holder.names()?;
        for p in self.governance.partner_status(&self.audit, &held)?.partners {
            for c in p.collections.into_iter().filter(|c| c.shared) {
                g.budgets.push(BudgetLeft {
                    left: c.daily_items.saturating_sub(c.used_today),
                    daily_items: c.daily_items,
                    partner: p.partner.clone(),
                    collection: c.collection,
                });
            }
        }
        g.epoch_ages = self.holder.epoch_ages();
        g.audit_size = self.audit.size();
        Ok(g)
    }
}

/// Status for `user` of `role` (blocking: it reads the databases).
fn status(c: &Control, user: &str, role: Role) -> Result<StatusReply, NodeError> {
    Ok(StatusReply {
        node: c.holder.node().to_string(),
        user: user.to_string(),
        role: Named::Known(role),
        collections: c.holder.status()?,
        partners: c.querier.partners().to_vec(),
        audit: c.audit.status()?,
        // The figures of /metrics, for those who run the node and answer for its use.
        operations: if role.may(Action::PartnerStatus) {
            let figures = Figures {
                holder: c.holder.clone(),
                governance: c.governance.clone(),
                audit: c.audit.clone(),
            };
            let gauges = figures.gauges()?;
            c.metrics.set_gauges(&gauges);
            Some(c.metrics.operations(gauges))
        } else {
            None
        },
    })
}

pub(super) async fn run(c: &Arc<Control>, user: &str, role: Role) -> Answer {
    let (c, user) = (c.clone(), user.to_string());
    let reply = blocking("status", move || status(&c, &user, role)).await?;
    Ok(ControlResponse::Status(reply))
}
