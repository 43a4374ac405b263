//! Applying an import: the spooled values stored, the epoch built or extended, and the
//! import's audit entries, all in one transaction of the node's database, acknowledged only
//! after it committed (and its entries reached the log, see `crate::audit::pending`).
//!
//! The writer's lock is taken only once every row arrived: other writers, maintenance and
//! follow-ups wait for the apply phase alone. The values are read back from the spool and the
//! epoch is built chunk by chunk ([`epoch::rebuild_in`]), so a large import is never all in
//! memory.

use std::sync::Arc;
use std::time::Instant;

use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::ident::Kind;

use super::Holder;
use crate::audit::AuditLog;
use crate::control::ImportReply;
use crate::epoch::{self, HolderEpoch};
use crate::error::{NodeError, UserError};
use crate::import::spool::Spool;
use crate::import::{PendingImport, ReadRows};
use crate::store::{CollectionMeta, StagedRecords, WriteBatch};

/// Values read back from the spool and stored per step of an import's apply phase.
const APPLY_BATCH: usize = 10_000;

/// Where an import's new records go: into the current epoch's delta while they keep it under
/// the rebuild threshold, else into a rebuilt epoch.
struct DeltaPlan {
    /// The threshold, in filter items (None: no epoch yet).
    limit: Option<f64>,
    /// Items in the delta so far.
    items: u64,
    /// The new records kept for their delta tags; None once a rebuild is due.
    kept: Option<Vec<(u64, String)>>,
}

impl DeltaPlan {
    /// The new records go into the current epoch's delta unless, counted in filter items like
    /// the delta and `record_count`, they would take it past the rebuild threshold. (For a
    /// person each match key is an item: counting records instead would let a person
    /// collection's delta outgrow what queriers accept, 2 · filter capacity.) Only while a
    /// delta is still possible are the new records kept, for their tags: the threshold bounds
    /// them by a fraction of the collection, never by the import.
    fn new(current: Option<&HolderEpoch>, fraction: f64) -> Self {
        let limit = current.map(|cur| fraction * cur.descriptor.record_count.max(1) as f64);
        let items = current.map_or(0, |cur| cur.delta.len() as u64);
        let kept = match limit {
            Some(limit) if items as f64 <= limit => Some(Vec::new()),
            _ => None,
        };
        DeltaPlan { limit, items, kept }
    }

    /// Counts newly added records; gives up on the delta once past the threshold.
    fn take(&mut self, kind: Kind, added: Vec<(u64, String)>) -> Result<(), NodeError> {
        let (Some(kept), Some(limit)) = (&mut self.kept, self.limit) else {
            return Ok(());
        };
        for (seq, v) in added {
            self.items += if kind == Kind::Person {
                epoch::items_of(kind.as_str(), &v)?.len() as u64
            } else {
                1
            };
            if self.items as f64 > limit {
                self.kept = None;
                break;
            }
            kept.push((seq, v));
        }
        Ok(())
    }
}

impl Holder {
    /// Stores an import's rows and updates the epoch (blocking: call from a blocking thread).
    /// Applies the import and logs it in the same transaction; a refused import is logged
    /// with its reason.
    pub fn import(
        &self,
        audit: &AuditLog,
        pending: PendingImport,
        actor: &Actor,
    ) -> Result<ImportReply, NodeError> {
        let (read, spool) = pending.into_import()?;
        let (collection, source, rows) = (
            read.collection.to_string(),
            read.header.source.clone(),
            read.rows,
        );
        let result = self.apply(audit, read, spool, actor);
        let reason = match &result {
            Ok(r) if r.rejected_count > 0 && r.added == 0 && r.records == 0 => Some(format!(
                "{} of {rows} rows are not valid; nothing was imported",
                r.rejected_count
            )),
            Ok(_) => None,
            Err(NodeError::User(UserError::Request(m))) => Some(m.clone()),
            Err(_) => None,
        };
        if let Some(reason) = reason {
            let mut e = audit.entry(
                self.clock.now_unix(),
                EntryKind::ImportRefused,
                actor.clone(),
            );
            e.collection = Some(collection);
            e.items = Some(rows);
            e.detail = Some(source);
            e.reason = Some(reason);
            audit.append(&[e])?;
        }
        result
    }

    /// The collection's metadata, checked against what the import reads (or new).
    fn meta_for(
        &self,
        batch: &WriteBatch,
        read: &ReadRows,
        now: u64,
    ) -> Result<CollectionMeta, NodeError> {
        let c = &read.collection;
        match batch.collection(c)? {
            Some(m) if m.kind != read.kind.as_str() => Err(NodeError::request(format!(
                "collection `{c}` holds `{}` identifiers, not `{}`; import into another collection",
                m.kind,
                read.kind.as_str()
            ))),
            Some(m) if m.provider_rules != read.provider_rules => {
                Err(NodeError::request(if m.provider_rules {
                    format!("collection `{c}` was imported with the e-mail provider rules; pass --provider-rules again, so that every address in it has the same form")
                } else {
                    format!("collection `{c}` was imported without the e-mail provider rules; import without --provider-rules, or into a new collection")
                }))
            }
            Some(m) => Ok(m),
            None => Ok(CollectionMeta {
                kind: read.kind.as_str().to_string(),
                next_seq: 0,
                created_at: now,
                provider_rules: read.provider_rules,
            }),
        }
    }

