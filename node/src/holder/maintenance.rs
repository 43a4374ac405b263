//! Key rotation, deletion and retention of a holder's collections.
//!
//! A rotation is a rebuild ([`epoch::rebuild_in`]): a new OPRF key, a new filter over the
//! records held, a new epoch number. The holder serves only the current epoch (`stale_epoch`
//! otherwise), so once a rotation is installed, tags, filters and deltas of older epochs are
//! useless to a partner: computing a tag needs the key, which only evaluates under the current
//! epoch. That is why every deletion and expiry rotates **in the same transaction**: a record
//! deleted but still in a filter a partner could evaluate against would still be findable.
//!
//! Rotations happen on demand (`cordon epoch rotate`), on schedule (`rotate_every` in a
//! `[[collection]]` section, counted from the epoch's build) and after every deletion or
//! expiry (`retain`). [`Holder::maintain`] does the scheduled part; the running node calls it
//! at start and every [`MAINTENANCE_INTERVAL`].

use std::time::{Duration, Instant};

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::collection::CollectionName;
use cordon_protocol::ident::Kind;

use super::Holder;
use crate::audit::AuditLog;
use crate::control::{DeleteReply, ImportHeader, RotateReply};
use crate::epoch::{self, HolderEpoch};
use crate::error::NodeError;
use crate::import::PendingImport;
use crate::store::WriteBatch;

/// How often a running node looks for expired records and rotations due.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Most lines of values not found listed in a deletion's reply (the count is always exact).
const MAX_LISTED_NOT_FOUND: usize = 1000;

/// Why a key was rotated (the `detail` of a `key_rotated` entry starts with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationReason {
    /// `rotate_every` elapsed since the epoch was built.
    Schedule,
    /// An operator asked (`cordon epoch rotate`).
    OnDemand,
    /// Records were deleted.
    AfterDeletion,
    /// Records expired (`retain`).
    AfterExpiry,
}

impl RotationReason {
    /// As written in the log: `schedule`, `on_demand`, `after_deletion`, `after_expiry`.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationReason::Schedule => "schedule",
            RotationReason::OnDemand => "on_demand",
            RotationReason::AfterDeletion => "after_deletion",
            RotationReason::AfterExpiry => "after_expiry",
        }
    }
}

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MaintenanceReport {
    /// Per collection with expired records: how many were deleted.
    pub expired: Vec<(CollectionName, u64)>,
    /// Every rotation: collection, old and new epoch, why.
    pub rotated: Vec<(CollectionName, u64, u64, RotationReason)>,
}

/// Refuses a deletion whose values were not read as the collection's were imported (another
/// kind, or other e-mail provider rules): they could never match.
fn check_read_as_held(
    batch: &WriteBatch,
    c: &CollectionName,
    header: &ImportHeader,
) -> Result<(), NodeError> {
    let meta = batch.collection(c)?.ok_or_else(|| {
        NodeError::internal(format!("collection `{c}` has an epoch but no metadata"))
    })?;
    if meta.kind != header.kind {
        return Err(NodeError::request(format!(
            "collection `{c}` holds `{}` identifiers, not `{}`; pass --kind {}",
            meta.kind, header.kind, meta.kind
        )));
    }
    let rules = header.read.provider_rules && header.kind == Kind::Email.as_str();
    if rules != meta.provider_rules {
        return Err(NodeError::request(format!(
            "collection `{c}` was imported {} the e-mail provider rules; read the values the same way ({} --provider-rules)",
            if meta.provider_rules { "with" } else { "without" },
            if meta.provider_rules { "pass" } else { "leave out" }
        )));
    }
    Ok(())
}

impl Holder {
    fn node_actor(&self) -> Actor {
        Actor::node(&self.node)
    }

