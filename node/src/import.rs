//! Imports: canonicalise rows, store the new ones, and build or extend the collection's epoch,
//! all in one redb transaction, acknowledged only after it committed.

use std::sync::Arc;
use std::time::Instant;

use cordon_protocol::ident::{self, Kind, Options};

use cordon_protocol::audit::entry::{Actor, EntryKind};

use crate::control::{ImportHeader, ImportReply};
use crate::epoch::{self, BuildParams};
use crate::error::NodeError;
use crate::store::{CollectionMeta, StagedRecords};
use crate::Shared;

/// Most rejected rows listed in a reply (the count is always exact).
const MAX_LISTED_REJECTIONS: usize = 100;

/// Checks a collection name: it appears in table names and on the wire.
pub fn validate_collection(name: &str) -> Result<(), NodeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
        })
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(NodeError::Misuse(format!(
            "collection name {name:?} is not valid; use 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter"
        )))
    }
}

/// Rows of an import being received, canonicalised as they arrive.
pub struct PendingImport {
    header: ImportHeader,
    kind: Kind,
    opts: Options,
    rows: u64,
    values: Vec<String>,
    /// Line of each of `values` (a deletion lists the values it did not find by line).
    lines: Vec<u64>,
    rejected: Vec<(u64, String)>,
    rejected_count: u64,
    /// Canonical values with the fields their rows carried (for follow-up requests).
    fields: Vec<(String, Vec<(String, String)>)>,
}

impl PendingImport {
    /// Starts an import after checking the header.
    pub fn new(header: ImportHeader, default_region: Option<String>) -> Result<Self, NodeError> {
        validate_collection(&header.collection)?;
        let kind: Kind = header
            .kind
            .parse()
            .map_err(|e: ident::IdentError| NodeError::Misuse(e.to_string()))?;
        let mut opts = header.read.to_ident(default_region.as_deref());
        // Only e-mail forms depend on the rules; for other kinds the flag means nothing, and
        // must not bind the collection.
        opts.provider_rules &= kind == Kind::Email;
        Ok(PendingImport {
            header,
            kind,
            opts,
            rows: 0,
            values: Vec::new(),
            lines: Vec::new(),
            rejected: Vec::new(),
            rejected_count: 0,
            fields: Vec::new(),
        })
    }

    /// Canonicalises a batch of rows that carry fields.
    pub fn add_records(&mut self, rows: Vec<crate::control::ImportRow>) {
        self.add(
            rows.into_iter()
                .map(|r| (r.line, r.value, r.fields))
                .collect(),
        );
    }

    /// Canonicalises a batch of rows.
    pub fn add_rows(&mut self, rows: Vec<(u64, String)>) {
        self.add(rows.into_iter().map(|(l, v)| (l, v, Vec::new())).collect());
    }

