//! Imports: canonicalise rows, store the new ones, and build or extend the collection's epoch,
//! all in one redb transaction, acknowledged only after it committed.
//!
//! An import of any size streams: each frame's rows are canonicalised as they arrive and their
//! values spooled to an unnamed temporary file ([`spool`]); once the last row arrived, the
//! import takes the import lock, applies the spooled values in one write transaction and
//! builds the epoch in it (chunk by chunk, [`epoch::rebuild_in`]). Neither the rows nor the
//! records are ever all in memory, and nothing is held while the client sends: other writers,
//! maintenance and follow-ups wait only for the apply phase, and a client that goes away
//! leaves nothing behind.

use std::sync::Arc;
use std::time::Instant;

use cordon_protocol::ident::{self, Kind, Options};

use cordon_protocol::audit::entry::{Actor, EntryKind};

use crate::control::{ImportHeader, ImportReply};
use crate::epoch::{self, BuildParams};
use crate::error::{NodeError, UserError};
use crate::store::{CollectionMeta, StagedRecords};
use crate::Shared;

/// Most rejected rows listed in a reply (the count is always exact).
const MAX_LISTED_REJECTIONS: usize = 100;

/// Checks a collection name: it appears in table names and on the wire
/// ([`cordon_protocol::collection::CollectionName`] says what is allowed).
pub fn validate_collection(name: &str) -> Result<(), NodeError> {
    cordon_protocol::collection::CollectionName::parse(name)
        .map(|_| ())
        .map_err(|e| NodeError::request(e.to_string()))
}

mod spool;

/// Values read back from the spool and stored per step of an import's apply phase.
const APPLY_BATCH: usize = 10_000;

/// Where the canonical values of the rows read go.
enum Sink {
    /// An import: spooled to a temporary file, applied at [`PendingImport::commit`].
    Spool(spool::Spool),
    /// A deletion (a list of values to delete, `crate::maintenance`): kept in memory with
    /// their lines, which the reply cites.
    Listed(Vec<(u64, String)>),
}

/// Rows of an import (or deletion) being received, canonicalised as they arrive.
pub struct PendingImport {
    header: ImportHeader,
    kind: Kind,
    opts: Options,
    rows: u64,
    rejected: Vec<(u64, String)>,
    rejected_count: u64,
    sink: Sink,
}

impl PendingImport {
    /// Starts an import after checking the header; its values are spooled to an unnamed
    /// temporary file in `spool_dir` (the node's data folder) until it is applied.
    pub fn new(
        header: ImportHeader,
        default_region: Option<String>,
        spool_dir: &std::path::Path,
    ) -> Result<Self, NodeError> {
        let mut p = Self::start(header, default_region)?;
        p.sink = Sink::Spool(spool::Spool::create(spool_dir)?);
        Ok(p)
    }

    /// Starts reading the values of a deletion after checking the header.
    pub fn for_deletion(
        header: ImportHeader,
        default_region: Option<String>,
    ) -> Result<Self, NodeError> {
        Self::start(header, default_region)
    }

    fn start(header: ImportHeader, default_region: Option<String>) -> Result<Self, NodeError> {
        validate_collection(&header.collection)?;
        let kind: Kind = header
            .kind
            .parse()
            .map_err(|e: ident::IdentError| NodeError::request(e.to_string()))?;
        let mut opts = header.read.to_ident(default_region.as_deref());
        // Only e-mail forms depend on the rules; for other kinds the flag means nothing, and
        // must not bind the collection.
        opts.provider_rules &= kind == Kind::Email;
        Ok(PendingImport {
            header,
            kind,
            opts,
            rows: 0,
            rejected: Vec::new(),
            rejected_count: 0,
            sink: Sink::Listed(Vec::new()),
        })
    }

    /// Canonicalises a batch of rows that carry fields.
    pub fn add_records(&mut self, rows: Vec<crate::control::ImportRow>) -> Result<(), NodeError> {
        self.add(
            rows.into_iter()
                .map(|r| (r.line, r.value, r.fields))
                .collect(),
        )
    }

    /// Canonicalises a batch of rows.
    pub fn add_rows(&mut self, rows: Vec<(u64, String)>) -> Result<(), NodeError> {
        self.add(rows.into_iter().map(|(l, v)| (l, v, Vec::new())).collect())
    }

