//! The node's database (redb): records, epochs, filters and cached partner filters.
//!
//! redb commits are durable when `commit()` returns, which is what "nothing acknowledged is
//! lost" needs: an import is acknowledged only after its transaction committed.
//!
//! Tables (names are stable; a collection's own tables carry its name):
//!
//! | table | key | value |
//! |---|---|---|
//! | `collections` | collection | CBOR [`CollectionMeta`] |
//! | `records/<c>` | canonical value | insertion sequence number |
//! | `batches/<c>` | first sequence number of an import | its time (Unix seconds) |
//! | `epochs` | collection | CBOR [`StoredEpoch`] (includes the OPRF secret key) |
//! | `filters` | collection | filter wire bytes of the current epoch |
//! | `delta/<c>` | position | tag added after the epoch was built |
//! | `partner_cache` | `partner/collection` | CBOR [`CachedPartnerEpoch`] of the one epoch last verified (a newer epoch replaces it: older epochs' caches are deleted) |
//! | `audit_entries` | index | entry line (JSON) |
//! | `audit_checkpoints` | tree size | this node's signed checkpoint at that size |
//! | `audit_partners` | partner | CBOR `crate::audit::PartnerAudit` (checkpoints exchanged) |
//! | `audit_alerts` | sequence | JSON `cordon_protocol::audit::bundle::Alert` |
//! | `audit_meta` | key | e.g. the partners seen at the last start |
//! | `fields/<c>`, `followups_held`, `followups_sent` | | follow-up requests (see `crate::followup::store`) |
//!
//! What is never stored: anything a partner asked about. A holder sees only blinded elements,
//! evaluates them and forgets them.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use cordon_protocol::collection::CollectionName;
use cordon_protocol::descriptor::SignedDescriptor;
use cordon_protocol::oprf::Tag;

use crate::error::NodeError;

const COLLECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("collections");
const EPOCHS: TableDefinition<&str, &[u8]> = TableDefinition::new("epochs");
const FILTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("filters");
const PARTNER_CACHE: TableDefinition<&str, &[u8]> = TableDefinition::new("partner_cache");

/// A stored epoch with its filter bytes and delta tags.
pub type LoadedEpoch = (StoredEpoch, Vec<u8>, Vec<Tag>);

/// A collection's bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    /// Identifier kind (`phone`, …).
    pub kind: String,
    /// Sequence number the next new record gets.
    pub next_seq: u64,
    /// When the collection was created (Unix seconds).
    pub created_at: u64,
    /// Whether its e-mail addresses were canonicalised with the provider rules: every import
    /// into a collection must agree, or one mailbox could be stored under two forms.
    #[serde(default)]
    pub provider_rules: bool,
}

/// A holder's epoch as persisted.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredEpoch {
    /// Epoch number.
    pub epoch: u64,
    /// OPRF secret key (32-byte scalar). Never logged.
    pub secret_key: ByteArray<32>,
    /// The current signed descriptor.
    pub descriptor: SignedDescriptor,
    /// Records with a sequence number below this are in the filter; the rest are in the delta.
    pub built_upto_seq: u64,
    /// When this epoch (its key) was built, Unix seconds; 0 if unknown (an epoch stored before
    /// this was recorded: treated as due for a scheduled rotation).
    #[serde(default)]
    pub built_at: u64,
}

impl std::fmt::Debug for StoredEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredEpoch")
            .field("epoch", &self.epoch)
            .field("built_upto_seq", &self.built_upto_seq)
            .finish_non_exhaustive()
    }
}

/// A partner's epoch as cached by a querier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedPartnerEpoch {
    /// The partner's signed descriptor the cache matches.
    pub descriptor: SignedDescriptor,
    /// The filter's wire bytes.
    pub filter: ByteBuf,
    /// Delta tags received so far, packed.
    pub delta: ByteBuf,
}

fn records_table(collection: &str) -> String {
    format!("records/{collection}")
}
fn delta_table(collection: &str) -> String {
    format!("delta/{collection}")
}
fn batches_table(collection: &str) -> String {
    format!("batches/{collection}")
}

fn to_cbor<T: Serialize>(v: &T) -> Result<Vec<u8>, NodeError> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).map_err(|e| NodeError::storage(e.to_string()))?;
    Ok(out)
}

fn from_cbor<T: DeserializeOwned>(b: &[u8]) -> Result<T, NodeError> {
    cordon_protocol::frame::decode(b)
        .map_err(|e| NodeError::storage(format!("corrupt record: {e}")))
}