    fn apply(
        &self,
        audit: &AuditLog,
        read: ReadRows,
        spool: Spool,
        actor: &Actor,
    ) -> Result<ImportReply, NodeError> {
        let refused = ImportReply {
            rows: read.rows,
            added: 0,
            duplicates: 0,
            rejected: read.rejected.clone(),
            rejected_count: read.rejected_count,
            epoch: 0,
            rebuilt: false,
            epoch_seconds: 0.0,
            records: 0,
        };
        if read.refused() {
            // Nothing of a failed import is applied.
            return Ok(refused);
        }
        if let Some(name) = read.header.releasable.iter().find(|n| !spool.has_field(n)) {
            return Err(NodeError::request(format!(
                "releasable field `{name}` is not a field of any imported row; name fields the file holds besides the identifier"
            )));
        }
        // One writer at a time: the store's transaction serialises writers anyway, and the
        // in-memory epoch must change in the same order as the committed one. Taken only now
        // that every row arrived: while a client streams, nothing is held.
        let _writer = self.write_lock();
        let now = self.clock.now_unix();
        let mut batch = self.store.begin()?;
        let mut meta = self.meta_for(&batch, &read, now)?;
        let current = self.epoch(&read.collection);
        let mut plan = DeltaPlan::new(current.as_deref(), self.settings.rebuild_delta_fraction);
        let first_seq = meta.next_seq;
        let (added, duplicates) = stage(&mut batch, &read, &mut meta, spool, &mut plan)?;
        batch.put_collection(&read.collection, &meta)?;
        // When each record arrived, for retention (`maintenance`).
        if added > 0 {
            batch.put_import_batch(&read.collection, first_seq, now)?;
        }
        let started = Instant::now();
        let rebuild = plan.kept.is_none();
        let new_epoch = self.update_epoch(&mut batch, &read, current.as_ref(), plan.kept, now)?;
        let epoch_seconds = started.elapsed().as_secs_f64();
        // The import's entry commits with the import: acknowledged means logged.
        let mut e = audit.entry(now, EntryKind::DataImported, actor.clone());
        e.collection = Some(read.collection.to_string());
        e.items = Some(read.rows);
        e.added = Some(added);
        e.duplicates = Some(duplicates);
        e.rejected = Some(read.rejected_count);
        e.detail = Some(read.header.source.clone());
        let mut entries = vec![e];
        if let (Some(h), true) = (&new_epoch, rebuild) {
            entries.push(built(audit, actor, &read, h, now));
        }
        crate::audit::pending::put(batch.txn(), &entries)?;
        batch.commit()?;
        // Logged before the import is acknowledged (see `audit::pending`).
        crate::audit::pending::flush(self.store.db(), audit)?;
        let epoch_no = match new_epoch {
            Some(h) => {
                let n = h.epoch;
                self.install(h);
                n
            }
            None => current.as_ref().map_or(0, |e| e.epoch),
        };
        tracing::info!(
            collection = %read.collection,
            kind = read.kind.as_str(),
            actor = %actor.name,
            source = %read.header.source,
            rows = read.rows,
            added,
            duplicates,
            rejected = read.rejected_count,
            epoch = epoch_no,
            rebuilt = rebuild,
            "import committed"
        );
        Ok(ImportReply {
            added,
            duplicates,
            epoch: epoch_no,
            rebuilt: rebuild,
            epoch_seconds,
            records: meta.next_seq,
            ..refused
        })
    }

    /// Builds a new epoch (no delta possible), or extends the current one with the kept
    /// records' tags; None if nothing changed.
    fn update_epoch(
        &self,
        batch: &mut WriteBatch,
        read: &ReadRows,
        current: Option<&Arc<HolderEpoch>>,
        kept: Option<Vec<(u64, String)>>,
        now: u64,
    ) -> Result<Option<HolderEpoch>, NodeError> {
        let params = self.build_params(now);
        Ok(match (current, kept) {
            (_, None) => Some(epoch::rebuild_in(
                batch,
                &read.collection,
                read.kind.as_str(),
                current.map(|c| c.as_ref()),
                &params,
            )?),
            (Some(cur), Some(kept)) if !kept.is_empty() => {
                let (stored, tags, holder) = epoch::extend(cur, &kept, &params)?;
                batch.append_delta(&read.collection, &stored, cur.delta.len() as u64, &tags)?;
                Some(holder)
            }
            _ => None,
        })
    }
}

/// Stores the spooled values (and their fields) in `batch`; returns how many were new and how
/// many already held.
fn stage(
    batch: &mut WriteBatch,
    read: &ReadRows,
    meta: &mut CollectionMeta,
    spool: Spool,
    plan: &mut DeltaPlan,
) -> Result<(u64, u64), NodeError> {
    let c = &read.collection;
    let (mut added, mut duplicates) = (0u64, 0u64);
    let mut reader = spool.into_reader()?;
    loop {
        let values = reader.next_batch(APPLY_BATCH)?;
        if values.is_empty() {
            break;
        }
        let mut staged = StagedRecords::default();
        batch.stage_records(c, meta, values.iter().map(|(v, _)| v.as_str()), &mut staged)?;
        let with_fields: Vec<(String, Vec<(String, String)>)> =
            values.into_iter().filter(|(_, f)| !f.is_empty()).collect();
        crate::followup::store::put_fields(batch.txn(), c, &with_fields, &read.header.releasable)?;
        added += staged.added.len() as u64;
        duplicates += staged.duplicates;
        plan.take(read.kind, staged.added)?;
    }
    Ok((added, duplicates))
}

/// The `epoch_built` entry of an import that rebuilt its collection's epoch.
fn built(audit: &AuditLog, actor: &Actor, read: &ReadRows, h: &HolderEpoch, now: u64) -> Entry {
    let mut e = audit.entry(now, EntryKind::EpochBuilt, actor.clone());
    e.collection = Some(read.collection.to_string());
    e.epoch = Some(h.epoch);
    e.items = Some(h.descriptor.record_count);
    e
}
