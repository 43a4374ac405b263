//! What the log says about itself and the node: its status for `cordon status`, the node's
//! own events (start, stop, partner changes), and the partners recorded at the last start.

use std::collections::BTreeMap;

use redb::ReadableDatabase;

use cordon_protocol::audit::entry::{Actor, EntryKind};
use cordon_protocol::control::AuditStatus;

use super::{storage, witness, AuditLog, META};
use crate::error::NodeError;

impl AuditLog {
    /// The log's size, key, partners' cosigned sizes and alerts.
    pub fn status(&self) -> Result<AuditStatus, NodeError> {
        let mut partners = Vec::new();
        let mut warnings = Vec::new();
        for (name, state) in witness::load_all(&self.db)? {
            if state.unverified >= witness::UNVERIFIED_WARNING {
                warnings.push(format!(
                    "WARNING: the last {} audit checkpoints {name} sent could not be checked against the one kept; ask {name}'s operators, and compare its export with what this node cosigned",
                    state.unverified
                ));
            }
            partners.push((name, state.their_size()));
        }
        let alerts = witness::alerts(&self.db)?
            .into_iter()
            .map(|a| {
                format!(
                    "ALERT: {} presented an audit checkpoint inconsistent with one it signed before ({}); both are kept as evidence",
                    a.partner, a.reason
                )
            })
            .collect();
        Ok(AuditStatus {
            entries: self.size(),
            log_key: self.verifier_key().to_string(),
            partners,
            alerts,
            warnings,
        })
    }

    /// Logs a node-level event (start, stop, partner changes) durably.
    pub fn log_node(
        &self,
        now: u64,
        kind: EntryKind,
        detail: Option<(String, String)>,
    ) -> Result<u64, NodeError> {
        let mut e = self.entry(now, kind, Actor::node(&self.node));
        if let Some((partner, d)) = detail {
            e.partner = Some(partner);
            e.detail = Some(d);
        }
        self.append(&[e])
    }

    /// The partners recorded at the last start (name → description).
    pub fn partners_seen(&self) -> Result<BTreeMap<String, String>, NodeError> {
        let read = self.db.begin_read()?;
        let t = read.open_table(META)?;
        match t.get("partners")? {
            Some(v) => serde_json::from_slice(v.value()).map_err(storage),
            None => Ok(Default::default()),
        }
    }

    /// Records the partners of this start.
    pub fn set_partners_seen(&self, p: &BTreeMap<String, String>) -> Result<(), NodeError> {
        let bytes = serde_json::to_vec(p).map_err(storage)?;
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert("partners", bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }
}
