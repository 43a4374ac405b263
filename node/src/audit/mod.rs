//! The node's audit log: an append-only RFC 6962 Merkle log of [`Entry`] lines in the node's
//! redb database, with a checkpoint signed by the node's log key after every entry.
//!
//! Durability rule: an entry is committed before the action it records takes effect. Imports
//! add their entry to the import's own transaction (both commit or neither); queries and
//! answers commit their entry before the request leaves or the answer is sent.
//!
//! Concurrency: the in-memory tree is locked only by a thread that already holds a redb write
//! transaction (redb has one writer at a time), so the lock order is always "transaction, then
//! tree" and appends cannot deadlock; the lock is held until the transaction committed, so the
//! in-memory tree never runs ahead of or behind the database. Exchanges with partners read,
//! check and save the partner's audit state under one more lock, taken before any write
//! transaction: [`AuditLog::exchange`] is the only way to take it and [`Exchange::commit`] the
//! only write transaction opened under it, and no write transaction of the log's database is
//! opened anywhere but here, so the order "partner state, transaction, tree" holds by
//! construction.
//!
//! At start the whole log is re-hashed and checked against the latest signed checkpoint: a
//! database whose entries were altered under the node refuses to start.
//!
//! - [`witness`]: the checkpoint exchange with partners (cosigning, inconsistency alerts), run
//!   under [`Exchange`].
//! - [`export`]: bundles, proofs and reads for auditors.
//! - `tamper` (feature `test-util` only): simulates a rogue operator rewriting history, for
//!   detection tests.

mod exchange;
pub mod export;
pub mod pending;
mod status;
#[cfg(feature = "test-util")]
pub mod tamper;
pub mod witness;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::entry::{Actor, Entry, EntryKind, MAX_ENTRY_LEN};
use cordon_protocol::audit::merkle::{leaf_hash, Frontier, Hash};
use cordon_protocol::audit::note::{open_note, sign_note, Signer, VerifierKey};
use cordon_protocol::audit::tree::Tree;

use crate::error::NodeError;

pub use exchange::Exchange;
pub use witness::{PartnerAudit, PartnerLogKeys};

pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_entries");
pub(crate) const CHECKPOINTS: TableDefinition<u64, &str> =
    TableDefinition::new("audit_checkpoints");
pub(crate) const PARTNERS: TableDefinition<&str, &[u8]> = TableDefinition::new("audit_partners");
pub(crate) const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_alerts");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("audit_meta");

/// The audit log's database file, next to the node's database `db_path`.
pub fn db_path(db_path: &std::path::Path) -> std::path::PathBuf {
    db_path.with_file_name("audit.redb")
}

/// The checkpoint origin (and log key name) of a node's log.
pub fn origin_of(node: &str) -> String {
    format!("{node}/audit")
}

/// The keys of a node's log: its own, and its partners'.
pub struct AuditKeys {
    /// Signs this log's checkpoints (named by [`origin_of`] the node).
    pub log: Signer,
    /// Cosigns partners' checkpoints.
    pub witness: Signer,
    /// Partners' log, cosigning and receipt keys.
    pub partners: BTreeMap<String, PartnerLogKeys>,
}

/// The log.
pub struct AuditLog {
    db: std::sync::Arc<Database>,
    node: String,
    origin: String,
    signer: Signer,
    tree: Mutex<Tree>,
    /// Serialises reading, checking and saving partners' audit state (see [`Exchange`]).
    exchanges: Mutex<()>,
    witness: Signer,
    partners: BTreeMap<String, PartnerLogKeys>,
}

/// Read access to the log's database, for the tables that commit with an answer's entry
/// (budgets, answered query ids): reads only, the writes go through [`Exchange::commit`].
pub struct Reader<'a>(&'a Database);

impl<'a> Reader<'a> {
    /// A reader of a database of a test's own.
    #[cfg(test)]
    pub(crate) fn new(db: &'a Database) -> Self {
        Reader(db)
    }

