//! Entries of imports, written in the import's own transaction (in the node's database) and
//! moved into the audit log right after it committed, before the import is acknowledged.
//!
//! Why not write them into the log directly: the log is a separate database, so that a long
//! import (which holds the node database's single writer while it builds its epoch) never
//! delays the entries of queries and answers. Writing the entries in the import's transaction
//! keeps "applied means logged": if the node dies between the two commits, the next start
//! moves what is pending. A moved batch's id is recorded in the log's transaction, so a batch
//! is never logged twice.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use cordon_protocol::audit::entry::Entry;

use super::AuditLog;
use crate::error::NodeError;

/// In the node's database: batch id → JSON array of entries.
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_pending");
/// In the log's database: ids of batches already moved.
pub(crate) const MOVED: TableDefinition<u64, ()> = TableDefinition::new("audit_moved");

fn corrupt(e: impl std::fmt::Display) -> NodeError {
    NodeError::storage(format!("pending audit entries: {e}"))
}

/// Adds `entries` to the node-database transaction `txn` as one pending batch.
pub fn put(txn: &WriteTransaction, entries: &[Entry]) -> Result<(), NodeError> {
    let bytes = serde_json::to_vec(entries).map_err(corrupt)?;
    let mut t = txn.open_table(PENDING)?;
    // Ids must not repeat across the node's life (moved ids are remembered): random 64-bit.
    let mut id = rand::random::<u64>();
    while t.get(id)?.is_some() {
        id = rand::random::<u64>();
    }
    t.insert(id, bytes.as_slice())?;
    Ok(())
}

/// Moves every pending batch of `store_db` into the log, then deletes it from `store_db`.
pub fn flush(store_db: &Database, log: &AuditLog) -> Result<(), NodeError> {
    let batches: Vec<(u64, Vec<Entry>)> = {
        let read = store_db.begin_read()?;
        let t = match read.open_table(PENDING) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((
                k.value(),
                serde_json::from_slice(v.value()).map_err(corrupt)?,
            ));
        }
        out
    };
    if batches.is_empty() {
        return Ok(());
    }
    for (id, entries) in &batches {
        let txn = log.db.begin_write()?;
        let done = txn.open_table(MOVED)?.get(*id)?.is_some();
        if done {
            continue;
        }
        let staged = log.stage(&txn, entries)?;
        txn.open_table(MOVED)?.insert(*id, ())?;
        txn.commit()?;
        staged.applied();
    }
    let txn = store_db.begin_write()?;
    {
        let mut t = txn.open_table(PENDING)?;
        for (id, _) in &batches {
            t.remove(*id)?;
        }
    }
    txn.commit()?;
    Ok(())
}