/// The node's database. Cloning shares it.
#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
}

/// Outcome of staging records into a collection.
#[derive(Debug, Default, Clone)]
pub struct StagedRecords {
    /// New canonical values, in the order they were numbered, with their sequence numbers.
    pub added: Vec<(u64, String)>,
    /// Values that were already present.
    pub duplicates: u64,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, NodeError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|source| NodeError::io("data folder", dir.to_path_buf(), source))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => NodeError::setup(format!(
                "database {} is already open by another process; is this node already running?",
                path.display()
            )),
            other => NodeError::storage(format!("{}: {other}", path.display())),
        })?;
        let txn = db.begin_write()?;
        {
            txn.open_table(COLLECTIONS)?;
            txn.open_table(EPOCHS)?;
            txn.open_table(FILTERS)?;
            txn.open_table(PARTNER_CACHE)?;
        }
        txn.commit()?;
        Ok(Store {
            db: std::sync::Arc::new(db),
        })
    }

    /// The database, for the audit log's own tables (see `crate::audit`).
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// All collections.
    pub fn collections(&self) -> Result<Vec<(CollectionName, CollectionMeta)>, NodeError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(COLLECTIONS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            // Every name was checked before it was stored.
            let name = CollectionName::parse(k.value())
                .map_err(|e| NodeError::storage(format!("corrupt collection table: {e}")))?;
            out.push((name, from_cbor(v.value())?));
        }
        Ok(out)
    }

    /// Number of records in a collection.
    pub fn record_count(&self, collection: &str) -> Result<u64, NodeError> {
        let txn = self.db.begin_read()?;
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        match txn.open_table(def) {
            Ok(t) => Ok(t.len()?),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// The stored epoch of a collection, with its filter bytes and delta tags.
    pub fn load_epoch(&self, collection: &str) -> Result<Option<LoadedEpoch>, NodeError> {
        let txn = self.db.begin_read()?;
        let epochs = txn.open_table(EPOCHS)?;
        let Some(e) = epochs.get(collection)? else {
            return Ok(None);
        };
        let epoch: StoredEpoch = from_cbor(e.value())?;
        let filters = txn.open_table(FILTERS)?;
        let filter = filters
            .get(collection)?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| {
                NodeError::storage(format!(
                    "collection `{collection}` has an epoch but no filter"
                ))
            })?;
        let name = delta_table(collection);
        let def: TableDefinition<u64, &[u8]> = TableDefinition::new(&name);
        let mut delta = Vec::new();
        match txn.open_table(def) {
            Ok(t) => {
                for row in t.iter()? {
                    let (_, v) = row?;
                    let tag: Tag = v
                        .value()
                        .try_into()
                        .map_err(|_| NodeError::storage("delta tag is not 32 bytes"))?;
                    delta.push(tag);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Some((epoch, filter, delta)))
    }

    /// A cached partner epoch.
    pub fn partner_cache(
        &self,
        partner: &str,
        collection: &str,
    ) -> Result<Option<CachedPartnerEpoch>, NodeError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PARTNER_CACHE)?;
        let key = format!("{partner}/{collection}");
        match t.get(key.as_str())? {
            Some(v) => Ok(Some(from_cbor(v.value())?)),
            None => Ok(None),
        }
    }

    /// Replaces a cached partner epoch.
    pub fn put_partner_cache(
        &self,
        partner: &str,
        collection: &str,
        c: &CachedPartnerEpoch,
    ) -> Result<(), NodeError> {
        let bytes = to_cbor(c)?;
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(PARTNER_CACHE)?;
            t.insert(format!("{partner}/{collection}").as_str(), bytes.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Starts a write transaction for an import or epoch change.
    pub fn begin(&self) -> Result<WriteBatch, NodeError> {
        Ok(WriteBatch {
            txn: self.db.begin_write()?,
        })
    }

    /// Reads every record of a collection, in a snapshot, in chunks of at most `chunk`
    /// records handed to `f` in turn (so that no more than a chunk is in memory at once).
    pub fn for_each_record_chunk(
        &self,
        collection: &str,
        chunk: usize,
        f: impl FnMut(RecordChunk) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let txn = self.db.begin_read()?;
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        match txn.open_table(def) {
            Ok(t) => for_each_chunk(&t, chunk, f),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Records read from a collection's table, in key order: canonical values with their
/// sequence numbers.
#[derive(Debug, Default)]
pub struct RecordChunk {
    /// The canonical values.
    pub values: Vec<String>,
    /// The highest sequence number among them.
    pub max_seq: Option<u64>,
}

impl RecordChunk {
    fn with_capacity(n: usize) -> RecordChunk {
        RecordChunk {
            // A chunk of "everything" (usize::MAX) must not reserve it up front.
            values: Vec::with_capacity(n.min(1 << 16)),
            max_seq: None,
        }
    }
}

/// Hands the rows of a records table to `f` in chunks of at most `chunk` (at least one).
fn for_each_chunk(
    t: &impl ReadableTable<&'static str, u64>,
    chunk: usize,
    mut f: impl FnMut(RecordChunk) -> Result<(), NodeError>,
) -> Result<(), NodeError> {
    let chunk = chunk.max(1);
    let mut cur = RecordChunk::with_capacity(chunk);
    for row in t.iter()? {
        let (k, v) = row?;
        cur.values.push(k.value().to_string());
        cur.max_seq = cur.max_seq.max(Some(v.value()));
        if cur.values.len() >= chunk {
            f(std::mem::replace(
                &mut cur,
                RecordChunk::with_capacity(chunk),
            ))?;
        }
    }
    if !cur.values.is_empty() {
        f(cur)?;
    }
    Ok(())
}

/// One atomic change: everything in it is committed together or not at all.
pub struct WriteBatch {
    txn: redb::WriteTransaction,
}

impl WriteBatch {
    /// The transaction, for the audit log to add its entries to the same commit.
    pub(crate) fn txn(&self) -> &redb::WriteTransaction {
        &self.txn
    }

    /// The collection's metadata, if it exists.
    pub fn collection(&self, collection: &str) -> Result<Option<CollectionMeta>, NodeError> {
        let t = self.txn.open_table(COLLECTIONS)?;
        let v = t.get(collection)?;
        v.map(|v| from_cbor(v.value())).transpose()
    }

    /// Creates or updates the collection's metadata.
    pub fn put_collection(
        &mut self,
        collection: &str,
        meta: &CollectionMeta,
    ) -> Result<(), NodeError> {
        let bytes = to_cbor(meta)?;
        let mut t = self.txn.open_table(COLLECTIONS)?;
        t.insert(collection, bytes.as_slice())?;
        Ok(())
    }

    /// Inserts canonical values not yet present, numbering them from `meta.next_seq` in the
    /// order of the values (sorted first: neighbouring keys share B-tree pages, which makes
    /// a large batch about a sixth faster to store; the numbers only date the records).
    pub fn stage_records<'a>(
        &mut self,
        collection: &str,
        meta: &mut CollectionMeta,
        values: impl IntoIterator<Item = &'a str>,
        out: &mut StagedRecords,
    ) -> Result<(), NodeError> {
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        let mut t = self.txn.open_table(def)?;
        let mut values: Vec<&str> = values.into_iter().collect();
        values.sort_unstable();
        for v in values {
            // Most values are new: insert first, and put a held value's number back, rather
            // than look every value up before inserting it.
            let held = t.insert(v, meta.next_seq)?.map(|old| old.value());
            if let Some(old) = held {
                t.insert(v, old)?;
                out.duplicates += 1;
                continue;
            }
            out.added.push((meta.next_seq, v.to_string()));
            meta.next_seq += 1;
        }
        Ok(())
    }

    /// Number of records in the collection as this transaction sees it.
    pub fn record_count(&self, collection: &str) -> Result<u64, NodeError> {
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        Ok(self.txn.open_table(def)?.len()?)
    }

    /// Reads every record of the collection as this transaction sees it, in chunks of at most
    /// `chunk` records handed to `f` in turn.
    pub fn for_each_record_chunk(
        &self,
        collection: &str,
        chunk: usize,
        f: impl FnMut(RecordChunk) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        for_each_chunk(&self.txn.open_table(def)?, chunk, f)
    }

    /// Stores a new epoch: key, descriptor, filter; empties the delta.
    pub fn put_new_epoch(
        &mut self,
        collection: &str,
        epoch: &StoredEpoch,
        filter: &[u8],
    ) -> Result<(), NodeError> {
        let bytes = to_cbor(epoch)?;
        self.txn
            .open_table(EPOCHS)?
            .insert(collection, bytes.as_slice())?;
        self.txn.open_table(FILTERS)?.insert(collection, filter)?;
        let name = delta_table(collection);
        let def: TableDefinition<u64, &[u8]> = TableDefinition::new(&name);
        // Deleting a table that does not exist yet is fine: it returns false.
        self.txn.delete_table(def)?;
        Ok(())
    }

    /// Appends delta tags at positions `from..` and stores the re-signed epoch.
    pub fn append_delta(
        &mut self,
        collection: &str,
        epoch: &StoredEpoch,
        from: u64,
        tags: &[Tag],
    ) -> Result<(), NodeError> {
        let bytes = to_cbor(epoch)?;
        self.txn
            .open_table(EPOCHS)?
            .insert(collection, bytes.as_slice())?;
        let name = delta_table(collection);
        let def: TableDefinition<u64, &[u8]> = TableDefinition::new(&name);
        let mut t = self.txn.open_table(def)?;
        for (i, tag) in tags.iter().enumerate() {
            t.insert(from + i as u64, tag.as_slice())?;
        }
        Ok(())
    }

    /// Records that the records numbered from `first_seq` on were imported at `time`.
    pub fn put_import_batch(
        &mut self,
        collection: &str,
        first_seq: u64,
        time: u64,
    ) -> Result<(), NodeError> {
        let name = batches_table(collection);
        let def: TableDefinition<u64, u64> = TableDefinition::new(&name);
        self.txn.open_table(def)?.insert(first_seq, time)?;
        Ok(())
    }

    /// The import batches of a collection, `(first sequence number, time)` in order.
    pub fn import_batches(&self, collection: &str) -> Result<Vec<(u64, u64)>, NodeError> {
        let name = batches_table(collection);
        let def: TableDefinition<u64, u64> = TableDefinition::new(&name);
        let t = self.txn.open_table(def)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value()));
        }
        Ok(out)
    }

    /// Deletes the listed canonical values; returns, per value, whether it was held.
    pub fn delete_records(
        &mut self,
        collection: &str,
        values: &[String],
    ) -> Result<Vec<bool>, NodeError> {
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        let mut t = self.txn.open_table(def)?;
        let mut found = Vec::with_capacity(values.len());
        for v in values {
            found.push(t.remove(v.as_str())?.is_some());
        }
        drop(t);
        crate::followup::store::delete_fields(&self.txn, collection, values)?;
        Ok(found)
    }

    /// Deletes every record imported before `cutoff` (Unix seconds), and the bookkeeping of
    /// the batches it empties. Records older than the first recorded batch are dated by
    /// `created_at`, the collection's creation. Returns how many records were deleted.
    pub fn expire_records(
        &mut self,
        collection: &str,
        cutoff: u64,
        created_at: u64,
    ) -> Result<u64, NodeError> {
        let mut batches = self.import_batches(collection)?;
        if batches.first().is_none_or(|b| b.0 > 0) {
            batches.insert(0, (0, created_at));
        }
        if batches.iter().all(|b| b.1 >= cutoff) {
            return Ok(0);
        }
        // The time of record `seq`: that of the last batch starting at or before it.
        let time_of = |seq: u64| {
            let i = batches.partition_point(|b| b.0 <= seq);
            batches[i.saturating_sub(1)].1
        };
        let name = records_table(collection);
        let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
        let mut t = self.txn.open_table(def)?;
        let mut gone = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            if time_of(v.value()) < cutoff {
                gone.push(k.value().to_string());
            }
        }
        for v in &gone {
            t.remove(v.as_str())?;
        }
        drop(t);
        crate::followup::store::delete_fields(&self.txn, collection, &gone)?;
        let bname = batches_table(collection);
        let bdef: TableDefinition<u64, u64> = TableDefinition::new(&bname);
        let mut bt = self.txn.open_table(bdef)?;
        let mut removed_first = false;
        for (first, time) in &batches {
            if *time < cutoff {
                bt.remove(*first)?;
                removed_first |= *first == 0;
            }
        }
        // The expired batches were a prefix and every record in them is gone: mark the
        // emptied range as never expiring, so that later passes do not date it by
        // `created_at` and scan the whole collection again every time.
        if removed_first {
            bt.insert(0, u64::MAX)?;
        }
        Ok(gone.len() as u64)
    }

    /// Makes the change durable. Only after this returns may it be acknowledged.
    pub fn commit(self) -> Result<(), NodeError> {
        self.txn.commit()?;
        Ok(())
    }
}