    #[allow(clippy::type_complexity)]
    fn add(&mut self, rows: Vec<(u64, String, Vec<(String, String)>)>) -> Result<(), NodeError> {
        // Canonicalisation (phone numbers especially) costs microseconds per row: spread a
        // frame's rows over every core, then keep them in file order.
        use rayon::prelude::*;
        let (kind, opts) = (self.kind, &self.opts);
        let results: Vec<(u64, Result<String, String>, Vec<(String, String)>)> = rows
            .into_par_iter()
            .map(|(line, raw, fields)| {
                (
                    line,
                    ident::canonicalize(kind, &raw, opts)
                        .map(|c| c.into_value())
                        // Only the first characters of a bad value go into the report: it
                        // is shown, and may be kept, where the value itself should not be.
                        .map_err(|e| e.redacted(&raw).to_string()),
                    fields,
                )
            })
            .collect();
        for (line, r, fields) in results {
            self.rows += 1;
            match r {
                Ok(v) => match &mut self.sink {
                    // Once a row is invalid, an import without --skip-invalid applies
                    // nothing: the rest is only counted.
                    Sink::Spool(_) if self.rejected_count > 0 && !self.header.skip_invalid => {}
                    Sink::Spool(s) => s.push(&v, &fields)?,
                    Sink::Listed(l) => l.push((line, v)),
                },
                Err(e) => {
                    self.rejected_count += 1;
                    if self.rejected.len() < MAX_LISTED_REJECTIONS {
                        self.rejected.push((line, e));
                    }
                }
            }
        }
        Ok(())
    }