    /// Builds the next epoch in `batch` and the `key_rotated` entry for it.
    fn rotate_in(
        &self,
        audit: &AuditLog,
        batch: &mut WriteBatch,
        current: &HolderEpoch,
        why: RotationReason,
        actor: &Actor,
        now: u64,
    ) -> Result<(HolderEpoch, Entry), NodeError> {
        let params = self.build_params(now);
        let holder = epoch::rebuild_in(
            batch,
            &current.collection,
            &current.kind,
            Some(current),
            &params,
        )?;
        let mut e = audit.entry(now, EntryKind::KeyRotated, actor.clone());
        e.collection = Some(current.collection.clone());
        e.epoch = Some(holder.epoch);
        e.items = Some(holder.descriptor.record_count);
        e.detail = Some(format!(
            "{}: epoch {} replaced by epoch {}",
            why.as_str(),
            current.epoch,
            holder.epoch
        ));
        Ok((holder, e))
    }

    /// Commits `batch` with `entries` pending in it, moves them into the log, then installs
    /// `holder` (so the old epoch is refused from the moment the change is durable and logged).
    fn finish(
        &self,
        audit: &AuditLog,
        batch: WriteBatch,
        entries: &[Entry],
        holder: Option<HolderEpoch>,
    ) -> Result<(), NodeError> {
        crate::audit::pending::put(batch.txn(), entries)?;
        batch.commit()?;
        crate::audit::pending::flush(self.store.db(), audit)?;
        if let Some(h) = holder {
            self.install(h);
        }
        Ok(())
    }

    /// Rotates a collection's key now: a new epoch over the same records.
    pub fn rotate(
        &self,
        audit: &AuditLog,
        collection: &CollectionName,
        why: RotationReason,
        actor: &Actor,
    ) -> Result<RotateReply, NodeError> {
        self.rotate_when(audit, collection, why, actor, |_| true)?
            .ok_or_else(|| NodeError::internal("an unconditional rotation did not rotate"))
    }