    #[allow(clippy::type_complexity)]
    fn add(&mut self, rows: Vec<(u64, String, Vec<(String, String)>)>) {
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
                Ok(v) => {
                    if !fields.is_empty() {
                        self.fields.push((v.clone(), fields));
                    }
                    self.values.push(v);
                    self.lines.push(line);
                }
                Err(e) => {
                    self.rejected_count += 1;
                    if self.rejected.len() < MAX_LISTED_REJECTIONS {
                        self.rejected.push((line, e));
                    }
                }
            }
        }
    }

    /// What was read, for a deletion (`crate::maintenance`), which reads its rows as an
    /// import does: the header, the rows read, the canonical values with their lines, and the
    /// rejected rows (at most 100 listed) with their count.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_read(
        self,
    ) -> (
        ImportHeader,
        u64,
        Vec<(u64, String)>,
        Vec<(u64, String)>,
        u64,
    ) {
        let values = self.lines.into_iter().zip(self.values).collect();
        (
            self.header,
            self.rows,
            values,
            self.rejected,
            self.rejected_count,
        )
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
            Err(NodeError::Misuse(m)) => Some(m.clone()),
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
        if let Some(name) = self.header.releasable.iter().find(|n| {
            !self
                .fields
                .iter()
                .any(|(_, f)| f.iter().any(|(k, _)| k == *n))
        }) {
            return Err(NodeError::Misuse(format!(
                "releasable field `{name}` is not a field of any imported row; name fields the file holds besides the identifier"
            )));
        }
        // One writer at a time: the store's transaction serialises writers anyway, and the
        // in-memory epoch must change in the same order as the committed one.
        let _guard = shared.import_lock.lock().unwrap_or_else(|p| p.into_inner());
        let now = shared.clock.now_unix();
        let mut batch = shared.store.begin()?;
        let mut meta = match batch.collection(c)? {
            Some(m) if m.kind != self.kind.as_str() => {
                return Err(NodeError::Misuse(format!(
                "collection `{c}` holds `{}` identifiers, not `{}`; import into another collection",
                m.kind,
                self.kind.as_str()
            )))
            }
            Some(m) if m.provider_rules != self.opts.provider_rules => {
                return Err(NodeError::Misuse(if m.provider_rules {
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
        let mut staged = StagedRecords::default();
        batch.stage_records(
            c,
            &mut meta,
            self.values.iter().map(String::as_str),
            &mut staged,
        )?;
        batch.put_collection(c, &meta)?;
        // When each record arrived, for retention (`crate::maintenance`).
        if let Some((first, _)) = staged.added.first() {
            batch.put_import_batch(c, *first, now)?;
        }
        crate::followup::store::put_fields(batch.txn(), c, &self.fields, &self.header.releasable)?;
        let params = BuildParams {
            node: &shared.config.node.name,
            signing: &shared.signing,
            fp_rate: shared.config.epochs.fp_rate,
            validity_secs: shared.config.epochs.descriptor_validity.as_secs(),
            now,
        };
        let current = shared.holder_epoch(c);
        let started = Instant::now();
        let rebuild = match &current {
            None => true,
            Some(cur) => {
                // In filter items, like the delta and `record_count`: a person adds one per
                // match key. Counting records instead would let a person collection's delta
                // outgrow what queriers accept (2 · filter capacity) before a rebuild.
                let added_items = if self.kind == Kind::Person {
                    let mut n = 0u64;
                    for (_, v) in &staged.added {
                        n += epoch::items_of(self.kind.as_str(), v)?.len() as u64;
                    }
                    n
                } else {
                    staged.added.len() as u64
                };
                let delta_after = cur.delta.len() as u64 + added_items;
                delta_after as f64
                    > shared.config.epochs.rebuild_delta_fraction
                        * cur.descriptor.record_count.max(1) as f64
            }
        };
        let new_epoch = if rebuild {
            Some(epoch::rebuild_in(
                &mut batch,
                c,
                self.kind.as_str(),
                current.as_deref(),
                &params,
            )?)
        } else if let (Some(cur), false) = (&current, staged.added.is_empty()) {
            let (stored, tags, holder) = epoch::extend(cur, &staged.added, &params)?;
            batch.append_delta(c, &stored, cur.delta.len() as u64, &tags)?;
            Some(holder)
        } else {
            None
        };
        let epoch_seconds = started.elapsed().as_secs_f64();
        // The import's entry commits with the import: acknowledged means logged.
        let mut entries = Vec::new();
        let mut e = shared
            .audit
            .entry(now, EntryKind::DataImported, actor.clone());
        e.collection = Some(c.clone());
        e.items = Some(self.rows);
        e.added = Some(staged.added.len() as u64);
        e.duplicates = Some(staged.duplicates);
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
            added = staged.added.len(),
            duplicates = staged.duplicates,
            rejected = self.rejected_count,
            epoch = epoch_no,
            rebuilt = rebuild,
            "import committed"
        );
        Ok(ImportReply {
            added: staged.added.len() as u64,
            duplicates: staged.duplicates,
            epoch: epoch_no,
            rebuilt: rebuild,
            epoch_seconds,
            records,
            ..refused
        })
    }
}