    /// What was read, for a deletion (`crate::maintenance`), which reads its rows as an
    /// import does: the header, the rows read, the canonical values with their lines, and the
    /// rejected rows (at most 100 listed) with their count.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_read(
        self,
    ) -> Result<
        (
            ImportHeader,
            u64,
            Vec<(u64, String)>,
            Vec<(u64, String)>,
            u64,
        ),
        NodeError,
    > {
        let Sink::Listed(values) = self.sink else {
            return Err(NodeError::internal(
                "an import's rows were read as a deletion's",
            ));
        };
        Ok((
            self.header,
            self.rows,
            values,
            self.rejected,
            self.rejected_count,
        ))
    }

    /// Stores the rows and updates the epoch (blocking: call from a blocking thread).
    /// Applies the import and logs it in the same transaction; a refused import is logged
    /// with its reason.
    pub fn commit(self, shared: &Arc<Shared>, actor: &Actor) -> Result<ImportReply, NodeError> {
        let (collection, source, rows) = (
            self.header.collection.clone(),
            self.header.source.clone(),
            self.rows,
        );
        let result = self.commit_inner(shared, actor);
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
            let mut e = shared.audit.entry(
                shared.clock.now_unix(),
                EntryKind::ImportRefused,
                actor.clone(),
            );
            e.collection = Some(collection);
            e.items = Some(rows);
            e.detail = Some(source);
            e.reason = Some(reason);
            shared.audit.append(shared.audit.db(), &[e])?;
        }
        result
    }

    fn commit_inner(self, shared: &Arc<Shared>, actor: &Actor) -> Result<ImportReply, NodeError> {
        let c = &self.header.collection;
        let refused = ImportReply {
            rows: self.rows,
            added: 0,
            duplicates: 0,
            rejected: self.rejected.clone(),
            rejected_count: self.rejected_count,
            epoch: 0,
            rebuilt: false,
            epoch_seconds: 0.0,
            records: 0,
        };
        if self.rejected_count > 0 && !self.header.skip_invalid {
            // Nothing of a failed import is applied.
            return Ok(refused);
        }
        let Sink::Spool(spool) = self.sink else {
            return Err(NodeError::internal(
                "a deletion's rows were committed as an import",
            ));
        };
        if let Some(name) = self.header.releasable.iter().find(|n| !spool.has_field(n)) {
            return Err(NodeError::request(format!(
                "releasable field `{name}` is not a field of any imported row; name fields the file holds besides the identifier"
            )));
        }
        // One writer at a time: the store's transaction serialises writers anyway, and the
        // in-memory epoch must change in the same order as the committed one. Taken only now
        // that every row arrived: while a client streams, nothing is held.
        let _guard = shared.import_lock.lock().unwrap_or_else(|p| p.into_inner());
        let now = shared.clock.now_unix();
        let mut batch = shared.store.begin()?;
        let mut meta = match batch.collection(c)? {
            Some(m) if m.kind != self.kind.as_str() => {
                return Err(NodeError::request(format!(
                "collection `{c}` holds `{}` identifiers, not `{}`; import into another collection",
                m.kind,
                self.kind.as_str()
            )))
            }
            Some(m) if m.provider_rules != self.opts.provider_rules => {
                return Err(NodeError::request(if m.provider_rules {
                    format!("collection `{c}` was imported with the e-mail provider rules; pass --provider-rules again, so that every address in it has the same form")
                } else {
                    format!("collection `{c}` was imported without the e-mail provider rules; import without --provider-rules, or into a new collection")
                }))
            }
            Some(m) => m,
            None => CollectionMeta {
                kind: self.kind.as_str().to_string(),
                next_seq: 0,
                created_at: now,
                provider_rules: self.opts.provider_rules,
            },
        };
        let current = shared.holder_epoch(c);
        // The new records go into the current epoch's delta unless, counted in filter items
        // like the delta and `record_count`, they would take it past the rebuild threshold.
        // (For a person each match key is an item: counting records instead would let a
        // person collection's delta outgrow what queriers accept, 2 · filter capacity.) Only
        // while a delta is still possible are the new records kept, for their tags: the
        // threshold bounds them by a fraction of the collection, never by the import.
        let delta_limit = current.as_ref().map(|cur| {
            shared.config.epochs.rebuild_delta_fraction * cur.descriptor.record_count.max(1) as f64
        });
        let mut delta_items = current.as_ref().map_or(0, |cur| cur.delta.len() as u64);
        let mut for_delta: Option<Vec<(u64, String)>> = match delta_limit {
            Some(limit) if delta_items as f64 <= limit => Some(Vec::new()),
            _ => None,
        };
        let first_seq = meta.next_seq;
        let (mut added, mut duplicates) = (0u64, 0u64);
        let mut reader = spool.into_reader()?;
        loop {
            let values = reader.next_batch(APPLY_BATCH)?;
            if values.is_empty() {
                break;
            }
            let mut staged = StagedRecords::default();
            batch.stage_records(
                c,
                &mut meta,
                values.iter().map(|(v, _)| v.as_str()),
                &mut staged,
            )?;
            let with_fields: Vec<(String, Vec<(String, String)>)> =
                values.into_iter().filter(|(_, f)| !f.is_empty()).collect();
            crate::followup::store::put_fields(
                batch.txn(),
                c,
                &with_fields,
                &self.header.releasable,
            )?;
            added += staged.added.len() as u64;
            duplicates += staged.duplicates;
            if let (Some(kept), Some(limit)) = (&mut for_delta, delta_limit) {
                for (seq, v) in staged.added {
                    delta_items += if self.kind == Kind::Person {
                        epoch::items_of(self.kind.as_str(), &v)?.len() as u64
                    } else {
                        1
                    };
                    if delta_items as f64 > limit {
                        for_delta = None;
                        break;
                    }
                    kept.push((seq, v));
                }
            }
        }
        batch.put_collection(c, &meta)?;
        // When each record arrived, for retention (`crate::maintenance`).
        if added > 0 {
            batch.put_import_batch(c, first_seq, now)?;
        }
        let params = BuildParams {
            node: &shared.config.node.name,
            signing: &shared.signing,
            fp_rate: shared.config.epochs.fp_rate,
            validity_secs: shared.config.epochs.descriptor_validity.as_secs(),
            now,
        };
        let started = Instant::now();
        let rebuild = for_delta.is_none();
        let new_epoch = match (&current, for_delta) {
            (_, None) => Some(epoch::rebuild_in(
                &mut batch,
                c,
                self.kind.as_str(),
                current.as_deref(),
                &params,
            )?),
            (Some(cur), Some(kept)) if !kept.is_empty() => {
                let (stored, tags, holder) = epoch::extend(cur, &kept, &params)?;
                batch.append_delta(c, &stored, cur.delta.len() as u64, &tags)?;
                Some(holder)
            }
            _ => None,
        };
        let epoch_seconds = started.elapsed().as_secs_f64();
        // The import's entry commits with the import: acknowledged means logged.
        let mut entries = Vec::new();
        let mut e = shared
            .audit
            .entry(now, EntryKind::DataImported, actor.clone());
        e.collection = Some(c.clone());
        e.items = Some(self.rows);
        e.added = Some(added);
        e.duplicates = Some(duplicates);
        e.rejected = Some(self.rejected_count);
        e.detail = Some(self.header.source.clone());
        entries.push(e);
        if let Some(h) = &new_epoch {
            if rebuild {
                let mut e = shared
                    .audit
                    .entry(now, EntryKind::EpochBuilt, actor.clone());
                e.collection = Some(c.clone());
                e.epoch = Some(h.epoch);
                e.items = Some(h.descriptor.record_count);
                entries.push(e);
            }
        }
        crate::audit::pending::put(batch.txn(), &entries)?;
        batch.commit()?;
        // Logged before the import is acknowledged (see `audit::pending`).
        crate::audit::pending::flush(shared.store.db(), &shared.audit)?;
        let epoch_no = match new_epoch {
            Some(h) => {
                let n = h.epoch;
                shared.set_holder_epoch(h);
                n
            }
            None => current.as_ref().map_or(0, |e| e.epoch),
        };
        let records = meta.next_seq;
        tracing::info!(
            collection = %c,
            kind = self.kind.as_str(),
            actor = %actor.name,
            source = %self.header.source,
            rows = self.rows,
            added,
            duplicates,
            rejected = self.rejected_count,
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
            records,
            ..refused
        })
    }
}