    /// Rotates if `due(current epoch)` still holds once the lock is taken (an import may have
    /// rebuilt the epoch meanwhile).
    fn rotate_when(
        &self,
        audit: &AuditLog,
        collection: &CollectionName,
        why: RotationReason,
        actor: &Actor,
        due: impl Fn(&HolderEpoch) -> bool,
    ) -> Result<Option<RotateReply>, NodeError> {
        let _guard = self.write_lock();
        let current = self.held(collection)?;
        if !due(&current) {
            return Ok(None);
        }
        let now = self.clock.now_unix();
        let started = Instant::now();
        let mut batch = self.store.begin()?;
        let (holder, entry) = self.rotate_in(audit, &mut batch, &current, why, actor, now)?;
        let reply = RotateReply {
            collection: collection.clone(),
            old_epoch: current.epoch,
            new_epoch: holder.epoch,
            records: holder.descriptor.record_count,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.finish(audit, batch, &[entry], Some(holder))?;
        tracing::info!(
            collection = collection.as_str(),
            old = reply.old_epoch,
            new = reply.new_epoch,
            why = why.as_str(),
            "key rotated"
        );
        Ok(Some(reply))
    }

    /// Deletes the values an operator listed (read and canonicalised as an import reads them)
    /// and, if any was held, rotates the key in the same transaction.
    pub fn delete_listed(
        &self,
        audit: &AuditLog,
        pending: PendingImport,
        actor: &Actor,
    ) -> Result<DeleteReply, NodeError> {
        let (read, values) = pending.into_deletion()?;
        let (header, c) = (&read.header, &read.collection);
        let mut reply = DeleteReply {
            rows: read.rows,
            deleted: 0,
            not_found: Vec::new(),
            not_found_count: 0,
            rejected: read.rejected.clone(),
            rejected_count: read.rejected_count,
            epoch: 0,
            records: 0,
        };
        if read.refused() {
            // As for an import: nothing of a request with invalid rows is applied.
            return Ok(reply);
        }
        let _guard = self.write_lock();
        let current = self.held(c)?;
        let mut batch = self.store.begin()?;
        check_read_as_held(&batch, c, header)?;
        let now = self.clock.now_unix();
        let canon: Vec<String> = values.iter().map(|(_, v)| v.clone()).collect();
        let found = batch.delete_records(c, &canon)?;
        // A value listed twice is deleted once: count the second as not held.
        for ((line, _), hit) in values.iter().zip(&found) {
            if *hit {
                reply.deleted += 1;
            } else {
                reply.not_found_count += 1;
                if reply.not_found.len() < MAX_LISTED_NOT_FOUND {
                    reply.not_found.push(*line);
                }
            }
        }
        let mut e = audit.entry(now, EntryKind::DataExpired, actor.clone());
        e.collection = Some(c.to_string());
        e.items = Some(reply.deleted);
        e.detail = Some(format!(
            "deleted on request ({}): {} of {} listed values held",
            header.source,
            reply.deleted,
            values.len()
        ));
        let mut entries = vec![e];
        let holder = if reply.deleted > 0 {
            let (h, e) = self.rotate_in(
                audit,
                &mut batch,
                &current,
                RotationReason::AfterDeletion,
                actor,
                now,
            )?;
            entries.push(e);
            reply.epoch = h.epoch;
            Some(h)
        } else {
            reply.epoch = current.epoch;
            None
        };
        self.finish(audit, batch, &entries, holder)?;
        reply.records = self.store.record_count(c)?;
        tracing::info!(
            collection = %c,
            actor = %actor.name,
            deleted = reply.deleted,
            not_found = reply.not_found_count,
            epoch = reply.epoch,
            "records deleted"
        );
        Ok(reply)
    }

    /// Expires the records of `collection` imported longer than `retain` ago and rotates, in
    /// one transaction. Returns how many expired and the rotation, if any did.
    fn expire(
        &self,
        audit: &AuditLog,
        collection: &str,
        retain: Duration,
    ) -> Result<Option<(u64, u64, u64)>, NodeError> {
        let _guard = self.write_lock();
        let Some(current) = self.epoch(collection) else {
            return Ok(None);
        };
        let now = self.clock.now_unix();
        let cutoff = now.saturating_sub(retain.as_secs());
        let mut batch = self.store.begin()?;
        let Some(meta) = batch.collection(collection)? else {
            return Ok(None);
        };
        let n = batch.expire_records(collection, cutoff, meta.created_at)?;
        if n == 0 {
            return Ok(None); // nothing changed: the transaction is dropped
        }
        let actor = self.node_actor();
        let mut e = audit.entry(now, EntryKind::DataExpired, actor.clone());
        e.collection = Some(collection.to_string());
        e.items = Some(n);
        e.detail = Some(format!(
            "expired: imported before {cutoff} (retain {})",
            humantime::format_duration(retain)
        ));
        let (h, rot) = self.rotate_in(
            audit,
            &mut batch,
            &current,
            RotationReason::AfterExpiry,
            &actor,
            now,
        )?;
        let new_epoch = h.epoch;
        self.finish(audit, batch, &[e, rot], Some(h))?;
        tracing::info!(collection, records = n, cutoff, "records expired");
        Ok(Some((n, current.epoch, new_epoch)))
    }

    /// One maintenance pass: expires records past their collection's `retain` and rotates
    /// keys whose `rotate_every` has elapsed, each in its own logged transaction. Blocking
    /// (it may build epochs): call it from a blocking thread.
    pub fn maintain(&self, audit: &AuditLog) -> Result<MaintenanceReport, NodeError> {
        let mut report = MaintenanceReport::default();
        for (name, _) in self.store.collections()? {
            let Some(settings) = self.settings_of(&name).cloned() else {
                continue;
            };
            if let Some(retain) = settings.retain {
                if let Some((n, old, new)) = self.expire(audit, &name, retain)? {
                    report.expired.push((name.clone(), n));
                    report
                        .rotated
                        .push((name.clone(), old, new, RotationReason::AfterExpiry));
                }
            }
            if self.epoch(&name).is_none() {
                continue;
            }
            let due = |e: &HolderEpoch| {
                self.next_rotation(&name, e.built_at)
                    .is_some_and(|at| self.clock.now_unix() >= at)
            };
            let why = RotationReason::Schedule;
            if let Some(r) = self.rotate_when(audit, &name, why, &self.node_actor(), due)? {
                report
                    .rotated
                    .push((name.clone(), r.old_epoch, r.new_epoch, why));
            }
        }
        Ok(report)
    }
}