    /// A read transaction: a snapshot of what has committed so far.
    pub fn begin_read(&self) -> Result<ReadTransaction, NodeError> {
        Ok(self.0.begin_read()?)
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Entries added to a transaction, applied to the in-memory tree once it committed.
#[must_use = "call `applied()` after the transaction committed"]
pub struct Staged<'a> {
    tree: MutexGuard<'a, Tree>,
    leaves: Vec<Hash>,
}

impl Staged<'_> {
    /// The log's size once the transaction committed.
    pub fn size_after(&self) -> u64 {
        self.tree.size() + self.leaves.len() as u64
    }

    /// Records in memory what the committed transaction added. Call only after the commit.
    pub fn applied(mut self) -> u64 {
        for l in self.leaves.drain(..) {
            // The tree cannot be full: sizes are u64 and each entry is a database row.
            let _ = self.tree.push(l);
        }
        self.tree.size()
    }
}

fn storage(e: impl std::fmt::Display) -> NodeError {
    NodeError::storage(e.to_string())
}

impl AuditLog {
    /// Opens (or creates) the log's own database at `path`, re-hashing every entry and checking
    /// the result against the latest checkpoint (which must carry this log key's signature).
    ///
    /// The log has its own database file so that appending an entry never waits for another
    /// writer of the node's data (a large import holds that database's single writer for as
    /// long as it builds its epoch).
    pub fn open(
        path: &std::path::Path,
        node: &str,
        keys: AuditKeys,
    ) -> Result<AuditLog, NodeError> {
        let signer = keys.log;
        let shared_db = std::sync::Arc::new(Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => NodeError::setup(format!(
                "audit log {} is already open by another process; is this node already running?",
                path.display()
            )),
            other => NodeError::storage(format!("{}: {other}", path.display())),
        })?);
        let db: &Database = &shared_db;
        let origin = origin_of(node);
        if signer.name() != origin {
            return Err(NodeError::setup(format!(
                "the log key is named {:?}, not {origin:?}",
                signer.name()
            )));
        }
        let txn = db.begin_write()?;
        {
            txn.open_table(ENTRIES)?;
            txn.open_table(CHECKPOINTS)?;
            txn.open_table(PARTNERS)?;
            txn.open_table(ALERTS)?;
            txn.open_table(META)?;
        }
        txn.commit()?;
        let read = db.begin_read()?;
        let entries = read.open_table(ENTRIES)?;
        let mut tree = Tree::new();
        for (expected, row) in entries.iter()?.enumerate() {
            let (k, v) = row?;
            if k.value() != expected as u64 {
                return Err(NodeError::storage(format!(
                    "the audit log has no entry #{expected} (next is #{}); the database was altered",
                    k.value()
                )));
            }
            tree.push(leaf_hash(v.value())).map_err(storage)?;
        }
        let log = AuditLog {
            db: shared_db.clone(),
            node: node.to_string(),
            origin,
            tree: Mutex::new(Tree::new()),
            signer,
            exchanges: Mutex::new(()),
            witness: keys.witness,
            partners: keys.partners,
        };
        let size = tree.size();
        let checkpoints = read.open_table(CHECKPOINTS)?;
        let last = checkpoints
            .last()?
            .map(|(k, v)| (k.value(), v.value().to_string()));
        match last {
            None if size == 0 => {}
            None => {
                return Err(NodeError::storage(format!(
                    "the audit log has {size} entries but no signed checkpoint; the database was altered"
                )))
            }
            Some((cp_size, note)) => {
                let c = log.open_own(&note)?;
                let root = tree.root_at(c.size).map_err(|_| {
                    NodeError::storage(format!(
                        "the audit log has {size} entries but its latest checkpoint is of size {cp_size}; entries were removed"
                    ))
                })?;
                if c.size != size || root != c.root || cp_size != c.size {
                    return Err(NodeError::storage(format!(
                        "the audit log's {size} entries do not match its latest signed checkpoint (size {}); \
                         entries were altered under the node. Keep the database as evidence and tell the auditors",
                        c.size
                    )));
                }
            }
        }
        *log.lock() = tree;
        Ok(log)
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens one of this log's own checkpoints.
    fn open_own(&self, note: &str) -> Result<Checkpoint, NodeError> {
        let (body, _) = open_note(note.as_bytes(), &[self.verifier_key()]).map_err(|e| {
            NodeError::storage(format!(
                "a stored checkpoint does not verify with this node's log key: {e}"
            ))
        })?;
        Checkpoint::parse(&body).map_err(storage)
    }

    /// Reads of the log's own database (budgets and answered query ids live there, so that
    /// they commit with an answer's entry).
    pub fn reader(&self) -> Reader<'_> {
        Reader(&self.db)
    }

    /// A partner's log, cosigning and receipt keys.
    pub fn partner_keys(&self, partner: &str) -> Option<&PartnerLogKeys> {
        self.partners.get(partner)
    }

    /// Every partner's keys.
    pub fn partners(&self) -> &BTreeMap<String, PartnerLogKeys> {
        &self.partners
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key auditors and partners check checkpoints with (C2SP vkey).
    pub fn verifier_key(&self) -> VerifierKey {
        self.signer.verifier_key()
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.lock().size()
    }

    /// Adds entries to `txn`, each followed by its signed checkpoint. Hold the returned value
    /// until the transaction committed, then call [`Staged::applied`].
    fn stage<'a>(
        &'a self,
        txn: &WriteTransaction,
        entries: &[Entry],
    ) -> Result<Staged<'a>, NodeError> {
        let tree = self.lock();
        let size = tree.size();
        let mut scratch = Frontier::from_parts(size, tree.frontier_at(size).map_err(storage)?)
            .map_err(storage)?;
        let mut leaves = Vec::with_capacity(entries.len());
        let mut table = txn.open_table(ENTRIES)?;
        let mut cps = txn.open_table(CHECKPOINTS)?;
        for e in entries {
            let line = e.to_line();
            if line.len() > MAX_ENTRY_LEN {
                return Err(NodeError::internal(format!(
                    "an audit entry of {} bytes exceeds the {MAX_ENTRY_LEN}-byte limit; nothing was logged",
                    line.len()
                )));
            }
            let leaf = leaf_hash(&line);
            let index = scratch.push(leaf).map_err(storage)?;
            table.insert(index, line.as_slice())?;
            let c = Checkpoint {
                origin: self.origin.clone(),
                size: scratch.size(),
                root: scratch.root(),
                extensions: Vec::new(),
            };
            let note =
                sign_note(&c.to_body().map_err(storage)?, &[&self.signer]).map_err(storage)?;
            cps.insert(c.size, note.as_str())?;
            leaves.push(leaf);
        }
        Ok(Staged { tree, leaves })
    }

    /// Appends entries in their own transaction, durably; returns the new size.
    pub fn append(&self, entries: &[Entry]) -> Result<u64, NodeError> {
        let txn = self.db.begin_write()?;
        let staged = self.stage(&txn, entries)?;
        txn.commit()?;
        Ok(staged.applied())
    }

    /// The signed checkpoint at `size` (0: none).
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, NodeError> {
        let read = self.db.begin_read()?;
        let t = read.open_table(CHECKPOINTS)?;
        Ok(t.get(size)?.map(|v| v.value().to_string()))
    }

    /// The latest signed checkpoint and its size (None while the log is empty).
    pub fn latest(&self) -> Result<Option<(u64, String)>, NodeError> {
        let read = self.db.begin_read()?;
        let t = read.open_table(CHECKPOINTS)?;
        let last = t.last()?.map(|(k, v)| (k.value(), v.value().to_string()));
        Ok(last)
    }

    /// Consistency proof between two sizes of this log.
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, NodeError> {
        self.lock()
            .consistency_proof(old, new)
            .map_err(|e| NodeError::request(e.to_string()))
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, NodeError> {
        self.lock()
            .inclusion_proof(index, size)
            .map_err(|e| NodeError::request(e.to_string()))
    }

    /// The root of the tree at `size`.
    pub fn root_at(&self, size: u64) -> Result<Hash, NodeError> {
        self.lock()
            .root_at(size)
            .map_err(|e| NodeError::request(e.to_string()))
    }

    /// Perfect-subtree roots covering the first `size` entries.
    pub fn frontier_at(&self, size: u64) -> Result<Vec<Hash>, NodeError> {
        self.lock()
            .frontier_at(size)
            .map_err(|e| NodeError::request(e.to_string()))
    }

    /// A new entry written by this node.
    pub fn entry(&self, time: u64, kind: EntryKind, actor: Actor) -> Entry {
        Entry::new(time, kind, &self.node, actor)
    }
}
