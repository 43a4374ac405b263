//! The simulated holder's follow-up requests: admission by the protocol's functions, each
//! reference resolved by recomputing the collection's tags, then queued for review.

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::filter::EpochFilter;
use cordon_protocol::followup::{FollowupAccepted, FollowupRequest, FollowupState};
use cordon_protocol::messages::PartnerResponse;
use cordon_protocol::session::holder::followup::{
    admit_followup, check_held, check_queue, check_resolved, HeldStatus,
};

use crate::holder::View;
use crate::node::{HeldFollowup, SimNode};

impl SimNode {
    /// Serves a follow-up request: accepted and queued, or refused (and logged either way).
    pub(crate) fn receive_followup(
        &mut self,
        partner: &str,
        req: &FollowupRequest,
        now: u64,
    ) -> PartnerResponse {
        let mut e = self.entry(now, EntryKind::FollowupRequested, partner, "partner");
        e.collection = Some(Self::loggable(&req.collection));
        e.epoch = Some(req.epoch);
        e.items = Some((req.references.len() / 32) as u64);
        match self.accept_followup(partner, req) {
            Ok(a) => {
                e.detail = Some(format!(
                    "followup={} records={}",
                    hex::encode(*a.id),
                    a.records
                ));
                self.log_entries(vec![e]);
                PartnerResponse::FollowupAccepted(a)
            }
            Err(r) => {
                e.reason = Some(format!("{}: {}", r.code, r.message));
                self.log_entries(vec![e]);
                PartnerResponse::Error(r)
            }
        }
    }

    fn accept_followup(
        &mut self,
        partner: &str,
        req: &FollowupRequest,
    ) -> Result<FollowupAccepted, RemoteError> {
        let admitted = admit_followup(&View(self), partner, req)?;
        let internal = |e: String| RemoteError::new(ErrorCode::Internal, e);
        // The queue, then the epoch's filter and delta, before the scan of every record.
        let used = self.followups.iter().any(|f| f.id == *req.id);
        let pending = self
            .followups
            .iter()
            .filter(|f| f.partner == partner && f.state == FollowupState::Pending)
            .count() as u64;
        check_queue(
            &self.name,
            partner,
            &req.id,
            used,
            pending,
            self.limits.max_pending_followups,
        )?;
        let c = self
            .collections
            .get(&req.collection)
            .ok_or_else(|| internal("the collection vanished".into()))?;
        let e = c.epoch();
        let d = &e.descriptor;
        let filter = EpochFilter::from_bytes(e.filter.clone(), &d.filter, &d.filter_digest)
            .map_err(|e| internal(e.to_string()))?;
        check_held(req, &admitted.tags, |t| {
            filter.contains(t) || e.delta.contains(t)
        })?;
        let resolved = c
            .resolve(e, &admitted.tags)
            .map_err(|e| internal(e.to_string()))?;
        check_resolved(req, &admitted.tags, &resolved)?;
        let mut records: Vec<&String> = resolved.iter().flatten().collect();
        records.sort();
        records.dedup();
        let records = records.len() as u64;
        self.followups.push(HeldFollowup {
            id: *req.id,
            partner: partner.to_string(),
            collection: req.collection.clone(),
            state: FollowupState::Pending,
            decided_at: None,
            records,
        });
        Ok(FollowupAccepted {
            id: req.id,
            records,
        })
    }

    /// A follow-up request of `partner` (only its own).
    pub(crate) fn held_status(&self, partner: &str, id: &[u8; 16]) -> Option<HeldStatus> {
        self.followups
            .iter()
            .find(|f| f.partner == partner && f.id == *id)
            .map(|f| HeldStatus {
                collection: f.collection.clone(),
                state: f.state.clone(),
                decided_at: f.decided_at,
            })
    }
}
